//! The pipeline: discover → deploy → probe → inspect → evaluate policy →
//! diagnose, over any [`Runtime`]. Rendering and the exit code belong to the
//! caller; teardown happens here, whatever happened before it.

use crate::diagnose::{self, Evidence};
use crate::model::host::HostReport;
use crate::model::report::{API_VERSION, Report, Summary};
use crate::model::{Check, Deployment, Finding, Severity};
use crate::plan::{self, PlanOptions};
use crate::runtime::{Progress, Result, Runtime, RuntimeError};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub plan: PlanOptions,
    /// Skip host inspection.
    pub no_host: bool,
    /// Leave what the runtime created in place.
    pub keep: bool,
}

/// Stage wall times, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct Stages(BTreeMap<String, u64>);

impl Stages {
    pub fn record(&mut self, stage: &str, since: Instant) {
        self.0
            .insert(stage.to_string(), since.elapsed().as_millis() as u64);
    }
    pub fn set(&mut self, stage: &str, took: Duration) {
        self.0.insert(stage.to_string(), took.as_millis() as u64);
    }
    pub fn into_map(self) -> BTreeMap<String, u64> {
        self.0
    }
}

/// Run every stage up to diagnosis, then tear down (unless `keep`). The
/// teardown runs after a failed stage too, and its own error is reported
/// without hiding the first one.
pub async fn run<R: Runtime>(rt: &R, opts: &Options, progress: &dyn Progress) -> Result<Report> {
    let started = Instant::now();
    let mut stages = Stages::default();
    let result = stages_until_diagnosis(rt, opts, progress, &mut stages).await;
    if !opts.keep {
        let t = Instant::now();
        progress.message("cleaning up");
        let down = rt.teardown().await;
        stages.record("cleanup", t);
        if let Err(e) = down {
            match &result {
                Ok(_) => return Err(e),
                Err(first) => tracing::warn!("cleanup after the error ({first}) failed too: {e}"),
            }
        }
    }
    let mut report = result?;
    report.summary.stages_ms = stages.into_map();
    report.summary.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

async fn stages_until_diagnosis<R: Runtime>(
    rt: &R,
    opts: &Options,
    progress: &dyn Progress,
    stages: &mut Stages,
) -> Result<Report> {
    let t = Instant::now();
    progress.message("discovering the cluster");
    let discovered = rt.discover(progress).await?;
    stages.record("discover", t);

    let t = Instant::now();
    progress.message("deploying probes");
    let deployment = rt.deploy(discovered, progress).await?;
    stages.record("deploy", t);

    // Probing and host inspection touch different things (the pods' network,
    // the nodes' files and rules), so they run at the same time; each stage
    // records its own wall time and the two overlap.
    progress.message("probing and inspecting hosts");
    let probe = async {
        let t = Instant::now();
        let checks = probe_all(rt, &deployment, &opts.plan, progress).await;
        (checks, t.elapsed())
    };
    let inspect = async {
        let t = Instant::now();
        let hosts = if opts.no_host {
            Vec::new()
        } else {
            inspect_all(rt, &deployment).await
        };
        (hosts, t.elapsed())
    };
    let ((mut checks, probe_time), (hosts, inspect_time)) = tokio::join!(probe, inspect);
    stages.set("probe", probe_time);
    stages.set("inspect", inspect_time);
    let deployment = crate::inspect::cluster_facts::with_host_facts(deployment, &hosts);

    let t = Instant::now();
    progress.message("diagnosing");
    // NetworkPolicy is compiled once: the verdicts and the policy rules share it.
    let policy = crate::policy::PolicyJudge::new(&deployment);
    crate::policy::judge::judge_checks_with(&policy, &mut checks);
    let findings = diagnose::diagnose(&Evidence {
        deployment: &deployment,
        checks: &checks,
        hosts: &hosts,
        policy: Some(&policy),
    });
    stages.record("diagnose", t);

    Ok(build_report(deployment, checks, hosts, findings))
}

/// Send every source its plan at once and gather the checks.
pub async fn probe_all<R: Runtime>(
    rt: &R,
    d: &Deployment,
    opts: &PlanOptions,
    progress: &dyn Progress,
) -> Vec<Check> {
    let plans = plan::plan(d, opts);
    let total = plans.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let answers = futures::future::join_all(plans.iter().map(|sp| {
        let done = &done;
        async move {
            // The agent enforces the plan deadline; this bound only guards
            // against a runtime that never answers (a hung exec).
            let bound = Duration::from_millis(sp.plan.deadline_ms) + Duration::from_secs(30);
            let answer = match tokio::time::timeout(bound, rt.probe(&sp.source, &sp.plan)).await {
                Ok(a) => a,
                Err(_) => Err(RuntimeError::Timeout {
                    what: format!("the probe agent of {:?}", sp.source),
                    after: bound,
                }),
            };
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.tick(n, total);
            answer
        }
    }))
    .await;
    plans
        .iter()
        .zip(answers)
        .flat_map(|(sp, answer)| match answer {
            Ok(report) => plan::assemble(sp, Ok(&report)),
            Err(e) => plan::assemble(sp, Err(&format!("could not run the probe agent: {e}"))),
        })
        .chain(plan::unreached_checks(d))
        .collect()
}

// HostReport grows fields as inspection learns more; the update keeps this code valid.
#[allow(clippy::needless_update)]
async fn inspect_all<R: Runtime>(rt: &R, d: &Deployment) -> Vec<HostReport> {
    futures::future::join_all(d.nodes.iter().map(|n| async move {
        match rt.inspect_host(&n.name).await {
            Ok(r) => r,
            Err(e) => HostReport {
                node: n.name.clone(),
                unavailable: vec![format!("host inspection: {e}")],
                ..Default::default()
            },
        }
    }))
    .await
}

pub fn build_report(
    d: Deployment,
    checks: Vec<Check>,
    hosts: Vec<HostReport>,
    findings: Vec<Finding>,
) -> Report {
    let summary = Summary::tally(&checks, &findings);
    Report {
        api_version: API_VERSION.to_string(),
        kind: "Report".to_string(),
        cluster: d.cluster,
        nodes: d.nodes,
        checks,
        hosts,
        findings,
        summary,
    }
}

/// Exit code verdict: 1 when a check failed or an error finding (or a warning
/// with `fail_on_warning`), else 0.
pub fn failed(report: &Report, fail_on_warning: bool) -> bool {
    report.checks.iter().any(|c| c.status.is_failure())
        || report.findings.iter().any(|f| {
            f.severity == Severity::Error || (fail_on_warning && f.severity == Severity::Warning)
        })
}

#[cfg(test)]
mod tests;
