//! `lab --ip-family ipv6|dual` end to end, as root, on every CNI flavour: a
//! healthy dual-stack lab passes every check in both families (every kind
//! has IPv6 checks: pod to pod on the same node and across, Services, node ↔
//! pod, MTU, the API server, DNS AAAA) and names its flavour; an IPv6-only
//! lab has IPv6 checks only; `ipv6-forward-off` is named at its root,
//! `ip-forward-disabled` for IPv6 on the broken node, with IPv6 checks as
//! its evidence and every IPv4 check passing; `route-missing` on a routed
//! flavour is named for the family whose route went; the flags that cannot
//! mean anything are usage errors. kube-proxy's nftables mode on dual stack
//! is tests/lab_dualstack_nftables.rs.

mod lab_common;

use lab_common::*;
use netcheck::lab::flavours;
use netcheck::lab::testing::require_root;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .arg("lab")
        .args(args)
        .output()
        .expect("run kubectl-netcheck")
}

const KINDS: [&str; 7] = [
    "pod-to-pod",
    "pod-to-service",
    "node-to-pod",
    "pod-to-node",
    "pod-to-apiserver",
    "dns",
    "mtu",
];

/// Every flavour's `--cni` name, the default (flannel) first.
fn flavours() -> Vec<&'static str> {
    flavours::all().iter().map(|f| f.name()).collect()
}

/// A healthy 3-node dual-stack lab of flavour `cni`: every check passes, in
/// both families, exit 0, no finding above info, `cluster.cni` names it.
fn healthy_dual_stack(cni: &str) {
    let out = lab(&[
        "--cni",
        cni,
        "--ip-family",
        "dual",
        "--nodes",
        "3",
        "-o",
        "json",
    ]);
    let r = json(&out);
    let bad: Vec<&Value> = checks(&r)
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(bad.is_empty(), "{cni}: {bad:#?}");
    assert_eq!(out.status.code(), Some(0), "{cni}");
    let above_info: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(above_info.is_empty(), "{cni}: {above_info:#?}");
    assert!(
        r["cluster"]["cni"]
            .as_str()
            .is_some_and(|c| c.contains(cni)),
        "{cni}: {}",
        r["cluster"]
    );
    let pass = kinds(&r, "pass");
    for k in KINDS {
        for fam in ["ipv4", "ipv6"] {
            assert!(
                pass.contains(&(k.to_string(), fam.to_string())),
                "{cni}: no passing {fam} {k} check"
            );
        }
    }
    // IPv6 pod to pod on the same node and across nodes.
    for same in [true, false] {
        assert!(
            checks(&r).iter().any(|c| c["kind"] == "pod-to-pod"
                && c["family"] == "ipv6"
                && c["status"] == "pass"
                && (c["source"]["node"] == c["target"]["node"]) == same),
            "{cni}: no passing IPv6 pod-to-pod check (same node: {same})"
        );
    }
    // IPv6 addresses are in 2001:2::/48, and DNS asked AAAA: the IPv6 DNS
    // checks expected (and got) IPv6 answers.
    for c in checks(&r).iter().filter(|c| c["family"] == "ipv6") {
        for side in ["source", "target"] {
            if let Some(ip) = c[side]["ip"].as_str() {
                let ip: std::net::Ipv6Addr = ip.parse().expect("an IPv6 address");
                assert_eq!(ip.segments()[..3], [0x2001, 2, 0], "{cni}: {c}");
            }
        }
    }
}

#[test]
fn a_healthy_dual_stack_lab_passes_every_check_in_both_families_on_every_flavour() {
    if !require_root() {
        return;
    }
    for cni in flavours() {
        healthy_dual_stack(cni);
    }
}

