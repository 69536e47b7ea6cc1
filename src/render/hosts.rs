//! The per-node host view: readiness and addresses from `report.nodes`, and
//! what host inspection found (`report.hosts[].overview`): kube-proxy's rules,
//! the iptables backend, the MTUs, the CNI config the runtime uses, the
//! overlay, and the values a finding flagged.
//!
//! The table keeps the short per-node values; the long ones (CNI, overlay)
//! follow it grouped by value, so a node that differs stands out, and every
//! flagged value gets its own line.

use super::host_fold as fold;
use super::theme::Theme;
use crate::model::Report;
use crate::model::host::HostReport;
use tabled::builder::Builder;
use tabled::settings::Style;

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
                Some(_) => inspection_long(host),
                None => inspection,
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

/// The parts of a host report that were read (each a section with data).
fn parts_read(h: &HostReport) -> Vec<&'static str> {
    let fw = h.firewall.as_ref();
    let cni = h.cni.as_ref();
    [
        (
            "CNI config",
            cni.is_some_and(|c| c.conf_dir_error.is_none()),
        ),
        (
            "CNI plugins",
            cni.is_some_and(|c| c.bin_dir_error.is_none()),
        ),
        (
            "iptables",
            fw.is_some_and(|f| f.iptables.iter().any(|b| b.error.is_none())),
        ),
        (
            "nftables",
            fw.and_then(|f| f.nftables.as_ref())
                .is_some_and(|n| n.error.is_none()),
        ),
        ("sysctls", h.sysctls.is_some()),
        ("conntrack", h.conntrack.is_some()),
        ("interfaces", !h.interfaces.is_empty()),
        ("routes", !h.routes.is_empty()),
    ]
    .into_iter()
    .filter_map(|(part, read)| read.then_some(part))
    .collect()
}

/// The parts that could not be read: the label before the reason in each
/// `unavailable` entry (`cni binaries`, `iptables (legacy backend)`).
fn parts_not_read(h: &HostReport) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for u in &h.unavailable {
        let part = u.split_once(": ").map_or(u.as_str(), |(p, _)| p);
        if !out.contains(&part) {
            out.push(part);
        }
    }
    out
}

/// The table cell: `ok`, `2 flagged`, `partial: not read: cni binaries`
/// (the reasons follow the table), `unavailable` when nothing was read.
fn inspection(h: Option<&HostReport>) -> String {
    let Some(h) = h else {
        return "not inspected".into();
    };
    let flagged =
        (!h.overview.flagged.is_empty()).then(|| format!("{} flagged", h.overview.flagged.len()));
    let status = if h.unavailable.is_empty() {
        flagged.clone().unwrap_or_else(|| "ok".into())
    } else if parts_read(h).is_empty() {
        "unavailable".into()
    } else {
        format!("partial: not read: {}", parts_not_read(h).join(", "))
    };
    match flagged {
        Some(f) if !h.unavailable.is_empty() => format!("{status}; {f}"),
        _ => status,
    }
}

/// The markdown cell: the flagged values, then what was not read and why.
fn inspection_long(h: Option<&HostReport>) -> String {
    let Some(h) = h else {
        return "not inspected".into();
    };
    let mut parts: Vec<String> = h.overview.flagged.clone();
    if !h.unavailable.is_empty() {
        let read = parts_read(h);
        if read.is_empty() {
            parts.push(format!("unavailable: {}", h.unavailable.join("; ")));
        } else {
            parts.push(format!(
                "partial: read {}; not read: {}",
                read.join(", "),
                h.unavailable.join("; ")
            ));
        }
    }
    if parts.is_empty() {
        "ok".into()
    } else {
        parts.join("; ")
    }
}

