//! [`KubeRuntime`]: the pipeline's runtime over a real API server.
//!
//! discover: `read_cluster` (read.rs: version, preflight, every object) and
//! the pure `discover::deployment_from`. deploy (deploy.rs): the namespace,
//! one probe pod first (fails fast on image/PSA/permission problems), then
//! every node in parallel, waited for with a deadline (wait.rs).
//! probe/inspect: exec over the API's websocket (exec.rs). teardown
//! (cleanup.rs): delete what the run created, nothing else.

use super::client::{ApiCalls, Connection, api_error, call_bound, connect, unreachable};
use super::discover::{self, NodeFilter};
use super::manifests::{self, PsaLevel, RunSpec};
use crate::model::host::HostReport;
use crate::model::topology::{ServePorts, Source};
use crate::model::{Deployment, ProbePlan, ProbeReport};
use crate::runtime::{Progress, Result, Runtime, RuntimeError};
use ::kube::Client;
use ::kube::api::{Api, ListParams};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many pod and Service creates in flight at once.
pub const MAX_CREATES_IN_FLIGHT: usize = 16;
/// At most this many exec streams (agent calls) open at once; the others
/// wait for a slot before their own deadline starts.
pub const MAX_EXECS_IN_FLIGHT: usize = 32;

/// What the CLI tells the runtime.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// An existing namespace for the probes; None: a fresh `netcheck-<id>`.
    pub namespace: Option<String>,
    pub image: String,
    pub no_host: bool,
    /// The run's overall deadline; API calls and the wait for pods stay inside it.
    pub timeout: Duration,
    /// `--nodes`.
    pub nodes: Option<String>,
    /// `--policy-from`: the probes run in this (existing) namespace and wear
    /// the labels of its workloads, so that its NetworkPolicies apply to
    /// them. `namespace` must then be the same namespace.
    pub policy_from: Option<crate::policy::labels::PolicyFrom>,
    /// `--wait-cleanup`: wait (bounded) until the probe namespace is gone;
    /// otherwise its deletion is requested and Kubernetes finishes it.
    pub wait_cleanup: bool,
}

/// What deploy made and what probe/inspect/teardown need.
#[derive(Debug, Default)]
pub(super) struct State {
    /// We created the namespace: teardown deletes it.
    pub(super) created_namespace: bool,
    /// The pods and Services the run created (deleted first, without a
    /// grace period, also in a namespace of its own).
    pub(super) created_pods: Vec<String>,
    pub(super) created_services: Vec<String>,
    /// Pod name → uid, of the pods the run created (its Services' owners).
    pub(super) pod_uids: BTreeMap<String, String>,
    /// node → its host pod (ready ones only).
    pub(super) host_pods: BTreeMap<String, String>,
    /// node → why it has no host agent.
    pub(super) host_unavailable: BTreeMap<String, String>,
    /// Why host inspection is off for the whole run.
    pub(super) host_off: Option<String>,
    pub(super) psa: Option<PsaLevel>,
    /// Nodes where the kubelet could not set probe pods up (a broken CNI):
    /// their pods may not be torn down until it is fixed.
    pub(super) setup_failed_nodes: std::collections::BTreeSet<String>,
    /// What teardown could not finish, with the command that does.
    pub(super) cleanup_notes: Vec<String>,
}

pub struct KubeRuntime {
    pub(super) client: Client,
    pub(super) opts: KubeOptions,
    pub(super) run: Mutex<RunSpec>,
    cluster_name: String,
    pub(super) server: String,
    state: Mutex<State>,
    /// When the run began: --timeout bounds discovery and pod start-up from here.
    pub(super) started: Instant,
    /// Every request the client sent.
    calls: Arc<ApiCalls>,
    /// Exec streams open at once ([`MAX_EXECS_IN_FLIGHT`]).
    exec_slots: tokio::sync::Semaphore,
}

impl KubeRuntime {
    pub async fn new(opts: KubeOptions) -> Result<Self> {
        let conn = connect(
            opts.kubeconfig.as_deref(),
            opts.context.as_deref(),
            opts.timeout,
        )
        .await?;
        Ok(Self::with_connection(conn, opts))
    }

    pub fn with_connection(conn: Connection, mut opts: KubeOptions) -> Self {
        // --policy-from: a policy selects pods of its own namespace only.
        if opts.namespace.is_none()
            && let Some(from) = &opts.policy_from
        {
            opts.namespace = Some(from.namespace.clone());
        }
        let id = manifests::new_run_id();
        let namespace = opts
            .namespace
            .clone()
            .unwrap_or_else(|| format!("netcheck-{id}"));
        let run = RunSpec {
            host_port: manifests::host_port_for(&id),
            id,
            namespace,
            image: opts.image.clone(),
            ports: ServePorts::default(),
            psa: PsaLevel::Privileged,
        };
        KubeRuntime {
            client: conn.client,
            opts,
            run: Mutex::new(run),
            cluster_name: conn.cluster_name,
            server: conn.server,
            state: Mutex::new(State::default()),
            started: Instant::now(),
            calls: conn.calls,
            exec_slots: tokio::sync::Semaphore::new(MAX_EXECS_IN_FLIGHT),
        }
    }

    /// The API calls the run made so far (`-v` prints them at the end).
    pub fn api_calls(&self) -> Arc<ApiCalls> {
        self.calls.clone()
    }

