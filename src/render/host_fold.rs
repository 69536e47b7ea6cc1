//! Folding the host view of a large cluster: past
//! [`super::table::MAX_FULL_ROWS`] nodes (unless `--wide`) the table keeps
//! the nodes that differ from the most common row and one line for the
//! rest, and the lines that list nodes (CNI and overlay groups, flagged
//! values, what was not read) name a few nodes and count the others. At
//! 5,000 nodes the view was 10,000 lines, and the one node that differed
//! was somewhere in them.

use std::collections::HashMap;

/// Node names listed in a line before the rest are counted.
pub const NAMES_SHOWN: usize = 8;

/// Columns that are each node's own (an address, a CIDR): they are left
/// out when rows are compared.
const OWN_COLUMNS: [&str; 3] = ["node", "internal IP", "pod CIDR"];

/// The rows to draw and, when rows were folded, the line that stands for
/// them: `… and 4,990 more nodes like this: ready yes · iptables nft · …`.
/// A row is kept when its cells (but the node's own) differ from the most
/// common row's; at most `max` rows are kept.
pub fn fold_rows(
    head: &[String],
    rows: Vec<Vec<String>>,
    max: usize,
) -> (Vec<Vec<String>>, Option<String>) {
    let compared: Vec<usize> = (0..head.len())
        .filter(|&i| !OWN_COLUMNS.contains(&head[i].as_str()))
        .collect();
    let key = |row: &[String]| -> Vec<String> {
        compared
            .iter()
            .map(|&i| row.get(i).cloned().unwrap_or_default())
            .collect()
    };
    let mut counts: HashMap<Vec<String>, (usize, usize)> = HashMap::new();
    for (n, row) in rows.iter().enumerate() {
        counts.entry(key(row)).or_insert((0, n)).0 += 1;
    }
    // The most common row; the first seen wins a tie.
    let Some(common) = counts
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(k, _)| k.clone())
    else {
        return (rows, None);
    };
    let alike = counts.get(&common).map_or(0, |c| c.0);
    let total = rows.len();
    let mut kept: Vec<Vec<String>> = rows
        .into_iter()
        .filter(|r| key(r) != common)
        .take(max)
        .collect();
    let differ = total - alike;
    let items: Vec<String> = compared
        .iter()
        .zip(&common)
        .filter(|(_, v)| !v.is_empty() && v.as_str() != "-")
        .map(|(&i, v)| format!("{} {v}", head[i]))
        .collect();
    let mut line = format!(
        "… and {} more node(s) like this: {}",
        thousands(alike),
        items.join(" · ")
    );
    if differ > kept.len() {
        line.push_str(&format!(
            "; {} other node(s) differ and are not listed",
            thousands(differ - kept.len())
        ));
    }
    line.push_str(" (--wide lists every node)");
    if kept.is_empty() {
        let line = format!(
            "all {} nodes alike: {} (--wide lists every node)",
            thousands(total),
            items.join(" · ")
        );
        return (Vec::new(), Some(line));
    }
    kept.shrink_to_fit();
    (kept, Some(line))
}

/// `node-1, node-2, … and 4,990 more` past `NAMES_SHOWN` names.
pub fn names(nodes: &[&str]) -> String {
    if nodes.len() <= NAMES_SHOWN {
        return nodes.join(", ");
    }
    format!(
        "{}, … and {} more",
        nodes[..NAMES_SHOWN].join(", "),
        thousands(nodes.len() - NAMES_SHOWN)
    )
}

/// `(node, text)` lines with the same text merged into one
/// `text (node-1, node-2, … and N more)`, in order of first appearance.
pub fn merge_by_text(lines: Vec<(&str, String)>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut nodes: HashMap<String, Vec<&str>> = HashMap::new();
    for (node, text) in lines {
        let entry = nodes.entry(text.clone()).or_default();
        if entry.is_empty() {
            order.push(text);
        }
        entry.push(node);
    }
    order
        .into_iter()
        .map(|text| {
            let on = nodes.get(&text).map_or(&[][..], |v| v.as_slice());
            if on.len() == 1 {
                format!("{}: {text}", on[0])
            } else {
                format!("{text} ({})", names(on))
            }
        })
        .collect()
}

/// 4990 → `4,990`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node: &str, ip: &str, mtus: &str, inspection: &str) -> Vec<String> {
        [node, "yes", ip, mtus, inspection]
            .map(String::from)
            .to_vec()
    }

    fn head() -> Vec<String> {
        ["node", "ready", "internal IP", "MTUs", "host inspection"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn the_nodes_that_differ_stay_and_the_alike_ones_are_one_line() {
        let mut rows: Vec<Vec<String>> = (0..200)
            .map(|i| {
                row(
                    &format!("n{i}"),
                    &format!("198.18.0.{i}"),
                    "cni0 1450",
                    "ok",
                )
            })
            .collect();
        rows[17][3] = "cni0 1500".into();
        rows[150][4] = "2 flagged".into();
        let (kept, line) = fold_rows(&head(), rows, 100);
        let kept: Vec<&str> = kept.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(kept, ["n17", "n150"]);
        assert_eq!(
            line.as_deref(),
            Some(
                "… and 198 more node(s) like this: ready yes · MTUs cni0 1450 · host inspection ok (--wide lists every node)"
            )
        );
    }

    #[test]
    fn rows_past_the_limit_are_counted() {
        let rows: Vec<Vec<String>> = (0..300)
            .map(|i| {
                let mtus = if i % 3 == 0 { "cni0 1450" } else { "cni0 1500" };
                row(&format!("n{i}"), "-", &format!("{mtus} {i}"), "ok")
            })
            .collect();
        let (kept, line) = fold_rows(&head(), rows, 100);
        assert_eq!(kept.len(), 100);
        let line = line.unwrap_or_default();
        assert!(line.contains("199 other node(s) differ"), "{line}");
    }

    #[test]
    fn every_node_alike_is_one_line_without_a_row() {
        let rows: Vec<Vec<String>> = (0..150)
            .map(|i| row(&format!("n{i}"), "-", "cni0 1450", "ok"))
            .collect();
        let (kept, line) = fold_rows(&head(), rows, 100);
        assert!(kept.is_empty());
        assert_eq!(
            line.as_deref(),
            Some(
                "all 150 nodes alike: ready yes · MTUs cni0 1450 · host inspection ok (--wide lists every node)"
            )
        );
    }

    #[test]
    fn names_and_merged_lines_count_past_a_few() {
        let many: Vec<String> = (0..4_990).map(|i| format!("n{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            names(&refs),
            "n0, n1, n2, n3, n4, n5, n6, n7, … and 4,982 more"
        );
        assert_eq!(names(&refs[..2]), "n0, n1");
        let lines = vec![
            ("a", "rp_filter=1".to_string()),
            ("b", "ip_forward=0".to_string()),
            ("c", "rp_filter=1".to_string()),
        ];
        assert_eq!(
            merge_by_text(lines),
            ["rp_filter=1 (a, c)", "b: ip_forward=0"]
        );
        assert_eq!(thousands(1_665_000), "1,665,000");
        assert_eq!(thousands(999), "999");
    }
}
