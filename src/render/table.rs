//! The terminal report. Reading order, for the operator at 3 a.m.:
//!
//! 1. the header (which cluster, CNI, kube-proxy mode, DNS, how long);
//! 2. the findings, when there are any: the root cause, its evidence and the
//!    fix come before the matrices that are only its evidence;
//! 3. the matrices (pod → pod, Services, node → pod, pod → node, MTU, DNS),
//!    folded to a per-node summary and the failing pairs when wider than the
//!    terminal;
//! 4. the legend and the per-node host view;
//! 5. the summary line, last, because it is what stays on screen when the
//!    report is longer than the terminal; it names the root-cause IDs again.

use super::RenderOptions;
use super::grid::{self, CellState, Grid};
use super::hosts;
use super::theme::{Theme, duration};
use crate::model::{Report, Severity};
use tabled::builder::Builder;
use tabled::settings::Style;

/// How many evidence lines a finding shows in the terminal (all are in -o json).
const MAX_EVIDENCE: usize = 8;
/// How many failed checks a finding lists under its fix (when it also has
/// evidence in words; all are in -o json).
const MAX_FAILED_CHECKS: usize = 4;
/// How many failing pairs a folded matrix lists.
const MAX_FAILING_PAIRS: usize = 16;

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let th = Theme::new(opts);
    let mut out = String::new();
    out.push_str(&header(report, &th, opts.width));
    let findings = findings(report, &th, opts.width);
    if !findings.is_empty() {
        out.push('\n');
        out.push_str(&findings);
    }
    // One matrix at a time: drawn (or folded), then dropped.
    let mut any_grid = false;
    for g in grid::each_grid(report) {
        any_grid = true;
        out.push('\n');
        out.push_str(&grid_section(&g, &th, opts));
    }
    if any_grid {
        out.push('\n');
        let mut legend = th.legend_items();
        if report.checks.iter().any(|c| c.recovered()) {
            legend.push(th.flaky_legend());
        }
        if grid::families(report).len() > 1 {
            legend.push(th.family_legend());
        }
        for line in join_fitting(&legend, "   ", opts.width).lines() {
            out.push_str(&th.dim(line));
            out.push('\n');
        }
    }
    let h = hosts::table(report, &th, opts.width, opts.wide);
    if !h.is_empty() {
        out.push('\n');
        out.push_str(&h);
    }
    out.push('\n');
    out.push_str(&recap(report, &th, opts.width));
    out.push_str(&summary_line(report, &th, opts.width));
    out.push('\n');
    out
}

