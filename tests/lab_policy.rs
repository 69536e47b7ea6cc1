//! `kubectl-netcheck lab --policy FILE` end to end (root): the lab's network
//! does not enforce NetworkPolicy (like plain flannel), so every probe a
//! loaded policy denies passes and is reported as `unexpected-allow` naming
//! the policy, while the probes it allows stay `pass`.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::{checks, exe, json};
use netcheck::lab::testing::require_root;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/examples")
        .join(name)
}

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .arg("lab")
        .args(args)
        .output()
        .expect("run kubectl-netcheck")
}

/// A 3-node lab run with the example policy `file`, which must exit 1 (an
/// error finding, DESIGN.md "Exit codes"); its JSON report.
fn failing_lab_with(file: &str) -> Value {
    let file = example(file);
    let out = lab(&[
        "--nodes",
        "3",
        "--policy",
        file.to_str().expect("utf-8 path"),
        "-o",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    json(&out)
}

/// The probe namespace of the run (`netcheck-<id>`), from the checks.
fn probe_namespace(r: &Value) -> String {
    let ns = r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["evidence"].as_array().into_iter().flatten())
        .filter_map(|e| e.as_str())
        .find_map(|e| {
            let at = e.find("netcheck-")?;
            let rest = &e[at..];
            Some(rest[..rest.find('/')?].to_string())
        });
    ns.expect("a finding naming a policy in the probe namespace")
}

#[test]
fn deny_all_shows_unexpected_allow_naming_the_policy() {
    if !require_root() {
        return;
    }
    let r = failing_lab_with("deny-all.yaml");
    let ns = probe_namespace(&r);
    let policy = format!("{ns}/deny-all");

    let ua: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "unexpected-allow")
        .collect();
    assert_eq!(ua.len(), 1, "{:#}", r["findings"]);
    assert_eq!(ua[0]["severity"], "error");
    let evidence: Vec<&str> = ua[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(
        evidence[0].starts_with(&format!("NetworkPolicy {policy} (egress, ingress) denies ")),
        "{evidence:#?}"
    );
    assert!(
        evidence[1..]
            .iter()
            .filter(|e| !e.starts_with('…'))
            .all(|e| e.contains(&policy)),
        "{evidence:#?}"
    );
    // Egress to DNS is denied too.
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "policy-blocks-dns"
                && f["title"].as_str().unwrap_or("").contains(&policy)),
        "{:#}",
        r["findings"]
    );

    // Every probe between two different probe pods is denied and passed.
    let between_pods: Vec<&Value> = checks(&r)
        .iter()
        .filter(|c| c["kind"] == "pod-to-pod" || c["kind"] == "mtu")
        .collect();
    assert!(!between_pods.is_empty());
    for c in &between_pods {
        assert_eq!(c["status"], "unexpected-allow", "{c:#}");
        assert_eq!(c["expected"], "deny", "{c:#}");
    }
    // Nothing failed: the lab is healthy, it just does not enforce policy.
    assert!(
        checks(&r)
            .iter()
            .all(|c| c["status"] == "pass" || c["status"] == "unexpected-allow"),
        "{:#}",
        r["checks"]
    );
    let s = &r["summary"];
    assert_eq!(s["failed"], 0);
    assert_eq!(s["expectedBlocks"], 0);
    let ua_checks = checks(&r)
        .iter()
        .filter(|c| c["status"] == "unexpected-allow")
        .count();
    assert_eq!(s["unexpectedAllows"].as_u64(), Some(ua_checks as u64));
    assert!(
        evidence[0].contains(&format!("denies {ua_checks} probe connections")),
        "{evidence:#?}"
    );
}

#[test]
fn a_partial_policy_flags_only_the_cells_it_denies() {
    if !require_root() {
        return;
    }
    let r = failing_lab_with("node-2-tcp-only.yaml");
    let policy = format!("{}/node-2-tcp-only", probe_namespace(&r));

    let mut flagged = 0;
    for c in checks(&r).iter().filter(|c| c["kind"] == "pod-to-pod") {
        let to_node_2 = c["target"]["node"] == "node-2";
        let other_pod = c["source"]["pod"] != c["target"]["pod"];
        let denied = to_node_2 && other_pod && c["protocol"] != "tcp";
        if denied {
            flagged += 1;
            assert_eq!(c["status"], "unexpected-allow", "{c:#}");
            assert_eq!(c["expected"], "deny", "{c:#}");
            assert!(c["detail"].as_str().unwrap().contains(&policy), "{c:#}");
        } else {
            assert_eq!(c["status"], "pass", "{c:#}");
            assert_eq!(c["expected"], "allow", "{c:#}");
        }
    }
    // 5 other pods × 2 pods on node-2 × icmp, udp, http.
    assert_eq!(flagged, 30);
    let ids: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["unexpected-allow"], "{:#}", r["findings"]);
}

#[test]
fn a_policy_in_another_namespace_changes_nothing_and_says_so() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("elsewhere.yaml");
    std::fs::write(
        &file,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-shop, namespace: shop}\nspec: {podSelector: {}}\n",
    )
    .expect("write policy");
    let out = lab(&[
        "--nodes",
        "2",
        "--policy",
        file.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains("NetworkPolicy shop/deny-shop selects none of the lab's pods"),
        "{stderr}"
    );
    let r = json(&out);
    assert!(
        checks(&r).iter().all(|c| c["status"] == "pass"),
        "{:#}",
        r["checks"]
    );
}

#[test]
fn a_file_without_policies_is_a_usage_error() {
    // Checked before anything is built: no root needed.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cm.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )
    .expect("write");
    let out = lab(&["--policy", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("holds no NetworkPolicy"), "{stderr}");
    assert!(stderr.contains("cm.yaml"), "{stderr}");
}
