//! The one interface through which the pipeline touches the world
//! (DESIGN.md, "The pipeline"). Implementations: the lab (network namespaces,
//! `crate::lab`), Kubernetes (`crate::kube`) and fakes in tests.
//!
//! Everything after the runtime (plans, policy, diagnosis, rendering) is plain
//! data in, plain data out.

use crate::model::host::HostReport;
use crate::model::topology::Source;
use crate::model::{Deployment, ProbePlan, ProbeReport};
use std::future::Future;
use std::time::Duration;

/// Why a runtime step could not be done. Every variant maps to exit code 3
/// ("could not run") unless the pipeline can go on without the step.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    NotPermitted(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{what} did not finish within {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("{0}")]
    NotReady(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl RuntimeError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Progress a runtime reports while it works (the CLI turns it into spinners
/// and bars on a terminal, log lines otherwise).
pub trait Progress: Send + Sync {
    /// A stage or step started or changed ("deploying probe on node-2").
    fn message(&self, msg: &str);
    /// One unit of a stage finished (`done` of `total`).
    fn tick(&self, done: usize, total: usize) {
        let _ = (done, total);
    }
}

/// Progress that goes nowhere (tests, `-q`).
pub struct Quiet;
impl Progress for Quiet {
    fn message(&self, _msg: &str) {}
}

/// How many probe agents the pipeline asks at once unless the runtime says
/// otherwise ([`Runtime::probe_calls_at_once`]): every agent of a lab-sized
/// run at once, and a bound on the plans held at once at thousands of nodes.
pub const PROBE_CALLS_AT_ONCE: usize = 1024;

pub trait Runtime: Send + Sync {
    /// Learn the cluster: nodes, CNI, kube-proxy mode, DNS, policies.
    fn discover(&self, progress: &dyn Progress) -> impl Future<Output = Result<Deployment>> + Send;

    /// Start the probes (one pod per node at least, host agents) and fill in
    /// their addresses; returns the completed deployment.
    fn deploy(
        &self,
        discovered: Deployment,
        progress: &dyn Progress,
    ) -> impl Future<Output = Result<Deployment>> + Send;

    /// Run one plan in one source and return all its results at once.
    fn probe(
        &self,
        source: &Source,
        plan: &ProbePlan,
    ) -> impl Future<Output = Result<ProbeReport>> + Send;

    /// How many `probe` calls the pipeline keeps open at once (each holds
    /// its source's plan until the answer is assembled).
    fn probe_calls_at_once(&self) -> usize {
        PROBE_CALLS_AT_ONCE
    }

    /// Inspect a node's host (CNI, firewall, sysctls, interfaces, conntrack).
    fn inspect_host(&self, node: &str) -> impl Future<Output = Result<HostReport>> + Send;

    /// Remove everything the run created. Must be safe to call more than once
    /// and after a partial deploy.
    fn teardown(&self) -> impl Future<Output = Result<()>> + Send;
}
