//! The run's policy verdicts: every check between probe pods (and from probe
//! pods to nodes, the API server and the DNS pods) is asked of the compiled
//! model, once compiled per run.

use super::compile::{Compiled, Direction};
use super::eval::{Decision, Verdict};
use super::world::{ContainerPort, Peer, PodInfo, PortQuery, Proto};
use crate::model::report::Expectation;
use crate::model::topology::ProbePod;
use crate::model::{Check, CheckKind, Deployment, Endpoint, Outcome, Protocol, Status};

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
#[derive(Clone)]
pub struct PolicyJudge {
    pub compiled: Compiled,
    probes: Vec<PodInfo>,
    /// The node of each probe, by index into `probes`.
    probe_nodes: Vec<String>,
    /// Probe name → indices into `probes` (checks name pods, not namespaces).
    by_name: std::collections::HashMap<String, Vec<usize>>,
    dns: Vec<PodInfo>,
    /// Policy kinds netcheck does not evaluate (`cluster.policyKinds`).
    unjudged: Vec<crate::model::report::PolicyKind>,
}

impl PolicyJudge {
    pub fn new(d: &Deployment) -> Self {
        let mut by_name: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for (i, p) in d.pods.iter().enumerate() {
            by_name.entry(p.name.clone()).or_default().push(i);
        }
        PolicyJudge {
            compiled: Compiled::new(&d.policy.policies, &d.policy.namespaces),
            probes: d.pods.iter().map(probe_pod_info).collect(),
            probe_nodes: d.pods.iter().map(|p| p.node.clone()).collect(),
            by_name,
            dns: dns_pod_infos(d),
            unjudged: d.cluster.policy_kinds.clone(),
        }
    }

    /// The policy kinds netcheck does not evaluate that could decide a
    /// check: cluster-wide kinds for every check to or from a pod,
    /// namespaced ones for checks touching a pod of a namespace that has
    /// their objects (probe pods by name; the DNS pods for DNS checks).
    pub fn unjudged_kinds(&self, c: &Check) -> Vec<String> {
        if self.unjudged.is_empty() {
            return Vec::new();
        }
        let mut namespaces: Vec<&str> = Vec::new();
        for e in [&c.source, &c.target] {
            if let Some(p) = self.probe(e) {
                namespaces.push(&p.namespace);
            }
        }
        if c.kind == CheckKind::Dns {
            namespaces.extend(self.dns.iter().map(|p| p.namespace.as_str()));
        }
        super::kinds::governing(&self.unjudged, &namespaces)
    }

    pub fn probe_pods(&self) -> &[PodInfo] {
        &self.probes
    }
    pub fn dns_pods(&self) -> &[PodInfo] {
        &self.dns
    }

    /// The node a probe pod runs on.
    fn node_of(&self, pod: &PodInfo) -> Option<&str> {
        self.by_name
            .get(&pod.name)?
            .iter()
            .find(|&&i| self.probes[i].namespace == pod.namespace)
            .and_then(|&i| self.probe_nodes.get(i))
            .map(String::as_str)
    }

    /// The probe an endpoint names (by pod name; by address when names repeat).
    fn probe(&self, e: &Endpoint) -> Option<&PodInfo> {
        let idx = self.by_name.get(e.pod.as_deref()?)?;
        let first = &self.probes[*idx.first()?];
        match e.ip {
            Some(ip) if !first.ips.contains(&ip) => idx
                .iter()
                .map(|&i| &self.probes[i])
                .find(|p| p.ips.contains(&ip))
                .or(Some(first)),
            _ => Some(first),
        }
    }

    /// The port a check asks about.
    fn port_of(c: &Check) -> Option<PortQuery> {
        Some(match (c.protocol, c.port) {
            (Protocol::Icmp, _) => PortQuery::Icmp,
            (Protocol::Tcp | Protocol::Http, Some(p)) => PortQuery::Port(p, Proto::Tcp),
            (Protocol::Udp, Some(p)) => PortQuery::Port(p, Proto::Udp),
            // Resolvers ask over UDP first; TCP only after a truncated answer.
            (Protocol::Dns, _) => PortQuery::Port(53, Proto::Udp),
            (_, None) => return None,
        })
    }

