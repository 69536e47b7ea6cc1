//! `kubectl netcheck explain` end to end through the binary, offline with -f.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/policy/shop.yaml")
        .display()
        .to_string()
}

fn netcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl-netcheck")
}

fn explain(args: &[&str]) -> (i32, String, String) {
    let f = fixture();
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-f", &f]);
    let out = netcheck(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn allowed_by_a_named_port_rule() {
    let (code, out, err) = explain(&["shop/frontend-7d9", "shop/api-5c4", "--port", "8080/TCP"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("explain_allow_table", out);
}

#[test]
fn denied_with_the_deciding_policy_and_a_hint() {
    let (code, out, err) = explain(&["monitoring/prometheus-0", "shop/api-5c4", "--port", "8080"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("deny: shop/api-5c4 is selected by NetworkPolicies shop/default-deny, shop/api-from-frontend (ingress), and no ingress rule of them allows monitoring/prometheus-0 on 8080/TCP"), "{out}");
    insta::assert_snapshot!("explain_deny_table", out);
}

#[test]
fn json_output() {
    let (code, out, err) = explain(&[
        "monitoring/prometheus-0",
        "shop/api-5c4",
        "--port",
        "metrics",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["verdict"], "allow");
    assert_eq!(v["egress"]["verdict"], "allow");
    assert_eq!(v["ingress"]["verdict"], "allow");
    assert_eq!(v["ingress"]["allowedBy"][0]["rule"], 1);
    insta::assert_json_snapshot!("explain_allow_json", v);

    let (code, out, _) = explain(&["shop/frontend-7d9", "shop/api-5c4", "-o", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    insta::assert_json_snapshot!("explain_any_port_deny_json", v);
}

#[test]
fn addresses_follow_ip_block_and_except() {
    let (code, out, _) = explain(&["198.18.130.1", "shop/frontend-7d9", "--port", "80"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("allow: 198.18.130.1 → shop/frontend-7d9 on 80/TCP"),
        "{out}"
    );
    let (code, out, _) = explain(&["198.18.200.5", "shop/frontend-7d9", "--port", "80"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("deny:"), "{out}");
    // A pod's own address is that pod.
    let (code, out, _) = explain(&["198.18.0.11", "shop/api-5c4", "--port", "8080"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("allow: shop/frontend-7d9 → shop/api-5c4"),
        "{out}"
    );
}

#[test]
fn bad_arguments_exit_2_and_say_why() {
    let cases: &[(&[&str], &str)] = &[
        (&["shop/nope", "shop/api-5c4"], "pod shop/nope is not in"),
        (
            &["shop/frontend-7d9", "shop/api-5c4", "--port", "80/XTP"],
            "not one of TCP, UDP, SCTP",
        ),
        (
            &["shop/frontend-7d9", "shop/api-5c4", "--port", "grpc"],
            "shop/api-5c4 has no container port named 'grpc'",
        ),
        (
            &["shop/frontend-7d9", "198.18.9.9", "--port", "http"],
            "a named port needs a destination pod",
        ),
        (&["not a pod", "shop/api-5c4"], "neither namespace/pod"),
    ];
    for (args, want) in cases {
        let (code, out, err) = explain(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn unreadable_or_broken_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "kind: Pod\nmetadata: [unclosed\n").expect("write");
    let out = netcheck(&["explain", "a/b", "c/d", "-f", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.yaml") && err.contains("not valid YAML"),
        "{err}"
    );

    let out = netcheck(&["explain", "a/b", "c/d", "-f", "/nonexistent/objects.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/objects.yaml"));
}

#[test]
fn unreachable_cluster_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    // Loopback port 1: nothing listens, the connection is refused at once.
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .expect("write");
    let out = netcheck(&[
        "explain",
        "shop/a",
        "shop/b",
        "--kubeconfig",
        kc.to_str().unwrap(),
        "--timeout",
        "20s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read pod shop/a from the cluster") && err.contains("-f FILE"),
        "{err}"
    );
}

#[test]
fn a_missing_kubeconfig_exits_3_naming_it_and_the_offline_way() {
    let out = netcheck(&[
        "explain",
        "shop/a",
        "shop/b",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("/nonexistent/kubeconfig"), "{err}");
    assert!(err.contains("-f FILE"), "{err}");
}
