//! `pod-to-apiserver-broken`: pods cannot reach `kubernetes.default`, while
//! other Services work. Controllers, operators and anything with a service
//! account fail.

use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::{CheckKind, FindingId, Severity};
use std::collections::BTreeSet;

pub struct PodToApiserver;

impl Rule for PodToApiserver {
    fn rank(&self) -> u16 {
        58
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let failed: Vec<(usize, &crate::model::Check)> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.kind == CheckKind::PodToApiserver)
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        let nodes: Vec<String> = failed
            .iter()
            .filter_map(|(_, c)| c.source_node())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_string)
            .collect();
        let target = failed[0]
            .1
            .target
            .ip
            .map(|i| i.to_string())
            .unwrap_or_default();
        let mut evidence = vec![format!(
            "{} checks from pods on {} to kubernetes.default ({target}) fail",
            failed.len(),
            nodes.join(", ")
        )];
        evidence.extend(failed.iter().take(4).map(|(_, c)| describe_check(c)));
        vec![Diagnosis {
            finding: finding(
                FindingId::PodToApiserverBroken,
                Severity::Error,
                format!(
                    "Pods on {} cannot reach the API server through kubernetes.default",
                    nodes.join(", ")
                ),
                nodes,
                cap_evidence(evidence, 8),
                "Check the `kubernetes` Service's endpoints (kubectl get endpointslices -n default \
                 -l kubernetes.io/service-name=kubernetes): they must be addresses the pods can \
                 route to; then the host firewall of the control-plane nodes for the API port \
                 from the pod CIDR.",
            ),
            explains: failed.iter().map(|(i, _)| *i).collect(),
        }]
    }
}
