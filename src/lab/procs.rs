//! The lab's long-running processes: the agent (`agent serve`) in every pod
//! and node namespace, and dnsmasq in each DNS pod (two replicas). Each is started with
//! `ip netns exec` (which also bind-mounts the namespace's resolv.conf). An
//! agent is ready when it prints `ready` (it does once every socket is
//! bound); dnsmasq when its port 53 shows in /proc/PID/net. Reading
//! /proc/PID/net/tcp walks the kernel's socket hash of every namespace, so
//! it is kept for the one process that prints nothing.

use super::ctx::LabCtx;
use super::plan::{
    APISERVER_IP, APISERVER_IP_V6, CLUSTER_DOMAIN, DNS_REPLICAS, DNS_SERVICE_IP, DNS_SERVICE_IP_V6,
};
use crate::runtime::{Result, RuntimeError};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long processes may take to listen.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A started process and what it must listen on.
pub struct Started {
    pub role: String,
    pub ns: String,
    pub child: Child,
    pub tcp: Vec<u16>,
    pub udp: Vec<u16>,
    pub log: PathBuf,
    /// A line the process prints once ready (else: its ports in /proc).
    pub ready_line: Option<&'static str>,
}

/// What `agent serve` prints once it listens.
pub const AGENT_READY: &str = "ready";

fn logs_dir(ctx: &LabCtx) -> PathBuf {
    ctx.plan.state_dir().join("logs")
}

/// Start `program args…` in a namespace, stdout/stderr to a log file, in its
/// own process group (a Ctrl-C at the terminal reaches the CLI, which then
/// tears down in order).
/// Niceness of the lab's servers (below 0: ahead of the probing agents).
const SERVER_NICE: libc::c_int = -5;

