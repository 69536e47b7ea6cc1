//! `rp-filter-strict`: strict reverse-path filtering (rp_filter = 1) on an
//! interface pod traffic crosses: the pod bridge, the overlay device, the
//! underlay. The kernel uses max(conf.all, conf.<iface>), so `all = 1`
//! makes every interface strict. Packets whose reverse route leaves by
//! another interface (asymmetric overlay or multi-NIC paths) are dropped
//! silently. A warning unless failed checks cross the node.

use super::host::{self, claim, diagnosis, routed_by};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::query;
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct RpFilterStrict;

impl Rule for RpFilterStrict {
    fn rank(&self) -> u16 {
        19
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // rp_filter is IPv4's (`net.ipv4.conf.*`): IPv6 has no such switch,
        // so IPv6's run (an IPv6-only cluster, or dual stack's IPv6 half)
        // has nothing to say.
        if crate::diagnose::facts::run_is_ipv6(ev) {
            return Vec::new();
        }
        host::hosts(ev)
            .filter_map(|h| {
                let s = h.sysctls.as_ref()?;
                let strict: Vec<String> = query::pod_path_interfaces(h)
                    .into_iter()
                    .filter(|i| s.effective_rp_filter(i) == Some(1))
                    .collect();
                if strict.is_empty() {
                    return None;
                }
                let n = h.node.as_str();
                let all = s.rp_filter.get("all").copied();
                let evidence: Vec<String> = strict
                    .iter()
                    .map(|i| {
                        format!(
                            "{n}: net.ipv4.conf.{i}.rp_filter = {}, net.ipv4.conf.all.rp_filter = {} → strict on {i} (the kernel uses the larger)",
                            s.rp_filter.get(i).map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
                            all.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
                        )
                    })
                    .collect();
                let explains = claim(ev, explained, |c| c.is_cross_node() && routed_by(c, n));
                let severity = if explains.is_empty() { Severity::Warning } else { Severity::Error };
                let keys: Vec<String> = std::iter::once("all".to_string()).chain(strict.iter().cloned()).collect();
                Some(diagnosis(
                    ev,
                    FindingId::RpFilterStrict,
                    severity,
                    format!("{n}: strict reverse-path filtering on {}", strict.join(", ")),
                    n,
                    evidence,
                    explains,
                    format!(
                        "On {n}: use loose mode: {}; persist in /etc/sysctl.d/ (systemd's 50-default.conf sets all.rp_filter on some distributions)",
                        keys.iter().map(|k| format!("`sysctl -w net.ipv4.conf.{k}.rp_filter=2`")).collect::<Vec<_>>().join(", ")
                    ),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::{FindingId, Severity};

    #[test]
    fn all_strict_makes_the_overlay_strict_and_claims_cross_node_failures() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| match sim::nodes_of(t) {
            (Some(a), Some(b)) if a != b => sim::timeout(),
            _ => sim::ok(),
        });
        let mut hosts = testing::healthy_hosts(&d);
        hosts[1]
            .sysctls
            .as_mut()
            .unwrap()
            .rp_filter
            .insert("all".into(), 1);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(f[0].id, FindingId::RpFilterStrict, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("strict on flannel.1")),
            "{:?}",
            f[0].evidence
        );
        assert!(f[0].evidence.iter().any(|e| e.contains("strict on cni0")));
        assert!(f[0].remediation.contains("net.ipv4.conf.all.rp_filter=2"));
    }

    /// rp_filter is IPv4's: on dual stack the warning is IPv4's alone, and
    /// an IPv6-only cluster has nothing to be warned of.
    #[test]
    fn strict_rp_filter_is_ipv4_only() {
        let d = sim::dual_stack(sim::cluster(2));
        let checks = sim::run(&d, |_| sim::ok());
        let mut hosts = testing::healthy_hosts(&d);
        let strict = |hosts: &mut Vec<crate::model::host::HostReport>| {
            let s = hosts[0].sysctls.as_mut().unwrap();
            s.rp_filter.insert("all".into(), 1);
        };
        strict(&mut hosts);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::RpFilterStrict], "{f:#?}");
        assert!(f[0].title.starts_with("IPv4 only"), "{}", f[0].title);
        let six: Vec<crate::model::Check> = checks
            .iter()
            .filter(|c| c.family() == crate::model::Family::Ipv6)
            .cloned()
            .collect();
        assert!(!six.is_empty());
        let f = testing::diagnose(&d, &six, &hosts);
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn strict_without_failures_is_a_warning_and_loose_is_nothing() {
        let (d, checks, mut hosts) = testing::healthy(2);
        hosts[0]
            .sysctls
            .as_mut()
            .unwrap()
            .rp_filter
            .insert("all".into(), 2);
        hosts[0]
            .sysctls
            .as_mut()
            .unwrap()
            .rp_filter
            .insert("flannel.1".into(), 2);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        hosts[0]
            .sysctls
            .as_mut()
            .unwrap()
            .rp_filter
            .insert("flannel.1".into(), 1);
        let f = testing::diagnose(&d, &checks, &hosts);
        // max(2, 1) = 2: loose wins.
        assert!(f.is_empty(), "{f:#?}");
        hosts[0]
            .sysctls
            .as_mut()
            .unwrap()
            .rp_filter
            .insert("all".into(), 0);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::RpFilterStrict]);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].title.contains("flannel.1") && !f[0].title.contains("cni0"));
    }
}
