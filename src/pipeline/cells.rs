//! Aggregation on the CLI's side. Past a size (`plan::Aggregate`), each
//! agent is asked to count its passed probes per cell instead of answering
//! each one: [`mark`] gives every probe of the O(N²) kinds
//! (`model::cells::aggregatable`) its cell, [`assemble`] turns the answer
//! back into the checks answered in full (every failure, every probe without
//! a cell) and the passes counted per cell. The CLI then holds every failure
//! and a summary per cell: memory that grows with the cells, not the checks.
//!
//! Not counted, always answered in full: probes whose failure NetworkPolicy
//! intends (their pass is an `unexpected-allow`, which needs the check), and
//! the kinds that are few (MTU, DNS, the API server).

use crate::model::cells::{CellKey, OmittedPasses, aggregatable, is_hairpin_template};
use crate::model::plan::{CellAnswer, ProbeReport};
use crate::model::{Check, ProbeResult};
use crate::plan::{self, CheckTemplate, SourcePlan};
use std::collections::{BTreeMap, HashMap};

/// The cell a template's check falls in.
pub fn template_key(t: &CheckTemplate) -> CellKey {
    let hairpin = is_hairpin_template(t.kind, &t.source, &t.target, t.note);
    CellKey::from_parts(t.kind, &t.source, &t.target, hairpin)
}

/// Give each probe of an aggregatable kind its cell number (per source, in
/// plan order), except those `keep_full` wants answered in full.
pub fn mark(sp: &mut SourcePlan, keep_full: &dyn Fn(&Check) -> bool) {
    let mut ids: HashMap<CellKey, u32> = HashMap::new();
    for (p, t) in sp.plan.probes.iter_mut().zip(&sp.templates) {
        if !aggregatable(t.kind) || keep_full(&plan::check_of(t, None)) {
            continue;
        }
        let next = ids.len() as u32;
        p.cell = Some(*ids.entry(template_key(t)).or_insert(next));
    }
}

/// One source's answer: the checks answered in full, the plan index of each,
/// and the passes counted per cell.
#[derive(Debug, Clone, Default)]
pub struct Assembled {
    pub checks: Vec<Check>,
    /// `probes[i]`: the index in the plan of `checks[i]`.
    pub probes: Vec<usize>,
    pub omitted: Vec<(CellKey, OmittedPasses)>,
}

/// The checks of one source from its answer. A probe with a cell and no
/// result is one of the passes its cell counted (as many as the agent says
/// passed); a probe without either is an `error` check, as without
/// aggregation. An agent that could not run fails every probe in full.
pub fn assemble(sp: &SourcePlan, answer: Result<&ProbeReport, &str>) -> Assembled {
    let report = match answer {
        Ok(r) if sp.plan.probes.iter().any(|p| p.cell.is_some()) => r,
        other => {
            let checks = plan::assemble(sp, other);
            return Assembled {
                probes: (0..checks.len()).collect(),
                checks,
                omitted: Vec::new(),
            };
        }
    };
    let by_id: HashMap<&str, &ProbeResult> =
        report.results.iter().map(|r| (r.id.as_str(), r)).collect();
    let answers: HashMap<u32, &CellAnswer> = report.cells.iter().map(|c| (c.cell, c)).collect();
    let mut left: HashMap<u32, usize> = answers.iter().map(|(&k, a)| (k, a.passed)).collect();
    let mut omitted: BTreeMap<u32, (CellKey, OmittedPasses)> = BTreeMap::new();
    let mut out = Assembled::default();
    for (i, (p, t)) in sp.plan.probes.iter().zip(&sp.templates).enumerate() {
        let result = by_id.get(p.id.as_str()).copied();
        let counted = match (result, p.cell) {
            (None, Some(k)) => left.get_mut(&k).filter(|n| **n > 0).map(|n| {
                *n -= 1;
                k
            }),
            _ => None,
        };
        let Some(k) = counted else {
            out.checks.push(plan::check_of(t, result));
            out.probes.push(i);
            continue;
        };
        let (_, o) = omitted
            .entry(k)
            .or_insert_with(|| (template_key(t), OmittedPasses::default()));
        o.passed += 1;
        if let Err(at) = o.protocols.binary_search(&t.protocol) {
            o.protocols.insert(at, t.protocol);
        }
    }
    out.omitted = omitted
        .into_iter()
        .map(|(k, (key, mut o))| {
            if let Some(a) = answers.get(&k) {
                o.latency = a.latency.clone();
                o.max_latency_ms = a.max_latency_ms;
            }
            (key, o)
        })
        .collect();
    out
}

#[cfg(test)]
mod tests;