pub fn spawn_in(
    ctx: &LabCtx,
    role: &str,
    ns: &str,
    program: &Path,
    args: &[String],
) -> Result<(Child, PathBuf)> {
    use std::os::unix::process::CommandExt;
    let dir = logs_dir(ctx);
    std::fs::create_dir_all(&dir)
        .map_err(|e| RuntimeError::io(format!("could not create {}", dir.display()), e))?;
    let log = dir.join(format!("{role}.log"));
    let out = std::fs::File::create(&log)
        .map_err(|e| RuntimeError::io(format!("could not create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| RuntimeError::io("could not duplicate a log file", e))?;
    let mut cmd = Command::new(&ctx.tools.ip);
    cmd.args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // The servers (dnsmasq, `agent serve`) run ahead of the probing agents:
    // in a cluster they have their own CPUs, in the lab 3N probing agents
    // share two cores with them, and a starved server looks like a dead path.
    // SAFETY: setpriority is async-signal-safe and touches only this child.
    unsafe {
        cmd.pre_exec(|| {
            // Not allowed (no CAP_SYS_NICE): it runs at the normal priority.
            let _ = libc::setpriority(libc::PRIO_PROCESS, 0, SERVER_NICE);
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| RuntimeError::io(format!("could not start {role} in {ns}"), e))?;
    Ok((child, log))
}

/// `agent serve` arguments.
pub fn serve_args(tcp: u16, udp: u16, http: u16, pod: &str, node: &str, ip: &str) -> Vec<String> {
    [
        "agent",
        "serve",
        "--tcp-port",
        &tcp.to_string(),
        "--udp-port",
        &udp.to_string(),
        "--http-port",
        &http.to_string(),
        "--pod-name",
        pod,
        "--node-name",
        node,
        "--pod-ip",
        ip,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// DNS replica r's dnsmasq configuration: authoritative for cluster.local
/// (unknown names get NXDOMAIN, so search-path lookups fall through as with
/// CoreDNS), one record per Service, nothing forwarded anywhere.
pub fn dnsmasq_conf(ctx: &LabCtx, r: usize) -> String {
    let p = &ctx.plan;
    let ns = p.k8s_namespace();
    let mut s = format!(
        "no-resolv\nno-hosts\nno-poll\nlisten-address={}\nbind-interfaces\nlocal=/{CLUSTER_DOMAIN}/\nuser=root\nlog-facility=-\npid-file={}\n",
        listen_addresses(p, r),
        p.state_dir().join(format!("dnsmasq-{r}.pid")).display()
    );
    // One host-record per name with an address of each family: A and AAAA.
    let record = |name: String, v4: std::net::Ipv4Addr, v6: std::net::Ipv6Addr| {
        let mut r = format!("host-record={name}");
        if p.family.v4() {
            r.push_str(&format!(",{v4}"));
        }
        if p.family.v6() {
            r.push_str(&format!(",{v6}"));
        }
        r.push('\n');
        r
    };
    s.push_str(&record(
        format!("kubernetes.default.svc.{CLUSTER_DOMAIN}"),
        APISERVER_IP,
        APISERVER_IP_V6,
    ));
    s.push_str(&record(
        format!("kube-dns.kube-system.svc.{CLUSTER_DOMAIN}"),
        DNS_SERVICE_IP,
        DNS_SERVICE_IP_V6,
    ));
    for i in 0..p.nodes {
        for j in 0..p.pods_per_node {
            s.push_str(&record(
                format!("{}.{ns}.svc.{CLUSTER_DOMAIN}", p.pod_name(i, j)),
                p.service_ip(i, j),
                p.service_ip6(i, j),
            ));
        }
    }
    s
}

/// dnsmasq's `listen-address`: the DNS pod's address of each family.
fn listen_addresses(p: &super::plan::LabPlan, r: usize) -> String {
    let mut v = Vec::new();
    if p.family.v4() {
        v.push(p.dns_pod_ip(r).to_string());
    }
    if p.family.v6() {
        v.push(p.dns_pod_ip6(r).to_string());
    }
    v.join(",")
}

/// Start dnsmasq in every DNS pod (role `dnsmasq-R`). On an error the ones
/// already started come back with it, for teardown to stop.
pub fn start_dnsmasq(ctx: &LabCtx) -> (Vec<Started>, Result<()>) {
    let mut out = Vec::new();
    for r in 0..DNS_REPLICAS {
        match start_dns_replica(ctx, r) {
            Ok(s) => out.push(s),
            Err(e) => return (out, Err(e)),
        }
    }
    (out, Ok(()))
}

fn start_dns_replica(ctx: &LabCtx, r: usize) -> Result<Started> {
    let conf = ctx.plan.state_dir().join(format!("dnsmasq-{r}.conf"));
    std::fs::write(&conf, dnsmasq_conf(ctx, r))
        .map_err(|e| RuntimeError::io(format!("could not write {}", conf.display()), e))?;
    let args = vec![
        "--keep-in-foreground".to_string(),
        format!("--conf-file={}", conf.display()),
    ];
    let ns = ctx.plan.dns_ns(r);
    let role = format!("dnsmasq-{r}");
    let (child, log) = spawn_in(ctx, &role, &ns, &ctx.tools.dnsmasq, &args)?;
    Ok(Started {
        role,
        ns,
        child,
        tcp: vec![53],
        udp: vec![53],
        log,
        ready_line: None,
    })
}

/// Ports a /proc/PID/net/{tcp,udp} table has bound (TCP: listening only).
pub fn bound_ports(table: &str, tcp: bool) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port = f.get(1)?.rsplit(':').next()?;
            let state = f.get(3)?;
            (!tcp || *state == "0A").then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

fn net_inode_of(pid: u32) -> Option<u64> {
    let l = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let s = l.to_string_lossy().into_owned();
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Is the process ready: its ready line in the log, or listening on
/// everything it should in its namespace?
fn ready(s: &Started, ns_inode: u64) -> bool {
    match s.ready_line {
        Some(line) => std::fs::read_to_string(&s.log)
            .map(|t| t.lines().any(|l| l.trim() == line))
            .unwrap_or(false),
        None => listening(s, ns_inode),
    }
}

/// Is the process listening on everything it should, in its namespace?
fn listening(s: &Started, ns_inode: u64) -> bool {
    let pid = s.child.id();
    if net_inode_of(pid) != Some(ns_inode) {
        return false; // still `ip netns exec`, not yet in the namespace
    }
    // IPv4 and IPv6 tables: a dual-stack wildcard socket shows only in the v6 one.
    let read =
        |f: &str| std::fs::read_to_string(format!("/proc/{pid}/net/{f}")).unwrap_or_default();
    let tcp: Vec<u16> = ["tcp", "tcp6"]
        .iter()
        .flat_map(|f| bound_ports(&read(f), true))
        .collect();
    let udp: Vec<u16> = ["udp", "udp6"]
        .iter()
        .flat_map(|f| bound_ports(&read(f), false))
        .collect();
    s.tcp.iter().all(|p| tcp.contains(p)) && s.udp.iter().all(|p| udp.contains(p))
}

/// Wait until every process listens; fail with the log of one that exited
/// or did not get there in time.
pub async fn wait_ready(started: &mut [Started], timeout: Duration) -> Result<()> {
    let inodes: Vec<Option<u64>> = started
        .iter()
        .map(|s| super::state::netns_inode(&s.ns))
        .collect();
    let until = Instant::now() + timeout;
    let mut pending: Vec<usize> = (0..started.len()).collect();
    loop {
        let mut still = Vec::new();
        for &k in &pending {
            let s = &mut started[k];
            if let Ok(Some(status)) = s.child.try_wait() {
                return Err(RuntimeError::NotReady(format!(
                    "{} in {} exited ({status}) before it was ready: {}",
                    s.role,
                    s.ns,
                    tail(&s.log)
                )));
            }
            match inodes[k] {
                Some(ino) if ready(s, ino) => {}
                _ => still.push(k),
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= until {
            let s = &started[pending[0]];
            return Err(RuntimeError::NotReady(format!(
                "{} of the lab's processes were not listening after {timeout:?} (first: {} in {}): {}",
                pending.len(),
                s.role,
                s.ns,
                tail(&s.log)
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The last lines of a log, for an error message.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    let t = lines.into_iter().rev().collect::<Vec<_>>().join(" | ");
    if t.is_empty() {
        "(no output)".to_string()
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listening_ports() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n   1: 0100007F:0050 0100007F:1234 01 00000000:00000000 00:00000000 00000000     0        0 2\n";
        assert_eq!(bound_ports(tcp, true), vec![7000]);
        assert_eq!(bound_ports(tcp, false), vec![7000, 80]);
        assert!(bound_ports("", true).is_empty());
        assert!(bound_ports("header\ngarbage line\n", false).is_empty());
    }
}
