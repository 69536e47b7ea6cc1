use super::*;
use crate::diagnose::sim::{self, Answer};
use crate::model::cells::{CellSummary, aggregatable, cells_of};
use crate::model::{CheckKind, Outcome, Status};
use crate::plan::PlanOptions;
use std::hash::{Hash, Hasher};

/// A deterministic pseudo-random network: each probe's outcome and latency
/// follow from a hash of the seed and the probe's template.
fn random_net(seed: u64) -> impl Fn(&CheckTemplate) -> Answer {
    move |t| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, t.kind, &t.source, &t.target, t.protocol, t.port).hash(&mut h);
        let x = h.finish();
        let latency_ms = 0.02 + (x >> 20) as f64 % 50_000.0 / 1000.0;
        let outcome = match x % 10 {
            0 => Outcome::Timeout,
            1 if seed % 2 == 0 => Outcome::Refused,
            _ => Outcome::Ok,
        };
        Answer {
            outcome,
            latency_ms,
            ..sim::ok()
        }
    }
}

/// The cells without what says how they were made.
fn counted(cells: &[CellSummary]) -> Vec<CellSummary> {
    cells
        .iter()
        .cloned()
        .map(|mut c| {
            c.omitted = 0;
            c
        })
        .collect()
}

#[test]
fn cells_from_checks_equal_cells_from_aggregated_answers() {
    for seed in 0..40u64 {
        let d = sim::cluster(2 + (seed % 4) as usize);
        let net = random_net(seed);
        let full = sim::run(&d, &net);
        let (kept, cells) = sim::run_aggregated(&d, &net);
        // Same counts, protocols and latencies, cell by cell.
        assert_eq!(counted(&cells), counted(&cells_of(&full)), "seed {seed}");
        // Every failure and every check of a kind agents do not count is
        // still a check; only passes of the counted kinds are left out.
        let expected: Vec<&Check> = full
            .iter()
            .filter(|c| c.status != Status::Pass || !aggregatable(c.kind))
            .collect();
        let kept: Vec<&Check> = kept.iter().collect();
        assert_eq!(kept, expected, "seed {seed}");
        let omitted: usize = cells.iter().map(|c| c.omitted as usize).sum();
        assert_eq!(omitted, full.len() - kept.len(), "seed {seed}");
        assert!(omitted > 0, "seed {seed}: nothing was counted");
    }
}

#[test]
fn the_agent_answer_counts_passes_and_keeps_every_other_result() {
    let d = sim::cluster(3);
    let mut plans = crate::plan::plan(&d, &PlanOptions::default());
    let sp = &mut plans[0];
    mark(sp, &|_| false);
    let results = sim::results(sp, random_net(3));
    let failed = results.iter().filter(|r| r.outcome != Outcome::Ok).count();
    let report = crate::agent::aggregate::answer(&sp.plan, results.clone());
    let uncounted = sp
        .plan
        .probes
        .iter()
        .zip(&results)
        .filter(|(p, r)| p.cell.is_none() && r.outcome == Outcome::Ok)
        .count();
    assert_eq!(report.results.len(), failed + uncounted);
    let passed: usize = report.cells.iter().map(|c| c.passed).sum();
    assert_eq!(passed + report.results.len(), results.len());
    // The wire format round-trips.
    let json = serde_json::to_string(&report).expect("serializes");
    let back: ProbeReport = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, report);
}

#[test]
fn a_plan_without_cells_is_answered_in_full() {
    let d = sim::cluster(2);
    let plans = crate::plan::plan(&d, &PlanOptions::default());
    let results = sim::results(&plans[0], |_| sim::ok());
    let report = crate::agent::aggregate::answer(&plans[0].plan, results.clone());
    assert_eq!(report.results, results);
    assert!(report.cells.is_empty());
}

#[test]
fn a_counted_probe_the_agent_did_not_count_is_an_error() {
    let d = sim::cluster(2);
    let mut plans = crate::plan::plan(&d, &PlanOptions::default());
    let sp = &mut plans[0];
    mark(sp, &|_| false);
    // An answer that lost the passes: no result, no count.
    let mut report = crate::agent::aggregate::answer(&sp.plan, sim::results(sp, |_| sim::ok()));
    report.cells.clear();
    let a = assemble(sp, Ok(&report));
    let marked = sp.plan.probes.iter().filter(|p| p.cell.is_some()).count();
    assert!(marked > 0);
    let errors: Vec<&Check> = a
        .checks
        .iter()
        .filter(|c| c.status == Status::Error)
        .collect();
    assert_eq!(errors.len(), marked);
    assert!(errors[0].detail.contains("no result"));
    assert!(a.omitted.is_empty());
}

