//! `kubectl netcheck diff OLD.json NEW.json`: what changed between two runs
//! (before and after a CNI upgrade, yesterday and today).
//!
//! Two runs have different probe pods, namespaces and IPs, so checks are
//! matched by what stays: the check kind, the source node, the target (its
//! node, or for the API server and DNS the name with the run's probe
//! namespace masked), protocol, port, address family and whether it is a
//! hairpin or a direct DNS query. The port counts only where it is part of
//! what is tested: the host agent's port changes every run, so pod-to-node
//! checks are keyed without it. Several checks with one key (several pods
//! per node) count as one cell whose state is the worst of them.
//!
//! Reports whose agents counted passes per cell (`summary.aggregated`)
//! compare those cells too: each protocol of a report cell with omitted
//! passes is a passing cell here, at the cell's median latency. When either
//! report is aggregated, the kinds agents count (`model::cells::aggregatable`)
//! are keyed without the port, which a count does not carry.
//!
//! A regression is a cell that was fine (pass, blocked as intended, skipped)
//! and now fails (or is new and fails), or an error or warning finding that
//! appeared. Latency changes are reported when the median more than doubled
//! and grew by at least [`LATENCY_MIN_DELTA_MS`]; they do not count as a
//! regression on their own (a loaded node doubles a 0.3 ms RTT), the
//! `dns-slow` finding does.

use super::grid::{self, CellState, median, state_of};
use super::theme::{Theme, latency};
use super::{RenderOptions, table};
use crate::cli::OutputFormat;
use crate::model::{Check, CheckKind, Finding, Report, Severity};
use serde::Serialize;
use std::collections::BTreeMap;

/// A latency change is reported above this factor…
pub const LATENCY_FACTOR: f64 = 2.0;
/// …and this many milliseconds.
pub const LATENCY_MIN_DELTA_MS: f64 = 5.0;

/// What identifies a cell across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CellKey {
    pub kind: CheckKind,
    pub source: String,
    pub target: String,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

impl CellKey {
    pub fn label(&self, arrow: &str) -> String {
        let port = self.port.map(|p| format!("/{p}")).unwrap_or_default();
        let variant = if self.variant.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.variant)
        };
        format!(
            "{} {} {arrow} {} {}{port}{variant}",
            self.kind.as_str(),
            self.source,
            self.target,
            self.protocol
        )
    }
}

/// Mask the per-run probe namespace (`netcheck-<id>`) in a name.
fn mask_run(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for part in name.split_inclusive(['.', '/']) {
        let (word, sep) = match part.char_indices().last() {
            Some((j, c)) if c == '.' || c == '/' => (&part[..j], &part[j..]),
            _ => (part, ""),
        };
        out.push_str(if word.starts_with("netcheck-") {
            "netcheck-*"
        } else {
            word
        });
        out.push_str(sep);
    }
    out
}

pub fn key(c: &Check) -> CellKey {
    let target = match c.kind {
        CheckKind::Dns => {
            let name = mask_run(c.target.name.as_deref().unwrap_or("?"));
            if grid::is_dns_direct(c) {
                format!(
                    "{name} @ DNS pod on {}",
                    c.target.node.as_deref().unwrap_or("?")
                )
            } else {
                format!("{name} via Service")
            }
        }
        CheckKind::PodToApiserver | CheckKind::External => c
            .target
            .name
            .as_deref()
            .map(mask_run)
            .or_else(|| c.target.ip.map(|i| i.to_string()))
            .unwrap_or_else(|| "?".into()),
        _ => c
            .target
            .node
            .clone()
            .or_else(|| c.target.name.as_deref().map(mask_run))
            .unwrap_or_else(|| "?".into()),
    };
    let mut variant = Vec::new();
    if grid::is_hairpin(c) {
        variant.push("hairpin");
    }
    if c.source.ip.is_some_and(|i| i.is_ipv6()) {
        variant.push("IPv6");
    }
    if c.kind == CheckKind::Nodeport && c.source.pod.is_none() {
        variant.push("from the host");
    }
    CellKey {
        kind: c.kind,
        source: c.source.node.clone().unwrap_or_else(|| "?".into()),
        target,
        protocol: c.protocol.as_str().to_string(),
        port: keyed_port(c),
        variant: variant.join(", "),
    }
}

/// The port, when it is part of what a check tests. The host agent's port
/// (pod-to-node TCP) is derived from the run id, so it differs between two
/// runs of the same cluster: keyed by it, every pod-to-node TCP cell would be
/// "gone" and "new" in every diff; so is a NodePort (the API server allocates
/// one when the probe Service is created). The probe pods' ports are fixed, and the
/// API server's, DNS's and external targets' ports are the cluster's own.
fn keyed_port(c: &Check) -> Option<u16> {
    match c.kind {
        // The API server allocates a NodePort per run.
        CheckKind::PodToNode | CheckKind::Nodeport => None,
        _ => c.port,
    }
}

