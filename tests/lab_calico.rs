//! `lab --cni calico`: Calico's shape seen on the nodes and with packets, a
//! healthy lab passing in both kube-proxy modes, and every fault that
//! applies to Calico named at its root (root).

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::inspect::calico::workload_interface;
use netcheck::lab::faults::{self, Fault};
use netcheck::lab::flavours::{self, Flavour};
use netcheck::lab::testing::require_root;
use netcheck::lab::{KubeProxyMode, LabConfig, LabPlan, LabRuntime};
use netcheck::model::Severity;
use netcheck::runtime::{Quiet, Runtime};
use serde_json::Value;
use std::process::{Command, Output};

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

/// Each calico fault breaks what it says and only that.
#[tokio::test(flavor = "multi_thread")]
async fn calico_faults_break_what_they_say() {
    if !require_root() {
        return;
    }
    let mut problems = Vec::new();
    for name in ["proxy-arp-off", "vxlan-port-mismatch"] {
        let f = faults::find(name).expect(name);
        let rt = build(&[f]).await.expect("build");
        let p = rt.plan().clone();
        let mut want = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("{name}: {what}"));
            }
        };
        want(
            no_ping(&p.pod_ns(2, 0), p.pod_ip(0, 0), 56),
            "node-3's pod → node-1 must fail",
        );
        want(
            no_ping(&p.pod_ns(0, 0), p.pod_ip(2, 1), 56),
            "node-1 → node-3's pod must fail",
        );
        want(
            ping(&p.pod_ns(0, 0), p.pod_ip(1, 0), 56),
            "node-1 ↔ node-2 must work",
        );
        want(
            ping(&p.node_ns(2), p.node_ip(0), 56),
            "the underlay must work",
        );
        match name {
            "proxy-arp-off" => {
                want(
                    no_ping(&p.pod_ns(2, 0), p.node_ip(2), 56),
                    "the pod loses even its own node",
                );
                want(
                    no_ping(&p.pod_ns(2, 0), p.pod_ip(2, 1), 56),
                    "and its neighbour pod",
                );
            }
            _ => {
                want(
                    ping(&p.pod_ns(2, 0), p.pod_ip(2, 1), 56),
                    "same node must work",
                );
                let l = sh(&p.node_ns(2), "ip -d link show vxlan.calico");
                want(l.contains("dstport 4790"), "node-3's device on 4790");
            }
        }
        let id = rt.id().to_string();
        rt.teardown().await.expect("teardown");
        assert_nothing_left(&id, &[]);
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .args(["lab", "--cni", "calico", "--nodes", "3", "-o", "json", "-v"])
        .args(args)
        .output()
        .expect("run kubectl-netcheck")
}

fn lab_id(stderr: &str) -> Option<String> {
    let at = stderr.find("building lab ")? + "building lab ".len();
    stderr.get(at..at + 5).map(str::to_string)
}

fn report(out: &Output) -> Result<Value, String> {
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn findings<'a>(r: &'a Value, severity: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["severity"] == severity).collect())
        .unwrap_or_default()
}

#[test]
fn healthy_calico_lab_passes_with_either_kube_proxy_mode() {
    if !require_root() {
        return;
    }
    for mode in [KubeProxyMode::Iptables, KubeProxyMode::Nftables] {
        let out = lab(&["--kube-proxy", mode.name()]);
        let r = report(&out).unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", mode.name());
        let above_info: Vec<&Value> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] != "info")
            .collect();
        assert!(above_info.is_empty(), "{}: {above_info:#?}", mode.name());
        let cni = r["cluster"]["cni"].as_str().unwrap_or_default();
        assert!(cni.contains("calico"), "cluster.cni = {cni}");
        assert_eq!(r["cluster"]["kubeProxyMode"], mode.name());
        let why = r["cluster"]["fromNodes"]["cni"]
            .as_str()
            .unwrap_or_default();
        assert!(
            why.contains("10-calico.conflist") && why.contains("vxlan.calico"),
            "{why}"
        );
        for c in r["checks"].as_array().unwrap() {
            assert_eq!(c["status"], "pass", "{c}");
            if c["kind"] == "mtu" {
                assert_eq!(c["pathMtu"], 1450, "{c}");
            }
        }
        let id = lab_id(&stderr).expect("lab id");
        assert_nothing_left(&id, &[]);
    }
}

/// What the calico faults' findings must quote.
fn quotes(fault: &str) -> &'static [&'static str] {
    match fault {
        "proxy-arp-off" => &["/proxy_arp = 0 (pod netcheck-", "169.254.1.1"],
        "vxlan-port-mismatch" => &[
            "node-3: overlay vxlan vxlan.calico (VNI 4096, udp/4790",
            "node-1, node-2: overlay vxlan.calico on udp/4789",
        ],
        "ip-forward-off" => &["/proc/sys/net/ipv4/ip_forward = 0"],
        _ => &[],
    }
}

/// Faults whose finding claims every failed cell of the run.
const CLAIMS_ALL: [&str; 3] = ["proxy-arp-off", "vxlan-port-mismatch", "ip-forward-off"];

#[test]
fn each_fault_that_applies_to_calico_is_named_at_its_root() {
    if !require_root() {
        return;
    }
    let mut problems = Vec::new();
    let applying: Vec<&'static dyn Fault> = faults::all()
        .iter()
        .copied()
        .filter(|f| f.applies_to(calico()) && f.min_nodes() <= 3)
        .collect();
    for ours in [
        "proxy-arp-off",
        "vxlan-port-mismatch",
        "ip-forward-off",
        "route-missing",
    ] {
        if faults::find(ours).is_some() {
            assert!(
                applying.iter().any(|f| f.name() == ours),
                "{ours} applies to calico"
            );
        }
    }
    for f in applying {
        let out = lab(&["--fault", f.name()]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let r = match report(&out) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: {e}", f.name()));
                continue;
            }
        };
        let want = f.expected().as_str();
        let errors: Vec<&str> = findings(&r, "error")
            .iter()
            .filter_map(|x| x["id"].as_str())
            .collect();
        let (want_errors, want_exit) = match f.severity() {
            Severity::Error => (vec![want], 1),
            _ => (Vec::new(), 0),
        };
        if errors != want_errors || out.status.code() != Some(want_exit) {
            problems.push(format!(
                "{}: exit {:?} with errors {errors:?}, want {want_exit} with {want_errors:?}",
                f.name(),
                out.status.code()
            ));
        }
        let finding = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == want)
            .cloned()
            .unwrap_or(Value::Null);
        let evidence: Vec<&str> = finding["evidence"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for q in quotes(f.name()) {
            if !evidence.iter().any(|e| e.contains(q)) {
                problems.push(format!("{}: evidence lacks {q:?}: {evidence:#?}", f.name()));
            }
        }
        if CLAIMS_ALL.contains(&f.name()) {
            if finding["nodes"] != serde_json::json!(["node-3"]) {
                problems.push(format!("{}: nodes {}", f.name(), finding["nodes"]));
            }
            let failed = r["summary"]["failed"].as_u64().unwrap_or(0);
            let claimed = evidence.iter().find_map(|e| {
                e.split_once(" failed check(s) pass through node-3")
                    .and_then(|(n, _)| n.trim().parse::<u64>().ok())
            });
            if failed == 0 || claimed != Some(failed) {
                problems.push(format!(
                    "{}: {failed} failed checks, the finding claims {claimed:?}",
                    f.name()
                ));
            }
        }
        if let Some(id) = lab_id(&stderr) {
            assert_nothing_left(&id, &[]);
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
