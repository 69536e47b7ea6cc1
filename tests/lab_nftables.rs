//! The lab with kube-proxy in nftables mode (`lab --kube-proxy nftables`),
//! tested with real packets (root): Services start refused by
//! `no-endpoint-services` → `reject-chain`, then answer through the DNAT of
//! `table ip kube-proxy` once each node's kube-proxy synced (hairpin too);
//! the DNS Service reaches both replicas (`numgen random mod 2`); nothing of
//! kube-proxy is in iptables; `kube-proxy-down` deletes the node's table;
//! teardown with syncs pending leaves nothing behind.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::faults::{self, Fault};
use netcheck::lab::testing::require_root;
use netcheck::lab::{KubeProxyMode, LabRuntime};
use netcheck::runtime::Runtime;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

/// A lab without agents, kube-proxy in nftables mode; its sync still pending.
async fn build_nft(
    nodes: usize,
    pods: usize,
    faults: &[&'static dyn Fault],
) -> Result<LabRuntime, String> {
    build_unsynced_in(nodes, pods, faults, KubeProxyMode::Nftables).await
}

fn connect_all(from: &[String], vip: std::net::Ipv4Addr, port: u16) -> Vec<Result<(), ErrorKind>> {
    std::thread::scope(|s| {
        let hs: Vec<_> = from
            .iter()
            .map(|ns| s.spawn(move || tcp_connect(ns, vip, port)))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or(Err(ErrorKind::Other)))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_answer_through_kube_proxys_nftables_table_after_its_sync() {
    if !require_root() {
        return;
    }
    let lab = build_nft(3, 2, &[]).await.expect("lab builds");
    let deployed = Instant::now();
    let p = lab.plan().clone();
    let port = netcheck::model::topology::ServePorts::default().tcp;
    let vip = p.service_ip(0, 0);
    let listener = listen_tcp(&p.pod_ns(0, 0), p.pod_ip(0, 0), port);
    let from: Vec<String> = (0..p.nodes).map(|i| p.pod_ns(i, 1)).collect();
    let first = connect_all(&from, vip, port);
    let early_table = run_in(&p.node_ns(0), "nft", &["list", "table", "ip", "kube-proxy"]);
    let mut last = first.clone();
    while last.iter().any(|r| r.is_err()) && deployed.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        last = connect_all(&from, vip, port);
    }
    let synced = lab.wait_for_service_rules().await;
    let table = run_in(&p.node_ns(2), "nft", &["list", "table", "ip", "kube-proxy"]);
    let save = run_in(&p.node_ns(2), "iptables-save", &[]);
    // Another node's pod, a same-node pod, and the pod itself (hairpin).
    let roundtrips: Vec<(usize, usize, Result<(), String>)> = [(1, 0), (0, 1), (0, 0)]
        .into_iter()
        .map(|(i, j)| (i, j, tcp_roundtrip(&p.pod_ns(i, j), vip, port)))
        .collect();
    drop(listener);
    let dns = {
        let p = p.clone();
        tokio::task::spawn_blocking(move || dns_through_the_service(&p))
            .await
            .expect("DNS checks ran")
    };

    // A second lab torn down while its syncs are pending.
    let other = build_nft(2, 1, &[]).await.expect("lab B builds");
    let other_id = other.id().to_string();
    let torn = other.teardown().await;
    let id = lab.id().to_string();
    lab.teardown().await.expect("teardown");
    assert_nothing_left(&id, &[]);
    torn.expect("teardown with kube-proxy syncs pending");
    assert_nothing_left(&other_id, &[]);

    assert!(
        first
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(ErrorKind::ConnectionRefused))),
        "right after deploy a Service is refused or (synced) answers: {first:?}"
    );
    assert!(
        first.contains(&Err(ErrorKind::ConnectionRefused)),
        "right after deploy no node refused the Service: {first:?}"
    );
    let early_table = early_table.expect("nft list table on node-1");
    let reject = format!(
        "{vip} . tcp . {port} comment \"{}/{}:tcp\" : goto reject-chain",
        p.k8s_namespace(),
        p.pod_name(0, 0)
    );
    assert!(
        first[0].is_ok() || early_table.contains(&reject),
        "node-1 refused, with kube-proxy's no-endpoint-services: {early_table}"
    );
    assert!(
        last.iter().all(|r| r.is_ok()),
        "every node answers once kube-proxy synced: {last:?}"
    );
    synced.expect("every sync done");
    let table = table.expect("nft list table on node-3");
    assert!(!table.contains(": goto reject-chain"), "{table}");
    assert!(
        table.contains(&format!(
            "dnat ip to numgen random mod 1 map {{ 0 : {} . {port} }}",
            p.pod_ip(0, 0)
        )),
        "{table}"
    );
    assert!(
        table.contains("dnat ip to numgen random mod 2 map"),
        "the DNS Service over its two replicas: {table}"
    );
    let save = save.expect("iptables-save on node-3");
    for chain in [
        "KUBE-SERVICES",
        "KUBE-SVC-",
        "KUBE-SEP-",
        "KUBE-PROXY-CANARY",
    ] {
        assert!(
            !save.contains(chain),
            "kube-proxy's {chain} in iptables: {save}"
        );
    }
    assert!(save.contains(":KUBE-FIREWALL") && save.contains(":FLANNEL-FWD"));
    for (i, j, r) in roundtrips {
        assert!(r.is_ok(), "pod ({i},{j}) → Service of pod (0,0): {r:?}");
    }
    dns.unwrap();
}

