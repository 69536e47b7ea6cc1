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

pub mod cells;
pub mod confirm;
pub use confirm::Confirmation;

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
    // NetworkPolicy is compiled once: the confirmation pass (failures the
    // policy intends are not probed again), the verdicts and the policy rules share it.
    let policy = crate::policy::PolicyJudge::new(&deployment);
    let probe = async {
        let t = Instant::now();
        let expected_block = |c: &Check| expected_block(&policy, c);
        let probed = probe_all(rt, &deployment, &opts.plan, &expected_block, progress).await;
        (probed, t.elapsed())
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
    let ((probed, probe_time), (hosts, inspect_time)) = tokio::join!(probe, inspect);
    stages.set("probe", probe_time);
    // Part of the probe stage, shown apart when it ran.
    if let Some(took) = probed.confirmation.took {
        stages.set("confirm", took);
    }
    stages.set("inspect", inspect_time);
    let mut checks = probed.checks;
    let deployment = crate::inspect::cluster_facts::with_host_facts(deployment, &hosts);

    let t = Instant::now();
    progress.message("diagnosing");
    crate::policy::judge::judge_checks_with(&policy, &mut checks);
    // The cells: the passes agents only counted, and the judged checks.
    let mut cells = probed.cells;
    checks.iter().for_each(|c| cells.add_check(c));
    let cells = cells.finish();
    let findings = diagnose::diagnose(&Evidence {
        deployment: &deployment,
        checks: &checks,
        cells: &cells,
        hosts: &hosts,
        policy: Some(&policy),
    });
    stages.record("diagnose", t);

    let mut report = build_report_with_cells(deployment, checks, cells, hosts, findings);
    report.summary.confirmed = probed.confirmation.confirmed;
    report.summary.aggregated = probed.aggregated;
    Ok(report)
}

/// NetworkPolicy denies this check's traffic: its failure is intended.
fn expected_block(policy: &crate::policy::PolicyJudge, c: &Check) -> bool {
    !policy.compiled.is_empty()
        && policy
            .decide(c)
            .is_some_and(|(d, _)| d == crate::policy::Decision::Deny)
}

/// What the probe stage produced.
#[derive(Debug, Clone, Default)]
pub struct Probed {
    /// The checks answered in full (all of them unless `aggregated`).
    pub checks: Vec<Check>,
    pub confirmation: Confirmation,
    /// Agents counted passes per cell (`cells`).
    pub aggregated: bool,
    /// The passes agents counted per cell (not in `checks`), counted into
    /// their cells as each source answered.
    pub cells: crate::model::cells::Cells,
}

/// Send every source its plan and gather the checks; then probe the
/// failures once more (`confirm`). `expected_block` says which failures
/// NetworkPolicy intends (they are not probed again).
///
/// One source at a time, up to [`Runtime::probe_calls_at_once`] at once:
/// plan it, ask its agent, assemble the answer, drop the plan. What a source
/// keeps is its checks (only the failures and the few kinds answered in
/// full when agents count passes per cell), where each came from in its plan
/// and when it answered; the confirmation plans a source with failures again.
pub async fn probe_all<R: Runtime>(
    rt: &R,
    d: &Deployment,
    opts: &PlanOptions,
    expected_block: &dyn Fn(&Check) -> bool,
    progress: &dyn Progress,
) -> Probed {
    let planner = plan::Planner::new(d, opts);
    // The count plans every source once more, only where it decides (`auto`
    // on a small cluster).
    let aggregated = opts
        .aggregate
        .applies_with(d.nodes.len(), || planner.count_probes());
    let began = tokio::time::Instant::now();
    let mut cells = crate::model::cells::Cells::default();
    let firsts = first_round(
        rt,
        &planner,
        aggregated,
        expected_block,
        progress,
        &mut cells,
    )
    .await;
    let mut per_source: Vec<Vec<Check>> = Vec::with_capacity(firsts.len());
    let mut probe_index: Vec<(Vec<usize>, tokio::time::Instant)> = Vec::with_capacity(firsts.len());
    for f in firsts {
        let at = f.at.unwrap_or(began);
        per_source.push(f.checks);
        probe_index.push((f.probes, at));
    }
    // A failure the policy denies is what it intends, unless traffic it
    // denies reached the same target anyway: there it is not enforced, and
    // the failure (a Service probed while kube-proxy rewrote its rules) is
    // probed again like any other.
    let unenforced = confirm::unenforced_targets(per_source.iter().flatten(), expected_block);
    let intended = |c: &Check| expected_block(c) && !unenforced.contains(&confirm::target_key(c));
    let mut pending = Vec::new();
    for (i, (checks, (probes, at))) in per_source.iter().zip(&probe_index).enumerate() {
        let slots: Vec<usize> = (0..checks.len())
            .filter(|&j| confirm::needs_confirmation(&checks[j], &intended))
            .collect();
        if !slots.is_empty() {
            pending.push(confirm::Pending {
                source: i,
                indices: slots.iter().map(|&j| probes[j]).collect(),
                slots,
                answered_at: *at,
            });
        }
    }
    drop(probe_index);
    let confirmation = confirm_round(rt, &planner, &mut per_source, pending, began, progress).await;
    // Sized once: a vector grown by doubling holds up to twice the checks
    // (105,000 at 5,000 nodes) while it copies them.
    let unreached = plan::unreached_checks(d);
    let mut checks =
        Vec::with_capacity(per_source.iter().map(Vec::len).sum::<usize>() + unreached.len());
    per_source.into_iter().for_each(|c| checks.extend(c));
    checks.extend(unreached);
    Probed {
        checks,
        confirmation,
        aggregated,
        cells,
    }
}

