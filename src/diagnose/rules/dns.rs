//! The DNS rules, which read one another's cases so that each failure is
//! named once: `dns-unreachable` (no answer at all), `dns-vip-broken`
//! (servers answer directly, not through the DNS Service), `dns-resolution-failed`
//! (answers, but cluster names do not resolve), `dns-slow`.

use crate::diagnose::facts::{is_dns_direct, is_dns_via_service, median, no_answer};
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::{Check, CheckKind, FindingId, Severity, Status};
use std::collections::{BTreeMap, BTreeSet};

/// A DNS answer slower than this (median per source node) is `dns-slow`…
/// Healthy CoreDNS answers in a few ms; the slowness people need to hear
/// about is hundreds of ms to the 5 s of a lost UDP query retried. 250 ms
/// fired in the lab on a busy 2-core machine (one dnsmasq serving every probe
/// at once), so the bar is 500 ms.
pub const SLOW_MS: f64 = 500.0;
/// …when it is also this many times slower than the same node's pod-to-pod
/// round trips: when everything is slow (a loaded node, a slow network) that
/// is not a DNS problem, and calling it one would send people the wrong way.
pub const SLOW_FACTOR: f64 = 4.0;

fn dns_service(ev: &Evidence<'_>) -> String {
    ev.deployment
        .dns
        .as_ref()
        .map(|d| {
            format!(
                "{}/{} ({})",
                d.service.namespace, d.service.name, d.service.ip
            )
        })
        .unwrap_or_else(|| "the DNS Service".into())
}

fn nodes_of<'a>(checks: impl Iterator<Item = &'a Check>) -> Vec<String> {
    checks
        .filter_map(|c| c.source_node())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect()
}

pub struct DnsUnreachable;

impl Rule for DnsUnreachable {
    fn rank(&self) -> u16 {
        60
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let dns: Vec<&Check> = ev
            .checks
            .iter()
            .filter(|c| c.kind == CheckKind::Dns)
            .collect();
        // Any answer at all, from anywhere, means DNS is reachable.
        if dns.is_empty() || dns.iter().any(|c| !no_answer(c)) {
            return Vec::new();
        }
        let failed: Vec<(usize, &Check)> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.kind == CheckKind::Dns)
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        let servers: Vec<String> = ev
            .deployment
            .dns
            .iter()
            .flat_map(|d| &d.servers)
            .map(|s| {
                format!(
                    "{} ({})",
                    s.pod.as_deref().unwrap_or("?"),
                    s.ip.map(|i| i.to_string()).unwrap_or_default()
                )
            })
            .collect();
        let mut evidence = vec![format!(
            "0 of {} DNS queries got an answer, through {} or directly from the DNS pods {}",
            dns.len(),
            dns_service(ev),
            servers.join(", ")
        )];
        evidence.extend(failed.iter().take(4).map(|(_, c)| describe_check(c)));
        vec![Diagnosis {
            finding: finding(
                FindingId::DnsUnreachable,
                Severity::Error,
                "Cluster DNS does not answer, neither through its Service nor from its pods",
                nodes_of(failed.iter().map(|(_, c)| *c)),
                cap_evidence(evidence, 8),
                "Check the DNS pods: kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide; \
                 their logs (kubectl -n kube-system logs -l k8s-app=kube-dns) and events. If they \
                 run, test one directly from a pod: dig @<dns pod IP> kubernetes.default.svc.cluster.local.",
            ),
            explains: failed.iter().map(|(i, _)| *i).collect(),
        }]
    }
}

pub struct DnsVipBroken;

