//! The matrix as a type: checks aggregated into cells of rows (source node)
//! and columns (target). The table, markdown, JUnit and diff renderers all read
//! this one type, so a cell means the same thing in every format.
//!
//! A matrix cell holds the report's checks that fall in it and, when agents
//! counted passes instead of answering them (`summary.aggregated`), the
//! report cells that count those passes (`omitted`): one code path for both,
//! and without aggregation there is nothing omitted and a cell is its checks.

use crate::model::cells::{CellKey, CellSummary};
use crate::model::{Check, CheckKind, Family, Protocol, Report, Status};
use std::collections::BTreeMap;

/// What a cell says, from the checks in it. Ordered by how much it matters:
/// the worst state of a cell's checks is the cell's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CellState {
    Skipped,
    ExpectedBlock,
    Pass,
    UnexpectedAllow,
    Error,
    Fail,
}

impl CellState {
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            CellState::Fail | CellState::Error | CellState::UnexpectedAllow
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CellState::Pass => "pass",
            CellState::Fail => "fail",
            CellState::Error => "error",
            CellState::UnexpectedAllow => "unexpected-allow",
            CellState::ExpectedBlock => "expected-block",
            CellState::Skipped => "skipped",
        }
    }
}

/// The state of a single check as a cell state.
pub fn state_of(s: Status) -> CellState {
    match s {
        Status::Pass => CellState::Pass,
        Status::Fail => CellState::Fail,
        Status::Error => CellState::Error,
        Status::UnexpectedAllow => CellState::UnexpectedAllow,
        Status::ExpectedBlock => CellState::ExpectedBlock,
        Status::Skipped => CellState::Skipped,
    }
}

/// A check is a hairpin check: a pod through its own Service (the planner's note).
pub fn is_hairpin(c: &Check) -> bool {
    matches!(c.kind, CheckKind::PodToService | CheckKind::Nodeport)
        && (c.detail.contains("hairpin")
            || (c.source.pod.is_some() && c.source.pod == c.target.pod))
}

/// A DNS check asked a DNS server pod directly (not the Service).
pub fn is_dns_direct(c: &Check) -> bool {
    c.kind == CheckKind::Dns && c.target.pod.is_some()
}

/// The checks of one source node towards one target.
#[derive(Debug, Clone, Default)]
pub struct Cell<'a> {
    pub checks: Vec<&'a Check>,
    /// Report cells whose passes agents counted without answering them
    /// (`CellSummary::omitted`): passes of this matrix cell not in `checks`.
    pub omitted: Vec<&'a CellSummary>,
}

impl<'a> Cell<'a> {
    pub fn state(&self) -> CellState {
        let counted = (!self.omitted.is_empty()).then_some(CellState::Pass);
        self.checks
            .iter()
            .map(|c| state_of(c.status))
            .chain(counted)
            .max()
            .unwrap_or(CellState::Skipped)
    }

    /// Passes counted in the report's cells and not in `checks`.
    pub fn omitted_passes(&self) -> usize {
        self.omitted.iter().map(|s| s.omitted as usize).sum()
    }

    /// Every check in the cell failed or could not run.
    pub fn all_failed(&self) -> bool {
        !self.checks.is_empty()
            && self.omitted.is_empty()
            && self
                .checks
                .iter()
                .all(|c| matches!(c.status, Status::Fail | Status::Error))
    }

