//! Dual stack: the findings of the per-family runs of the rules, merged.
//!
//! A finding both families' runs make (same ID, same nodes) is one finding:
//! a root that breaks both families, or a host root that stands on its own
//! (a CNI conflict). A finding that explains failed checks of one family
//! only, or that only one family's run makes, is that family's: its title
//! says so ("IPv6 only: …") and its evidence opens with what the other
//! family did, so that a fault on IPv6 alone is named for IPv6 and its
//! evidence is the IPv6 checks.

use crate::model::{Family, Finding};

/// One family's findings, each with how many failed checks it explains
/// (None: discovery's, about no family in particular).
pub type Run = (Family, Vec<(Finding, Option<usize>)>);

/// A merged finding and, per family whose run made it, how many failed
/// checks it explained there.
type Merged = (Finding, Vec<(Family, Option<usize>)>);

/// Merge the runs of each family into one list (first family's order first).
pub fn merge(runs: Vec<Run>) -> Vec<Finding> {
    // (finding, per-family explained counts, the families it came from)
    let mut all: Vec<Family> = runs.iter().map(|(f, _)| *f).collect();
    all.sort();
    all.dedup();
    let mut out: Vec<Merged> = Vec::new();
    for (fam, findings) in runs {
        for (f, n) in findings {
            match twin(&out, &f, fam) {
                Some(i) => {
                    let (kept, seen) = &mut out[i];
                    for line in f.evidence {
                        if !kept.evidence.contains(&line) {
                            kept.evidence.push(line);
                        }
                    }
                    seen.push((fam, n));
                }
                None => out.push((f, vec![(fam, n)])),
            }
        }
    }
    out.into_iter()
        .map(|(mut f, seen)| {
            if let Some(only) = only_family(&seen, &all) {
                let n = seen
                    .iter()
                    .find(|(x, _)| *x == only)
                    .and_then(|(_, n)| *n)
                    .unwrap_or(0);
                name_for(&mut f, only, n, &all);
            }
            f
        })
        .collect()
}

/// The finding of an earlier family this one repeats: same ID and nodes,
/// the same title if there is one, not yet matched in this family.
fn twin(out: &[Merged], f: &Finding, fam: Family) -> Option<usize> {
    let free = |(_, (g, seen)): &(usize, &Merged)| {
        g.id == f.id && g.nodes == f.nodes && !seen.iter().any(|(x, _)| *x == fam)
    };
    let candidates: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|e| free(e))
        .map(|(i, _)| i)
        .collect();
    candidates
        .iter()
        .copied()
        .find(|&i| out[i].0.title == f.title)
        .or_else(|| candidates.first().copied())
}

/// The one family a finding belongs to: the only one whose run made it, or
/// the only one whose checks it explains. None: both, or discovery's.
fn only_family(seen: &[(Family, Option<usize>)], all: &[Family]) -> Option<Family> {
    if seen.iter().any(|(_, n)| n.is_none()) {
        return None;
    }
    if seen.len() == 1 && all.len() > 1 {
        return Some(seen[0].0);
    }
    let explaining: Vec<Family> = seen
        .iter()
        .filter(|(_, n)| n.is_some_and(|n| n > 0))
        .map(|(f, _)| *f)
        .collect();
    match explaining.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Name the finding for `fam`: the title (unless it names the family
/// already) and a first evidence line on the other family.
fn name_for(f: &mut Finding, fam: Family, failed: usize, all: &[Family]) {
    if !f.title.contains(fam.label()) {
        f.title = format!("{} only: {}", fam.label(), f.title);
    }
    let others: Vec<&str> = all
        .iter()
        .filter(|x| **x != fam)
        .map(|x| x.label())
        .collect();
    if !others.is_empty() {
        f.evidence.insert(
            0,
            format!(
                "{}: {failed} failed {} check(s) show it, no {} check does",
                fam.label(),
                fam.label(),
                others.join(" or ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::sim;
    use crate::model::{CheckKind, Family, FindingId};

    /// A node cut off in both families is one finding, named for neither.
    #[test]
    fn a_root_both_families_show_is_one_finding_for_both() {
        let d = sim::dual_stack(sim::cluster(4));
        let cut = |a: &str, b: &str| a != b && (a == "node-3" || b == "node-3");
        let checks = sim::run(&d, |t| match sim::nodes_of(t) {
            (Some(a), Some(b)) if cut(a, b) => sim::timeout(),
            (Some("node-3"), None) => sim::timeout(),
            _ if t.kind == CheckKind::Dns && t.source.node.as_deref() == Some("node-3") => {
                sim::timeout()
            }
            _ => sim::ok(),
        });
        assert!(checks.iter().any(|c| c.family() == Family::Ipv6));
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::NodeIsolated], "{f:#?}");
        assert!(!f[0].title.contains("only"), "{}", f[0].title);
        assert_eq!(f[0].nodes, vec!["node-3"]);
    }

    /// The same cut in IPv6 alone: the finding says IPv6 only, and its
    /// quoted failed checks are IPv6 ones.
    #[test]
    fn a_root_only_ipv6_shows_is_named_for_ipv6() {
        let d = sim::dual_stack(sim::cluster(4));
        let cut = |a: &str, b: &str| a != b && (a == "node-3" || b == "node-3");
        let checks = sim::run(&d, |t| {
            if sim::family_of(t) == Family::Ipv4 {
                return sim::ok();
            }
            match sim::nodes_of(t) {
                (Some(a), Some(b)) if cut(a, b) => sim::timeout(),
                (Some("node-3"), None) => sim::timeout(),
                _ if t.kind == CheckKind::Dns && t.source.node.as_deref() == Some("node-3") => {
                    sim::timeout()
                }
                _ => sim::ok(),
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::NodeIsolated], "{f:#?}");
        assert!(f[0].title.starts_with("IPv6 only: "), "{}", f[0].title);
        assert!(
            f[0].evidence[0].starts_with("IPv6: "),
            "{:?}",
            f[0].evidence
        );
        let quoted: Vec<&String> = f[0].evidence.iter().filter(|e| e.contains(" → ")).collect();
        assert!(quoted.iter().all(|e| e.contains(" IPv6 ")), "{quoted:?}");
    }
}
