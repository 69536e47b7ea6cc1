//! kube-proxy's sync, as the lab plays it: Service rules appear after the
//! endpoints. A node starts with kube-proxy's REJECT for every probe Service
//! (a Service whose endpoints it has not seen yet: a connect is refused), and
//! each node's kube-proxy installs the DNAT rules on its own, a random
//! [`SYNC_DELAY_MS`] after the lab is deployed (kube-proxy's minSyncPeriod is
//! 1 s), in the background. Nothing tells the pipeline when they are in, as
//! nothing does on a cluster.
//!
//! Faults that change kube-proxy's own rules wait for their node's sync first
//! ([`ServiceSync::wait_node`]): they break a node whose kube-proxy had synced.
//! Teardown stops what has not started and waits for a sync in flight, so that
//! no `iptables-restore` or `nft -f` runs into a namespace being deleted.
//! What a sync loads depends on the mode ([`super::kube_proxy_mode::Load`]).

use super::cmd::Tools;
use super::kube_proxy_mode::Load;
use crate::runtime::{Result, RuntimeError};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Range of the per-node delay, in milliseconds.
pub const SYNC_DELAY_MS: std::ops::RangeInclusive<u64> = 200..=1000;
/// Longest wait for a sync (its `iptables-restore` or `nft` included).
const SYNC_WAIT: Duration = Duration::from_secs(30);

/// A node's sync: not yet, done, or failed (why).
type Outcome = Option<std::result::Result<(), String>>;

/// The pending kube-proxy syncs of one lab.
pub struct ServiceSync {
    stop: watch::Sender<bool>,
    nodes: Mutex<BTreeMap<usize, watch::Receiver<Outcome>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Default for ServiceSync {
    fn default() -> Self {
        ServiceSync {
            stop: watch::channel(false).0,
            nodes: Mutex::new(BTreeMap::new()),
            tasks: Mutex::new(Vec::new()),
        }
    }
}

/// A random delay in [`SYNC_DELAY_MS`].
pub fn random_delay() -> Duration {
    Duration::from_millis(rand::random_range(SYNC_DELAY_MS))
}

impl ServiceSync {
    /// Schedule node `node`'s sync: after `delay`, load `rules` into `ns`
    /// (`iptables-restore --noflush` or `nft -f`). Needs a tokio runtime.
    pub fn start(&self, tools: Tools, node: usize, ns: String, rules: Load, delay: Duration) {
        let (tx, rx) = watch::channel(None);
        let mut stop = self.stop.subscribe();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let r = rules.apply(&tools, &ns).await;
            if let Err(e) = &r {
                tracing::warn!("kube-proxy sync of {ns} failed: {e}");
            }
            let _ = tx.send(Some(r.map_err(|e| e.to_string())));
        });
        lock(&self.nodes).insert(node, rx);
        lock(&self.tasks).push(task);
    }

    /// Wait until node `node`'s sync is done (at once when none is scheduled).
    pub async fn wait_node(&self, node: usize) -> Result<()> {
        let Some(mut rx) = lock(&self.nodes).get(&node).cloned() else {
            return Ok(());
        };
        let waited = tokio::time::timeout(SYNC_WAIT, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(outcome)) => match outcome.clone() {
                Some(Err(e)) => Err(RuntimeError::Other(format!(
                    "kube-proxy's sync of node {} failed: {e}",
                    node + 1
                ))),
                _ => Ok(()),
            },
            // The task ended without a result: stopped by teardown.
            Ok(Err(_)) => Err(RuntimeError::Other(format!(
                "kube-proxy's sync of node {} was stopped (the lab is being torn down)",
                node + 1
            ))),
            Err(_) => Err(RuntimeError::Other(format!(
                "kube-proxy's sync of node {} did not finish within {SYNC_WAIT:?}",
                node + 1
            ))),
        }
    }

    /// Wait for every scheduled sync (tests that need the rules in).
    pub async fn wait_all(&self) -> Result<()> {
        let nodes: Vec<usize> = lock(&self.nodes).keys().copied().collect();
        for n in nodes {
            self.wait_node(n).await?;
        }
        Ok(())
    }

    /// Cancel the syncs not started yet and wait for those in flight.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<JoinHandle<()>> = lock(&self.tasks).drain(..).collect();
        for t in tasks {
            if tokio::time::timeout(SYNC_WAIT, t).await.is_err() {
                tracing::warn!("a kube-proxy sync did not finish within {SYNC_WAIT:?}");
            }
        }
    }

    /// Last resort without an async context (drop): cancel and abort.
    pub fn abort(&self) {
        let _ = self.stop.send(true);
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
