//! End-to-end: the whole command against a real cluster (kind works).
//!
//! Runs only when NETCHECK_E2E_KUBECONFIG points at a kubeconfig; otherwise
//! each test prints why it skipped (and fails instead when
//! NETCHECK_REQUIRE_E2E=1). The probe image must be pullable by the nodes or
//! loaded into them: NETCHECK_E2E_IMAGE (default: this binary's default image),
//! e.g. after `kubectl netcheck image -f nc.tar && kind load image-archive nc.tar`.
//! See docs/ci.md.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netcheck");

fn cluster() -> Option<String> {
    match std::env::var("NETCHECK_E2E_KUBECONFIG") {
        Ok(k) if !k.is_empty() => Some(k),
        _ => {
            if std::env::var("NETCHECK_REQUIRE_E2E").is_ok_and(|v| v == "1") {
                panic!("NETCHECK_REQUIRE_E2E=1 but NETCHECK_E2E_KUBECONFIG is not set");
            }
            eprintln!(
                "skipped: set NETCHECK_E2E_KUBECONFIG to a cluster's kubeconfig to run the end-to-end tests (docs/ci.md)"
            );
            None
        }
    }
}

fn netcheck(kubeconfig: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    if let Ok(img) = std::env::var("NETCHECK_E2E_IMAGE")
        && !args.contains(&"--image")
        && !args.contains(&"cleanup")
    {
        cmd.args(["--image", &img]);
    }
    cmd.output().expect("the binary runs")
}

fn leftover_namespaces(kubeconfig: &str) -> String {
    let o = Command::new("kubectl")
        .args([
            "--kubeconfig",
            kubeconfig,
            "get",
            "namespaces",
            "-l",
            "app.kubernetes.io/managed-by=kubectl-netcheck",
            "-o",
            "name",
        ])
        .output();
    match o {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join(","),
        Err(_) => String::new(),
    }
}

#[test]
fn smoke_run_passes_on_a_healthy_cluster_and_cleans_up() {
    let Some(kc) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("netcheck.xml");
    let o = netcheck(
        &kc,
        &[
            "-o",
            "json",
            "--timeout",
            "5m",
            "--output-file",
            junit.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(3), "could not run: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON report");
    assert_eq!(report["apiVersion"], "netcheck/v1");
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    let bad: Vec<&serde_json::Value> = checks
        .iter()
        .filter(|c| c["status"] == "fail" || c["status"] == "error")
        .collect();
    assert!(
        bad.is_empty(),
        "a healthy cluster passes every check: {bad:#?}\n{stderr}"
    );
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    if let Ok(cni) = std::env::var("NETCHECK_E2E_EXPECT_CNI") {
        assert_eq!(report["cluster"]["cni"], cni.as_str());
    }
    assert!(junit.exists());
    // The run waits (bounded) for its namespace to go; allow the API a minute more.
    let until = Instant::now() + Duration::from_secs(60);
    let mut left = leftover_namespaces(&kc);
    while !left.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_secs(2));
        left = leftover_namespaces(&kc);
    }
    assert!(left.is_empty(), "left behind: {left}");
}

#[test]
fn an_image_that_cannot_be_pulled_fails_in_seconds_with_the_reason() {
    let Some(kc) = cluster() else { return };
    let t = Instant::now();
    let o = netcheck(
        &kc,
        &[
            "--image",
            "registry.invalid/nope/netcheck:0.0.0",
            "--timeout",
            "3m",
            "-q",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
    assert!(
        stderr.contains("ErrImagePull") || stderr.contains("ImagePullBackOff"),
        "{stderr}"
    );
    assert!(stderr.contains("--image"), "{stderr}");
}

#[test]
fn keep_then_cleanup_removes_the_namespace() {
    let Some(kc) = cluster() else { return };
    let o = netcheck(
        &kc,
        &[
            "--keep",
            "--checks",
            "pod-to-pod",
            "--no-host",
            "-o",
            "json",
            "--timeout",
            "5m",
        ],
    );
    assert_ne!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("kept namespace netcheck-"));
    let o = netcheck(&kc, &["cleanup", "--timeout", "2m"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("deleted namespace netcheck-"));
}
