//! `lab --bench RUNS [--bench-nodes 3,10,30,60]`: for each lab size, build,
//! probe, inspect, diagnose, render and tear down the same lab RUNS times and
//! print one table of medians: stage times, the probe rate, probes per agent
//! and peak memory (CLI, one probing agent, one serving agent). With
//! `--simulate` the same on the simulated cluster (`crate::sim`): no agents,
//! so the figures are the CLI's own (up to 10,000 nodes).
//!
//! A lab run's `cleanup` includes the kernel freeing its namespaces after
//! teardown (the next run starts when that is done), and a run with failed
//! checks names them on stderr (a healthy lab has none).

use super::outcome::{Stopped, pipeline_or_stop};
use super::{CliError, ExitCode, GlobalArgs, LabArgs};
use crate::lab::flavours::{self, Flavour};
use crate::lab::{LabConfig, LabRuntime};
use crate::model::host::HostReport;
use crate::model::topology::Source;
use crate::model::{Deployment, ProbePlan, ProbeReport};
use crate::pipeline::Options;
use crate::runtime::{Progress, Result, Runtime};
use crate::sim::{SimConfig, SimRuntime};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What a bench measures: the lab, or the simulated cluster.
pub enum Cluster {
    Lab(LabConfig),
    Sim(SimConfig),
}

impl Cluster {
    fn pods_per_node(&self) -> usize {
        match self {
            Cluster::Lab(c) => c.pods_per_node,
            Cluster::Sim(c) => c.pods_per_node,
        }
    }
    fn title(&self) -> Title {
        match self {
            Cluster::Lab(c) => Title {
                what: "lab",
                pods_per_node: c.pods_per_node,
                faults: c.faults.iter().map(|f| f.name().to_string()).collect(),
            },
            Cluster::Sim(c) => Title {
                what: "simulated cluster",
                pods_per_node: c.pods_per_node,
                faults: c.faults.clone(),
            },
        }
    }
    /// The same cluster at `nodes` nodes (faults checked for that size).
    fn sized(
        &self,
        args: &LabArgs,
        nodes: usize,
        cni: &'static dyn Flavour,
    ) -> std::result::Result<Cluster, CliError> {
        let faults = crate::lab::faults::parse(&args.faults, nodes, cni).map_err(|e| {
            CliError::usage(format!("--bench-nodes {nodes}, --cni {}: {e}", cni.name()))
        })?;
        Ok(match self {
            Cluster::Lab(c) => Cluster::Lab(LabConfig {
                nodes,
                faults,
                cni,
                ..c.clone()
            }),
            Cluster::Sim(c) => Cluster::Sim(SimConfig {
                nodes,
                faults: faults.iter().map(|f| f.name().to_string()).collect(),
                ..c.clone()
            }),
        })
    }
}

/// The benchmark table's first line.
struct Title {
    what: &'static str,
    pods_per_node: usize,
    faults: Vec<String>,
}

/// Pids of the serving agents a runtime started (none for the simulator).
trait Agents {
    fn serving_pids(&self) -> impl std::future::Future<Output = Vec<u32>> + Send;
}

impl Agents for LabRuntime {
    async fn serving_pids(&self) -> Vec<u32> {
        self.pids()
            .await
            .into_iter()
            .filter(|(role, _)| role.starts_with("agent-"))
            .map(|(_, pid)| pid)
            .collect()
    }
}

impl Agents for SimRuntime {
    async fn serving_pids(&self) -> Vec<u32> {
        Vec::new()
    }
}

/// Forwards to the runtime and keeps the agents' peak memory and plan sizes.
struct Measured<'a, R> {
    lab: &'a R,
    probe_rss_kib: AtomicU64,
    serve_rss_kib: AtomicU64,
    max_plan: AtomicUsize,
}

