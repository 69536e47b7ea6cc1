//! Deploy as named steps: [`KubeRuntime::create_namespace`] (with the Pod
//! Security fallback), [`node_plans`], [`KubeRuntime::start_first_probe`]
//! (the fail-fast canary), [`KubeRuntime::create_probes`] (pods, Services,
//! create errors), `wait_pods` (wait.rs) and the pure [`collect_probes`]
//! (what came up, as `ProbePod`, `HostAgent` and lost-node findings).

use super::client::{api_error, call_bound, unreachable};
use super::discover;
use super::manifests::{self, RunSpec};
use super::pods;
use super::runtime::{KubeRuntime, MAX_CREATES_IN_FLIGHT};
use crate::model::Deployment;
use crate::model::topology::{HostAgent, ProbePod};
use crate::runtime::{Progress, Result, RuntimeError};
use ::kube::api::{Api, ListParams, PostParams};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::BTreeMap;
use std::time::Instant;

/// One node's objects.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NodePlan {
    pub node: String,
    pub probes: Vec<String>,
    pub host: Option<String>,
}

/// Probe name → the labels it wears (`--policy-from`).
pub(super) type Wear = BTreeMap<String, BTreeMap<String, String>>;

/// Two probe pods per Ready node, and a host pod unless host inspection is
/// off. No Ready node: nothing to probe.
pub(super) fn node_plans(d: &Deployment, with_hosts: bool) -> Result<Vec<NodePlan>> {
    let plans: Vec<NodePlan> = d
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.ready)
        .map(|(i, n)| NodePlan {
            node: n.name.clone(),
            probes: vec![
                manifests::probe_name(&n.name, i, 'a'),
                manifests::probe_name(&n.name, i, 'b'),
            ],
            host: with_hosts.then(|| manifests::host_pod_name(&n.name, i)),
        })
        .collect();
    if plans.is_empty() {
        return Err(RuntimeError::NotReady(
            "no node is Ready; nothing to probe".into(),
        ));
    }
    Ok(plans)
}

/// A probe pod, wearing the workload labels `--policy-from` gave it.
fn probe_pod(run: &RunSpec, wear: &Wear, name: &str, node: &str) -> Pod {
    let mut pod = manifests::probe_pod(run, name, node);
    if let Some(labels) = wear.get(name) {
        let clashes = manifests::wear_labels(&mut pod, labels);
        if !clashes.is_empty() {
            tracing::warn!(
                "probe {name} keeps its own {} label(s) instead of the workload's: policies selecting on them do not see it as the workload",
                clashes.join(", ")
            );
        }
    }
    pod
}

/// A probe's Service, owned by its pod: the garbage collector deletes it
/// with the pod (no blockOwnerDeletion: that would need more permissions).
/// A NodePort, or a ClusterIP when `node_port` is false.
fn owned_service(run: &RunSpec, name: &str, uid: &str, node_port: bool) -> Service {
    let mut svc = manifests::probe_service(run, name);
    if !node_port {
        svc = manifests::as_cluster_ip(svc);
    }
    svc.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: name.into(),
            uid: uid.into(),
            ..Default::default()
        },
    ]);
    svc
}

fn is_node_port(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("NodePort")
}

/// What came up, from the pods the API lists, the Services created and the
/// pods that did not start.
#[derive(Debug, Default)]
pub(super) struct Collected {
    /// node → its ready host pod.
    pub host_pods: BTreeMap<String, String>,
    /// node → why it has no host agent.
    pub host_unavailable: BTreeMap<String, String>,
    /// What to tell the user: nodes whose probes did not start.
    pub messages: Vec<String>,
}

