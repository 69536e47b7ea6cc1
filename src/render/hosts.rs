//! The per-node host view: readiness and addresses from `report.nodes`, and
//! what host inspection found (`report.hosts[].overview`): kube-proxy's rules,
//! the iptables backend, the MTUs, the CNI config the runtime uses, the
//! overlay, and the values a finding flagged.
//!
//! The table keeps the short per-node values; the long ones (CNI, overlay)
//! follow it grouped by value, so a node that differs stands out, and every
//! flagged value gets its own line.

use super::theme::Theme;
use crate::model::Report;
use crate::model::host::HostReport;
use tabled::builder::Builder;
use tabled::settings::peaker::Priority;
use tabled::settings::{Style, Width};

/// Below this many columns the host view is a list, not a table.
const WRAP_CELLS_FROM: usize = 100;

/// Header and rows of the host view, as plain text cells (every column,
/// for formats without a width: markdown).
pub fn rows(r: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let head = [
        "node",
        "ready",
        "internal IP",
        "pod CIDR",
        "iptables",
        "kube-proxy",
        "MTUs",
        "CNI",
        "overlay",
        "host inspection",
    ]
    .map(String::from)
    .to_vec();
    let rows = node_names(r)
        .iter()
        .map(|name| {
            let host = r.hosts.iter().find(|h| &h.node == name);
            let mut row = short_cells(r, name);
            let inspection = row.pop().unwrap_or_default();
            let o = host.map(|h| &h.overview);
            row.push(o.and_then(|o| o.cni.clone()).unwrap_or_else(|| "-".into()));
            row.push(
                o.and_then(|o| o.overlay.clone())
                    .unwrap_or_else(|| "-".into()),
            );
            row.push(match host {
                Some(h) if !h.overview.flagged.is_empty() => h.overview.flagged.join("; "),
                _ => inspection,
            });
            row
        })
        .collect();
    without_empty_columns(head, rows)
}

/// Drop the columns no node has a value for (`-` everywhere: a report
/// without host inspection shows only what the deployment knows).
fn without_empty_columns(
    head: Vec<String>,
    rows: Vec<Vec<String>>,
) -> (Vec<String>, Vec<Vec<String>>) {
    let keep: Vec<bool> = (0..head.len())
        .map(|i| i == 0 || rows.iter().any(|r| r.get(i).is_some_and(|c| c != "-")))
        .collect();
    let pick = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .zip(&keep)
            .filter_map(|(c, k)| k.then_some(c))
            .collect()
    };
    (pick(head), rows.into_iter().map(pick).collect())
}

/// Nodes from the deployment, then any host report of a node not in it.
fn node_names(r: &Report) -> Vec<String> {
    let mut names: Vec<String> = r.nodes.iter().map(|n| n.name.clone()).collect();
    for h in &r.hosts {
        if !names.contains(&h.node) {
            names.push(h.node.clone());
        }
    }
    names
}

fn join(v: Vec<String>) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

/// The table's cells for one node: node, ready, internal IP, pod CIDR,
/// iptables backend, kube-proxy, MTUs, inspection status.
fn short_cells(r: &Report, name: &str) -> Vec<String> {
    let node = r.nodes.iter().find(|n| n.name == name);
    let host = r.hosts.iter().find(|h| h.node == name);
    let ready = match node {
        Some(n) if n.ready => "yes".to_string(),
        Some(n) => match &n.reason {
            Some(why) => format!("no: {why}"),
            None => "no".to_string(),
        },
        None => "?".to_string(),
    };
    let o = host.map(|h| &h.overview);
    let kube_proxy = match o.and_then(|o| o.kube_proxy_rules) {
        Some(true) if r.cluster.kube_proxy_mode.is_empty() => "rules".to_string(),
        Some(true) => r.cluster.kube_proxy_mode.clone(),
        Some(false) => "no rules".to_string(),
        None => "-".to_string(),
    };
    let mtus = o.map_or_else(Vec::new, |o| {
        o.mtus
            .iter()
            .map(|(dev, mtu)| format!("{dev} {mtu}"))
            .collect()
    });
    vec![
        name.to_string(),
        ready,
        join(node.map_or_else(Vec::new, |n| {
            n.internal_ips.iter().map(|i| i.to_string()).collect()
        })),
        join(node.map_or_else(Vec::new, |n| {
            n.pod_cidrs.iter().map(|i| i.to_string()).collect()
        })),
        o.and_then(|o| o.iptables_backend.clone())
            .unwrap_or_else(|| "-".into()),
        kube_proxy,
        join(mtus),
        inspection(host),
    ]
}

