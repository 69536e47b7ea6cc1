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
use std::collections::{BTreeMap, HashMap};

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
        median_of(self.0.iter().map(|(&b, &k)| (b, k)))
    }
}

/// The lower middle latency of counts per bucket, the buckets ascending.
fn median_of(buckets: impl Iterator<Item = (i32, u32)> + Clone) -> Option<f64> {
    let n: u64 = buckets.clone().map(|(_, k)| u64::from(k)).sum();
    if n == 0 {
        return None;
    }
    let want = (n - 1) / 2;
    let mut seen = 0u64;
    for (b, k) in buckets {
        seen += u64::from(k);
        if seen > want {
            return Some(round_latency((f64::from(b) / BUCKETS_PER_E).exp()));
        }
    }
    None
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

fn is_zero(n: &u32) -> bool {
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
    pub protocols: ProtocolSet,
    pub passed: u32,
    pub failed: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expected_blocks: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unexpected_allows: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u32,
    /// Passed on the second try (flaky; counted in `passed`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recovered: u32,
    /// Passed checks agents counted without answering them in full: counted
    /// in `passed`, not in the report's `checks[]`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: u32,
    /// Median and largest latency of the passed checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<f64>,
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
            protocols: ProtocolSet::default(),
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
        [
            self.passed,
            self.failed,
            self.errors,
            self.expected_blocks,
            self.unexpected_allows,
            self.skipped,
        ]
        .iter()
        .map(|&n| n as usize)
        .sum()
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

/// Cells being built: checks and omitted passes in, summaries out. A cell
/// is a [`Tally`] under a key of numbered names until [`Cells::finish`]: at
/// 5,000 nodes a run counts 280,000 cells, and summaries with their names,
/// protocol lists and histograms held while being counted were a large part
/// of the CLI's memory.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    /// Each source and target name once, numbered in the order first seen.
    names: Vec<String>,
    numbers: HashMap<String, u32>,
    tallies: BTreeMap<TallyKey, Tally>,
}

/// A [`CellKey`] with its names numbered (`Cells::names`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TallyKey {
    kind: CheckKind,
    source: u32,
    target: u32,
    hairpin: bool,
    family: Family,
}

impl Cells {
    fn number(&mut self, name: String) -> u32 {
        if let Some(&n) = self.numbers.get(&name) {
            return n;
        }
        let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.numbers.insert(name.clone(), n);
        self.names.push(name);
        n
    }
    fn slot(&mut self, key: CellKey) -> &mut Tally {
        let k = TallyKey {
            kind: key.kind,
            source: self.number(key.source),
            target: self.number(key.target),
            hairpin: key.hairpin,
            family: key.family,
        };
        self.tallies.entry(k).or_default()
    }
    pub fn add_check(&mut self, c: &Check) {
        self.slot(CellKey::of(c)).add_check(c);
    }
    pub fn add_omitted(&mut self, key: CellKey, a: &OmittedPasses) {
        self.slot(key).add_omitted(a);
    }
    /// Summaries in key order ([`CellKey`]'s: by names, not numbers),
    /// medians filled in.
    pub fn finish(self) -> Vec<CellSummary> {
        let Cells {
            names,
            tallies,
            numbers,
        } = self;
        drop(numbers);
        // Each tally becomes its summary as the map is consumed (its nodes
        // are freed on the way): the tallies, a sorted copy of them and the
        // summaries were held at once before, 83 MB at 5,000 nodes.
        let mut out: Vec<CellSummary> = Vec::with_capacity(tallies.len());
        for (k, t) in tallies {
            let name = |n: u32| names.get(n as usize).cloned().unwrap_or_default();
            let key = CellKey {
                kind: k.kind,
                source: name(k.source),
                target: name(k.target),
                hairpin: k.hairpin,
                family: k.family,
            };
            out.push(t.into_summary(key));
        }
        // In the order of their keys by name (`CellKey`'s), which are unique.
        out.sort_unstable_by(|a, b| {
            (a.kind, &a.source, &a.target, a.hairpin, a.family)
                .cmp(&(b.kind, &b.source, &b.target, b.hairpin, b.family))
        });
        out
    }
}

/// A cell's protocols: a bit per protocol, in the JSON the list in
/// `Protocol`'s order. A list in each of 280,000 cells (5,000 nodes) was a
/// vector and an allocation each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProtocolSet(u8);

impl ProtocolSet {
    pub fn insert(&mut self, p: Protocol) {
        self.0 |= protocol_bit(p);
    }
    pub fn contains(&self, p: Protocol) -> bool {
        self.0 & protocol_bit(p) != 0
    }
    /// In `Protocol`'s order.
    pub fn iter(&self) -> impl Iterator<Item = Protocol> + '_ {
        PROTOCOLS.into_iter().filter(|&p| self.contains(p))
    }
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Protocol> for ProtocolSet {
    fn from_iter<I: IntoIterator<Item = Protocol>>(iter: I) -> Self {
        let mut s = ProtocolSet::default();
        iter.into_iter().for_each(|p| s.insert(p));
        s
    }
}

