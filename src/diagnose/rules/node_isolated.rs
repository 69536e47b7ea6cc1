//! `node-isolated`: one node fails with all others while the others work
//! with each other. Its failed cells, of every kind, are evidence of one finding.

use crate::diagnose::facts::{NodePair, PodMesh, crosses_node};
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::{FindingId, Severity};
use std::collections::{BTreeMap, BTreeSet};

pub struct NodeIsolated;

impl Rule for NodeIsolated {
    fn rank(&self) -> u16 {
        30
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mesh = PodMesh::of_evidence(ev.checks, ev.cells);
        let nodes: Vec<String> = mesh.nodes().into_iter().collect();
        // With two nodes nobody can tell which one is cut off: that is a
        // broken pair, not an isolated node.
        if nodes.len() < 3 || !mesh.works_locally() {
            return Vec::new();
        }
        // Each node's pairs, indexed once: the work grows with the pairs
        // checked, not with nodes × nodes.
        let mut mine: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
        for ((a, b), t) in &mesh.cross {
            for x in [a, b] {
                let e = mine.entry(x.as_str()).or_insert((0, true));
                e.0 += 1;
                e.1 &= t.all_fail();
            }
        }
        // Pairs with a pass: the rest works among themselves unless every
        // one of them touches `n`.
        let passing: Vec<&NodePair> = mesh
            .cross
            .iter()
            .filter(|(_, t)| t.any_pass())
            .map(|(p, _)| p)
            .collect();
        let mut out = Vec::new();
        for n in &nodes {
            let (peers, all_fail) = mine.get(n.as_str()).copied().unwrap_or((0, true));
            let isolated = peers > 0 && all_fail;
            if !isolated {
                continue;
            }
            // The rest must still work among themselves, or it is not this node.
            let others_work = passing.iter().any(|(a, b)| a != n && b != n);
            if !others_work {
                continue;
            }
            let explains: BTreeSet<usize> = ev
                .unexplained_failures(explained)
                .filter(|(_, c)| {
                    crosses_node(c, n)
                        // A Service VIP or the API server, asked from the isolated node.
                        || (c.source_node() == Some(n.as_str()) && c.target_node().is_none())
                })
                .map(|(i, _)| i)
                .collect();
            // Every cell already has a root (a host finding on {n}).
            if explains.is_empty() {
                continue;
            }
            let local = if mesh.same_node.is_empty() {
                String::new()
            } else {
                format!(" and pods on {n} reach each other")
            };
            let mut evidence = vec![format!(
                "pod traffic between {n} and each of the other {peers} nodes fails; the other nodes reach each other{local}"
            )];
            evidence.extend(
                explains
                    .iter()
                    .take(6)
                    .map(|&i| describe_check(&ev.checks[i])),
            );
            out.push(Diagnosis {
                finding: finding(
                    FindingId::NodeIsolated,
                    Severity::Error,
                    format!("Node {n} is cut off from every other node's pods"),
                    vec![n.clone()],
                    cap_evidence(evidence, 8),
                    format!(
                        "Look at {n}'s overlay: is the CNI agent on {n} running and its tunnel \
                         device up (ip -d link show on the node: flannel.1, vxlan.calico, \
                         cilium_vxlan, …)? Do the other nodes have forwarding entries for {n} \
                         (bridge fdb show dev <tunnel>; ip neigh)? Restarting the CNI pod on {n} \
                         usually rebuilds them: kubectl -n kube-system delete pod -l <cni-label> \
                         --field-selector spec.nodeName={n}"
                    ),
                ),
                explains,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::sim;
    use crate::model::FindingId;

    /// node-3 reaches no other node and no other node reaches it; the API
    /// server VIP (answered from a node-0 host) is unreachable from node-3.
    fn node_3_cut_off(t: &crate::plan::CheckTemplate) -> sim::Answer {
        match sim::nodes_of(t) {
            (Some(a), Some(b)) if a != b && (a == "node-3" || b == "node-3") => sim::timeout(),
            (Some("node-3"), None) => sim::timeout(),
            _ => sim::ok(),
        }
    }

    #[test]
    fn a_node_cut_off_is_one_finding_naming_it() {
        let d = sim::cluster(4);
        let checks = sim::run(&d, node_3_cut_off);
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::NodeIsolated], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-3".to_string()]);
        assert!(f[0].evidence.iter().any(|e| e.contains("node-3")));
    }

    #[test]
    fn one_probe_pod_per_node_still_finds_the_isolated_node() {
        // No same-node pairs to prove the pod network works locally: the
        // other nodes working with each other is proof enough.
        let mut d = sim::cluster(4);
        d.pods.retain(|p| p.name.ends_with("-0"));
        let checks = sim::run(&d, node_3_cut_off);
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::NodeIsolated], "{f:#?}");
        assert!(!f[0].evidence[0].contains("reach each other and pods on"));
    }

    #[test]
    fn two_nodes_are_never_called_isolated() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            if sim::between(t, "node-0", "node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let ids = sim::ids(&sim::diagnose(&d, &checks));
        assert!(!ids.contains(&FindingId::NodeIsolated), "{ids:?}");
        assert!(
            ids.contains(&FindingId::CrossNodePodTrafficBroken),
            "{ids:?}"
        );
    }
}
