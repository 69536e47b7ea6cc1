//! The Kubernetes runtime against a loopback fake API serving objects captured
//! from a real v1.36 cluster: discovery, preflight denial, pods that cannot
//! start, the deadline, and cleanup after an error.

mod kube_fake;

use kube_fake::{FakeApi, FakeState, PodFate};
use netcheck::kube::{KubeOptions, KubeRuntime};
use netcheck::model::{FindingId, Status};
use netcheck::pipeline;
use netcheck::runtime::{Quiet, Runtime, RuntimeError};
use std::time::{Duration, Instant};

fn opts(fake: &FakeApi) -> KubeOptions {
    fake.options()
}

async fn runtime(_fake: &FakeApi, o: KubeOptions) -> KubeRuntime {
    KubeRuntime::new(o).await.expect("the kubeconfig loads")
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_reads_the_real_cluster_objects() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(&fake, opts(&fake)).await;
    let d = rt.discover(&Quiet).await.expect("discovery works");
    assert_eq!(d.cluster.version, "v1.36.2");
    assert_eq!(d.cluster.name, "fake-cluster");
    assert_eq!(d.cluster.server, format!("http://{}", fake.addr));
    // No CNI DaemonSet and kube-proxy outside Kubernetes: honest unknowns.
    assert_eq!(d.cluster.cni, "unknown");
    assert_eq!(d.cluster.kube_proxy_mode, "unknown");
    let names: Vec<&str> = d.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node1", "node2"]);
    assert!(d.nodes.iter().all(|n| n.ready));
    let dns = d.dns.as_ref().expect("cluster DNS found");
    assert_eq!(dns.service.ip.to_string(), "198.19.0.10");
    assert_eq!(
        dns.servers[0].pod.as_deref(),
        Some("coredns-774cd9b779-cgj2p")
    );
    assert_eq!(dns.cluster_domain, "cluster.local");
    let api = d.apiserver.as_ref().expect("kubernetes Service found");
    assert_eq!(api.port, 443);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    assert!(d.policy.namespaces.contains_key("kube-system"));
    // Discovery creates nothing.
    let st = fake.state();
    assert!(!st.saw("POST /api/v1/namespaces?"));
    assert!(st.count("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews") >= 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_flag_selects_names_and_rejects_unknown_ones() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(
        &fake,
        KubeOptions {
            nodes: Some("node2".into()),
            ..opts(&fake)
        },
    )
    .await;
    let d = rt.discover(&Quiet).await.unwrap();
    assert_eq!(d.nodes.len(), 1);
    assert_eq!(d.nodes[0].name, "node2");
    let rt = runtime(
        &fake,
        KubeOptions {
            nodes: Some("node9".into()),
            ..opts(&fake)
        },
    )
    .await;
    let e = rt.discover(&Quiet).await.unwrap_err();
    assert!(e.to_string().contains("node9"), "{e}");
    // Several names, spaces allowed.
    let rt = runtime(
        &fake,
        KubeOptions {
            nodes: Some("node2, node1".into()),
            ..opts(&fake)
        },
    )
    .await;
    let d = rt.discover(&Quiet).await.unwrap();
    let names: Vec<&str> = d.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node1", "node2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_flag_as_a_label_selector_goes_to_the_api_and_says_when_nothing_matches() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(
        &fake,
        KubeOptions {
            nodes: Some("kubernetes.io/hostname=node1".into()),
            ..opts(&fake)
        },
    )
    .await;
    let d = rt.discover(&Quiet).await.unwrap();
    let names: Vec<&str> = d.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node1"]);
    assert!(
        fake.state()
            .saw("GET /api/v1/nodes?&labelSelector=kubernetes.io%2Fhostname%3Dnode1"),
        "the selector is the API's to apply: {:?}",
        fake.state().requests
    );
    let rt = runtime(
        &fake,
        KubeOptions {
            nodes: Some("role=worker".into()),
            ..opts(&fake)
        },
    )
    .await;
    let e = rt.discover(&Quiet).await.unwrap_err().to_string();
    assert!(e.contains("no node matches --nodes role=worker"), "{e}");
    assert!(e.contains("kubectl get nodes -l role=worker"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_permission_stops_the_run_before_anything_is_created() {
    let fake = FakeApi::start(FakeState {
        deny: vec![("create".into(), "pods".into(), "exec".into())],
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let e = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .unwrap_err();
    assert!(matches!(e, RuntimeError::NotPermitted(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("create pods/exec in namespace netcheck-"),
        "{msg}"
    );
    assert!(msg.contains("docs/rbac.yaml"));
    assert!(!msg.contains('\n'));
    let st = fake.state();
    assert!(!st.saw("POST /api/v1/namespaces?"), "{:?}", st.requests);
    assert!(
        !st.requests
            .iter()
            .any(|r| r.starts_with("POST /api/v1/namespaces/"))
    );
    assert!(
        st.deleted_namespaces.is_empty(),
        "nothing to delete, nothing deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forbidden_list_names_the_permission() {
    let fake = FakeApi::start(FakeState {
        forbid_paths: vec!["/api/v1/namespaces/kube-system/pods".into()],
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let e = rt.discover(&Quiet).await.unwrap_err();
    assert!(matches!(e, RuntimeError::NotPermitted(_)));
    assert!(
        e.to_string().contains("cannot list resource \"pods\""),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_that_cannot_be_pulled_fails_fast_with_its_reason_and_cleans_up() {
    let fake = FakeApi::start(FakeState {
        fates: [
            ("node1".to_string(), PodFate::ImagePull),
            ("node2".to_string(), PodFate::ImagePull),
        ]
        .into(),
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let t = Instant::now();
    let e = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "fails in seconds, not at the deadline"
    );
    let msg = e.to_string();
    assert!(matches!(e, RuntimeError::NotReady(_)), "{e:?}");
    assert!(
        msg.contains("the first probe pod did not start on node node1"),
        "{msg}"
    );
    assert!(msg.contains("ErrImagePull"));
    assert!(
        msg.contains("Error: ImagePullBackOff"),
        "the kubelet's event: {msg}"
    );
    assert!(msg.contains("--image"));
    let st = fake.state();
    // Only the first probe was tried.
    assert_eq!(
        st.count("POST /api/v1/namespaces/netcheck-"),
        1,
        "{:?}",
        st.requests
    );
    assert_eq!(st.deleted_namespaces.len(), 1);
    assert!(st.deleted_namespaces[0].starts_with("netcheck-"));
    assert!(st.saw(&format!(
        "DELETE /api/v1/namespaces/{}",
        st.deleted_namespaces[0]
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_never_becomes_ready_hits_the_deadline_and_cleans_up() {
    let fake = FakeApi::start(FakeState {
        fates: [("node1".to_string(), PodFate::NeverReady)].into(),
        ..Default::default()
    })
    .await;
    let rt = runtime(
        &fake,
        KubeOptions {
            timeout: Duration::from_secs(3),
            ..opts(&fake)
        },
    )
    .await;
    let t = Instant::now();
    let e = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(12),
        "bounded by --timeout: {:?}",
        t.elapsed()
    );
    let msg = e.to_string();
    assert!(msg.contains("not ready within 3s"), "{msg}");
    assert!(msg.contains("ContainerCreating"), "{msg}");
    assert_eq!(fake.state().deleted_namespaces.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_pods_cannot_start_does_not_hold_the_others_up() {
    let fake = FakeApi::start(FakeState {
        fates: [("node2".to_string(), PodFate::CrashLoop)].into(),
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let d = rt.discover(&Quiet).await.unwrap();
    let t = Instant::now();
    let d = rt
        .deploy(d, &Quiet)
        .await
        .expect("node1 is enough to go on");
    assert!(t.elapsed() < Duration::from_secs(10));
    let on1: Vec<&str> = d.pods.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(
        on1,
        ["node1", "node1"],
        "two probes on the healthy node, none on node2"
    );
    // A Service per node, for its first probe.
    assert!(d.pods.iter().all(|p| {
        p.service
            .as_ref()
            .is_some_and(|s| !s.cluster_ips.is_empty())
            == p.name.ends_with('a')
    }));
    assert!(d.pods.iter().all(|p| !p.ips.is_empty()));
    let n2 = d.nodes.iter().find(|n| n.name == "node2").unwrap();
    let why = n2.reason.as_deref().expect("node2 says why");
    assert!(why.contains("CrashLoopBackOff"), "{why}");
    assert!(
        why.contains("Back-off restarting failed container"),
        "{why}"
    );
    // A Ready node where nothing could start is a finding with the pods' reasons,
    // and its cells are skipped (not silently absent) in the matrix.
    let f = d
        .findings
        .iter()
        .find(|f| f.id == netcheck::model::FindingId::ProbePodNotStarted)
        .expect("probe-pod-not-started for node2");
    assert_eq!(f.nodes, ["node2"]);
    assert!(
        f.evidence.iter().any(|e| e.contains("CrashLoopBackOff")),
        "{f:?}"
    );
    let skipped = netcheck::plan::unreached_checks(&d);
    assert_eq!(skipped.len(), 2, "node2 <-> node1, each way: {skipped:#?}");
    assert!(
        skipped
            .iter()
            .all(|c| c.detail.contains("CrashLoopBackOff"))
    );
    assert_eq!(d.hosts.len(), 1, "node1's host agent");
    assert!(d.hosts[0].tcp_port.is_some_and(|p| p >= 61000));
    // node2's host inspection reports the reason instead of hanging.
    let e = rt.inspect_host("node2").await.unwrap_err();
    assert!(e.to_string().contains("did not start"), "{e}");
    // The namespace we created carries our labels and privileged PSA.
    {
        let st = fake.state();
        let ns = st.namespaces.values().next().unwrap();
        assert_eq!(
            ns["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "kubectl-netcheck"
        );
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "privileged"
        );
        let pod = st
            .pods
            .values()
            .find(|p| p["spec"]["hostNetwork"] == true)
            .unwrap();
        assert_eq!(pod["spec"]["volumes"][0]["hostPath"]["path"], "/");
    }
    rt.teardown().await.unwrap();
    rt.teardown().await.expect("a second teardown is harmless");
    assert_eq!(fake.state().deleted_namespaces.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_errors_become_error_checks_and_the_namespace_is_deleted() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(&fake, opts(&fake)).await;
    let report = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .expect("a report despite exec errors");
    assert!(!report.checks.is_empty());
    assert!(
        report.checks.iter().all(|c| c.status == Status::Error),
        "no exec, no verdicts"
    );
    assert!(
        report.checks[0]
            .detail
            .contains("could not run the probe agent"),
        "{}",
        report.checks[0].detail
    );
    assert_eq!(report.hosts.len(), 2);
    assert!(report.hosts.iter().all(|h| !h.unavailable.is_empty()));
    assert!(pipeline::failed(&report, false));
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.id == FindingId::NodeNotReady)
    );
    let st = fake.state();
    assert_eq!(st.deleted_namespaces.len(), 1);
    assert!(st.saw("POST /api/v1/namespaces/netcheck-"));
    let made = st
        .requests
        .iter()
        .filter(|r| r.starts_with("POST /api/v1/namespaces/netcheck-") && r.contains("/services?"))
        .count();
    assert_eq!(made, 2, "a Service per node");
    assert!(st.services.is_empty(), "and each deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_leaves_the_namespace() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(&fake, opts(&fake)).await;
    let o = pipeline::Options {
        keep: true,
        no_host: true,
        ..Default::default()
    };
    pipeline::run(&rt, &o, &Quiet).await.unwrap();
    assert!(fake.state().deleted_namespaces.is_empty());
    assert_eq!(fake.state().namespaces.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restricted_namespace_runs_without_host_pods_and_removes_only_its_own_objects() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(
        &fake,
        KubeOptions {
            namespace: Some("restricted-ns".into()),
            ..opts(&fake)
        },
    )
    .await;
    let d = rt.discover(&Quiet).await.unwrap();
    let d = rt.deploy(d, &Quiet).await.unwrap();
    assert!(d.hosts.is_empty());
    let e = rt.inspect_host("node1").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("enforces Pod Security \"restricted\""),
        "{e}"
    );
    {
        let st = fake.state();
        assert!(
            st.namespaces.is_empty(),
            "the given namespace is used, none created"
        );
        let p = st.pods.values().next().unwrap();
        assert_eq!(
            p["spec"]["containers"][0]["securityContext"]["runAsNonRoot"],
            true
        );
    }
    rt.teardown().await.unwrap();
    let st = fake.state();
    assert!(st.pods.is_empty() && st.services.is_empty());
    assert!(
        st.deleted_namespaces.is_empty(),
        "never deletes a namespace it did not make"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_deletes_only_labelled_namespaces() {
    let fake = FakeApi::start(FakeState::default()).await;
    {
        let mut st = fake.state();
        for (name, ours) in [("netcheck-old1", true), ("netcheck-lookalike", false)] {
            let labels = if ours {
                serde_json::json!({"app.kubernetes.io/managed-by": "kubectl-netcheck"})
            } else {
                serde_json::json!({})
            };
            st.namespaces.insert(
                name.into(),
                serde_json::json!({"metadata": {"name": name, "labels": labels}}),
            );
        }
    }
    let conn = netcheck::kube::connect(Some(&fake.kubeconfig), None, Duration::from_secs(5))
        .await
        .unwrap();
    let removed = netcheck::kube::cleanup_leftovers(&conn.client, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(removed, ["namespace netcheck-old1"]);
    let st = fake.state();
    assert_eq!(st.deleted_namespaces, ["netcheck-old1"]);
    assert!(st.namespaces.contains_key("netcheck-lookalike"));
}

/// Before Kubernetes 1.30 (v4 channel protocol) stdin cannot be closed on its
/// own: a client that closes it after sending the plan loses the answer. The
/// plan is a JSON document the agent reads to its end, so stdin stays open.
#[tokio::test(flavor = "multi_thread")]
async fn exec_works_over_the_v4_protocol_of_older_clusters() {
    let fake = FakeApi::start(FakeState {
        exec: true,
        exec_v4: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        pipeline::run(&rt, &Default::default(), &Quiet),
    )
    .await
    .expect("no hang")
    .expect("a report");
    assert!(!report.checks.is_empty());
    let not_passed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_and_host_inspection_run_over_exec_and_come_back_as_checks() {
    let fake = FakeApi::start(FakeState {
        exec: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let report = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .expect("a report");
    let not_passed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    use netcheck::model::CheckKind;
    for kind in [
        CheckKind::PodToPod,
        CheckKind::PodToService,
        CheckKind::NodeToPod,
        CheckKind::PodToNode,
        CheckKind::PodToApiserver,
        CheckKind::Dns,
        CheckKind::Mtu,
    ] {
        assert!(
            report.checks.iter().any(|c| c.kind == kind),
            "no {kind:?} check"
        );
    }
    // Same-node pairs exist: two probes per node.
    assert!(report.checks.iter().any(|c| c.kind == CheckKind::PodToPod
        && c.source.node == c.target.node
        && c.source.pod != c.target.pod));
    let hosts: Vec<&str> = report.hosts.iter().map(|h| h.node.as_str()).collect();
    assert_eq!(hosts, ["node1", "node2"]);
    assert!(
        report.hosts.iter().all(|h| h.unavailable.is_empty()),
        "{:#?}",
        report.hosts
    );
    assert!(!pipeline::failed(&report, false));
    let st = fake.state();
    // 4 probe pods + 2 host agents ran `agent probe`; 2 host pods ran inspect-host.
    let probes = st
        .execs
        .iter()
        .filter(|(_, a)| a.iter().any(|x| x == "probe"))
        .count();
    assert_eq!(probes, 6, "{:?}", st.execs);
    let inspects: Vec<&(String, Vec<String>)> = st
        .execs
        .iter()
        .filter(|(_, a)| a.iter().any(|x| x == "inspect-host"))
        .collect();
    assert_eq!(inspects.len(), 2);
    assert!(
        inspects
            .iter()
            .all(|(pod, a)| pod.starts_with("host-") && a.contains(&"/host".to_string()))
    );
    assert_eq!(st.deleted_namespaces.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_privileged_namespace_label_means_no_host_pods_not_no_run() {
    let fake = FakeApi::start(FakeState {
        refuse_privileged_namespaces: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let d = rt.discover(&Quiet).await.unwrap();
    let d = rt.deploy(d, &Quiet).await.expect("the run goes on");
    assert!(d.hosts.is_empty());
    assert_eq!(d.pods.len(), 4);
    let e = rt.inspect_host("node1").await.unwrap_err().to_string();
    assert!(
        e.contains("could not be labelled pod-security.kubernetes.io/enforce=privileged"),
        "{e}"
    );
    assert!(e.contains("privileged namespaces are not allowed"), "{e}");
    {
        let st = fake.state();
        assert!(!st.pods.values().any(|p| p["spec"]["hostNetwork"] == true));
    }
    rt.teardown().await.unwrap();
    assert_eq!(fake.state().deleted_namespaces.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn pod_security_rejecting_the_first_probe_fails_in_seconds_with_the_reason() {
    let fake = FakeApi::start(FakeState {
        reject_pods: Some(
            "pods \"probe-node1-0a\" is forbidden: violates PodSecurity \"restricted:latest\": unrestricted capabilities (container \"agent\" must set securityContext.capabilities.drop=[\"ALL\"])".into(),
        ),
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let t = Instant::now();
    let e = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(matches!(e, RuntimeError::NotPermitted(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("Pod Security Admission rejected pod probe-node1-0a"),
        "{msg}"
    );
    assert!(
        msg.contains("violates PodSecurity \"restricted:latest\""),
        "{msg}"
    );
    let st = fake.state();
    assert_eq!(
        st.count("POST /api/v1/namespaces/netcheck-"),
        1,
        "only the first probe was tried"
    );
    assert_eq!(st.deleted_namespaces.len(), 1);
}

/// A node whose CNI cannot set pods up (the captured FailedCreatePodSandBox:
/// `failed to find plugin "calico" in path [/usr/lib/cni]`) keeps its pods in
/// ContainerCreating forever; the run must not wait out --timeout for it.
async fn run_with_a_broken_cni_on(node: &str) -> (KubeRuntime, netcheck::model::Report, Duration) {
    let fake = FakeApi::start(FakeState {
        fates: [(node.to_string(), PodFate::SandboxFailed)].into(),
        exec: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(
        &fake,
        KubeOptions {
            // The default --timeout.
            timeout: Duration::from_secs(300),
            ..opts(&fake)
        },
    )
    .await;
    let t = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        pipeline::run(&rt, &Default::default(), &Quiet),
    )
    .await
    .expect("the run does not wait out --timeout for the broken node")
    .expect("a report: the other node is probed");
    (rt, report, t.elapsed())
}

fn assert_broken_cni_reported(
    rt: &KubeRuntime,
    report: &netcheck::model::Report,
    broken: &str,
    took: Duration,
) {
    let healthy = if broken == "node1" { "node2" } else { "node1" };
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let f = report
        .findings
        .iter()
        .find(|f| f.id == FindingId::ProbePodNotStarted)
        .expect("probe-pod-not-started");
    assert_eq!(f.nodes, [broken]);
    assert!(f.title.contains("the CNI failed"), "{}", f.title);
    assert!(
        f.evidence.iter().any(|e| e
            .contains("FailedCreatePodSandBox: Failed to create pod sandbox")
            && e.contains("failed to find plugin \"calico\" in path [/usr/lib/cni]")),
        "the kubelet's words: {:#?}",
        f.evidence
    );
    // The healthy node was probed.
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.source.node.as_deref() == Some(healthy)
                && c.target.node.as_deref() == Some(healthy)
                && c.status == Status::Pass),
        "{:#?}",
        report.checks
    );
    // Teardown did not wait for the broken node's pods: it says how to finish.
    let notes = rt.cleanup_notes();
    assert!(
        notes.iter().any(|n| n.contains(broken)
            && n.contains("--force --grace-period=0")
            && n.contains("kubectl -n netcheck-")),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_cni_cannot_set_pods_up_is_not_started_and_the_others_are_probed() {
    let (rt, report, took) = run_with_a_broken_cni_on("node2").await;
    assert_broken_cni_reported(&rt, &report, "node2", took);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_cni_on_the_canary_node_moves_the_canary_on() {
    let (rt, report, took) = run_with_a_broken_cni_on("node1").await;
    assert_broken_cni_reported(&rt, &report, "node1", took);
}

/// Progress that remembers what it was told.
#[derive(Default)]
struct Told(std::sync::Mutex<Vec<String>>);
impl netcheck::runtime::Progress for Told {
    fn message(&self, msg: &str) {
        self.0.lock().unwrap().push(msg.to_string());
    }
}

/// kube-proxy REJECTs a Service without endpoints: probing as soon as the
/// pods are Ready, before the EndpointSlices list them, answers "refused".
#[tokio::test(flavor = "multi_thread")]
async fn deploy_waits_until_each_probe_service_lists_its_pod_ready() {
    let fake = FakeApi::start(FakeState {
        endpoints_after: Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let d = rt.discover(&Quiet).await.unwrap();
    let told = Told::default();
    let d = rt.deploy(d, &told).await.unwrap();
    assert_eq!(d.pods.len(), 4);
    {
        let st = fake.state();
        for (pod, made) in st.pod_created.iter().filter(|(k, _)| k.contains("/probe-")) {
            assert!(
                made.elapsed() >= Duration::from_secs(3),
                "deploy returned before {pod}'s endpoint was ready"
            );
        }
        assert!(st.saw("GET /apis/discovery.k8s.io/v1/namespaces/netcheck-"));
    }
    let told = told.0.lock().unwrap().clone();
    assert!(!told.iter().any(|m| m.contains("did not list")), "{told:?}");
    rt.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_that_never_come_are_waited_for_boundedly_and_named() {
    let fake = FakeApi::start(FakeState {
        endpoints_never: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(
        &fake,
        KubeOptions {
            timeout: Duration::from_secs(6),
            ..opts(&fake)
        },
    )
    .await;
    let t = Instant::now();
    let d = rt.discover(&Quiet).await.unwrap();
    let told = Told::default();
    let d = tokio::time::timeout(Duration::from_secs(30), rt.deploy(d, &told))
        .await
        .expect("bounded")
        .expect("the run goes on");
    assert!(t.elapsed() < Duration::from_secs(12), "{:?}", t.elapsed());
    assert_eq!(d.pods.len(), 4, "the probes still run");
    let told = told.0.lock().unwrap().clone();
    let said = told
        .iter()
        .find(|m| m.contains("did not list their pod ready"))
        .unwrap_or_else(|| panic!("says so: {told:?}"));
    assert!(said.contains("2 probe Service(s)"), "one per node: {said}");
    assert!(said.contains("probe-node1-0a"), "{said}");
    rt.teardown().await.unwrap();
}

/// Namespace finalisation was most of a healthy run: the run deletes its
/// pods (no grace period) and Services, asks for the namespace to go, and
/// does not wait for it unless --wait-cleanup.
#[tokio::test(flavor = "multi_thread")]
async fn teardown_does_not_wait_on_a_namespace_stuck_in_terminating() {
    let fake = FakeApi::start(FakeState {
        namespaces_stick: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let o = pipeline::Options {
        no_host: true,
        ..Default::default()
    };
    let report = pipeline::run(&rt, &o, &Quiet).await.expect("a report");
    let cleanup = report.summary.stages_ms["cleanup"];
    assert!(cleanup < 3000, "teardown took {cleanup} ms");
    let st = fake.state();
    assert_eq!(st.deleted_namespaces.len(), 1);
    let ns = &st.deleted_namespaces[0];
    assert_eq!(st.namespaces[ns]["status"]["phase"], "Terminating");
    assert!(
        st.pods.is_empty(),
        "each probe pod deleted: {:?}",
        st.pods.keys()
    );
    // The Services go with the namespace (the namespace controller's
    // work, not the run's: no call each).
    assert!(
        !st.requests
            .iter()
            .any(|r| r.starts_with("DELETE ") && r.contains("/services/")),
        "{:?}",
        st.requests
    );
    assert_eq!(st.pod_delete_grace.len(), 6, "4 probes, 2 host pods");
    assert!(
        st.pod_delete_grace.values().all(|g| *g == Some(0)),
        "{:?}",
        st.pod_delete_grace
    );
    assert!(rt.cleanup_notes().is_empty(), "{:?}", rt.cleanup_notes());
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_cleanup_waits_boundedly_and_says_what_is_left() {
    let fake = FakeApi::start(FakeState {
        namespaces_stick: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(
        &fake,
        KubeOptions {
            wait_cleanup: true,
            timeout: Duration::from_secs(4),
            ..opts(&fake)
        },
    )
    .await;
    let d = rt.discover(&Quiet).await.unwrap();
    rt.deploy(d, &Quiet).await.unwrap();
    let t = Instant::now();
    rt.teardown().await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let notes = rt.cleanup_notes();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("still terminating after 4s")
                && n.contains("kubectl netcheck cleanup")),
        "{notes:?}"
    );
}

/// `-n` runs leave nothing but their own pods and Services; `cleanup` finds
/// those by label in namespaces that stay, and touches nothing else there.
#[tokio::test(flavor = "multi_thread")]
async fn cleanup_finds_probes_left_in_existing_namespaces() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(
        &fake,
        KubeOptions {
            namespace: Some("users-own".into()),
            ..opts(&fake)
        },
    )
    .await;
    let o = pipeline::Options {
        keep: true,
        ..Default::default()
    };
    pipeline::run(&rt, &o, &Quiet).await.unwrap();
    let advice = rt.keep_advice();
    assert!(
        advice.contains("`kubectl -n users-own delete pods,services -l netcheck.io/run="),
        "{advice}"
    );
    assert!(!advice.contains("delete namespace"), "{advice}");
    {
        let mut st = fake.state();
        assert_eq!(st.pods.len(), 6);
        // The user's own pod and Service, and a probe namespace of an older run.
        st.pods.insert(
            "users-own/web".into(),
            serde_json::json!({"metadata": {"name": "web", "namespace": "users-own", "labels": {"app": "web"}}}),
        );
        st.services.insert(
            "users-own/web".into(),
            serde_json::json!({"metadata": {"name": "web", "namespace": "users-own", "labels": {"app": "web"}}}),
        );
        st.namespaces.insert(
            "netcheck-old1".into(),
            serde_json::json!({"metadata": {"name": "netcheck-old1", "labels": {"app.kubernetes.io/managed-by": "kubectl-netcheck"}}}),
        );
    }
    let conn = netcheck::kube::connect(Some(&fake.kubeconfig), None, Duration::from_secs(5))
        .await
        .unwrap();
    let removed = netcheck::kube::cleanup_leftovers(&conn.client, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(removed[0], "namespace netcheck-old1");
    assert!(
        removed.contains(&"pod users-own/probe-node1-0a".to_string()),
        "{removed:?}"
    );
    assert!(
        removed.contains(&"pod users-own/host-node2-1".to_string()),
        "{removed:?}"
    );
    assert!(
        removed.contains(&"Service users-own/probe-node2-1a".to_string()),
        "{removed:?}"
    );
    assert_eq!(removed.len(), 1 + 6 + 2, "{removed:?}");
    let st = fake.state();
    let left: Vec<&String> = st.pods.keys().chain(st.services.keys()).collect();
    assert_eq!(left, ["users-own/web", "users-own/web"]);
    assert!(!st.deleted_namespaces.contains(&"users-own".to_string()));
    assert!(st.pod_delete_grace.values().all(|g| *g == Some(0)));
}

/// A healthy run on `nodes` nodes (2 captured + extras), with each create
/// and each agent taking `delay`: the report and the fake's record.
async fn budget_run(
    nodes: usize,
    delay: Duration,
    namespace: Option<&str>,
) -> (FakeApi, KubeRuntime, netcheck::model::Report) {
    let fake = FakeApi::start(FakeState {
        exec: true,
        extra_nodes: nodes - 2,
        create_delay: delay,
        exec_delay: delay,
        ..Default::default()
    })
    .await;
    let o = KubeOptions {
        namespace: namespace.map(str::to_string),
        ..opts(&fake)
    };
    let rt = runtime(&fake, o).await;
    let report = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .expect("a report");
    (fake, rt, report)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_writes_at_most_4n_plus_10_and_counts_its_calls_like_the_api_server() {
    for n in [3usize, 12] {
        let (fake, rt, report) = budget_run(n, Duration::ZERO, None).await;
        assert_eq!(report.hosts.len(), n, "every node probed");
        let not_passed = report
            .checks
            .iter()
            .filter(|c| c.status != Status::Pass)
            .count();
        assert_eq!(not_passed, 0, "{n} nodes: a healthy run");
        let st = fake.state();
        // Access reviews are POSTs that store nothing: counted apart.
        let writes = st.writes() - st.reviews();
        eprintln!(
            "{n} nodes: {} calls, {writes} writes, {} reviews, {} execs",
            st.total(),
            st.reviews(),
            st.execs.len()
        );
        assert!(writes <= 4 * n + 10, "{n} nodes: {writes} writes");
        // 3 pods and 1 Service per node, the namespace, its deletion, and
        // the pods in one deletecollection: NodePort Services cost no write more.
        assert_eq!(writes, 4 * n + 3, "{n} nodes: {:?}", st.verbs);
        // Each node's Service is a NodePort (tcp and udp), and every node
        // is dialled at it from every pod (2 per node) and host agent.
        assert_eq!(st.node_ports_allocated as usize, 2 * n);
        let nodeport: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.kind == netcheck::model::CheckKind::Nodeport)
            .collect();
        assert_eq!(nodeport.len(), 3 * n * n, "{n} nodes");
        assert!(nodeport.iter().all(|c| {
            c.port.is_some_and(|p| (30000..32768).contains(&p))
                && report.nodes.iter().any(|node| {
                    Some(&node.name) == c.target.node.as_ref()
                        && c.target
                            .ip
                            .is_some_and(|ip| node.internal_ips.contains(&ip))
                })
        }));
        assert_eq!(st.count("DELETE /api/v1/namespaces/netcheck-"), 2);
        assert!(st.pods.is_empty(), "every pod deleted");
        // The runtime counts what the API server saw.
        let calls = rt.api_calls();
        assert_eq!(calls.total(), st.total(), "{:?}", st.verbs);
        assert_eq!(calls.writes(), st.writes());
        assert_eq!(calls.reviews(), st.reviews());
        assert_eq!(calls.execs(), st.execs.len());
    }
}

/// The probe Service is created as a NodePort; the deployment carries the
/// TCP nodePort the API server allocated (the `nodeport` checks' target).
#[tokio::test(flavor = "multi_thread")]
async fn the_probe_services_are_node_ports_and_the_plan_reads_the_allocated_port() {
    let fake = FakeApi::start(FakeState::default()).await;
    let rt = runtime(&fake, opts(&fake)).await;
    let d = rt.discover(&Quiet).await.unwrap();
    let d = rt.deploy(d, &Quiet).await.expect("deployed");
    let created: Vec<serde_json::Value> = fake.state().services.values().cloned().collect();
    assert_eq!(created.len(), 2, "one per node");
    for svc in &created {
        assert_eq!(svc["spec"]["type"], "NodePort", "{svc}");
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Cluster", "{svc}");
    }
    for p in d.pods.iter().filter(|p| p.service.is_some()) {
        let s = p.service.as_ref().unwrap();
        let svc = &created
            .iter()
            .find(|c| c["metadata"]["name"] == s.name.as_str())
            .expect("created");
        let tcp = svc["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "tcp")
            .unwrap();
        assert_eq!(
            s.node_port.map(u64::from),
            tcp["nodePort"].as_u64(),
            "{svc}"
        );
    }
    rt.teardown().await.unwrap();
}

/// A cluster that refuses NodePorts (the range full, a policy): the Service
/// is made as a ClusterIP instead, one write more per refused Service, and
/// the run goes on without nodeport checks.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_node_port_falls_back_to_a_cluster_ip_service() {
    let fake = FakeApi::start(FakeState {
        exec: true,
        refuse_node_ports: true,
        ..Default::default()
    })
    .await;
    let rt = runtime(&fake, opts(&fake)).await;
    let report = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .expect("a report");
    let st = fake.state();
    let service_posts = st
        .requests
        .iter()
        .filter(|r| r.starts_with("POST /api/v1/namespaces/netcheck-") && r.contains("/services?"))
        .count();
    assert_eq!(
        service_posts,
        2 + 2,
        "each refused NodePort, then its ClusterIP"
    );
    assert_eq!(st.node_ports_allocated, 0);
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.kind == netcheck::model::CheckKind::PodToService && c.status == Status::Pass)
    );
    assert!(
        !report
            .checks
            .iter()
            .any(|c| c.kind == netcheck::model::CheckKind::Nodeport)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_in_a_given_namespace_writes_4n_plus_1_and_leaves_nothing() {
    for n in [3usize, 12] {
        let (fake, _rt, report) = budget_run(n, Duration::ZERO, Some("default")).await;
        assert_eq!(report.hosts.len(), n);
        let st = fake.state();
        let writes = st.writes() - st.reviews();
        // 3N pods, N Services, one deletecollection; the Services go with
        // their pods (owned by them), no namespace.
        assert_eq!(writes, 4 * n + 1, "{n} nodes: {:?}", st.verbs);
        assert!(st.pods.is_empty() && st.services.is_empty());
        assert!(
            !st.requests
                .iter()
                .any(|r| r.starts_with("DELETE ") && r.contains("/services/")),
            "the garbage collector deletes the Services"
        );
        assert!(st.deleted_namespaces.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_and_execs_stay_within_their_concurrency_limits() {
    use netcheck::kube::{MAX_CREATES_IN_FLIGHT, MAX_EXECS_IN_FLIGHT};
    // 12 nodes: 35 pod and 12 Service creates after the canary, 36 agents.
    let (fake, _rt, report) = budget_run(12, Duration::from_millis(150), None).await;
    assert_eq!(report.hosts.len(), 12);
    let st = fake.state();
    assert!(
        st.max_creates_in_flight <= MAX_CREATES_IN_FLIGHT,
        "{} creates at once",
        st.max_creates_in_flight
    );
    assert!(
        st.max_creates_in_flight > 1,
        "the creates run in parallel, {}",
        st.max_creates_in_flight
    );
    assert!(
        st.max_execs_open <= MAX_EXECS_IN_FLIGHT,
        "{} exec streams at once",
        st.max_execs_open
    );
    assert!(st.max_execs_open > 1, "{}", st.max_execs_open);
}

/// A cluster serving Cilium's, Calico's and the admin policy kinds, one of
/// them forbidden to netcheck's identity.
fn with_policy_kinds(cnp_namespace: &str) -> FakeState {
    use serde_json::json;
    let obj = |api: &str, kind: &str, name: &str, ns: Option<&str>| {
        let mut o =
            json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": {}});
        if let Some(ns) = ns {
            o["metadata"]["namespace"] = json!(ns);
        }
        o
    };
    let mut st = FakeState {
        exec: true,
        ..Default::default()
    };
    for (g, v) in [
        ("cilium.io", "v2"),
        ("crd.projectcalico.org", "v1"),
        ("projectcalico.org", "v3"),
        ("policy.networking.k8s.io", "v1alpha1"),
    ] {
        st.api_groups.push((g.into(), v.into()));
    }
    st.custom.insert(
        "cilium.io/v2/ciliumnetworkpolicies".into(),
        vec![
            obj(
                "cilium.io/v2",
                "CiliumNetworkPolicy",
                "l7-only",
                Some(cnp_namespace),
            ),
            obj(
                "cilium.io/v2",
                "CiliumNetworkPolicy",
                "deny-db",
                Some("team-b"),
            ),
        ],
    );
    st.custom.insert(
        "cilium.io/v2/ciliumclusterwidenetworkpolicies".into(),
        Vec::new(),
    );
    st.custom.insert(
        "crd.projectcalico.org/v1/networkpolicies".into(),
        Vec::new(),
    );
    st.custom.insert(
        "policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies".into(),
        Vec::new(),
    );
    st.custom.insert(
        "policy.networking.k8s.io/v1alpha1/adminnetworkpolicies".into(),
        Vec::new(),
    );
    // Calico's GlobalNetworkPolicies exist but may not be listed; its API
    // server's group serves no networkpolicies here (404: left out).
    st.custom.insert(
        "crd.projectcalico.org/v1/globalnetworkpolicies".into(),
        Vec::new(),
    );
    st.forbid_paths
        .push("/apis/crd.projectcalico.org/v1/globalnetworkpolicies".into());
    st
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_kinds_beyond_networkpolicy_are_found_a_forbidden_one_is_said_and_checks_are_not_judged()
 {
    use netcheck::model::report::Expectation;
    let fake = FakeApi::start(with_policy_kinds("team-a")).await;
    let rt = runtime(&fake, opts(&fake)).await;
    let report = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .expect("a forbidden policy list does not fail the run");
    let kinds: Vec<(String, Option<usize>, Vec<String>, bool)> = report
        .cluster
        .policy_kinds
        .iter()
        .map(|k| (k.label(), k.count, k.namespaces.clone(), k.error.is_some()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "CiliumNetworkPolicy (cilium.io/v2)".to_string(),
                Some(2),
                vec!["team-a".to_string(), "team-b".to_string()],
                false
            ),
            (
                "CiliumClusterwideNetworkPolicy (cilium.io/v2)".into(),
                Some(0),
                vec![],
                false
            ),
            (
                "NetworkPolicy (crd.projectcalico.org/v1)".into(),
                Some(0),
                vec![],
                false
            ),
            (
                "GlobalNetworkPolicy (crd.projectcalico.org/v1)".into(),
                None,
                vec![],
                true
            ),
            (
                "AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)".into(),
                Some(0),
                vec![],
                false
            ),
            (
                "BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)".into(),
                Some(0),
                vec![],
                false
            ),
        ]
    );
    let gnp = &report.cluster.policy_kinds[3];
    assert!(
        gnp.error.as_deref().unwrap().starts_with(
            "forbidden: may not list globalnetworkpolicies.crd.projectcalico.org (docs/rbac.yaml grants it)"
        ),
        "{gnp:?}"
    );
    // GlobalNetworkPolicies that could not be listed may be anywhere: every
    // check to or from a pod is not judged, and all of them passed.
    for c in &report.checks {
        assert_eq!(c.status, Status::Pass, "{c:?}");
        if c.source.pod.is_some() || c.target.pod.is_some() {
            assert_eq!(c.expected, Some(Expectation::NotJudged), "{c:?}");
            assert!(
                c.detail.contains("not judged: GlobalNetworkPolicy"),
                "{}",
                c.detail
            );
        }
    }
    assert!(!pipeline::failed(&report, false));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["cluster"]["policyKinds"][0]["kind"],
        "CiliumNetworkPolicy"
    );
    let st = fake.state();
    assert!(st.saw("GET /apis?"), "{:?}", st.requests);
    // A group that serves no such resource answers 404: asked, left out.
    assert!(st.saw("GET /apis/projectcalico.org/v3/globalnetworkpolicies"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespaced_policy_kind_governs_only_checks_touching_its_namespace() {
    use netcheck::model::CheckKind;
    use netcheck::model::report::Expectation;
    // A CiliumNetworkPolicy in kube-system (where CoreDNS runs), the
    // GlobalNetworkPolicies listable and none of them there.
    let mut st = with_policy_kinds("kube-system");
    st.forbid_paths.clear();
    // No admin network policies here: that group is not even asked.
    st.api_groups
        .retain(|(g, _)| g != "policy.networking.k8s.io");
    let fake = FakeApi::start(st).await;
    let rt = runtime(&fake, opts(&fake)).await;
    let report = pipeline::run(&rt, &Default::default(), &Quiet)
        .await
        .expect("a report");
    for c in &report.checks {
        let want = (c.kind == CheckKind::Dns).then_some(Expectation::NotJudged);
        assert_eq!(c.expected, want, "{c:?}");
    }
    assert!(report.checks.iter().any(|c| c.kind == CheckKind::Dns));
    let kinds: Vec<String> = report
        .cluster
        .policy_kinds
        .iter()
        .map(|k| k.label())
        .collect();
    assert!(
        !kinds.iter().any(|k| k.contains("AdminNetworkPolicy")),
        "{kinds:?}"
    );
    assert!(!fake.state().saw("GET /apis/policy.networking.k8s.io"));
}