pub fn header(r: &Report, th: &Theme, width: usize) -> String {
    let c = &r.cluster;
    let dot = format!(" {} ", th.dot());
    let or_unknown = |s: &str| {
        if s.is_empty() {
            "unknown".to_string()
        } else {
            s.to_string()
        }
    };
    let mut first = vec![th.bold(&format!("kubectl netcheck {}", or_unknown(&c.name)))];
    if !c.server.is_empty() {
        first.push(c.server.clone());
    }
    // "Kubernetes v1.30.2"; a runtime that is not a real cluster (the lab)
    // names itself instead of a version.
    let versioned = c
        .version
        .trim_start_matches('v')
        .starts_with(|ch: char| ch.is_ascii_digit());
    first.push(if versioned || c.version.is_empty() {
        format!("Kubernetes {}", or_unknown(&c.version))
    } else {
        c.version.clone()
    });
    let ready = r.nodes.iter().filter(|n| n.ready).count();
    let nodes = if ready == r.nodes.len() {
        format!("{} nodes", r.nodes.len())
    } else {
        format!(
            "{} nodes ({} not ready)",
            r.nodes.len(),
            r.nodes.len() - ready
        )
    };
    let dns = match &c.dns_service {
        Some(d) => format!("DNS {}/{} {}", d.namespace, d.name, d.ip),
        None => "DNS unknown".to_string(),
    };
    let second = vec![
        format!("CNI {}{}", or_unknown(&c.cni), c.provenance("cni")),
        format!(
            "kube-proxy {}{}",
            or_unknown(&c.kube_proxy_mode),
            c.provenance("kubeProxyMode")
        ),
        dns,
        nodes,
    ];
    let mut second = second;
    // IPv4 alone says nothing (as it always did); IPv6 and dual stack say so.
    match grid::families(r).as_slice() {
        [] | [crate::model::Family::Ipv4] => {}
        [one] => second.push(one.label().to_string()),
        _ => second.push("dual stack".to_string()),
    }
    second.push(format!("took {}", duration(r.summary.duration_ms)));
    let mut out = join_fitting(&first, &dot, width);
    out.push_str(&join_fitting(&second, &dot, width));
    if !c.policy_kinds.is_empty() {
        out.push_str(&not_judged_line(c, width));
    }
    if !r.summary.stages_ms.is_empty() {
        // Pipeline order, not alphabetical.
        const ORDER: [&str; 8] = [
            "discover", "deploy", "probe", "confirm", "inspect", "diagnose", "render", "cleanup",
        ];
        let mut stages: Vec<(&String, &u64)> = r.summary.stages_ms.iter().collect();
        stages.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
        let mut s: Vec<String> = stages
            .iter()
            .map(|(k, v)| format!("{k} {}", duration(**v)))
            .collect();
        s[0] = format!("stages: {}", s[0]);
        for line in join_fitting(&s, ", ", width).lines() {
            out.push_str(&th.dim(line));
            out.push('\n');
        }
    }
    out
}

/// The policy kinds netcheck saw and does not evaluate: "policies not
/// judged: CiliumNetworkPolicy (cilium.io/v2) 3 in team-a, …".
fn not_judged_line(c: &crate::model::report::ClusterSummary, width: usize) -> String {
    let parts: Vec<String> = c
        .policy_kinds
        .iter()
        .map(|k| match (&k.error, k.count) {
            (Some(e), _) => format!("{} (not listed: {e})", k.label()),
            (None, Some(n)) if !k.namespaces.is_empty() => {
                format!("{} {n} in {}", k.label(), k.namespaces.join(", "))
            }
            (None, n) => format!("{} {}", k.label(), n.unwrap_or(0)),
        })
        .collect();
    let mut parts = parts;
    parts[0] = format!("policies not judged: {}", parts[0]);
    join_fitting(&parts, ", ", width)
}

/// Visible width of a line (ANSI escapes do not count).
fn visible(s: &str) -> usize {
    strip_ansi(s).chars().count()
}

