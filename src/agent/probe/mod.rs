//! `agent probe`: run a whole [`ProbePlan`] concurrently and answer with one
//! [`ProbeReport`].
//!
//! Time is the contract here. Every probe runs under its own `timeoutMs`
//! (retries fit inside it), counted from when the probe starts, not from when
//! the plan started. At most [`DEFAULT_ACTIVE`] probes are doing work at once
//! (a probe that has not answered within a short, adaptive fast window frees
//! its slot and waits in the background), and at most `maxInFlight` are open
//! at all. So a healthy plan of a thousand probes never has a thousand
//! connections fighting for the CPU (which would time them out), and a plan
//! of a thousand dead targets still costs about one probe timeout plus a few
//! fast windows, never a thousand timeouts. The whole plan stops at
//! `deadlineMs` (a backstop the planner scales with the plan's size):
//! whatever has not finished by then is reported as `timeout`.

mod dns;
mod http;
pub mod icmp;
mod mtu;
mod rx;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

use crate::model::{Outcome, Probe, ProbePlan, ProbeReport, ProbeResult, ProbeSpec};
use futures::StreamExt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Probes in flight when the plan does not say. High enough that a plan of a
/// thousand targets runs as one batch (one timeout); each TCP/UDP/HTTP probe
/// holds one file descriptor, ICMP probes share one socket per family.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// File descriptors kept free for the runtime, resolver and stdio.
const FD_RESERVE: u64 = 64;

/// Why a plan could not be read. The CLI maps it to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("could not read the probe plan from stdin: {0}")]
    Read(#[source] io::Error),
    #[error(
        "the probe plan on stdin is not a valid ProbePlan ({source}); \
         expected {{\"deadlineMs\": N, \"probes\": [{{\"id\": \"..\", \"timeoutMs\": N, \"kind\": \"icmp|tcp|udp|http|dns|mtu\", ..}}]}}"
    )]
    Parse {
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// Parse a plan, with the position of the first error.
/// Read a plan from `r` up to the end of its JSON document, without waiting
/// for end of input: over a Kubernetes exec that predates the v5 channel
/// protocol (before 1.30) stdin cannot be closed without closing the whole
/// stream, answer included, so the caller keeps it open. At most `max` bytes.
pub fn read_plan(mut r: impl std::io::Read, max: usize) -> Result<Vec<u8>, PlanError> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PlanError::Read(e)),
        };
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut values =
            serde_json::Deserializer::from_slice(&buf).into_iter::<serde::de::IgnoredAny>();
        match values.next() {
            // A whole document: stop reading (what follows is not ours).
            Some(Ok(_)) => {
                let end = values.byte_offset();
                buf.truncate(end);
                return Ok(buf);
            }
            // Cut short: read on.
            Some(Err(e)) if e.is_eof() => {}
            // Not JSON: parse_plan says where.
            Some(Err(_)) => return Ok(buf),
            None => {}
        }
        if buf.len() > max {
            return Err(PlanError::Read(std::io::Error::other(format!(
                "the plan is larger than {max} bytes"
            ))));
        }
    }
}

pub fn parse_plan(input: &[u8]) -> Result<ProbePlan, PlanError> {
    serde_json::from_slice(input).map_err(|e| PlanError::Parse {
        line: e.line(),
        column: e.column(),
        source: e,
    })
}

/// Shared state of one plan run: the ICMP sockets every ICMP and MTU probe share.
pub(crate) struct Context {
    pub icmp: icmp::IcmpPool,
    /// DNS lookups run on their own thread (started on first use): their
    /// latency is wall time inside hickory, and on the main thread it would
    /// also count the time spent starting hundreds of other probes, enough to
    /// look like `dns-slow` in a large plan.
    dns: std::sync::OnceLock<Option<tokio::runtime::Runtime>>,
}

impl Context {
    fn new() -> Self {
        Context {
            icmp: icmp::IcmpPool::from_env(),
            dns: std::sync::OnceLock::new(),
        }
    }

    fn dns_runtime(&self) -> Option<tokio::runtime::Handle> {
        self.dns
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("netcheck-dns")
                    .enable_all()
                    .build()
                    .map_err(|e| tracing::debug!("no DNS thread ({e}); DNS runs inline"))
                    .ok()
            })
            .as_ref()
            .map(|rt| rt.handle().clone())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // Dropped inside the main runtime: a runtime may not block there.
        if let Some(Some(rt)) = self.dns.take() {
            rt.shutdown_background();
        }
    }
}