/// VmHWM of a process in KiB (`pid` may be `self`).
pub fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Reset this process's VmHWM to its current RSS (Linux 4.0+), so that each
/// lab size gets its own CLI peak. Best effort: without it the CLI column is
/// the peak so far.
fn reset_own_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU seconds (user + system) of this process and of every child it has
/// reaped: the CLI, the probing and serving agents, `ip`, `iptables`, dnsmasq.
/// Load on the machine stretches wall time much more than this.
pub fn cpu_seconds() -> f64 {
    let of = |who: libc::c_int| -> f64 {
        // SAFETY: all-zero is a valid rusage; getrusage writes into it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a live local the kernel fills.
        if unsafe { libc::getrusage(who, &mut ru) } != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    of(libc::RUSAGE_SELF) + of(libc::RUSAGE_CHILDREN)
}

/// Machine-wide softirq seconds (/proc/stat): with IRQ time accounting the
/// kernel's packet forwarding between the lab's namespaces lands here, not
/// in any process's time.
pub fn softirq_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_softirq(&stat)
}

fn parse_softirq(stat: &str) -> Option<f64> {
    // cpu  user nice system idle iowait irq softirq ...
    let ticks: f64 = stat
        .lines()
        .find(|l| l.starts_with("cpu "))?
        .split_whitespace()
        .nth(7)?
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

impl<R: Runtime + Agents> Runtime for Measured<'_, R> {
    async fn discover(&self, progress: &dyn Progress) -> Result<Deployment> {
        self.lab.discover(progress).await
    }
    async fn deploy(&self, d: Deployment, progress: &dyn Progress) -> Result<Deployment> {
        self.lab.deploy(d, progress).await
    }
    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        self.max_plan
            .fetch_max(plan.probes.len(), Ordering::Relaxed);
        let r = self.lab.probe(source, plan).await?;
        if let Some(k) = r.peak_rss_kib {
            self.probe_rss_kib.fetch_max(k, Ordering::Relaxed);
        }
        Ok(r)
    }
    fn probe_calls_at_once(&self) -> usize {
        self.lab.probe_calls_at_once()
    }
    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        self.lab.inspect_host(node).await
    }
    async fn teardown(&self) -> Result<()> {
        for pid in self.lab.serving_pids().await {
            if let Some(k) = peak_rss_kib(&pid.to_string()) {
                self.serve_rss_kib.fetch_max(k, Ordering::Relaxed);
            }
        }
        self.lab.teardown().await
    }
}

/// One run of one lab size.
#[derive(Debug, Clone, Default)]
struct RunFigures {
    build_ms: f64,
    probe_ms: f64,
    inspect_ms: f64,
    diagnose_render_ms: f64,
    cleanup_ms: f64,
    total_ms: f64,
    /// User + system CPU of the CLI and everything it started.
    cpu_s: f64,
    /// Machine-wide softirq time during the run.
    softirq_s: f64,
    checks: usize,
    failed: usize,
    max_plan: usize,
    probe_rss_kib: u64,
    serve_rss_kib: u64,
}

