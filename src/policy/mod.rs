//! NetworkPolicy: compile once, evaluate every probe pair, explain verdicts.
//!
//! - [`world`]: pods, namespaces, the traffic a question is about.
//! - [`selector`]: label selectors.
//! - [`compile`]: policies compiled into matchers ([`Compiled`]).
//! - [`eval`]: (source, destination, port) → [`Verdict`] with its reasons.
//! - [`judge`]: the run's checks judged against the deployment's policies.
//! - [`kinds`]: policy kinds besides NetworkPolicy (Cilium, Calico,
//!   AdminNetworkPolicy): the checks they could decide are `not-judged`.
//! - [`load`]: Namespaces, Pods and NetworkPolicies from YAML files.
//! - [`explain`]: the `explain` command.
//! - [`labels`]: workload labels for `--policy-from`.
//! - [`truth`]: truth tables (who reaches whom) with a grid printer.
//!
//! docs/policy.md says which choices the evaluator makes where the API leaves
//! room (ipBlock and pod IPs, ICMP, a pod's traffic to itself).

pub mod compile;
pub mod eval;
pub mod explain;
pub mod judge;
pub mod kinds;
pub mod labels;
pub mod load;
pub mod selector;
pub mod truth;
pub mod world;

#[cfg(test)]
mod scenarios;

pub use compile::{Compiled, Direction};
pub use eval::{Decision, DirectionVerdict, RuleRef, Verdict};
pub use judge::{PolicyJudge, judge_checks};
pub use labels::probe_labels_from;
pub use load::{load_objects, load_policy_files, load_policy_files_in, parse_objects};
pub use truth::TruthTable;
pub use world::{ContainerPort, Peer, PodInfo, PortQuery, Proto};
