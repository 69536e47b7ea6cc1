use super::*;
use crate::model::plan::DnsRecord;
use crate::model::report::ServiceRef;
use crate::model::topology::{
    DnsName, DnsTarget, HostAgent, NodeInfo, ProbePod, ServePorts, ServiceTarget,
};
use crate::model::{Outcome, ProbeResult};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn deployment(nodes: usize, pods_per_node: usize) -> Deployment {
    let mut d = Deployment::default();
    for n in 0..nodes {
        d.nodes.push(NodeInfo {
            name: format!("node-{n}"),
            ready: true,
            internal_ips: vec![ip(&format!("198.18.255.{}", n + 1))],
            ..Default::default()
        });
        d.hosts.push(HostAgent {
            node: format!("node-{n}"),
            ips: vec![ip(&format!("198.18.255.{}", n + 1))],
            tcp_port: Some(7000),
        });
        for p in 0..pods_per_node {
            let name = format!("probe-{n}-{p}");
            d.pods.push(ProbePod {
                name: name.clone(),
                namespace: "netcheck".into(),
                node: format!("node-{n}"),
                ips: vec![ip(&format!("198.18.{n}.{}", p + 2))],
                ports: ServePorts::default(),
                labels: Default::default(),
                service: Some(ServiceTarget {
                    name: name.clone(),
                    namespace: "netcheck".into(),
                    cluster_ips: vec![ip(&format!("198.19.{n}.{}", p + 2))],
                    node_port: None,
                }),
            });
        }
    }
    d.dns = Some(DnsTarget {
        service: ServiceRef {
            name: "kube-dns".into(),
            namespace: "kube-system".into(),
            ip: ip("198.19.0.10"),
        },
        service_ips: Vec::new(),
        servers: vec![Endpoint {
            node: Some("node-0".into()),
            pod: Some("dns".into()),
            ip: Some(ip("198.18.0.200")),
            name: None,
        }],
        cluster_domain: "cluster.local".into(),
        names: vec![
            DnsName {
                name: "probe-0-0.netcheck.svc.cluster.local".into(),
                expect: vec![ip("198.19.0.2")],
                via_search: false,
            },
            DnsName {
                name: "probe-0-0".into(),
                expect: vec![ip("198.19.0.2")],
                via_search: true,
            },
        ],
    });
    d
}

#[test]
fn full_mesh_plans_every_pod_pair_with_four_protocols() {
    let d = deployment(3, 2);
    let plans = plan(&d, &PlanOptions::default());
    // 6 pod sources + 3 host sources
    assert_eq!(plans.len(), 9);
    let p2p: Vec<_> = plans
        .iter()
        .flat_map(|p| &p.templates)
        .filter(|t| t.kind == CheckKind::PodToPod)
        .collect();
    // 6 pods × 5 other pods × 4 protocols
    assert_eq!(p2p.len(), 6 * 5 * 4);
    let protos: BTreeSet<_> = p2p.iter().map(|t| t.protocol).collect();
    assert_eq!(protos.len(), 4);
    assert!(p2p.iter().any(|t| t.source.node == t.target.node));
    assert!(p2p.iter().any(|t| t.source.node != t.target.node));
    // MTU: one per ordered node pair (from the first pod of each node), not
    // per pod pair: the path MTU is the nodes' property.
    let mtu: Vec<_> = plans
        .iter()
        .flat_map(|p| &p.templates)
        .filter(|t| t.kind == CheckKind::Mtu)
        .collect();
    assert_eq!(mtu.len(), 3 * 2);
    let node_pairs: BTreeSet<_> = mtu
        .iter()
        .map(|t| (t.source.node.clone(), t.target.node.clone()))
        .collect();
    assert_eq!(node_pairs.len(), 3 * 2);
    assert!(mtu.iter().all(|t| t.source.node != t.target.node));
    // hairpin: every pod through its own Service
    let hairpin = plans
        .iter()
        .flat_map(|p| &p.templates)
        .filter(|t| t.note == Some("hairpin"))
        .count();
    assert_eq!(hairpin, 6 * 2);
    // probe ids index the templates
    for sp in &plans {
        for (i, p) in sp.plan.probes.iter().enumerate() {
            assert_eq!(p.id, i.to_string());
        }
    }
}

#[test]
fn ring_and_sample_cover_every_node_with_fewer_pairs() {
    let all = node_pairs(10, PairStrategy::All);
    assert_eq!(all.len(), 90);
    let ring = node_pairs(10, PairStrategy::Ring);
    assert_eq!(ring.len(), 20);
    let sample = node_pairs(10, PairStrategy::Sample(3));
    assert!(sample.len() < all.len() && sample.len() >= ring.len());
    for n in 0..10 {
        assert!(ring.iter().any(|(a, _)| *a == n));
        assert!(ring.iter().any(|(_, b)| *b == n));
        assert!(sample.iter().filter(|(a, _)| *a == n).count() >= 3);
    }
    assert_eq!(node_pairs(1, PairStrategy::All).len(), 0);
    assert_eq!(
        node_pairs(3, PairStrategy::Sample(10)),
        node_pairs(3, PairStrategy::All)
    );
}

