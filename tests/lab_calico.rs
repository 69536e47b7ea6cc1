//! `lab --cni calico`: Calico's shape seen on the nodes and with packets
//! (root), and which faults apply to it. The healthy calico lab in both
//! kube-proxy modes and every fault that applies to it, named at its root
//! and breaking what it says, are in tests/lab_run.rs and tests/lab_faults.rs
//! with the other flavours.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::inspect::calico::workload_interface;
use netcheck::lab::faults::{self, Fault};
use netcheck::lab::flavours::{self, Flavour};
use netcheck::lab::testing::require_root;
use netcheck::lab::{LabConfig, LabPlan, LabRuntime};
use netcheck::runtime::{Quiet, Runtime};

fn calico() -> &'static dyn Flavour {
    flavours::find("calico").expect("the calico flavour")
}

/// A calico lab without agents, kube-proxy synced.
async fn build(faults: &[&'static dyn Fault]) -> Result<LabRuntime, String> {
    let mut cfg = LabConfig::new(3, 2, exe());
    cfg.agents = false;
    cfg.cni = calico();
    cfg.faults = faults.to_vec();
    let rt = LabRuntime::new(cfg).map_err(|e| e.to_string())?;
    let d = rt.discover(&Quiet).await.map_err(|e| e.to_string())?;
    let r = async {
        rt.deploy(d, &Quiet).await.map_err(|e| e.to_string())?;
        rt.wait_for_service_rules().await.map_err(|e| e.to_string())
    }
    .await;
    match r {
        Ok(()) => Ok(rt),
        Err(e) => {
            let _ = rt.teardown().await;
            Err(e)
        }
    }
}

fn sh(ns: &str, cmd: &str) -> String {
    run_in(ns, "sh", &["-c", cmd]).unwrap_or_else(|e| panic!("{cmd} in {ns}: {e}"))
}

/// What a Calico node and pod look like from inside, and that packets go
/// where Calico sends them.
fn shape_problems(p: &LabPlan) -> Vec<String> {
    let mut problems = Vec::new();
    let mut want = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let node = p.node_ns(0);
    let links = sh(&node, "ip -d link show");
    want(
        !links.contains("cni0"),
        format!("a bridge on a calico node: {links}"),
    );
    want(
        links.contains("vxlan.calico")
            && links.contains("id 4096")
            && links.contains("dstport 4789"),
        format!("no vxlan.calico 4096/4789: {links}"),
    );
    let cali = workload_interface(&p.k8s_namespace(), &p.pod_name(0, 0));
    want(links.contains(&cali), format!("no {cali}: {links}"));
    let proxy = sh(
        &node,
        &format!("cat /proc/sys/net/ipv4/conf/{cali}/proxy_arp"),
    );
    want(proxy.trim() == "1", format!("{cali} proxy_arp = {proxy}"));
    let addr = sh(&node, &format!("ip -o -4 addr show dev {cali}"));
    want(
        addr.trim().is_empty(),
        format!("{cali} has an address: {addr}"),
    );
    let routes = sh(&node, "ip route");
    want(
        routes.contains(&format!("{} dev {cali}", p.pod_ip(0, 0)))
            && routes.contains(&format!(
                "{} via {} dev vxlan.calico",
                p.pod_cidr(1),
                p.overlay_ip(1)
            )),
        format!("routes: {routes}"),
    );
    let pod_routes = sh(&p.pod_ns(0, 0), "ip route");
    want(
        pod_routes.contains("default via 169.254.1.1 dev eth0"),
        format!("pod routes: {pod_routes}"),
    );
    let rules = sh(&node, "iptables-save");
    want(
        rules.contains("-A FORWARD -m comment --comment \"cali:")
            && rules.contains("-A cali-FORWARD -i cali+"),
        "no cali-FORWARD".into(),
    );
    want(
        ping(&p.pod_ns(0, 0), p.pod_ip(0, 1), 56),
        "same node".into(),
    );
    want(
        ping(&p.pod_ns(0, 0), p.pod_ip(2, 1), 56),
        "cross node".into(),
    );
    want(
        ping_df(&p.pod_ns(0, 0), p.pod_ip(1, 0), 1450 - 28),
        "1450 across".into(),
    );
    want(
        ping(&p.pod_ns(2, 0), p.node_ip(2), 56),
        "pod to its own node".into(),
    );
    let neigh = sh(&p.pod_ns(0, 0), "ip neigh show 169.254.1.1");
    want(
        neigh.contains("ee:ee:ee:ee:ee:ee"),
        format!("the gateway is answered by proxy ARP with Calico's MAC: {neigh}"),
    );
    problems
}

#[tokio::test(flavor = "multi_thread")]
async fn a_calico_node_looks_like_one_and_routes_pods() {
    if !require_root() {
        return;
    }
    let rt = build(&[]).await.expect("build");
    let problems = shape_problems(rt.plan());
    let id = rt.id().to_string();
    rt.teardown().await.expect("teardown");
    assert_nothing_left(&id, &[]);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The faults that must apply to Calico do, and the bridge ones do not
/// (their packets and verdicts per flavour: tests/lab_faults.rs, lab_run.rs).
#[test]
fn calico_has_its_faults_and_not_the_bridge_ones() {
    let applies = |n: &str| faults::find(n).is_some_and(|f| f.applies_to(calico()));
    for n in [
        "proxy-arp-off",
        "vxlan-port-mismatch",
        "ip-forward-off",
        "route-missing",
        "cross-node-drop",
        "node-isolated",
    ] {
        assert!(applies(n), "{n} applies to calico");
    }
    for n in [
        "hairpin-off",
        "bridge-nf-off",
        "forward-drop",
        "cni-conflict",
    ] {
        assert!(!applies(n), "{n} does not apply to calico");
    }
    let flannel = flavours::default();
    for n in ["proxy-arp-off", "vxlan-port-mismatch"] {
        assert!(
            !faults::find(n).is_some_and(|f| f.applies_to(flannel)),
            "{n} is calico's"
        );
    }
}
