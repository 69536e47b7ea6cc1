//! Shared helpers of the lab tests: build a lab, send packets from inside
//! its namespaces, check nothing is left.
#![allow(dead_code)]

use netcheck::lab::cmd::in_netns_thread;
use netcheck::lab::faults::Fault;
use netcheck::lab::{LabConfig, LabRuntime};
use netcheck::runtime::{Quiet, Runtime};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

/// The report of a `kubectl-netcheck … -o json` run, or a panic that shows
/// its stderr.
pub fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A report's checks.
pub fn checks(r: &serde_json::Value) -> &Vec<serde_json::Value> {
    r["checks"].as_array().expect("checks")
}

/// (kind, family) of every check of a report with `status`.
pub fn kinds(r: &serde_json::Value, status: &str) -> std::collections::BTreeSet<(String, String)> {
    checks(r)
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or("").to_string(),
                c["family"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The CLI binary (the agent), for the tests that run it.
pub fn exe() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_kubectl-netcheck").into()
}

/// Build a lab without agents (network, DNS, faults), and wait until
/// kube-proxy has synced the probe Services on every node (the tests send
/// packets through them).
pub async fn build(
    nodes: usize,
    pods: usize,
    faults: &[&'static dyn Fault],
) -> Result<LabRuntime, String> {
    let rt = build_unsynced(nodes, pods, faults).await?;
    match rt.wait_for_service_rules().await {
        Ok(()) => Ok(rt),
        Err(e) => {
            let _ = rt.teardown().await;
            Err(e.to_string())
        }
    }
}

/// [`build`] without waiting for kube-proxy: its sync is still pending.
pub async fn build_unsynced(
    nodes: usize,
    pods: usize,
    faults: &[&'static dyn Fault],
) -> Result<LabRuntime, String> {
    build_unsynced_in(nodes, pods, faults, netcheck::lab::KubeProxyMode::default()).await
}

/// [`build`] on the CNI flavour `cni`.
pub async fn build_flavour(
    nodes: usize,
    pods: usize,
    faults: &[&'static dyn Fault],
    cni: &'static dyn netcheck::lab::Flavour,
) -> Result<LabRuntime, String> {
    let rt = build_unsynced_with(nodes, pods, faults, Default::default(), cni).await?;
    match rt.wait_for_service_rules().await {
        Ok(()) => Ok(rt),
        Err(e) => {
            let _ = rt.teardown().await;
            Err(e.to_string())
        }
    }
}

/// [`build_unsynced`] with kube-proxy in the given mode.
pub async fn build_unsynced_in(
    nodes: usize,
    pods: usize,
    faults: &[&'static dyn Fault],
    kube_proxy: netcheck::lab::KubeProxyMode,
) -> Result<LabRuntime, String> {
    build_unsynced_with(
        nodes,
        pods,
        faults,
        kube_proxy,
        netcheck::lab::flavours::default(),
    )
    .await
}

/// [`build_unsynced`] with kube-proxy's mode and the CNI flavour.
pub async fn build_unsynced_with(
    nodes: usize,
    pods: usize,
    faults: &[&'static dyn Fault],
    kube_proxy: netcheck::lab::KubeProxyMode,
    cni: &'static dyn netcheck::lab::Flavour,
) -> Result<LabRuntime, String> {
    let mut cfg = LabConfig::new(nodes, pods, exe());
    cfg.agents = false;
    cfg.faults = faults.to_vec();
    cfg.kube_proxy = kube_proxy;
    cfg.cni = cni;
    let rt = LabRuntime::new(cfg).map_err(|e| e.to_string())?;
    let d = rt.discover(&Quiet).await.map_err(|e| e.to_string())?;
    match rt.deploy(d, &Quiet).await {
        Ok(_) => Ok(rt),
        Err(e) => {
            let _ = rt.teardown().await;
            Err(e.to_string())
        }
    }
}

/// One ICMP echo from a namespace (1 s wait).
pub fn ping(ns: &str, ip: Ipv4Addr, size: u16) -> bool {
    ping_args(ns, ip, &["-s", &size.to_string()])
}

/// One ICMP echo with DF set and `payload` bytes (+28 for the IP packet).
pub fn ping_df(ns: &str, ip: Ipv4Addr, payload: u16) -> bool {
    ping_args(ns, ip, &["-M", "do", "-s", &payload.to_string()])
}

/// Expect no answer: one echo (a path that answers even once is not broken).
pub fn no_ping(ns: &str, ip: Ipv4Addr, size: u16) -> bool {
    !ping_tries(ns, ip, &["-s", &size.to_string()], 1)
}

/// Expect a DF echo of `payload` bytes to vanish.
pub fn no_ping_df(ns: &str, ip: Ipv4Addr, payload: u16) -> bool {
    !ping_tries(ns, ip, &["-M", "do", "-s", &payload.to_string()], 1)
}

fn ping_args(ns: &str, ip: Ipv4Addr, extra: &[&str]) -> bool {
    // Two tries: the first packet of a path may wait for ARP.
    ping_tries(ns, ip, extra, 2)
}

fn ping_tries(ns: &str, ip: Ipv4Addr, extra: &[&str], tries: usize) -> bool {
    (0..tries).any(|_| {
        Command::new("ip")
            .args([
                "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", "1",
            ])
            .args(extra)
            .arg(ip.to_string())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// A TCP echo listener inside a namespace, on its own thread, until dropped
/// (the socket lives in the namespace it was created in).
pub struct Listener {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn listen_tcp(ns: &str, ip: impl Into<std::net::IpAddr>, port: u16) -> Listener {
    let at = SocketAddr::new(ip.into(), port);
    let l = in_netns_thread(ns, || TcpListener::bind(at))
        .expect("enter namespace")
        .expect("bind in pod");
    l.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let handle = std::thread::spawn(move || {
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            match l.accept() {
                Ok((mut c, _)) => {
                    let _ = c.set_nonblocking(false);
                    let mut buf = [0u8; 64];
                    if let Ok(n) = c.read(&mut buf) {
                        let _ = c.write_all(&buf[..n]);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Listener {
        stop,
        handle: Some(handle),
    }
}

/// Connect from a namespace, send a line, read the echo.
pub fn tcp_roundtrip(ns: &str, ip: Ipv4Addr, port: u16) -> Result<(), String> {
    in_netns_thread(ns, || {
        let mut s =
            TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(2))
                .map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"netcheck\n").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 9];
        s.read_exact(&mut buf).map_err(|e| format!("read: {e}"))?;
        (&buf == b"netcheck\n")
            .then_some(())
            .ok_or("wrong echo".to_string())
    })
    .map_err(|e| e.to_string())?
}

/// Only connect from a namespace: Ok, or the error's kind (refused, timed out…).
pub fn tcp_connect(ns: &str, ip: Ipv4Addr, port: u16) -> Result<(), std::io::ErrorKind> {
    in_netns_thread(ns, || {
        TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(2))
            .map(drop)
            .map_err(|e| e.kind())
    })
    .unwrap_or(Err(std::io::ErrorKind::Other))
}

/// `ip netns exec NS program args…`: stdout, or why it failed.
pub fn run_in(ns: &str, program: &str, args: &[&str]) -> Result<String, String> {
    netcheck::lab::host_faults::netns_exec(ns, program, args, None)
}

/// A counter of /proc/net/snmp (`Udp:` `InDatagrams`…) inside a namespace.
pub fn snmp_counter(ns: &str, prefix: &str, name: &str) -> Result<u64, String> {
    proc_counter(ns, "/proc/net/snmp", prefix, name)
}

/// A counter of a /proc/net table with a names line and a values line per
/// prefix (snmp, netstat), read inside a namespace.
pub fn proc_counter(ns: &str, file: &str, prefix: &str, name: &str) -> Result<u64, String> {
    let text = run_in(ns, "cat", &[file])?;
    let mut lines = text.lines().filter(|l| l.starts_with(prefix));
    let (names, values) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| format!("no {prefix} {name} in {file} of {ns}"))
}

/// An A query over UDP from a namespace: the addresses, or Err(rcode)
/// (Err(-1) when nothing answered in 2 s).
pub fn dns_a(ns: &str, server: &str, name: &str) -> Result<Vec<Ipv4Addr>, i32> {
    let server: Ipv4Addr = server.parse().unwrap();
    let name = name.to_string();
    in_netns_thread(ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").map_err(|_| -1)?;
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let id: u16 = 0x4e43;
        let mut q = vec![(id >> 8) as u8, id as u8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.trim_end_matches('.').split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        sock.send_to(&q, (server, 53)).map_err(|_| -1)?;
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).map_err(|_| -1)?;
        let r = &buf[..n];
        if n < 12 || r[0..2] != q[0..2] {
            return Err(-2);
        }
        let rcode = (r[3] & 0x0f) as i32;
        if rcode != 0 {
            return Err(rcode);
        }
        let answers = u16::from_be_bytes([r[6], r[7]]);
        // Skip the question, then read A records (names are compressed pointers).
        let mut i = 12 + (q.len() - 12);
        let mut out = Vec::new();
        for _ in 0..answers {
            if i + 12 > n {
                break;
            }
            // name: pointer (2 bytes) in dnsmasq answers
            i += if r[i] & 0xc0 == 0xc0 {
                2
            } else {
                return Err(-3);
            };
            let rtype = u16::from_be_bytes([r[i], r[i + 1]]);
            let rdlen = u16::from_be_bytes([r[i + 8], r[i + 9]]) as usize;
            i += 10;
            if rtype == 1 && rdlen == 4 && i + 4 <= n {
                out.push(Ipv4Addr::new(r[i], r[i + 1], r[i + 2], r[i + 3]));
            }
            i += rdlen;
        }
        Ok(out)
    })
    .unwrap_or(Err(-4))
}

/// No namespace, /etc/netns dir, state dir or process of the lab remains.
pub fn assert_nothing_left(id: &str, pids: &[u32]) {
    let prefix = format!("nc{id}-");
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        !list.lines().any(|l| l.starts_with(&prefix)),
        "namespaces left: {list}"
    );
    let etc: Vec<String> = std::fs::read_dir("/etc/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    assert!(etc.is_empty(), "/etc/netns dirs left: {etc:?}");
    assert!(
        !std::path::Path::new("/run/netcheck").join(id).exists(),
        "state dir left"
    );
    for &pid in pids {
        assert!(!netcheck::lab::ctx::alive(pid), "process {pid} still runs");
    }
    let pgrep = Command::new("pgrep")
        .args(["-f", &format!("netcheck/{id}")])
        .output();
    if let Ok(o) = pgrep {
        assert!(
            o.stdout.is_empty(),
            "processes left: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}