/// `value: node-1, node-2` lines for one overview field, grouped by value in
/// order of first appearance ("every node" when all agree).
fn grouped(r: &Report, fold: bool, pick: impl Fn(&HostReport) -> Option<&String>) -> Vec<String> {
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
            } else if fold {
                format!("{v} ({})", fold::names(&nodes))
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

/// Column widths that fit the table in `width` columns by wrapping inside
/// cells without breaking a word (an address, a CIDR, an interface name):
/// the columns with the most room above their longest word give first.
/// None when even that does not fit; `natural` when no cell needs to wrap.
fn widths_keeping_words(
    head: &[String],
    rows: &[Vec<String>],
    width: usize,
) -> Option<(Vec<usize>, bool)> {
    let cells =
        |i: usize| std::iter::once(&head[i]).chain(rows.iter().filter_map(move |r| r.get(i)));
    let longest_word = |c: &str| {
        c.split_whitespace()
            .map(textwrap::core::display_width)
            .max()
            .unwrap_or(0)
    };
    let natural: Vec<usize> = (0..head.len())
        .map(|i| {
            cells(i)
                .map(|c| textwrap::core::display_width(c))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let floor: Vec<usize> = (0..head.len())
        .map(|i| cells(i).map(|c| longest_word(c)).max().unwrap_or(0))
        .collect();
    // "│ cell " per column, and the closing "│".
    let total = |w: &[usize]| w.iter().map(|w| w + 3).sum::<usize>() + 1;
    if total(&natural) <= width {
        return Some((natural, true));
    }
    if total(&floor) > width {
        return None;
    }
    let mut w = natural;
    while total(&w) > width {
        let (i, _) = w
            .iter()
            .zip(&floor)
            .enumerate()
            .max_by_key(|(_, (w, f))| **w - **f)?;
        w[i] -= 1;
    }
    Some((w, false))
}

/// The table itself, node names in bold.
fn boxed(head: Vec<String>, rows: Vec<Vec<String>>, th: &Theme) -> String {
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
    format!("{t}\n")
}

/// The host view for the terminal, at most `width` columns wide ("" when
/// there are no nodes). Past [`super::table::MAX_FULL_ROWS`] nodes, unless
/// `wide`, folded ([`super::host_fold`]).
pub fn table(r: &Report, th: &Theme, width: usize, wide: bool) -> String {
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
    let fold = !wide && rows.len() > super::table::MAX_FULL_ROWS;
    let (rows, folded) = if fold {
        fold::fold_rows(&head, rows, super::table::MAX_FULL_ROWS)
    } else {
        (rows, None)
    };
    // Too wide: wrap inside the cells (the MTUs take two lines) as long as
    // no word has to break; narrower, cells would break mid-word
    // ("198.18.0.0/2" over "4"), so a wrapped line per node reads better.
    let body = match widths_keeping_words(&head, &rows, width) {
        _ if rows.is_empty() => String::new(),
        _ if width == 0 => boxed(head, rows, th),
        Some((_, true)) => boxed(head, rows, th),
        Some((widths, false)) if width >= WRAP_CELLS_FROM => {
            let wrap = |row: Vec<String>| -> Vec<String> {
                row.iter()
                    .zip(&widths)
                    .map(|(c, w)| textwrap::fill(c, *w))
                    .collect()
            };
            boxed(wrap(head), rows.into_iter().map(wrap).collect(), th)
        }
        _ => list_form(&head, &rows, th, width),
    };
    let mut out = format!("{}\n{}", th.bold("Hosts"), body);
    if let Some(line) = folded {
        if width == 0 {
            out.push_str(&format!("  {}\n", th.dim(&line)));
        } else {
            super::table::wrapped(&mut out, "  ", "    ", &th.dim(&line), width);
        }
    }
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
    section("CNI", grouped(r, fold, |h| h.overview.cni.as_ref()));
    section("overlay", grouped(r, fold, |h| h.overview.overlay.as_ref()));
    let per_node = |each: &dyn Fn(&HostReport) -> &[String]| -> Vec<String> {
        let lines = r
            .hosts
            .iter()
            .flat_map(|h| each(h).iter().map(move |t| (h.node.as_str(), t.clone())));
        if fold {
            fold::merge_by_text(lines.collect())
        } else {
            lines.map(|(node, t)| format!("{node}: {t}")).collect()
        }
    };
    let flagged = per_node(&|h| &h.overview.flagged);
    // What could not be read, per node and part, with the reason.
    let not_read = per_node(&|h| &h.unavailable);
    section("not read", not_read);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::captures::fixture;
    use crate::model::report::{API_VERSION, ClusterSummary, Summary};
    use crate::model::topology::NodeInfo;

    /// The real cluster's two nodes: node1 fully read; node2 as the agent
    /// saw it before plugins outside /opt/cni/bin were looked for (that one
    /// dir missing, everything else read); node3 where nothing could be read.
    fn report() -> Report {
        let mut n2 = fixture("node2");
        let why = "not available: cannot read /host/opt/cni/bin (no such directory)";
        if let Some(c) = n2.cni.as_mut() {
            c.binaries.clear();
            c.missing_plugins.clear();
            c.bin_dir_error = Some(why.into());
        }
        n2.unavailable.push(format!("cni binaries: {why}"));
        n2.overview = crate::inspect::query::summarize(&n2);
        let n3 = HostReport {
            node: "node3".into(),
            unavailable: vec![
                "cni config: not available: cannot read /host/etc/cni/net.d (permission denied: run the agent as root or mount the host read-only into it)".into(),
                "iptables (nft backend): not available: no iptables-nft-save on PATH".into(),
            ],
            ..Default::default()
        };
        let node = |name: &str, ip: &str, cidr: &str| NodeInfo {
            name: name.into(),
            ready: true,
            internal_ips: vec![ip.parse().unwrap()],
            pod_cidrs: vec![cidr.parse().unwrap()],
            ..Default::default()
        };
        Report {
            api_version: API_VERSION.into(),
            kind: "Report".into(),
            cluster: ClusterSummary {
                kube_proxy_mode: "iptables".into(),
                ..Default::default()
            },
            nodes: vec![
                node("node1", "198.18.255.11", "198.18.0.0/24"),
                node("node2", "198.18.255.12", "198.18.1.0/24"),
                node("node3", "198.18.255.13", "198.18.2.0/24"),
            ],
            checks: Vec::new(),
            cells: Vec::new(),
            hosts: vec![fixture("node1"), n2, n3],
            findings: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// A table a little wider than the terminal wraps inside its cells, but
    /// never breaks an address or a CIDR over two lines; narrower still, it
    /// is a line per node.
    #[test]
    fn wrapping_never_breaks_a_word() {
        let r = report();
        let th = Theme::plain();
        let natural = table(&r, &th, 0, false);
        let natural_width = natural
            .lines()
            .map(textwrap::core::display_width)
            .max()
            .unwrap_or(0);
        for width in [natural_width - 1, natural_width - 12, 100, 90] {
            let out = table(&r, &th, width, false);
            for cidr in [
                "198.18.0.0/24",
                "198.18.1.0/24",
                "198.18.2.0/24",
                "198.18.255.11",
            ] {
                assert!(
                    out.contains(cidr),
                    "{cidr} broken at {width} columns:\n{out}"
                );
            }
            let widest = out.lines().map(textwrap::core::display_width).max();
            assert!(widest <= Some(width), "wider than {width}:\n{out}");
        }
    }

    /// kube-proxy and the overlay as host processes: the API said unknown,
    /// the nodes told, and the header says where it came from.
    #[test]
    fn the_header_says_what_came_from_the_nodes() {
        let mut r = report();
        let api = ClusterSummary {
            cni: "unknown".into(),
            kube_proxy_mode: "unknown".into(),
            ..Default::default()
        };
        r.cluster = crate::inspect::cluster_facts::fill(&api, &r.hosts);
        let h =
            crate::render::table::strip_ansi(&crate::render::table::header(&r, &Theme::plain(), 0));
        assert!(h.contains("CNI bridge+flannel (from nodes)"), "{h}");
        assert!(h.contains("kube-proxy iptables (from nodes)"), "{h}");
        let md = crate::render::markdown::render(&r);
        assert!(md.contains("| CNI | bridge+flannel (from nodes) |"), "{md}");
        // Said by the API: no mark.
        r.cluster.from_nodes.clear();
        let h = crate::render::table::header(&r, &Theme::plain(), 0);
        assert!(!h.contains("from nodes"), "{h}");
    }

    #[test]
    fn a_node_read_in_part_is_partial_not_unavailable() {
        let r = report();
        let cells: Vec<String> = r.hosts.iter().map(|h| inspection(Some(h))).collect();
        assert_eq!(
            cells,
            vec!["ok", "partial: not read: cni binaries", "unavailable"]
        );
        let t = table(&r, &Theme::plain(), 0, false);
        insta::assert_snapshot!("hosts_partial", t);
        let (_, rows) = rows(&r);
        let long = rows[1].last().unwrap();
        assert!(
            long.starts_with("partial: read CNI config, iptables, nftables, sysctls, conntrack, interfaces, routes; not read: cni binaries: not available"),
            "{long}"
        );
    }

    /// 150 nodes: the table keeps the two that differ and one line for the
    /// others, the CNI and flagged lines count instead of listing; `--wide`
    /// draws every node.
    #[test]
    fn a_large_cluster_keeps_the_nodes_that_differ() {
        let mut r = report();
        let template = fixture("node1");
        r.nodes.clear();
        r.hosts.clear();
        for i in 0..150 {
            let name = format!("node-{i:03}");
            r.nodes.push(NodeInfo {
                name: name.clone(),
                ready: true,
                internal_ips: vec![format!("198.18.255.{}", i + 1).parse().unwrap()],
                ..Default::default()
            });
            let mut h = template.clone();
            h.node = name;
            if i == 42 {
                h.overview.mtus.insert("cni0".into(), 1500);
            }
            if i % 10 == 1 {
                h.overview.flagged.push("rp_filter=1 on eth0".into());
            }
            r.hosts.push(h);
        }
        r.hosts[7].overview.cni = Some("other.conflist".into());
        let th = Theme::plain();
        let t = table(&r, &th, 0, false);
        insta::assert_snapshot!("hosts_folded", t);
        assert!(t.lines().count() < 30, "{t}");
        assert!(
            t.contains("node-042") && t.contains("node-011") && !t.contains("node-002 "),
            "{t}"
        );
        assert!(t.contains("… and 134 more node(s) like this"), "{t}");
        assert!(
            t.contains("rp_filter=1 on eth0 (node-001, node-011,"),
            "{t}"
        );
        assert!(t.contains("… and 7 more)"), "{t}");
        let wide = table(&r, &th, 0, true);
        assert!(wide.lines().count() > 150, "{wide}");
        assert!(wide.contains("node-002"), "{wide}");
    }
}