fn inspection(h: Option<&HostReport>) -> String {
    match h {
        None => "not inspected".into(),
        Some(h) if !h.unavailable.is_empty() => {
            format!("unavailable: {}", h.unavailable.join("; "))
        }
        Some(h) if !h.overview.flagged.is_empty() => {
            format!("{} flagged", h.overview.flagged.len())
        }
        Some(_) => "ok".into(),
    }
}

/// `value: node-1, node-2` lines for one overview field, grouped by value in
/// order of first appearance ("every node" when all agree).
fn grouped(r: &Report, pick: impl Fn(&HostReport) -> Option<&String>) -> Vec<String> {
    let mut groups: Vec<(&String, Vec<&str>)> = Vec::new();
    for h in &r.hosts {
        let Some(v) = pick(h) else { continue };
        match groups.iter_mut().find(|(g, _)| *g == v) {
            Some((_, nodes)) => nodes.push(&h.node),
            None => groups.push((v, vec![&h.node])),
        }
    }
    let all = r.hosts.len();
    groups
        .into_iter()
        .map(|(v, nodes)| {
            if nodes.len() == all && all > 1 {
                format!("{v} (every node)")
            } else {
                format!("{v} ({})", nodes.join(", "))
            }
        })
        .collect()
}

/// One wrapped line per node: `node-1  ready yes · iptables nft · MTUs …`.
fn list_form(head: &[String], rows: &[Vec<String>], th: &Theme, width: usize) -> String {
    let name_w = rows
        .iter()
        .filter_map(|r| r.first())
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for row in rows {
        let Some(node) = row.first() else { continue };
        let items: Vec<String> = head
            .iter()
            .zip(row)
            .skip(1)
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| format!("{h} {v}"))
            .collect();
        let first = format!(
            "  {}{}  ",
            th.bold(node),
            " ".repeat(name_w - node.chars().count())
        );
        let rest = " ".repeat(name_w + 4);
        super::table::wrapped(&mut out, &first, &rest, &th.text(&items.join(" · ")), width);
    }
    out
}

/// The host view for the terminal, at most `width` columns wide ("" when
/// there are no nodes).
pub fn table(r: &Report, th: &Theme, width: usize) -> String {
    let names = node_names(r);
    if names.is_empty() {
        return String::new();
    }
    let head = [
        "node",
        "ready",
        "internal IP",
        "pod CIDR",
        "iptables",
        "kube-proxy",
        "MTUs",
        "host inspection",
    ]
    .map(String::from)
    .to_vec();
    let (head, rows) =
        without_empty_columns(head, names.iter().map(|n| short_cells(r, n)).collect());
    let list = list_form(&head, &rows, th, width);
    let mut b = Builder::default();
    b.push_record(head);
    for mut row in rows {
        if let Some(first) = row.first_mut() {
            *first = th.bold(first);
        }
        b.push_record(row.into_iter().map(|c| th.text(&c)));
    }
    let mut t = b.build();
    if th.unicode {
        t.with(Style::rounded());
    } else {
        t.with(Style::psql());
    }
    // A little too wide: wrap inside the cells (the MTUs take two lines).
    // Much too narrow: cells would break mid-word, so a wrapped line per
    // node reads better.
    let body = if width == 0 || t.total_width() <= width {
        format!("{t}\n")
    } else if width >= WRAP_CELLS_FROM {
        t.with(
            Width::wrap(width)
                .keep_words(true)
                .priority(Priority::max(true)),
        );
        format!("{t}\n")
    } else {
        list
    };
    let mut out = format!("{}\n{}", th.bold("Hosts"), body);
    let mut section = |label: &str, lines: Vec<String>| {
        for (i, line) in lines.iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            let first = format!("  {label:<10}");
            if width == 0 {
                out.push_str(&format!("{first}{}\n", th.text(line)));
            } else {
                super::table::wrapped(&mut out, &first, &" ".repeat(12), &th.text(line), width);
            }
        }
    };
    section("CNI", grouped(r, |h| h.overview.cni.as_ref()));
    section("overlay", grouped(r, |h| h.overview.overlay.as_ref()));
    let flagged: Vec<String> = r
        .hosts
        .iter()
        .flat_map(|h| {
            h.overview
                .flagged
                .iter()
                .map(move |f| format!("{}: {f}", h.node))
        })
        .collect();
    let mark = if th.unicode { "✗ flagged" } else { "flagged" };
    for (i, line) in flagged.iter().enumerate() {
        let label = if i == 0 { mark } else { "" };
        out.push_str(&format!(
            "  {}{}\n",
            th.paint(&format!("{label:<10}"), Some(colored::Color::Red), true),
            th.text(line)
        ));
    }
    out
}