#[derive(Debug, Clone)]
struct Agg<'a> {
    state: CellState,
    latency: Option<f64>,
    /// The worst check; None: only passes counted in the report's cells.
    worst: Option<&'a Check>,
}

impl Agg<'_> {
    fn detail(&self) -> String {
        self.worst.map(|c| c.detail.clone()).unwrap_or_default()
    }
}

fn aggregate(r: &Report, portless: bool) -> BTreeMap<CellKey, Agg<'_>> {
    let key_of = |c: &Check| {
        let mut k = key(c);
        if portless && crate::model::cells::aggregatable(c.kind) {
            k.port = None;
        }
        k
    };
    let mut groups: BTreeMap<CellKey, Vec<&Check>> = BTreeMap::new();
    for c in &r.checks {
        groups.entry(key_of(c)).or_default().push(c);
    }
    let mut out: BTreeMap<CellKey, Agg<'_>> = groups
        .into_iter()
        .filter_map(|(k, checks)| {
            let worst = *checks.iter().max_by_key(|c| state_of(c.status))?;
            let mut l: Vec<f64> = checks
                .iter()
                .filter(|c| c.status == crate::model::Status::Pass)
                .filter_map(|c| c.latency_ms)
                .collect();
            Some((
                k,
                Agg {
                    state: state_of(worst.status),
                    latency: median(&mut l),
                    worst: Some(worst),
                },
            ))
        })
        .collect();
    // Passes agents counted: a passing cell per protocol, unless a check
    // of the same key says worse.
    for s in r.cells.iter().filter(|s| s.omitted > 0) {
        for p in s.protocols.iter() {
            let k = CellKey {
                kind: s.kind,
                source: s.source.clone(),
                target: s.target.clone(),
                protocol: p.as_str().to_string(),
                port: None,
                // As `key` names a check's variant.
                variant: [
                    s.hairpin.then_some("hairpin"),
                    (s.family == crate::model::Family::Ipv6).then_some("IPv6"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            };
            let e = out.entry(k).or_insert(Agg {
                state: CellState::Pass,
                latency: None,
                worst: None,
            });
            e.state = e.state.max(CellState::Pass);
            e.latency = e.latency.or(s.median_latency_ms);
        }
    }
    out
}

/// One cell whose state changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CellChange {
    pub key: CellKey,
    /// None: the cell is new in the new report.
    pub old: Option<&'static str>,
    /// None: the cell is gone from the new report.
    pub new: Option<&'static str>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyChange {
    pub key: CellKey,
    pub old_ms: f64,
    pub new_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingRef {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub nodes: Vec<String>,
}

impl From<&Finding> for FindingRef {
    fn from(f: &Finding) -> Self {
        FindingRef {
            id: f.id.to_string(),
            severity: f.severity,
            title: f.title.clone(),
            nodes: f.nodes.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub checks: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub warnings: usize,
}

fn counts(r: &Report) -> Counts {
    Counts {
        checks: r.checks.len() + r.summary.checks_omitted,
        passed: r.summary.passed,
        failed: r.summary.failed,
        errors: r.summary.errors,
        warnings: r.summary.warnings,
    }
}

/// Everything that changed. Serialized as the `-o json` of `diff`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub regressed: bool,
    /// Cells that were fine and now fail (or are new and fail).
    pub regressions: Vec<CellChange>,
    /// Cells that failed and now pass.
    pub fixed: Vec<CellChange>,
    /// Other changes of state (new or gone cells that are fine, fail → error, …).
    pub changed: Vec<CellChange>,
    pub findings_appeared: Vec<FindingRef>,
    pub findings_resolved: Vec<FindingRef>,
    pub slower: Vec<LatencyChange>,
    pub faster: Vec<LatencyChange>,
    pub old: Counts,
    pub new: Counts,
}

fn finding_key(f: &Finding) -> (String, Vec<String>) {
    let mut n = f.nodes.clone();
    n.sort();
    (f.id.to_string(), n)
}

pub fn diff(old: &Report, new: &Report) -> Diff {
    let portless = old.summary.aggregated || new.summary.aggregated;
    let a = aggregate(old, portless);
    let b = aggregate(new, portless);
    let mut d = Diff {
        api_version: crate::model::report::API_VERSION,
        kind: "Diff",
        regressed: false,
        regressions: Vec::new(),
        fixed: Vec::new(),
        changed: Vec::new(),
        findings_appeared: Vec::new(),
        findings_resolved: Vec::new(),
        slower: Vec::new(),
        faster: Vec::new(),
        old: counts(old),
        new: counts(new),
    };
    let keys: std::collections::BTreeSet<&CellKey> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (o, n) = (a.get(k), b.get(k));
        let change = |detail: String| CellChange {
            key: k.clone(),
            old: o.map(|x| x.state.as_str()),
            new: n.map(|x| x.state.as_str()),
            detail,
        };
        match (o, n) {
            (Some(o), Some(n)) if o.state == n.state => {
                if let (Some(lo), Some(ln)) = (o.latency, n.latency) {
                    let lc = LatencyChange {
                        key: k.clone(),
                        old_ms: lo,
                        new_ms: ln,
                    };
                    if ln > lo * LATENCY_FACTOR && ln - lo >= LATENCY_MIN_DELTA_MS {
                        d.slower.push(lc);
                    } else if lo > ln * LATENCY_FACTOR && lo - ln >= LATENCY_MIN_DELTA_MS {
                        d.faster.push(lc);
                    }
                }
            }
            (o, Some(n)) if n.state.is_failure() && o.is_none_or(|o| !o.state.is_failure()) => {
                d.regressions.push(change(n.detail()));
            }
            (Some(o), Some(n)) if o.state.is_failure() && !n.state.is_failure() => {
                d.fixed.push(change(o.detail()));
            }
            (_, n) => d
                .changed
                .push(change(n.map(|n| n.detail()).unwrap_or_default())),
        }
    }
    let old_f: BTreeMap<_, &Finding> = old.findings.iter().map(|f| (finding_key(f), f)).collect();
    let new_f: BTreeMap<_, &Finding> = new.findings.iter().map(|f| (finding_key(f), f)).collect();
    for (k, f) in &new_f {
        if !old_f.contains_key(k) {
            d.findings_appeared.push((*f).into());
        }
    }
    for (k, f) in &old_f {
        if !new_f.contains_key(k) {
            d.findings_resolved.push((*f).into());
        }
    }
    d.findings_appeared
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    d.findings_resolved
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    d.regressed = !d.regressions.is_empty()
        || d.findings_appeared
            .iter()
            .any(|f| f.severity >= Severity::Warning);
    d
}

/// Render a diff: table, json or markdown (JUnit has no notion of a change).
pub fn render(
    d: &Diff,
    old_name: &str,
    new_name: &str,
    format: OutputFormat,
    opts: &RenderOptions,
) -> Result<String, String> {
    match format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(d)
                .map_err(|e| format!("could not serialize the diff: {e}"))?;
            s.push('\n');
            Ok(s)
        }
        OutputFormat::Table => Ok(text(d, old_name, new_name, &Theme::new(opts), false)),
        OutputFormat::Markdown => Ok(text(d, old_name, new_name, &Theme::plain(), true)),
        OutputFormat::Junit => Err(
            "`diff` writes table, json or markdown; JUnit describes one run: use `kubectl netcheck report NEW.json -o junit`".into(),
        ),
    }
}

