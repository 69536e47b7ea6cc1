//! `policy-blocks-dns` (static): a NetworkPolicy puts pods under egress
//! isolation and no egress rule of the policies selecting them allows UDP
//! and TCP 53 to the cluster DNS pods. Found from the policies alone, for
//! the probe pods and for the pods each egress policy selects.

use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, finding};
use crate::model::{CheckKind, FindingId, Severity, Status};
use crate::policy::{Decision, Direction, Peer, PodInfo, PortQuery, Proto};
use std::collections::{BTreeMap, BTreeSet};

pub struct PolicyBlocksDns;

impl Rule for PolicyBlocksDns {
    fn rank(&self) -> u16 {
        59
    }

    fn evaluate(&self, ev: &Evidence<'_>, _explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let d = ev.deployment;
        if d.policy.policies.is_empty() {
            return Vec::new();
        }
        let judge = ev.policy_judge();
        let compiled = &judge.compiled;
        // Who to ask about: the probes, then an example pod per egress policy.
        let mut candidates: Vec<(PodInfo, String)> = judge
            .probe_pods()
            .iter()
            .map(|p| (p.clone(), format!("probe pod {}", p.key())))
            .collect();
        for ex in compiled.egress_pod_examples() {
            let (ns, selector) = (ex.namespace, ex.selector);
            let Some(labels) = ex.labels else { continue };
            if candidates
                .iter()
                .any(|(c, _)| c.namespace == ns && c.labels == labels)
            {
                continue;
            }
            let pod = PodInfo {
                namespace: ns.clone(),
                name: format!("<{selector}>"),
                labels,
                ..Default::default()
            };
            let what = if selector == "{}" {
                format!("every pod in {ns}")
            } else {
                format!("pods {selector} in {ns}")
            };
            candidates.push((pod, what));
        }
        let servers = judge.dns_pods();
        let dns_ns = d
            .dns
            .as_ref()
            .map(|t| t.service.namespace.as_str())
            .unwrap_or("kube-system");
        let dns_name = dns_name(d);
        // selecting policies → (blocked protocols, who, probe pod names,
        // policy kinds netcheck does not evaluate that could allow it anyway)
        type Group = (
            BTreeSet<&'static str>,
            Vec<String>,
            BTreeSet<String>,
            BTreeSet<String>,
        );
        let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
        for (pod, what) in &candidates {
            let selecting = compiled.selecting(pod, Direction::Egress);
            if selecting.is_empty() {
                continue;
            }
            let mut blocked = BTreeSet::new();
            for proto in [Proto::Udp, Proto::Tcp] {
                let port = PortQuery::Port(53, proto);
                let denied = servers.iter().any(|s| {
                    let v =
                        compiled.direction(Direction::Egress, Peer::pod(pod), Peer::pod(s), &port);
                    v.verdict == Decision::Deny && v.certain
                });
                if denied {
                    blocked.insert(proto.as_str());
                }
            }
            if blocked.is_empty() {
                continue;
            }
            let g = groups.entry(selecting).or_default();
            g.0.extend(blocked);
            g.1.push(what.clone());
            g.3.extend(crate::policy::kinds::governing(
                &d.cluster.policy_kinds,
                &[pod.namespace.as_str(), dns_ns],
            ));
            if what.starts_with("probe pod") {
                g.2.insert(pod.name.clone());
            }
        }
        groups
            .into_iter()
            .map(|(policies, (protos, who, probes, others))| {
                let protos: Vec<String> = ["UDP", "TCP"]
                    .iter()
                    .filter(|p| protos.contains(*p))
                    .map(|p| format!("{p}/53"))
                    .collect();
                let named = if policies.len() == 1 {
                    format!("NetworkPolicy {}", policies[0])
                } else {
                    format!("NetworkPolicies {}", policies.join(", "))
                };
                let mut evidence = vec![format!(
                    "{named} put{} these pods under egress isolation, and no egress rule allows {} to {dns_name}",
                    if policies.len() == 1 { "s" } else { "" },
                    protos.join(" and ")
                )];
                evidence.extend(cap_evidence(who, 8));
                let severity = severity_with(others, &mut evidence);
                // Failed DNS checks of the affected probes are this, not a DNS outage.
                let explains = ev
                    .checks
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| {
                        c.kind == CheckKind::Dns
                            && matches!(c.status, Status::Fail | Status::Error)
                            && c.source.pod.as_ref().is_some_and(|p| probes.contains(p))
                    })
                    .map(|(i, _)| i)
                    .collect();
                Diagnosis {
                    finding: finding(
                        FindingId::PolicyBlocksDns,
                        severity,
                        format!("{named} blocks DNS for the pods it selects"),
                        Vec::new(),
                        evidence,
                        format!(
                            "Add an egress rule to {} that allows DNS, e.g. `- to: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {dns_ns}}}}}, podSelector: {{matchLabels: {{{}: {}}}}}}}]` with `ports: [{{port: 53, protocol: UDP}}, {{port: 53, protocol: TCP}}]`.",
                            policies[0],
                            crate::policy::judge::DNS_POD_LABEL.0,
                            crate::policy::judge::DNS_POD_LABEL.1
                        ),
                    ),
                    explains,
                }
            })
            .collect()
    }
}

/// "the cluster DNS (kube-system/kube-dns 198.19.0.10, pods k8s-app=kube-dns)".
fn dns_name(d: &crate::model::Deployment) -> String {
    let (k, v) = crate::policy::judge::DNS_POD_LABEL;
    match &d.dns {
        Some(t) => format!(
            "the cluster DNS ({}/{} {}, pods {k}={v})",
            t.service.namespace, t.service.name, t.service.ip
        ),
        None => format!("the cluster DNS (pods {k}={v} in kube-system)"),
    }
}

/// An error, or a warning when policy kinds netcheck does not evaluate could
/// allow DNS all the same (a Calico GlobalNetworkPolicy allowing DNS
/// cluster-wide is common): then this is NetworkPolicy's word, not the
/// cluster's, and the evidence says which kinds.
fn severity_with(others: BTreeSet<String>, evidence: &mut Vec<String>) -> Severity {
    if others.is_empty() {
        return Severity::Error;
    }
    evidence.push(format!(
        "{} could allow DNS all the same: netcheck does not evaluate that kind",
        others.into_iter().collect::<Vec<_>>().join(", ")
    ));
    Severity::Warning
}
