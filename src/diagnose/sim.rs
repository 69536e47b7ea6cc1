//! A tiny network simulator for rule tests: the real planner's checks,
//! answered by a model of a (broken) cluster instead of real agents. The lab
//! tests prove the same rules on real packets.

use crate::model::report::{ClusterSummary, Endpoint, ServiceRef};
use crate::model::topology::{
    ApiServer, DnsName, DnsTarget, HostAgent, NodeInfo, ProbePod, ServePorts, ServiceTarget,
};
use crate::model::{
    Check, CheckKind, Deployment, Finding, FindingId, Outcome, ProbeReport, ProbeResult,
};
use crate::plan::{self, CheckTemplate, PlanOptions};
use std::net::IpAddr;

pub const MTU: u16 = 1450;

fn ip(s: String) -> IpAddr {
    s.parse().expect("simulator addresses are valid")
}

/// `nodes` nodes named node-0…, two pods each, a Service per pod, DNS on node-0.
pub fn cluster(nodes: usize) -> Deployment {
    let mut d = Deployment {
        cluster: ClusterSummary {
            name: "sim".into(),
            cni: "bridge+vxlan".into(),
            kube_proxy_mode: "iptables".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    for n in 0..nodes {
        let node = format!("node-{n}");
        d.nodes.push(NodeInfo {
            name: node.clone(),
            ready: true,
            internal_ips: vec![ip(format!("198.18.255.{}", n + 1))],
            pod_cidrs: vec![format!("198.18.{n}.0/24").parse().expect("valid cidr")],
            ..Default::default()
        });
        d.hosts.push(HostAgent {
            node: node.clone(),
            ips: vec![ip(format!("198.18.255.{}", n + 1))],
            tcp_port: Some(7000),
        });
        for p in 0..2 {
            let name = format!("probe-{n}-{p}");
            d.pods.push(ProbePod {
                name: name.clone(),
                namespace: "netcheck".into(),
                node: node.clone(),
                ips: vec![ip(format!("198.18.{n}.{}", p + 2))],
                ports: ServePorts::default(),
                labels: Default::default(),
                service: Some(ServiceTarget {
                    name: name.clone(),
                    namespace: "netcheck".into(),
                    cluster_ips: vec![ip(format!("198.19.{}.{}", n + 1, p + 2))],
                    node_port: None,
                }),
            });
        }
    }
    let svc = ip("198.19.1.2".into());
    d.dns = Some(DnsTarget {
        service: ServiceRef {
            name: "kube-dns".into(),
            namespace: "kube-system".into(),
            ip: ip("198.19.0.10".into()),
        },
        servers: vec![Endpoint {
            node: Some("node-0".into()),
            pod: Some("coredns".into()),
            ip: Some(ip("198.18.0.250".into())),
            name: None,
        }],
        cluster_domain: "cluster.local".into(),
        names: vec![
            DnsName {
                name: "probe-0-0.netcheck.svc.cluster.local".into(),
                expect: vec![svc],
                via_search: false,
            },
            DnsName {
                name: "probe-0-0".into(),
                expect: vec![svc],
                via_search: true,
            },
        ],
    });
    d.apiserver = Some(ApiServer {
        service: ServiceTarget {
            name: "kubernetes".into(),
            namespace: "default".into(),
            cluster_ips: vec![ip("198.19.0.1".into())],
            node_port: None,
        },
        port: 443,
        node: None,
    });
    d
}

/// What the simulated network does with one probe.
pub struct Answer {
    pub outcome: Outcome,
    pub latency_ms: f64,
    pub path_mtu: Option<u16>,
    /// DNS: the answer; None = the expected addresses.
    pub addresses: Option<Vec<IpAddr>>,
    pub detail: Option<String>,
}

pub fn ok() -> Answer {
    Answer {
        outcome: Outcome::Ok,
        latency_ms: 0.3,
        path_mtu: None,
        addresses: None,
        detail: None,
    }
}

pub fn timeout() -> Answer {
    Answer {
        outcome: Outcome::Timeout,
        ..ok()
    }
}

/// Run the real planner and answer every probe with `net`.
pub fn run(d: &Deployment, net: impl Fn(&CheckTemplate) -> Answer) -> Vec<Check> {
    let plans = plan::plan(d, &PlanOptions::default());
    let mut checks = Vec::new();
    for sp in &plans {
        let results = sp
            .plan
            .probes
            .iter()
            .zip(&sp.templates)
            .map(|(p, t)| {
                let a = net(t);
                let mut r = ProbeResult::new(&p.id, a.outcome);
                r.latency_ms = (a.outcome == Outcome::Ok).then_some(a.latency_ms);
                r.detail = a.detail;
                if t.kind == CheckKind::Mtu {
                    // The agent reads its pod's interface MTU for every MTU probe.
                    r.interface_mtu = Some(MTU);
                    if a.outcome == Outcome::Ok {
                        r.path_mtu = Some(a.path_mtu.unwrap_or(MTU));
                    }
                }
                if t.kind == CheckKind::Dns && a.outcome == Outcome::Ok {
                    r.addresses = a.addresses.unwrap_or_else(|| t.expect.clone());
                }
                r
            })
            .collect();
        let report = ProbeReport {
            results,
            duration_ms: 1.0,
            peak_rss_kib: None,
        };
        checks.extend(plan::assemble(sp, Ok(&report)));
    }
    checks
}

/// Diagnose simulated checks (no host reports).
pub fn diagnose(d: &Deployment, checks: &[Check]) -> Vec<Finding> {
    super::diagnose(&super::Evidence {
        deployment: d,
        checks,
        hosts: &[],
        policy: None,
    })
}

pub fn ids(f: &[Finding]) -> Vec<FindingId> {
    f.iter().map(|f| f.id).collect()
}

/// Node of a template's source and target (None for a Service VIP without a backend node).
pub fn nodes_of(t: &CheckTemplate) -> (Option<&str>, Option<&str>) {
    (t.source.node.as_deref(), t.target.node.as_deref())
}

/// Whether the path of `t` crosses between nodes `a` and `b` (either way).
pub fn between(t: &CheckTemplate, a: &str, b: &str) -> bool {
    matches!(nodes_of(t), (Some(x), Some(y)) if (x == a && y == b) || (x == b && y == a))
}