#[test]
fn auto_is_the_full_mesh_up_to_the_limit_then_a_sample_touching_every_node() {
    let n = AUTO_ALL_UP_TO;
    assert_eq!(
        node_pairs(n, PairStrategy::Auto),
        node_pairs(n, PairStrategy::All)
    );
    let big = n + 1;
    let auto = node_pairs(big, PairStrategy::Auto);
    assert_eq!(auto, node_pairs(big, PairStrategy::Sample(AUTO_SAMPLE_K)));
    assert!(auto.len() < big * (big - 1) / 4, "{} pairs", auto.len());
    for node in 0..big {
        let out = auto.iter().filter(|(a, _)| *a == node).count();
        assert!(out >= AUTO_SAMPLE_K, "node {node} probes {out} nodes");
        assert!(auto.iter().any(|(_, b)| *b == node), "nobody probes {node}");
    }
    assert_eq!("auto".parse::<PairStrategy>(), Ok(PairStrategy::Auto));
    assert_eq!(PairStrategy::Auto.resolve(3), PairStrategy::All);
    assert_eq!(PairStrategy::Ring.resolve(500), PairStrategy::Ring);
}

#[test]
fn pair_strategy_and_checks_parse_with_clear_errors() {
    assert_eq!("all".parse::<PairStrategy>(), Ok(PairStrategy::All));
    assert_eq!(
        "sample:4".parse::<PairStrategy>(),
        Ok(PairStrategy::Sample(4))
    );
    assert!(
        "sample:0"
            .parse::<PairStrategy>()
            .unwrap_err()
            .contains("sample:K")
    );
    assert!("mesh".parse::<PairStrategy>().is_err());
    let set = CheckSet::parse(&["dns".into(), "mtu".into()]).unwrap();
    assert!(set.contains(CheckKind::Dns) && !set.contains(CheckKind::PodToPod));
    let err = CheckSet::parse(&["dsn".into()]).unwrap_err();
    assert!(err.contains("unknown check 'dsn'") && err.contains("pod-to-pod"));
    assert!(!CheckSet::default_set().contains(CheckKind::External));
}

#[test]
fn assemble_judges_dns_answers_and_mtu() {
    let d = deployment(2, 1);
    let plans = plan(&d, &PlanOptions::default());
    let sp = &plans[0];
    let mut results = Vec::new();
    for (p, t) in sp.plan.probes.iter().zip(&sp.templates) {
        let mut r = ProbeResult::new(&p.id, Outcome::Ok);
        r.latency_ms = Some(0.4);
        if t.kind == CheckKind::Dns {
            r.addresses = vec![ip("198.19.9.9")]; // wrong answer
        }
        if t.kind == CheckKind::Mtu {
            r.path_mtu = Some(1350);
            r.interface_mtu = Some(1450);
        }
        results.push(r);
    }
    results.pop(); // one probe never answered
    let report = ProbeReport {
        results,
        duration_ms: 1.0,
        peak_rss_kib: None,
        cells: Vec::new(),
    };
    let checks = assemble(sp, Ok(&report));
    assert_eq!(checks.len(), sp.templates.len());
    let dns: Vec<_> = checks.iter().filter(|c| c.kind == CheckKind::Dns).collect();
    assert!(!dns.is_empty());
    assert!(
        dns.iter()
            .filter(|c| c.status == Status::Fail)
            .all(|c| c.detail.contains("wrong answer"))
    );
    let mtu = checks.iter().find(|c| c.kind == CheckKind::Mtu).unwrap();
    assert_eq!(mtu.status, Status::Fail);
    assert_eq!(mtu.path_mtu, Some(1350));
    assert_eq!(mtu.configured_mtu, Some(1450));
    assert_eq!(checks.last().unwrap().status, Status::Error);
    let p2p = checks
        .iter()
        .find(|c| c.kind == CheckKind::PodToPod)
        .unwrap();
    assert_eq!(p2p.status, Status::Pass);

    let failed = assemble(sp, Err("exec failed"));
    assert!(
        failed
            .iter()
            .all(|c| c.status == Status::Error && c.detail == "exec failed")
    );
}

#[test]
fn the_plan_deadline_grows_with_the_plans_work() {
    let t = Duration::from_secs(2);
    // A small plan: its probes' timeout (plus one for the batch), its budget, slack.
    assert_eq!(
        plan_deadline(10, t),
        t * 2 + PLAN_BUDGET_PER_PROBE * 10 + PLAN_SLACK
    );
    // Strictly more time for more probes, and one more timeout per batch of
    // probes the agent keeps open.
    let mut last = Duration::ZERO;
    for n in [0, 1, 100, 500, 1024, 1025, 5000] {
        let d = plan_deadline(n, t);
        assert!(d > last, "{n} probes: {d:?} after {last:?}");
        last = d;
    }
    assert_eq!(
        plan_deadline(1025, t) - plan_deadline(1024, t),
        t + PLAN_BUDGET_PER_PROBE
    );
    // No overflow on absurd sizes.
    assert!(plan_deadline(usize::MAX, Duration::MAX) == Duration::MAX);
}