/// Fill the deployment in: a `ProbePod` per ready probe (with its Service),
/// a `HostAgent` per ready host pod, and for each node that lost probe pods
/// its `reason` and (when Ready) a probe-pod-not-started finding.
pub(super) fn collect_probes(
    d: &mut Deployment,
    plans: &[NodePlan],
    live: &[Pod],
    failed: &BTreeMap<String, String>,
    services: &BTreeMap<String, Service>,
    run: &RunSpec,
) -> Collected {
    let mut out = Collected::default();
    let by_name: BTreeMap<String, &Pod> = live
        .iter()
        .filter_map(|p| Some((p.metadata.name.clone()?, p)))
        .collect();
    for plan in plans {
        for name in &plan.probes {
            if failed.contains_key(name) {
                continue;
            }
            let Some(pod) = by_name.get(name) else {
                continue;
            };
            d.pods.push(ProbePod {
                name: name.clone(),
                namespace: run.namespace.clone(),
                node: plan.node.clone(),
                ips: pod_ips(pod),
                ports: run.ports,
                labels: pod.metadata.labels.clone().unwrap_or_default(),
                service: services.get(name).map(discover::service_target),
            });
        }
        if let Some(h) = &plan.host {
            match failed.get(h) {
                Some(why) => {
                    out.host_unavailable.insert(
                        plan.node.clone(),
                        format!("the host pod did not start: {why}"),
                    );
                }
                None => {
                    let ips = d
                        .nodes
                        .iter()
                        .find(|n| n.name == plan.node)
                        .map(|n| n.internal_ips.clone())
                        .unwrap_or_default();
                    d.hosts.push(HostAgent {
                        node: plan.node.clone(),
                        ips,
                        tcp_port: Some(run.host_port),
                    });
                    out.host_pods.insert(plan.node.clone(), h.clone());
                }
            }
        }
        let lost: Vec<String> = plan
            .probes
            .iter()
            .filter_map(|p| failed.get(p).cloned())
            .collect();
        if !lost.is_empty()
            && let Some(n) = d.nodes.iter_mut().find(|n| n.name == plan.node)
        {
            let why = format!(
                "probe pods did not start, checks from and to this node are skipped: {}",
                lost.join("; ")
            );
            out.messages.push(format!("node {}: {why}", plan.node));
            n.reason = Some(why);
            if n.ready {
                d.findings
                    .push(discover::probe_pod_not_started(&plan.node, &lost));
            }
        }
    }
    out
}

impl KubeRuntime {
    /// The run's own namespace (unless `-n`): labelled Pod Security
    /// privileged for the host pods; if that label is refused, created
    /// without it and the run goes on without host inspection.
    pub(super) async fn create_namespace(
        &self,
        run: &RunSpec,
        d: &mut Deployment,
        progress: &dyn Progress,
    ) -> Result<()> {
        if self.opts.namespace.is_some() {
            return Ok(());
        }
        let ns = &run.namespace;
        progress.message(&format!("creating namespace {ns}"));
        let api: Api<Namespace> = Api::all(self.client.clone());
        // Mark first: a create that times out may still have happened.
        self.state().created_namespace = true;
        let what = format!("creating namespace {ns}");
        let privileged = self.state().host_off.is_none();
        let obj = manifests::namespace(run, privileged);
        let created = match self
            .call(&what, api.create(&PostParams::default(), &obj))
            .await
        {
            Ok(c) => c,
            // A policy engine may refuse the privileged Pod Security label:
            // go on without host inspection rather than not at all.
            Err(RuntimeError::NotPermitted(m) | RuntimeError::Other(m)) if privileged => {
                let why = format!(
                    "namespace {ns} could not be labelled {}=privileged ({m}): running without host inspection",
                    manifests::PSA_ENFORCE
                );
                progress.message(&why);
                tracing::warn!("{why}");
                self.state().host_off = Some(why);
                self.call(
                    &what,
                    api.create(&PostParams::default(), &manifests::namespace(run, false)),
                )
                .await?
            }
            Err(e) => return Err(e),
        };
        d.policy
            .namespaces
            .insert(ns.clone(), created.metadata.labels.unwrap_or_default());
        Ok(())
    }

