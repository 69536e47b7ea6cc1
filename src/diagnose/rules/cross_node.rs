//! `cross-node-pod-traffic-broken`: pods on one node reach each other, but
//! traffic between some or all node pairs fails.

use crate::diagnose::facts::{NodePair, PodMesh, pair};
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::{CheckKind, FindingId, Severity};
use std::collections::BTreeSet;

pub struct CrossNode;

impl Rule for CrossNode {
    fn rank(&self) -> u16 {
        40
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mesh = PodMesh::of_evidence(ev.checks, ev.cells);
        if !mesh.works_locally() {
            return Vec::new();
        }
        // Pairs with unexplained pod-to-pod failures (one pass over the
        // checks, not one per pair).
        let failing: BTreeSet<NodePair> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.kind == CheckKind::PodToPod)
            .filter_map(|(_, c)| match (c.source_node(), c.target_node()) {
                (Some(a), Some(b)) if a != b => Some(pair(a, b)),
                _ => None,
            })
            .collect();
        let broken: Vec<_> = mesh
            .cross
            .keys()
            .filter(|p| failing.contains(*p))
            .cloned()
            .collect();
        if broken.is_empty() {
            return Vec::new();
        }
        let broken_set: BTreeSet<&NodePair> = broken.iter().collect();
        let explains: BTreeSet<usize> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| match (c.source_node(), c.target_node()) {
                (Some(a), Some(b)) if a != b => broken_set.contains(&pair(a, b)),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        let mut nodes = BTreeSet::new();
        let mut evidence = Vec::new();
        let all_pairs = mesh.cross.len();
        for p in &broken {
            nodes.insert(p.0.clone());
            nodes.insert(p.1.clone());
            let t = mesh.cross[p];
            let protos: Vec<&str> = mesh
                .cross_failed_protocols
                .get(p)
                .map(|s| s.iter().map(|p| p.as_str()).collect())
                .unwrap_or_default();
            let how = if t.all_fail() {
                "all pod traffic fails".to_string()
            } else {
                format!(
                    "{} of {} checks fail ({})",
                    t.fail,
                    t.fail + t.pass,
                    protos.join(", ")
                )
            };
            evidence.push(format!("{} ↔ {}: {how}", p.0, p.1));
        }
        evidence.push(format!(
            "same-node pod traffic works; {} of {} node pairs are affected",
            broken.len(),
            all_pairs
        ));
        evidence.extend(
            explains
                .iter()
                .filter(|&&i| ev.checks[i].kind == CheckKind::PodToPod)
                .take(4)
                .map(|&i| describe_check(&ev.checks[i])),
        );
        let pairs: Vec<String> = broken.iter().map(|p| format!("{}↔{}", p.0, p.1)).collect();
        let title = if broken.len() == all_pairs {
            "Pods on different nodes cannot reach each other".to_string()
        } else {
            format!("Pod traffic between nodes fails for {}", pairs.join(", "))
        };
        vec![Diagnosis {
            finding: finding(
                FindingId::CrossNodePodTrafficBroken,
                Severity::Error,
                title,
                nodes.into_iter().collect(),
                cap_evidence(evidence, 12),
                "Pods reach each other on one node, so the CNI works locally; the path between \
                 nodes is broken. On both nodes of a failing pair, check the overlay or routes \
                 to the other node's pod CIDR (ip route; ip -d link show for the tunnel device; \
                 bridge fdb show dev <tunnel>), that the CNI agent runs on both, and that the \
                 network between the nodes passes the overlay's traffic.",
            ),
            explains,
        }]
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::sim;
    use crate::model::{CheckKind, FindingId};

    #[test]
    fn one_broken_pair_is_named_and_explains_its_service_and_dns_cells() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if sim::between(t, "node-0", "node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        // Service and DNS checks across the pair failed too.
        assert!(
            checks
                .iter()
                .any(|c| c.kind == CheckKind::Dns && c.status.is_failure())
        );
        let f = sim::diagnose(&d, &checks);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::CrossNodePodTrafficBroken],
            "{f:#?}"
        );
        assert_eq!(f[0].nodes, vec!["node-0".to_string(), "node-1".to_string()]);
        assert!(f[0].title.contains("node-0↔node-1"));
    }

    #[test]
    fn only_udp_failing_between_nodes_says_so() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            if sim::between(t, "node-0", "node-1") && t.protocol == crate::model::Protocol::Udp {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::CrossNodePodTrafficBroken],
            "{f:#?}"
        );
        assert!(f[0].evidence[0].contains("udp"), "{:?}", f[0].evidence);
    }
}