#[test]
fn every_plan_carries_the_deadline_for_its_own_size() {
    let d = deployment(30, 2);
    let opts = PlanOptions::default();
    let plans = plan(&d, &opts);
    let timeout = opts.timing.probe_timeout.max(opts.timing.dns_timeout);
    let sizes: BTreeSet<usize> = plans.iter().map(|p| p.plan.probes.len()).collect();
    assert!(
        sizes.len() > 1,
        "pod and host plans differ in size: {sizes:?}"
    );
    for sp in &plans {
        assert_eq!(
            sp.plan.deadline_ms,
            plan_deadline(sp.plan.probes.len(), timeout).as_millis() as u64,
            "{:?}",
            sp.source
        );
        // Long enough for every probe to run one after the other in
        // batches of the agent's active slots at its first retry interval.
        let serial = opts.timing.probe_timeout / 3 * (sp.plan.probes.len() as u32).div_ceil(32);
        assert!(Duration::from_millis(sp.plan.deadline_ms) > serial + timeout);
    }
}

// Each planner alone, from one source address, into an empty plan.

fn empty(source: &str) -> SourcePlan {
    SourcePlan::new(Source::Pod(source.into()))
}

fn specs(sp: &SourcePlan) -> Vec<(&ProbeSpec, &CheckTemplate)> {
    sp.plan
        .probes
        .iter()
        .map(|p| &p.spec)
        .zip(&sp.templates)
        .collect()
}

#[test]
fn pod_to_pod_plans_four_protocols_to_another_pod_and_nothing_to_itself() {
    let d = deployment(2, 2);
    let opts = PlanOptions::default();
    let cx = Ctx::new(&d, &opts);
    let from = SourceAddr::new(0, &d.pods[0], d.pods[0].ips[0]);
    let mut sp = empty("probe-0-0");
    pod_to_pod::plan(&cx, &from, 0, &d.pods[0], &mut sp);
    assert!(sp.templates.is_empty(), "no probe to itself");
    pod_to_pod::plan(&cx, &from, 2, &d.pods[2], &mut sp);
    let got: Vec<_> = specs(&sp)
        .into_iter()
        .map(|(s, t)| (s.clone(), t.protocol, t.port, t.kind))
        .collect();
    let dip = ip("198.18.1.2");
    assert_eq!(
        got,
        vec![
            (
                ProbeSpec::Icmp { target: dip },
                Protocol::Icmp,
                None,
                CheckKind::PodToPod
            ),
            (
                ProbeSpec::Tcp {
                    target: dip,
                    port: 7000,
                    echo: true
                },
                Protocol::Tcp,
                Some(7000),
                CheckKind::PodToPod
            ),
            (
                ProbeSpec::Udp {
                    target: dip,
                    port: 7001
                },
                Protocol::Udp,
                Some(7001),
                CheckKind::PodToPod
            ),
            (
                ProbeSpec::Http {
                    target: dip,
                    port: 8080,
                    path: "/".into()
                },
                Protocol::Http,
                Some(8080),
                CheckKind::PodToPod
            ),
        ]
    );
    assert_eq!(sp.templates[0].target.pod.as_deref(), Some("probe-1-0"));
    let ids: Vec<&str> = sp.plan.probes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "2", "3"]);
}

