//! Shared questions rules ask of the checks: which node pairs work, which
//! sources reach Services, what DNS answered. Computed on demand; cheap next
//! to probing.
//!
//! Pass evidence ("other paths from this node work") comes from the checks
//! and from the cells' omitted passes: with aggregation, agents only counted
//! most passes ([`omitted`]), and every failure is still a check.

use crate::model::cells::CellSummary;
use crate::model::{Check, CheckKind, Outcome, Protocol, Status};
use std::collections::{BTreeMap, BTreeSet};

/// An unordered node pair.
pub type NodePair = (String, String);

pub fn pair(a: &str, b: &str) -> NodePair {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

pub fn is_failed(c: &Check) -> bool {
    matches!(c.status, Status::Fail | Status::Error)
}

/// Pass/fail counts of one group of checks.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
}

impl Tally {
    pub fn add(&mut self, c: &Check) {
        match c.status {
            Status::Pass | Status::UnexpectedAllow => self.pass += 1,
            Status::Fail | Status::Error => self.fail += 1,
            Status::ExpectedBlock | Status::Skipped => {}
        }
    }
    /// Passes counted in a cell and not in the checks.
    pub fn add_passes(&mut self, n: u32) {
        self.pass += n as usize;
    }
    pub fn all_fail(&self) -> bool {
        self.fail > 0 && self.pass == 0
    }
    pub fn any_pass(&self) -> bool {
        self.pass > 0
    }
}

/// Pod-to-pod tallies: same-node per node, cross-node per unordered pair.
#[derive(Debug, Default)]
pub struct PodMesh {
    pub same_node: BTreeMap<String, Tally>,
    pub cross: BTreeMap<NodePair, Tally>,
    /// Failed protocols per pair, for evidence.
    pub cross_failed_protocols: BTreeMap<NodePair, BTreeSet<Protocol>>,
}

impl PodMesh {
    pub fn of(checks: &[Check]) -> PodMesh {
        let mut m = PodMesh::default();
        for c in checks.iter().filter(|c| c.kind == CheckKind::PodToPod) {
            let (Some(a), Some(b)) = (c.source_node(), c.target_node()) else {
                continue;
            };
            if a == b {
                m.same_node.entry(a.to_string()).or_default().add(c);
            } else {
                let p = pair(a, b);
                m.cross.entry(p.clone()).or_default().add(c);
                if is_failed(c) {
                    m.cross_failed_protocols
                        .entry(p)
                        .or_default()
                        .insert(c.protocol);
                }
            }
        }
        m
    }
    /// [`of`](Self::of) the checks and the passes the cells only counted.
    pub fn of_evidence(checks: &[Check], cells: &[CellSummary]) -> PodMesh {
        let mut m = PodMesh::of(checks);
        for c in omitted(cells).filter(|c| c.kind == CheckKind::PodToPod) {
            if c.source == c.target {
                m.same_node
                    .entry(c.source.clone())
                    .or_default()
                    .add_passes(c.omitted);
            } else {
                m.cross
                    .entry(pair(&c.source, &c.target))
                    .or_default()
                    .add_passes(c.omitted);
            }
        }
        m
    }
    pub fn same_node_works(&self) -> bool {
        self.same_node.values().any(|t| t.any_pass())
    }
    /// The pod network works somewhere, so failures between nodes are about
    /// those nodes: same-node traffic passes, or (one probe pod per node, so
    /// no same-node evidence) some node pair passes every check while
    /// another has failures (one pair alone proves nothing about the rest).
    pub fn works_locally(&self) -> bool {
        self.same_node_works()
            || (self.same_node.is_empty()
                && self.cross.values().any(|t| t.pass > 0 && t.fail == 0)
                && self.cross.values().any(|t| t.fail > 0))
    }
    pub fn any_pod_traffic(&self) -> bool {
        self.same_node_works() || self.cross.values().any(|t| t.any_pass())
    }
    pub fn nodes(&self) -> BTreeSet<String> {
        let mut n: BTreeSet<String> = self.same_node.keys().cloned().collect();
        for (a, b) in self.cross.keys() {
            n.insert(a.clone());
            n.insert(b.clone());
        }
        n
    }
}

/// Cells with passes agents counted and did not answer in full (only with
/// aggregation; their source and target are nodes for the kinds counted).
pub fn omitted(cells: &[CellSummary]) -> impl Iterator<Item = &CellSummary> {
    cells.iter().filter(|c| c.omitted > 0)
}

/// Median of latencies with weights (a latency seen `n` times), if any.
pub fn weighted_median(mut v: Vec<(f64, usize)>) -> Option<f64> {
    let total: usize = v.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let want = total / 2;
    let mut seen = 0;
    for (l, n) in v {
        seen += n;
        if seen > want {
            return Some(l);
        }
    }
    None
}

/// Whether a check's path crosses the pair {a, b} (its two ends are a and b).
pub fn crosses(c: &Check, p: &NodePair) -> bool {
    match (c.source_node(), c.target_node()) {
        (Some(x), Some(y)) if x != y => pair(x, y) == *p,
        _ => false,
    }
}

/// Whether a check touches node `n` and another node.
pub fn crosses_node(c: &Check, n: &str) -> bool {
    match (c.source_node(), c.target_node()) {
        (Some(x), Some(y)) => x != y && (x == n || y == n),
        _ => false,
    }
}

/// A DNS check asked through the DNS Service (not straight to a server pod).
/// The rules run on one family's checks at a time (`diagnose::diagnose`):
/// whether this run is IPv6's. A run without checks is IPv4's.
pub fn run_is_ipv6(ev: &crate::diagnose::Evidence<'_>) -> bool {
    ev.checks
        .first()
        .is_some_and(|c| c.family() == crate::model::Family::Ipv6)
}

pub fn is_dns_via_service(c: &Check) -> bool {
    c.kind == CheckKind::Dns && c.detail.contains("via the DNS Service")
}

pub fn is_dns_direct(c: &Check) -> bool {
    c.kind == CheckKind::Dns && c.detail.contains("direct to the DNS pod")
}

/// The check got no answer at all (as opposed to an answer that was wrong).
pub fn no_answer(c: &Check) -> bool {
    is_failed(c)
        && matches!(
            c.outcome,
            Some(Outcome::Timeout) | Some(Outcome::Refused) | Some(Outcome::Unreachable) | None
        )
}

/// A pod through its own Service: its ClusterIP, or its node's IP at the
/// Service's nodePort (DNATed back to the pod itself).
pub fn is_hairpin(c: &Check) -> bool {
    matches!(c.kind, CheckKind::PodToService | CheckKind::Nodeport) && c.detail.contains("hairpin")
}

/// Median of latencies, if any.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}
