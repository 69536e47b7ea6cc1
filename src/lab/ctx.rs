//! What the builder and the faults work with: the lab's plan, the tools, the
//! processes it runs, and small verbs on namespaces ("run these `ip` lines in
//! node 2", "load these rules", "set this sysctl"). Host faults use the same
//! verbs.

use super::cmd::{Tools, find_program};
use super::plan::LabPlan;
use crate::runtime::{Result, RuntimeError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct LabCtx {
    pub plan: LabPlan,
    pub tools: Tools,
    /// The binary exec'd as the agent in every namespace.
    pub agent_exe: PathBuf,
    /// The DNS replicas' (dnsmasq) pids once started.
    pub dns_pids: Vec<u32>,
    /// kube-proxy's pending syncs (faults on its rules wait for their node's).
    pub services: std::sync::Arc<super::kube_proxy::ServiceSync>,
    /// How kube-proxy programs the nodes' Services.
    pub kube_proxy: super::kube_proxy_mode::KubeProxyMode,
    /// The CNI flavour the nodes run (`lab --cni`).
    pub cni: &'static dyn super::flavours::Flavour,
}

impl LabCtx {
    /// Index of the last node (the target of single-node faults).
    pub fn last_node(&self) -> usize {
        self.plan.nodes - 1
    }

    /// `ip -n NS -batch -`.
    pub async fn ip(&self, ns: &str, lines: &[String]) -> Result<()> {
        self.tools.ip_batch(Some(ns), lines).await
    }

    /// `bridge -n NS -batch -`.
    pub async fn bridge(&self, ns: &str, lines: &[String]) -> Result<()> {
        self.tools.bridge_batch(ns, lines).await
    }

    /// `iptables-restore [--noflush]` inside a namespace.
    pub async fn iptables_restore(&self, ns: &str, rules: &str, noflush: bool) -> Result<()> {
        self.tools.iptables_restore(ns, rules, noflush).await
    }

    /// Run any program (found on PATH or in sbin) inside a namespace.
    pub async fn exec(
        &self,
        ns: &str,
        program: &str,
        args: &[&str],
        stdin: Option<String>,
    ) -> Result<String> {
        let p = find_program(program).ok_or_else(|| {
            RuntimeError::NotReady(format!("`{program}` is not installed on this machine"))
        })?;
        self.tools.netns_exec(ns, &p, args, stdin).await
    }

    /// Set sysctls (`net.ipv4.ip_forward` style keys) inside a namespace.
    pub async fn sysctl(&self, ns: &str, values: &[(&str, &str)]) -> Result<()> {
        super::cmd::write_sysctls(
            ns,
            values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string(), false))
                .collect(),
        )
        .await
    }

    /// Node i's simulated root filesystem (CNI config and binaries).
    pub fn node_root(&self, i: usize) -> PathBuf {
        self.plan.node_root(i)
    }

    /// SIGKILL a process the lab started and wait (10 s at most: an exit can
    /// wait on the kernel's network lock while other labs build) until it is gone.
    pub async fn kill_and_wait(&self, pid: u32) -> Result<()> {
        // SAFETY: kill(2) on a pid this lab started and still tracks.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if !alive(pid) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(RuntimeError::Other(format!(
            "process {pid} did not stop after SIGKILL"
        )))
    }
}

/// Running (not gone and not a zombie waiting to be reaped).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