fn verdict(d: &Diff) -> String {
    let mut parts = Vec::new();
    if !d.regressions.is_empty() {
        parts.push(format!(
            "{} checks went from ok to failing",
            d.regressions.len()
        ));
    }
    let new_bad = d
        .findings_appeared
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .count();
    if new_bad > 0 {
        parts.push(if new_bad == 1 {
            "1 new error or warning finding".to_string()
        } else {
            format!("{new_bad} new error or warning findings")
        });
    }
    if !d.fixed.is_empty() {
        parts.push(format!("{} fixed", d.fixed.len()));
    }
    if !d.findings_resolved.is_empty() {
        parts.push(format!("{} findings resolved", d.findings_resolved.len()));
    }
    if parts.is_empty() {
        "no change in any check or finding".into()
    } else {
        parts.join(", ")
    }
}

fn text(d: &Diff, old_name: &str, new_name: &str, th: &Theme, md: bool) -> String {
    let w = DiffText {
        th,
        md,
        arrow: th.arrow(),
    };
    let mut o = w.header(d, old_name, new_name);
    let n = |what: &str, k: usize| format!("{what} ({k})");
    w.section(
        &mut o,
        &n("Findings appeared", d.findings_appeared.len()),
        w.finding_lines(&d.findings_appeared),
    );
    w.section(
        &mut o,
        &n(
            "Regressions: checks ok before, failing now",
            d.regressions.len(),
        ),
        w.cell_lines(&d.regressions),
    );
    w.section(
        &mut o,
        &n("Findings resolved", d.findings_resolved.len()),
        w.finding_lines(&d.findings_resolved),
    );
    w.section(
        &mut o,
        &n("Fixed: checks failing before, ok now", d.fixed.len()),
        w.cell_lines(&d.fixed),
    );
    w.section(
        &mut o,
        &n("Other changes", d.changed.len()),
        w.cell_lines(&d.changed),
    );
    w.section(
        &mut o,
        &n("Slower: median more than doubled", d.slower.len()),
        w.latency_lines(&d.slower),
    );
    w.section(
        &mut o,
        &n("Faster", d.faster.len()),
        w.latency_lines(&d.faster),
    );
    w.totals(&mut o, d);
    o
}