    /// Median latency of the checks that passed. With passes counted in
    /// report cells, each such cell counts at its median, as many times as
    /// it has passes, next to the passed checks of other cells.
    pub fn median_latency(&self) -> Option<f64> {
        if !self.omitted.is_empty() {
            let keys: Vec<CellKey> = self.omitted.iter().map(|s| s.key()).collect();
            let mut v: Vec<(f64, usize)> = self
                .omitted
                .iter()
                .filter_map(|s| Some((s.median_latency_ms?, s.passed as usize)))
                .collect();
            v.extend(
                self.checks
                    .iter()
                    .filter(|c| c.status == Status::Pass && !keys.contains(&CellKey::of(c)))
                    .filter_map(|c| c.latency_ms)
                    .filter(|l| l.is_finite())
                    .map(|l| (l, 1)),
            );
            return crate::diagnose::facts::weighted_median(v);
        }
        let mut l: Vec<f64> = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Pass)
            .filter_map(|c| c.latency_ms)
            .filter(|l| l.is_finite())
            .collect();
        median(&mut l)
    }

    fn labels(&self, pick: impl Fn(&Check) -> bool) -> Vec<String> {
        let mut by_proto: Vec<(u8, Protocol, String)> = Vec::new();
        for c in self.checks.iter().filter(|c| pick(c)) {
            let label = if is_hairpin(c) {
                (1, c.protocol, "hairpin".to_string())
            } else {
                (0, c.protocol, c.protocol.as_str().to_string())
            };
            if !by_proto.contains(&label) {
                by_proto.push(label);
            }
        }
        by_proto.sort();
        let mut out: Vec<String> = Vec::new();
        for (_, _, l) in by_proto {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    /// What failed, by protocol ("tcp", "udp") or "hairpin".
    pub fn failed_labels(&self) -> Vec<String> {
        self.labels(|c| matches!(c.status, Status::Fail | Status::Error))
    }
    pub fn blocked_labels(&self) -> Vec<String> {
        self.labels(|c| c.status == Status::ExpectedBlock)
    }
    pub fn allowed_labels(&self) -> Vec<String> {
        self.labels(|c| c.status == Status::UnexpectedAllow)
    }

    /// Only one protocol in the cell (DNS, MTU, the API server).
    pub fn single_protocol(&self) -> bool {
        let mut all = self
            .checks
            .iter()
            .map(|c| c.protocol)
            .chain(self.omitted.iter().flat_map(|s| s.protocols.iter()));
        all.next().is_some_and(|f| all.all(|p| p == f))
    }

    /// A few words for why the first failing check failed ("timeout", "wrong answer").
    pub fn reason(&self) -> Option<String> {
        let c = self
            .checks
            .iter()
            .filter(|c| state_of(c.status) == self.state())
            .find(|c| !c.detail.is_empty())?;
        Some(short_reason(&c.detail))
    }

    /// On dual stack, the one family whose checks fail in a cell that holds
    /// both (`v6 ✗`); None when the cell has one family or both fail.
    pub fn failing_family(&self) -> Option<Family> {
        let mut all = self.checks.iter().map(|c| c.family());
        let first = all.next()?;
        if all.all(|f| f == first) {
            return None;
        }
        let mut failing = self
            .checks
            .iter()
            .filter(|c| state_of(c.status).is_failure())
            .map(|c| c.family());
        let f = failing.next()?;
        failing.all(|x| x == f).then_some(f)
    }

    /// The cell with only the checks of one family.
    pub fn only(&self, family: Family) -> Cell<'a> {
        Cell {
            checks: self
                .checks
                .iter()
                .copied()
                .filter(|c| c.family() == family)
                .collect(),
            omitted: self
                .omitted
                .iter()
                .copied()
                .filter(|s| s.family == family)
                .collect(),
        }
    }

    /// A check in the cell failed on the first try and passed on the second.
    pub fn has_recovered(&self) -> bool {
        self.checks.iter().any(|c| c.recovered())
    }

    pub fn has_hairpin(&self) -> bool {
        self.checks.iter().any(|c| is_hairpin(c)) || self.omitted.iter().any(|s| s.hairpin)
    }

    /// MTU checks: the smallest path MTU found and the configured MTU.
    pub fn path_mtu(&self) -> (Option<u16>, Option<u16>) {
        let found = self.checks.iter().filter_map(|c| c.path_mtu).min();
        let conf = self.checks.iter().filter_map(|c| c.configured_mtu).min();
        (found, conf)
    }

    /// (passed, total) checks, the omitted passes included.
    pub fn counts(&self) -> (usize, usize) {
        let ok = self
            .checks
            .iter()
            .filter(|c| !state_of(c.status).is_failure())
            .count();
        let counted = self.omitted_passes();
        (ok + counted, self.checks.len() + counted)
    }
}

/// First words of a check detail: "timeout: no answer in 2s" → "timeout".
pub fn short_reason(detail: &str) -> String {
    let head = detail
        .split([':', '(', ';', ','])
        .next()
        .unwrap_or(detail)
        .trim();
    let head = if head.is_empty() { detail.trim() } else { head };
    if head.starts_with("could not run") {
        return "no agent".to_string();
    }
    truncate(head, 16)
}

/// Cut a string to `max` characters with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A column: a label and an optional second line (how it is reached).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub label: String,
    pub sub: Option<String>,
}

/// Which view a grid is; the renderers pick cell texts by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Node × node connectivity of one check kind.
    Kind(CheckKind),
    /// Pod → Service ClusterIPs (by the backend's node) and the API server.
    Services,
    /// DNS names via the Service and direct to each DNS pod.
    Dns,
    /// Path MTU found vs configured.
    Mtu,
}