impl Rule for DnsVipBroken {
    fn rank(&self) -> u16 {
        62
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // Per source node: direct queries answer, queries through the Service get nothing.
        let mut direct_ok: BTreeSet<&str> = BTreeSet::new();
        for c in ev
            .checks
            .iter()
            .filter(|c| is_dns_direct(c) && c.status == Status::Pass)
        {
            if let Some(n) = c.source_node() {
                direct_ok.insert(n);
            }
        }
        let failed: Vec<(usize, &Check)> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| {
                is_dns_via_service(c)
                    && no_answer(c)
                    && c.source_node().is_some_and(|n| direct_ok.contains(n))
            })
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        let nodes = nodes_of(failed.iter().map(|(_, c)| *c));
        let mut evidence = vec![format!(
            "from pods on {}: the DNS pods answer directly, but queries to {} get no answer",
            nodes.join(", "),
            dns_service(ev)
        )];
        evidence.extend(failed.iter().take(4).map(|(_, c)| describe_check(c)));
        vec![Diagnosis {
            finding: finding(
                FindingId::DnsVipBroken,
                Severity::Error,
                format!(
                    "The DNS Service IP does not answer from {}, although the DNS pods do",
                    nodes.join(", ")
                ),
                nodes,
                cap_evidence(evidence, 8),
                "The DNS pods work; the Service in front of them does not. Check the kube-dns \
                 Service's endpoints (kubectl -n kube-system get endpointslices -l \
                 kubernetes.io/service-name=kube-dns) and kube-proxy's rules for UDP and TCP 53 \
                 on the affected nodes.",
            ),
            explains: failed.iter().map(|(i, _)| *i).collect(),
        }]
    }
}

pub struct DnsResolutionFailed;

impl Rule for DnsResolutionFailed {
    fn rank(&self) -> u16 {
        64
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // An answer came, but not the right one (NXDOMAIN, no records, a wrong address).
        let failed: Vec<(usize, &Check)> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| c.kind == CheckKind::Dns && !no_answer(c))
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        let mut by_name: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for (_, c) in &failed {
            let e = by_name
                .entry(c.target.name.clone().unwrap_or_default())
                .or_insert((0, c.detail.clone()));
            e.0 += 1;
        }
        let evidence: Vec<String> = by_name
            .iter()
            .map(|(name, (n, detail))| format!("{name}: {detail} ({n} queries)"))
            .collect();
        let names: Vec<&str> = by_name.keys().map(String::as_str).collect();
        vec![Diagnosis {
            finding: finding(
                FindingId::DnsResolutionFailed,
                Severity::Error,
                format!("DNS answers, but {} does not resolve", names.join(", ")),
                nodes_of(failed.iter().map(|(_, c)| *c)),
                cap_evidence(evidence, 8),
                "The DNS server is reachable but gives the wrong answer: check the CoreDNS \
                 ConfigMap (kubectl -n kube-system get configmap coredns -o yaml) for the \
                 `kubernetes` plugin and the cluster domain, the kubelet's --cluster-domain and \
                 the pods' /etc/resolv.conf search path.",
            ),
            explains: failed.iter().map(|(i, _)| *i).collect(),
        }]
    }
}

pub struct DnsSlow;

