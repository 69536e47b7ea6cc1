//! `run --policy-from NAMESPACE[/LABELS]` against the loopback fake API: the
//! probes run in the workloads' namespace wearing their labels (kept out of
//! Services by a readiness gate), the namespace's and the DNS namespace's
//! NetworkPolicies judge every check, and only the probes are removed.

mod kube_fake;

use kube_fake::{FakeApi, FakeState};
use netcheck::kube::{KubeOptions, KubeRuntime};
use netcheck::model::report::Expectation;
use netcheck::model::{CheckKind, FindingId, Status};
use netcheck::pipeline;
use netcheck::policy::labels::PolicyFrom;
use netcheck::runtime::{Quiet, Runtime};
use serde_json::{Value, json};

const NS: &str = "users-own";

fn opts(fake: &FakeApi, from: &str) -> KubeOptions {
    KubeOptions {
        policy_from: Some(from.parse::<PolicyFrom>().expect("a valid --policy-from")),
        ..fake.options()
    }
}

/// A Deployment's pod in `users-own`, as the API shows it.
fn workload_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "web-5d8-x2k", "namespace": NS,
            "labels": {"app": "web", "pod-template-hash": "5d8"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8",
                                 "uid": "u1", "controller": true}]
        },
        "spec": {"nodeName": "node1", "containers": [{"name": "web", "image": "nginx",
                 "ports": [{"name": "http", "containerPort": 80}]}]}
    })
}

/// Ingress to app=web denied; the DNS pods answer only their own namespace.
fn policies() -> Vec<Value> {
    vec![
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "web-deny-ingress", "namespace": NS},
               "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "dns-lockdown", "namespace": "kube-system"},
               "spec": {"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        "ingress": [{"from": [{"namespaceSelector": {"matchLabels":
                            {"kubernetes.io/metadata.name": "kube-system"}}}]}]}}),
    ]
}

async fn fake() -> FakeApi {
    let fake = FakeApi::start(FakeState {
        exec: true,
        policies: policies(),
        ..Default::default()
    })
    .await;
    fake.state()
        .pods
        .insert(format!("{NS}/web-5d8-x2k"), workload_pod());
    fake
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_wear_the_workload_labels_in_its_namespace_and_only_they_are_removed() {
    let fake = fake().await;
    let rt = KubeRuntime::new(opts(&fake, NS)).await.expect("kubeconfig");
    assert_eq!(rt.namespace(), NS);
    let d = rt.discover(&Quiet).await.expect("discovery");
    // The probe namespace's and the DNS namespace's policies are both there.
    let mut keys: Vec<String> = d
        .policy
        .policies
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or(""),
                p.metadata.name.as_deref().unwrap_or("")
            )
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["kube-system/dns-lockdown", "users-own/web-deny-ingress"]
    );
    let d = rt.deploy(d, &Quiet).await.expect("deploy");
    assert_eq!(d.pods.len(), 4);
    for p in &d.pods {
        assert_eq!(p.namespace, NS);
        assert_eq!(
            p.labels.get("app").map(String::as_str),
            Some("web"),
            "{p:?}"
        );
        // Controller labels are not copied (a ReplicaSet would adopt the probe).
        assert!(!p.labels.contains_key("pod-template-hash"), "{p:?}");
        assert_eq!(
            p.labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("kubectl-netcheck")
        );
    }
    {
        let st = fake.state();
        assert!(st.namespaces.is_empty(), "no namespace is created");
        let probes: Vec<&Value> = st
            .pods
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{NS}/probe-")))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(probes.len(), 4);
        for p in probes {
            assert_eq!(
                p["spec"]["readinessGates"][0]["conditionType"], "netcheck.io/out-of-service",
                "a probe wearing workload labels must stay out of the workload's Services"
            );
        }
    }
    rt.teardown().await.expect("teardown");
    let st = fake.state();
    let left: Vec<&String> = st.pods.keys().collect();
    assert_eq!(left, [&format!("{NS}/web-5d8-x2k")], "only the probes go");
    assert!(st.services.is_empty());
    assert!(st.deleted_namespaces.is_empty(), "never deletes {NS}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_namespace_policies_judge_the_run() {
    let fake = fake().await;
    let rt = KubeRuntime::new(opts(&fake, NS)).await.expect("kubeconfig");
    let report = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .expect("a report");
    // The fake agent passes everything: what the policies deny is unexpected-allow.
    let between: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::PodToPod && c.source.pod != c.target.pod)
        .collect();
    assert!(!between.is_empty());
    for c in &between {
        assert_eq!(c.status, Status::UnexpectedAllow, "{c:#?}");
        assert_eq!(c.expected, Some(Expectation::Deny));
        assert!(c.detail.contains("users-own/web-deny-ingress"), "{c:#?}");
    }
    let dns_direct: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Dns && c.target.pod.is_some())
        .collect();
    assert!(!dns_direct.is_empty());
    for c in &dns_direct {
        assert_eq!(c.status, Status::UnexpectedAllow, "{c:#?}");
        assert!(c.detail.contains("kube-system/dns-lockdown"), "{c:#?}");
    }
    let ua: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.id == FindingId::UnexpectedAllow)
        .map(|f| f.title.clone())
        .collect();
    assert_eq!(ua.len(), 2, "{ua:#?}");
    assert!(ua.iter().any(|t| t.contains("users-own/web-deny-ingress")));
    assert!(ua.iter().any(|t| t.contains("kube-system/dns-lockdown")));
    assert!(pipeline::failed(&report, false));
    assert!(fake.state().deleted_namespaces.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn given_labels_are_worn_without_reading_the_workloads() {
    let fake = fake().await;
    let rt = KubeRuntime::new(opts(&fake, "users-own/app=api,tier=back"))
        .await
        .expect("kubeconfig");
    let d = rt.discover(&Quiet).await.expect("discovery");
    let d = rt.deploy(d, &Quiet).await.expect("deploy");
    for p in &d.pods {
        assert_eq!(p.labels.get("app").map(String::as_str), Some("api"));
        assert_eq!(p.labels.get("tier").map(String::as_str), Some("back"));
    }
    rt.teardown().await.expect("teardown");
    // The workload list was never needed.
    let st = fake.state();
    assert!(
        !st.requests
            .iter()
            .any(|r| r == &format!("GET /api/v1/namespaces/{NS}/pods?")),
        "{:#?}",
        st.requests
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_without_workloads_says_how_to_name_labels() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = KubeRuntime::new(opts(&fake, NS)).await.expect("kubeconfig");
    let d = rt.discover(&Quiet).await.expect("discovery");
    let e = rt.deploy(d, &Quiet).await.expect_err("nothing to copy");
    assert!(
        e.to_string().contains("--policy-from users-own/app=NAME"),
        "{e}"
    );
    rt.teardown().await.expect("teardown");
    let st = fake.state();
    assert!(st.pods.is_empty(), "no probe was created: {:?}", st.pods);
}

#[test]
fn cli_rejects_a_different_n_and_bad_labels() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
            .args(args)
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .output()
            .expect("run the binary");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["run", "-n", "other", "--policy-from", "shop"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("leave out -n"), "{err}");
    let (code, err) = run(&["run", "--policy-from", "shop/app"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("KEY=VALUE"), "{err}");
    let (code, err) = run(&["run", "--policy-from", "Shop"]);
    assert_eq!(code, Some(2), "{err}");
}
