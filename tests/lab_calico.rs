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
use netcheck::lab::plan::IpFamily;
use netcheck::lab::testing::require_root;
use netcheck::lab::{LabConfig, LabPlan, LabRuntime};
use netcheck::runtime::{Quiet, Runtime};

fn calico() -> &'static dyn Flavour {
    flavours::find("calico").expect("the calico flavour")
}

/// A calico lab without agents, kube-proxy synced.
async fn build(faults: &[&'static dyn Fault]) -> Result<LabRuntime, String> {
    build_in(faults, IpFamily::Ipv4).await
}

/// [`build`] with these IP families.
async fn build_in(faults: &[&'static dyn Fault], family: IpFamily) -> Result<LabRuntime, String> {
    let mut cfg = LabConfig::new(3, 2, exe());
    cfg.agents = false;
    cfg.cni = calico();
    cfg.faults = faults.to_vec();
    cfg.ip_family = family;
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
    // The pods' MTU (1450; 1430 with vxlan-v6.calico) crosses.
    let mtu = netcheck::lab::flavours::calico::pod_mtu(p);
    want(
        ping_df(&p.pod_ns(0, 0), p.pod_ip(1, 0), mtu - 28),
        format!("{mtu} across"),
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

/// One IPv6 echo from `ns` (a few tries, 1 s each); `df`: the payload must
/// cross unfragmented (IPv6 never fragments on the way: `-M do`).
fn ping6(ns: &str, ip: std::net::Ipv6Addr, payload: u16) -> bool {
    let size = payload.to_string();
    let ip = ip.to_string();
    run_in(
        ns,
        "ping",
        &[
            "-6", "-n", "-c", "3", "-i", "0.2", "-W", "1", "-M", "do", "-s", &size, &ip,
        ],
    )
    .is_ok()
}

/// A dual-stack Calico node and pod as Calico makes them: the pod's IPv6
/// default route via the `cali` end's link-local address (which the host
/// end has, learned by neighbour discovery), a /128 host route per pod,
/// `vxlan-v6.calico` over the IPv6 underlay at 1430, and packets of the
/// pods' MTU (1430) crossing it.
fn dual_stack_shape_problems(p: &LabPlan) -> Vec<String> {
    let mut problems = Vec::new();
    let mut want = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let node = p.node_ns(0);
    let v6 = sh(&node, "ip -d link show vxlan-v6.calico");
    want(
        v6.contains("mtu 1430")
            && v6.contains("id 4096")
            && v6.contains(&format!("local {}", p.node_ip6(0)))
            && v6.contains("dstport 4789"),
        format!("vxlan-v6.calico: {v6}"),
    );
    let cali = workload_interface(&p.k8s_namespace(), &p.pod_name(0, 0));
    let ll = sh(&node, &format!("ip -o -6 addr show dev {cali}"));
    want(
        ll.contains("fe80::ecee:eeff:feee:eeee/64") && !ll.contains("tentative"),
        format!("{cali}'s link-local address: {ll}"),
    );
    let routes = sh(&node, "ip -6 route");
    want(
        routes.contains(&format!("{} dev {cali}", p.pod_ip6(0, 0)))
            && routes.contains(&format!(
                "{} via {} dev vxlan-v6.calico",
                p.pod_cidr6(1),
                netcheck::lab::flavours::calico::vtep_ip6(p, 1)
            )),
        format!("IPv6 routes: {routes}"),
    );
    let pod = p.pod_ns(0, 0);
    let pod_routes = sh(&pod, "ip -6 route");
    want(
        pod_routes.contains("default via fe80::ecee:eeff:feee:eeee dev eth0"),
        format!("pod IPv6 routes: {pod_routes}"),
    );
    let mtu = sh(&pod, "cat /sys/class/net/eth0/mtu");
    want(mtu.trim() == "1430", format!("pod MTU {mtu}"));
    want(ping6(&pod, p.pod_ip6(0, 1), 56), "IPv6 same node".into());
    want(ping6(&pod, p.pod_ip6(2, 1), 56), "IPv6 cross node".into());
    want(
        ping6(&pod, p.pod_ip6(1, 0), 1430 - 48),
        "1430 across over IPv6".into(),
    );
    want(ping(&pod, p.pod_ip(1, 0), 56), "IPv4 still crosses".into());
    let neigh = sh(&pod, "ip -6 neigh show fe80::ecee:eeff:feee:eeee");
    want(
        neigh.contains("ee:ee:ee:ee:ee:ee") && !neigh.contains("PERMANENT"),
        format!("the IPv6 gateway is learned by neighbour discovery: {neigh}"),
    );
    problems
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dual_stack_calico_node_looks_like_one_and_routes_pods() {
    if !require_root() {
        return;
    }
    let rt = build_in(&[], IpFamily::Dual).await.expect("build");
    let mut problems = shape_problems(rt.plan());
    problems.extend(dual_stack_shape_problems(rt.plan()));
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
