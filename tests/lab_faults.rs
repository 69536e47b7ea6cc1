//! Every lab fault breaks what it says, and only that, seen with real
//! packets (root). One small lab per fault, all built at once. The full
//! pipeline's verdict on each fault (the finding it must produce) is in
//! tests/lab_run.rs.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::LabPlan;
use netcheck::lab::faults;
use netcheck::lab::testing::require_root;
use netcheck::runtime::Runtime;

/// What the fault must change, checked on a 3-node, 2-pods-per-node lab.
fn check(name: &str, p: &LabPlan) -> Result<(), String> {
    let last = p.nodes - 1;
    let want = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    match name {
        "cross-node-drop" => {
            want(
                no_ping(&p.pod_ns(0, 0), p.pod_ip(1, 0), 56),
                "node-1 → node-2 pods must fail",
            )?;
            want(
                no_ping(&p.pod_ns(1, 1), p.pod_ip(0, 1), 56),
                "node-2 → node-1 pods must fail",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(2, 0), 56),
                "node-1 → node-3 must work",
            )?;
            want(
                ping(&p.pod_ns(1, 0), p.pod_ip(2, 1), 56),
                "node-2 → node-3 must work",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(0, 1), 56),
                "same node must work",
            )?;
            want(
                ping(&p.node_ns(0), p.node_ip(1), 56),
                "the underlay must still work",
            )
        }
        "node-isolated" => {
            for other in 0..last {
                want(
                    no_ping(&p.pod_ns(last, 0), p.pod_ip(other, 0), 56),
                    "isolated → others must fail",
                )?;
                want(
                    no_ping(&p.pod_ns(other, 0), p.pod_ip(last, 1), 56),
                    "others → isolated must fail",
                )?;
            }
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(1, 0), 56),
                "the other nodes must still talk",
            )?;
            want(
                ping(&p.pod_ns(last, 0), p.pod_ip(last, 1), 56),
                "same node on the isolated node",
            )?;
            want(
                ping(&p.node_ns(last), p.node_ip(0), 56),
                "the isolated node's underlay is up",
            )
        }
        "underlay-mtu" => {
            // Path MTU to the last node: 1400 - 50 (VXLAN) = 1350 = 1322 + 28.
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(last, 0), 56),
                "small packets pass",
            )?;
            want(
                ping_df(&p.pod_ns(0, 0), p.pod_ip(last, 0), 1322),
                "1350 bytes pass",
            )?;
            want(
                no_ping_df(&p.pod_ns(0, 0), p.pod_ip(last, 0), 1400),
                "1428 bytes vanish",
            )?;
            want(
                no_ping_df(&p.pod_ns(last, 0), p.pod_ip(0, 0), 1400),
                "and the other way",
            )?;
            want(
                ping_df(&p.pod_ns(0, 0), p.pod_ip(1, 0), 1422),
                "other nodes keep 1450",
            )
        }
        "kube-proxy-down" => {
            let _l = listen_tcp(&p.pod_ns(0, 0), p.pod_ip(0, 0), 7000);
            let vip = p.service_ip(0, 0);
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), vip, 7000).is_err(),
                "VIP from the last node must fail",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(1, 0), vip, 7000).is_ok(),
                "VIP from node-2 must work",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), p.pod_ip(0, 0), 7000).is_ok(),
                "pod IP from the last node works",
            )
        }
        "dns-down" => {
            let name = "kubernetes.default.svc.cluster.local";
            want(
                dns_a(&p.pod_ns(0, 0), "198.19.0.10", name) == Err(-1),
                "no answer via the Service",
            )?;
            want(
                dns_a(&p.pod_ns(1, 0), "198.18.0.53", name) == Err(-1),
                "no answer from the pod",
            )?;
            want(
                ping(&p.pod_ns(1, 0), "198.18.0.53".parse().unwrap(), 56),
                "the DNS pod's network is up",
            )
        }
        other => Err(format!(
            "no topology check for fault '{other}': add one to tests/lab_faults.rs"
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_breaks_what_it_says() {
    if !require_root() {
        return;
    }
    // Network faults only: host faults (files, sysctls, rules) are checked
    // by their own tests where they change no packet path.
    let runs = faults::all().iter().map(|f| async move {
        let lab = build(3, 2, &[*f])
            .await
            .map_err(|e| format!("{}: build: {e}", f.name()))?;
        let pids: Vec<u32> = lab.pids().await.values().copied().collect();
        let plan = lab.plan().clone();
        let name = f.name();
        // The checks block (ping, sockets): on their own threads, all at once.
        let r = tokio::task::spawn_blocking(move || check(name, &plan))
            .await
            .map_err(|e| format!("{name}: check panicked: {e}"))
            .and_then(|r| r.map_err(|e| format!("{name}: {e}")));
        let id = lab.id().to_string();
        lab.teardown()
            .await
            .map_err(|e| format!("{}: teardown: {e}", f.name()))?;
        assert_nothing_left(&id, &pids);
        r
    });
    let results = futures::future::join_all(runs).await;
    let failures: Vec<String> = results.into_iter().filter_map(|r| r.err()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
