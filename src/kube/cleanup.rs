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
    /// Remove what the run made; safe to call again.
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
        if created_ns {
            return delete_namespace(
                &self.client,
                &ns,
                super::client::call_bound(self.opts.timeout),
            )
            .await;
        }
        // A namespace we were given: only our own pods and Services.
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let svc_api: Api<Service> = Api::namespaced(self.client.clone(), &ns);
        let dp = DeleteParams::background().grace_period(0);
        let mut errors = Vec::new();
        for p in &pods {
            if let Ok(Err(e)) =
                tokio::time::timeout(Duration::from_secs(10), pods_api.delete(p, &dp)).await
                && !is_not_found(&e)
            {
                errors.push(format!("pod {p}: {e}"));
            }
        }
        for s in &svcs {
            if let Ok(Err(e)) =
                tokio::time::timeout(Duration::from_secs(10), svc_api.delete(s, &dp)).await
                && !is_not_found(&e)
            {
                errors.push(format!("Service {s}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RuntimeError::Other(format!(
                "could not delete everything in namespace {ns}: {}; delete it with `kubectl -n {ns} delete pods,services -l {}`",
                errors.join("; "),
                manifests::MANAGED_BY_KEY.to_string() + "=" + manifests::MANAGED_BY
            )))
        }
    }
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

/// Delete a namespace (foreground) and wait, bounded, until it is gone.
pub async fn delete_namespace(client: &Client, ns: &str, bound: Duration) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    match tokio::time::timeout(bound, api.delete(ns, &DeleteParams::foreground())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if is_not_found(&e) => return Ok(()),
        Ok(Err(e)) => {
            return Err(RuntimeError::Other(format!(
                "could not delete namespace {ns}: {e}; delete it with `kubectl delete namespace {ns}`"
            )));
        }
        Err(_) => {
            return Err(RuntimeError::Timeout {
                what: format!(
                    "deleting namespace {ns} (delete it with `kubectl delete namespace {ns}`)"
                ),
                after: bound,
            });
        }
    }
    let until = Instant::now() + bound;
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(5), api.get_opt(ns)).await {
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) if is_not_found(&e) => return Ok(()),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    // Deletion goes on in the cluster; the run need not wait for it.
    tracing::info!("namespace {ns} is still terminating; Kubernetes finishes deleting it");
    Ok(())
}

/// `kubectl netcheck cleanup`: delete every namespace a run left behind
/// (by the managed-by label). Returns the names deleted.
pub async fn cleanup_leftovers(client: &Client, bound: Duration) -> Result<Vec<String>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!(
        "{}={}",
        manifests::MANAGED_BY_KEY,
        manifests::MANAGED_BY
    ));
    let list = match tokio::time::timeout(bound, api.list(&lp)).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return Err(api_error("listing probe namespaces", "the API server", e)),
        Err(_) => {
            return Err(unreachable(format!(
                "the Kubernetes API did not answer within {}",
                humantime::format_duration(bound)
            )));
        }
    };
    let mut removed = Vec::new();
    for ns in list.items {
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
        delete_namespace(client, &name, bound).await?;
        removed.push(name);
    }
    Ok(removed)
}