/// Probes doing work (connecting, sending, reading) at once. A probe starts
/// only when one of these slots is free, and its own deadline starts then:
/// queueing behind a long plan never eats into a probe's timeout. A probe
/// that has not answered within the fast window (see [`Pacer`]) gives its
/// slot to the next one and keeps waiting for its answer in the background,
/// so a plan full of dead targets still ends about one timeout after its last
/// probe started, while a healthy plan never has more probes competing for
/// the CPU than it can finish quickly.
pub const DEFAULT_ACTIVE: usize = 16;

/// Environment variable that sets the active probes of an agent instead of
/// [`DEFAULT_ACTIVE`] (a whole number from 1 to 1024). The lab sets it: its
/// agents share the machine's few cores, where a node's agents on a real
/// cluster have the node's own ([`crate::lab`]'s `agent_active`).
pub const ACTIVE_ENV: &str = "NETCHECK_AGENT_ACTIVE";

/// The active probes `value` (of [`ACTIVE_ENV`]) asks for; anything but a
/// whole number from 1 to 1024 is the default.
pub(crate) fn active_from(value: Option<&str>) -> usize {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=1024).contains(n))
        .unwrap_or(DEFAULT_ACTIVE)
}

/// Bounds of the fast window.
pub(crate) const FAST_WINDOW_MIN: Duration = Duration::from_millis(10);
/// The fast window is this many times the recent wall time of answered probes.
const FAST_WINDOW_FACTOR: u32 = 4;

/// Tracks how long answered probes take (wall time, including waiting for
/// this process's turn on the CPU) and derives the fast window from it.
#[derive(Debug)]
pub(crate) struct Pacer {
    /// Exponentially weighted mean wall time of answered probes, in µs.
    mean_us: std::sync::atomic::AtomicU64,
}

impl Pacer {
    pub(crate) fn new() -> Self {
        Pacer {
            mean_us: std::sync::atomic::AtomicU64::new(2_000),
        }
    }

    /// Record the wall time of a probe that got an answer.
    pub(crate) fn answered(&self, took: Duration) {
        use std::sync::atomic::Ordering;
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // mean += (sample - mean) / 8; racy updates lose a sample at worst.
        let old = self.mean_us.load(Ordering::Relaxed);
        let new = old - old / 8 + us / 8;
        self.mean_us.store(new.max(1), Ordering::Relaxed);
    }

    /// How long a probe holds its slot before it is presumed slow or dead:
    /// a few times the recent answer time, at least [`FAST_WINDOW_MIN`], at
    /// most the probe's first retry interval.
    pub(crate) fn fast_window(&self, interval: Duration) -> Duration {
        let mean = Duration::from_micros(self.mean_us.load(std::sync::atomic::Ordering::Relaxed));
        (mean * FAST_WINDOW_FACTOR)
            .max(FAST_WINDOW_MIN)
            .min(interval.max(FAST_WINDOW_MIN))
    }
}