impl Serialize for ProtocolSet {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ProtocolSet {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        Ok(Vec::<Protocol>::deserialize(de)?.into_iter().collect())
    }
}

/// The protocols in their order (`Protocol`'s), for [`Tally`]'s bit set.
const PROTOCOLS: [Protocol; 5] = [
    Protocol::Icmp,
    Protocol::Tcp,
    Protocol::Udp,
    Protocol::Http,
    Protocol::Dns,
];

/// A protocol's place in [`PROTOCOLS`] (a new protocol must be added there).
fn protocol_bit(p: Protocol) -> u8 {
    let i = match p {
        Protocol::Icmp => 0,
        Protocol::Tcp => 1,
        Protocol::Udp => 2,
        Protocol::Http => 3,
        Protocol::Dns => 4,
    };
    1 << i
}

/// A cell being counted: what its [`CellSummary`] will say, without the
/// names its key holds, the protocols as a bit set, the latency buckets as
/// a short sorted list.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    protocols: u8,
    passed: u32,
    failed: u32,
    errors: u32,
    expected_blocks: u32,
    unexpected_allows: u32,
    skipped: u32,
    recovered: u32,
    omitted: u32,
    /// NaN: no latency yet (an `Option` is 8 bytes more in each of
    /// 280,000 tallies at 5,000 nodes).
    max_latency_ms: f64,
    /// (bucket, passes), buckets ascending.
    latency: Vec<(i32, u32)>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            protocols: 0,
            passed: 0,
            failed: 0,
            errors: 0,
            expected_blocks: 0,
            unexpected_allows: 0,
            skipped: 0,
            recovered: 0,
            omitted: 0,
            max_latency_ms: f64::NAN,
            latency: Vec::new(),
        }
    }
}

