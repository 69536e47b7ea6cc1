//! Cleanup: what a run made goes (its namespace, or its own pods and
//! Services in a namespace it was given), and `kubectl netcheck cleanup`
//! finds what runs left behind.

use super::client::{api_error, is_not_found, unreachable};
use super::manifests;
use super::runtime::KubeRuntime;
use crate::runtime::{Result, RuntimeError};
use ::kube::Client;
use ::kube::api::{Api, DeleteParams, ListParams};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use std::time::{Duration, Instant};

impl KubeRuntime {
    /// Remove what the run made; safe to call again. Its pods go without a
    /// grace period and its Services with them (owned by the pods); its own namespace is then
    /// asked to go, and waited for only with `--wait-cleanup`: namespace
    /// finalisation was most of a healthy run's time.
    pub(super) async fn remove_created(&self) -> Result<()> {
        let (created_ns, pods, svcs) = {
            let mut s = self.state();
            let r = (
                std::mem::take(&mut s.created_namespace),
                std::mem::take(&mut s.created_pods),
                std::mem::take(&mut s.created_services),
            );
            s.host_pods.clear();
            r
        };
        let ns = self.namespace();
        self.note_broken_nodes(&ns, created_ns);
        // The Services are owned by their pods: the garbage collector
        // deletes them with the pods (Services have no deletecollection, so
        // deleting them ourselves would cost a call each).
        tracing::debug!("{} probe Service(s) go with their pods", svcs.len());
        let errors = self.delete_run_pods(&ns, &pods).await;
        if created_ns {
            if !errors.is_empty() {
                tracing::debug!("deleting the probes: {}", errors.join("; "));
            }
            return self.remove_namespace(&ns).await;
        }
        if errors.is_empty() {
            return Ok(());
        }
        Err(RuntimeError::Other(format!(
            "could not delete everything in namespace {ns}: {}; delete it with `kubectl -n {ns} delete pods,services -l {}={}`",
            errors.join("; "),
            manifests::RUN_KEY,
            self.run_spec().id
        )))
    }

    /// The run's pods in one call (deletecollection by the run's label,
    /// without a grace period), not one per pod; one call per pod when that
    /// is refused (a ClusterRole without `deletecollection`). Returns what
    /// could not be deleted.
    async fn delete_run_pods(&self, ns: &str, pods: &[String]) -> Vec<String> {
        if pods.is_empty() {
            return Vec::new();
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let lp =
            ListParams::default().labels(&format!("{}={}", manifests::RUN_KEY, self.run_spec().id));
        let dp = DeleteParams::background().grace_period(0);
        match tokio::time::timeout(Duration::from_secs(10), api.delete_collection(&dp, &lp)).await {
            Ok(Ok(_)) => Vec::new(),
            Ok(Err(e)) => {
                tracing::debug!("deleting the probe pods by label: {e}; deleting them one by one");
                delete_objects(&self.client, ns, pods, &[]).await
            }
            Err(_) => vec!["the probe pods: no answer within 10s".to_string()],
        }
    }

    /// Ask for the run's namespace to go; with `--wait-cleanup`, wait
    /// (bounded) until it has, and say so if it has not.
    async fn remove_namespace(&self, ns: &str) -> Result<()> {
        let bound = super::client::call_bound(self.opts.timeout);
        request_namespace_deletion(&self.client, ns, bound).await?;
        if !self.opts.wait_cleanup {
            tracing::debug!("namespace {ns} is terminating; Kubernetes finishes deleting it");
            return Ok(());
        }
        if !wait_namespace_gone(&self.client, ns, bound).await {
            let note = format!(
                "namespace {ns} is still terminating after {}; Kubernetes finishes deleting it \
                 (`kubectl get namespace {ns} -o yaml` shows what holds it, `kubectl netcheck cleanup` finds what is left)",
                humantime::format_duration(bound)
            );
            tracing::warn!("{note}");
            self.state().cleanup_notes.push(note);
        }
        Ok(())
    }
}

/// Delete pods (grace period 0: at once, whatever their kubelet can do)
/// and Services in `ns`, all at once. Returns what could not be deleted.
async fn delete_objects(
    client: &Client,
    ns: &str,
    pods: &[String],
    svcs: &[String],
) -> Vec<String> {
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let svc_api: Api<Service> = Api::namespaced(client.clone(), ns);
    let dp = DeleteParams::background().grace_period(0);
    let bound = Duration::from_secs(10);
    let outcome = |what: String,
                   r: std::result::Result<
        std::result::Result<(), ::kube::Error>,
        tokio::time::error::Elapsed,
    >| match r {
        Ok(Ok(())) => None,
        Ok(Err(e)) if is_not_found(&e) => None,
        Ok(Err(e)) => Some(format!("{what}: {e}")),
        Err(_) => Some(format!("{what}: no answer within 10s")),
    };
    let pod_deletes = pods.iter().map(|p| {
        let api = pods_api.clone();
        let dp = dp.clone();
        async move {
            let r = tokio::time::timeout(bound, api.delete(p, &dp)).await;
            outcome(format!("pod {p}"), r.map(|r| r.map(|_| ())))
        }
    });
    let svc_deletes = svcs.iter().map(|s| {
        let api = svc_api.clone();
        let dp = dp.clone();
        async move {
            let r = tokio::time::timeout(bound, api.delete(s, &dp)).await;
            outcome(format!("Service {s}"), r.map(|r| r.map(|_| ())))
        }
    });
    let (a, b) = tokio::join!(
        futures::future::join_all(pod_deletes),
        futures::future::join_all(svc_deletes)
    );
    a.into_iter().chain(b).flatten().collect()
}

impl KubeRuntime {
    /// Pods on a node whose kubelet could not set them up (a broken CNI)
    /// may not be torn down until it is fixed, and hold their namespace in
    /// Terminating: say so, with the command that finishes it, rather than
    /// wait for it.
    fn note_broken_nodes(&self, ns: &str, created_ns: bool) {
        let mut s = self.state();
        if s.setup_failed_nodes.is_empty() {
            return;
        }
        let nodes: Vec<String> = std::mem::take(&mut s.setup_failed_nodes)
            .into_iter()
            .collect();
        let what = if created_ns {
            format!("namespace {ns} may stay Terminating")
        } else {
            format!("its probe pods in namespace {ns} may stay Terminating")
        };
        let note = format!(
            "the kubelet on {} could not set the probe pods up (its CNI), so {what} until that is fixed; \
             `kubectl -n {ns} delete pods -l {}={} --force --grace-period=0` finishes it now",
            nodes.join(", "),
            manifests::RUN_KEY,
            self.run_spec().id,
        );
        tracing::warn!("{note}");
        s.cleanup_notes.push(note);
    }
}

/// Ask for a namespace to be deleted (background: the API answers at once).
pub async fn request_namespace_deletion(client: &Client, ns: &str, bound: Duration) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    match tokio::time::timeout(bound, api.delete(ns, &DeleteParams::background())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if is_not_found(&e) => Ok(()),
        Ok(Err(e)) => Err(RuntimeError::Other(format!(
            "could not delete namespace {ns}: {e}; delete it with `kubectl delete namespace {ns}`"
        ))),
        Err(_) => Err(RuntimeError::Timeout {
            what: format!(
                "deleting namespace {ns} (delete it with `kubectl delete namespace {ns}`)"
            ),
            after: bound,
        }),
    }
}

