//! `hairpin-broken`: a pod cannot reach itself through its own Service IP,
//! and the bridge ports on its node have hairpin mode off. After DNAT the
//! packet must leave the bridge by the port it came in on, which a bridge
//! only does for ports with hairpin on.

use super::host::{self, diagnosis};
use crate::diagnose::facts::{is_failed, is_hairpin};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::query;
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct HairpinBroken;

impl Rule for HairpinBroken {
    fn rank(&self) -> u16 {
        18
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter_map(|h| {
                let n = h.node.as_str();
                let bridges = query::pod_bridges(h);
                let off: Vec<_> = h
                    .interfaces
                    .iter()
                    .filter(|i| i.hairpin == Some(false))
                    .filter(|i| i.master.as_ref().is_some_and(|m| bridges.contains(m)))
                    .collect();
                if off.is_empty() {
                    return None;
                }
                let hairpins: Vec<usize> = ev
                    .checks
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| is_hairpin(c) && c.source_node() == Some(n))
                    .map(|(i, _)| i)
                    .collect();
                let explains: BTreeSet<usize> = hairpins
                    .iter()
                    .copied()
                    .filter(|&i| is_failed(&ev.checks[i]) && !explained.contains(&i))
                    .collect();
                if explains.is_empty() {
                    return None;
                }
                let mut evidence: Vec<String> = off
                    .iter()
                    .take(6)
                    .map(|i| {
                        format!(
                            "{n}: bridge port {} on {}: hairpin off (/sys/class/net/{}/brport/hairpin_mode = 0)",
                            i.name,
                            i.master.as_deref().unwrap_or("?"),
                            i.name
                        )
                    })
                    .collect();
                let counted: usize = crate::diagnose::facts::omitted(ev.cells)
                    .filter(|c| c.hairpin && c.source == n)
                    .map(|c| c.omitted as usize)
                    .sum();
                evidence.push(format!(
                    "{n}: {} of {} hairpin checks (a pod through its own Service) fail",
                    explains.len(),
                    hairpins.len() + counted
                ));
                Some(diagnosis(
                    ev,
                    FindingId::HairpinBroken,
                    Severity::Error,
                    format!("Pods on {n} cannot reach themselves through their Service (hairpin off)"),
                    n,
                    evidence,
                    explains,
                    format!(
                        "On {n}: `ip link set <veth> type bridge_slave hairpin on` for each pod port (or \
                         `echo 1 > /sys/class/net/<veth>/brport/hairpin_mode`); make it stick with \
                         \"hairpinMode\": true in the bridge CNI config (flannel: in its delegate) or kubelet \
                         --hairpin-mode=hairpin-veth, then recreate the pods"
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
    use crate::model::FindingId;

    fn hairpin(t: &crate::plan::CheckTemplate) -> bool {
        t.note == Some("hairpin")
    }

    #[test]
    fn hairpin_off_and_failed_hairpin_checks() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            if hairpin(t) && t.source.node.as_deref() == Some("node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let mut hosts = testing::healthy_hosts(&d);
        for i in hosts[1]
            .interfaces
            .iter_mut()
            .filter(|i| i.master.is_some())
        {
            i.hairpin = Some(false);
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::HairpinBroken], "{f:#?}");
        assert!(
            f[0].evidence[0].starts_with("node-1: bridge port veth"),
            "{:?}",
            f[0].evidence
        );
        assert!(f[0].evidence[0].contains("on cni0: hairpin off"));
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("hairpin checks (a pod through its own Service) fail"))
        );
    }

    #[test]
    fn hairpin_off_with_passing_checks_or_failures_with_hairpin_on_are_not_it() {
        let (d, checks, mut hosts) = testing::healthy(2);
        for i in hosts[1]
            .interfaces
            .iter_mut()
            .filter(|i| i.master.is_some())
        {
            i.hairpin = Some(false);
        }
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        let checks = sim::run(&d, |t| {
            if hairpin(t) {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let hosts = testing::healthy_hosts(&d);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(!sim::ids(&f).contains(&FindingId::HairpinBroken), "{f:#?}");
    }
}
