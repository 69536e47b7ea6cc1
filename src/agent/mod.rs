//! The agent: what runs inside every probe pod (and every lab namespace).
//! `serve` answers probes, `probe` runs a plan, `inspect-host` reads the node.
//!
//! Protocol with whoever starts the agent (the lab runtime, the Kubernetes
//! runtime's exec):
//! - `agent serve` prints exactly one line `ready` on **stdout** once all its
//!   listeners are bound, then nothing else on stdout; logs go to stderr. It
//!   exits 0 on SIGTERM or SIGINT.
//! - `agent probe` reads one [`ProbePlan`](crate::model::ProbePlan) (JSON) on
//!   stdin and writes one [`ProbeReport`](crate::model::ProbeReport) (JSON) on
//!   stdout (passes counted per cell when the plan asks, [`aggregate`]). A
//!   plan that does not parse is exit code 2 with the reason on stderr.

pub mod aggregate;
#[cfg(target_os = "linux")]
pub mod inspect_host;
#[cfg(target_os = "linux")]
pub mod probe;
#[cfg(target_os = "linux")]
pub mod serve;
