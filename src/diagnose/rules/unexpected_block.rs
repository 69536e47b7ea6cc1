//! `unexpected-block`: traffic failed that NetworkPolicy allows, and no other
//! rule explains it. Ranked last: every other cause is tried first.

use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::report::Expectation;
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct UnexpectedBlock;

impl Rule for UnexpectedBlock {
    fn rank(&self) -> u16 {
        900
    }

    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let cells: Vec<(usize, &crate::model::Check)> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.expected == Some(Expectation::Allow))
            .collect();
        if cells.is_empty() {
            return Vec::new();
        }
        let nodes: BTreeSet<String> = cells
            .iter()
            .flat_map(|(_, c)| c.source.node.iter().chain(c.target.node.iter()).cloned())
            .collect();
        let n = cells.len();
        let mut evidence = vec![format!(
            "{n} probe connection{} failed that the cluster's NetworkPolicies allow, with no other cause found",
            if n == 1 { "" } else { "s" }
        )];
        evidence.extend(cap_evidence(
            cells.iter().map(|(_, c)| describe_check(c)).collect(),
            12,
        ));
        vec![Diagnosis {
            finding: finding(
                FindingId::UnexpectedBlock,
                Severity::Error,
                "Traffic that NetworkPolicy allows is blocked",
                nodes.into_iter().collect(),
                evidence,
                "Something besides networking.k8s.io/v1 NetworkPolicy drops it: a CNI-specific policy (Calico GlobalNetworkPolicy, CiliumNetworkPolicy, AdminNetworkPolicy), a host firewall rule, or a policy engine that has not caught up. `kubectl netcheck explain SRC DST --port P` shows the rules that allow a cell; compare with the CNI's own policy objects and its agent logs.",
            ),
            explains: cells.into_iter().map(|(i, _)| i).collect(),
        }]
    }
}
