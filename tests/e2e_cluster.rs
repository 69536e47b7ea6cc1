//! End-to-end: the whole command as a user or a CI job runs it, each scenario
//! one function run twice: against the loopback fake API (tests/kube_fake/,
//! always, so the scenarios cannot rot) and against a real cluster (kind
//! works) when NETCHECK_E2E_KUBECONFIG points at its kubeconfig.
//!
//! Without NETCHECK_E2E_KUBECONFIG the `real_*` tests print why they skipped
//! (and fail instead when NETCHECK_REQUIRE_E2E=1). On a real cluster the probe
//! image must be pullable by the nodes or loaded into them: NETCHECK_E2E_IMAGE
//! (default: this binary's default image), e.g. after
//! `kubectl netcheck image -f nc.tar && kind load image-archive nc.tar`.
//! See docs/ci.md.

mod kube_fake;

use kube_fake::{FakeApi, FakeState, PodFate};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netcheck");
const MANAGED: &str = "app.kubernetes.io/managed-by=kubectl-netcheck";

/// Where the scenarios run: a real cluster's kubeconfig, or the fake API.
struct Cluster {
    kubeconfig: PathBuf,
    /// The kubeconfig's current context (for `--context`).
    context: String,
    /// `--image` for runs (real clusters: NETCHECK_E2E_IMAGE).
    image: Option<String>,
    /// Kept alive while the scenario runs.
    fake: Option<FakeApi>,
}

impl Cluster {
    fn real() -> Option<Cluster> {
        match std::env::var("NETCHECK_E2E_KUBECONFIG") {
            Ok(k) if !k.is_empty() => {
                let text = std::fs::read_to_string(&k)
                    .unwrap_or_else(|e| panic!("NETCHECK_E2E_KUBECONFIG={k}: {e}"));
                let context = text
                    .lines()
                    .find_map(|l| l.strip_prefix("current-context:"))
                    .map(|c| c.trim().trim_matches('"').to_string())
                    .expect("the kubeconfig names a current-context");
                Some(Cluster {
                    kubeconfig: k.into(),
                    context,
                    image: std::env::var("NETCHECK_E2E_IMAGE").ok(),
                    fake: None,
                })
            }
            _ => {
                if std::env::var("NETCHECK_REQUIRE_E2E").is_ok_and(|v| v == "1") {
                    panic!("NETCHECK_REQUIRE_E2E=1 but NETCHECK_E2E_KUBECONFIG is not set");
                }
                eprintln!(
                    "skipped: set NETCHECK_E2E_KUBECONFIG to a cluster's kubeconfig to run the end-to-end tests on it (docs/ci.md); the fake_* tests ran them on the fake API"
                );
                None
            }
        }
    }

    /// The fake API with `state`; its exec answers as a healthy agent.
    async fn fake(state: FakeState) -> Cluster {
        let fake = FakeApi::start(FakeState {
            exec: true,
            ..state
        })
        .await;
        Cluster {
            kubeconfig: fake.kubeconfig.clone(),
            context: "fake".into(),
            image: None,
            fake: Some(fake),
        }
    }

    /// The binary with `--kubeconfig` first, as kubectl users write it.
    async fn netcheck(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(BIN)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output()
            .await
            .expect("the binary runs")
    }

    /// `--image` for a run on this cluster (none: the default image).
    fn image_flag(&self) -> Vec<&str> {
        match &self.image {
            Some(i) => vec!["--image", i],
            None => vec![],
        }
    }

    /// Namespaces of netcheck runs still there (by label), through the API.
    async fn leftover_namespaces(&self) -> Vec<String> {
        use k8s_openapi::api::core::v1::Namespace;
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kubeconfig usable");
        let client = kube::Client::try_from(cfg).expect("client");
        let api: kube::Api<Namespace> = kube::Api::all(client);
        let list = api
            .list(&kube::api::ListParams::default().labels(MANAGED))
            .await
            .expect("list namespaces");
        list.items
            .into_iter()
            .filter(|n| n.metadata.deletion_timestamp.is_none())
            .filter_map(|n| n.metadata.name)
            .collect()
    }

    /// Wait (bounded) until no run's namespace is left.
    async fn assert_no_leftovers(&self, within: Duration) {
        let until = Instant::now() + within;
        let mut left = self.leftover_namespaces().await;
        while !left.is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(2)).await;
            left = self.leftover_namespaces().await;
        }
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The CI smoke test: `-o json --output-file netcheck.json`: JSON in the file
/// (every check passes), the table on stdout, exit 0, nothing left behind.
async fn smoke_run_passes_on_a_healthy_cluster_and_cleans_up(c: &Cluster) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("netcheck.json");
    let mut args = vec![
        "-o",
        "json",
        "--timeout",
        "5m",
        "--output-file",
        file.to_str().unwrap(),
    ];
    args.extend(c.image_flag());
    let o = c.netcheck(&args).await;
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_ne!(o.status.code(), Some(3), "could not run: {stderr}");
    // The table on stdout, for the CI log.
    assert!(
        stdout.contains("Pod → Pod") || stdout.contains("Pod -> Pod"),
        "the table on stdout: {stdout}"
    );
    assert!(!stdout.trim_start().starts_with('{'), "{stdout}");
    let saved = std::fs::read(&file).expect("--output-file written");
    let report: serde_json::Value = serde_json::from_slice(&saved).expect("JSON in the file");
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
    if c.fake.is_none()
        && let Ok(cni) = std::env::var("NETCHECK_E2E_EXPECT_CNI")
    {
        assert_eq!(report["cluster"]["cni"], cni.as_str());
    }
    // The same report as JUnit for the CI's test view: no failure.
    let o = c
        .netcheck(&["-o", "junit", "report", file.to_str().unwrap()])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let junit = text(&o.stdout);
    assert!(
        junit.starts_with("<?xml") && !junit.contains("<failure"),
        "{junit}"
    );
    // The run may leave its namespace terminating; allow the API a minute.
    c.assert_no_leftovers(Duration::from_secs(60)).await;
}

