//! `lab --simulate`: the whole pipeline on a simulated cluster, through the
//! CLI binary. No root and no namespaces: these run in every `cargo test`.
#![cfg(target_os = "linux")]

use netcheck::model::Severity;
use serde_json::Value;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netcheck");

fn lab(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("lab")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run kubectl-netcheck")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn findings(r: &Value) -> Vec<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_healthy_simulated_cluster_passes_every_check_and_exits_0() {
    let out = lab(&["--simulate", "--nodes", "5", "-o", "json"]);
    let r = json(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(findings(&r).is_empty(), "{:?}", findings(&r));
    assert_eq!(r["summary"]["failed"], 0);
    assert_eq!(r["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(r["hosts"].as_array().unwrap().len(), 5);
    // Every check kind a lab run has, from every node.
    let kinds: std::collections::BTreeSet<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    for k in [
        "pod-to-pod",
        "pod-to-service",
        "pod-to-node",
        "node-to-pod",
        "mtu",
        "dns",
        "pod-to-apiserver",
    ] {
        assert!(kinds.contains(k), "{k} missing: {kinds:?}");
    }
    // What the nodes say, as host inspection finds it on the lab.
    assert_eq!(r["cluster"]["cni"], "flannel");
    assert_eq!(r["cluster"]["kubeProxyMode"], "iptables");
}

#[test]
fn every_lab_fault_simulated_is_named_at_its_root_with_its_exit_code() {
    let mut wrong = Vec::new();
    for f in netcheck::sim::faults::simulated() {
        let out = lab(&[
            "--simulate",
            "--nodes",
            "5",
            "--fault",
            f.name(),
            "-o",
            "json",
        ]);
        let r = json(&out);
        let got = findings(&r);
        let want = (
            f.expected().as_str().to_string(),
            f.severity().as_str().to_string(),
        );
        let errors: Vec<&(String, String)> = got.iter().filter(|(_, s)| s == "error").collect();
        let code = if f.severity() == Severity::Error {
            1
        } else {
            0
        };
        let root_ok = got.contains(&want) && errors.iter().all(|(id, _)| *id == want.0);
        if !root_ok || out.status.code() != Some(code) {
            wrong.push(format!(
                "{}: want {want:?} and exit {code}, got {got:?} and exit {:?}",
                f.name(),
                out.status.code()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_lab_stays_at_250_nodes_and_the_simulator_refuses_what_it_does_not_model() {
    let out = lab(&["--nodes", "300"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 to 250 nodes") && err.contains("--simulate"),
        "{err}"
    );
    let out = lab(&["--simulate", "--kube-proxy", "nftables"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("iptables mode only"));
    let out = lab(&["--simulate", "--keep"]);
    assert_eq!(out.status.code(), Some(2));
    let out = lab(&["--simulate", "--nodes", "2", "--fault", "node-isolated"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "node-isolated needs 3 nodes, as on the lab"
    );
}

#[test]
fn the_bench_prints_one_row_per_simulated_size() {
    let out = lab(&["--simulate", "--bench", "1", "--bench-nodes", "3,60", "-q"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 4, "{t}");
    assert!(lines[0].starts_with("simulated cluster benchmark"), "{t}");
    // One row per size, under the flavour the simulated network has.
    let sizes: Vec<(&str, &str)> = lines[2..]
        .iter()
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap_or(""), f.next().unwrap_or(""))
        })
        .collect();
    assert_eq!(sizes, [("flannel", "3"), ("flannel", "60")], "{t}");
}

#[test]
fn a_large_simulated_cluster_renders_and_answers_in_json() {
    // 300 nodes: above the lab's limit, sampled pairs (auto → sample:8).
    let out = lab(&["--simulate", "--nodes", "300", "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert_eq!(r["nodes"].as_array().unwrap().len(), 300);
    assert!(findings(&r).is_empty());
    let table = lab(&["--simulate", "--nodes", "300"]);
    assert_eq!(table.status.code(), Some(0));
    let text = String::from_utf8_lossy(&table.stdout);
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 200, "a 300-node table is {widest} columns wide");
}
