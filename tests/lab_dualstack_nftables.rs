//! `lab --kube-proxy nftables --ip-family dual` end to end (root): each node
//! carries `table ip kube-proxy` and `table ip6 kube-proxy` and nothing of
//! kube-proxy in ip(6)tables; a healthy 3-node lab passes every check in both
//! families (IPv6 Services, NodePorts and DNS through the IPv6 table) with no
//! finding above info and the mode named from the nodes; `kube-proxy-down`
//! (both tables deleted) and `nodeport-down` (both `service-nodeports` maps
//! flushed) are named at their root for both families; `ipv6-forward-off`
//! is named at its root for IPv6 in this mode too.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::testing::require_root;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .args([
            "lab",
            "--kube-proxy",
            "nftables",
            "--ip-family",
            "dual",
            "--nodes",
            "3",
            "-o",
            "json",
            "-v",
        ])
        .args(args)
        .output()
        .expect("run kubectl-netcheck")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn checks(r: &Value) -> &Vec<Value> {
    r["checks"].as_array().expect("checks")
}

fn findings_above_info(r: &Value) -> Vec<&Value> {
    r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect()
}

/// (kind, family) of every check with `status`.
fn kinds(r: &Value, status: &str) -> BTreeSet<(String, String)> {
    checks(r)
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or("").to_string(),
                c["family"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The families (`ip`, `ip6`) of the `kube-proxy` nftables tables on `node`.
fn kube_proxy_tables(r: &Value, node: &str) -> BTreeSet<String> {
    let host = r["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["node"] == node)
        .unwrap_or_else(|| panic!("no host report for {node}"));
    host["firewall"]["nftables"]["tables"]
        .as_array()
        .expect("nftables read")
        .iter()
        .filter(|t| t["name"] == "kube-proxy")
        .filter_map(|t| t["family"].as_str().map(str::to_string))
        .collect()
}

/// Every chain name in one host's ip6tables (nft backend).
fn ip6tables_chains(h: &Value) -> Vec<String> {
    h["firewall"]["ip6tables"]
        .as_array()
        .expect("ip6tables read")
        .iter()
        .filter(|b| b["backend"] == "nft")
        .flat_map(|b| b["tables"].as_array().cloned().unwrap_or_default())
        .flat_map(|t| t["chains"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn lab_id(stderr: &str) -> Option<String> {
    let at = stderr.find("building lab ")? + "building lab ".len();
    stderr.get(at..at + 5).map(str::to_string)
}

fn nothing_left(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let id = lab_id(&stderr).unwrap_or_else(|| panic!("no lab id: {stderr}"));
    assert_nothing_left(&id, &[]);
}

/// The one error finding, which must be `id` on node-3 for both families
/// (its title names neither alone), with failed checks of both families.
fn named_for_both_families<'a>(out: &Output, r: &'a Value, id: &str) -> &'a Value {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Vec<&Value> = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let f = errors[0];
    assert_eq!(f["id"], id, "{f:#}");
    assert_eq!(f["nodes"], serde_json::json!(["node-3"]), "{f:#}");
    let title = f["title"].as_str().unwrap_or("");
    assert!(!title.contains("only"), "both families: {title}");
    let failed: BTreeSet<String> = kinds(r, "fail").into_iter().map(|(_, fam)| fam).collect();
    assert_eq!(
        failed,
        BTreeSet::from(["ipv4".to_string(), "ipv6".to_string()])
    );
    f
}

#[test]
fn a_healthy_dual_stack_nftables_lab_passes_in_both_families() {
    if !require_root() {
        return;
    }
    let out = lab(&[]);
    let r = json(&out);
    let bad: Vec<&Value> = checks(&r)
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(findings_above_info(&r).is_empty(), "{:#}", r["findings"]);
    assert_eq!(
        r["cluster"]["kubeProxyMode"], "nftables",
        "{}",
        r["cluster"]
    );
    let pass = kinds(&r, "pass");
    for k in ["pod-to-pod", "pod-to-service", "nodeport", "dns"] {
        for fam in ["ipv4", "ipv6"] {
            assert!(
                pass.contains(&(k.to_string(), fam.to_string())),
                "no passing {fam} {k} check"
            );
        }
    }
    // Every node's IPv6 NodePort answered, from every pod and node: through
    // each node's table ip6 kube-proxy.
    let nodeport6 = checks(&r)
        .iter()
        .filter(|c| c["kind"] == "nodeport" && c["family"] == "ipv6")
        .count();
    assert_eq!(nodeport6, (6 + 3) * 3, "IPv6 NodePorts were checked");
    for n in ["node-1", "node-2", "node-3"] {
        assert_eq!(
            kube_proxy_tables(&r, n),
            BTreeSet::from(["ip".to_string(), "ip6".to_string()]),
            "{n}"
        );
    }
    // kube-proxy writes nothing in ip6tables in this mode: kubelet's chains only.
    for h in r["hosts"].as_array().expect("hosts") {
        let chains = ip6tables_chains(h);
        assert!(
            chains.iter().any(|c| c == "KUBE-KUBELET-CANARY"),
            "{chains:?}"
        );
        assert!(
            !chains
                .iter()
                .any(|c| c == "KUBE-SERVICES" || c == "KUBE-NODEPORTS"),
            "{chains:?}"
        );
    }
    nothing_left(&out);
}

#[test]
fn kube_proxy_down_on_dual_stack_nftables_is_named_at_its_root_for_both_families() {
    if !require_root() {
        return;
    }
    let out = lab(&["--fault", "kube-proxy-down"]);
    let r = json(&out);
    let f = named_for_both_families(&out, &r, "kube-proxy-rules-missing");
    // Both tables are gone from node-3, and only there.
    assert_eq!(kube_proxy_tables(&r, "node-3"), BTreeSet::new());
    assert_eq!(kube_proxy_tables(&r, "node-1").len(), 2);
    let ev = f["evidence"].to_string();
    for line in [
        "node-3: no KUBE-SERVICES chain in any iptables backend and no `kube-proxy` nftables table",
        "node-3: no KUBE-SERVICES chain in any ip6tables backend and no `ip6 kube-proxy` nftables table",
        "kube-proxy mode: nftables",
    ] {
        assert!(ev.contains(line), "{line}: {f:#}");
    }
    assert!(
        f["remediation"]
            .as_str()
            .is_some_and(|s| s.contains("table ip6 kube-proxy")),
        "{f:#}"
    );
    // Its pods' Services fail in both families, and only from node-3 (the
    // NodePorts are node-3's own).
    for c in checks(&r).iter().filter(|c| c["status"] == "fail") {
        let through_3 = c["source"]["node"] == "node-3"
            || (c["kind"] == "nodeport" && c["target"]["node"] == "node-3");
        assert!(through_3, "{c}");
    }
    nothing_left(&out);
}

#[test]
fn nodeport_down_on_dual_stack_nftables_is_named_at_its_root_for_both_families() {
    if !require_root() {
        return;
    }
    let out = lab(&["--fault", "nodeport-down"]);
    let r = json(&out);
    named_for_both_families(&out, &r, "nodeport-unreachable");
    assert_eq!(findings_above_info(&r).len(), 1, "{:#}", r["findings"]);
    // Only node-3's NodePorts failed; its ClusterIPs, in both families, and
    // every other node's NodePorts answered.
    let failed: Vec<&Value> = checks(&r)
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(
        failed
            .iter()
            .all(|c| c["kind"] == "nodeport" && c["target"]["node"] == "node-3"),
        "{failed:#?}"
    );
    // The tables stay: kube-proxy runs, its NodePort map is empty.
    assert_eq!(kube_proxy_tables(&r, "node-3").len(), 2);
    nothing_left(&out);
}

#[test]
fn ipv6_forward_off_in_nftables_mode_is_named_at_its_root_for_ipv6() {
    if !require_root() {
        return;
    }
    let out = lab(&["--fault", "ipv6-forward-off"]);
    let r = json(&out);
    assert_eq!(out.status.code(), Some(1));
    let errors: Vec<&Value> = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let f = errors[0];
    assert_eq!(f["id"], "ip-forward-disabled");
    assert_eq!(f["nodes"], serde_json::json!(["node-3"]));
    assert!(f["title"].as_str().unwrap_or("").contains("IPv6"), "{f}");
    assert!(
        f["evidence"]
            .to_string()
            .contains("node-3: /proc/sys/net/ipv6/conf/all/forwarding = 0"),
        "{f:#}"
    );
    // IPv4 is untouched; the IPv6 failures all touch node-3.
    let failed: BTreeSet<String> = kinds(&r, "fail").into_iter().map(|(_, fam)| fam).collect();
    assert_eq!(failed, BTreeSet::from(["ipv6".to_string()]));
    for c in checks(&r).iter().filter(|c| c["status"] == "fail") {
        assert!(
            c["source"]["node"] == "node-3" || c["target"]["node"] == "node-3",
            "{c}"
        );
    }
    assert_eq!(r["cluster"]["kubeProxyMode"], "nftables");
    nothing_left(&out);
}
