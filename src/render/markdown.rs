//! `-o markdown`: for a pull-request comment or a runbook. GitHub-flavoured:
//! headings, a summary table, findings with their evidence as lists, each
//! matrix as a table (long views folded into `<details>`).

use super::grid::{self, Grid};
use super::hosts;
use super::table::sorted_findings;
use super::theme::{Theme, duration};
use crate::model::{Report, Severity};
use std::fmt::Write;

/// Escape what breaks a table cell or inline text.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>")
}

fn code(s: &str) -> String {
    // Inline code cannot escape backticks; use a double fence when needed.
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

pub fn render(r: &Report) -> String {
    let th = Theme::plain();
    let mut o = String::new();
    let s = &r.summary;
    let failing = r.checks.iter().any(|c| c.status.is_failure()) || s.errors > 0;
    let verdict = if failing {
        format!(
            "✗ {} of {} checks failed",
            r.checks.iter().filter(|c| c.status.is_failure()).count(),
            r.checks.len() + s.checks_omitted
        )
    } else {
        format!("✓ all {} checks passed", s.passed)
    };
    let name = if r.cluster.name.is_empty() {
        "cluster".to_string()
    } else {
        r.cluster.name.clone()
    };
    let _ = writeln!(o, "## kubectl netcheck: {} — {verdict}\n", esc(&name));

    let dns = r
        .cluster
        .dns_service
        .as_ref()
        .map(|d| format!("{}/{} {}", d.namespace, d.name, d.ip))
        .unwrap_or_else(|| "unknown".into());
    let ready = r.nodes.iter().filter(|n| n.ready).count();
    let _ = writeln!(o, "| | |\n|---|---|");
    for (k, v) in [
        ("Cluster", r.cluster.name.clone()),
        ("API server", r.cluster.server.clone()),
        ("Kubernetes", r.cluster.version.clone()),
        (
            "CNI",
            format!("{}{}", r.cluster.cni, r.cluster.provenance("cni")),
        ),
        (
            "kube-proxy",
            format!(
                "{}{}",
                r.cluster.kube_proxy_mode,
                r.cluster.provenance("kubeProxyMode")
            ),
        ),
        ("DNS", dns),
        ("Nodes", format!("{} ({ready} ready)", r.nodes.len())),
        ("Duration", duration(s.duration_ms)),
        (
            "Policies not judged",
            r.cluster
                .policy_kinds
                .iter()
                .map(|k| k.label())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ] {
        if !v.is_empty() {
            let _ = writeln!(o, "| {k} | {} |", esc(&v));
        }
    }
    let _ = writeln!(
        o,
        "\n| passed | failed | blocked as intended | allowed although denied | skipped | error findings | warnings |\n|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} | {} |\n",
        s.passed, s.failed, s.expected_blocks, s.unexpected_allows, s.skipped, s.errors, s.warnings
    );

    let findings = sorted_findings(r);
    if !findings.is_empty() {
        let _ = writeln!(o, "### Findings\n");
        for f in findings {
            let sev = match f.severity {
                Severity::Error => "✗ error",
                Severity::Warning => "▲ warning",
                Severity::Info => "ℹ info",
            };
            let _ = writeln!(
                o,
                "#### {sev}: {} — {}\n",
                code(f.id.as_str()),
                esc(&f.title)
            );
            if !f.nodes.is_empty() {
                let _ = writeln!(o, "- **Nodes:** {}", esc(&f.nodes.join(", ")));
            }
            if !f.evidence.is_empty() {
                let _ = writeln!(o, "- **Evidence:**");
                for e in &f.evidence {
                    let _ = writeln!(o, "  - {}", code(e));
                }
            }
            if !f.remediation.is_empty() {
                let _ = writeln!(o, "- **Fix:** {}", esc(&f.remediation));
            }
            let _ = writeln!(o, "- **More:** docs/findings/{}.md\n", f.id);
        }
    }

    let grids = grid::grids(r);
    for g in &grids {
        o.push_str(&grid_md(g, &th));
    }
    if !grids.is_empty() {
        let flaky = r.checks.iter().any(|c| c.recovered());
        let _ = writeln!(o, "_{}_\n", esc(&th.legend(flaky)));
    }

    let (head, rows) = hosts::rows(r);
    if !rows.is_empty() {
        let _ = writeln!(o, "<details><summary>Hosts</summary>\n");
        let _ = writeln!(o, "| {} |", head.join(" | "));
        let _ = writeln!(o, "|{}", "---|".repeat(head.len()));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| esc(c)).collect();
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(o, "\n</details>\n");
    }
    o
}

fn grid_md(g: &Grid<'_>, th: &Theme) -> String {
    let mut o = String::new();
    let failing = g.failing().len();
    let total = g.all_cells().count();
    let verdict = if failing == 0 {
        format!("✓ {total} ok")
    } else {
        format!("✗ {failing} of {total} failing")
    };
    let _ = writeln!(o, "### {} ({verdict})\n", esc(&g.title));
    let _ = writeln!(o, "_{}_\n", esc(&g.about));
    // Healthy matrices fold away; failing ones stay open.
    let fold = failing == 0;
    if fold {
        let _ = writeln!(o, "<details><summary>matrix</summary>\n");
    }
    let mut head = vec!["source → target".to_string()];
    head.extend(g.cols.iter().map(|c| match &c.sub {
        Some(s) => format!("{}<br>{}", esc(&c.label), esc(s)),
        None => esc(&c.label),
    }));
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(o, "|---|{}", ":---:|".repeat(g.cols.len()));
    for (i, r) in g.rows.iter().enumerate() {
        let mut rec = vec![format!("**{}**", esc(r))];
        rec.extend(g.dense_row(i).into_iter().map(|c| match c {
            Some(c) => esc(&th.cell_text(g.view, c)),
            None => String::new(),
        }));
        let _ = writeln!(o, "| {} |", rec.join(" | "));
    }
    if fold {
        let _ = writeln!(o, "\n</details>");
    }
    o.push('\n');
    o
}