#[test]
fn mtu_plans_once_per_node_pair_from_and_to_the_first_pod_of_each_node() {
    let d = deployment(3, 2);
    let opts = PlanOptions::default();
    let cx = Ctx::new(&d, &opts);
    let mut planned = Vec::new();
    for (i, src) in d.pods.iter().enumerate() {
        let from = SourceAddr::new(i, src, src.ips[0]);
        let mut sp = empty(&src.name);
        for (j, dst) in d.pods.iter().enumerate() {
            mtu::plan(&cx, &from, j, dst, &mut sp);
        }
        for t in &sp.templates {
            planned.push((
                t.source.pod.clone().unwrap_or_default(),
                t.target.pod.clone().unwrap_or_default(),
            ));
        }
        // The agent sizes the sweep from its own interface: no `max` planned.
        assert!(sp.plan.probes.iter().all(|p| matches!(
            p.spec,
            ProbeSpec::Mtu {
                min: 576,
                max: None,
                ..
            }
        )));
    }
    let want: Vec<(String, String)> = [
        ("probe-0-0", "probe-1-0"),
        ("probe-0-0", "probe-2-0"),
        ("probe-1-0", "probe-0-0"),
        ("probe-1-0", "probe-2-0"),
        ("probe-2-0", "probe-0-0"),
        ("probe-2-0", "probe-1-0"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(planned, want);
}

#[test]
fn mtu_targets_the_first_pod_of_the_node_that_has_an_address_of_the_family() {
    let mut d = deployment(2, 2);
    // node-1's first pod is IPv4 only, its second dual-stack.
    d.pods[0].ips.push(ip("2001:2::2"));
    d.pods[3].ips.push(ip("2001:2::13"));
    let opts = PlanOptions::default();
    let cx = Ctx::new(&d, &opts);
    let from = SourceAddr::new(0, &d.pods[0], ip("2001:2::2"));
    let mut sp = empty("probe-0-0");
    for (j, dst) in d.pods.iter().enumerate() {
        mtu::plan(&cx, &from, j, dst, &mut sp);
    }
    assert_eq!(sp.templates.len(), 1);
    assert_eq!(sp.templates[0].target.pod.as_deref(), Some("probe-1-1"));
    assert_eq!(sp.templates[0].target.ip, Some(ip("2001:2::13")));
}

#[test]
fn pod_to_service_plans_tcp_and_udp_to_the_vip_and_calls_its_own_service_hairpin() {
    let d = deployment(2, 1);
    let opts = PlanOptions::default();
    let cx = Ctx::new(&d, &opts);
    let from = SourceAddr::new(0, &d.pods[0], d.pods[0].ips[0]);
    let mut sp = empty("probe-0-0");
    pod_to_service::plan(&cx, &from, 0, &d.pods[0], &mut sp);
    pod_to_service::plan(&cx, &from, 1, &d.pods[1], &mut sp);
    let got: Vec<_> = sp
        .templates
        .iter()
        .map(|t| (t.protocol, t.target.ip, t.note, t.target.name.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Protocol::Tcp,
                Some(ip("198.19.0.2")),
                Some("hairpin"),
                Some("netcheck/probe-0-0")
            ),
            (
                Protocol::Udp,
                Some(ip("198.19.0.2")),
                Some("hairpin"),
                Some("netcheck/probe-0-0")
            ),
            (
                Protocol::Tcp,
                Some(ip("198.19.1.2")),
                None,
                Some("netcheck/probe-1-0")
            ),
            (
                Protocol::Udp,
                Some(ip("198.19.1.2")),
                None,
                Some("netcheck/probe-1-0")
            ),
        ]
    );
}

#[test]
fn pod_to_node_plans_icmp_and_tcp_only_where_the_host_agent_serves_tcp() {
    let mut d = deployment(3, 1);
    d.hosts[2].tcp_port = None;
    let opts = PlanOptions {
        pairs: PairStrategy::All,
        ..PlanOptions::default()
    };
    let cx = Ctx::new(&d, &opts);
    let from = SourceAddr::new(0, &d.pods[0], d.pods[0].ips[0]);
    let mut sp = empty("probe-0-0");
    pod_to_node::plan(&cx, &from, &mut sp);
    let got: Vec<_> = sp
        .templates
        .iter()
        .map(|t| (t.target.node.clone().unwrap_or_default(), t.protocol))
        .collect();
    let n = |s: &str| s.to_string();
    assert_eq!(
        got,
        vec![
            (n("node-0"), Protocol::Icmp),
            (n("node-0"), Protocol::Tcp),
            (n("node-1"), Protocol::Icmp),
            (n("node-1"), Protocol::Tcp),
            (n("node-2"), Protocol::Icmp),
        ]
    );
}

#[test]
fn pod_to_apiserver_plans_one_connect_per_address_of_the_family() {
    let mut d = deployment(1, 1);
    let opts = PlanOptions::default();
    let from = SourceAddr::new(0, &d.pods[0], d.pods[0].ips[0]);
    let mut sp = empty("probe-0-0");
    pod_to_apiserver::plan(&Ctx::new(&d, &opts), &from, &mut sp);
    assert!(sp.templates.is_empty(), "no API server known");
    d.apiserver = Some(crate::model::topology::ApiServer {
        service: ServiceTarget {
            name: "kubernetes".into(),
            namespace: "default".into(),
            cluster_ips: vec![ip("2001:2:1::1"), ip("198.19.0.1")],
            node_port: None,
        },
        port: 6443,
        node: None,
    });
    let from = SourceAddr::new(0, &d.pods[0], d.pods[0].ips[0]);
    pod_to_apiserver::plan(&Ctx::new(&d, &opts), &from, &mut sp);
    assert_eq!(
        sp.plan.probes[0].spec,
        ProbeSpec::Tcp {
            target: ip("198.19.0.1"),
            port: 6443,
            echo: false
        }
    );
    assert_eq!(sp.templates.len(), 1);
    assert_eq!(
        sp.templates[0].target.name.as_deref(),
        Some("default/kubernetes")
    );
}

#[test]
fn dns_asks_every_name_through_the_service_then_each_server_of_the_family() {
    let mut d = deployment(1, 1);
    d.pods[0].ips.push(ip("2001:2::2"));
    if let Some(dns) = &mut d.dns {
        dns.servers.push(Endpoint {
            node: Some("node-0".into()),
            pod: Some("dns-v6".into()),
            ip: Some(ip("2001:2::53")),
            name: None,
        });
    }
    let opts = PlanOptions {
        timing: Timing {
            dns_timeout: Duration::from_millis(777),
            ..Timing::default()
        },
        ..PlanOptions::default()
    };
    let cx = Ctx::new(&d, &opts);
    let mut sp = empty("probe-0-0");
    dns::plan(
        &cx,
        &SourceAddr::new(0, &d.pods[0], ip("198.18.0.2")),
        &mut sp,
    );
    let notes: Vec<_> = sp.templates.iter().map(|t| t.note.unwrap_or("")).collect();
    assert_eq!(
        notes,
        [
            "via the DNS Service",
            "via the DNS Service, search path",
            "direct to the DNS pod"
        ]
    );
    assert!(sp.plan.probes.iter().all(|p| p.timeout_ms == 777));
    // One server of the family behind the Service (the other is IPv6 only):
    // the target names its node.
    assert_eq!(sp.templates[0].target.node.as_deref(), Some("node-0"));
    assert_eq!(sp.templates[2].target.ip, Some(ip("198.18.0.200")));
    assert_eq!(sp.templates[2].expect, vec![ip("198.19.0.2")]);

    assert!(sp.plan.probes.iter().all(|p| matches!(
        p.spec,
        ProbeSpec::Dns {
            record: Some(DnsRecord::A),
            ..
        }
    )));

    // From the IPv6 address: the names resolve to IPv4 addresses only, so
    // there is no AAAA to ask.
    let mut sp6 = empty("probe-0-0");
    let v6 = SourceAddr::new(0, &d.pods[0], ip("2001:2::2"));
    dns::plan(&cx, &v6, &mut sp6);
    assert!(sp6.templates.is_empty(), "{:?}", sp6.templates);

    // Dual stack: the names have IPv6 addresses and the DNS Service an IPv6
    // ClusterIP. From the IPv6 address the fully qualified name goes to that
    // ClusterIP (not through the IPv4 resolv.conf), then to the IPv6 server,
    // each asking AAAA and expecting the IPv6 address only.
    let mut d6 = d.clone();
    if let Some(dns) = &mut d6.dns {
        dns.service_ips = vec![dns.service.ip, ip("2001:2:0:ffff::a")];
        for n in &mut dns.names {
            n.expect.push(ip("2001:2:0:ffff::2"));
        }
    }
    let cx6 = Ctx::new(&d6, &opts);
    let mut sp6 = empty("probe-0-0");
    let v6 = SourceAddr::new(0, &d6.pods[0], ip("2001:2::2"));
    dns::plan(&cx6, &v6, &mut sp6);
    let notes: Vec<_> = sp6.templates.iter().map(|t| t.note.unwrap_or("")).collect();
    assert_eq!(notes, ["via the DNS Service", "direct to the DNS pod"]);
    assert_eq!(sp6.templates[0].target.ip, Some(ip("2001:2:0:ffff::a")));
    assert_eq!(sp6.templates[0].target.node.as_deref(), Some("node-0"));
    assert_eq!(sp6.templates[1].target.pod.as_deref(), Some("dns-v6"));
    assert!(
        sp6.templates
            .iter()
            .all(|t| t.expect == vec![ip("2001:2:0:ffff::2")])
    );
    match &sp6.plan.probes[0].spec {
        ProbeSpec::Dns { server, record, .. } => {
            assert_eq!(*server, Some(ip("2001:2:0:ffff::a")));
            assert_eq!(*record, Some(DnsRecord::Aaaa));
        }
        other => panic!("not a DNS probe: {other:?}"),
    }
}

#[test]
fn node_to_pod_plans_icmp_and_tcp_from_the_host_to_every_paired_pod() {
    let d = deployment(2, 2);
    let opts = PlanOptions::default();
    let cx = Ctx::new(&d, &opts);
    let mut sp = SourcePlan::new(Source::Host("node-1".into()));
    node_to_pod::plan(&cx, &d.hosts[1], &mut sp);
    assert_eq!(sp.templates.len(), 4 * 2);
    assert!(sp.templates.iter().all(|t| t.kind == CheckKind::NodeToPod
        && t.source.node.as_deref() == Some("node-1")
        && t.source.pod.is_none()));
    let protos: Vec<_> = sp.templates.iter().map(|t| t.protocol).take(2).collect();
    assert_eq!(protos, [Protocol::Icmp, Protocol::Tcp]);
}

#[test]
fn every_kind_but_external_has_a_planner_in_the_plan_order() {
    for kind in CheckKind::ALL {
        assert_eq!(
            PLAN_ORDER.contains(&kind),
            planner(kind).is_some(),
            "{kind:?}: a planner must be in PLAN_ORDER and the reverse"
        );
    }
    assert!(planner(CheckKind::External).is_none());
    assert_eq!(PLAN_ORDER.len(), CheckKind::ALL.len() - 1);
}

#[test]
fn asking_for_external_is_an_error_that_says_it_does_not_exist_yet() {
    for names in [vec!["external"], vec!["dns", "external"]] {
        let names: Vec<String> = names.into_iter().map(String::from).collect();
        let err = CheckSet::parse(&names).unwrap_err();
        assert!(
            err.contains("'external'") && err.contains("not available yet"),
            "{err}"
        );
    }
}

#[test]
fn the_planners_fill_a_source_plan_in_the_plan_order() {
    let d = deployment(2, 1);
    let plans = plan(&d, &PlanOptions::default());
    let kinds: Vec<CheckKind> = plans[0].templates.iter().map(|t| t.kind).collect();
    let mut order = kinds.clone();
    order.dedup();
    // Per target pod: pod-to-pod (not to itself), MTU, pod-to-service.
    assert_eq!(
        order,
        [
            CheckKind::PodToService,
            CheckKind::PodToPod,
            CheckKind::Mtu,
            CheckKind::PodToService,
            CheckKind::PodToNode,
            CheckKind::Dns
        ]
    );
    assert_eq!(
        plans.last().map(|p| &p.source),
        Some(&Source::Host("node-1".into()))
    );
}

/// The MTU check of a deployment whose runtime does not know the pod MTU (a
/// real cluster), answered by an agent that read `interface` and found `path`.
fn mtu_check(interface: Option<u16>, path: Option<u16>) -> Check {
    let d = deployment(2, 1);
    let plans = plan(&d, &PlanOptions::default());
    let sp = &plans[0];
    let results = sp
        .plan
        .probes
        .iter()
        .zip(&sp.templates)
        .map(|(p, t)| {
            let mut r = ProbeResult::new(&p.id, Outcome::Ok);
            if t.kind == CheckKind::Mtu {
                r.path_mtu = path;
                r.interface_mtu = interface;
            }
            r
        })
        .collect();
    let report = ProbeReport {
        results,
        duration_ms: 1.0,
        peak_rss_kib: None,
        cells: Vec::new(),
    };
    let checks = assemble(sp, Ok(&report));
    checks
        .into_iter()
        .find(|c| c.kind == CheckKind::Mtu)
        .expect("an MTU check")
}

#[test]
fn a_healthy_overlay_passes_the_mtu_check_at_the_interface_mtu_the_agent_read() {
    // Pod eth0 1450 (a VXLAN overlay), the path carries 1450: no failure,
    // and configuredMtu is what the agent read, not an assumed 1500.
    let c = mtu_check(Some(1450), Some(1450));
    assert_eq!(c.status, Status::Pass, "{c:?}");
    assert_eq!(c.configured_mtu, Some(1450));
    assert_eq!(c.path_mtu, Some(1450));
    // A path that carries less than the interface sends fails and says both.
    let c = mtu_check(Some(1450), Some(1350));
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.detail.contains("1350") && c.detail.contains("1450"),
        "{}",
        c.detail
    );
    // An agent that could not say its MTU: the path is not judged short.
    let c = mtu_check(None, Some(1450));
    assert_eq!(c.status, Status::Pass);
    assert_eq!(c.configured_mtu, None);
}

