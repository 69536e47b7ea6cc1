//! The simulator's model, and every lab fault simulated: named at its root.

use super::*;
use crate::model::plan::{Probe, ProbeSpec};
use crate::model::{FindingId, Outcome, Severity};
use crate::pipeline::{self, Options};
use crate::runtime::Quiet;

mod per_source;

/// The pipeline on a simulated cluster with the CLI's default pairs (`auto`:
/// all up to 50 nodes, then sampled; `all` at 1,000 nodes is 20 GB).
fn run(cfg: SimConfig) -> crate::model::report::Report {
    let rt = SimRuntime::new(cfg).expect("a valid simulated cluster");
    let opts = Options {
        plan: crate::plan::PlanOptions {
            pairs: crate::plan::PairStrategy::Auto,
            ..Default::default()
        },
        ..Options::default()
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(pipeline::run(&rt, &opts, &Quiet))
        .expect("the simulated run")
}

fn probe(spec: ProbeSpec) -> Probe {
    Probe {
        id: "0".into(),
        timeout_ms: 2000,
        retries: 2,
        spec,
        cell: None,
        phase: 0,
    }
}

fn answer(net: &SimNetwork, source: Source, spec: ProbeSpec) -> ProbeResult {
    net.answer_all(&source, &[probe(spec)])
        .expect("a known source")
        .remove(0)
}

fn pod(net: &SimNetwork, k: usize) -> Source {
    Source::Pod(net.pod_name(k))
}

#[test]
fn addresses_are_distinct_and_named_like_the_lab() {
    let net = SimNetwork::new(300, 2, 1).unwrap();
    assert_eq!(net.node_name(0), "node-1");
    assert_eq!(net.pod_name(0), "probe-1a");
    assert_eq!(net.pod_name(599), "probe-300b");
    assert_eq!(net.pod_cidr(299), "10.1.43.0/24");
    assert_eq!(net.pod_ip(599).to_string(), "10.1.43.3");
    assert_eq!(net.node_ip(299).to_string(), "172.16.1.44");
    let d = net.deployed(net.discovered(), Vec::new());
    let mut ips = std::collections::BTreeSet::new();
    for p in &d.pods {
        assert!(ips.insert(p.ips[0]));
        assert!(ips.insert(p.service.as_ref().unwrap().cluster_ips[0]));
    }
    for n in &d.nodes {
        assert!(ips.insert(n.internal_ips[0]));
    }
    assert!(SimNetwork::new(0, 2, 1).is_err());
    assert!(SimNetwork::new(network::MAX_NODES + 1, 2, 1).is_err());
}

#[test]
fn latencies_are_deterministic_per_seed_and_longer_across_nodes() {
    let net = SimNetwork::new(4, 2, 7).unwrap();
    let same = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Icmp {
            target: net.pod_ip(1).into(),
        },
    );
    let cross = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Icmp {
            target: net.pod_ip(6).into(),
        },
    );
    assert_eq!(same.outcome, Outcome::Ok);
    assert!(
        same.latency_ms.unwrap() < cross.latency_ms.unwrap(),
        "{same:?} {cross:?}"
    );
    let again = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Icmp {
            target: net.pod_ip(6).into(),
        },
    );
    assert_eq!(cross.latency_ms, again.latency_ms);
    let other = SimNetwork::new(4, 2, 8).unwrap();
    let seeded = answer(
        &other,
        pod(&other, 0),
        ProbeSpec::Icmp {
            target: other.pod_ip(6).into(),
        },
    );
    assert_ne!(cross.latency_ms, seeded.latency_ms);
}

#[test]
fn services_dns_and_ports_answer_as_a_cluster_does() {
    let net = SimNetwork::new(3, 2, 1).unwrap();
    let svc = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Tcp {
            target: net.service_ip(4).into(),
            port: 7000,
            echo: true,
        },
    );
    assert_eq!(svc.outcome, Outcome::Ok);
    let closed = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Tcp {
            target: net.pod_ip(4).into(),
            port: 1,
            echo: false,
        },
    );
    assert_eq!(closed.outcome, Outcome::Refused);
    let dns = answer(
        &net,
        pod(&net, 2),
        ProbeSpec::Dns {
            name: "probe-1a".into(),
            server: None,
            port: None,
            record: None,
        },
    );
    assert_eq!(dns.outcome, Outcome::Ok);
    assert_eq!(dns.addresses, vec![IpAddr::from(net.service_ip(0))]);
    let api = answer(
        &net,
        pod(&net, 5),
        ProbeSpec::Tcp {
            target: network::APISERVER_IP.into(),
            port: 443,
            echo: false,
        },
    );
    assert_eq!(api.outcome, Outcome::Ok);
}

