//! The per-node host view: readiness and addresses from `report.nodes`, and
//! what host inspection found (`report.hosts`).

use super::theme::Theme;
use crate::model::Report;
use crate::model::host::HostReport;
use tabled::builder::Builder;
use tabled::settings::Style;

/// Header and rows of the host view, as plain text cells.
pub fn rows(r: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let head = [
        "node",
        "ready",
        "internal IP",
        "pod CIDR",
        "host inspection",
    ]
    .map(String::from)
    .to_vec();
    let mut names: Vec<String> = r.nodes.iter().map(|n| n.name.clone()).collect();
    for h in &r.hosts {
        if !names.contains(&h.node) {
            names.push(h.node.clone());
        }
    }
    let rows = names
        .iter()
        .map(|name| {
            let node = r.nodes.iter().find(|n| &n.name == name);
            let host = r.hosts.iter().find(|h| &h.node == name);
            let ready = match node {
                Some(n) if n.ready => "yes".to_string(),
                Some(n) => match &n.reason {
                    Some(why) => format!("no: {why}"),
                    None => "no".to_string(),
                },
                None => "?".to_string(),
            };
            let join = |v: Vec<String>| {
                if v.is_empty() {
                    "-".into()
                } else {
                    v.join(", ")
                }
            };
            vec![
                name.clone(),
                ready,
                join(node.map_or_else(Vec::new, |n| {
                    n.internal_ips.iter().map(|i| i.to_string()).collect()
                })),
                join(node.map_or_else(Vec::new, |n| {
                    n.pod_cidrs.iter().map(|i| i.to_string()).collect()
                })),
                inspection(host),
            ]
        })
        .collect();
    (head, rows)
}

fn inspection(h: Option<&HostReport>) -> String {
    match h {
        None => "not inspected".into(),
        Some(h) if h.unavailable.is_empty() => "ok".into(),
        Some(h) => format!("unavailable: {}", h.unavailable.join("; ")),
    }
}

/// The host view for the terminal ("" when there are no nodes).
pub fn table(r: &Report, th: &Theme) -> String {
    let (head, rows) = rows(r);
    if rows.is_empty() {
        return String::new();
    }
    let mut b = Builder::default();
    b.push_record(head);
    for row in rows {
        let mut row = row;
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
    format!("{}\n{}\n", th.bold("Hosts"), t)
}