/// `parts` joined by `sep`, a new line (indented by two spaces) wherever the
/// next part would run past `width`: the header stays whole words at 80
/// columns instead of being cut by the terminal mid-address.
pub fn join_fitting(parts: &[String], sep: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for p in parts {
        if line.is_empty() {
            line.push_str(p);
        } else if visible(&line) + visible(sep) + visible(p) <= width {
            line.push_str(sep);
            line.push_str(p);
        } else {
            // The separator ends the line ("…, diagnose 1ms," / "… 3 nodes ·").
            out.push_str(line.trim_end());
            out.push_str(sep.trim_end());
            out.push('\n');
            line = format!("  {p}");
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Findings, most severe first (the order is stable within a severity).
pub fn sorted_findings(r: &Report) -> Vec<&crate::model::Finding> {
    let mut f: Vec<_> = r.findings.iter().collect();
    f.sort_by_key(|f| std::cmp::Reverse(f.severity));
    f
}

/// Wrap `text` to `width` columns: the first line after `first`, the others after `rest`.
pub(super) fn wrapped(out: &mut String, first: &str, rest: &str, text: &str, width: usize) {
    let avail = width
        .saturating_sub(visible(first).max(visible(rest)))
        .max(30);
    let opts = textwrap::Options::new(avail)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    for (i, line) in textwrap::wrap(text, opts).iter().enumerate() {
        out.push_str(if i == 0 { first } else { rest });
        out.push_str(line);
        out.push('\n');
    }
}

pub fn findings(r: &Report, th: &Theme, width: usize) -> String {
    let list = sorted_findings(r);
    if list.is_empty() {
        return String::new();
    }
    let mut out = th.bold(&format!("Findings ({})", list.len()));
    out.push('\n');
    let pad = "             ";
    for f in list {
        // The title wraps under itself (or under the labels when the ID is long).
        let head = format!(
            "{}  {}  ",
            th.severity_word(f.severity),
            th.bold(f.id.as_str())
        );
        let under = if visible(&head) <= width / 2 {
            " ".repeat(visible(&head))
        } else {
            pad.to_string()
        };
        wrapped(&mut out, &head, &under, &th.text(&f.title), width);
        if !f.nodes.is_empty() {
            wrapped(&mut out, "   nodes     ", pad, &f.nodes.join(", "), width);
        }
        // What the rule concluded, then the fix, then the failed checks it
        // rests on: on an 80×24 terminal the fix must not scroll away behind
        // examples the matrices below show anyway.
        let (checks, mut said): (Vec<&String>, Vec<&String>) =
            f.evidence.iter().partition(|e| is_failed_check(e));
        // `diagnose::cap_evidence`'s "… and N more" counts failed checks left
        // out: it belongs under them, not under what the rule concluded.
        let mut hidden = 0;
        if !checks.is_empty() {
            said.retain(|e| match more_count(e) {
                Some(n) => {
                    hidden += n;
                    false
                }
                None => true,
            });
        }
        let bullet = format!("{} ", th.bullet());
        let bullet_pad = format!("{pad}  ");
        let list = |out: &mut String, label: &str, items: &[&String], max: usize, hidden: usize| {
            for (i, e) in items.iter().take(max).enumerate() {
                let label = if i == 0 {
                    format!("{label}{bullet}")
                } else {
                    format!("{pad}{bullet}")
                };
                wrapped(out, &label, &bullet_pad, &th.text(e), width);
            }
            let more = items.len().saturating_sub(max) + hidden;
            if more > 0 {
                out.push_str(&format!(
                    "{pad}{} {more} more (all of them: -o json)\n",
                    th.ellipsis(),
                ));
            }
        };
        list(&mut out, "   evidence  ", &said, MAX_EVIDENCE, 0);
        for (i, line) in f.remediation.lines().enumerate() {
            let label = if i == 0 { "   fix       " } else { pad };
            wrapped(&mut out, label, pad, &th.text(line), width);
        }
        let room = if said.is_empty() {
            MAX_EVIDENCE
        } else {
            MAX_FAILED_CHECKS
        };
        list(&mut out, "   failed    ", &checks, room, hidden);
        out.push_str(&th.dim(&format!("   more      docs/findings/{}.md", f.id)));
        out.push('\n');
    }
    out
}

/// N of `diagnose::cap_evidence`'s "… and N more".
fn more_count(e: &str) -> Option<usize> {
    e.strip_prefix("… and ")?
        .strip_suffix(" more")?
        .parse()
        .ok()
}

/// An evidence line that is one failed check (`diagnose::describe_check`:
/// "pod-to-pod tcp/7000 a (node-1) → b (node-3): timeout …").
fn is_failed_check(e: &str) -> bool {
    crate::model::CheckKind::ALL.iter().any(|k| {
        e.strip_prefix(k.as_str())
            .is_some_and(|rest| rest.starts_with(' ') && rest.contains(" → "))
    })
}

fn column_header(c: &grid::Column) -> String {
    match &c.sub {
        Some(s) => format!("{}\n{}", c.label, s),
        None => c.label.clone(),
    }
}

fn styled(b: Builder, th: &Theme) -> String {
    let mut t = b.build();
    if th.unicode {
        t.with(Style::rounded());
    } else {
        t.with(Style::psql());
    }
    t.to_string()
}

/// The full matrix of a grid.
pub fn full_matrix(g: &Grid<'_>, th: &Theme) -> String {
    let mut b = Builder::default();
    let corner = format!("source {} target", th.arrow());
    let mut head = vec![corner];
    head.extend(g.cols.iter().map(|c| th.text(&column_header(c))));
    b.push_record(head);
    for (i, r) in g.rows.iter().enumerate() {
        let mut rec = vec![th.bold(r)];
        rec.extend(g.dense_row(i).into_iter().map(|cell| match cell {
            Some(c) => th.cell(g.view, c),
            None => String::new(),
        }));
        b.push_record(rec);
    }
    styled(b, th)
}

fn width_of(table: &str) -> usize {
    table.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// The folded matrix: a line per source node that has failures, one line for
/// all the healthy ones (a dozen identical "all ok" rows hide the one that
/// matters), then the failing pairs with the first failure's detail.
pub fn folded_matrix(g: &Grid<'_>, th: &Theme, width: usize) -> String {
    let mut b = Builder::default();
    b.push_record(["source", "targets ok"].map(String::from));
    let mut bad_rows = 0;
    let mut good_rows = 0;
    let mut lat: Vec<f64> = Vec::new();
    let mut mtu: Vec<u16> = Vec::new();
    for (r, row) in g.rows.iter().zip(&g.cells) {
        let cells: Vec<_> = row.iter().map(|(_, c)| c).collect();
        let ok = cells.iter().filter(|c| !c.state().is_failure()).count();
        if ok == cells.len() {
            good_rows += 1;
            lat.extend(cells.iter().filter_map(|c| c.median_latency()));
            mtu.extend(cells.iter().filter_map(|c| c.path_mtu().0));
            continue;
        }
        bad_rows += 1;
        b.push_record([
            th.bold(r),
            th.paint(
                &format!("{} {}/{}", th.symbol(CellState::Fail), ok, cells.len()),
                Theme::state_color(CellState::Fail),
                true,
            ),
        ]);
    }
    let mut out = String::new();
    if bad_rows > 0 {
        out.push_str(&styled(b, th));
        out.push('\n');
    }
    if good_rows > 0 {
        let who = if bad_rows == 0 {
            format!("all {good_rows} source nodes")
        } else if good_rows == 1 {
            "the other source node".to_string()
        } else {
            format!("the other {good_rows} source nodes")
        };
        let how = match (g.view, grid::median(&mut lat), mtu.iter().min()) {
            (grid::View::Mtu, _, Some(m)) => format!(" (smallest path MTU {m})"),
            (_, Some(l), _) => format!(" (median {})", super::theme::latency(l)),
            _ => String::new(),
        };
        out.push_str(&th.paint(
            &format!("{} {who}: every target ok{how}", th.symbol(CellState::Pass)),
            Theme::state_color(CellState::Pass),
            false,
        ));
        out.push('\n');
    }
    let failing = g.failing();
    if !failing.is_empty() {
        out.push_str(&format!("failing pairs ({}):\n", failing.len()));
        for (r, c, cell) in failing.iter().take(MAX_FAILING_PAIRS) {
            let col = &g.cols[*c];
            let target = match &col.sub {
                Some(s) => format!("{} ({s})", col.label),
                None => col.label.clone(),
            };
            let detail = cell
                .checks
                .iter()
                .find(|c| grid::state_of(c.status) == cell.state())
                .map(|c| c.detail.as_str())
                .unwrap_or("");
            let pair = format!(
                "  {} {} {}  {}",
                g.rows[*r],
                th.arrow(),
                target,
                th.cell(g.view, cell)
            );
            // The detail is cut at the width: the pair and its state matter most.
            let room = width.saturating_sub(visible(&pair) + 2);
            // "✗ timeout  no answer within 2000 ms", not "✗ timeout  timeout: no answer …".
            let said = strip_ansi(&th.cell(g.view, cell));
            // The reason is the last word before the flaky marker, if any.
            let said = said.trim_end_matches(th.flaky()).trim_end();
            let said = said.rsplit(' ').next().unwrap_or_default();
            let detail = detail
                .strip_prefix(said)
                .and_then(|d| d.strip_prefix(": "))
                .unwrap_or(detail);
            let detail = th.text(detail);
            let detail = if detail.is_empty() || room < 12 {
                String::new()
            } else if detail.chars().count() <= room {
                format!("  {}", th.dim(&detail))
            } else {
                let cut: String = detail.chars().take(room - th.ellipsis().len()).collect();
                format!(
                    "  {}",
                    th.dim(&format!("{}{}", cut.trim_end(), th.ellipsis()))
                )
            };
            out.push_str(&format!("{pair}{detail}\n"));
        }
        if failing.len() > MAX_FAILING_PAIRS {
            out.push_str(&format!(
                "  {} {} more (all of them: -o json)\n",
                th.ellipsis(),
                failing.len() - MAX_FAILING_PAIRS
            ));
        }
    }
    out
}

/// Past this many rows a matrix is folded too (unless `--wide`): a few
/// columns with a row per node (DNS) are thousands of lines on a large cluster.
pub const MAX_FULL_ROWS: usize = 100;

/// A titled matrix, full or folded to the width.
pub fn grid_section(g: &Grid<'_>, th: &Theme, opts: &RenderOptions) -> String {
    // Each column takes at least 4 characters: wider grids are folded
    // without drawing the full matrix first (at 5,000 nodes it would be
    // millions of cells).
    let tall = g.rows.len() > MAX_FULL_ROWS;
    let narrow = (g.cols.len() + 1) * 4 <= opts.width;
    let full = (opts.wide || (narrow && !tall)).then(|| full_matrix(g, th));
    let fits = full
        .as_ref()
        .is_some_and(|f| width_of(&strip_ansi(f)) <= opts.width);
    let (body, note) = if let Some(full) = full.filter(|_| fits || opts.wide) {
        (full, String::new())
    } else if tall && narrow {
        (
            folded_matrix(g, th, opts.width),
            format!(" (folded: {} rows; --wide shows all)", g.rows.len()),
        )
    } else {
        (
            folded_matrix(g, th, opts.width),
            format!(
                " (folded to {} columns; --wide shows all {})",
                opts.width,
                g.cols.len()
            ),
        )
    };
    let failing = g.failing().len();
    let total = g.all_cells().count();
    // Cells that are all expected blocks or all skipped are not "ok": say so.
    let count = |s: CellState| g.all_cells().filter(|c| c.state() == s).count();
    let (blocked, skipped) = (count(CellState::ExpectedBlock), count(CellState::Skipped));
    let ok = total - blocked - skipped;
    let mut aside = String::new();
    if blocked > 0 {
        aside.push_str(&format!(
            " · {} {blocked} blocked by policy",
            th.symbol(CellState::ExpectedBlock)
        ));
    }
    if skipped > 0 {
        aside.push_str(&format!(" · {skipped} skipped"));
    }
    let flaky = g.all_cells().filter(|c| c.has_recovered()).count();
    if flaky > 0 {
        aside.push_str(&format!(" · {flaky} {} flaky", th.flaky()));
    }
    let aside = th.text(&aside);
    let verdict = match (failing, th.unicode) {
        (0, true) => th.paint(
            &format!("{} {ok} ok{aside}", th.symbol(CellState::Pass)),
            Theme::state_color(CellState::Pass),
            false,
        ),
        (0, false) => format!("({ok} ok{aside})"),
        (n, true) => th.paint(
            &format!("{} {n} of {total} failing", th.symbol(CellState::Fail)),
            Theme::state_color(CellState::Fail),
            true,
        ),
        (n, false) => th.paint(
            &format!("({n} of {total} FAILING)"),
            Theme::state_color(CellState::Fail),
            true,
        ),
    };
    let about = match &g.node_suffix {
        Some(sfx) => format!("{}; node names end in {sfx}", g.about),
        None => g.about.clone(),
    };
    let mut out = format!("{}  {}{}\n", th.bold(&th.text(&g.title)), verdict, note);
    let mut about_lines = String::new();
    wrapped(&mut about_lines, "", "", &th.text(&about), opts.width);
    for line in about_lines.lines() {
        out.push_str(&th.dim(line));
        out.push('\n');
    }
    out.push_str(body.trim_end());
    out.push('\n');
    out
}

/// Remove ANSI escape sequences (for measuring).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ ... final byte in @..~
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The root causes again, one line each, just above the summary: a report
/// longer than the terminal leaves its end on screen, and the end must say why.
pub fn recap(r: &Report, th: &Theme, width: usize) -> String {
    let important: Vec<_> = sorted_findings(r)
        .into_iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    if important.is_empty() {
        return String::new();
    }
    let mut out = th.bold("Root cause (details under Findings at the top):");
    out.push('\n');
    for f in important.iter().take(5) {
        let head = format!("  {}  ", th.severity_word(f.severity));
        let line = format!("{}  {}", f.id, f.title);
        // ASCII spells the ellipsis in three characters.
        let room = width.saturating_sub(visible(&head)).max(30) - if th.unicode { 0 } else { 2 };
        let line = th.text(&super::grid::truncate(&line, room));
        out.push_str(&format!("{head}{line}\n"));
    }
    if important.len() > 5 {
        out.push_str(&format!(
            "  {} {} more\n",
            th.ellipsis(),
            important.len() - 5
        ));
    }
    out
}

/// The one line that says it all: `✗ 42 passed, 6 failed … in 3.2s`.
pub fn summary_line(r: &Report, th: &Theme, width: usize) -> String {
    let s = &r.summary;
    let failing = r.checks.iter().any(|c| c.status.is_failure()) || s.errors > 0;
    let mut extra = Vec::new();
    if s.expected_blocks > 0 {
        extra.push(format!(
            "{} blocked by policy as intended",
            s.expected_blocks
        ));
    }
    if s.skipped > 0 {
        extra.push(format!("{} skipped", s.skipped));
    }
    if s.recovered > 0 {
        extra.push(format!("{} flaky (passed on the second try)", s.recovered));
    }
    // With aggregation, passes counted per cell are checks too.
    let total = r.checks.len() + s.checks_omitted;
    let mut line = if !failing {
        let mut l = if total == 0 {
            format!("{} no checks ran", th.symbol(CellState::Pass))
        } else if s.passed == total {
            format!("{} all {total} checks passed", th.symbol(CellState::Pass))
        } else {
            format!(
                "{} {} of {total} checks passed",
                th.symbol(CellState::Pass),
                s.passed
            )
        };
        if !extra.is_empty() {
            l.push_str(&format!(", {}", extra.join(", ")));
        }
        l
    } else {
        let failed = if s.confirmed > 0 {
            // "confirmed": failed again when probed a second time.
            format!("{} failed ({} confirmed)", s.failed, s.confirmed)
        } else {
            format!("{} failed", s.failed)
        };
        let mut parts = vec![format!("{} passed", s.passed), failed];
        if s.unexpected_allows > 0 {
            parts.push(format!(
                "{} allowed although policy denies",
                s.unexpected_allows
            ));
        }
        parts.extend(extra);
        format!("{} {}", th.symbol(CellState::Fail), parts.join(", "))
    };
    line.push_str(&format!(" in {}", duration(s.duration_ms)));
    let important: Vec<_> = sorted_findings(r)
        .into_iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    if !important.is_empty() {
        let what = match (s.errors, s.warnings) {
            (0, w) => plural(w, "warning"),
            (e, 0) => plural(e, "error"),
            (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
        };
        let ids = |with_nodes: bool| -> String {
            important
                .iter()
                .map(|f| {
                    if f.nodes.is_empty() || !with_nodes {
                        f.id.to_string()
                    } else {
                        format!("{} ({})", f.id, f.nodes.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        // The longest form that fits on one line of the terminal.
        let candidates = [
            format!(
                "{line} {} {what}: {} (see Findings above)",
                th.dot(),
                ids(true)
            ),
            format!("{line} {} {what}: {}", th.dot(), ids(true)),
            format!("{line} {} {what}: {}", th.dot(), ids(false)),
        ];
        // None fits: the findings go on a second line, indented.
        let two_lines = format!("{line}\n  {what}: {}", ids(true));
        line = candidates
            .into_iter()
            .find(|c| c.chars().count() <= width)
            .unwrap_or(two_lines);
    }
    let color = if failing {
        CellState::Fail
    } else {
        CellState::Pass
    };
    th.paint(&line, Theme::state_color(color), true)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_fitting_breaks_between_parts_and_keeps_the_separator() {
        let parts: Vec<String> = ["CNI flannel", "kube-proxy iptables", "3 nodes"]
            .map(String::from)
            .into();
        assert_eq!(
            join_fitting(&parts, " · ", 80),
            "CNI flannel · kube-proxy iptables · 3 nodes\n"
        );
        assert_eq!(
            join_fitting(&parts, " · ", 35),
            "CNI flannel · kube-proxy iptables ·\n  3 nodes\n"
        );
        // A part longer than the width stands alone rather than being cut.
        assert_eq!(
            join_fitting(&parts, ", ", 5),
            "CNI flannel,\n  kube-proxy iptables,\n  3 nodes\n"
        );
        // Colour does not count towards the width.
        let red = vec!["\x1b[31mabc\x1b[0m".to_string(), "def".to_string()];
        assert_eq!(join_fitting(&red, " ", 7), "\x1b[31mabc\x1b[0m def\n");
    }

    #[test]
    fn the_header_names_the_policy_kinds_not_judged_and_why_one_was_not_listed() {
        use crate::model::report::PolicyKind;
        let mut r = crate::model::Report {
            api_version: crate::model::report::API_VERSION.into(),
            kind: "Report".into(),
            cluster: Default::default(),
            nodes: Vec::new(),
            checks: Vec::new(),
            cells: Vec::new(),
            hosts: Vec::new(),
            findings: Vec::new(),
            summary: Default::default(),
        };
        let plain = header(&r, &Theme::plain(), 200);
        assert!(!plain.contains("not judged"), "{plain}");
        r.cluster.kube_proxy_mode = "replaced by cilium".into();
        r.cluster.policy_kinds = vec![
            PolicyKind {
                kind: "CiliumNetworkPolicy".into(),
                api_version: "cilium.io/v2".into(),
                count: Some(2),
                namespaces: vec!["team-a".into(), "team-b".into()],
                ..Default::default()
            },
            PolicyKind {
                kind: "GlobalNetworkPolicy".into(),
                api_version: "crd.projectcalico.org/v1".into(),
                cluster_wide: true,
                error: Some("forbidden".into()),
                ..Default::default()
            },
        ];
        let h = header(&r, &Theme::plain(), 200);
        assert!(h.contains("kube-proxy replaced by cilium"), "{h}");
        assert!(
            h.contains("policies not judged: CiliumNetworkPolicy (cilium.io/v2) 2 in team-a, team-b, GlobalNetworkPolicy (crd.projectcalico.org/v1) (not listed: forbidden)"),
            "{h}"
        );
    }

    #[test]
    fn failed_checks_are_told_from_evidence_in_words() {
        assert!(is_failed_check(
            "pod-to-pod tcp/7000 probe-1a (node-1) → probe-3a (node-3): timeout"
        ));
        assert!(is_failed_check(
            "dns dns/53 probe-1a (node-1) → kubernetes.default.svc.cluster.local: timeout"
        ));
        assert!(!is_failed_check(
            "node-1 → node-3: largest packet that crossed 1354 bytes"
        ));
        assert!(!is_failed_check(
            "dns answers slowly: median 344 ms on node-3"
        ));
        assert!(!is_failed_check("mtu of the pods is 1450"));
    }
}