/// `deployment` with a nodePort (30000 + node) on each node's first Service.
fn with_node_ports(mut d: Deployment) -> Deployment {
    let mut seen = BTreeSet::new();
    for (i, p) in d.pods.iter_mut().enumerate() {
        if seen.insert(p.node.clone()) {
            if let Some(s) = p.service.as_mut() {
                s.node_port = Some(30000 + i as u16);
            }
        }
    }
    d
}

#[test]
fn nodeport_dials_every_nodes_ip_at_its_own_services_node_port_from_pods_and_hosts() {
    let d = with_node_ports(deployment(3, 2));
    let plans = plan(&d, &PlanOptions::default());
    let np: Vec<(&Source, &ProbeSpec, &CheckTemplate)> = plans
        .iter()
        .flat_map(|sp| {
            sp.plan
                .probes
                .iter()
                .zip(&sp.templates)
                .map(move |(p, t)| (&sp.source, &p.spec, t))
        })
        .filter(|(_, _, t)| t.kind == CheckKind::Nodeport)
        .collect();
    // (6 pods + 3 host agents) × 3 nodes, TCP only.
    assert_eq!(np.len(), 9 * 3);
    for (src, spec, t) in &np {
        let node = t.target.node.as_deref().unwrap();
        let h = d.hosts.iter().find(|h| h.node == node).unwrap();
        // The node's first probe pod (index 2n) is the backend behind it.
        let backend = d.pods.iter().find(|p| p.node == node).unwrap();
        let port = backend.service.as_ref().unwrap().node_port.unwrap();
        assert_eq!(
            **spec,
            ProbeSpec::Tcp {
                target: h.ips[0],
                port,
                echo: true
            }
        );
        assert_eq!(t.target.ip, Some(h.ips[0]), "the node's IP, not the pod's");
        assert_eq!(t.target.pod.as_deref(), Some(backend.name.as_str()));
        assert_eq!(
            t.target.name.as_deref(),
            Some(format!("netcheck/{}", backend.name).as_str())
        );
        assert_eq!((t.protocol, t.port), (Protocol::Tcp, Some(port)));
        assert_eq!(t.source.pod.is_none(), matches!(src, Source::Host(_)));
    }
    // Every host agent dials its own node too (kube-proxy's OUTPUT hook).
    assert!(np.iter().any(
        |(s, _, t)| matches!(s, Source::Host(n) if Some(n.as_str()) == t.target.node.as_deref())
    ));
    // NodePort comes last in each source's plan: the other kinds' ids stay.
    for sp in &plans {
        let kinds: Vec<CheckKind> = sp.templates.iter().map(|t| t.kind).collect();
        let first = kinds
            .iter()
            .position(|k| *k == CheckKind::Nodeport)
            .unwrap();
        assert!(kinds[first..].iter().all(|k| *k == CheckKind::Nodeport));
    }
}