/// One source's first answer, assembled: its checks answered in full and
/// the index in its plan of each (its counted passes are in the cells).
#[derive(Default)]
struct First {
    checks: Vec<Check>,
    probes: Vec<usize>,
    /// When it answered (None: it probes nothing).
    at: Option<tokio::time::Instant>,
}

/// The first round: every source planned, asked and assembled in turn, up
/// to the runtime's bound at once; the answers by source number, whatever
/// order they came in, and the passes agents counted into `cells` as they come.
async fn first_round<R: Runtime>(
    rt: &R,
    planner: &plan::Planner<'_>,
    aggregated: bool,
    expected_block: &dyn Fn(&Check) -> bool,
    progress: &dyn Progress,
    cells: &mut crate::model::cells::Cells,
) -> Vec<First> {
    use futures::StreamExt;
    let total = planner.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut firsts: Vec<First> = (0..total).map(|_| First::default()).collect();
    // kube-proxy's paths wait for it until a second after the stage began.
    let settled = tokio::time::Instant::now() + plan::SERVICE_SETTLE;
    let mut answers = futures::stream::iter(0..total)
        .map(|i| {
            let done = &done;
            async move {
                let first = first_answer(rt, planner, i, aggregated, expected_block, settled).await;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress.tick(n, total);
                (i, first)
            }
        })
        .buffer_unordered(rt.probe_calls_at_once().max(1));
    while let Some((i, (first, omitted))) = answers.next().await {
        for (key, passes) in omitted {
            cells.add_omitted(key, &passes);
        }
        firsts[i] = first;
    }
    firsts
}

/// Plan source `i`, ask its agent, assemble the answer (and the passes it
/// counted per cell); the plan and the raw answer are dropped here.
async fn first_answer<R: Runtime>(
    rt: &R,
    planner: &plan::Planner<'_>,
    i: usize,
    aggregated: bool,
    expected_block: &dyn Fn(&Check) -> bool,
    settled: tokio::time::Instant,
) -> (
    First,
    Vec<(
        crate::model::cells::CellKey,
        crate::model::cells::OmittedPasses,
    )>,
) {
    let Some(mut sp) = planner.plan_source(i) else {
        return (First::default(), Vec::new());
    };
    if aggregated {
        // A failure NetworkPolicy intends passing is an unexpected allow: in full.
        cells::mark(&mut sp, expected_block);
    }
    let hold = settled.saturating_duration_since(tokio::time::Instant::now());
    plan::hold_later_phases(&mut sp, hold);
    let answer = ask(rt, &sp).await;
    let at = Some(tokio::time::Instant::now());
    let a = match answer {
        Ok(report) => cells::assemble(&sp, Ok(&report)),
        // An agent that could not be run is not called again.
        Err(e) => cells::assemble(&sp, Err(&format!("could not run the probe agent: {e}"))),
    };
    // Kept until the end of the probe stage: without the pushes' slack.
    let (mut checks, mut probes) = (a.checks, a.probes);
    checks.shrink_to_fit();
    probes.shrink_to_fit();
    let first = First { checks, probes, at };
    (first, a.omitted)
}