impl Tally {
    fn add_latency(&mut self, bucket: i32, n: u32) {
        if n == 0 {
            return;
        }
        match self.latency.binary_search_by_key(&bucket, |&(b, _)| b) {
            Ok(i) => self.latency[i].1 += n,
            Err(i) => self.latency.insert(i, (bucket, n)),
        }
    }
    fn add_max_latency(&mut self, ms: f64) {
        // `f64::max` takes the number over a NaN.
        self.max_latency_ms = self.max_latency_ms.max(ms);
    }
    /// Count one check (as [`CellSummary::add_check`]).
    fn add_check(&mut self, c: &Check) {
        self.protocols |= protocol_bit(c.protocol);
        match c.status {
            Status::Pass => {
                self.passed += 1;
                if let Some(l) = c.latency_ms.filter(|l| l.is_finite()) {
                    self.add_latency(bucket(l), 1);
                    self.add_max_latency(l);
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
    /// Count passes an agent summarised (as [`CellSummary::add_omitted`]).
    fn add_omitted(&mut self, a: &OmittedPasses) {
        let passed = u32::try_from(a.passed).unwrap_or(u32::MAX);
        self.passed = self.passed.saturating_add(passed);
        self.omitted = self.omitted.saturating_add(passed);
        for &p in &a.protocols {
            self.protocols |= protocol_bit(p);
        }
        for (&b, &n) in &a.latency.0 {
            self.add_latency(b, n);
        }
        if let Some(m) = a.max_latency_ms {
            self.add_max_latency(m);
        }
    }
    /// The finished summary of cell `k`.
    fn into_summary(self, k: CellKey) -> CellSummary {
        CellSummary {
            kind: k.kind,
            source: k.source,
            target: k.target,
            hairpin: k.hairpin,
            family: k.family,
            protocols: ProtocolSet(self.protocols),
            passed: self.passed,
            failed: self.failed,
            errors: self.errors,
            expected_blocks: self.expected_blocks,
            unexpected_allows: self.unexpected_allows,
            skipped: self.skipped,
            recovered: self.recovered,
            omitted: self.omitted,
            median_latency_ms: median_of(self.latency.iter().copied()),
            max_latency_ms: (!self.max_latency_ms.is_nan()).then_some(self.max_latency_ms),
        }
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
    cells.iter().map(|c| c.omitted as usize).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary counted one check at a time, with the histogram its
    /// median comes from: the reference the tallies must agree with.
    struct OneByOne {
        s: CellSummary,
        latency: LatencyHistogram,
    }

    impl OneByOne {
        fn new(k: &CellKey) -> Self {
            OneByOne {
                s: CellSummary::empty(k),
                latency: LatencyHistogram::default(),
            }
        }
        fn add_protocol(&mut self, p: Protocol) {
            self.s.protocols.insert(p);
        }
        fn add_max(&mut self, ms: f64) {
            self.s.max_latency_ms = Some(self.s.max_latency_ms.map_or(ms, |m| m.max(ms)));
        }
        fn add_check(&mut self, c: &Check) {
            self.add_protocol(c.protocol);
            match c.status {
                Status::Pass => {
                    self.s.passed += 1;
                    if let Some(l) = c.latency_ms.filter(|l| l.is_finite()) {
                        self.latency.add(l);
                        self.add_max(l);
                    }
                }
                Status::Fail => self.s.failed += 1,
                Status::Error => self.s.errors += 1,
                Status::ExpectedBlock => self.s.expected_blocks += 1,
                Status::UnexpectedAllow => self.s.unexpected_allows += 1,
                Status::Skipped => self.s.skipped += 1,
            }
            if c.recovered() {
                self.s.recovered += 1;
            }
        }
        fn add_omitted(&mut self, a: &OmittedPasses) {
            self.s.passed += a.passed as u32;
            self.s.omitted += a.passed as u32;
            for &p in &a.protocols {
                self.add_protocol(p);
            }
            self.latency.merge(&a.latency);
            if let Some(m) = a.max_latency_ms {
                self.add_max(m);
            }
        }
        fn finish(mut self) -> CellSummary {
            self.s.median_latency_ms = self.latency.median();
            self.s
        }
    }

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

    /// The tallies a run counts its cells in give the summaries that
    /// counting into `CellSummary` gives, in any order of checks and
    /// omitted passes.
    #[test]
    fn cells_tallied_are_the_summaries_counted_one_by_one() {
        use crate::model::report::Endpoint;
        let ep = |node: &str| Endpoint {
            node: Some(node.into()),
            pod: None,
            ip: None,
            name: None,
        };
        let statuses = [
            Status::Pass,
            Status::Fail,
            Status::Error,
            Status::ExpectedBlock,
            Status::UnexpectedAllow,
            Status::Skipped,
        ];
        let mut checks = Vec::new();
        for i in 0..300usize {
            // Names first seen out of their order, two kinds.
            checks.push(Check {
                kind: if (i / 15) % 4 == 0 {
                    CheckKind::NodeToPod
                } else {
                    CheckKind::PodToPod
                },
                source: ep(&format!("node-{}", [10, 9, 2][i % 3])),
                target: ep(&format!("node-{}", [12, 3, 1, 30, 9][(i / 3) % 5])),
                protocol: PROTOCOLS[(i / 15) % PROTOCOLS.len()],
                port: None,
                family: None,
                status: statuses[(i * 5) % 17 % statuses.len()],
                latency_ms: Some(round_latency(0.05 + (i * 37 % 101) as f64 * 0.011)),
                detail: if i % 11 == 0 {
                    format!(
                        "{}timeout on the first try",
                        crate::model::report::RECOVERED_PREFIX
                    )
                } else {
                    String::new()
                },
                path_mtu: None,
                configured_mtu: None,
                expected: None,
                outcome: None,
            });
        }
        let omitted: Vec<(CellKey, OmittedPasses)> = (0..40usize)
            .map(|i| {
                let key = CellKey::of(&checks[i * 3]);
                let mut o = OmittedPasses {
                    passed: 1 + i % 4,
                    protocols: vec![PROTOCOLS[i % PROTOCOLS.len()]],
                    ..OmittedPasses::default()
                };
                o.latency.add(0.2 + i as f64 * 0.01);
                o.max_latency_ms = Some(0.2 + i as f64 * 0.01);
                (key, o)
            })
            .collect();
        // One by one into summaries, as before.
        let mut want: BTreeMap<CellKey, OneByOne> = BTreeMap::new();
        for c in &checks {
            let k = CellKey::of(c);
            want.entry(k.clone())
                .or_insert_with(|| OneByOne::new(&k))
                .add_check(c);
        }
        for (k, o) in &omitted {
            want.entry(k.clone())
                .or_insert_with(|| OneByOne::new(k))
                .add_omitted(o);
        }
        let want: Vec<CellSummary> = want.into_values().map(OneByOne::finish).collect();
        assert!(
            want.iter()
                .any(|c| c.protocols.len() > 2 && c.omitted > 0 && c.recovered > 0),
            "{want:#?}"
        );
        // Tallied, omitted passes first and checks backwards.
        let mut cells = Cells::default();
        for (k, o) in &omitted {
            cells.add_omitted(k.clone(), o);
        }
        checks.iter().rev().for_each(|c| cells.add_check(c));
        assert_eq!(cells.finish(), want);
        // Every protocol has its own bit, in the protocols' order.
        let bits: Vec<u8> = PROTOCOLS.into_iter().map(protocol_bit).collect();
        assert_eq!(bits, vec![1, 2, 4, 8, 16]);
        assert!(PROTOCOLS.windows(2).all(|w| w[0] < w[1]));
    }
}