/// The medians of one lab size.
#[derive(Debug, Clone, Default, PartialEq)]
struct SizeFigures {
    /// The CNI flavour measured (`--bench-cni`).
    cni: &'static str,
    nodes: usize,
    pods: usize,
    runs: usize,
    build_ms: f64,
    probe_ms: f64,
    inspect_ms: f64,
    diagnose_render_ms: f64,
    cleanup_ms: f64,
    total_ms: f64,
    cpu_s: f64,
    softirq_s: f64,
    checks: usize,
    /// Most failed checks in any run (a healthy lab: 0).
    failed: usize,
    max_plan: usize,
    probes_per_s: f64,
    cli_rss_kib: u64,
    probe_rss_kib: u64,
    serve_rss_kib: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn summarize(
    cni: &'static str,
    nodes: usize,
    pods: usize,
    runs: &[RunFigures],
    cli_rss_kib: u64,
) -> SizeFigures {
    let med = |f: fn(&RunFigures) -> f64| median(runs.iter().map(f).collect());
    let probe_ms = med(|r| r.probe_ms);
    let checks = runs.first().map(|r| r.checks).unwrap_or(0);
    SizeFigures {
        cni,
        nodes,
        pods,
        runs: runs.len(),
        build_ms: med(|r| r.build_ms),
        probe_ms,
        inspect_ms: med(|r| r.inspect_ms),
        diagnose_render_ms: med(|r| r.diagnose_render_ms),
        cleanup_ms: med(|r| r.cleanup_ms),
        total_ms: med(|r| r.total_ms),
        cpu_s: med(|r| r.cpu_s),
        softirq_s: med(|r| r.softirq_s),
        checks,
        failed: runs.iter().map(|r| r.failed).max().unwrap_or(0),
        max_plan: runs.iter().map(|r| r.max_plan).max().unwrap_or(0),
        probes_per_s: if probe_ms > 0.0 {
            checks as f64 / (probe_ms / 1000.0)
        } else {
            0.0
        },
        cli_rss_kib,
        probe_rss_kib: runs.iter().map(|r| r.probe_rss_kib).max().unwrap_or(0),
        serve_rss_kib: runs.iter().map(|r| r.serve_rss_kib).max().unwrap_or(0),
    }
}

pub async fn run(
    g: &GlobalArgs,
    args: &LabArgs,
    cluster: Cluster,
    opts: Options,
    runs: u16,
) -> std::result::Result<ExitCode, CliError> {
    let progress = super::progress::for_cli(g);
    let sizes: Vec<usize> = if args.bench_nodes.is_empty() {
        vec![usize::from(args.nodes)]
    } else {
        args.bench_nodes.iter().map(|n| usize::from(*n)).collect()
    };
    // The simulator has one network (flannel's shape): no flavours there.
    let cnis = match &cluster {
        Cluster::Lab(c) => bench_cnis(&args.bench_cni, c.cni)?,
        Cluster::Sim(_) => vec![flavours::default()],
    };
    if matches!(cluster, Cluster::Lab(_)) {
        // Start with no namespaces being freed (an earlier lab's, or a test's).
        wait_netns_freed(std::path::Path::new("/proc"), NETNS_FREE_MAX).await;
    }
    let mut table_rows = Vec::new();
    for &cni in &cnis {
        for &nodes in &sizes {
            let sized = cluster.sized(args, nodes, cni)?;
            reset_own_peak_rss();
            let mut all = Vec::new();
            for n in 1..=runs {
                progress.message(&format!(
                    "bench: {} with {nodes} nodes, run {n} of {runs}",
                    cni.name()
                ));
                all.push(one_run(g, args, &sized, nodes, &opts).await?);
            }
            let row = summarize(
                cni.name(),
                nodes,
                nodes * sized.pods_per_node(),
                &all,
                peak_rss_kib("self").unwrap_or(0),
            );
            if !g.quiet {
                eprint!(
                    "{}",
                    table(&sized.title(), runs, std::slice::from_ref(&row), &opts)
                );
            }
            table_rows.push(row);
        }
    }
    print!("{}", table(&cluster.title(), runs, &table_rows, &opts));
    Ok(ExitCode::Ok)
}

/// `--bench-cni`: the flavours to measure, in the order given; `all` is
/// every flavour; none given: the lab's own (`--cni`).
fn bench_cnis(
    names: &[String],
    default: &'static dyn Flavour,
) -> std::result::Result<Vec<&'static dyn Flavour>, CliError> {
    if names.is_empty() {
        return Ok(vec![default]);
    }
    if names.iter().any(|n| n.trim() == "all") {
        return Ok(flavours::all().to_vec());
    }
    let mut out: Vec<&'static dyn Flavour> = Vec::new();
    for n in names {
        let f = flavours::parse(n).map_err(|e| CliError::usage(format!("--bench-cni: {e}")))?;
        if !out.iter().any(|o| o.name() == f.name()) {
            out.push(f);
        }
    }
    Ok(out)
}

