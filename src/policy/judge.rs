//! The run's policy verdicts: every check between probe pods (and from probe
//! pods to nodes, the API server and the DNS pods) is asked of the compiled
//! model, once compiled per run.

use super::compile::{Compiled, Direction};
use super::eval::{Decision, Verdict};
use super::world::{ContainerPort, Peer, PodInfo, PortQuery, Proto};
use crate::model::report::Expectation;
use crate::model::topology::ProbePod;
use crate::model::{Check, CheckKind, Deployment, Endpoint, Protocol, Status};

/// Container port names of the probe pods, so that policies can name them.
/// The Kubernetes runtime must give the probe containers exactly these names.
pub const PORT_NAME_TCP: &str = "tcp";
pub const PORT_NAME_UDP: &str = "udp";
pub const PORT_NAME_HTTP: &str = "http";

/// Labels the DNS server pods are assumed to carry (CoreDNS and kube-dns in
/// kubeadm, kind, k3s, EKS, GKE, AKS) when the deployment does not say.
pub const DNS_POD_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// A probe pod as NetworkPolicy sees it: its ServePorts become the named
/// container ports `tcp` (TCP), `udp` (UDP) and `http` (TCP).
pub fn probe_pod_info(p: &ProbePod) -> PodInfo {
    PodInfo {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        labels: p.labels.clone(),
        ips: p.ips.clone(),
        ports: vec![
            ContainerPort {
                name: Some(PORT_NAME_TCP.into()),
                port: p.ports.tcp,
                protocol: Proto::Tcp,
            },
            ContainerPort {
                name: Some(PORT_NAME_UDP.into()),
                port: p.ports.udp,
                protocol: Proto::Udp,
            },
            ContainerPort {
                name: Some(PORT_NAME_HTTP.into()),
                port: p.ports.http,
                protocol: Proto::Tcp,
            },
        ],
    }
}

/// The DNS server pods of a deployment, as policy sees them: in the DNS
/// Service's namespace, labelled `k8s-app=kube-dns`, with named ports `dns`
/// (53/UDP) and `dns-tcp` (53/TCP) as CoreDNS declares them. One pod
/// without an address when no server is known.
pub fn dns_pod_infos(d: &Deployment) -> Vec<PodInfo> {
    let ns = d
        .dns
        .as_ref()
        .map(|t| t.service.namespace.clone())
        .unwrap_or_else(|| "kube-system".into());
    let mk = |name: String, ips: Vec<std::net::IpAddr>| PodInfo {
        namespace: ns.clone(),
        name,
        labels: [(DNS_POD_LABEL.0.to_string(), DNS_POD_LABEL.1.to_string())].into(),
        ips,
        ports: vec![
            ContainerPort {
                name: Some("dns".into()),
                port: 53,
                protocol: Proto::Udp,
            },
            ContainerPort {
                name: Some("dns-tcp".into()),
                port: 53,
                protocol: Proto::Tcp,
            },
        ],
    };
    let servers: Vec<PodInfo> = d
        .dns
        .iter()
        .flat_map(|t| t.servers.iter())
        .enumerate()
        .map(|(i, s)| {
            let name = s.pod.clone().unwrap_or_else(|| format!("dns-server-{i}"));
            mk(name, s.ip.into_iter().collect())
        })
        .collect();
    if servers.is_empty() {
        vec![mk("cluster-dns".into(), Vec::new())]
    } else {
        servers
    }
}

/// The compiled policies of a run and the pods they are asked about.
pub struct PolicyJudge {
    pub compiled: Compiled,
    probes: Vec<PodInfo>,
    dns: Vec<PodInfo>,
}

impl PolicyJudge {
    pub fn new(d: &Deployment) -> Self {
        PolicyJudge {
            compiled: Compiled::new(&d.policy.policies, &d.policy.namespaces),
            probes: d.pods.iter().map(probe_pod_info).collect(),
            dns: dns_pod_infos(d),
        }
    }

    pub fn probe_pods(&self) -> &[PodInfo] {
        &self.probes
    }
    pub fn dns_pods(&self) -> &[PodInfo] {
        &self.dns
    }

    fn probe(&self, e: &Endpoint) -> Option<&PodInfo> {
        let name = e.pod.as_deref()?;
        let mut named = self.probes.iter().filter(|p| p.name == name);
        let first = named.next()?;
        match e.ip {
            Some(ip) if !first.ips.contains(&ip) => {
                named.find(|p| p.ips.contains(&ip)).or(Some(first))
            }
            _ => Some(first),
        }
    }

