//! `kubectl-netcheck lab --kube-proxy nftables` end to end (root): a healthy
//! lab passes with no finding above info and the report names the mode the
//! nodes show (`cluster.kubeProxyMode`), NodePorts included; `kube-proxy-down`
//! and `nodeport-down` are named at their root as in iptables mode
//! (tests/lab_run.rs).

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::testing::require_root;
use serde_json::Value;
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .args(["lab", "--kube-proxy", "nftables", "-o", "json", "-v"])
        .args(args)
        .output()
        .expect("run kubectl-netcheck")
}

fn findings_above_info(r: &Value) -> Vec<(String, String)> {
    r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            (
                f["id"].as_str().unwrap_or("?").to_string(),
                f["severity"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn lab_id(stderr: &str) -> Option<String> {
    let at = stderr.find("building lab ")? + "building lab ".len();
    stderr.get(at..at + 5).map(str::to_string)
}

#[test]
fn healthy_nftables_lab_passes_and_names_the_mode() {
    if !require_root() {
        return;
    }
    let out = lab(&["--nodes", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r = json(&out);
    let failed: Vec<&Value> = r["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(failed.is_empty(), "checks not passing: {failed:#?}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(findings_above_info(&r).is_empty(), "{:#?}", r["findings"]);
    assert_eq!(
        r["cluster"]["kubeProxyMode"], "nftables",
        "{}",
        r["cluster"]
    );
    assert!(
        r["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c["kind"] == "pod-to-service"),
        "Services were checked"
    );
    // Every pod and host agent dialled every node's NodePort, through
    // kube-proxy's service-nodeports map.
    let nodeport = r["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["kind"] == "nodeport")
        .count();
    assert_eq!(nodeport, (6 + 3) * 3, "NodePorts were checked");
    let id = lab_id(&stderr).unwrap_or_else(|| panic!("no lab id: {stderr}"));
    assert_nothing_left(&id, &[]);
}

#[test]
fn kube_proxy_down_is_named_at_its_root_in_nftables_mode() {
    if !require_root() {
        return;
    }
    let out = lab(&["--nodes", "3", "--fault", "kube-proxy-down"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r = json(&out);
    let errors: Vec<String> = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["id"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // As in iptables mode: exactly one error finding, the root. The table
    // is gone, so the node shows no kube-proxy rules at all.
    assert!(
        errors == ["kube-proxy-rules-missing"] || errors == ["service-vip-unreachable"],
        "error findings {errors:?}: {:#?}",
        r["findings"]
    );
    let root = &r["findings"][0];
    assert_eq!(root["id"], errors[0].as_str(), "{root}");
    assert!(
        root.to_string().contains("node-3"),
        "the root names the broken node: {root}"
    );
    assert_eq!(
        r["cluster"]["kubeProxyMode"], "nftables",
        "{}",
        r["cluster"]
    );
    let id = lab_id(&stderr).unwrap_or_else(|| panic!("no lab id: {stderr}"));
    assert_nothing_left(&id, &[]);
}

#[test]
fn nodeport_down_is_named_at_its_root_in_nftables_mode() {
    if !require_root() {
        return;
    }
    let out = lab(&["--nodes", "3", "--fault", "nodeport-down"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r = json(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        findings_above_info(&r),
        [("nodeport-unreachable".to_string(), "error".to_string())],
        "{:#?}",
        r["findings"]
    );
    assert_eq!(r["findings"][0]["nodes"], serde_json::json!(["node-3"]));
    // The evidence is the node's own table: its NodePort map emptied while
    // the other nodes' hold their Services' nodePorts, or (when they were
    // read before their kube-proxy synced) while its own service-ips holds
    // the Services.
    let evidence = r["findings"][0]["evidence"].to_string();
    assert!(
        evidence.contains("node-3: nft ip kube-proxy service-nodeports is empty"),
        "{evidence}"
    );
    // Only node-3's NodePorts failed; its ClusterIPs, and every other
    // node's NodePorts, answered.
    let failed: Vec<&Value> = r["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|c| c["kind"] == "nodeport" && c["target"]["node"] == "node-3"),
        "{failed:#?}"
    );
    let id = lab_id(&stderr).unwrap_or_else(|| panic!("no lab id: {stderr}"));
    assert_nothing_left(&id, &[]);
}