/// Run every probe of `plan` and collect the results, in the plan's order.
pub async fn run_plan(plan: &ProbePlan) -> ProbeReport {
    let started = Instant::now();
    let plan_deadline = tokio::time::Instant::now() + Duration::from_millis(plan.deadline_ms);
    let ctx = Arc::new(Context::new());
    let in_flight = effective_in_flight(plan.max_in_flight);
    let active = active_from(std::env::var(ACTIVE_ENV).ok().as_deref());
    let active = Arc::new(tokio::sync::Semaphore::new(active.min(in_flight)));
    let pacer = Arc::new(Pacer::new());
    tracing::debug!(
        probes = plan.probes.len(),
        in_flight,
        deadline_ms = plan.deadline_ms,
        "running probe plan"
    );

    let mut results: Vec<Option<ProbeResult>> = vec![None; plan.probes.len()];
    // kube-proxy's paths wait for it to program the new Services.
    let later_phases_at =
        tokio::time::Instant::now() + Duration::from_millis(plan.later_phases_after_ms);
    {
        let mut stream = futures::stream::iter(start_order(&plan.probes))
            .map(|i| {
                let probe = &plan.probes[i];
                let (ctx, active, pacer) = (ctx.clone(), active.clone(), pacer.clone());
                async move {
                    if probe.phase > 0 {
                        tokio::time::sleep_until(later_phases_at).await;
                    }
                    (i, run_paced(&ctx, &active, &pacer, probe).await)
                }
            })
            .buffer_unordered(in_flight);
        let collect = async {
            while let Some((i, r)) = stream.next().await {
                results[i] = Some(r);
            }
        };
        if tokio::time::timeout_at(plan_deadline, collect)
            .await
            .is_err()
        {
            tracing::debug!("plan deadline reached; unfinished probes are timeouts");
        }
    }
    let results = results
        .into_iter()
        .zip(&plan.probes)
        .map(|(r, p)| {
            r.unwrap_or_else(|| {
                let mut r = ProbeResult::new(p.id.clone(), Outcome::Timeout);
                r.detail = Some(format!(
                    "the plan deadline of {} ms ended before this probe finished",
                    plan.deadline_ms
                ));
                r
            })
        })
        .collect();
    ProbeReport {
        results,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        peak_rss_kib: peak_rss_kib(),
        cells: Vec::new(),
    }
}

/// The order probes start in: by phase, then in plan order (the results
/// keep the plan's order whatever this is).
pub(crate) fn start_order(probes: &[Probe]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probes.len()).collect();
    // Stable: plan order within a phase.
    order.sort_by_key(|&i| probes[i].phase);
    order
}

/// One probe once an active slot is free; the slot goes back when the probe
/// ends or its fast window passes, whichever comes first.
async fn run_paced(
    ctx: &Context,
    active: &tokio::sync::Semaphore,
    pacer: &Pacer,
    probe: &Probe,
) -> ProbeResult {
    // The semaphore is never closed; without a permit the probe just runs.
    let mut permit = active.acquire().await.ok();
    let interval = Attempts::new(Duration::from_millis(probe.timeout_ms), probe.retries).interval;
    let window = tokio::time::sleep(pacer.fast_window(interval));
    tokio::pin!(window);
    let started = tokio::time::Instant::now();
    let work = run_probe(ctx, probe);
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = &mut window, if permit.is_some() => permit = None,
        }
    };
    drop(permit);
    if result.outcome == Outcome::Ok {
        pacer.answered(started.elapsed());
    }
    result
}

/// One probe under its own deadline, which starts now.
async fn run_probe(ctx: &Context, probe: &Probe) -> ProbeResult {
    if probe.timeout_ms == 0 {
        return error(&probe.id, "timeoutMs must be greater than 0");
    }
    let timeout = Duration::from_millis(probe.timeout_ms);
    let deadline = tokio::time::Instant::now() + timeout;
    let attempts = Attempts::new(timeout, probe.retries);
    let work = async {
        match &probe.spec {
            ProbeSpec::Icmp { target } => {
                icmp::probe(&ctx.icmp, &probe.id, *target, attempts).await
            }
            ProbeSpec::Tcp { target, port, echo } => {
                tcp::probe(&probe.id, *target, *port, *echo).await
            }
            ProbeSpec::Udp { target, port } => {
                udp::probe(&probe.id, *target, *port, attempts).await
            }
            ProbeSpec::Http { target, port, path } => {
                http::probe(&probe.id, *target, *port, path).await
            }
            ProbeSpec::Dns {
                name,
                server,
                port,
                record,
            } => {
                let (id, name, server, port, record) =
                    (probe.id.clone(), name.clone(), *server, *port, *record);
                match ctx.dns_runtime() {
                    Some(rt) => {
                        let task = rt.spawn(async move {
                            dns::probe(&id, &name, server, port, record, attempts).await
                        });
                        // The probe's deadline drops this future: stop the lookup too.
                        let _abort = AbortOnDrop(task.abort_handle());
                        task.await.unwrap_or_else(|e| {
                            error(&probe.id, format!("the DNS lookup failed: {e}"))
                        })
                    }
                    None => dns::probe(&id, &name, server, port, record, attempts).await,
                }
            }
            ProbeSpec::Mtu { target, min, max } => {
                mtu::probe(
                    &ctx.icmp, &probe.id, *target, *min, *max, attempts, deadline,
                )
                .await
            }
        }
    };
    // The MTU probe ends itself at the deadline with what it found so far; the
    // margin only guards against a send that never returns.
    let hard_stop = match probe.spec {
        ProbeSpec::Mtu { .. } => deadline + Duration::from_millis(50),
        _ => deadline,
    };
    let started = tokio::time::Instant::now();
    let result = match tokio::time::timeout_at(hard_stop, work).await {
        Ok(r) => r,
        Err(_) => {
            let mut r = ProbeResult::new(probe.id.clone(), Outcome::Timeout);
            r.detail = Some(format!("no answer within {} ms", probe.timeout_ms));
            r
        }
    };
    tracing::debug!(
        id = %probe.id,
        outcome = ?result.outcome,
        took_ms = started.elapsed().as_millis() as u64,
        detail = result.detail.as_deref().unwrap_or(""),
        "probe done"
    );
    result
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When the attempts of a probe that retries go out: attempt `k` of `n` at
/// `k * timeout / n`, so all of them (and their answers) fit in the timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempts {
    pub count: u32,
    pub interval: Duration,
}