async fn one_run(
    g: &GlobalArgs,
    args: &LabArgs,
    cluster: &Cluster,
    nodes: usize,
    opts: &Options,
) -> std::result::Result<RunFigures, CliError> {
    match cluster {
        Cluster::Lab(cfg) => {
            let mut run = measure(g, args, &LabRuntime::new(cfg.clone())?, nodes, opts).await?;
            // The kernel frees the namespaces after teardown, in the
            // background: that is this run's cleanup, not the next run's build.
            let freeing = wait_netns_freed(std::path::Path::new("/proc"), NETNS_FREE_MAX).await;
            let ms = freeing.as_secs_f64() * 1000.0;
            run.cleanup_ms += ms;
            run.total_ms += ms;
            Ok(run)
        }
        Cluster::Sim(cfg) => {
            let sim = SimRuntime::new(cfg.clone()).map_err(CliError::usage)?;
            measure(g, args, &sim, nodes, opts).await
        }
    }
}

async fn measure<R: Runtime + Agents>(
    g: &GlobalArgs,
    args: &LabArgs,
    lab: &R,
    nodes: usize,
    opts: &Options,
) -> std::result::Result<RunFigures, CliError> {
    let m = Measured {
        lab,
        probe_rss_kib: AtomicU64::new(0),
        serve_rss_kib: AtomicU64::new(0),
        max_plan: AtomicUsize::new(0),
    };
    let started = Instant::now();
    let (cpu0, soft0) = (cpu_seconds(), softirq_seconds());
    let quiet = crate::runtime::Quiet;
    let run_opts = Options {
        keep: false,
        ..opts.clone()
    };
    let report = match pipeline_or_stop(&m, &run_opts, &quiet, Some(g.timeout)).await {
        Ok(r) => r?,
        Err(Stopped::Deadline(_)) => {
            let _ = lab.teardown().await;
            return Err(CliError::could_not_run(format!(
                "a bench run of {nodes} nodes did not finish within {} (--timeout); the lab was removed",
                humantime::format_duration(g.timeout)
            )));
        }
        Err(Stopped::Signal(sig)) => {
            let _ = lab.teardown().await;
            return Err(CliError::could_not_run(format!(
                "{sig}; the lab was removed"
            )));
        }
    };
    let t = Instant::now();
    let rendered = crate::render::render(
        &report,
        g.output,
        &crate::render::RenderOptions::detect(g.no_color, args.wide),
    );
    let render_ms = t.elapsed().as_secs_f64() * 1000.0;
    std::hint::black_box(rendered);
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    if !g.quiet {
        for line in failure_lines(&report, MAX_FAILURE_LINES) {
            eprintln!("{nodes} nodes: {line}");
        }
    }
    let cpu_s = cpu_seconds() - cpu0;
    let softirq_s = match (soft0, softirq_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let st = &report.summary.stages_ms;
    let get = |k: &str| st.get(k).copied().unwrap_or(0) as f64;
    Ok(RunFigures {
        build_ms: get("deploy") + get("discover"),
        probe_ms: get("probe"),
        inspect_ms: get("inspect"),
        diagnose_render_ms: get("diagnose") + render_ms,
        cleanup_ms: get("cleanup"),
        total_ms,
        cpu_s,
        softirq_s,
        checks: report.checks.len() + report.summary.checks_omitted,
        failed: report.summary.failed + report.summary.errors,
        max_plan: m.max_plan.load(Ordering::Relaxed),
        probe_rss_kib: m.probe_rss_kib.load(Ordering::Relaxed),
        serve_rss_kib: m.serve_rss_kib.load(Ordering::Relaxed),
    })
}

/// Longest wait for the kernel to free a lab's namespaces after teardown.
const NETNS_FREE_MAX: Duration = Duration::from_secs(30);

/// Whether a kernel worker is freeing network namespaces: a worker running
/// the `netns` workqueue reads `kworker/…+netns` in /proc/PID/comm. `proc`
/// is /proc (a directory of the same shape in tests).
fn netns_cleanup_running(proc: &std::path::Path) -> bool {
    let Ok(dir) = std::fs::read_dir(proc) else {
        return false;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .any(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| {
                let c = c.trim_end();
                c.starts_with("kworker") && c.ends_with("+netns")
            })
        })
}