/// How a diff is written: the theme, markdown or not, the arrow.
struct DiffText<'a> {
    th: &'a Theme,
    md: bool,
    arrow: &'a str,
}

impl DiffText<'_> {
    /// "netcheck diff: OLD → NEW" and the verdict line.
    fn header(&self, d: &Diff, old_name: &str, new_name: &str) -> String {
        let (th, arrow) = (self.th, self.arrow);
        let mut o = String::new();
        let head = format!("netcheck diff: {old_name} {arrow} {new_name}");
        let (sym, state) = if d.regressed {
            (th.symbol(CellState::Fail), CellState::Fail)
        } else {
            (th.symbol(CellState::Pass), CellState::Pass)
        };
        let v = format!(
            "{sym} {} {}",
            if d.regressed {
                "regressed:"
            } else {
                "no regression:"
            },
            verdict(d)
        );
        if self.md {
            o.push_str(&format!("## {head}\n\n**{v}**\n\n"));
        } else {
            o.push_str(&th.bold(&head));
            o.push('\n');
            o.push_str(&th.paint(&v, Theme::state_color(state), true));
            o.push('\n');
        }
        o
    }

    /// A titled list; nothing when there are no lines.
    fn section(&self, o: &mut String, title: &str, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        if self.md {
            o.push_str(&format!("\n### {title}\n\n"));
            for l in lines {
                o.push_str(&format!("- {}\n", l.replace('|', "\\|")));
            }
        } else {
            o.push_str(&format!("\n{}\n", self.th.bold(title)));
            for l in lines {
                o.push_str(&format!("  {l}\n"));
            }
        }
    }

    /// One line per source → target and change, the protocols together:
    /// "pod-to-pod node-1 → node-3 icmp, tcp/7000  pass → fail: timeout".
    fn cell_lines(&self, v: &[CellChange]) -> Vec<String> {
        let arrow = self.arrow;
        let st = |s: Option<&str>| s.unwrap_or("absent").to_string();
        let mut groups: Vec<(String, Vec<String>, String)> = Vec::new();
        for c in v {
            let k = &c.key;
            let variant = if k.variant.is_empty() {
                String::new()
            } else {
                format!(" ({})", k.variant)
            };
            let head = format!(
                "{} {} {arrow} {}{variant}",
                k.kind.as_str(),
                k.source,
                k.target
            );
            let change = format!("{} {arrow} {}", st(c.old), st(c.new));
            let proto = match k.port {
                Some(p) => format!("{}/{p}", k.protocol),
                None => k.protocol.clone(),
            };
            let why = if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", grid::short_reason(&c.detail))
            };
            let tail = format!("{change}{why}");
            match groups.iter_mut().find(|(h, _, t)| *h == head && *t == tail) {
                Some(g) => g.1.push(proto),
                None => groups.push((head, vec![proto], tail)),
            }
        }
        groups
            .into_iter()
            .map(|(head, protos, tail)| {
                self.th
                    .text(&format!("{head} {}  {tail}", protos.join(", ")))
            })
            .collect()
    }

    fn finding_lines(&self, v: &[FindingRef]) -> Vec<String> {
        v.iter()
            .map(|f| {
                let nodes = if f.nodes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.nodes.join(", "))
                };
                self.th.text(&format!(
                    "{} {}{nodes}: {}",
                    f.severity.as_str(),
                    f.id,
                    f.title
                ))
            })
            .collect()
    }

    fn latency_lines(&self, v: &[LatencyChange]) -> Vec<String> {
        let arrow = self.arrow;
        v.iter()
            .map(|l| {
                self.th.text(&format!(
                    "{}  {} {arrow} {}",
                    l.key.label(arrow),
                    latency(l.old_ms),
                    latency(l.new_ms)
                ))
            })
            .collect()
    }

    /// The closing line: the two runs' totals, "a → b" where they differ.
    fn totals(&self, o: &mut String, d: &Diff) {
        let arrow = self.arrow;
        let c = |a: usize, b: usize| {
            if a == b {
                a.to_string()
            } else {
                format!("{a} {arrow} {b}")
            }
        };
        let line = format!(
            "checks {}, passed {}, failed {}, error findings {}, warnings {}",
            c(d.old.checks, d.new.checks),
            c(d.old.passed, d.new.passed),
            c(d.old.failed, d.new.failed),
            c(d.old.errors, d.new.errors),
            c(d.old.warnings, d.new.warnings)
        );
        o.push('\n');
        if self.md {
            o.push_str(&format!("_{line}_\n"));
        } else {
            o.push_str(&table::strip_ansi(&line));
            o.push('\n');
        }
    }
}