/// Wait, bounded, until a namespace is gone; false if it is still there.
pub async fn wait_namespace_gone(client: &Client, ns: &str, bound: Duration) -> bool {
    let api: Api<Namespace> = Api::all(client.clone());
    let until = Instant::now() + bound;
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(5), api.get_opt(ns)).await {
            Ok(Ok(None)) => return true,
            Ok(Err(e)) if is_not_found(&e) => return true,
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    false
}

/// Whether an object carries a run's labels (managed-by and a run id).
fn ours(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    let labels = meta.labels.as_ref();
    labels
        .and_then(|l| l.get(manifests::MANAGED_BY_KEY))
        .map(String::as_str)
        == Some(manifests::MANAGED_BY)
        && labels.is_some_and(|l| l.contains_key(manifests::RUN_KEY))
}

/// One bounded list, its error in words.
async fn list_labelled<K>(api: Api<K>, bound: Duration, what: &str) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let lp = ListParams::default().labels(&format!(
        "{}={}",
        manifests::MANAGED_BY_KEY,
        manifests::MANAGED_BY
    ));
    match tokio::time::timeout(bound, api.list(&lp)).await {
        Ok(Ok(l)) => Ok(l.items),
        Ok(Err(e)) => Err(api_error(what, "the API server", e)),
        Err(_) => Err(unreachable(format!(
            "the Kubernetes API did not answer within {} ({what})",
            humantime::format_duration(bound)
        ))),
    }
}

/// `kubectl netcheck cleanup`: what runs left behind, by label: every
/// netcheck namespace (its deletion requested), and probe pods and
/// Services left in namespaces a run was given with `-n` (deleted, pods
/// without a grace period). Returns what was deleted: "namespace X",
/// "pod NS/NAME", "Service NS/NAME".
pub async fn cleanup_leftovers(client: &Client, bound: Duration) -> Result<Vec<String>> {
    let namespaces = list_labelled(
        Api::<Namespace>::all(client.clone()),
        bound,
        "listing probe namespaces",
    )
    .await?;
    let pods = list_labelled(Api::<Pod>::all(client.clone()), bound, "listing probe pods").await?;
    let services = list_labelled(
        Api::<Service>::all(client.clone()),
        bound,
        "listing probe Services",
    )
    .await?;
    let mut removed = Vec::new();
    let mut ours_ns = Vec::new();
    for ns in namespaces {
        let Some(name) = ns.metadata.name else {
            continue;
        };
        // Belt and braces: only namespaces that carry our label.
        if ns
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(manifests::MANAGED_BY_KEY))
            .map(String::as_str)
            != Some(manifests::MANAGED_BY)
        {
            continue;
        }
        request_namespace_deletion(client, &name, bound).await?;
        removed.push(format!("namespace {name}"));
        ours_ns.push(name);
    }
    // Probes in namespaces that stay: by namespace, to delete them together.
    let mut left: std::collections::BTreeMap<String, (Vec<String>, Vec<String>)> =
        Default::default();
    let elsewhere = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        let ns = m.namespace.clone()?;
        (ours(m) && !ours_ns.contains(&ns)).then_some((ns, m.name.clone()?))
    };
    for (ns, name) in pods.iter().filter_map(|p| elsewhere(&p.metadata)) {
        left.entry(ns).or_default().0.push(name);
    }
    for (ns, name) in services.iter().filter_map(|s| elsewhere(&s.metadata)) {
        left.entry(ns).or_default().1.push(name);
    }
    for (ns, (pods, svcs)) in left {
        let errors = delete_objects(client, &ns, &pods, &svcs).await;
        if !errors.is_empty() {
            return Err(RuntimeError::Other(format!(
                "could not delete the probes left in namespace {ns}: {}; delete them with `kubectl -n {ns} delete pods,services -l {}={}`",
                errors.join("; "),
                manifests::MANAGED_BY_KEY,
                manifests::MANAGED_BY
            )));
        }
        removed.extend(pods.iter().map(|p| format!("pod {ns}/{p}")));
        removed.extend(svcs.iter().map(|s| format!("Service {ns}/{s}")));
    }
    Ok(removed)
}