impl Rule for DnsSlow {
    fn rank(&self) -> u16 {
        66
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // Nodes that cannot reach a DNS server for a reason a root already
        // names: their queries through the Service balanced to that server
        // come back late, after a retry. That slowness is the root again.
        let behind_root: BTreeSet<&str> = ev
            .checks
            .iter()
            .enumerate()
            .filter(|(i, c)| is_dns_direct(c) && explained.contains(i))
            .filter_map(|(_, c)| c.source_node())
            .collect();
        let mut dns: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        // Pod round trips as (latency, how many): a cell's omitted passes
        // count at its median.
        let mut pod_rtt: BTreeMap<&str, Vec<(f64, usize)>> = BTreeMap::new();
        for c in ev.checks.iter().filter(|c| c.status == Status::Pass) {
            let (Some(n), Some(l)) = (c.source_node(), c.latency_ms) else {
                continue;
            };
            match c.kind {
                CheckKind::Dns if is_dns_via_service(c) && behind_root.contains(n) => {}
                CheckKind::Dns => dns.entry(n).or_default().push(l),
                CheckKind::PodToPod => pod_rtt.entry(n).or_default().push((l, 1)),
                _ => {}
            }
        }
        for c in crate::diagnose::facts::omitted(ev.cells).filter(|c| c.kind == CheckKind::PodToPod)
        {
            if let Some(m) = c.median_latency_ms {
                pod_rtt
                    .entry(&c.source)
                    .or_default()
                    .push((m, c.omitted as usize));
            }
        }
        let slow: Vec<(String, f64, Option<f64>)> = dns
            .into_iter()
            .filter_map(|(n, v)| {
                let m = median(v)?;
                let base = pod_rtt
                    .get(n)
                    .cloned()
                    .and_then(crate::diagnose::facts::weighted_median);
                let slower = base.is_none_or(|b| m > SLOW_FACTOR * b);
                (m > SLOW_MS && slower).then(|| (n.to_string(), m, base))
            })
            .collect();
        if slow.is_empty() {
            return Vec::new();
        }
        let evidence = slow
            .iter()
            .map(|(n, m, base)| match base {
                Some(b) => format!(
                    "{n}: median DNS answer time {m:.0} ms (threshold {SLOW_MS:.0} ms), \
                     while pod-to-pod round trips take {b:.1} ms"
                ),
                None => {
                    format!("{n}: median DNS answer time {m:.0} ms (threshold {SLOW_MS:.0} ms)")
                }
            })
            .collect();
        let nodes: Vec<String> = slow.iter().map(|(n, _, _)| n.clone()).collect();
        vec![Diagnosis {
            finding: finding(
                FindingId::DnsSlow,
                Severity::Warning,
                format!("DNS answers slowly on {}", nodes.join(", ")),
                nodes,
                evidence,
                "Slow cluster DNS usually means overloaded DNS pods (scale CoreDNS or add \
                 NodeLocal DNSCache), lost UDP packets retried after 5 s (conntrack races: use \
                 `options single-request-reopen` or NodeLocal DNSCache), or a slow upstream.",
            ),
            explains: BTreeSet::new(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::sim;
    use crate::model::{CheckKind, FindingId, Outcome};

    #[test]
    fn dns_down_is_dns_unreachable_only() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if t.kind == CheckKind::Dns {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::DnsUnreachable], "{f:#?}");
    }

    #[test]
    fn pods_answer_but_the_service_does_not_is_dns_vip_broken() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if t.kind == CheckKind::Dns && t.note.is_some_and(|n| n.contains("via the DNS Service"))
            {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::DnsVipBroken], "{f:#?}");
        assert_eq!(f[0].nodes.len(), 3);
    }

    #[test]
    fn nxdomain_and_wrong_answers_are_resolution_failures() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            if t.kind == CheckKind::Dns && t.note.is_some_and(|n| n.contains("search path")) {
                sim::Answer {
                    outcome: Outcome::Error,
                    detail: Some("NXDOMAIN".into()),
                    ..sim::ok()
                }
            } else if t.kind == CheckKind::Dns {
                sim::Answer {
                    addresses: Some(vec!["198.19.99.99".parse().unwrap()]),
                    ..sim::ok()
                }
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::DnsResolutionFailed], "{f:#?}");
        assert!(f[0].evidence.iter().any(|e| e.contains("NXDOMAIN")));
        assert!(f[0].evidence.iter().any(|e| e.contains("wrong answer")));
    }

    #[test]
    fn slow_answers_are_a_warning() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            if t.kind == CheckKind::Dns {
                sim::Answer {
                    latency_ms: 900.0,
                    ..sim::ok()
                }
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::DnsSlow]);
        assert_eq!(f[0].severity, crate::model::Severity::Warning);
    }

    #[test]
    fn everything_slow_is_not_a_dns_problem() {
        // A loaded node: every round trip takes 800 ms, DNS included.
        let d = sim::cluster(2);
        let checks = sim::run(&d, |_| sim::Answer {
            latency_ms: 800.0,
            ..sim::ok()
        });
        assert!(sim::diagnose(&d, &checks).is_empty());
    }
}