/// Wait until no kernel worker is freeing network namespaces (seen idle
/// twice, 50 ms apart: the work may be queued and not yet running), at most
/// `max`. Deleting a 60-node lab's 240 namespaces takes the kernel seconds
/// after `ip netns del` returned, and a lab built meanwhile waits for the
/// same locks: without this wait, every bench run but the first paid for
/// its predecessor's cleanup in its build time.
async fn wait_netns_freed(proc: &std::path::Path, max: Duration) -> Duration {
    let t = Instant::now();
    let mut idle = 0;
    while idle < 2 && t.elapsed() < max {
        if netns_cleanup_running(proc) {
            idle = 0;
        } else {
            idle += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.elapsed()
}

/// Failed checks a bench run names on stderr, at most.
const MAX_FAILURE_LINES: usize = 20;

/// What a bench run says about its failures (a healthy lab has none, so each
/// is worth a look): how many recovered on the second try, then one line per
/// failed or errored check (kind, protocol, ends, outcome, detail), at most
/// `max`, then how many more.
fn failure_lines(report: &crate::model::Report, max: usize) -> Vec<String> {
    use crate::model::report::{Endpoint, Status};
    let who = |e: &Endpoint| {
        let name = e
            .name
            .as_deref()
            .or(e.pod.as_deref())
            .or(e.node.as_deref())
            .unwrap_or("?");
        match e.ip {
            Some(ip) => format!("{name} ({ip})"),
            None => name.to_string(),
        }
    };
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error))
        .collect();
    let mut out = Vec::new();
    if report.summary.recovered > 0 || !failed.is_empty() {
        out.push(format!(
            "{} check(s) recovered on the second try, {} failed",
            report.summary.recovered,
            failed.len()
        ));
    }
    for c in failed.iter().take(max) {
        out.push(format!(
            "  {} {} {} -> {}{}: {} ({})",
            c.kind.as_str(),
            c.protocol.as_str(),
            who(&c.source),
            who(&c.target),
            c.port.map(|p| format!(":{p}")).unwrap_or_default(),
            c.outcome
                .map_or_else(|| "no outcome".into(), |o| format!("{o:?}").to_lowercase()),
            c.detail
        ));
    }
    if failed.len() > max {
        out.push(format!("  … and {} more", failed.len() - max));
    }
    out
}