/// Queries through the DNS Service, each from a new socket, reach both
/// replicas (`numgen random mod 2`).
fn dns_through_the_service(p: &netcheck::lab::LabPlan) -> Result<(), String> {
    let count = |r: usize| snmp_counter(&p.dns_ns(r), "Udp:", "InDatagrams");
    let before = [count(0)?, count(1)?];
    let name = "kubernetes.default.svc.cluster.local";
    let queries = 40;
    for q in 0..queries {
        let ns = p.pod_ns(q % p.nodes, 0);
        let a = dns_a(&ns, "198.19.0.10", name);
        if a != Ok(vec!["198.19.0.1".parse().unwrap()]) {
            return Err(format!("query {q} from {ns} through the Service: {a:?}"));
        }
    }
    let got = [count(0)? - before[0], count(1)? - before[1]];
    // Binomial(40, 1/2): fewer than 5 on one side is a 1-in-10^6 event.
    if got[0] + got[1] < queries as u64 || got.iter().any(|&g| g < 5) {
        return Err(format!(
            "{queries} queries through the Service reached the replicas {got:?} times"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_proxy_down_deletes_the_nodes_table() {
    if !require_root() {
        return;
    }
    let fault = faults::all()
        .iter()
        .copied()
        .find(|f| f.name() == "kube-proxy-down")
        .expect("the fault exists");
    let lab = build_nft(2, 1, &[fault]).await.expect("lab builds");
    let p = lab.plan().clone();
    lab.wait_for_service_rules().await.expect("synced");
    let port = netcheck::model::topology::ServePorts::default().tcp;
    let listener = listen_tcp(&p.pod_ns(0, 0), p.pod_ip(0, 0), port);
    let vip = p.service_ip(0, 0);
    let tables: Vec<Result<String, String>> = (0..2)
        .map(|i| run_in(&p.node_ns(i), "nft", &["list", "tables"]))
        .collect();
    let healthy = tcp_roundtrip(&p.pod_ns(0, 0), vip, port);
    let broken = tcp_roundtrip(&p.pod_ns(1, 0), vip, port);
    let by_ip = tcp_roundtrip(&p.pod_ns(1, 0), p.pod_ip(0, 0), port);
    drop(listener);
    let id = lab.id().to_string();
    lab.teardown().await.expect("teardown");
    assert_nothing_left(&id, &[]);

    let tables: Vec<String> = tables.into_iter().map(|t| t.expect("nft")).collect();
    assert!(tables[0].contains("table ip kube-proxy"), "{}", tables[0]);
    assert!(!tables[1].contains("kube-proxy"), "{}", tables[1]);
    assert!(healthy.is_ok(), "node-1's Services work: {healthy:?}");
    assert!(broken.is_err(), "node-2 has no Service rules left");
    assert!(
        by_ip.is_ok(),
        "node-2's pods still reach pods by IP: {by_ip:?}"
    );
}
