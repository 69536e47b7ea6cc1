//! The Kubernetes runtime (kube-rs): discovery, preflight, deploy, exec, cleanup.
//!
//! - [`discover`]: pure functions from API objects to the topology and the
//!   control-plane findings.
//! - [`manifests`]: the typed objects a run creates.
//! - [`pods`]: whether a probe pod started, and why not.
//! - [`preflight`]: the permissions a run needs (SelfSubjectAccessReview).
//! - [`image`]: the probe image as an OCI archive.
//! - [`KubeRuntime`]: the [`crate::runtime::Runtime`] over a real API server,
//!   in steps named by file: `client` (kubeconfig, bounded calls, errors in
//!   words), `read` (every API call of discovery), `deploy` (namespace,
//!   canary, probes, what came up), `wait` (pods until ready or not
//!   startable), `exec`, `cleanup` (teardown and `kubectl netcheck cleanup`).

mod cleanup;
mod client;
mod deploy;
pub mod discover;
mod exec;
pub mod image;
pub mod manifests;
pub mod pods;
pub mod preflight;
mod read;
mod runtime;
mod wait;

#[cfg(test)]
mod fixtures;

pub use cleanup::cleanup_leftovers;
pub use client::{API_BURST, API_QPS, ApiCalls, Connection, connect};
pub use runtime::{KubeOptions, KubeRuntime, MAX_CREATES_IN_FLIGHT, MAX_EXECS_IN_FLIGHT};