#[test]
fn mark_leaves_out_what_policy_denies_and_the_few_kinds() {
    let d = sim::cluster(3);
    let mut plans = crate::plan::plan(&d, &PlanOptions::default());
    let sp = &mut plans[0];
    // As if NetworkPolicy denied UDP: a pass there is an unexpected allow.
    mark(sp, &|c| c.protocol == crate::model::Protocol::Udp);
    for (p, t) in sp.plan.probes.iter().zip(&sp.templates) {
        let want = aggregatable(t.kind) && t.protocol != crate::model::Protocol::Udp;
        assert_eq!(p.cell.is_some(), want, "{t:?}");
    }
    // One cell number per cell: probes of one (kind, target node) share it.
    let pod_to_pod: std::collections::BTreeSet<u32> = sp
        .plan
        .probes
        .iter()
        .zip(&sp.templates)
        .filter(|(_, t)| t.kind == CheckKind::PodToPod)
        .filter_map(|(p, _)| p.cell)
        .collect();
    assert_eq!(pod_to_pod.len(), 3, "one per target node");
}

#[test]
fn the_confirmation_plan_asks_for_answers_in_full() {
    let d = sim::cluster(2);
    let mut plans = crate::plan::plan(&d, &PlanOptions::default());
    let sp = &mut plans[0];
    mark(sp, &|_| false);
    let indices: Vec<usize> = (0..sp.plan.probes.len()).collect();
    let cp = crate::pipeline::confirm::confirmation_plan(sp, &indices);
    assert!(sp.plan.probes.iter().any(|p| p.cell.is_some()));
    assert!(cp.plan.probes.iter().all(|p| p.cell.is_none()));
}

fn cut_off(node: &'static str) -> impl Fn(&CheckTemplate) -> Answer {
    move |t| match sim::nodes_of(t) {
        (Some(a), Some(b)) if a != b && (a == node || b == node) => sim::timeout(),
        (Some(a), None) if a == node => sim::timeout(),
        _ => sim::ok(),
    }
}

fn vip_gone_on(node: &'static str) -> impl Fn(&CheckTemplate) -> Answer {
    move |t| {
        let vip = t.kind == CheckKind::PodToService
            || t.kind == CheckKind::PodToApiserver
            || t.note.is_some_and(|n| n.contains("via the DNS Service"));
        if vip && t.source.node.as_deref() == Some(node) {
            sim::timeout()
        } else {
            sim::ok()
        }
    }
}

/// The faults the rule tests simulate, each diagnosed from every check and
/// from an aggregated run: the same findings, evidence included.
#[test]
fn aggregated_runs_name_the_same_roots() {
    type Net = Box<dyn Fn(&CheckTemplate) -> Answer>;
    let cases: Vec<(&str, usize, Net)> = vec![
        ("node-isolated", 4, Box::new(cut_off("node-3"))),
        (
            "cross-node pair",
            3,
            Box::new(|t| {
                if sim::between(t, "node-0", "node-1") {
                    sim::timeout()
                } else {
                    sim::ok()
                }
            }),
        ),
        (
            "cross-node udp only",
            3,
            Box::new(|t| {
                if sim::between(t, "node-0", "node-2") && t.protocol == crate::model::Protocol::Udp
                {
                    sim::timeout()
                } else {
                    sim::ok()
                }
            }),
        ),
        ("service vip", 3, Box::new(vip_gone_on("node-1"))),
        (
            "node-to-pod",
            3,
            Box::new(|t| {
                if t.kind == CheckKind::NodeToPod && t.source.node.as_deref() == Some("node-2") {
                    sim::timeout()
                } else {
                    sim::ok()
                }
            }),
        ),
        (
            "dns slow",
            3,
            Box::new(|t| {
                if t.kind == CheckKind::Dns {
                    Answer {
                        latency_ms: 900.0,
                        ..sim::ok()
                    }
                } else {
                    sim::ok()
                }
            }),
        ),
        (
            "pod network down",
            3,
            Box::new(|t| {
                if t.kind == CheckKind::PodToPod {
                    sim::timeout()
                } else {
                    sim::ok()
                }
            }),
        ),
    ];
    for (name, nodes, net) in cases {
        let d = sim::cluster(nodes);
        let full = sim::diagnose(&d, &sim::run(&d, &net));
        assert!(!full.is_empty(), "{name}: the fault is found at all");
        let (checks, cells) = sim::run_aggregated(&d, &net);
        assert!(cells.iter().any(|c| c.omitted > 0), "{name}");
        let aggregated = sim::diagnose_cells(&d, &checks, &cells);
        assert_eq!(aggregated, full, "{name}");
    }
}
