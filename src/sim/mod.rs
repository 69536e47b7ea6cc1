//! `lab --simulate`: the whole pipeline on a simulated cluster, in memory,
//! without root or namespaces. [`SimRuntime`] implements the same
//! [`Runtime`] as the lab and Kubernetes: `discover` and `deploy` describe
//! the cluster, `probe` answers each source's plan from the [`SimNetwork`]
//! (outcomes, latencies, path MTUs, DNS answers), `inspect_host` returns a
//! host report shaped like the lab's real inspection (`hosts`). Planner,
//! confirmation pass, assembly, policy, diagnosis and rendering are the real
//! ones.
//!
//! What it proves: the CLI's side (plans, answers to checks, diagnosis,
//! memory and time at thousands of nodes). What it does not: packets. The
//! lab proves those; the simulator's physics are a model of what the lab
//! shows for each fault (`faults`).

pub mod faults;
pub mod hosts;
pub mod network;

pub use network::SimNetwork;

use crate::model::host::HostReport;
use crate::model::topology::Source;
use crate::model::{Deployment, ProbePlan, ProbeReport, ProbeResult};
use crate::runtime::{Progress, Result, Runtime, RuntimeError};
use k8s_openapi::api::networking::v1::NetworkPolicy;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub nodes: usize,
    pub pods_per_node: usize,
    /// `--fault` names (the lab's).
    pub faults: Vec<String>,
    /// Seeds the per-path latencies (same seed, same answers).
    pub seed: u64,
    pub policies: Vec<NetworkPolicy>,
}

impl SimConfig {
    pub fn new(nodes: usize, pods_per_node: usize) -> Self {
        SimConfig {
            nodes,
            pods_per_node,
            faults: Vec::new(),
            seed: 1,
            policies: Vec::new(),
        }
    }
}

pub struct SimRuntime {
    net: SimNetwork,
    policies: Vec<NetworkPolicy>,
}

impl SimRuntime {
    /// Build the simulated network and break it as `cfg.faults` say.
    pub fn new(cfg: SimConfig) -> std::result::Result<Self, String> {
        let mut net = SimNetwork::new(cfg.nodes, cfg.pods_per_node, cfg.seed)?;
        for f in &cfg.faults {
            faults::apply(f, &mut net)?;
        }
        Ok(SimRuntime {
            net,
            policies: cfg.policies,
        })
    }

    pub fn network(&self) -> &SimNetwork {
        &self.net
    }
}

/// The agent's answer to a plan from its raw results: today the plain
/// report (every result). The one place that turns results into a report,
/// so that an aggregating agent (per-cell summaries) replaces this call.
pub fn agent_answer(plan: &ProbePlan, results: Vec<ProbeResult>) -> ProbeReport {
    crate::agent::aggregate::answer(plan, results)
}

impl Runtime for SimRuntime {
    async fn discover(&self, _progress: &dyn Progress) -> Result<Deployment> {
        Ok(self.net.discovered())
    }

    async fn deploy(&self, discovered: Deployment, progress: &dyn Progress) -> Result<Deployment> {
        progress.message(&format!(
            "simulating {} nodes, {} pods per node",
            self.net.node_count(),
            self.net.pods_per_node
        ));
        Ok(self.net.deployed(discovered, self.policies.clone()))
    }

    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        let results = self.net.answer_all(source, &plan.probes).ok_or_else(|| {
            RuntimeError::Other(format!("the simulated cluster has no source {source:?}"))
        })?;
        Ok(agent_answer(plan, results))
    }

    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        let i = self.net.node_index(node).ok_or_else(|| {
            RuntimeError::Other(format!("the simulated cluster has no node {node}"))
        })?;
        hosts::host_report(&self.net, i).map_err(RuntimeError::Other)
    }

    async fn teardown(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