    /// What a check asks of the policies, when they have a say on it.
    fn question<'s>(&'s self, c: &Check) -> Option<Question<'s>> {
        if self.compiled.is_empty() {
            return None;
        }
        let port = Self::port_of(c)?;
        let own_node = |pod: &'s PodInfo, node: Option<&str>| {
            let on = self.node_of(pod);
            (on.is_some() && on == node).then_some(pod)
        };
        if c.kind == CheckKind::NodeToPod {
            // The host network is not a pod: only the pod's ingress applies,
            // and never to traffic from the pod's own node.
            let dst_pod = self.probe(&c.target)?;
            if let Some(pod) = own_node(dst_pod, c.source.node.as_deref()) {
                return Some(Question::OwnNode(pod, port));
            }
            let dst = Peer::Pod {
                pod: dst_pod,
                ip: c.target.ip,
            };
            return Some(Question::Pairs(vec![(Peer::Ip(c.source.ip?), dst)], port));
        }
        let src_pod = self.probe(&c.source)?;
        let src = Peer::Pod {
            pod: src_pod,
            ip: c.source.ip,
        };
        match c.kind {
            // MTU probes are ICMP echoes with DF set between pods.
            CheckKind::PodToPod | CheckKind::PodToService | CheckKind::Mtu => {
                // A Service is DNATed to its pod before policy applies.
                let dst_pod = self.probe(&c.target)?;
                let ip = if c.kind != CheckKind::PodToService {
                    c.target.ip
                } else {
                    None
                };
                let dst = Peer::Pod { pod: dst_pod, ip };
                Some(Question::Pairs(vec![(src, dst)], port))
            }
            CheckKind::PodToNode => {
                if let Some(pod) = own_node(src_pod, c.target.node.as_deref()) {
                    return Some(Question::OwnNode(pod, port));
                }
                Some(Question::Pairs(vec![(src, Peer::Ip(c.target.ip?))], port))
            }
            CheckKind::PodToApiserver => {
                // Behind kubernetes.default: an endpoint address and port we do not know.
                let port = match port {
                    PortQuery::Port(_, proto) => PortQuery::Unknown(proto),
                    other => other,
                };
                Some(Question::Pairs(vec![(src, Peer::UnknownIp)], port))
            }
            CheckKind::Dns => {
                let direct = c
                    .target
                    .pod
                    .as_ref()
                    .and_then(|name| self.dns.iter().find(|p| &p.name == name));
                let pairs = match direct {
                    Some(server) => vec![(
                        src,
                        Peer::Pod {
                            pod: server,
                            ip: c.target.ip,
                        },
                    )],
                    // Through the Service: any server may answer.
                    None => self.dns.iter().map(|s| (src, Peer::pod(s))).collect(),
                };
                Some(Question::Pairs(pairs, port))
            }
            // NodePort (externalTrafficPolicy Cluster): the node dialled DNATs
            // and masquerades it, so the backend sees its own node, which
            // policy always allows; what counts is the source pod's egress to
            // the node's IP and nodePort (always allowed to its own node).
            CheckKind::Nodeport => {
                if let Some(pod) = own_node(src_pod, c.target.node.as_deref()) {
                    return Some(Question::OwnNode(pod, port));
                }
                Some(Question::Pairs(vec![(src, Peer::Ip(c.target.ip?))], port))
            }
            CheckKind::NodeToPod | CheckKind::External => None,
        }
    }

    /// The policy verdict of a check with its reasons, when policy has a say
    /// on it. Through a Service with several DNS servers: a verdict only when
    /// all servers agree.
    pub fn judge(&self, c: &Check) -> Option<Verdict> {
        match self.question(c)? {
            Question::OwnNode(pod, port) => Some(Verdict::exempt(
                c.source.ip.map(|i| i.to_string()).unwrap_or_default(),
                c.target.ip.map(|i| i.to_string()).unwrap_or_default(),
                &port,
                &format!(
                    "traffic between {} and its own node is always allowed",
                    pod.key()
                ),
            )),
            Question::Pairs(pairs, port) => {
                let verdicts: Vec<Verdict> = pairs
                    .iter()
                    .map(|(s, d)| self.compiled.evaluate(*s, *d, &port))
                    .collect();
                if verdicts.len() == 1 {
                    return verdicts.into_iter().next();
                }
                let first = verdicts.first()?.decided()?;
                verdicts
                    .iter()
                    .all(|v| v.decided() == Some(first))
                    .then(|| verdicts.into_iter().next())
                    .flatten()
            }
        }
    }

    /// The decision of a check and, when it is deny, the denying directions
    /// with the pod and the policies selecting it there. The fast path: no
    /// reasons are written. None when policy has no say or it is undecided.
    pub fn decide(&self, c: &Check) -> Option<(Decision, Vec<Denial>)> {
        let (pairs, port) = match self.question(c)? {
            Question::OwnNode(..) => return Some((Decision::Allow, Vec::new())),
            Question::Pairs(pairs, port) => (pairs, port),
        };
        let mut decision = None;
        for (s, d) in &pairs {
            let this = self.compiled.decide(*s, *d, &port)?;
            if decision.is_some_and(|x| x != this) {
                return None;
            }
            decision = Some(this);
        }
        let decision = decision?;
        if decision == Decision::Allow {
            return Some((decision, Vec::new()));
        }
        let (s, d) = pairs[0];
        let port = port.resolve(d.as_pod());
        let denials = [(Direction::Egress, s), (Direction::Ingress, d)]
            .into_iter()
            .filter(|(dir, _)| {
                self.compiled.decide_direction(*dir, s, d, &port) == Some(Decision::Deny)
            })
            .filter_map(|(dir, subject)| {
                let pod = subject.as_pod()?;
                Some(Denial {
                    direction: dir,
                    pod: pod.key(),
                    policies: self.compiled.selecting(pod, dir),
                })
            })
            .collect();
        Some((decision, denials))
    }
}

/// A direction that denies a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub direction: Direction,
    /// `namespace/name` of the pod whose policies deny.
    pub pod: String,
    pub policies: Vec<String>,
}

