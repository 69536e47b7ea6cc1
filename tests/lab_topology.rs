//! The lab's network, tested with real packets (root): a healthy lab carries
//! pod traffic on a node and across nodes at the overlay MTU, Services DNAT
//! to their pod (hairpin included), DNS answers through its Service IP; two
//! labs run at once; teardown leaves nothing behind.
//!
//! These tests build the network without agents and probe it with ping and
//! sockets opened inside the namespaces; tests/lab_run.rs runs the full
//! `kubectl-netcheck lab`.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::testing::require_root;
use netcheck::lab::{LabConfig, LabRuntime};
use netcheck::runtime::{Quiet, Runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_labs_carry_traffic_and_leave_nothing_behind() {
    if !require_root() {
        return;
    }
    // Two labs at once: they must not collide.
    let (a, b) = tokio::join!(build(3, 2, &[]), build(2, 1, &[]));
    let (a, b) = (a.expect("lab A builds"), b.expect("lab B builds"));
    let pa = a.plan().clone();
    let pb = b.plan().clone();
    assert_ne!(pa.id, pb.id);

    // Same node, cross node, both directions, node to pod.
    assert!(
        ping(&pa.pod_ns(0, 0), pa.pod_ip(0, 1), 56),
        "same-node ping"
    );
    assert!(
        ping(&pa.pod_ns(0, 0), pa.pod_ip(1, 0), 56),
        "cross-node ping 1→2"
    );
    assert!(
        ping(&pa.pod_ns(2, 1), pa.pod_ip(0, 0), 56),
        "cross-node ping 3→1"
    );
    assert!(
        ping(&pa.node_ns(1), pa.pod_ip(2, 0), 56),
        "node-2 → pod on node-3"
    );
    assert!(
        ping(&pa.pod_ns(1, 0), pa.node_ip(2), 56),
        "pod → other node's IP"
    );
    // The overlay carries its full MTU (1450 = 1422 payload + 28), not more.
    assert!(
        ping_df(&pa.pod_ns(0, 0), pa.pod_ip(2, 0), 1422),
        "1450-byte DF ping"
    );
    assert!(
        !ping_df(&pa.pod_ns(0, 0), pa.pod_ip(2, 0), 1423),
        "above the pod MTU"
    );

    // Services: a listener in the pod answers through the ClusterIP, from
    // another node, the same node and the pod itself (hairpin).
    let target = (1, 0);
    let listener = listen_tcp(
        &pa.pod_ns(target.0, target.1),
        pa.pod_ip(target.0, target.1),
        7000,
    );
    let vip = pa.service_ip(target.0, target.1);
    for (i, j) in [(0, 0), (1, 1), (1, 0)] {
        let peer = tcp_roundtrip(&pa.pod_ns(i, j), vip, 7000);
        assert!(
            peer.is_ok(),
            "pod ({i},{j}) → Service of ({target:?}): {peer:?}"
        );
    }
    drop(listener);

    // DNS through the Service IP and straight to the pod, search path names too.
    let ns = pa.k8s_namespace();
    let fqdn = format!("probe-2a.{ns}.svc.cluster.local");
    for from in [pa.pod_ns(0, 0), pa.pod_ns(2, 1)] {
        assert_eq!(
            dns_a(&from, "198.19.0.10", &fqdn),
            Ok(vec![pa.service_ip(1, 0)]),
            "{fqdn} via the DNS Service from {from}"
        );
        assert_eq!(
            dns_a(&from, "198.18.0.53", "kubernetes.default.svc.cluster.local"),
            Ok(vec!["198.19.0.1".parse().unwrap()])
        );
        assert_eq!(
            dns_a(&from, "198.19.0.10", "nothing.here.svc.cluster.local"),
            Err(3),
            "unknown cluster names are NXDOMAIN (search paths fall through)"
        );
    }
    let resolv = std::fs::read_to_string(format!("/etc/netns/{}/resolv.conf", pa.pod_ns(0, 0)))
        .expect("pod resolv.conf");
    assert!(resolv.contains("nameserver 198.19.0.10"));
    assert!(resolv.contains(&format!(
        "search {ns}.svc.cluster.local svc.cluster.local cluster.local"
    )));
    assert!(resolv.contains("options ndots:5"));

    // Lab B works too, on its own.
    assert!(ping(&pb.pod_ns(0, 0), pb.pod_ip(1, 0), 56));

    // Node files for host inspection.
    let root = pa.node_root(0);
    assert!(root.join("etc/cni/net.d/10-flannel.conflist").is_file());
    assert!(root.join("opt/cni/bin/bridge").is_file());

    let pids: Vec<u32> = a
        .pids()
        .await
        .values()
        .chain(b.pids().await.values())
        .copied()
        .collect();
    assert!(!pids.is_empty(), "dnsmasq is tracked");
    a.teardown().await.expect("teardown A");
    b.teardown().await.expect("teardown B");
    a.teardown().await.expect("teardown is idempotent");
    assert_nothing_left(&pa.id, &pids);
    assert_nothing_left(&pb.id, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_cleans_up_after_itself() {
    if !require_root() {
        return;
    }
    // The agent binary does not exist: the build fails at "starting agents".
    let mut cfg = LabConfig::new(2, 1, "/nonexistent/kubectl-netcheck".into());
    cfg.agents = true;
    let rt = LabRuntime::new(cfg).expect("root and tools");
    let id = rt.id().to_string();
    let d = rt.discover(&Quiet).await.unwrap();
    let err = rt.deploy(d, &Quiet).await.expect_err("no agent binary");
    assert!(err.to_string().contains("agent"), "{err}");
    rt.teardown().await.expect("teardown after a failed build");
    assert_nothing_left(&id, &[]);
}

/// Build and teardown time of the network alone (no agents), for the sizes
/// of issue 7. `cargo test --test lab_topology -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run on demand"]
async fn build_time_by_size() {
    if !require_root() {
        return;
    }
    for nodes in [3, 10, 30, 60] {
        let t = std::time::Instant::now();
        let lab = build(nodes, 2, &[]).await.expect("build");
        let built = t.elapsed();
        let p = lab.plan().clone();
        assert!(ping(&p.pod_ns(0, 0), p.pod_ip(nodes - 1, 1), 56));
        let t = std::time::Instant::now();
        lab.teardown().await.expect("teardown");
        println!(
            "{nodes:>3} nodes x 2 pods: build {:>6} ms, teardown {:>6} ms",
            built.as_millis(),
            t.elapsed().as_millis()
        );
    }
}