use std::net::IpAddr;

#[test]
fn faults_change_only_what_they_break() {
    let mut net = SimNetwork::new(3, 2, 1).unwrap();
    faults::apply("node-isolated", &mut net).unwrap();
    // node-3's pods reach no pod elsewhere; its host still answers on the underlay.
    let cut = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Icmp {
            target: net.pod_ip(4).into(),
        },
    );
    assert_eq!(cut.outcome, Outcome::Timeout);
    assert_eq!(cut.detail.as_deref(), Some("no answer within 2000 ms"));
    let host = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Icmp {
            target: net.node_ip(2).into(),
        },
    );
    assert_eq!(host.outcome, Outcome::Ok);
    let local = answer(
        &net,
        pod(&net, 4),
        ProbeSpec::Icmp {
            target: net.pod_ip(5).into(),
        },
    );
    assert_eq!(local.outcome, Outcome::Ok);

    let mut net = SimNetwork::new(3, 2, 1).unwrap();
    faults::apply("underlay-mtu", &mut net).unwrap();
    let mtu = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Mtu {
            target: net.pod_ip(4).into(),
            min: 576,
            max: None,
        },
    );
    assert_eq!((mtu.path_mtu, mtu.interface_mtu), (Some(1350), Some(1450)));
    let fine = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Mtu {
            target: net.pod_ip(2).into(),
            min: 576,
            max: None,
        },
    );
    assert_eq!(fine.path_mtu, Some(1450));

    let mut net = SimNetwork::new(3, 2, 1).unwrap();
    faults::apply("hairpin-off", &mut net).unwrap();
    let hairpin = answer(
        &net,
        pod(&net, 4),
        ProbeSpec::Udp {
            target: net.service_ip(4).into(),
            port: 7001,
        },
    );
    assert_eq!(hairpin.outcome, Outcome::Timeout);
    let elsewhere = answer(
        &net,
        pod(&net, 0),
        ProbeSpec::Udp {
            target: net.service_ip(0).into(),
            port: 7001,
        },
    );
    assert_eq!(elsewhere.outcome, Outcome::Ok);
}

#[test]
fn host_reports_are_healthy_then_broken_like_the_lab_node() {
    let net = SimNetwork::new(3, 2, 1).unwrap();
    let h = hosts::host_report(&net, 2).unwrap();
    assert_eq!(h.node, "node-3");
    assert_eq!(h.overview.kube_proxy_rules, Some(true));
    assert_eq!(h.overview.iptables_backend.as_deref(), Some("nft"));
    assert!(h.overview.flagged.is_empty(), "{:?}", h.overview.flagged);
    let text = serde_json::to_string(&h).unwrap();
    assert!(!text.contains('@') && !text.contains("198.1"), "{text}");
    assert!(text.contains("10.0.2.0/24") && text.contains("172.16.0.3"));
    // node-1 hosts a DNS replica: its bridge has a port for it.
    let h1 = hosts::host_report(&net, 0).unwrap();
    assert!(h1.interfaces.iter().any(|i| i.name == "vethdns0"));

    let mut net = SimNetwork::new(3, 2, 1).unwrap();
    for f in [
        "forward-drop",
        "ip-forward-off",
        "cni-conflict",
        "backend-mix",
        "bridge-nf-off",
        "conntrack-full",
        "rp-filter-strict",
        "hairpin-off",
    ] {
        faults::apply(f, &mut net).unwrap();
    }
    let h = hosts::host_report(&net, 2).unwrap();
    let flagged = h.overview.flagged.join("\n");
    for want in [
        "filter FORWARD policy DROP (nft)",
        "net.ipv4.ip_forward = 0",
        "2 valid CNI configs in /etc/cni/net.d",
        "rules in both iptables backends",
        "net.bridge.bridge-nf-call-iptables = 0",
        "(95.2%)",
        "rp_filter strict (1)",
        "hairpin off on bridge port veth0 (cni0)",
    ] {
        assert!(flagged.contains(want), "{want} not in {flagged}");
    }
    // The other nodes are untouched.
    assert!(
        hosts::host_report(&net, 1)
            .unwrap()
            .overview
            .flagged
            .is_empty()
    );
}

#[test]
fn every_lab_fault_has_a_simulated_counterpart() {
    for f in crate::lab::faults::all() {
        match faults::out_of_scope(*f) {
            None => assert!(
                faults::supported(f.name()),
                "{} has no simulated counterpart",
                f.name()
            ),
            Some(why) => {
                assert!(!faults::supported(f.name()), "{}", f.name());
                let mut net = SimNetwork::new(3, 1, 0).unwrap();
                let e = faults::apply(f.name(), &mut net).unwrap_err();
                assert!(e.contains(why), "{e}");
            }
        }
    }
    assert!(!faults::supported("no-such-fault"));
    // The default flavour's faults are simulated but for NodePorts.
    assert!(faults::simulated().len() >= 13);
}

