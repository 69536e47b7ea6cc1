//! `lab --bench RUNS`: build, probe, inspect, diagnose, render and tear down
//! the same lab RUNS times and print the median of each stage, the probe
//! rate and peak memory (CLI, probing agents, serving agents).

use super::runtime::{LabConfig, LabRuntime};
use crate::cli::{CliError, ExitCode, GlobalArgs, LabArgs};
use crate::model::host::HostReport;
use crate::model::topology::Source;
use crate::model::{Deployment, ProbePlan, ProbeReport};
use crate::pipeline::{self, Options};
use crate::runtime::{Progress, Result, Runtime};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Forwards to the lab and keeps the agents' peak memory.
struct Measured<'a> {
    lab: &'a LabRuntime,
    probe_rss_kib: AtomicU64,
    serve_rss_kib: AtomicU64,
}

/// VmHWM of a process in KiB.
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

impl Runtime for Measured<'_> {
    async fn discover(&self, progress: &dyn Progress) -> Result<Deployment> {
        self.lab.discover(progress).await
    }
    async fn deploy(&self, d: Deployment, progress: &dyn Progress) -> Result<Deployment> {
        self.lab.deploy(d, progress).await
    }
    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        let r = self.lab.probe(source, plan).await?;
        if let Some(k) = r.peak_rss_kib {
            self.probe_rss_kib.fetch_max(k, Ordering::Relaxed);
        }
        Ok(r)
    }
    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        self.lab.inspect_host(node).await
    }
    async fn teardown(&self) -> Result<()> {
        for (role, pid) in self.lab.pids().await {
            if role.starts_with("agent-") {
                if let Some(k) = peak_rss_kib(&pid.to_string()) {
                    self.serve_rss_kib.fetch_max(k, Ordering::Relaxed);
                }
            }
        }
        self.lab.teardown().await
    }
}

#[derive(Debug, Clone, Default)]
struct RunFigures {
    stages: Vec<(&'static str, f64)>,
    probes: usize,
    failed: usize,
    probe_rss: u64,
    serve_rss: u64,
}

const STAGES: [&str; 7] = [
    "deploy", "probe", "inspect", "diagnose", "render", "cleanup", "total",
];

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

pub async fn run(
    g: &GlobalArgs,
    args: &LabArgs,
    cfg: LabConfig,
    opts: Options,
    runs: u16,
) -> std::result::Result<ExitCode, CliError> {
    let progress = crate::cli::progress::for_cli(g);
    let mut all = Vec::new();
    for n in 1..=runs {
        progress.message(&format!("bench run {n} of {runs}"));
        let lab = LabRuntime::new(cfg.clone())?;
        let m = Measured {
            lab: &lab,
            probe_rss_kib: AtomicU64::new(0),
            serve_rss_kib: AtomicU64::new(0),
        };
        let started = Instant::now();
        let quiet = crate::runtime::Quiet;
        let run_opts = Options {
            keep: false,
            ..opts.clone()
        };
        let report = tokio::select! {
            r = pipeline::run(&m, &run_opts, &quiet) => r?,
            sig = super::command::interrupted() => {
                let _ = lab.teardown().await;
                return Err(CliError::could_not_run(format!("{sig}; the lab was removed")));
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
        let st = &report.summary.stages_ms;
        let get = |k: &str| st.get(k).copied().unwrap_or(0) as f64;
        all.push(RunFigures {
            stages: vec![
                ("deploy", get("deploy") + get("discover")),
                ("probe", get("probe")),
                ("inspect", get("inspect")),
                ("diagnose", get("diagnose")),
                ("render", render_ms),
                ("cleanup", get("cleanup")),
                ("total", total_ms),
            ],
            probes: report.checks.len(),
            failed: report.summary.failed,
            probe_rss: m.probe_rss_kib.load(Ordering::Relaxed),
            serve_rss: m.serve_rss_kib.load(Ordering::Relaxed),
        });
    }
    print!("{}", table(&cfg, runs, &all));
    Ok(ExitCode::Ok)
}

fn table(cfg: &LabConfig, runs: u16, all: &[RunFigures]) -> String {
    let med = |stage: &str| {
        median(
            all.iter()
                .filter_map(|r| r.stages.iter().find(|(s, _)| *s == stage).map(|(_, v)| *v))
                .collect(),
        )
    };
    let probes = all.first().map(|r| r.probes).unwrap_or(0);
    let probe_ms = med("probe");
    let rate = if probe_ms > 0.0 {
        probes as f64 / (probe_ms / 1000.0)
    } else {
        0.0
    };
    let faults: Vec<&str> = cfg.faults.iter().map(|f| f.name()).collect();
    let mut s = format!(
        "lab benchmark: {} nodes x {} pods{}, {} run(s), medians\n",
        cfg.nodes,
        cfg.pods_per_node,
        if faults.is_empty() {
            String::new()
        } else {
            format!(", faults {}", faults.join(","))
        },
        runs
    );
    s.push_str(&format!("{:<22}{:>12}\n", "stage", "ms"));
    for stage in STAGES {
        let label = if stage == "deploy" {
            "build (deploy)"
        } else {
            stage
        };
        s.push_str(&format!("{label:<22}{:>12.0}\n", med(stage)));
    }
    s.push_str(&format!("{:<22}{probes:>12}\n", "probes"));
    s.push_str(&format!(
        "{:<22}{:>12}\n",
        "failed checks",
        all.iter().map(|r| r.failed).max().unwrap_or(0)
    ));
    s.push_str(&format!("{:<22}{rate:>12.0}\n", "probes/second"));
    let cli = peak_rss_kib("self").unwrap_or(0);
    let mib = |k: u64| k as f64 / 1024.0;
    s.push_str(&format!("{:<22}{:>12.1}\n", "peak RSS CLI (MiB)", mib(cli)));
    s.push_str(&format!(
        "{:<22}{:>12.1}\n",
        "peak RSS probe (MiB)",
        mib(all.iter().map(|r| r.probe_rss).max().unwrap_or(0))
    ));
    s.push_str(&format!(
        "{:<22}{:>12.1}\n",
        "peak RSS serve (MiB)",
        mib(all.iter().map(|r| r.serve_rss).max().unwrap_or(0))
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn own_peak_rss_is_readable() {
        assert!(peak_rss_kib("self").is_some_and(|k| k > 0));
    }
}