    /// The policy verdict of a check, when policy has a say on it.
    pub fn judge(&self, c: &Check) -> Option<Verdict> {
        if self.compiled.is_empty() {
            return None;
        }
        let src_pod = self.probe(&c.source)?;
        let src = Peer::Pod {
            pod: src_pod,
            ip: c.source.ip,
        };
        let port = match (c.protocol, c.port) {
            (Protocol::Icmp, _) => PortQuery::Icmp,
            (Protocol::Tcp | Protocol::Http, Some(p)) => PortQuery::Port(p, Proto::Tcp),
            (Protocol::Udp, Some(p)) => PortQuery::Port(p, Proto::Udp),
            // Resolvers ask over UDP first; TCP only after a truncated answer.
            (Protocol::Dns, _) => PortQuery::Port(53, Proto::Udp),
            (_, None) => return None,
        };
        match c.kind {
            CheckKind::PodToPod | CheckKind::PodToService => {
                // A Service is DNATed to its pod before policy applies.
                let dst_pod = self.probe(&c.target)?;
                let ip = if c.kind == CheckKind::PodToPod {
                    c.target.ip
                } else {
                    None
                };
                Some(
                    self.compiled
                        .evaluate(src, Peer::Pod { pod: dst_pod, ip }, &port),
                )
            }
            CheckKind::PodToNode => {
                let ip = c.target.ip?;
                Some(self.compiled.evaluate(src, Peer::Ip(ip), &port))
            }
            CheckKind::PodToApiserver => {
                // Behind kubernetes.default: an endpoint address and port we do not know.
                let port = match port {
                    PortQuery::Port(_, proto) => PortQuery::Unknown(proto),
                    other => other,
                };
                Some(self.compiled.evaluate(src, Peer::UnknownIp, &port))
            }
            CheckKind::Dns => {
                let direct = c
                    .target
                    .pod
                    .as_ref()
                    .and_then(|name| self.dns.iter().find(|p| &p.name == name));
                if let Some(server) = direct {
                    let ip = c.target.ip;
                    return Some(
                        self.compiled
                            .evaluate(src, Peer::Pod { pod: server, ip }, &port),
                    );
                }
                // Through the Service: any server may answer; a verdict only when all agree.
                let verdicts: Vec<Verdict> = self
                    .dns
                    .iter()
                    .map(|s| self.compiled.evaluate(src, Peer::pod(s), &port))
                    .collect();
                let first = verdicts.first()?.decided()?;
                verdicts
                    .iter()
                    .all(|v| v.decided() == Some(first))
                    .then(|| verdicts.into_iter().next())
                    .flatten()
            }
            CheckKind::NodeToPod | CheckKind::Mtu | CheckKind::External => None,
        }
    }
}

/// "NetworkPolicy ns/x denies it (ingress of ns/b)" for each denying direction.
pub fn denial_summary(v: &Verdict) -> String {
    let parts: Vec<String> = v
        .denying()
        .into_iter()
        .map(|(dir, d)| {
            let who = d.pod.as_deref().unwrap_or("?");
            let pols = if d.policies.len() == 1 {
                format!("NetworkPolicy {}", d.policies[0])
            } else {
                format!("NetworkPolicies {}", d.policies.join(", "))
            };
            format!("{pols} ({dir} of {who}) allows none of it")
        })
        .collect();
    parts.join("; ")
}

fn append(detail: &str, more: &str) -> String {
    if detail.is_empty() {
        more.to_string()
    } else {
        format!("{detail}; {more}")
    }
}

/// Give every check its expected verdict and turn the status: fail + deny →
/// `expected-block`, pass + deny → `unexpected-allow`. fail + allow stays
/// `fail` for the diagnosis rules (`unexpected-block` when nothing else explains it).
pub fn judge_checks(d: &Deployment, checks: &mut [Check]) {
    if d.policy.policies.is_empty() {
        return;
    }
    let judge = PolicyJudge::new(d);
    for w in &judge.compiled.warnings {
        tracing::warn!("{w}");
    }
    for c in checks.iter_mut() {
        let Some(v) = judge.judge(c) else { continue };
        let Some(decision) = v.decided() else {
            continue;
        };
        c.expected = Some(match decision {
            Decision::Allow => Expectation::Allow,
            Decision::Deny => Expectation::Deny,
        });
        match (c.status, decision) {
            (Status::Fail, Decision::Deny) => {
                c.status = Status::ExpectedBlock;
                c.detail = append(
                    &c.detail,
                    &format!("blocked as intended: {}", denial_summary(&v)),
                );
            }
            (Status::Pass, Decision::Deny) => {
                c.status = Status::UnexpectedAllow;
                c.detail = append(
                    &c.detail,
                    &format!("passed although {}", denial_summary(&v)),
                );
            }
            _ => {}
        }
    }
}

/// The directions that deny a check and the policies selecting the pod there.
pub fn denying_policies(v: &Verdict) -> Vec<(Direction, String)> {
    v.denying()
        .into_iter()
        .flat_map(|(dir, d)| d.policies.iter().map(move |p| (dir, p.clone())))
        .collect()
}