fn table(title: &Title, runs: u16, rows: &[SizeFigures], opts: &Options) -> String {
    let faults = &title.faults;
    let mut s = format!(
        "{} benchmark: {} pods per node, pairs {}{}{}, medians of {} run(s); times in ms, memory in MiB\n",
        title.what,
        title.pods_per_node,
        match opts.plan.pairs {
            crate::plan::PairStrategy::Auto => format!(
                "auto (all up to {} nodes, then sample:{})",
                crate::plan::AUTO_ALL_UP_TO,
                crate::plan::AUTO_SAMPLE_K
            ),
            crate::plan::PairStrategy::All => "all".into(),
            crate::plan::PairStrategy::Ring => "ring".into(),
            crate::plan::PairStrategy::Sample(k) => format!("sample:{k}"),
        },
        if opts.no_host {
            ", no host inspection"
        } else {
            ""
        },
        if faults.is_empty() {
            String::new()
        } else {
            format!(", faults {}", faults.join(","))
        },
        runs
    );
    let head = [
        "cni",
        "nodes",
        "pods",
        "checks",
        "failed",
        "probes/agent",
        "build",
        "probe",
        "inspect",
        "diag+render",
        "cleanup",
        "total",
        "CPU s",
        "softirq s",
        "probes/s",
        "CLI MiB",
        "agent MiB",
        "serve MiB",
    ];
    let mib = |k: u64| format!("{:.1}", k as f64 / 1024.0);
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.cni.to_string(),
                r.nodes.to_string(),
                r.pods.to_string(),
                r.checks.to_string(),
                r.failed.to_string(),
                r.max_plan.to_string(),
                format!("{:.0}", r.build_ms),
                format!("{:.0}", r.probe_ms),
                format!("{:.0}", r.inspect_ms),
                format!("{:.0}", r.diagnose_render_ms),
                format!("{:.0}", r.cleanup_ms),
                format!("{:.0}", r.total_ms),
                format!("{:.1}", r.cpu_s),
                format!("{:.1}", r.softirq_s),
                format!("{:.0}", r.probes_per_s),
                mib(r.cli_rss_kib),
                mib(r.probe_rss_kib),
                mib(r.serve_rss_kib),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            body.iter()
                .map(|row| row[i].len())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| -> String {
        let mut l: Vec<String> = Vec::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            // The flavour's name to the left, the figures to the right.
            if i == 0 {
                l.push(format!("{c:<w$}"));
            } else {
                l.push(format!("{c:>w$}"));
            }
        }
        l.join("  ") + "\n"
    };
    s.push_str(&line(head.to_vec()));
    for row in &body {
        s.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_cni_picks_the_flavours_to_measure() {
        let names = |v: &[&str]| -> Vec<&'static str> {
            let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            bench_cnis(&v, flavours::default())
                .unwrap()
                .iter()
                .map(|f| f.name())
                .collect()
        };
        assert_eq!(names(&[]), ["flannel"]);
        assert_eq!(
            names(&["kindnet", "host-gw", "kindnet"]),
            ["kindnet", "host-gw"]
        );
        let all: Vec<&str> = flavours::all().iter().map(|f| f.name()).collect();
        assert_eq!(names(&["all"]), all);
        let e = bench_cnis(&["weave".into()], flavours::default()).unwrap_err();
        assert_eq!(e.code(), ExitCode::Usage);
    }

    #[test]
    fn a_run_names_its_failed_checks_and_how_many_recovered() {
        use crate::model::report::{Check, CheckKind, Endpoint, Protocol, Status};
        let ep = |node: &str, pod: Option<&str>, ip: [u8; 4]| Endpoint {
            node: Some(node.into()),
            pod: pod.map(str::to_string),
            ip: Some(std::net::Ipv4Addr::from(ip).into()),
            name: None,
        };
        let check = |status, outcome, detail: &str| Check {
            kind: CheckKind::PodToService,
            source: ep("node-1", Some("probe-1a"), [198, 18, 0, 2]),
            target: Endpoint {
                name: Some("ns/probe-2a".into()),
                ..ep("node-2", Some("probe-2a"), [198, 19, 0, 40])
            },
            protocol: Protocol::Udp,
            port: Some(7001),
            family: None,
            status,
            latency_ms: None,
            detail: detail.into(),
            path_mtu: None,
            configured_mtu: None,
            expected: None,
            outcome: Some(outcome),
        };
        let healthy = crate::pipeline::build_report(
            Deployment::default(),
            vec![check(Status::Pass, crate::model::Outcome::Ok, "")],
            Vec::new(),
            Vec::new(),
        );
        assert!(failure_lines(&healthy, 5).is_empty());
        let mut checks = vec![check(Status::Pass, crate::model::Outcome::Ok, "")];
        checks.extend((0..3).map(|_| {
            check(
                Status::Fail,
                crate::model::Outcome::Timeout,
                "no answer within 3000 ms",
            )
        }));
        let mut r =
            crate::pipeline::build_report(Deployment::default(), checks, Vec::new(), Vec::new());
        r.summary.recovered = 4;
        let lines = failure_lines(&r, 2);
        assert_eq!(
            lines,
            [
                "4 check(s) recovered on the second try, 3 failed",
                "  pod-to-service udp probe-1a (198.18.0.2) -> ns/probe-2a (198.19.0.40):7001: timeout (no answer within 3000 ms)",
                "  pod-to-service udp probe-1a (198.18.0.2) -> ns/probe-2a (198.19.0.40):7001: timeout (no answer within 3000 ms)",
                "  … and 1 more",
            ]
        );
    }

    #[tokio::test]
    async fn the_bench_waits_while_the_kernel_frees_namespaces() {
        let proc = tempfile::tempdir().unwrap();
        let task = |pid: &str, comm: &str| {
            let d = proc.path().join(pid);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
        };
        task("1", "systemd");
        task("77", "kworker/u8:3+events_unbound");
        task("self", "kworker/u8:9+netns");
        std::fs::create_dir_all(proc.path().join("net")).unwrap();
        assert!(!netns_cleanup_running(proc.path()));
        let idle = wait_netns_freed(proc.path(), Duration::from_secs(5)).await;
        assert!(idle < Duration::from_secs(1), "{idle:?}");
        task("4242", "kworker/u8:3+netns");
        assert!(netns_cleanup_running(proc.path()));
        let busy = wait_netns_freed(proc.path(), Duration::from_millis(300)).await;
        assert!(busy >= Duration::from_millis(300), "{busy:?}");
        // Freed in the meantime: the wait ends.
        let dir = proc.path().join("4242");
        let freed = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::fs::write(dir.join("comm"), "kworker/u8:3\n").unwrap();
        });
        let waited = wait_netns_freed(proc.path(), Duration::from_secs(10)).await;
        freed.await.unwrap();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn cpu_and_softirq_seconds_are_read() {
        let a = cpu_seconds();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
        assert!(cpu_seconds() > a, "this loop used CPU");
        assert!(softirq_seconds().is_some_and(|s| s >= 0.0));
        let stat = "cpu  10 0 20 300 4 5 250 0 0 0\ncpu0 1 2 3\n";
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert_eq!(parse_softirq(stat), Some(250.0 / hz));
        assert_eq!(parse_softirq("intr 1 2\n"), None);
    }

    #[test]
    fn own_peak_rss_is_readable() {
        assert!(peak_rss_kib("self").is_some_and(|k| k > 0));
    }

    #[test]
    fn a_size_takes_the_median_of_its_runs_and_the_worst_of_failures_and_memory() {
        let run = |probe_ms: f64, failed: usize, rss: u64| RunFigures {
            probe_ms,
            total_ms: probe_ms + 100.0,
            checks: 1000,
            failed,
            max_plan: 50,
            probe_rss_kib: rss,
            ..Default::default()
        };
        let s = summarize(
            "flannel",
            10,
            20,
            &[run(500.0, 0, 10), run(2000.0, 3, 30), run(1000.0, 0, 20)],
            4096,
        );
        assert_eq!(s.probe_ms, 1000.0);
        assert_eq!(s.total_ms, 1100.0);
        assert_eq!(s.failed, 3);
        assert_eq!(s.probe_rss_kib, 30);
        assert_eq!(s.probes_per_s, 1000.0);
        assert_eq!(s.runs, 3);
    }

    #[test]
    fn the_table_has_one_row_per_size_under_its_header() {
        let cfg = Cluster::Lab(LabConfig::new(3, 2, "/bin/true".into())).title();
        let rows = vec![
            SizeFigures {
                cni: "flannel",
                nodes: 3,
                pods: 6,
                checks: 534,
                cli_rss_kib: 2048,
                ..Default::default()
            },
            SizeFigures {
                cni: "kindnet",
                nodes: 60,
                pods: 120,
                checks: 122_400,
                ..Default::default()
            },
        ];
        let t = table(&cfg, 3, &rows, &Options::default());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].contains("medians of 3 run(s)"), "{t}");
        assert!(
            lines[1].starts_with("cni  ") && lines[1].contains("nodes"),
            "{t}"
        );
        assert!(
            lines[2].starts_with("flannel ") && lines[2].contains(" 3 "),
            "{t}"
        );
        assert!(lines[2].contains("534") && lines[2].contains("2.0"), "{t}");
        assert!(
            lines[3].starts_with("kindnet ")
                && lines[3].contains(" 60 ")
                && lines[3].contains("122400")
        );
        // Columns line up: every row as wide as the header.
        assert!(lines[1..].iter().all(|l| l.len() == lines[1].len()), "{t}");
    }
}