/// The confirmation round: one more call per source with failures, all at
/// once, when the last source with failures has answered and at least
/// [`confirm::CONFIRM_DELAY`] after the first round `began`.
async fn confirm_round<R: Runtime>(
    rt: &R,
    planner: &plan::Planner<'_>,
    per_source: &mut [Vec<Check>],
    pending: Vec<confirm::Pending>,
    began: tokio::time::Instant,
    progress: &dyn Progress,
) -> Confirmation {
    let mut tally = Confirmation::default();
    let Some(start) = confirm::start_at(&pending, began) else {
        return tally;
    };
    let t = Instant::now();
    let probes: usize = pending.iter().map(|p| p.indices.len()).sum();
    progress.message(&format!(
        "probing {probes} failed probe(s) once more from {} source(s)",
        pending.len()
    ));
    tokio::time::sleep_until(start).await;
    ask_again(rt, planner, per_source, &pending, 2, &mut tally).await;
    // Services kube-proxy has not synced yet stay "refused": tried again,
    // a second apart, within the window.
    let mut pending = pending;
    for try_no in 3.. {
        pending = pending
            .iter()
            .filter_map(|p| confirm::still_refused(p, &per_source[p.source]))
            .collect();
        let at = tokio::time::Instant::now() + confirm::SERVICE_RETRY_EVERY;
        if pending.is_empty() || at > began + confirm::SERVICE_SYNC_WINDOW {
            break;
        }
        progress.message(&format!(
            "{} Service probe(s) still refused: trying again (kube-proxy may not have synced)",
            pending.iter().map(|p| p.indices.len()).sum::<usize>()
        ));
        tokio::time::sleep_until(at).await;
        ask_again(rt, planner, per_source, &pending, try_no, &mut tally).await;
    }
    confirm::attribute_sync(per_source, &mut tally);
    tally.took = Some(t.elapsed());
    tally
}

/// One more call per pending source, all at once (try number `try_no`),
/// folded into the sources' checks. Each source is planned again, one at a
/// time, for the plan of its failed probes only (the same ids).
async fn ask_again<R: Runtime>(
    rt: &R,
    planner: &plan::Planner<'_>,
    per_source: &mut [Vec<Check>],
    pending: &[confirm::Pending],
    try_no: usize,
    tally: &mut Confirmation,
) {
    let again: Vec<(&confirm::Pending, plan::SourcePlan)> = pending
        .iter()
        .filter_map(|p| {
            let full = planner.plan_source(p.source)?;
            Some((p, confirm::confirmation_plan(&full, &p.indices)))
        })
        .collect();
    let answers = futures::future::join_all(again.iter().map(|(_, cp)| ask(rt, cp))).await;
    for ((p, cp), answer) in again.iter().zip(answers) {
        let answer = answer
            .as_ref()
            .map_err(|e| format!("could not run the probe agent: {e}"));
        confirm::fold(
            &mut per_source[p.source],
            cp,
            &p.slots,
            answer,
            tally,
            try_no,
        );
    }
}

/// One agent call. The agent enforces the plan deadline; this bound only
/// guards against a runtime that never answers (a hung exec).
async fn ask<R: Runtime>(rt: &R, sp: &plan::SourcePlan) -> Result<crate::model::ProbeReport> {
    let bound = Duration::from_millis(sp.plan.deadline_ms) + Duration::from_secs(30);
    match tokio::time::timeout(bound, rt.probe(&sp.source, &sp.plan)).await {
        Ok(a) => a,
        Err(_) => Err(RuntimeError::Timeout {
            what: format!("the probe agent of {:?}", sp.source),
            after: bound,
        }),
    }
}

// HostReport grows fields as inspection learns more; the update keeps this code valid.
#[allow(clippy::needless_update)]
async fn inspect_all<R: Runtime>(rt: &R, d: &Deployment) -> Vec<HostReport> {
    futures::future::join_all(d.nodes.iter().map(|n| async move {
        match rt.inspect_host(&n.name).await {
            Ok(mut r) => {
                r.shrink_to_fit();
                r
            }
            Err(e) => HostReport {
                node: n.name.clone(),
                unavailable: vec![format!("host inspection: {e}")],
                ..Default::default()
            },
        }
    }))
    .await
}

/// A report of every check (the cells computed from them).
pub fn build_report(
    d: Deployment,
    checks: Vec<Check>,
    hosts: Vec<HostReport>,
    findings: Vec<Finding>,
) -> Report {
    let cells = crate::model::cells::cells_of(&checks);
    build_report_with_cells(d, checks, cells, hosts, findings)
}

/// A report of `checks` and the `cells` that count them and the passes
/// agents only counted (`omitted`, in `passed` and `checksOmitted`).
pub fn build_report_with_cells(
    d: Deployment,
    checks: Vec<Check>,
    cells: Vec<crate::model::cells::CellSummary>,
    hosts: Vec<HostReport>,
    findings: Vec<Finding>,
) -> Report {
    let mut summary = Summary::tally(&checks, &findings);
    let omitted = crate::model::cells::omitted(&cells);
    summary.passed += omitted;
    summary.checks_omitted = omitted;
    summary.aggregated = omitted > 0;
    Report {
        api_version: API_VERSION.to_string(),
        kind: "Report".to_string(),
        cluster: d.cluster,
        nodes: d.nodes,
        checks,
        cells,
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