#[test]
fn a_healthy_ipv6_lab_has_ipv6_checks_only_on_every_flavour() {
    if !require_root() {
        return;
    }
    for cni in flavours() {
        let out = lab(&[
            "--cni",
            cni,
            "--ip-family",
            "ipv6",
            "--nodes",
            "3",
            "-o",
            "json",
        ]);
        let r = json(&out);
        assert_eq!(out.status.code(), Some(0), "{cni}: {}", r["findings"]);
        let fams: BTreeSet<&str> = checks(&r)
            .iter()
            .filter_map(|c| c["family"].as_str())
            .collect();
        assert_eq!(fams, BTreeSet::from(["ipv6"]), "{cni}");
        let pass = kinds(&r, "pass");
        for k in KINDS {
            assert!(
                pass.contains(&(k.to_string(), "ipv6".to_string())),
                "{cni}: {k}"
            );
        }
        assert_eq!(kinds(&r, "fail"), BTreeSet::new(), "{cni}");
        assert!(
            r["cluster"]["dnsService"]["ip"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("2001:2:0:ffff::")),
            "{cni}"
        );
    }
}

/// A 3-node dual-stack lab of flavour `cni` with `fault` on node-3: it
/// exits 1, its one error finding is `id` on node-3 with a title naming
/// IPv6, every failed check is IPv6 and touches node-3, and IPv4 passes.
/// Returns the report and the finding's evidence.
fn ipv6_fault_named_at_its_root(cni: &str, fault: &str, id: &str) -> (Value, Vec<String>) {
    let out = lab(&[
        "--cni",
        cni,
        "--ip-family",
        "dual",
        "--nodes",
        "3",
        "-o",
        "json",
        "--fault",
        fault,
    ]);
    let r = json(&out);
    assert_eq!(out.status.code(), Some(1), "{cni}");
    let errors: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{cni}: {errors:#?}");
    let f = errors[0];
    assert_eq!(f["id"], id, "{cni}");
    assert_eq!(f["nodes"], serde_json::json!(["node-3"]), "{cni}");
    assert!(f["title"].as_str().unwrap().contains("IPv6"), "{cni}: {f}");
    let ev: Vec<String> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let quoted: Vec<&String> = ev.iter().filter(|e| e.contains(" → ")).collect();
    assert!(
        !quoted.is_empty() && quoted.iter().all(|e| e.contains(" IPv6 ")),
        "{cni}: {ev:#?}"
    );
    // IPv4 is untouched; the IPv6 failures all touch node-3.
    assert_eq!(
        kinds(&r, "fail")
            .iter()
            .map(|(_, fam)| fam.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["ipv6"]),
        "{cni}"
    );
    for c in checks(&r).iter().filter(|c| c["status"] == "fail") {
        assert!(
            c["source"]["node"] == "node-3" || c["target"]["node"] == "node-3",
            "{cni}: {c}"
        );
    }
    (r, ev)
}

#[test]
fn ipv6_forward_off_is_ip_forward_disabled_for_ipv6_at_its_root_on_every_flavour() {
    if !require_root() {
        return;
    }
    for cni in flavours() {
        let (_, ev) = ipv6_fault_named_at_its_root(cni, "ipv6-forward-off", "ip-forward-disabled");
        assert!(
            ev.iter()
                .any(|e| e == "node-3: /proc/sys/net/ipv6/conf/all/forwarding = 0"),
            "{cni}: {ev:#?}"
        );
        assert!(
            ev.iter().any(|e| e.starts_with("family IPv6")),
            "{cni}: {ev:#?}"
        );
    }
}

#[test]
fn an_ip6tables_forward_drop_is_forward_policy_drop_for_ipv6_at_its_root() {
    if !require_root() {
        return;
    }
    let (r, ev) =
        ipv6_fault_named_at_its_root("flannel", "ipv6-forward-drop", "forward-policy-drop");
    assert!(
        ev.iter()
            .any(|e| e == "node-3: :FORWARD DROP (ip6tables-nft-save, table filter)"),
        "{ev:#?}"
    );
    // Inspection read ip6tables on every node.
    for h in r["hosts"].as_array().unwrap() {
        assert!(
            h["firewall"]["ip6tables"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| b["error"].is_null())),
            "{h}"
        );
    }
}

