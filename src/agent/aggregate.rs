//! Aggregated answers: past a size the CLI asks agents to count their passed
//! probes per cell instead of answering each one (`Probe::cell`). A probe with
//! a cell that passed is counted in that cell (how many, the latency
//! histogram, the largest latency); every other result (failed, refused,
//! timeout, not run, and every probe without a cell) is answered in full, so
//! the CLI still has each failure to name and to probe again.
//!
//! Pure: the probe engine (or a simulated network) produces the results,
//! [`answer`] folds them. `agent probe` calls it after its plan ran.

use crate::model::cells::{LatencyHistogram, round_latency};
use crate::model::plan::{CellAnswer, Outcome, ProbePlan, ProbeReport, ProbeResult};
use std::collections::{BTreeMap, HashMap};

/// The answer to `plan` from its `results` (duration and RSS left empty):
/// passes of probes with a cell counted, the rest in full.
pub fn answer(plan: &ProbePlan, results: Vec<ProbeResult>) -> ProbeReport {
    aggregate(
        plan,
        ProbeReport {
            results,
            duration_ms: 0.0,
            peak_rss_kib: None,
            cells: Vec::new(),
        },
    )
}

/// [`answer`] over a whole report (keeps its duration and RSS). A plan
/// without cells leaves the report as it is.
pub fn aggregate(plan: &ProbePlan, mut report: ProbeReport) -> ProbeReport {
    let cell_of: HashMap<&str, u32> = plan
        .probes
        .iter()
        .filter_map(|p| Some((p.id.as_str(), p.cell?)))
        .collect();
    if cell_of.is_empty() {
        return report;
    }
    let mut cells: BTreeMap<u32, CellAnswer> = BTreeMap::new();
    report.results.retain(|r| {
        let Some(&cell) = cell_of.get(r.id.as_str()) else {
            return true;
        };
        if r.outcome != Outcome::Ok {
            return true;
        }
        let a = cells.entry(cell).or_insert_with(|| CellAnswer {
            cell,
            passed: 0,
            latency: LatencyHistogram::default(),
            max_latency_ms: None,
        });
        a.passed += 1;
        // The same rounding the CLI gives a check's latency.
        if let Some(l) = r.latency_ms.map(round_latency).filter(|l| l.is_finite()) {
            a.latency.add(l);
            a.max_latency_ms = Some(a.max_latency_ms.map_or(l, |m| m.max(l)));
        }
        false
    });
    report.cells.extend(cells.into_values());
    report
}
