//! The pipeline plans, asks and assembles one source at a time: what it
//! finds must be what planning every source at once finds, whatever order
//! the agents answer in and however many are asked at once.

use super::*;
use crate::model::cells::{CellKey, OmittedPasses};
use crate::model::host::HostReport;
use crate::model::{Check, Deployment};
use crate::pipeline::cells;
use crate::plan::{Aggregate, PairStrategy, PlanOptions};
use crate::runtime::Progress;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
}

fn options(aggregate: Aggregate) -> PlanOptions {
    PlanOptions {
        pairs: PairStrategy::Auto,
        aggregate,
        ..Default::default()
    }
}

/// The simulated runtime, its agents answering after a delay that depends
/// on the source (so they answer out of order), `at_once` asked at once.
struct OutOfOrder {
    sim: SimRuntime,
    at_once: usize,
}

impl Runtime for OutOfOrder {
    async fn discover(&self, p: &dyn Progress) -> Result<Deployment> {
        self.sim.discover(p).await
    }
    async fn deploy(&self, d: Deployment, p: &dyn Progress) -> Result<Deployment> {
        self.sim.deploy(d, p).await
    }
    fn probe_calls_at_once(&self) -> usize {
        self.at_once
    }
    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        let name = match source {
            Source::Pod(n) | Source::Host(n) => n,
        };
        let ms = network::hash_str(name) % 40;
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        self.sim.probe(source, plan).await
    }
    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        self.sim.inspect_host(node).await
    }
    async fn teardown(&self) -> Result<()> {
        Ok(())
    }
}

fn sim(nodes: usize, fault: Option<&str>) -> SimRuntime {
    let mut cfg = SimConfig::new(nodes, 2);
    cfg.faults = fault.map(str::to_string).into_iter().collect();
    SimRuntime::new(cfg).expect("a valid simulated cluster")
}

/// The report as JSON, without the wall times.
fn report_json<R: Runtime>(rt: &R) -> serde_json::Value {
    let opts = Options {
        plan: options(Aggregate::Auto),
        ..Options::default()
    };
    let report = current_thread()
        .block_on(pipeline::run(rt, &opts, &Quiet))
        .expect("the simulated run");
    let mut v = serde_json::to_value(&report).expect("a report as JSON");
    let summary = v["summary"].as_object_mut().expect("a summary");
    summary.remove("durationMs");
    summary.remove("stagesMs");
    v
}

#[test]
fn the_report_does_not_depend_on_the_order_agents_answer_in() {
    // 60 nodes: agents count passes per cell; 8 nodes: every check in full.
    for (nodes, fault) in [
        (60, Some("cross-node-drop")),
        (60, Some("kube-proxy-down")),
        (8, Some("node-isolated")),
        (8, None),
    ] {
        let plain = report_json(&sim(nodes, fault));
        for at_once in [1, 7, usize::MAX] {
            let shuffled = OutOfOrder {
                sim: sim(nodes, fault),
                at_once,
            };
            assert!(
                plain == report_json(&shuffled),
                "{nodes} nodes, {fault:?}, {at_once} at once: the report differs"
            );
        }
        if fault.is_some() {
            assert!(plain["summary"]["failed"].as_u64() > Some(0), "{fault:?}");
        }
    }
}

/// The first round the way it ran before plans were made per source: every
/// plan at once, each marked, asked and assembled; then the unreached nodes.
fn whole_plan(
    rt: &SimRuntime,
    d: &Deployment,
    opts: &PlanOptions,
    aggregated: bool,
) -> (Vec<Check>, Vec<(CellKey, OmittedPasses)>) {
    let mut plans = crate::plan::plan(d, opts);
    let mut checks = Vec::new();
    let mut omitted = Vec::new();
    for sp in &mut plans {
        if aggregated {
            cells::mark(sp, &|_| false);
        }
        let answer = current_thread()
            .block_on(rt.probe(&sp.source, &sp.plan))
            .expect("an answer");
        let a = cells::assemble(sp, Ok(&answer));
        checks.extend(a.checks);
        omitted.extend(a.omitted);
    }
    checks.extend(crate::plan::unreached_checks(d));
    (checks, omitted)
}

/// What a check is, without the words and latencies a second try changes.
fn verdicts(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .map(|c| {
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?}",
                c.kind, c.source, c.target, c.protocol, c.port, c.status
            )
        })
        .collect()
}

#[test]
fn per_source_probing_gives_the_checks_of_the_whole_plan() {
    for (nodes, fault, aggregate) in [
        (6, None, Aggregate::Never),
        (6, Some("node-isolated"), Aggregate::Never),
        (60, None, Aggregate::Auto),
        (60, Some("cross-node-drop"), Aggregate::Auto),
    ] {
        let rt = sim(nodes, fault);
        let d = rt.network().deployed(rt.network().discovered(), Vec::new());
        let opts = options(aggregate);
        let aggregated = aggregate.applies(0, nodes);
        let (want, want_omitted) = whole_plan(&rt, &d, &opts, aggregated);
        let probed =
            current_thread().block_on(pipeline::probe_all(&rt, &d, &opts, &|_| false, &Quiet));
        assert_eq!(probed.aggregated, aggregated);
        let mut want_cells = crate::model::cells::Cells::default();
        for (key, passes) in want_omitted {
            want_cells.add_omitted(key, &passes);
        }
        let want_cells = want_cells.finish();
        assert_eq!(
            probed.cells.finish(),
            want_cells,
            "{nodes} nodes, {fault:?}"
        );
        assert_eq!(want_cells.is_empty(), !aggregated);
        if fault.is_none() {
            // Nothing was probed again: the very same checks.
            assert_eq!(probed.confirmation.reprobed, 0);
            assert!(probed.checks == want, "{nodes} nodes: the checks differ");
        } else {
            // Failures were probed again (and failed again): the same verdicts.
            assert!(probed.confirmation.confirmed > 0, "{fault:?}");
            assert_eq!(verdicts(&probed.checks), verdicts(&want), "{fault:?}");
        }
    }
}
