//! Cells: one summary per (check kind, source node, target, hairpin or not),
//! with counts by status and the latency of the passes. The report always
//! carries them (`cells[]`); when checks are aggregated, the passes the agents
//! only counted are in the cells and not in `checks[]` (`omitted`).
//!
//! A cell's latency figures come from a histogram of log-spaced buckets
//! (0.5 % wide), so summaries from several agents merge exactly: the cells
//! built from checks equal the cells built from aggregated answers.

use super::report::{Check, CheckKind, Family, Protocol, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Buckets per factor e of latency (0.5 % per bucket).
const BUCKETS_PER_E: f64 = 200.0;

/// The kinds whose passed checks agents may count instead of answering in
/// full: the O(N²) ones between pods and nodes. The others (MTU, DNS, the API
/// server, external) stay in full: few, and their passes carry what rules
/// and matrices read (a path MTU, a DNS answer, a latency per name).
pub fn aggregatable(kind: CheckKind) -> bool {
    matches!(
        kind,
        CheckKind::PodToPod | CheckKind::PodToService | CheckKind::NodeToPod | CheckKind::PodToNode
    )
}

/// A latency as checks store it: milliseconds rounded to the microsecond.
pub fn round_latency(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Latencies counted in log-spaced buckets: mergeable, and small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram(pub BTreeMap<i32, u32>);

impl LatencyHistogram {
    pub fn add(&mut self, ms: f64) {
        self.add_n(bucket(ms), 1);
    }
    pub fn add_n(&mut self, bucket: i32, n: u32) {
        if n > 0 {
            *self.0.entry(bucket).or_default() += n;
        }
    }
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (&b, &n) in &other.0 {
            self.add_n(b, n);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn count(&self) -> u64 {
        self.0.values().map(|&n| u64::from(n)).sum()
    }
    /// The lower middle latency (its bucket's value, to the microsecond).
    pub fn median(&self) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let want = (n - 1) / 2;
        let mut seen = 0u64;
        for (&b, &k) in &self.0 {
            seen += u64::from(k);
            if seen > want {
                return Some(round_latency((f64::from(b) / BUCKETS_PER_E).exp()));
            }
        }
        None
    }
}

/// The bucket of a latency in milliseconds (at least 1 µs).
pub fn bucket(ms: f64) -> i32 {
    let ms = if ms.is_finite() { ms.max(0.001) } else { 0.001 };
    (ms.ln() * BUCKETS_PER_E).round() as i32
}

/// What makes a cell: kind, source node, target, and whether it is the
/// hairpin (a pod through its own Service).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub kind: CheckKind,
    pub source: String,
    pub target: String,
    pub hairpin: bool,
    /// On dual stack each pair is a cell per family.
    pub family: Family,
}

impl CellKey {
    /// The cell of a check: its source node (or pod, or address), its target
    /// node (or name, or address).
    pub fn of(c: &Check) -> CellKey {
        let hairpin = is_hairpin_template(c.kind, &c.source, &c.target, Some(&c.detail));
        CellKey {
            family: c.family(),
            ..CellKey::from_parts(c.kind, &c.source, &c.target, hairpin)
        }
    }

    pub fn from_parts(
        kind: CheckKind,
        source: &super::report::Endpoint,
        target: &super::report::Endpoint,
        hairpin: bool,
    ) -> CellKey {
        let src = source
            .node
            .clone()
            .or_else(|| source.pod.clone())
            .or_else(|| source.ip.map(|i| i.to_string()))
            .unwrap_or_else(|| "?".into());
        let dst = target
            .node
            .clone()
            .or_else(|| target.name.clone())
            .or_else(|| target.ip.map(|i| i.to_string()))
            .unwrap_or_else(|| "?".into());
        // Every check runs within one family: its source's (else target's).
        let family = source
            .ip
            .or(target.ip)
            .map(Family::of)
            .unwrap_or(Family::Ipv4);
        CellKey {
            kind,
            source: src,
            target: dst,
            hairpin,
            family,
        }
    }
}

/// Whether a template (kind, ends, note) is a hairpin check.
pub fn is_hairpin_template(
    kind: CheckKind,
    source: &super::report::Endpoint,
    target: &super::report::Endpoint,
    note: Option<&str>,
) -> bool {
    kind == CheckKind::PodToService
        && (note.is_some_and(|n| n.contains("hairpin"))
            || (source.pod.is_some() && source.pod == target.pod))
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_ipv4(f: &Family) -> bool {
    *f == Family::Ipv4
}

fn ipv4() -> Family {
    Family::Ipv4
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One cell of the report (`cells[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CellSummary {
    pub kind: CheckKind,
    /// Source node (or pod, or address, when no node is known).
    pub source: String,
    /// Target node, or the name or address of a target without one.
    pub target: String,
    /// A pod through its own Service.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hairpin: bool,
    /// The checks' IP family (absent: IPv4).
    #[serde(default = "ipv4", skip_serializing_if = "is_ipv4")]
    pub family: Family,
    /// Protocols of the cell's checks.
    pub protocols: Vec<Protocol>,
    pub passed: usize,
    pub failed: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expected_blocks: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unexpected_allows: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: usize,
    /// Passed on the second try (flaky; counted in `passed`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recovered: usize,
    /// Passed checks agents counted without answering them in full: counted
    /// in `passed`, not in the report's `checks[]`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
    /// Median and largest latency of the passed checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<f64>,
    /// The passes' latencies while the cell is being built (empty once
    /// [`finish`](Self::finish)ed; not in the JSON).
    #[serde(skip)]
    pub latency: LatencyHistogram,
}

impl CellSummary {
    /// A cell with nothing counted yet.
    pub fn empty(k: &CellKey) -> CellSummary {
        CellSummary {
            kind: k.kind,
            source: k.source.clone(),
            target: k.target.clone(),
            hairpin: k.hairpin,
            family: k.family,
            protocols: Vec::new(),
            passed: 0,
            failed: 0,
            errors: 0,
            expected_blocks: 0,
            unexpected_allows: 0,
            skipped: 0,
            recovered: 0,
            omitted: 0,
            median_latency_ms: None,
            max_latency_ms: None,
            latency: LatencyHistogram::default(),
        }
    }
    pub fn key(&self) -> CellKey {
        CellKey {
            kind: self.kind,
            source: self.source.clone(),
            target: self.target.clone(),
            hairpin: self.hairpin,
            family: self.family,
        }
    }
    /// Checks in the cell.
    pub fn total(&self) -> usize {
        self.passed
            + self.failed
            + self.errors
            + self.expected_blocks
            + self.unexpected_allows
            + self.skipped
    }
    fn add_protocol(&mut self, p: Protocol) {
        if let Err(i) = self.protocols.binary_search(&p) {
            self.protocols.insert(i, p);
        }
    }
    fn add_pass_latency(&mut self, ms: f64) {
        self.latency.add(ms);
        self.max_latency_ms = Some(self.max_latency_ms.map_or(ms, |m| m.max(ms)));
    }
    /// Count one check.
    pub fn add_check(&mut self, c: &Check) {
        self.add_protocol(c.protocol);
        match c.status {
            Status::Pass => {
                self.passed += 1;
                if let Some(l) = c.latency_ms.filter(|l| l.is_finite()) {
                    self.add_pass_latency(l);
                }
            }
            Status::Fail => self.failed += 1,
            Status::Error => self.errors += 1,
            Status::ExpectedBlock => self.expected_blocks += 1,
            Status::UnexpectedAllow => self.unexpected_allows += 1,
            Status::Skipped => self.skipped += 1,
        }
        if c.recovered() {
            self.recovered += 1;
        }
    }
    /// Count passes an agent summarised (not in `checks[]`).
    pub fn add_omitted(&mut self, a: &OmittedPasses) {
        self.passed += a.passed;
        self.omitted += a.passed;
        for &p in &a.protocols {
            self.add_protocol(p);
        }
        self.latency.merge(&a.latency);
        if let Some(m) = a.max_latency_ms {
            self.max_latency_ms = Some(self.max_latency_ms.map_or(m, |x| x.max(m)));
        }
    }
    /// Fill the median from the histogram, and drop the histogram (a
    /// finished cell is what the JSON says).
    pub fn finish(&mut self) {
        self.median_latency_ms = self.latency.median();
        self.latency = LatencyHistogram::default();
    }
}

/// Passes of one cell an agent counted: how many, their protocols and latencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OmittedPasses {
    pub passed: usize,
    pub protocols: Vec<Protocol>,
    pub latency: LatencyHistogram,
    pub max_latency_ms: Option<f64>,
}

/// Cells being built: checks and omitted passes in, summaries out.
#[derive(Debug, Clone, Default)]
pub struct Cells(BTreeMap<CellKey, CellSummary>);

impl Cells {
    fn slot(&mut self, key: CellKey) -> &mut CellSummary {
        self.0.entry(key).or_insert_with_key(CellSummary::empty)
    }
    pub fn add_check(&mut self, c: &Check) {
        self.slot(CellKey::of(c)).add_check(c);
    }
    pub fn add_omitted(&mut self, key: CellKey, a: &OmittedPasses) {
        self.slot(key).add_omitted(a);
    }
    /// Summaries in key order, medians filled in.
    pub fn finish(self) -> Vec<CellSummary> {
        self.0
            .into_values()
            .map(|mut c| {
                c.finish();
                c
            })
            .collect()
    }
}

/// The cells of a set of checks (no omitted passes).
pub fn cells_of(checks: &[Check]) -> Vec<CellSummary> {
    let mut cells = Cells::default();
    checks.iter().for_each(|c| cells.add_check(c));
    cells.finish()
}

/// Passes the cells counted without a check in `checks[]`.
pub fn omitted(cells: &[CellSummary]) -> usize {
    cells.iter().map(|c| c.omitted).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_median_is_within_half_a_percent_and_merges_exactly() {
        let lat: Vec<f64> = (1..=501).map(|i| round_latency(0.013 * i as f64)).collect();
        let mut all = LatencyHistogram::default();
        let (mut a, mut b) = (LatencyHistogram::default(), LatencyHistogram::default());
        for (i, &l) in lat.iter().enumerate() {
            all.add(l);
            if i % 3 == 0 { a.add(l) } else { b.add(l) }
        }
        let exact = lat[250];
        let m = all.median().expect("a median");
        assert!((m - exact).abs() <= exact * 0.005, "{m} vs {exact}");
        a.merge(&b);
        assert_eq!(a, all, "two agents' counts merge into the same histogram");
        assert_eq!(a.count(), 501);
        assert_eq!(LatencyHistogram::default().median(), None);
    }
}
