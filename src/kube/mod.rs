//! The Kubernetes runtime (kube-rs): discovery, preflight, deploy, exec, cleanup.
//!
//! - [`discover`]: pure functions from API objects to the topology and the
//!   control-plane findings.
//! - [`manifests`]: the typed objects a run creates.
//! - [`pods`]: whether a probe pod started, and why not.
//! - [`preflight`]: the permissions a run needs (SelfSubjectAccessReview).
//! - [`image`]: the probe image as an OCI archive.
//! - [`KubeRuntime`]: the [`crate::runtime::Runtime`] over a real API server.

pub mod discover;
pub mod image;
pub mod manifests;
pub mod pods;
pub mod preflight;
mod runtime;

#[cfg(test)]
mod fixtures;

pub use runtime::{KubeOptions, KubeRuntime, cleanup_leftovers, connect};