#[test]
fn nodeport_skips_nodes_without_a_node_port_and_follows_pairs_and_families() {
    // No nodePort anywhere (a Service that could not be NodePort): nothing.
    let d = deployment(3, 2);
    let plans = plan(&d, &PlanOptions::default());
    assert!(
        plans
            .iter()
            .flat_map(|p| &p.templates)
            .all(|t| t.kind != CheckKind::Nodeport)
    );
    // Only node-1 has one: only node-1 is dialled.
    let mut d = with_node_ports(deployment(3, 2));
    for p in d.pods.iter_mut().filter(|p| p.node != "node-1") {
        p.service.as_mut().unwrap().node_port = None;
    }
    let opts = PlanOptions::default();
    let cx = Ctx::new(&d, &opts);
    let mut sp = SourcePlan::new(Source::Host("node-0".into()));
    nodeport::plan_host(&cx, &d.hosts[0], &mut sp);
    let targets: Vec<_> = sp.templates.iter().map(|t| t.target.node.clone()).collect();
    assert_eq!(targets, [Some("node-1".to_string())]);
    // An IPv6 source does not dial an IPv4 node address.
    let d = with_node_ports(deployment(2, 1));
    let cx = Ctx::new(&d, &opts);
    let mut sp = empty("probe-0-0");
    let mut v6 = d.pods[0].clone();
    v6.ips = vec![ip("2001:2::2")];
    nodeport::plan_pod(&cx, &SourceAddr::new(0, &v6, v6.ips[0]), &mut sp);
    assert!(sp.templates.is_empty());
    // --pairs ring on 4 nodes: node-0 dials itself and its two neighbours.
    let d = with_node_ports(deployment(4, 1));
    let opts = PlanOptions {
        pairs: PairStrategy::Ring,
        ..PlanOptions::default()
    };
    let cx = Ctx::new(&d, &opts);
    let mut sp = empty("probe-0-0");
    nodeport::plan_pod(
        &cx,
        &SourceAddr::new(0, &d.pods[0], d.pods[0].ips[0]),
        &mut sp,
    );
    let targets: BTreeSet<_> = sp
        .templates
        .iter()
        .filter_map(|t| t.target.node.clone())
        .collect();
    assert_eq!(
        targets,
        ["node-0", "node-1", "node-3"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

#[test]
fn checks_nodeport_alone_plans_only_nodeport() {
    let d = with_node_ports(deployment(2, 2));
    let opts = PlanOptions {
        checks: CheckSet::parse(&["nodeport".into()]).unwrap(),
        ..PlanOptions::default()
    };
    let plans = plan(&d, &opts);
    assert_eq!(plans.len(), 4 + 2, "every pod and every host agent");
    assert!(
        plans
            .iter()
            .flat_map(|p| &p.templates)
            .all(|t| t.kind == CheckKind::Nodeport)
    );
    assert!(CheckSet::default_set().contains(CheckKind::Nodeport));
}

/// kube-proxy's paths start last in every agent (phase 1), everything else
/// first; the phase is in the plan's JSON only when it is not 0.
#[test]
fn service_and_nodeport_probes_start_in_the_later_phase() {
    let mut d = deployment(3, 2);
    for (i, p) in d.pods.iter_mut().enumerate() {
        if let Some(s) = p.service.as_mut() {
            s.node_port = Some(30_000 + i as u16);
        }
    }
    let plans = plan(&d, &PlanOptions::default());
    let mut phases = BTreeMap::new();
    for sp in &plans {
        for (p, t) in sp.plan.probes.iter().zip(&sp.templates) {
            phases
                .entry(t.kind)
                .or_insert_with(BTreeSet::new)
                .insert(p.phase);
        }
    }
    for (kind, seen) in &phases {
        let want = u8::from(matches!(
            kind,
            CheckKind::PodToService | CheckKind::Nodeport
        ));
        assert_eq!(seen, &BTreeSet::from([want]), "{kind:?}");
    }
    assert!(phases.contains_key(&CheckKind::Nodeport), "{phases:?}");
    assert!(phases.contains_key(&CheckKind::PodToService));
    let sp = &plans[0];
    let json = serde_json::to_value(&sp.plan).unwrap();
    let probes = json["probes"].as_array().unwrap();
    for (p, t) in probes.iter().zip(&sp.templates) {
        let phase = p.get("phase").and_then(|v| v.as_u64());
        if t.kind == CheckKind::PodToService {
            assert_eq!(phase, Some(1), "{p}");
        } else if t.kind == CheckKind::PodToPod {
            assert_eq!(phase, None, "{p}");
        }
    }
    // Held for kube-proxy's sync when asked: the deadline has room for the
    // wait; a plan without kube-proxy's paths, or asked late, is not held.
    assert!(json.get("laterPhasesAfterMs").is_none(), "{json}");
    let mut held = sp.clone();
    crate::plan::hold_later_phases(&mut held, Duration::from_millis(700));
    let json = serde_json::to_value(&held.plan).unwrap();
    assert_eq!(json["laterPhasesAfterMs"], 700, "{json}");
    assert_eq!(held.plan.deadline_ms, sp.plan.deadline_ms + 700);
    let mut late = sp.clone();
    crate::plan::hold_later_phases(&mut late, Duration::ZERO);
    assert_eq!(late.plan, sp.plan);
    let only_pods = plan(
        &d,
        &PlanOptions {
            checks: CheckSet::parse(&["pod-to-pod".into()]).unwrap(),
            ..PlanOptions::default()
        },
    );
    let mut pods = only_pods[0].clone();
    crate::plan::hold_later_phases(&mut pods, Duration::from_millis(700));
    assert_eq!(pods.plan, only_pods[0].plan);
    // A plan from a CLI that knows no phases parses: phase 0, no wait.
    let old: crate::model::ProbePlan = serde_json::from_str(
        r#"{"deadlineMs":1000,"probes":[{"id":"0","timeoutMs":500,"kind":"icmp","target":"198.18.0.2"}]}"#,
    )
    .unwrap();
    assert_eq!(old.probes[0].phase, 0);
    assert_eq!(old.later_phases_after_ms, 0);
}

/// A source's plan as data, to compare plans made apart.
fn plan_data(sp: &SourcePlan) -> (Source, ProbePlan, Vec<CheckTemplate>) {
    (sp.source.clone(), sp.plan.clone(), sp.templates.clone())
}

/// The pipeline plans one source at a time, in whatever order its agents
/// are asked, and plans a source again for its confirmation: each source's
/// plan must be the one `plan` makes (the same probes and ids), whatever was
/// planned before it, and a source that probes nothing has no plan.
#[test]
fn planning_per_source_in_any_order_gives_the_plans_of_plan() {
    let d = with_node_ports(deployment(6, 2));
    let only_hosts = CheckSet::parse(&["node-to-pod".to_string()]).unwrap();
    for opts in [
        PlanOptions::default(),
        PlanOptions {
            pairs: PairStrategy::Sample(2),
            ..Default::default()
        },
        PlanOptions {
            checks: only_hosts,
            ..Default::default()
        },
    ] {
        let whole: Vec<_> = plan(&d, &opts).iter().map(plan_data).collect();
        let planner = Planner::new(&d, &opts);
        assert_eq!(planner.len(), d.pods.len() + d.hosts.len());
        // Backwards, then each source twice in a row.
        let mut apart: Vec<_> = (0..planner.len())
            .rev()
            .filter_map(|i| planner.plan_source(i))
            .map(|sp| plan_data(&sp))
            .collect();
        apart.reverse();
        assert_eq!(apart, whole, "{:?} {:?}", opts.checks, opts.pairs);
        for i in 0..planner.len() {
            let once = planner.plan_source(i).map(|sp| plan_data(&sp));
            assert_eq!(once, planner.plan_source(i).map(|sp| plan_data(&sp)));
            // Source i is pod i, then host i - pods.
            let want = match d.pods.get(i) {
                Some(p) => Source::Pod(p.name.clone()),
                None => Source::Host(d.hosts[i - d.pods.len()].node.clone()),
            };
            if let Some((source, plan, _)) = once {
                assert_eq!(source, want);
                let ids: Vec<String> = (0..plan.probes.len()).map(|n| n.to_string()).collect();
                let got: Vec<String> = plan.probes.iter().map(|p| p.id.clone()).collect();
                assert_eq!(got, ids, "ids are places in the source's plan");
            }
        }
        assert!(planner.plan_source(planner.len()).is_none());
        assert_eq!(
            planner.count_probes(),
            whole.iter().map(|(_, p, _)| p.probes.len()).sum::<usize>()
        );
    }
    // Only host agents probe with node-to-pod alone: the pods plan nothing.
    let opts = PlanOptions {
        checks: CheckSet::parse(&["node-to-pod".to_string()]).unwrap(),
        ..Default::default()
    };
    let planner = Planner::new(&d, &opts);
    assert!(planner.plan_source(0).is_none());
    assert_eq!(plan(&d, &opts).len(), d.hosts.len());
}

#[test]
fn aggregation_counts_the_probes_only_when_they_decide() {
    let never = || -> usize { panic!("counted the probes") };
    assert!(Aggregate::Auto.applies_with(AGGREGATE_ABOVE_NODES + 1, never));
    assert!(Aggregate::Always.applies_with(1, never));
    assert!(!Aggregate::Never.applies_with(10_000, never));
    assert!(Aggregate::Auto.applies_with(3, || AGGREGATE_ABOVE_CHECKS + 1));
    assert!(!Aggregate::Auto.applies_with(3, || AGGREGATE_ABOVE_CHECKS));
}