#[derive(Debug, Clone)]
pub struct Grid<'a> {
    pub view: View,
    pub title: String,
    /// One sentence: what rows, columns and cells mean.
    pub about: String,
    pub rows: Vec<String>,
    pub cols: Vec<Column>,
    /// Per row, its cells as (column index, cell), ascending by column; a
    /// pair without a check has none. Sparse: at thousands of nodes with
    /// sampled pairs a dense rows × columns matrix is mostly empty and too
    /// big to hold.
    pub cells: Vec<Vec<(usize, Cell<'a>)>>,
    /// The domain every node name ends in, left out of the labels
    /// (`.eu-west-1.compute.internal`), when there is one.
    pub node_suffix: Option<String>,
}

impl<'a> Grid<'a> {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// (row, column, cell) of every failing cell, row by row.
    pub fn failing(&self) -> Vec<(usize, usize, &Cell<'a>)> {
        let mut out = Vec::new();
        for (r, row) in self.cells.iter().enumerate() {
            for (c, cell) in row {
                if cell.state().is_failure() {
                    out.push((r, *c, cell));
                }
            }
        }
        out
    }

    /// Every check in the grid.
    pub fn checks(&self) -> impl Iterator<Item = &'a Check> + '_ {
        self.all_cells().flat_map(|c| c.checks.iter().copied())
    }

    /// Every cell, row by row.
    pub fn all_cells(&self) -> impl Iterator<Item = &Cell<'a>> + '_ {
        self.cells.iter().flatten().map(|(_, c)| c)
    }

    /// Row `r` with a slot per column (None: no check for that pair): for
    /// drawing the full matrix.
    pub fn dense_row(&self, r: usize) -> Vec<Option<&Cell<'a>>> {
        let mut v = vec![None; self.cols.len()];
        for (c, cell) in self.cells.get(r).into_iter().flatten() {
            v[*c] = Some(cell);
        }
        v
    }
}

/// The IP families a report's checks ran in, in order (IPv4 first).
pub fn families(report: &Report) -> Vec<Family> {
    let set: std::collections::BTreeSet<Family> = report.checks.iter().map(Check::family).collect();
    set.into_iter().collect()
}

/// Node names in report order, then any other node named by a check.
pub fn node_order(report: &Report) -> Vec<String> {
    let mut names: Vec<String> = report.nodes.iter().map(|n| n.name.clone()).collect();
    let known: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let extra: std::collections::BTreeSet<String> = report
        .checks
        .iter()
        .flat_map(|c| [c.source.node.as_deref(), c.target.node.as_deref()])
        .flatten()
        .chain(
            report
                .cells
                .iter()
                .filter(|s| s.omitted > 0)
                .flat_map(|s| [s.source.as_str(), s.target.as_str()]),
        )
        .filter(|n| !known.contains(n))
        .map(str::to_string)
        .collect();
    names.extend(extra);
    names
}

fn source_key(c: &Check) -> String {
    c.source
        .node
        .clone()
        .or_else(|| c.source.pod.clone())
        .or_else(|| c.source.ip.map(|i| i.to_string()))
        .unwrap_or_else(|| "?".into())
}

fn name_or_ip(c: &Check) -> String {
    c.target
        .name
        .clone()
        .or_else(|| c.target.ip.map(|i| i.to_string()))
        .unwrap_or_else(|| "?".into())
}

/// Build a grid from checks and a function naming each check's column, and
/// the report cells with omitted passes that `counted` picks (their column:
/// the target, as [`node_column`] names it).
fn build<'a>(
    report: &'a Report,
    view: View,
    (title, about): (String, String),
    filter: impl Fn(&Check) -> bool,
    column: impl Fn(&Check) -> Column,
    counted: impl Fn(&CellSummary) -> bool,
) -> Grid<'a> {
    let order = node_order(report);
    let ranks: std::collections::HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let rank = |n: &str| ranks.get(n).copied().unwrap_or(usize::MAX);
    let mut map: BTreeMap<(String, Column), Cell<'a>> = BTreeMap::new();
    for c in report.checks.iter().filter(|c| filter(c)) {
        map.entry((source_key(c), column(c)))
            .or_default()
            .checks
            .push(c);
    }
    for s in report.cells.iter().filter(|s| s.omitted > 0 && counted(s)) {
        let col = Column {
            label: s.target.clone(),
            sub: None,
        };
        map.entry((s.source.clone(), col))
            .or_default()
            .omitted
            .push(s);
    }
    let mut rows: Vec<String> = map.keys().map(|(r, _)| r.clone()).collect();
    rows.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    rows.dedup();
    let mut cols: Vec<Column> = map.keys().map(|(_, c)| c.clone()).collect();
    // Node columns in node order; others (Services by name, DNS names) after, as they sort.
    cols.sort_by(|a, b| {
        let (ra, rb) = (rank(&a.label), rank(&b.label));
        ra.cmp(&rb).then(a.cmp(b))
    });
    cols.dedup();
    let row_of: std::collections::HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.as_str(), i))
        .collect();
    let col_of: BTreeMap<&Column, usize> = cols.iter().enumerate().map(|(i, c)| (c, i)).collect();
    let mut cells: Vec<Vec<(usize, Cell<'a>)>> = vec![Vec::new(); rows.len()];
    for ((r, c), cell) in map {
        if let (Some(&r), Some(&c)) = (row_of.get(r.as_str()), col_of.get(&c)) {
            cells[r].push((c, cell));
        }
    }
    for row in &mut cells {
        row.sort_by_key(|(c, _)| *c);
    }
    Grid {
        view,
        title,
        about,
        rows,
        cols,
        cells,
        node_suffix: None,
    }
}