enum Question<'a> {
    /// Between a pod and its own node: always allowed.
    OwnNode(&'a PodInfo, PortQuery),
    /// (source, destination) pairs on a port; a verdict when all agree.
    Pairs(Vec<(Peer<'a>, Peer<'a>)>, PortQuery),
}

/// "NetworkPolicy ns/x (ingress of ns/b) allows none of it", per denying direction.
pub fn denial_summary(denials: &[Denial]) -> String {
    let parts: Vec<String> = denials
        .iter()
        .map(|d| {
            let pols = if d.policies.len() == 1 {
                format!("NetworkPolicy {}", d.policies[0])
            } else {
                format!("NetworkPolicies {}", d.policies.join(", "))
            };
            format!("{pols} ({} of {}) allows none of it", d.direction, d.pod)
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
///
/// An MTU check fails on a path that is up but short, so its status is not
/// whether packets crossed: when any echo answered (`pathMtu`), policy did
/// not block it. Failed that way under a deny it stays `fail` (the short
/// path is for `mtu-blackhole`) and says the echoes crossed; it is never
/// `expected-block`.
///
/// A check a policy kind netcheck does not evaluate could decide
/// (`cluster.policyKinds`) keeps its status and is `not-judged`, unless it
/// failed and NetworkPolicy denies it (`expected-block`, the other kinds named).
pub fn judge_checks(d: &Deployment, checks: &mut [Check]) {
    if d.policy.policies.is_empty() && d.cluster.policy_kinds.is_empty() {
        return;
    }
    judge_checks_with(&PolicyJudge::new(d), checks);
}

/// [`judge_checks`] with the run's compiled model (the pipeline compiles it
/// once and hands the same model to the diagnosis rules).
pub fn judge_checks_with(judge: &PolicyJudge, checks: &mut [Check]) {
    if judge.compiled.is_empty() && judge.unjudged.is_empty() {
        return;
    }
    for w in &judge.compiled.warnings {
        tracing::warn!("{w}");
    }
    for c in checks.iter_mut() {
        let others = judge.unjudged_kinds(c);
        if !others.is_empty() {
            not_judged(judge, c, &others);
            continue;
        }
        let Some((decision, denials)) = judge.decide(c) else {
            continue;
        };
        c.expected = Some(match decision {
            Decision::Allow => Expectation::Allow,
            Decision::Deny => Expectation::Deny,
        });
        match (c.status, decision) {
            (Status::Fail, Decision::Deny) if crossed(c) => {
                c.detail = append(
                    &c.detail,
                    &format!("echoes crossed although {}", denial_summary(&denials)),
                );
            }
            (Status::Fail, Decision::Deny) => {
                c.status = Status::ExpectedBlock;
                c.detail = append(
                    &c.detail,
                    &format!("blocked as intended: {}", denial_summary(&denials)),
                );
            }
            (Status::Pass, Decision::Deny) => {
                c.status = Status::UnexpectedAllow;
                c.detail = append(
                    &c.detail,
                    &format!("passed although {}", denial_summary(&denials)),
                );
            }
            _ => {}
        }
    }
}

/// A check other policy kinds could decide: a failure NetworkPolicy denies
/// is blocked as intended all the same; anything else is `not-judged`,
/// its status as probed.
fn not_judged(judge: &PolicyJudge, c: &mut Check, others: &[String]) {
    let kinds = others.join(", ");
    if c.status == Status::Fail && !crossed(c) {
        if let Some((Decision::Deny, denials)) = judge.decide(c) {
            c.expected = Some(Expectation::Deny);
            c.status = Status::ExpectedBlock;
            c.detail = append(
                &c.detail,
                &format!(
                    "blocked as intended: {} ({kinds} could decide it too)",
                    denial_summary(&denials)
                ),
            );
            return;
        }
    }
    c.expected = Some(Expectation::NotJudged);
    c.detail = append(
        &c.detail,
        &format!("not judged: {kinds} could decide it (netcheck does not evaluate that kind)"),
    );
}

/// Whether packets of a failed check crossed all the same: an MTU check that
/// measured a path MTU (some size answered; only larger ones vanished).
fn crossed(c: &Check) -> bool {
    c.kind == CheckKind::Mtu && (c.path_mtu.is_some() || c.outcome == Some(Outcome::Ok))
}

/// `namespace/name` of the deployment's policies that select none of its
/// probe pods nor its DNS pods in either direction: they cannot change a
/// verdict of the run (a typo'd namespace or selector, most of the time).
pub fn idle_policies(d: &Deployment) -> Vec<String> {
    if d.policy.policies.is_empty() {
        return Vec::new();
    }
    let judge = PolicyJudge::new(d);
    let mut used = std::collections::BTreeSet::new();
    for pod in judge.probe_pods().iter().chain(judge.dns_pods()) {
        for dir in [Direction::Ingress, Direction::Egress] {
            used.extend(judge.compiled.selecting(pod, dir));
        }
    }
    judge
        .compiled
        .policy_names()
        .into_iter()
        .filter(|p| !used.contains(p))
        .collect()
}