    /// One probe first: an image that cannot be pulled, a PSA rejection or a
    /// missing permission fails in seconds, not after a timeout on every node.
    /// A node whose kubelet cannot set the pod up (its CNI) is that node's
    /// problem: `Ok(Some(why))`, and the canary moves on to the next node.
    pub(super) async fn start_first_probe(
        &self,
        first: &NodePlan,
        pod: &Pod,
        deadline: Instant,
        progress: &dyn Progress,
    ) -> Result<Option<String>> {
        let run = self.run_spec();
        let ns = &run.namespace;
        let name = &first.probes[0];
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        progress.message(&format!("starting the first probe on {}", first.node));
        self.note_created_pod(name);
        let bound = call_bound(self.opts.timeout);
        match tokio::time::timeout(bound, pods_api.create(&PostParams::default(), pod)).await {
            Ok(Ok(p)) => {
                if let Some(uid) = p.metadata.uid {
                    self.state().pod_uids.insert(name.clone(), uid);
                }
            }
            Ok(Err(e)) => {
                let forbidden = matches!(&e, ::kube::Error::Api(s) if s.code == 403);
                let msg = create_error(name, ns, &self.server, e);
                return Err(if forbidden {
                    RuntimeError::NotPermitted(msg)
                } else {
                    RuntimeError::Other(msg)
                });
            }
            Err(_) => {
                return Err(unreachable(format!(
                    "the Kubernetes API at {} did not answer the creation of the first probe pod within {}",
                    self.server,
                    humantime::format_duration(bound)
                )));
            }
        }
        let waited = self
            .wait_pods(&pods_api, std::slice::from_ref(name), deadline, progress)
            .await;
        match waited.get(name) {
            Some(why) if pods::is_setup_failure(why) => Ok(Some(why.clone())),
            Some(why) => Err(RuntimeError::NotReady(format!(
                "the first probe pod did not start on node {}: {why}{}",
                first.node,
                image_hint(why, &run.image)
            ))),
            None => Ok(None),
        }
    }

