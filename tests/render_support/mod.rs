//! Realistic reports for the render tests, built the way the pipeline builds
//! them: a deployment like a runtime returns, the real planner's probe plans,
//! agent answers shaped by a fault, and `plan::assemble` turning them into
//! checks. Only the findings are written by hand (as the diagnosis rules word
//! them), so the renderers see exactly the checks, endpoints and details
//! ("hairpin", "via the DNS Service", …) a run produces.
#![allow(dead_code)]

use netcheck::diagnose::describe_check;
use netcheck::model::report::{API_VERSION, ClusterSummary, ServiceRef};
use netcheck::model::topology::{
    ApiServer, DnsName, DnsTarget, HostAgent, NodeInfo, ProbePod, ServePorts, ServiceTarget,
};
use netcheck::model::{
    Check, CheckKind, Deployment, Endpoint, Finding, FindingId, Outcome, ProbeReport, ProbeResult,
    Protocol, Report, Severity, Status, Summary,
};
use netcheck::plan::{self, CheckTemplate, PlanOptions};
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const NS: &str = "netcheck-x7k2p";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A deployment of `names.len()` nodes, one probe pod each (with its own
/// Service), a host agent per node, two DNS pods, the API server.
pub fn deployment(names: &[&str]) -> Deployment {
    deployment_with(names, 1)
}

/// [`deployment`] with `per_node` probe pods on each node (same-node pairs
/// then exist, the diagonal of the pod → pod matrix).
pub fn deployment_with(names: &[&str], per_node: usize) -> Deployment {
    let mut d = Deployment {
        cluster: ClusterSummary {
            name: "kind-netcheck".into(),
            server: "https://198.18.255.1:6443".into(),
            version: "v1.36.0".into(),
            cni: "flannel".into(),
            kube_proxy_mode: "iptables".into(),
            dns_service: Some(ServiceRef {
                name: "kube-dns".into(),
                namespace: "kube-system".into(),
                ip: ip("198.19.0.10"),
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    for (i, n) in names.iter().enumerate() {
        let node_ip = ip(&format!("198.18.255.{}", i + 1));
        d.nodes.push(NodeInfo {
            name: n.to_string(),
            ready: true,
            internal_ips: vec![node_ip],
            pod_cidrs: vec![format!("198.18.{i}.0/24").parse().expect("cidr")],
            ..Default::default()
        });
        d.hosts.push(HostAgent {
            node: n.to_string(),
            ips: vec![node_ip],
            tcp_port: Some(7002),
        });
        for p in 0..per_node {
            let name = if p == 0 {
                format!("probe-{n}")
            } else {
                format!("probe-{n}-{p}")
            };
            d.pods.push(ProbePod {
                name: name.clone(),
                namespace: NS.into(),
                node: n.to_string(),
                ips: vec![ip(&format!("198.18.{i}.{}", 2 + 10 * p))],
                ports: ServePorts::default(),
                labels: Default::default(),
                service: Some(ServiceTarget {
                    name: name.clone(),
                    namespace: NS.into(),
                    cluster_ips: vec![ip(&format!("198.19.{}.{}", 1 + p, i + 10))],
                    node_port: None,
                }),
            });
        }
    }
    let first = names[0];
    let second = names.get(1).copied().unwrap_or(first);
    d.dns = Some(DnsTarget {
        service: ServiceRef {
            name: "kube-dns".into(),
            namespace: "kube-system".into(),
            ip: ip("198.19.0.10"),
        },
        service_ips: Vec::new(),
        servers: vec![
            Endpoint {
                node: Some(first.into()),
                pod: Some("coredns-7db6d8ff4d-4xk9p".into()),
                ip: Some(ip("198.18.0.3")),
                name: None,
            },
            Endpoint {
                node: Some(second.into()),
                pod: Some("coredns-7db6d8ff4d-w2m8c".into()),
                ip: Some(ip("198.18.1.3")),
                name: None,
            },
        ],
        cluster_domain: "cluster.local".into(),
        names: vec![
            DnsName {
                name: format!("probe-{first}.{NS}.svc.cluster.local"),
                expect: vec![ip("198.19.1.10")],
                via_search: false,
            },
            DnsName {
                name: "kubernetes.default".into(),
                expect: vec![ip("198.19.0.1")],
                via_search: true,
            },
        ],
    });
    d.apiserver = Some(ApiServer {
        service: ServiceTarget {
            name: "kubernetes".into(),
            namespace: "default".into(),
            cluster_ips: vec![ip("198.19.0.1")],
            node_port: None,
        },
        port: 443,
        node: Some(first.into()),
    });
    d
}

/// What an agent answers for one probe.
pub struct Answer {
    pub outcome: Outcome,
    pub latency_ms: Option<f64>,
    pub detail: Option<String>,
    pub path_mtu: Option<u16>,
    pub addresses: Vec<IpAddr>,
}

/// A healthy answer with a plausible latency (same node faster than cross node).
pub fn ok(t: &CheckTemplate, seq: usize) -> Answer {
    let jitter = (seq % 7) as f64 * 0.013;
    let base = match t.kind {
        CheckKind::Dns => 1.2,
        CheckKind::PodToApiserver => 0.9,
        _ if t.source.node == t.target.node => 0.06,
        _ => 0.31,
    };
    let latency = (t.kind != CheckKind::Mtu).then_some(((base + jitter) * 1000.0).round() / 1000.0);
    Answer {
        outcome: Outcome::Ok,
        latency_ms: latency,
        detail: None,
        path_mtu: (t.kind == CheckKind::Mtu).then_some(1450),
        addresses: t.expect.clone(),
    }
}

pub fn timeout(ms: u64) -> Answer {
    Answer {
        outcome: Outcome::Timeout,
        latency_ms: None,
        detail: Some(format!("no answer within {ms}ms")),
        path_mtu: None,
        addresses: Vec::new(),
    }
}

/// Run the real planner over `d` and answer each probe with `answer`.
pub fn checks(d: &Deployment, answer: impl Fn(&CheckTemplate, usize) -> Answer) -> Vec<Check> {
    let plans = plan::plan(d, &PlanOptions::default());
    let mut seq = 0;
    let mut out = Vec::new();
    for sp in &plans {
        let results = sp
            .plan
            .probes
            .iter()
            .zip(&sp.templates)
            .map(|(p, t)| {
                seq += 1;
                let a = answer(t, seq);
                ProbeResult {
                    id: p.id.clone(),
                    outcome: a.outcome,
                    latency_ms: a.latency_ms,
                    detail: a.detail,
                    addresses: a.addresses,
                    path_mtu: a.path_mtu,
                    // The agent reads its interface MTU for every MTU probe.
                    interface_mtu: (t.kind == CheckKind::Mtu).then_some(1450),
                    peer: None,
                }
            })
            .collect();
        let report = ProbeReport {
            results,
            duration_ms: 40.0,
            peak_rss_kib: None,
            cells: Vec::new(),
        };
        out.extend(plan::assemble(sp, Ok(&report)));
    }
    out
}

pub fn report(d: Deployment, checks: Vec<Check>, findings: Vec<Finding>) -> Report {
    let mut summary = Summary::tally(&checks, &findings);
    summary.duration_ms = 3240;
    summary.stages_ms = BTreeMap::from([
        ("discover".to_string(), 180),
        ("deploy".to_string(), 2210),
        ("probe".to_string(), 640),
        ("inspect".to_string(), 150),
        ("diagnose".to_string(), 3),
        ("cleanup".to_string(), 57),
    ]);
    Report {
        api_version: API_VERSION.into(),
        kind: "Report".into(),
        cluster: d.cluster,
        nodes: d.nodes,
        cells: netcheck::model::cells::cells_of(&checks),
        checks,
        hosts: d
            .hosts
            .iter()
            .map(|h| netcheck::model::host::HostReport {
                node: h.node.clone(),
                ..Default::default()
            })
            .collect(),
        findings,
        summary,
    }
}

fn evidence(checks: &[Check], pick: impl Fn(&Check) -> bool, max: usize) -> Vec<String> {
    netcheck::diagnose::cap_evidence(
        checks
            .iter()
            .filter(|c| pick(c))
            .map(describe_check)
            .collect(),
        max,
    )
}

pub const THREE: [&str; 3] = ["node-1", "node-2", "node-3"];

pub fn healthy() -> Report {
    let d = deployment_with(&THREE, 2);
    let c = checks(&d, ok);
    report(d, c, Vec::new())
}

/// node-3 cannot reach or be reached from the other nodes.
pub fn node_isolated() -> Report {
    let d = deployment_with(&THREE, 2);
    let cut = |t: &CheckTemplate| {
        let s = t.source.node.as_deref();
        let n = t.target.node.as_deref();
        let api = t.kind == CheckKind::PodToApiserver;
        (s == Some("node-3")) != (n == Some("node-3")) && !api
            || (api && s == Some("node-3"))
            // DNS through the Service from node-3 lands on pods on node-1 and node-2
            || (t.kind == CheckKind::Dns && s == Some("node-3"))
    };
    let c = checks(&d, |t, i| if cut(t) { timeout(2000) } else { ok(t, i) });
    let f = vec![Finding {
        id: FindingId::NodeIsolated,
        severity: Severity::Error,
        title: "node-3 cannot reach any other node and no node reaches it".into(),
        nodes: vec!["node-3".into()],
        evidence: {
            let mut e = vec![
                "every check between node-3 and the 2 other nodes failed (48 checks); between the other nodes all passed".to_string(),
                "same-node traffic on node-3 works: pod-to-pod icmp, tcp, udp, http pass".to_string(),
            ];
            e.extend(evidence(
                &c,
                |c| c.kind == CheckKind::PodToPod && c.status == Status::Fail,
                4,
            ));
            e
        },
        remediation: "Check node-3's link to the other nodes: `ip -d link show flannel.1` and `ip route` on node-3, the cloud security group or firewall between the nodes (the overlay's port, UDP 8472 for flannel VXLAN), and the CNI agent's logs on node-3: `kubectl -n kube-flannel logs -l app=flannel --field-selector spec.nodeName=node-3`.".into(),
    }];
    report(d, c, f)
}

/// Pod traffic between nodes is dropped; same-node traffic works.
pub fn cross_node_drop() -> Report {
    let d = deployment_with(&THREE, 2);
    let dns_node = "node-1";
    let cross = |t: &CheckTemplate| {
        let s = t.source.node.as_deref();
        match t.kind {
            CheckKind::PodToPod | CheckKind::PodToService | CheckKind::Mtu => {
                t.target.node.is_some() && t.source.node != t.target.node
            }
            // Via the Service: one of two DNS pods is remote; the resolver retries the other.
            CheckKind::Dns => t.target.pod.is_some() && t.target.node != t.source.node,
            CheckKind::PodToApiserver => s != Some(dns_node),
            _ => false,
        }
    };
    let c = checks(&d, |t, i| if cross(t) { timeout(2000) } else { ok(t, i) });
    let f = vec![Finding {
        id: FindingId::CrossNodePodTrafficBroken,
        severity: Severity::Error,
        title: "pod traffic between nodes fails; pods on the same node reach each other".into(),
        nodes: THREE.iter().map(|s| s.to_string()).collect(),
        evidence: {
            let mut e = vec!["same node: 12 of 12 pod-to-pod checks pass; across nodes: 0 of 24".to_string()];
            e.extend(evidence(
                &c,
                |c| c.kind == CheckKind::PodToPod && c.status == Status::Fail,
                5,
            ));
            e
        },
        remediation: "The overlay between nodes is down. Check that the nodes reach each other on the overlay's port (flannel VXLAN: UDP 8472) and that the FORWARD chain accepts pod traffic: `iptables -S FORWARD` on each node.".into(),
    }];
    report(d, c, f)
}

/// Small packets pass, packets above 1400 bytes with DF vanish.
pub fn mtu_blackhole() -> Report {
    let d = deployment_with(&THREE, 2);
    let c = checks(&d, |t, i| {
        let mut a = ok(t, i);
        if t.kind == CheckKind::Mtu {
            a.path_mtu = Some(1400);
        }
        a
    });
    let f = vec![Finding {
        id: FindingId::MtuBlackhole,
        severity: Severity::Error,
        title: "packets above 1400 bytes vanish between nodes; pods are configured for 1450".into(),
        nodes: THREE.iter().map(|s| s.to_string()).collect(),
        evidence: evidence(&c, |c| c.kind == CheckKind::Mtu, 3),
        remediation: "Lower the CNI MTU to 1400 or less (flannel: `kubectl -n kube-flannel edit cm kube-flannel-cfg`, then restart the flannel pods), or raise the MTU of the underlay between the nodes to 1500.".into(),
    }];
    report(d, c, f)
}

/// No DNS answers, neither through the Service nor from the pods.
pub fn dns_down() -> Report {
    let d = deployment_with(&THREE, 2);
    let c = checks(&d, |t, i| {
        if t.kind == CheckKind::Dns {
            Answer {
                outcome: Outcome::Timeout,
                latency_ms: None,
                detail: Some("no DNS answer within 2000ms".into()),
                path_mtu: None,
                addresses: Vec::new(),
            }
        } else {
            ok(t, i)
        }
    });
    let f = vec![
        Finding {
            id: FindingId::DnsUnreachable,
            severity: Severity::Error,
            title: "no DNS answer through the DNS Service 198.19.0.10 nor from the 2 DNS pods".into(),
            nodes: Vec::new(),
            evidence: evidence(&c, |c| c.kind == CheckKind::Dns, 4),
            remediation: "Check the DNS pods: `kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide` and their logs (`kubectl -n kube-system logs -l k8s-app=kube-dns`); pod traffic itself works, so look at CoreDNS, not the network.".into(),
        },
        Finding {
            id: FindingId::DnsPodsNotReady,
            severity: Severity::Warning,
            title: "2 of 2 DNS pods are not ready".into(),
            nodes: vec!["node-1".into(), "node-2".into()],
            evidence: vec![
                "kube-system/coredns-7db6d8ff4d-4xk9p: Ready=False (CrashLoopBackOff)".into(),
                "kube-system/coredns-7db6d8ff4d-w2m8c: Ready=False (CrashLoopBackOff)".into(),
            ],
            remediation: "`kubectl -n kube-system describe pod -l k8s-app=kube-dns`".into(),
        },
    ];
    report(d, c, f)
}

/// Policy: node-2's probe denies ingress; tcp is blocked as intended, but udp passes.
pub fn policy() -> Report {
    let d = deployment_with(&THREE, 2);
    let mut c = checks(&d, ok);
    for ch in &mut c {
        if ch.kind == CheckKind::PodToPod
            && ch.target.node.as_deref() == Some("node-2")
            && ch.source.node.as_deref() != Some("node-2")
        {
            ch.expected = Some(netcheck::model::report::Expectation::Deny);
            match ch.protocol {
                Protocol::Udp => {
                    ch.status = Status::UnexpectedAllow;
                    ch.detail =
                        "passed although NetworkPolicy netcheck/deny-ingress denies it".into();
                }
                _ => {
                    ch.status = Status::ExpectedBlock;
                    ch.latency_ms = None;
                    ch.detail = "blocked by NetworkPolicy netcheck/deny-ingress".into();
                }
            }
        }
    }
    let f = vec![Finding {
        id: FindingId::UnexpectedAllow,
        severity: Severity::Error,
        title: "udp to probe-node-2 passes although NetworkPolicy denies it".into(),
        nodes: vec!["node-2".into()],
        evidence: evidence(&c, |c| c.status == Status::UnexpectedAllow, 4),
        remediation: "The CNI does not enforce NetworkPolicy for UDP (or at all). flannel alone never enforces policy: install a policy engine (Calico in policy-only mode, Cilium) or switch CNI.".into(),
    }];
    report(d, c, f)
}

pub fn twelve_names() -> Vec<String> {
    (1..=12)
        .map(|i| format!("ip-10-0-{}-{}.eu-west-1.compute.internal", i % 3, 20 + i))
        .collect()
}

/// Twelve nodes with long cloud names; the pair 4 → 9 drops its overlay.
pub fn wide12() -> Report {
    let names = twelve_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut d = deployment(&refs);
    d.cluster.name = "prod-eu-west-1".into();
    d.cluster.cni = "calico".into();
    let (a, b) = (names[3].clone(), names[8].clone());
    let broken = |t: &CheckTemplate| {
        let (s, n) = (t.source.node.as_deref(), t.target.node.as_deref());
        matches!(
            t.kind,
            CheckKind::PodToPod | CheckKind::PodToService | CheckKind::Mtu
        ) && ((s == Some(&a) && n == Some(&b)) || (s == Some(&b) && n == Some(&a)))
    };
    let c = checks(&d, |t, i| if broken(t) { timeout(2000) } else { ok(t, i) });
    let f = vec![Finding {
        id: FindingId::OverlayPortBlocked,
        severity: Severity::Error,
        title: format!("{a} and {b} reach each other, but their pods do not"),
        nodes: vec![a.clone(), b.clone()],
        evidence: evidence(
            &c,
            |c| c.kind == CheckKind::PodToPod && c.status == Status::Fail,
            3,
        ),
        remediation: "Allow the overlay between the two nodes (Calico VXLAN: UDP 4789; IPIP: IP protocol 4) in the security groups of both.".into(),
    }];
    report(d, c, f)
}

/// Every scenario by name, for the tests that loop over them.
pub fn all() -> Vec<(&'static str, Report)> {
    vec![
        ("healthy", healthy()),
        ("node_isolated", node_isolated()),
        ("cross_node_drop", cross_node_drop()),
        ("mtu_blackhole", mtu_blackhole()),
        ("dns_down", dns_down()),
        ("policy", policy()),
        ("wide12", wide12()),
        ("lab_forward_drop", lab_forward_drop()),
        ("dual_stack_ipv6_forward_off", dual_stack_ipv6_forward_off()),
    ]
}

/// The IPv6 twin of a scenario address: 198.B.C.D → 2001:2::B:C:D.
fn v6_of(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            ip(&format!("2001:2::{}:{}:{}", o[1], o[2], o[3]))
        }
        v6 => v6,
    }
}

/// The deployment on dual stack: every address followed by its IPv6 twin;
/// the pods' resolv.conf names the IPv4 DNS ClusterIP.
pub fn dual_stack(mut d: Deployment) -> Deployment {
    let twin = |v: &mut Vec<IpAddr>| {
        let extra: Vec<IpAddr> = v.iter().map(|a| v6_of(*a)).collect();
        v.extend(extra);
    };
    for n in &mut d.nodes {
        twin(&mut n.internal_ips);
        let v6: Vec<ipnet::IpNet> = n
            .pod_cidrs
            .iter()
            .map(|c| ipnet::IpNet::new(v6_of(c.addr()), 112).expect("a /112"))
            .collect();
        n.pod_cidrs.extend(v6);
    }
    for h in &mut d.hosts {
        twin(&mut h.ips);
    }
    for p in &mut d.pods {
        twin(&mut p.ips);
        if let Some(s) = p.service.as_mut() {
            twin(&mut s.cluster_ips);
        }
    }
    if let Some(dns) = d.dns.as_mut() {
        dns.service_ips = vec![dns.service.ip, v6_of(dns.service.ip)];
        let v6: Vec<Endpoint> = dns
            .servers
            .iter()
            .map(|s| Endpoint {
                ip: s.ip.map(v6_of),
                ..s.clone()
            })
            .collect();
        dns.servers.extend(v6);
        for n in &mut dns.names {
            twin(&mut n.expect);
        }
    }
    if let Some(api) = d.apiserver.as_mut() {
        twin(&mut api.service.cluster_ips);
    }
    d
}

/// Dual stack, net.ipv6.conf.all.forwarding = 0 on node-3 (the lab's
/// `ipv6-forward-off`): the IPv6 checks whose packets node-3 routes fail,
/// every IPv4 check passes. Findings from the real diagnosis, with node-3's
/// host report saying what its sysctl reads.
pub fn dual_stack_ipv6_forward_off() -> Report {
    let d = dual_stack(deployment_with(&THREE, 2));
    let through = |t: &CheckTemplate, node: &str| {
        let here = |e: &Endpoint| e.node.as_deref() == Some(node);
        let src_pod = t.source.pod.is_some() && here(&t.source);
        let dst_pod = t.target.pod.is_some() && here(&t.target);
        let src_host = t.source.pod.is_none() && here(&t.source);
        let dst_host = t.target.pod.is_none() && t.target.name.is_none() && here(&t.target);
        let bridged = t.kind == CheckKind::PodToPod && src_pod && dst_pod;
        ((src_pod && !dst_host) || (dst_pod && !src_host)) && !bridged
    };
    let c = checks(&d, |t, i| {
        let v6 = t.source.ip.is_some_and(|a| a.is_ipv6());
        if v6 && through(t, "node-3") {
            timeout(2000)
        } else {
            ok(t, i)
        }
    });
    let mut r = report(d, c, Vec::new());
    r.hosts[2].sysctls = Some(netcheck::model::host::Sysctls {
        ip_forward: Some(1),
        ipv6_forwarding: Some(0),
        ..Default::default()
    });
    diagnosed_dual(&r)
}

/// [`diagnosed`] for a dual-stack report.
fn diagnosed_dual(r: &Report) -> Report {
    let names: Vec<&str> = r.nodes.iter().map(|n| n.name.as_str()).collect();
    let d = dual_stack(deployment_with(&names, 2));
    with_findings(r, &d)
}

/// A real report: `kubectl-netcheck lab --nodes 2 --pods-per-node 1 --fault
/// forward-drop -o json`, saved in tests/data/reports (host inspection of
/// every node, node-2's FORWARD policy DROP).
pub fn lab_forward_drop() -> Report {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reports/lab-forward-drop.json");
    let text = std::fs::read_to_string(&p).expect("the saved lab report");
    serde_json::from_str(&text).expect("the saved lab report parses")
}

/// The same report with the findings of the real diagnosis rules instead of
/// the hand-written ones (the deployment is rebuilt from the node names: the
/// scenarios build it from nothing else).
/// `r` as agents that count their passes per cell would have made it: the
/// passes of the counted kinds leave `checks` for the cells.
pub fn aggregated(r: &Report) -> Report {
    use netcheck::model::cells::{CellKey, Cells, OmittedPasses, aggregatable, omitted};
    let mut cells = Cells::default();
    let mut out = r.clone();
    out.checks.clear();
    for c in &r.checks {
        if c.status == netcheck::model::Status::Pass && aggregatable(c.kind) && !c.recovered() {
            let mut o = OmittedPasses {
                passed: 1,
                protocols: vec![c.protocol],
                ..Default::default()
            };
            if let Some(l) = c.latency_ms {
                o.latency.add(l);
                o.max_latency_ms = Some(l);
            }
            cells.add_omitted(CellKey::of(c), &o);
        } else {
            cells.add_check(c);
            out.checks.push(c.clone());
        }
    }
    out.cells = cells.finish();
    out.summary.checks_omitted = omitted(&out.cells);
    out.summary.aggregated = true;
    out
}

pub fn diagnosed(r: &Report) -> Report {
    let names: Vec<&str> = r.nodes.iter().map(|n| n.name.as_str()).collect();
    let per_node = if names.len() == 3 { 2 } else { 1 };
    let d = deployment_with(&names, per_node);
    with_findings(r, &d)
}

/// The report with the real diagnosis's findings over deployment `d`.
fn with_findings(r: &Report, d: &Deployment) -> Report {
    let findings = netcheck::diagnose::diagnose(&netcheck::diagnose::Evidence {
        deployment: d,
        checks: &r.checks,
        cells: &[],
        hosts: &r.hosts,
        policy: None,
    });
    let mut out = r.clone();
    out.summary = Summary {
        duration_ms: r.summary.duration_ms,
        stages_ms: r.summary.stages_ms.clone(),
        ..Summary::tally(&r.checks, &findings)
    };
    out.findings = findings;
    out
}

/// Every node's first probe Service a NodePort (30000 + node index), as
/// the kube runtime makes them; node-3's NodePort dead (its KUBE-NODEPORTS
/// gone) while its ClusterIP works. Findings from the real diagnosis.
pub fn nodeport_down() -> Report {
    let mut d = deployment_with(&THREE, 2);
    let mut seen = std::collections::BTreeSet::new();
    let mut k = 0u16;
    for p in d.pods.iter_mut() {
        if seen.insert(p.node.clone()) {
            if let Some(s) = p.service.as_mut() {
                s.node_port = Some(30000 + k);
                k += 1;
            }
        }
    }
    let dead = |t: &CheckTemplate| {
        t.kind == CheckKind::Nodeport && t.target.node.as_deref() == Some("node-3")
    };
    let c = checks(&d, |t, i| {
        if dead(t) {
            Answer {
                outcome: Outcome::Refused,
                latency_ms: None,
                detail: Some("connect: Connection refused (os error 111)".into()),
                path_mtu: None,
                addresses: Vec::new(),
            }
        } else {
            ok(t, i)
        }
    });
    let findings = netcheck::diagnose::diagnose(&netcheck::diagnose::Evidence {
        deployment: &d,
        checks: &c,
        hosts: &[],
        policy: None,
        cells: &[],
    });
    report(d, c, findings)
}