#[test]
fn healthy_simulated_cluster_passes_every_check() {
    let r = run(SimConfig::new(5, 2));
    assert_eq!(r.summary.failed, 0, "{:#?}", r.findings);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.hosts.len(), 5);
    assert_eq!(r.cluster.cni, "flannel");
    assert_eq!(r.cluster.kube_proxy_mode, "iptables");
}

/// Every lab fault, simulated on `nodes` nodes: its expected finding is the
/// root, with its severity, and no other error stands beside it.
fn every_fault_is_named_at_its_root(nodes: usize) {
    let mut wrong = Vec::new();
    for f in faults::simulated() {
        let mut cfg = SimConfig::new(nodes, 2);
        cfg.faults = vec![f.name().to_string()];
        let r = run(cfg);
        let ids: Vec<(FindingId, Severity)> =
            r.findings.iter().map(|x| (x.id, x.severity)).collect();
        let errors: Vec<FindingId> = r
            .findings
            .iter()
            .filter(|x| x.severity == Severity::Error)
            .map(|x| x.id)
            .collect();
        let root = r.findings.iter().find(|x| x.id == f.expected());
        let ok = root.is_some_and(|x| x.severity == f.severity())
            && errors.iter().all(|&e| e == f.expected());
        if !ok {
            wrong.push(format!(
                "{}: expected {} ({:?}), got {ids:?}",
                f.name(),
                f.expected(),
                f.severity()
            ));
        }
    }
    assert!(wrong.is_empty(), "at {nodes} nodes:\n{}", wrong.join("\n"));
}

#[test]
fn every_lab_fault_simulated_is_named_at_its_root_at_30_nodes() {
    every_fault_is_named_at_its_root(30);
}

#[test]
#[ignore = "1,000 nodes: 40 s in a debug build (13 faults); run with --ignored"]
fn every_lab_fault_simulated_is_named_at_its_root_at_1000_nodes() {
    every_fault_is_named_at_its_root(1000);
}

/// The diagnosis walks the checks a fixed number of times, whatever the
/// number of nodes: no rule scans every check once per node or node pair
/// (pod-route-missing did per node and peer without a route, which the
/// simulated flannel nodes past 64 have, cross-node once per checked pair:
/// 118 s of diagnosis at 1,000 nodes). Above 64 nodes on both sides, so
/// that the ring routes of `hosts` apply to both.
#[test]
fn the_diagnosis_scans_the_checks_as_often_at_any_size() {
    let scans = |nodes: usize| {
        let (r, n) = crate::diagnose::scans::during(|| run(SimConfig::new(nodes, 2)));
        assert_eq!(r.summary.failed, 0, "{:#?}", r.findings);
        n
    };
    let (small, large) = (scans(70), scans(140));
    assert_eq!(small, large, "scans at 70 nodes: {small}, at 140: {large}");
    // And with a fault: a root found once, not once per node.
    let faulty = |nodes: usize| {
        let mut cfg = SimConfig::new(nodes, 2);
        cfg.faults = vec!["node-isolated".to_string()];
        crate::diagnose::scans::during(|| run(cfg)).1
    };
    let (small, large) = (faulty(70), faulty(140));
    assert_eq!(
        small, large,
        "scans with a fault at 70 nodes: {small}, at 140: {large}"
    );
}

/// A matrix with a row per node and a few columns (DNS) is folded past
/// `MAX_FULL_ROWS` rows, as a wide one is: a table of a large cluster stays
/// a summary, and `--wide` still draws every row.
#[test]
fn a_tall_matrix_is_folded_unless_wide() {
    use crate::render::{RenderOptions, table};
    let nodes = table::MAX_FULL_ROWS + 1;
    let r = run(SimConfig::new(nodes, 2));
    let text = table::render(&r, &RenderOptions::default());
    assert!(
        text.contains(&format!("(folded: {nodes} rows; --wide shows all)")),
        "{text}"
    );
    // The DNS matrix's header, drawn only when the matrix is.
    let drawn = "│ source → target │ kubernetes.default";
    assert!(!text.contains(drawn), "{text}");
    let wide = table::render(
        &r,
        &RenderOptions {
            wide: true,
            ..RenderOptions::default()
        },
    );
    assert!(wide.contains(drawn), "no DNS matrix with --wide");
    assert!(text.lines().count() + nodes < wide.lines().count());
}
