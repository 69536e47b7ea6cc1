//! Waiting for the probe pods: each until it is ready or cannot start, all
//! within the run's deadline, with the kubelet's own words for the ones that
//! did not make it; then the probe Services' endpoints.

use super::discover;
use super::manifests;
use super::pods::{self, PodStart};
use super::runtime::KubeRuntime;
use crate::runtime::Progress;
use ::kube::api::{Api, ListParams};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

impl KubeRuntime {
    /// Wait until every named pod is ready or cannot start, or the deadline.
    /// Returns the ones that did not make it, with the reason.
    pub(super) async fn wait_pods(
        &self,
        api: &Api<Pod>,
        names: &[String],
        deadline: Instant,
        progress: &dyn Progress,
    ) -> BTreeMap<String, String> {
        let run = self.run_spec();
        let lp = ListParams::default().labels(&format!("{}={}", manifests::RUN_KEY, run.id));
        let mut failed: BTreeMap<String, (Option<Pod>, String)> = BTreeMap::new();
        let mut ready: std::collections::BTreeSet<String> = Default::default();
        let mut last: BTreeMap<String, Pod> = BTreeMap::new();
        let mut setup = pods::SetupWatch::default();
        let total = names.len();
        loop {
            match self.call("watching the probe pods", api.list(&lp)).await {
                Ok(list) => {
                    for p in list.items {
                        let Some(name) = p.metadata.name.clone() else {
                            continue;
                        };
                        if !names.contains(&name)
                            || ready.contains(&name)
                            || failed.contains_key(&name)
                        {
                            continue;
                        }
                        match pods::classify(&p) {
                            PodStart::Ready => {
                                ready.insert(name);
                                progress.tick(ready.len(), total);
                            }
                            PodStart::Failed(why) => {
                                progress.message(&format!("{name}: {why}"));
                                failed.insert(name, (Some(p), why));
                            }
                            PodStart::Starting(_) => {
                                last.insert(name, p);
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!("{e}"),
            }
            // Pods the kubelet cannot set up (CNI, volumes) stay
            // ContainerCreating: their events say so, and they do not hold
            // up the other nodes.
            let starting: Vec<(&String, &Pod)> = last
                .iter()
                .filter(|(n, _)| !ready.contains(*n) && !failed.contains_key(*n))
                .collect();
            if !starting.is_empty() {
                let events = self.namespace_events(&run.namespace).await;
                let now = Instant::now();
                let mut stuck = Vec::new();
                for (name, p) in starting {
                    if let Some(why) = setup.observe(p, &events, now) {
                        progress.message(&format!("{name}: {why}"));
                        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                            self.state().setup_failed_nodes.insert(node);
                        }
                        stuck.push((name.clone(), (Some(p.clone()), why)));
                    }
                }
                failed.extend(stuck);
            }
            if ready.len() + failed.len() >= total || Instant::now() >= deadline {
                break;
            }
            let nap =
                Duration::from_millis(1000).min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(nap).await;
        }
        for n in names {
            if !ready.contains(n) && !failed.contains_key(n) {
                let why = match last.get(n) {
                    Some(p) => format!(
                        "not ready within {}: {}",
                        humantime::format_duration(self.opts.timeout),
                        pods::timeout_reason(p)
                    ),
                    None => format!(
                        "not ready within {}: the pod was never seen",
                        humantime::format_duration(self.opts.timeout)
                    ),
                };
                failed.insert(n.clone(), (last.get(n).cloned(), why));
            }
        }
        if failed.is_empty() {
            return BTreeMap::new();
        }
        // The kubelet's and scheduler's own words.
        let events = self.namespace_events(&run.namespace).await;
        failed
            .into_iter()
            .map(|(name, (pod, why))| {
                let text = match pod {
                    Some(p) => pods::failure_reason(&p, &why, &events),
                    None => format!("pod {name}: {why}"),
                };
                (name, text)
            })
            .collect()
    }

    /// The events of the probe namespace (none when they cannot be read:
    /// they add words, they decide nothing on their own).
    async fn namespace_events(&self, ns: &str) -> Vec<Event> {
        match tokio::time::timeout(
            Duration::from_secs(10),
            Api::<Event>::namespaced(self.client.clone(), ns).list(&ListParams::default()),
        )
        .await
        {
            Ok(Ok(l)) => l.items,
            Ok(Err(e)) => {
                tracing::debug!("listing the events of namespace {ns}: {e}");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Wait, bounded, until the EndpointSlices of each probe Service list
    /// its pod ready: until then kube-proxy answers the Service's address
    /// with a REJECT ("refused"), which is no fault of the network. Returns
    /// the Services still without a ready endpoint at the bound.
    pub(super) async fn wait_endpoints(
        &self,
        services: &[String],
        deadline: Instant,
    ) -> Vec<String> {
        let ns = self.run_spec().namespace;
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &ns);
        let left = deadline.saturating_duration_since(Instant::now());
        let until = Instant::now() + ENDPOINTS_BOUND.min(left.max(Duration::from_secs(1)));
        let mut pending: Vec<String> = services.to_vec();
        loop {
            match self
                .call(
                    "reading the probe Services' EndpointSlices",
                    api.list(&ListParams::default()),
                )
                .await
            {
                Ok(list) => {
                    pending.retain(|s| discover::ready_endpoints(s, &ns, &list.items).is_empty())
                }
                Err(e) => tracing::debug!("{e}"),
            }
            if pending.is_empty() || Instant::now() >= until {
                return pending;
            }
            let nap =
                Duration::from_millis(250).min(until.saturating_duration_since(Instant::now()));
            tokio::time::sleep(nap).await;
        }
    }
}

/// The longest the run waits for probe Services' endpoints (within --timeout).
pub(super) const ENDPOINTS_BOUND: Duration = Duration::from_secs(15);
