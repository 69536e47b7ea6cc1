//! kubectl-netcheck: diagnose Kubernetes networking.
//!
//! The pipeline (DESIGN.md): discover → deploy → probe → inspect → evaluate
//! policy → diagnose → render → clean up. One module per stage; see
//! docs/ARCHITECTURE.md for the map.

pub mod agent;
pub mod cli;
pub mod diagnose;
pub mod inspect;
pub mod kube;
#[cfg(target_os = "linux")]
pub mod lab;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod render;
pub mod runtime;
#[cfg(target_os = "linux")]
pub mod sim;