/// The DNS suffix all node names share (`.eu-west-1.compute.internal`),
/// when there are at least two nodes and every name has more before it.
pub fn common_node_suffix(nodes: &[String]) -> Option<String> {
    let first = nodes.first()?;
    if nodes.len() < 2 {
        return None;
    }
    // Candidate suffixes: from each '.' of the first name, longest first.
    for (i, _) in first.match_indices('.') {
        let suffix = &first[i..];
        if nodes
            .iter()
            .all(|n| n.len() > suffix.len() && n.ends_with(suffix))
        {
            return Some(suffix.to_string());
        }
    }
    None
}

impl<'a> Grid<'a> {
    /// Leave `suffix` out of the node names in rows and columns.
    pub fn strip_node_suffix(&mut self, nodes: &[String], suffix: &str) {
        let nodes: std::collections::HashSet<&str> = nodes.iter().map(String::as_str).collect();
        let strip = |s: &mut String| {
            if nodes.contains(s.as_str()) {
                if let Some(short) = s.strip_suffix(suffix) {
                    *s = short.to_string();
                }
            }
        };
        self.rows.iter_mut().for_each(strip);
        for c in &mut self.cols {
            strip(&mut c.label);
            if let Some(sub) = &mut c.sub {
                // "direct, node-1.example.internal"
                if let Some(short) = sub.strip_suffix(suffix) {
                    *sub = short.to_string();
                }
            }
        }
        self.node_suffix = Some(suffix.to_string());
    }
}

fn node_column(c: &Check) -> Column {
    Column {
        label: c.target.node.clone().unwrap_or_else(|| name_or_ip(c)),
        sub: None,
    }
}

/// The node × node matrix of one check kind.
pub fn kind_grid(report: &Report, kind: CheckKind) -> Grid<'_> {
    let (title, about) = match kind {
        CheckKind::PodToPod => (
            "Pod → Pod",
            "rows: source node, columns: target node; icmp, tcp, udp and http between probe pods",
        ),
        CheckKind::NodeToPod => (
            "Node → Pod",
            "rows: source node (host network), columns: the target pod's node; kubelet probes need this",
        ),
        CheckKind::PodToNode => (
            "Pod → Node",
            "rows: the node of the source pod, columns: target node (host network)",
        ),
        CheckKind::PodToService => (
            "Pod → Service",
            "rows: source node, columns: the node of the Service's backend",
        ),
        CheckKind::PodToApiserver => (
            "Pod → API server",
            "rows: source node, columns: the kubernetes Service",
        ),
        CheckKind::Dns => ("DNS", "rows: source node, columns: name and server"),
        CheckKind::Mtu => ("Path MTU", "rows: source node, columns: target node"),
        CheckKind::Nodeport => (
            "NodePort",
            "rows: source node (its pods and its host agent), columns: the node whose IP:nodePort is dialled (tcp)",
        ),
        CheckKind::External => (
            "External egress",
            "rows: source node, columns: target outside the cluster",
        ),
    };
    build(
        report,
        View::Kind(kind),
        (title.into(), about.into()),
        |c| c.kind == kind,
        node_column,
        |s| s.kind == kind,
    )
}

/// Pod → Service ClusterIP by the backend's node (hairpin where a pod reaches
/// itself), and pod → `kubernetes.default`.
pub fn services_grid(report: &Report) -> Grid<'_> {
    build(
        report,
        View::Services,
        ("Services".into(),
        "rows: source node, columns: the node behind each probe Service (tcp, udp to its ClusterIP), the API".into()),
        |c| matches!(c.kind, CheckKind::PodToService | CheckKind::PodToApiserver),
        |c| match c.kind {
            CheckKind::PodToApiserver => Column {
                label: c
                    .target
                    .name
                    .as_deref()
                    .map(|n| n.rsplit('/').next().unwrap_or(n).to_string())
                    .unwrap_or_else(|| name_or_ip(c)),
                sub: Some("API server".into()),
            },
            _ => node_column(c),
        },
        |s| s.kind == CheckKind::PodToService,
    )
}

