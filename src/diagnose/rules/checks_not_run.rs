//! `checks-not-run`: probes the agent could not start (no ICMP socket
//! without NET_RAW, an address family the pod does not have). Their checks
//! are `skipped` (plan/not_run.rs), never evidence of a broken network; this
//! one info finding says what was not checked and how to enable it.

use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, finding};
use crate::model::{Check, FindingId, Severity};
use crate::plan::not_run::{NOT_RUN, is_icmp_permission, is_not_run};
use std::collections::{BTreeMap, BTreeSet};

pub struct ChecksNotRun;

/// The agent's reason, without the prefix and the plan's note for the check.
fn reason(c: &Check) -> &str {
    let d = c.detail.strip_prefix(NOT_RUN).unwrap_or(&c.detail);
    match c.detail.rfind(" (") {
        Some(i) if is_note(&c.detail[i + 2..]) => &d[..d.len() - (c.detail.len() - i)],
        _ => d,
    }
}

/// The plan's notes appended to a detail: "(via the DNS Service)", "(hairpin)", …
fn is_note(s: &str) -> bool {
    [
        "via the DNS Service)",
        "via the DNS Service, search path)",
        "direct to the DNS pod)",
        "hairpin)",
    ]
    .contains(&s)
}

#[derive(Default)]
struct Group<'a> {
    count: usize,
    what: BTreeSet<String>,
    nodes: BTreeSet<&'a str>,
}

impl Rule for ChecksNotRun {
    fn rank(&self) -> u16 {
        5
    }
    fn evaluate(&self, ev: &Evidence<'_>, _explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
        for c in ev.checks.iter().filter(|c| is_not_run(c)) {
            let g = groups.entry(reason(c)).or_default();
            g.count += 1;
            g.what
                .insert(format!("{} {}", c.protocol.as_str(), c.kind.as_str()));
            g.nodes.extend(c.source_node());
        }
        if groups.is_empty() {
            return Vec::new();
        }
        let total: usize = groups.values().map(|g| g.count).sum();
        let nodes: BTreeSet<String> = groups
            .values()
            .flat_map(|g| g.nodes.iter().map(|n| n.to_string()))
            .collect();
        let what: BTreeSet<&str> = groups
            .values()
            .flat_map(|g| g.what.iter().map(String::as_str))
            .collect();
        let evidence: Vec<String> = groups
            .iter()
            .map(|(why, g)| {
                format!(
                    "{} check(s) ({}) from {}: {why}",
                    g.count,
                    g.what.iter().cloned().collect::<Vec<_>>().join(", "),
                    g.nodes.iter().copied().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        let icmp = groups.keys().any(|r| is_icmp_permission(r));
        let mut remediation = String::new();
        if icmp {
            remediation.push_str(
                "ICMP (ping and the path-MTU probe) needs either the NET_RAW capability or \
                 unprivileged ping sockets. Pod Security `restricted` drops every capability: \
                 run netcheck in its own namespace (the default; it is labelled \
                 `pod-security.kubernetes.io/enforce=privileged`) or in a namespace that \
                 enforces at most `baseline`, or open unprivileged ICMP on the nodes' runtime \
                 (containerd 2.0 does by default; on containerd 1.6/1.7 set \
                 `enable_unprivileged_icmp = true` in the CRI plugin's config, CRI-O: \
                 `default_sysctls = [\"net.ipv4.ping_group_range=0 2147483647\"]`). ",
            );
        }
        remediation.push_str(
            "The other checks of these pairs ran; the skipped ones say nothing about the \
             network. Run again once the probes can run them, or leave them out with --checks.",
        );
        vec![Diagnosis {
            finding: finding(
                FindingId::ChecksNotRun,
                Severity::Info,
                format!(
                    "{total} check(s) could not run in the probe pods and were skipped: {}",
                    what.into_iter().collect::<Vec<_>>().join(", ")
                ),
                nodes.into_iter().collect(),
                cap_evidence(evidence, 8),
                remediation,
            ),
            explains: BTreeSet::new(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::sim;
    use crate::model::{CheckKind, FindingId, Outcome, Protocol, Severity, Status};

    const NO_NET_RAW: &str = "cannot open an ICMP socket: raw sockets need the NET_RAW \
        capability (Operation not permitted (os error 1)) and unprivileged ping sockets are \
        not allowed for this group (Permission denied (os error 13)); run the agent with \
        CAP_NET_RAW or widen net.ipv4.ping_group_range";

    fn no_icmp(t: &crate::plan::CheckTemplate) -> Option<sim::Answer> {
        (t.protocol == Protocol::Icmp && t.source.pod.is_some()).then(|| sim::Answer {
            outcome: Outcome::Error,
            detail: Some(NO_NET_RAW.into()),
            ..sim::ok()
        })
    }

    /// Issue 11 item 10: a healthy cluster in a `restricted` namespace.
    #[test]
    fn icmp_without_net_raw_on_a_healthy_cluster_is_one_info_finding() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| no_icmp(t).unwrap_or_else(sim::ok));
        assert!(checks.iter().any(|c| c.status == Status::Skipped));
        assert!(
            !checks
                .iter()
                .any(|c| matches!(c.status, Status::Error | Status::Fail))
        );
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::ChecksNotRun], "{f:#?}");
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(f[0].nodes, vec!["node-0", "node-1", "node-2"]);
        assert!(f[0].title.contains("icmp pod-to-pod"), "{}", f[0].title);
        assert!(f[0].title.contains("icmp mtu"), "{}", f[0].title);
        assert_eq!(f[0].evidence.len(), 1, "{:#?}", f[0].evidence);
        assert!(
            f[0].evidence[0].ends_with(NO_NET_RAW),
            "{}",
            f[0].evidence[0]
        );
        assert!(f[0].remediation.contains("enable_unprivileged_icmp"));
    }

    /// A real fault still stands next to the checks that could not run.
    #[test]
    fn a_real_fault_is_still_named_when_icmp_could_not_run() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            no_icmp(t).unwrap_or_else(|| {
                if t.kind == CheckKind::PodToPod && sim::between(t, "node-0", "node-1") {
                    sim::timeout()
                } else {
                    sim::ok()
                }
            })
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(
            sim::ids(&f),
            vec![
                FindingId::CrossNodePodTrafficBroken,
                FindingId::ChecksNotRun
            ],
            "{f:#?}"
        );
    }

    /// "Operation not permitted" on sending is a firewall in the path, not a
    /// check that could not run.
    #[test]
    fn a_send_refused_by_a_firewall_is_still_a_failure() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            if t.protocol == Protocol::Icmp && sim::between(t, "node-0", "node-1") {
                sim::Answer {
                    outcome: Outcome::Error,
                    detail: Some("ICMP send: Operation not permitted (os error 1)".into()),
                    ..sim::ok()
                }
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert!(!sim::ids(&f).contains(&FindingId::ChecksNotRun), "{f:#?}");
        assert!(f.iter().any(|f| f.severity == Severity::Error), "{f:#?}");
    }
}