    /// Wait for an exec slot; the agent's own deadline starts after it.
    async fn exec_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.exec_slots
            .acquire()
            .await
            .map_err(|_| RuntimeError::Other("the exec slots were closed".into()))
    }

    /// What teardown left to Kubernetes or to the user, each with the
    /// command that finishes it (also logged as warnings).
    pub fn cleanup_notes(&self) -> Vec<String> {
        self.state().cleanup_notes.clone()
    }

    /// What teardown removes: "namespace X", or with `-n` "the probe pods
    /// and Services in namespace X" (never the namespace itself).
    pub fn removal(&self) -> String {
        let ns = self.namespace();
        if self.opts.namespace.is_none() {
            format!("namespace {ns}")
        } else {
            format!("the probe pods and Services in namespace {ns}")
        }
    }

    /// What `--keep` kept and the commands that remove it: with `-n`, the
    /// run's own pods and Services by its label, never the namespace.
    pub fn keep_advice(&self) -> String {
        let run = self.run_spec();
        let ns = &run.namespace;
        if self.opts.namespace.is_none() {
            format!(
                "kept namespace {ns} (--keep); delete it with `kubectl delete namespace {ns}` or `kubectl netcheck cleanup`"
            )
        } else {
            format!(
                "kept the probe pods and Services in namespace {ns} (--keep); delete them with \
                 `kubectl -n {ns} delete pods,services -l {}={}` or `kubectl netcheck cleanup`",
                manifests::RUN_KEY,
                run.id
            )
        }
    }

    /// The probe namespace of this run.
    pub fn namespace(&self) -> String {
        self.run_spec().namespace
    }

    pub(super) fn run_spec(&self) -> RunSpec {
        self.run
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One API call, bounded, its error in the user's words.
    pub(super) async fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = std::result::Result<T, ::kube::Error>>,
    ) -> Result<T> {
        let bound = call_bound(self.opts.timeout);
        match tokio::time::timeout(bound, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(api_error(what, &self.server, e)),
            Err(_) => Err(unreachable(format!(
                "the Kubernetes API at {} did not answer within {} ({what}); check that the cluster is up and reachable",
                self.server,
                humantime::format_duration(bound)
            ))),
        }
    }

    pub(super) async fn list<K>(&self, api: Api<K>, lp: &ListParams, what: &str) -> Result<Vec<K>>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        Ok(self.call(what, api.list(lp)).await?.items)
    }

    pub(super) fn note_created_pod(&self, name: &str) {
        self.state().created_pods.push(name.to_string());
    }

    pub(super) fn note_created_service(&self, name: &str) {
        self.state().created_services.push(name.to_string());
    }

    fn host_pod(&self, node: &str) -> Result<String> {
        let s = self.state();
        if let Some(p) = s.host_pods.get(node) {
            return Ok(p.clone());
        }
        Err(RuntimeError::NotReady(
            s.host_off
                .clone()
                .or_else(|| s.host_unavailable.get(node).cloned())
                .unwrap_or_else(|| format!("no host agent runs on node {node}")),
        ))
    }
}

impl Runtime for KubeRuntime {
    async fn discover(&self, progress: &dyn Progress) -> Result<Deployment> {
        progress.message(&format!("connecting to {}", self.server));
        let objects = self.read_cluster(progress).await?;
        let filter = NodeFilter::parse(self.opts.nodes.as_deref());
        discover::deployment_from(&objects, &filter, &self.cluster_name, &self.server)
            .map_err(RuntimeError::Other)
    }

    async fn deploy(&self, d: Deployment, progress: &dyn Progress) -> Result<Deployment> {
        self.deploy_steps(d, progress).await
    }

    /// As many as exec streams may be open: a call the pipeline keeps open
    /// beyond them would wait for a slot inside its own time bound, holding
    /// its plan.
    fn probe_calls_at_once(&self) -> usize {
        MAX_EXECS_IN_FLIGHT
    }

    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        let pod = match source {
            Source::Pod(name) => name.clone(),
            Source::Host(node) => self.host_pod(node)?,
        };
        let body = serde_json::to_vec(plan)
            .map_err(|e| RuntimeError::Other(format!("could not encode the probe plan: {e}")))?;
        let bound = Duration::from_millis(plan.deadline_ms) + Duration::from_secs(20);
        let _slot = self.exec_slot().await?;
        let out = tokio::time::timeout(
            bound,
            self.exec(
                &pod,
                vec![manifests::BIN.into(), "agent".into(), "probe".into()],
                Some(body),
            ),
        )
        .await
        .map_err(|_| RuntimeError::Timeout {
            what: format!("the probe agent in pod {pod}"),
            after: bound,
        })??;
        serde_json::from_slice(&out).map_err(|e| {
            RuntimeError::Other(format!(
                "the agent in pod {pod} answered something that is not a probe report ({e}): {}",
                String::from_utf8_lossy(&out[..out.len().min(200)])
            ))
        })
    }

    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        let pod = self.host_pod(node)?;
        let bound = Duration::from_secs(60).min(self.opts.timeout.max(Duration::from_secs(10)));
        let cmd = vec![
            manifests::BIN.into(),
            "agent".into(),
            "inspect-host".into(),
            "--host-root".into(),
            "/host".into(),
            "--node-name".into(),
            node.to_string(),
        ];
        let _slot = self.exec_slot().await?;
        let out = tokio::time::timeout(bound, self.exec(&pod, cmd, None))
            .await
            .map_err(|_| RuntimeError::Timeout {
                what: format!("host inspection on {node}"),
                after: bound,
            })??;
        serde_json::from_slice(&out).map_err(|e| {
            RuntimeError::Other(format!(
                "host inspection on {node} answered something that is not a host report: {e}"
            ))
        })
    }

    async fn teardown(&self) -> Result<()> {
        self.remove_created().await
    }
}
