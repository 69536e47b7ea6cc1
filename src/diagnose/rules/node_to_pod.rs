//! `node-to-pod-broken`: a node's host network cannot reach pods that other
//! pods reach. Kubelet's liveness and readiness probes take that path, so
//! pods on the node will be restarted or never become ready.

use crate::diagnose::facts::Tally;
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::{CheckKind, FindingId, Severity};
use std::collections::{BTreeMap, BTreeSet};

pub struct NodeToPod;

impl Rule for NodeToPod {
    fn rank(&self) -> u16 {
        55
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let failed: Vec<(usize, &crate::model::Check)> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.kind == CheckKind::NodeToPod)
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        let mut per_node: BTreeMap<&str, Tally> = BTreeMap::new();
        for c in ev.checks.iter().filter(|c| c.kind == CheckKind::NodeToPod) {
            if let Some(n) = c.source_node() {
                per_node.entry(n).or_default().add(c);
            }
        }
        for c in
            crate::diagnose::facts::omitted(ev.cells).filter(|c| c.kind == CheckKind::NodeToPod)
        {
            per_node
                .entry(c.source.as_str())
                .or_default()
                .add_passes(c.omitted);
        }
        let nodes: Vec<String> = failed
            .iter()
            .filter_map(|(_, c)| c.source_node())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut evidence: Vec<String> = nodes
            .iter()
            .map(|n| {
                let t = per_node.get(n.as_str()).copied().unwrap_or_default();
                format!(
                    "from the host network of {n}: {} of {} checks to pods fail",
                    t.fail,
                    t.fail + t.pass
                )
            })
            .collect();
        evidence.extend(failed.iter().take(4).map(|(_, c)| describe_check(c)));
        vec![Diagnosis {
            finding: finding(
                FindingId::NodeToPodBroken,
                Severity::Error,
                format!(
                    "The host network of {} cannot reach pods (kubelet probes will fail)",
                    nodes.join(", ")
                ),
                nodes.clone(),
                cap_evidence(evidence, 8),
                "Traffic from the node itself to pod IPs fails while pods reach each other: check \
                 the node's routes to the pod CIDRs (ip route get <pod IP>), host firewall rules \
                 in INPUT/OUTPUT that drop traffic to the pod network, and rp_filter on the CNI \
                 interfaces.",
            ),
            explains: failed.iter().map(|(i, _)| *i).collect(),
        }]
    }
}