    /// Every other pod, then a Service per node, at most
    /// [`MAX_CREATES_IN_FLIGHT`] creates at once. Returns the
    /// pods whose create failed (name → why), the Services made, and the
    /// pods to wait for.
    pub(super) async fn create_probes(
        &self,
        plans: &[NodePlan],
        started: &[String],
        wear: &Wear,
        progress: &dyn Progress,
    ) -> (
        BTreeMap<String, String>,
        BTreeMap<String, Service>,
        Vec<String>,
    ) {
        let run = self.run_spec();
        let ns = run.namespace.as_str();
        progress.message(&format!("starting probes on {} node(s)", plans.len()));
        let mut to_create: Vec<(String, Pod)> = Vec::new();
        for p in plans {
            for name in p.probes.iter().filter(|n| !started.contains(n)) {
                to_create.push((name.clone(), probe_pod(&run, wear, name, &p.node)));
            }
            if let Some(h) = &p.host {
                to_create.push((h.clone(), manifests::host_pod(&run, h, &p.node)));
            }
        }
        for (name, _) in &to_create {
            self.note_created_pod(name);
        }
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let svc_api: Api<Service> = Api::namespaced(self.client.clone(), ns);
        let bound = call_bound(self.opts.timeout);
        let late = || "the API server did not answer the create in time".to_string();
        let pod_jobs = to_create.iter().map(|(name, pod)| {
            let api = pods_api.clone();
            async move {
                let r = tokio::time::timeout(bound, api.create(&PostParams::default(), pod)).await;
                let made = match r {
                    Ok(Ok(p)) => Ok(p.metadata.uid),
                    Ok(Err(e)) => Err(create_error(name, ns, &self.server, e)),
                    Err(_) => Err(late()),
                };
                (name.clone(), made)
            }
        });
        // Bounded: at most MAX_CREATES_IN_FLIGHT creates at once.
        let pod_results: Vec<(String, std::result::Result<Option<String>, String>)> =
            futures::stream::iter(pod_jobs.collect::<Vec<_>>())
                .buffer_unordered(MAX_CREATES_IN_FLIGHT)
                .collect()
                .await;
        let mut failed = BTreeMap::new();
        for (name, made) in pod_results {
            match made {
                Ok(Some(uid)) => {
                    self.state().pod_uids.insert(name, uid);
                }
                Ok(None) => {}
                Err(why) => {
                    failed.insert(name, why);
                }
            }
        }
        // One Service per node, for its first probe pod, owned by that pod:
        // every node is still reached through a Service (hairpin through its
        // own), the Services go when their pods do (no delete each), and a
        // run stays within 4N + 10 writes (3N pods, N Services). The first
        // MAX_NODEPORT_SERVICES are NodePorts (the `nodeport` checks).
        let owned: Vec<(String, Service)> = {
            let st = self.state();
            plans
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let name = &p.probes[0];
                    let uid = st.pod_uids.get(name)?;
                    let node_port = i < manifests::MAX_NODEPORT_SERVICES;
                    Some((name.clone(), owned_service(&run, name, uid, node_port)))
                })
                .collect()
        };
        for (name, _) in &owned {
            self.note_created_service(name);
        }
        let svc_jobs = owned.iter().map(|(name, svc)| {
            let api = svc_api.clone();
            async move {
                let mut r =
                    tokio::time::timeout(bound, api.create(&PostParams::default(), svc)).await;
                if let Ok(Err(e)) = &r
                    && is_node_port(svc)
                {
                    // Refused as a NodePort (a policy forbidding them, the
                    // range full): the ClusterIP checks still need it.
                    tracing::warn!(
                        "Service {ns}/{name} refused as a NodePort ({e}); creating it as a \
                         ClusterIP, without nodeport checks to its node"
                    );
                    let plain = manifests::as_cluster_ip(svc.clone());
                    r = tokio::time::timeout(bound, api.create(&PostParams::default(), &plain))
                        .await;
                }
                let made = match r {
                    Ok(Ok(s)) => Ok(s),
                    Ok(Err(e)) => {
                        Err(
                            api_error(&format!("creating Service {ns}/{name}"), &self.server, e)
                                .to_string(),
                        )
                    }
                    Err(_) => Err(late()),
                };
                (name.clone(), made)
            }
        });
        let svc_results: Vec<(String, std::result::Result<Service, String>)> =
            futures::stream::iter(svc_jobs.collect::<Vec<_>>())
                .buffer_unordered(MAX_CREATES_IN_FLIGHT)
                .collect()
                .await;
        let mut svcs: BTreeMap<String, Service> = BTreeMap::new();
        for (name, r) in svc_results {
            match r {
                Ok(s) => {
                    svcs.insert(name, s);
                }
                Err(e) => tracing::warn!("no Service for probe {name}: {e}"),
            }
        }
        let waiting: Vec<String> = to_create
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| !failed.contains_key(n))
            .collect();
        (failed, svcs, waiting)
    }

    /// The first probe of each node in turn until one starts: the probes
    /// created (name) and those the kubelet could not set up (name → why).
    async fn canary(
        &self,
        plans: &[NodePlan],
        wear: &Wear,
        deadline: Instant,
        progress: &dyn Progress,
    ) -> Result<(Vec<String>, BTreeMap<String, String>)> {
        let run = self.run_spec();
        let mut started = Vec::new();
        let mut failed = BTreeMap::new();
        for plan in plans {
            let name = &plan.probes[0];
            let pod = probe_pod(&run, wear, name, &plan.node);
            started.push(name.clone());
            match self
                .start_first_probe(plan, &pod, deadline, progress)
                .await?
            {
                None => return Ok((started, failed)),
                Some(why) => {
                    progress.message(&format!(
                        "node {}: {why}; starting the first probe on the next node",
                        plan.node
                    ));
                    failed.insert(name.clone(), why);
                }
            }
        }
        Err(RuntimeError::NotReady(format!(
            "no node could start a probe pod: {}",
            failed.values().cloned().collect::<Vec<_>>().join("; ")
        )))
    }

    /// Before any probe: each probe Service's endpoint ready in its
    /// EndpointSlices (probes kept out of Services by `--policy-from`'s
    /// readiness gate have none to wait for). Bounded; says what is missing.
    async fn settle_endpoints(
        &self,
        d: &Deployment,
        live: &[Pod],
        deadline: Instant,
        progress: &dyn Progress,
    ) {
        let gated: Vec<&str> = live
            .iter()
            .filter(|p| pods::gated_out_of_service(p))
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        let services: Vec<String> = d
            .pods
            .iter()
            .filter(|p| p.service.is_some() && !gated.contains(&p.name.as_str()))
            .map(|p| p.name.clone())
            .collect();
        if services.is_empty() {
            return;
        }
        progress.message("waiting for the probe Services' endpoints");
        let t = Instant::now();
        let missing = self.wait_endpoints(&services, deadline).await;
        if !missing.is_empty() {
            let why = format!(
                "the EndpointSlices of {} probe Service(s) did not list their pod ready within {}s ({}): \
                 pod-to-service checks to them may be refused by kube-proxy until they do",
                missing.len(),
                t.elapsed().as_secs(),
                missing.join(", ")
            );
            progress.message(&why);
            tracing::warn!("{why}");
        }
    }

    /// The whole deploy: namespace, plans, the canary, the rest, the wait,
    /// and what came up.
    pub(super) async fn deploy_steps(
        &self,
        mut d: Deployment,
        progress: &dyn Progress,
    ) -> Result<Deployment> {
        // Pods must be ready within --timeout of the start of the run.
        let deadline = self.started + self.opts.timeout;
        let run = self.run_spec();
        self.create_namespace(&run, &mut d, progress).await?;
        let with_hosts = self.state().host_off.is_none();
        let plans = node_plans(&d, with_hosts)?;
        let all_probes: Vec<String> = plans.iter().flat_map(|p| p.probes.clone()).collect();
        let wear = self.workload_labels(&d, &all_probes, progress).await?;
        let (started, mut failed) = self.canary(&plans, &wear, deadline, progress).await?;
        let (failed_create, svcs, waiting) =
            self.create_probes(&plans, &started, &wear, progress).await;
        failed.extend(failed_create);
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), &run.namespace);
        failed.extend(
            self.wait_pods(&pods_api, &waiting, deadline, progress)
                .await,
        );
        let live = self
            .list(
                pods_api,
                &ListParams::default().labels(&format!("{}={}", manifests::RUN_KEY, run.id)),
                "listing probe pods",
            )
            .await?;
        let got = collect_probes(&mut d, &plans, &live, &failed, &svcs, &run);
        for m in &got.messages {
            progress.message(m);
        }
        {
            let mut s = self.state();
            s.host_pods.extend(got.host_pods);
            s.host_unavailable.extend(got.host_unavailable);
        }
        if d.pods.is_empty() {
            return Err(RuntimeError::NotReady(format!(
                "no probe pod became ready: {}",
                failed.values().cloned().collect::<Vec<_>>().join("; ")
            )));
        }
        self.settle_endpoints(&d, &live, deadline, progress).await;
        Ok(d)
    }

    /// `--policy-from`: the labels each probe wears (probe name → labels),
    /// from the namespace's workloads (or the labels given), round-robin.
    pub(super) async fn workload_labels(
        &self,
        d: &Deployment,
        probes: &[String],
        progress: &dyn Progress,
    ) -> Result<Wear> {
        use crate::policy::labels;
        let Some(from) = &self.opts.policy_from else {
            return Ok(BTreeMap::new());
        };
        let ns = &from.namespace;
        let policies: Vec<NetworkPolicy> = d
            .policy
            .policies
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
            .cloned()
            .collect();
        let pods = if from.labels.is_some() {
            Vec::new()
        } else {
            let all = self
                .list(
                    Api::<Pod>::namespaced(self.client.clone(), ns),
                    &ListParams::default(),
                    &format!("listing the pods of namespace {ns} (--policy-from)"),
                )
                .await?;
            // Not the probes of another run in the same namespace.
            all.into_iter()
                .filter(|p| {
                    p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(manifests::MANAGED_BY_KEY))
                        .map(String::as_str)
                        != Some(manifests::MANAGED_BY)
                })
                .collect()
        };
        let sets = labels::policy_from_labels(from, &pods, &policies);
        if sets.is_empty() {
            return Err(RuntimeError::Other(format!(
                "--policy-from {ns}: the namespace has no running pod with labels to copy; name the labels instead: --policy-from {ns}/app=NAME"
            )));
        }
        if policies.is_empty() {
            progress.message(&format!(
                "--policy-from {ns}: the namespace has no NetworkPolicy; only policies of other namespaces that select it by namespace apply"
            ));
        }
        let mut out = BTreeMap::new();
        for (probe, set) in labels::assign(&sets, probes) {
            out.insert(probe, set.labels.clone());
        }
        for set in sets.iter().take(probes.len()) {
            let shown: Vec<String> = set.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let by = if set.selected_by.is_empty() {
                "no NetworkPolicy of the namespace selects them".to_string()
            } else {
                format!("selected by {}", set.selected_by.join(", "))
            };
            progress.message(&format!(
                "probes wear the labels of {} ({}): {by}",
                set.workload,
                shown.join(",")
            ));
        }
        if sets.len() > probes.len() {
            let left: Vec<&str> = sets[probes.len()..]
                .iter()
                .map(|s| s.workload.as_str())
                .collect();
            tracing::warn!(
                "--policy-from {ns}: more workloads than probes; not represented: {}",
                left.join(", ")
            );
        }
        Ok(out)
    }
}

