//! `service-vip-unreachable`: pods reach the backend pod directly, but not
//! through its Service's ClusterIP. Grouped by source node (kube-proxy runs
//! per node), or by Service when every node fails the same VIP.

use crate::diagnose::facts::{Tally, is_dns_via_service, is_hairpin, omitted};
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::{CheckKind, FindingId, Severity, Status};
use std::collections::{BTreeMap, BTreeSet};

pub struct ServiceVip;

/// With aggregation a VIP's passes are counted per backend node, not per
/// Service: whether the report cells count a pass to the backend node of
/// any of these checks (a VIP that passes from somewhere is not failing
/// everywhere).
fn counted_to(ev: &Evidence<'_>, idx: &[usize]) -> bool {
    idx.iter()
        .filter_map(|&i| ev.checks[i].target_node())
        .any(|n| {
            omitted(ev.cells)
                .any(|c| c.kind == CheckKind::PodToService && !c.hairpin && c.target == n)
        })
}

impl Rule for ServiceVip {
    fn rank(&self) -> u16 {
        50
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // Non-hairpin Service checks per source node, unexplained failures only.
        let mut per_node: BTreeMap<&str, Tally> = BTreeMap::new();
        for (i, c) in ev.checks.iter().enumerate() {
            if c.kind != CheckKind::PodToService || is_hairpin(c) || explained.contains(&i) {
                continue;
            }
            if let Some(n) = c.source_node() {
                per_node.entry(n).or_default().add(c);
            }
        }
        // Passes agents only counted (aggregation).
        for c in omitted(ev.cells).filter(|c| c.kind == CheckKind::PodToService && !c.hairpin) {
            per_node
                .entry(c.source.as_str())
                .or_default()
                .add_passes(c.omitted);
        }
        // Does direct pod traffic from that node to the same backends work?
        let direct_ok = |node: &str| {
            ev.checks.iter().any(|c| {
                c.kind == CheckKind::PodToPod
                    && c.source_node() == Some(node)
                    && c.status == Status::Pass
            }) || omitted(ev.cells).any(|c| c.kind == CheckKind::PodToPod && c.source == node)
        };
        let bad_nodes: Vec<&str> = per_node
            .iter()
            .filter(|(n, t)| t.all_fail() && direct_ok(n))
            .map(|(n, _)| *n)
            .collect();
        let mut out = Vec::new();
        if !bad_nodes.is_empty() {
            // Every VIP from those nodes: probe Services, DNS through its
            // Service, the API server's Service.
            let explains: BTreeSet<usize> = ev
                .unexplained_failures(explained)
                .filter(|(_, c)| {
                    let from_bad = c.source_node().is_some_and(|n| bad_nodes.contains(&n))
                        && (c.kind == CheckKind::PodToService
                            || c.kind == CheckKind::PodToApiserver
                            || is_dns_via_service(c));
                    // The same kube-proxy serves the NodePorts of its node.
                    let to_bad = c.kind == CheckKind::Nodeport
                        && c.target_node().is_some_and(|n| bad_nodes.contains(&n));
                    from_bad || to_bad
                })
                .map(|(i, _)| i)
                .collect();
            let everywhere = bad_nodes.len() == per_node.len() && per_node.len() > 1;
            let mut evidence: Vec<String> = bad_nodes
                .iter()
                .map(|n| {
                    format!(
                        "from pods on {n}: 0 of {} Service checks pass, while the same pods reach the backend pods directly",
                        per_node[n].fail
                    )
                })
                .collect();
            evidence.extend(
                explains
                    .iter()
                    .take(4)
                    .map(|&i| describe_check(&ev.checks[i])),
            );
            let title = if everywhere {
                "No Service ClusterIP works from any node, although the pods behind them answer directly".to_string()
            } else {
                format!(
                    "Service ClusterIPs do not work from pods on {}, although the pods behind them answer directly",
                    bad_nodes.join(", ")
                )
            };
            out.push(Diagnosis {
                finding: finding(
                    FindingId::ServiceVipUnreachable,
                    Severity::Error,
                    title,
                    bad_nodes.iter().map(|s| s.to_string()).collect(),
                    cap_evidence(evidence, 10),
                    format!(
                        "Services are implemented on each node by kube-proxy (or the CNI's \
                         replacement). On {}: check that kube-proxy runs (kubectl -n kube-system \
                         get pods -l k8s-app=kube-proxy -o wide), look for its chains \
                         (iptables-save -t nat | grep KUBE-SERVICES, or nft list table ip \
                         kube-proxy, or ipvsadm -Ln), and restart it to reprogram the rules.",
                        bad_nodes.join(", ")
                    ),
                ),
                explains,
            });
            return out;
        }
        // A VIP that fails from every source while its pod answers directly.
        let mut per_vip: BTreeMap<String, (Tally, Vec<usize>)> = BTreeMap::new();
        for (i, c) in ev.checks.iter().enumerate() {
            if c.kind != CheckKind::PodToService || is_hairpin(c) || explained.contains(&i) {
                continue;
            }
            let key = c.target.name.clone().unwrap_or_default();
            let e = per_vip.entry(key).or_default();
            e.0.add(c);
            if matches!(c.status, Status::Fail | Status::Error) {
                e.1.push(i);
            }
        }
        for (svc, (t, mut idx)) in per_vip
            .into_iter()
            .filter(|(_, (t, idx))| t.all_fail() && !counted_to(ev, idx))
        {
            // Its NodePorts lead to the same dead VIP's backend.
            idx.extend(
                ev.unexplained_failures(explained)
                    .filter(|(_, c)| {
                        c.kind == CheckKind::Nodeport && c.target.name.as_deref() == Some(&svc)
                    })
                    .map(|(i, _)| i),
            );
            let evidence = idx
                .iter()
                .take(4)
                .map(|&i| describe_check(&ev.checks[i]))
                .collect();
            out.push(Diagnosis {
                finding: finding(
                    FindingId::ServiceVipUnreachable,
                    Severity::Error,
                    format!("Service {svc} is unreachable through its ClusterIP from every node"),
                    Vec::new(),
                    evidence,
                    format!(
                        "Check the Service's endpoints (kubectl get endpointslices -l \
                         kubernetes.io/service-name=… -n …) and kube-proxy's rules for it on the \
                         nodes; {} checks to it failed.",
                        t.fail
                    ),
                ),
                explains: idx.into_iter().collect(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::sim;
    use crate::model::FindingId;

    fn is_vip(t: &crate::plan::CheckTemplate) -> bool {
        t.kind == crate::model::CheckKind::PodToService
            || t.kind == crate::model::CheckKind::PodToApiserver
            || t.note.is_some_and(|n| n.contains("via the DNS Service"))
    }

    #[test]
    fn kube_proxy_gone_on_one_node_is_one_finding_covering_dns_and_apiserver() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if is_vip(t) && t.source.node.as_deref() == Some("node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::ServiceVipUnreachable],
            "{f:#?}"
        );
        assert_eq!(f[0].nodes, vec!["node-1".to_string()]);
    }
}
