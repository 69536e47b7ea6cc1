//! `pod-network-down`: no pod→pod traffic works, not even between two pods
//! on one node. Everything else is a symptom of it.

use crate::diagnose::facts::{PodMesh, is_failed};
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::{CheckKind, FindingId, Severity};
use std::collections::BTreeSet;

pub struct PodNetworkDown;

impl Rule for PodNetworkDown {
    fn rank(&self) -> u16 {
        20
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mesh = PodMesh::of_evidence(ev.checks, ev.cells);
        if mesh.same_node.is_empty() && mesh.cross.is_empty() || mesh.any_pod_traffic() {
            return Vec::new();
        }
        let failed: Vec<_> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.kind == CheckKind::PodToPod)
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        // Every failed check that starts or ends in a pod is a symptom.
        let explains = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.source.pod.is_some() || c.target.pod.is_some())
            .map(|(i, _)| i)
            .collect();
        let same_node_failed = ev
            .checks
            .iter()
            .filter(|c| c.kind == CheckKind::PodToPod && c.is_same_node() && is_failed(c))
            .count();
        let mut evidence = vec![format!(
            "0 of {} pod-to-pod checks passed, {} of them between pods on the same node",
            mesh.same_node
                .values()
                .chain(mesh.cross.values())
                .map(|t| t.fail)
                .sum::<usize>(),
            same_node_failed
        )];
        evidence.extend(failed.iter().take(5).map(|(_, c)| describe_check(c)));
        vec![Diagnosis {
            finding: finding(
                FindingId::PodNetworkDown,
                Severity::Error,
                "No pod can reach any other pod, not even on the same node",
                mesh.nodes().into_iter().collect(),
                cap_evidence(evidence, 8),
                "The pod network itself is down: check that the CNI plugin's pods are running \
                 (kubectl -n kube-system get pods -o wide), that each node has a valid CNI config \
                 in /etc/cni/net.d, and the CNI agent's logs.",
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
    fn nothing_between_pods_works_is_one_root_finding() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if t.source.pod.is_some() || t.target.pod.is_some() {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::PodNetworkDown]);
        assert_eq!(f[0].nodes.len(), 3);
    }

    #[test]
    fn healthy_cluster_has_no_findings() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |_| sim::ok());
        assert!(checks.iter().any(|c| c.kind == CheckKind::Mtu));
        assert!(sim::diagnose(&d, &checks).is_empty());
    }
}