impl Attempts {
    fn new(timeout: Duration, retries: u8) -> Self {
        let count = u32::from(retries) + 1;
        Attempts {
            count,
            interval: timeout / count,
        }
    }
}

pub(crate) fn error(id: &str, detail: impl Into<String>) -> ProbeResult {
    let mut r = ProbeResult::new(id, Outcome::Error);
    r.detail = Some(detail.into());
    r
}

pub(crate) fn ok(id: &str, latency: Duration) -> ProbeResult {
    let mut r = ProbeResult::new(id, Outcome::Ok);
    r.latency_ms = Some(ms(latency));
    r
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A send the kernel dropped on our side (ENOBUFS): the datagram never
/// left, as if lost on the wire. On a loaded node the per-CPU backlog that
/// every packet crossing a veth passes through (`net.core.netdev_max_backlog`,
/// 1000) overflows, and a UDP or ICMP send that meets it fails with ENOBUFS
/// (the lab at 60 nodes drops there by the thousand). Such a send is not the
/// probe's error: the next attempt goes out as planned, and a probe whose
/// every attempt was dropped is a `timeout` (probed again by the
/// confirmation pass), not an `error` (which is not).
pub(crate) fn dropped_locally(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOBUFS)
}

/// The result of a probe none of whose `count` sends left this host (each
/// [`dropped_locally`]).
pub(crate) fn all_sends_dropped(id: &str, what: &str, count: u32) -> ProbeResult {
    let mut r = ProbeResult::new(id, Outcome::Timeout);
    r.detail = Some(format!(
        "no {what} left this host: the kernel dropped all {count} on our side (ENOBUFS: a full queue on a loaded node)"
    ));
    r
}

/// A socket error as a probe outcome: refused and unreachable are answers from
/// the network, everything else is an error with the OS's words.
pub(crate) fn from_io(id: &str, what: &str, e: &io::Error) -> ProbeResult {
    let outcome = match e.kind() {
        io::ErrorKind::ConnectionRefused => Outcome::Refused,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => Outcome::Unreachable,
        io::ErrorKind::TimedOut => Outcome::Timeout,
        _ => match e.raw_os_error() {
            Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => Outcome::Unreachable,
            Some(libc::ECONNREFUSED) => Outcome::Refused,
            _ => Outcome::Error,
        },
    };
    let mut r = ProbeResult::new(id, outcome);
    r.detail = Some(format!("{what}: {e}"));
    r
}

/// How many probes may run at once: what the plan asks (or the default),
/// lowered to what the open-files limit allows.
fn effective_in_flight(asked: Option<usize>) -> usize {
    let asked = asked.unwrap_or(DEFAULT_MAX_IN_FLIGHT).max(1);
    match nofile_limit() {
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
            asked.min(room.max(16))
        }
        None => asked,
    }
}

fn nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

/// Raise the soft open-files limit to the hard limit so that a large plan can
/// hold one socket per probe in flight. Best effort: the process keeps its
/// limit when this fails.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::debug!("could not raise RLIMIT_NOFILE");
            }
        }
    }
}

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