/// An image the nodes cannot pull: exit 3 in seconds, the kubelet's reason
/// and the `--image` hint. (On the fake, every node's pods fail to pull.)
async fn an_image_that_cannot_be_pulled_fails_in_seconds_with_the_reason(c: &Cluster) {
    let t = Instant::now();
    let o = c
        .netcheck(&[
            "--image",
            "registry.invalid/nope/netcheck:0.0.0",
            "--timeout",
            "3m",
            "-q",
        ])
        .await;
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
    assert!(
        stderr.contains("ErrImagePull") || stderr.contains("ImagePullBackOff"),
        "{stderr}"
    );
    assert!(stderr.contains("--image"), "{stderr}");
}

/// `--keep` leaves the namespace and says so; `cleanup` (flags first, as CI
/// scripts write it) removes it.
async fn keep_then_cleanup_removes_the_namespace(c: &Cluster) {
    let mut args = vec![
        "--keep",
        "--checks",
        "pod-to-pod",
        "--no-host",
        "-o",
        "json",
        "--timeout",
        "5m",
    ];
    args.extend(c.image_flag());
    let o = c.netcheck(&args).await;
    let stderr = text(&o.stderr);
    assert_ne!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("kept namespace netcheck-"), "{stderr}");
    assert!(!c.leftover_namespaces().await.is_empty(), "kept");
    let o = c.netcheck(&["--timeout", "2m", "cleanup"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("deleted namespace netcheck-"),
        "{}",
        text(&o.stdout)
    );
    c.assert_no_leftovers(Duration::from_secs(60)).await;
}

/// The common flags before the subcommand reach it (`--kubeconfig` is
/// always first here): `--context` and `-o` before `explain`, `-q` and
/// `--timeout` before `cleanup`, `-o` before `run`.
async fn flags_before_the_subcommand_reach_it(c: &Cluster) {
    let o = c
        .netcheck(&[
            "--context",
            &c.context,
            "-o",
            "json",
            "explain",
            "kube-system/netcheck-no-such-pod",
            "kube-system/netcheck-no-such-pod-2",
        ])
        .await;
    let stderr = text(&o.stderr);
    assert!(!stderr.contains("cannot be used with"), "{stderr}");
    // Parsed, connected with that context, asked the cluster: the pod is not there.
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pod kube-system/netcheck-no-such-pod is not in the cluster"),
        "{stderr}"
    );
    let o = c
        .netcheck(&[
            "--context",
            "netcheck-no-such-context",
            "explain",
            "a/b",
            "c/d",
        ])
        .await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("netcheck-no-such-context"),
        "--context before explain is used: {}",
        text(&o.stderr)
    );
    let o = c.netcheck(&["-q", "--timeout", "2m", "cleanup"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut args = vec![
        "-o",
        "json",
        "-q",
        "--timeout",
        "5m",
        "run",
        "--checks",
        "pod-to-pod",
        "--no-host",
    ];
    args.extend(c.image_flag());
    let o = c.netcheck(&args).await;
    assert_ne!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("-o json before run: JSON on stdout");
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty() && checks.iter().all(|c| c["kind"] == "pod-to-pod"));
    c.assert_no_leftovers(Duration::from_secs(60)).await;
}

macro_rules! on_both {
    ($($name:ident => $fake_state:expr;)*) => {
        mod fake {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    let c = Cluster::fake($fake_state).await;
                    super::$name(&c).await;
                }
            )*
        }
        mod real {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    let Some(c) = Cluster::real() else { return };
                    super::$name(&c).await;
                }
            )*
        }
    };
}

fn every_node(fate: PodFate) -> FakeState {
    FakeState {
        fates: [("node1".to_string(), fate), ("node2".to_string(), fate)].into(),
        ..Default::default()
    }
}

on_both! {
    smoke_run_passes_on_a_healthy_cluster_and_cleans_up => FakeState::default();
    an_image_that_cannot_be_pulled_fails_in_seconds_with_the_reason => every_node(PodFate::ImagePull);
    keep_then_cleanup_removes_the_namespace => FakeState::default();
    flags_before_the_subcommand_reach_it => FakeState::default();
}
