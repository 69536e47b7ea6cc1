//! The binary as a user runs it, against no cluster, a cluster that refuses
//! or never answers, and the loopback fake API: exit codes and one clear sentence.

mod kube_fake;

use kube_fake::{FakeApi, FakeState, kubeconfig_yaml};
use std::process::Output;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netcheck");

async fn netcheck(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", "/nonexistent-netcheck-home")
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last stderr line: the error sentence.
fn error_line(o: &Output) -> String {
    stderr(o)
        .lines()
        .rev()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default()
        .to_string()
}

fn temp_kubeconfig(server: &str, context: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config");
    std::fs::write(&p, kubeconfig_yaml(server, context)).unwrap();
    let s = p.display().to_string();
    (dir, s)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kubeconfig_that_does_not_exist_exits_3() {
    let o = netcheck(&["--kubeconfig", "/nonexistent/kubeconfig", "--timeout", "5s"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let line = error_line(&o);
    assert!(
        line.contains("could not read the kubeconfig /nonexistent/kubeconfig"),
        "{line}"
    );
    assert!(o.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_context_exits_3_naming_the_known_ones() {
    let (_d, kc) = temp_kubeconfig("https://127.0.0.1:1", "lab");
    let o = netcheck(&["--kubeconfig", &kc, "--context", "prod", "--timeout", "5s"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let line = error_line(&o);
    assert!(
        line.contains("context \"prod\" is not in the kubeconfig (it has: lab)"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_kubeconfig_at_all_exits_3() {
    let o = netcheck(&["--timeout", "5s"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        error_line(&o).contains("no kubeconfig found"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_address_that_refuses_exits_3_quickly() {
    // A port nothing listens on: bind, learn the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (_d, kc) = temp_kubeconfig(&format!("https://127.0.0.1:{port}"), "gone");
    let t = Instant::now();
    let o = netcheck(&["--kubeconfig", &kc, "--timeout", "20s"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let line = error_line(&o);
    assert!(
        line.contains(&format!(
            "cannot reach the Kubernetes API at https://127.0.0.1:{port}"
        )),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_address_that_never_answers_exits_3_within_the_timeout() {
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let (_d, kc) = temp_kubeconfig(&format!("http://{addr}"), "silent");
    let t = Instant::now();
    let o = netcheck(&["--kubeconfig", &kc, "--timeout", "2s"]).await;
    let took = t.elapsed();
    hold.abort();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        took < Duration::from_secs(8),
        "took {took:?} with --timeout 2s"
    );
    let line = error_line(&o);
    assert!(line.contains("did not answer within 2s"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permission_denial_exits_3_with_one_line_and_creates_nothing() {
    let fake = FakeApi::start(FakeState {
        deny: vec![("create".into(), "pods".into(), "exec".into())],
        ..Default::default()
    })
    .await;
    let o = netcheck(&[
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--timeout",
        "10s",
        "-q",
    ])
    .await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(err.contains("create pods/exec"), "{err}");
    assert!(err.contains("kubectl apply -f docs/rbac.yaml"), "{err}");
    let st = fake.state();
    assert!(st.namespaces.is_empty() && st.pods.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_against_the_fake_prints_json_and_exits_1_on_error_checks() {
    let fake = FakeApi::start(FakeState::default()).await;
    let o = netcheck(&[
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--timeout",
        "20s",
        "-o",
        "json",
        "--checks",
        "pod-to-pod",
        "--no-host",
    ])
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(report["kind"], "Report");
    assert_eq!(report["cluster"]["version"], "v1.36.2");
    assert_eq!(report["cluster"]["cni"], "unknown");
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    assert!(
        checks
            .iter()
            .all(|c| c["kind"] == "pod-to-pod" && c["status"] == "error")
    );
    let st = fake.state();
    assert_eq!(st.deleted_namespaces.len(), 1, "cleaned up at the end");
    assert!(
        !st.pods.values().any(|p| p["spec"]["hostNetwork"] == true),
        "--no-host"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pairs_is_a_usage_error() {
    let fake = FakeApi::start(FakeState::default()).await;
    let o = netcheck(&[
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--pairs",
        "most",
    ])
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        fake.state().requests.is_empty(),
        "nothing asked of the cluster"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_prints_what_it_removed() {
    let fake = FakeApi::start(FakeState::default()).await;
    fake.state().namespaces.insert(
        "netcheck-left1".into(),
        serde_json::json!({"metadata": {"name": "netcheck-left1", "labels": {"app.kubernetes.io/managed-by": "kubectl-netcheck"}}}),
    );
    let o = netcheck(&[
        "cleanup",
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--timeout",
        "10s",
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "deleted namespace netcheck-left1\n"
    );
    let o = netcheck(&[
        "cleanup",
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--timeout",
        "10s",
    ])
    .await;
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "no leftover netcheck namespaces, pods or Services\n"
    );
}

async fn interrupt_while_waiting(signal: libc::c_int) {
    let fake = FakeApi::start(FakeState {
        fates: [("node1".to_string(), kube_fake::PodFate::NeverReady)].into(),
        ..Default::default()
    })
    .await;
    let child = tokio::process::Command::new(BIN)
        .args([
            "--kubeconfig",
            fake.kubeconfig.to_str().unwrap(),
            "--timeout",
            "60s",
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait until the first probe pod exists: the run is waiting for it.
    let until = Instant::now() + Duration::from_secs(20);
    while fake.state().pods.is_empty() {
        assert!(Instant::now() < until, "no pod was created");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = child.id().unwrap() as libc::pid_t;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, signal) };
    let t = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the run stops after the signal")
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(15));
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted: deleting namespace netcheck-"),
        "{err}"
    );
    let st = fake.state();
    assert_eq!(st.deleted_namespaces.len(), 1, "{:?}", st.requests);
    assert!(st.namespaces.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_deletes_the_namespace_and_exits_130() {
    interrupt_while_waiting(libc::SIGINT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_deletes_the_namespace_and_exits_130() {
    interrupt_while_waiting(libc::SIGTERM).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_kubeconfig_variable_is_named() {
    let o = tokio::process::Command::new(BIN)
        .args(["--timeout", "5s"])
        .env("KUBECONFIG", "/nonexistent/a-config")
        .env("HOME", "/nonexistent-netcheck-home")
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(error_line(&o).contains("$KUBECONFIG"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_fake_cluster_exits_0_with_the_table_on_stdout_and_junit_in_the_file() {
    let fake = FakeApi::start(FakeState {
        exec: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("netcheck.xml");
    let o = netcheck(&[
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--timeout",
        "30s",
        "-o",
        "junit",
        "--output-file",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // `-o junit --output-file`: JUnit to the file, the table to the terminal.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("Pod → Pod") || stdout.contains("Pod -> Pod"),
        "the table on stdout: {stdout}"
    );
    assert!(!stdout.contains("<testsuite"), "{stdout}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.starts_with("<?xml"), "{written}");
    assert!(written.contains("<testsuites"), "{written}");
    assert!(!written.contains("<failure"), "a healthy run: {written}");
    let st = fake.state();
    assert_eq!(st.deleted_namespaces.len(), 1);
    assert!(
        st.execs.len() >= 8,
        "probes and host inspection ran: {}",
        st.execs.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_server_with_an_untrusted_certificate_exits_3_with_one_line() {
    let openssl = std::process::Command::new("openssl")
        .arg("version")
        .output();
    if !openssl.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("NETCHECK_REQUIRE_LAB").as_deref() != Ok("1"),
            "NETCHECK_REQUIRE_LAB=1 but the openssl command (./install.sh) is missing"
        );
        eprintln!("skipped: needs the openssl command for a TLS server");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = tokio::process::Command::new("openssl")
        .args([
            "s_server",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
        ])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < until, "openssl s_server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_d, kc) = temp_kubeconfig(&format!("https://127.0.0.1:{port}"), "tls");
    let o = netcheck(&["--kubeconfig", &kc, "--timeout", "10s", "-q"]).await;
    server.kill().await.ok();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line, no library logs: {err}");
    assert!(err.contains("certificate"), "{err}");
}

/// `-n default --keep` once advised `kubectl delete namespace default`: with
/// `-n` the advice deletes the run's own pods and Services by its label.
#[tokio::test(flavor = "multi_thread")]
async fn keep_in_an_existing_namespace_advises_deleting_by_label_never_the_namespace() {
    let fake = FakeApi::start(FakeState::default()).await;
    let o = netcheck(&[
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "-n",
        "default",
        "--keep",
        "--no-host",
        "--timeout",
        "20s",
    ])
    .await;
    let err = stderr(&o);
    assert!(
        err.contains("kept the probe pods and Services in namespace default (--keep)"),
        "{err}"
    );
    assert!(
        err.contains("`kubectl -n default delete pods,services -l netcheck.io/run="),
        "{err}"
    );
    assert!(!err.contains("delete namespace"), "{err}");
    let o = netcheck(&[
        "cleanup",
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--timeout",
        "10s",
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("deleted pod default/probe-node1-0a\n"),
        "{out}"
    );
    assert!(
        out.contains("deleted Service default/probe-node2-1a\n"),
        "{out}"
    );
    let st = fake.state();
    assert!(st.pods.is_empty() && st.services.is_empty());
    assert!(st.deleted_namespaces.is_empty(), "default stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn verbose_names_the_api_calls_the_run_made() {
    let fake = FakeApi::start(FakeState {
        exec: true,
        ..Default::default()
    })
    .await;
    let o = netcheck(&[
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--timeout",
        "30s",
        "-v",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    let st = fake.state();
    let line = format!(
        "netcheck: API calls: {} ({} writes, {} access reviews, {} execs)",
        st.total(),
        st.writes() - st.reviews(),
        st.reviews(),
        st.execs.len()
    );
    assert!(err.contains(&line), "want {line:?} in:\n{err}");
    // 2 nodes: 6 pods, 2 Services, the namespace, its deletion, one deletecollection.
    assert_eq!(st.writes() - st.reviews(), 11, "{:?}", st.verbs);
}
