//! Plain data shared by every pipeline stage. Nothing here touches the world.
//!
//! - [`plan`]: what a probe agent is asked to do and what it answers.
//! - [`report`]: the `netcheck/v1` report (checks, findings, summary).
//! - [`cells`]: per-cell summaries of checks (counts, latency), mergeable.
//! - [`finding`]: the stable finding IDs.
//! - [`host`]: what host inspection reports about one node.
//! - [`topology`]: what a runtime deployed (nodes, probe pods, Services, DNS).

pub mod cells;
pub mod finding;
pub mod host;
pub mod plan;
pub mod report;
pub mod topology;

pub use finding::{Finding, FindingId, Severity};
pub use plan::{Outcome, Probe, ProbePlan, ProbeReport, ProbeResult, ProbeSpec};
pub use report::{Check, CheckKind, Endpoint, Family, Protocol, Report, Status, Summary};
pub use topology::Deployment;