/// Shorten a cluster DNS name for a column: `svc.ns.svc.cluster.local` → `svc.ns`.
pub fn short_dns_name(name: &str) -> String {
    let n = name.trim_end_matches('.');
    let n = match n.find(".svc.") {
        Some(i) => &n[..i],
        None => n,
    };
    truncate(n, 28)
}

/// DNS: rows source node, a column per name through the Service, and one per
/// DNS server pod asked directly.
pub fn dns_grid(report: &Report) -> Grid<'_> {
    build(
        report,
        View::Dns,
        ("DNS".into(),
        "rows: source node, columns: a name through the DNS Service, or a DNS pod asked directly"
            .into()),
        |c| c.kind == CheckKind::Dns,
        |c| {
            let name = c.target.name.clone().unwrap_or_default();
            if is_dns_direct(c) {
                let pod = c.target.pod.clone().unwrap_or_else(|| name_or_ip(c));
                Column {
                    label: short_pod_name(&pod),
                    sub: Some(match &c.target.node {
                        Some(n) => format!("direct, {n}"),
                        None => "direct".into(),
                    }),
                }
            } else {
                let search = c.detail.contains("search path") || !name.contains('.');
                Column {
                    label: short_dns_name(&name),
                    sub: Some(if search {
                        "via Service, search".into()
                    } else {
                        "via Service".into()
                    }),
                }
            }
        },
        // DNS checks are never counted: every one is in `checks`.
        |_| false,
    )
    .sorted_dns()
}

impl<'a> Grid<'a> {
    /// Service columns first, then the direct ones.
    fn sorted_dns(mut self) -> Self {
        let mut idx: Vec<usize> = (0..self.cols.len()).collect();
        idx.sort_by_key(|&i| {
            let c = &self.cols[i];
            (c.sub.as_deref().is_some_and(|s| s.starts_with("direct")), i)
        });
        self.cols = idx.iter().map(|&i| self.cols[i].clone()).collect();
        // Old column idx[k] is now column k.
        let mut new_of = vec![0; idx.len()];
        for (k, &i) in idx.iter().enumerate() {
            new_of[i] = k;
        }
        for row in &mut self.cells {
            for (c, _) in row.iter_mut() {
                *c = new_of[*c];
            }
            row.sort_by_key(|(c, _)| *c);
        }
        self
    }
}

/// Shorten a generated pod name for a column: `coredns-7db6d8ff4d-4xk9p` → `coredns-…-4xk9p`.
pub fn short_pod_name(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    if pod.chars().count() > 16 && parts.len() >= 3 {
        format!("{}-…-{}", parts[0], parts[parts.len() - 1])
    } else {
        truncate(pod, 16)
    }
}

pub fn mtu_grid(report: &Report) -> Grid<'_> {
    let mut g = kind_grid(report, CheckKind::Mtu);
    g.view = View::Mtu;
    g.about = "rows: source node, columns: target node; largest packet with DF set that crossed / pod MTU".into();
    g
}

/// Every grid of a report, in reading order; empty ones left out.
pub fn grids(report: &Report) -> Vec<Grid<'_>> {
    each_grid(report).collect()
}

/// The grids of [`grids`], each built when the iterator gets to it: a
/// renderer that draws one and drops it holds one at a time (at 5,000
/// nodes all of them at once were tens of MB).
pub fn each_grid(report: &Report) -> impl Iterator<Item = Grid<'_>> {
    let nodes = node_order(report);
    let suffix = common_node_suffix(&nodes);
    (0..8)
        .map(move |i| match i {
            0 => kind_grid(report, CheckKind::PodToPod),
            1 => services_grid(report),
            2 => kind_grid(report, CheckKind::NodeToPod),
            3 => kind_grid(report, CheckKind::PodToNode),
            4 => mtu_grid(report),
            5 => dns_grid(report),
            6 => kind_grid(report, CheckKind::Nodeport),
            _ => kind_grid(report, CheckKind::External),
        })
        .filter(|g| !g.is_empty())
        .map(move |mut g| {
            if let Some(suffix) = &suffix {
                g.strip_node_suffix(&nodes, suffix);
            }
            g
        })
}