fn pod_ips(p: &Pod) -> Vec<std::net::IpAddr> {
    let st = p.status.as_ref();
    let mut ips: Vec<std::net::IpAddr> = st
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.parse().ok())
        .collect();
    if ips.is_empty() {
        ips.extend(st.and_then(|s| s.pod_ip.as_deref()?.parse::<std::net::IpAddr>().ok()));
    }
    ips
}

/// What to do about an image that cannot be pulled.
fn image_hint(why: &str, image: &str) -> String {
    if why.contains("ImagePull") || why.contains("ErrImage") || why.contains("InvalidImageName") {
        format!(
            ". The nodes cannot pull {image}: pass --image with one they can pull, or load it into the nodes \
             (`kubectl netcheck image -f netcheck.tar`, then `kind load image-archive netcheck.tar` or `ctr -n k8s.io images import netcheck.tar`)"
        )
    } else {
        String::new()
    }
}

/// Pod creation errors: PSA rejections and quota say so plainly.
fn create_error(pod: &str, ns: &str, server: &str, e: ::kube::Error) -> String {
    match &e {
        ::kube::Error::Api(s) if s.message.contains("PodSecurity") => format!(
            "Pod Security Admission rejected pod {pod} in namespace {ns}: {}; use a namespace that allows it (leave out -n) or --no-host",
            s.message
        ),
        _ => api_error(&format!("creating pod {ns}/{pod}"), server, e).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_hints_only_for_pull_errors() {
        assert!(image_hint("ErrImagePull: x", "img:1").contains("kind load image-archive"));
        assert!(image_hint("ImagePullBackOff", "img:1").contains("--image"));
        assert_eq!(image_hint("CrashLoopBackOff", "img:1"), "");
    }
}