/// The one error finding of a 3-node dual-stack lab of `cni` with `fault`.
fn dual_stack_root(cni: &str, fault: &str) -> (Value, Value) {
    let out = lab(&[
        "--cni",
        cni,
        "--ip-family",
        "dual",
        "--nodes",
        "3",
        "-o",
        "json",
        "--fault",
        fault,
    ]);
    let r = json(&out);
    assert_eq!(out.status.code(), Some(1), "{cni} {fault}");
    let errors: Vec<Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .cloned()
        .collect();
    assert_eq!(errors.len(), 1, "{cni} {fault}: {errors:#?}");
    (r, errors[0].clone())
}

/// On a dual-stack routed lab `route-missing` deletes the route of the
/// first family (IPv4, as the cluster lists it first): `pod-route-missing`
/// names it for IPv4, with the IPv4 pod CIDR, and IPv6 keeps working.
#[test]
fn route_missing_is_named_for_ipv4_on_every_routed_dual_stack_flavour() {
    if !require_root() {
        return;
    }
    for cni in ["host-gw", "kindnet", "calico"] {
        let (r, f) = dual_stack_root(cni, "route-missing");
        assert_eq!(f["id"], "pod-route-missing", "{cni}: {f}");
        let title = f["title"].as_str().unwrap_or("");
        assert!(
            title.starts_with("IPv4 only:") && title.contains("(198.18.0.0/24)"),
            "{cni}: {title}"
        );
        assert_eq!(f["nodes"], serde_json::json!(["node-3", "node-1"]), "{cni}");
        assert_eq!(
            kinds(&r, "fail")
                .iter()
                .map(|(_, fam)| fam.as_str())
                .collect::<BTreeSet<_>>(),
            BTreeSet::from(["ipv4"]),
            "{cni}"
        );
    }
}

/// Calico's IPv6 gateway is the `cali` end's own link-local address, found
/// by neighbour discovery, not by proxy ARP: `proxy-arp-off` takes IPv4's
/// gateway away and leaves IPv6 working, as on a real dual-stack node.
#[test]
fn proxy_arp_off_on_dual_stack_calico_breaks_ipv4_only() {
    if !require_root() {
        return;
    }
    let (r, f) = dual_stack_root("calico", "proxy-arp-off");
    assert_eq!(f["id"], "proxy-arp-disabled", "{f}");
    assert!(
        f["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("IPv4 only:")),
        "{f}"
    );
    let fams: BTreeSet<String> = kinds(&r, "fail").into_iter().map(|(_, fam)| fam).collect();
    assert_eq!(fams, BTreeSet::from(["ipv4".to_string()]));
    assert!(
        checks(&r).iter().any(|c| c["family"] == "ipv6"
            && c["kind"] == "pod-to-pod"
            && c["source"]["node"] == "node-3"
            && c["target"]["node"] != "node-3"
            && c["status"] == "pass"),
        "node-3's pods still reach the others over IPv6"
    );
}

#[test]
fn ipv6_flags_that_cannot_mean_anything_are_usage_errors() {
    // No root needed: refused before anything is built.
    for args in [
        &["--ip-family", "ipv5"][..],
        &["--fault", "ipv6-forward-off"],
        &["--fault", "ipv6-forward-drop"],
        // IPv4's switches on a lab without IPv4.
        &["--ip-family", "ipv6", "--fault", "forward-drop"],
        &["--ip-family", "ipv6", "--fault", "ip-forward-off"],
        &["--ip-family", "ipv6", "--fault", "backend-mix"],
        &["--ip-family", "ipv6", "--fault", "bridge-nf-off"],
        &["--ip-family", "ipv6", "--fault", "rp-filter-strict"],
    ] {
        let out = lab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}
