//! `mtu-blackhole`: small packets cross, larger ones with DF set vanish
//! without an ICMP "fragmentation needed" coming back. Says the path MTU
//! found and the MTU the pods were configured with: `configuredMtu`, the MTU
//! of the source pod's own interface as its agent read it inside the pod.
//! Fires only when the path carries less than that, so an overlay whose pods
//! have 1450 on eth0 and whose path carries 1450 is healthy.

use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, finding};
use crate::model::{CheckKind, FindingId, Severity};
use std::collections::{BTreeMap, BTreeSet};

pub struct MtuBlackhole;

impl Rule for MtuBlackhole {
    fn rank(&self) -> u16 {
        45
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // MTU checks that found a path smaller than configured (small sizes
        // passed, so the path is up and the big packets are what vanish).
        let short: Vec<(usize, &crate::model::Check)> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| {
                c.kind == CheckKind::Mtu
                    && matches!((c.path_mtu, c.configured_mtu), (Some(p), Some(m)) if p < m)
            })
            .collect();
        if short.is_empty() {
            return Vec::new();
        }
        // The node in every short path is the culprit; otherwise name all.
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, c) in &short {
            for n in [c.source_node(), c.target_node()].into_iter().flatten() {
                *count.entry(n).or_default() += 1;
            }
        }
        let common: Vec<String> = count
            .iter()
            .filter(|(_, n)| **n == short.len())
            .map(|(k, _)| k.to_string())
            .collect();
        let nodes: Vec<String> =
            if common.is_empty() || common.len() == count.len() && count.len() > 2 {
                count.keys().map(|k| k.to_string()).collect()
            } else {
                common
            };
        let found = short
            .iter()
            .filter_map(|(_, c)| c.path_mtu)
            .min()
            .unwrap_or(0);
        let configured = short
            .iter()
            .filter_map(|(_, c)| c.configured_mtu)
            .max()
            .unwrap_or(0);
        let mut evidence = vec![format!(
            "path MTU found: {found} bytes; pod interfaces are configured for {configured}: \
             packets of {}..{configured} bytes with DF set are dropped silently",
            found + 1
        )];
        let mut pairs = BTreeSet::new();
        for (_, c) in &short {
            if let (Some(a), Some(b), Some(p)) = (c.source_node(), c.target_node(), c.path_mtu) {
                pairs.insert(format!("{a} → {b}: largest packet that crossed {p} bytes"));
            }
        }
        evidence.extend(pairs);
        let explains = short.iter().map(|(i, _)| *i).collect();
        vec![Diagnosis {
            finding: finding(
                FindingId::MtuBlackhole,
                Severity::Error,
                format!(
                    "Packets larger than {found} bytes vanish on paths through {} (pods use MTU {configured})",
                    nodes.join(", ")
                ),
                nodes.clone(),
                cap_evidence(evidence, 10),
                format!(
                    "The network under the overlay carries less than the pods send, and no ICMP \
                     'fragmentation needed' comes back, so large transfers hang while small \
                     requests work. Either raise the MTU of the underlay on {} back to what the \
                     overlay needs ({configured} + the encapsulation overhead, e.g. 50 bytes for \
                     VXLAN), or lower the CNI's MTU to {found} (e.g. the `mtu` of the CNI config \
                     or the CNI's ConfigMap) and restart the pods. Confirm by hand from a pod: \
                     ping -M do -s {} <pod IP on another node>",
                    nodes.join(", "),
                    configured.saturating_sub(28)
                ),
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
    fn a_short_path_through_one_node_names_the_node_and_the_sizes() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            let mut a = sim::ok();
            if t.kind == CheckKind::Mtu
                && (t.source.node.as_deref() == Some("node-2")
                    || t.target.node.as_deref() == Some("node-2"))
            {
                a.path_mtu = Some(1350);
            }
            a
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::MtuBlackhole], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-2".to_string()]);
        assert!(f[0].evidence[0].contains("1350") && f[0].evidence[0].contains("1450"));
        assert!(f[0].title.contains("1350") && f[0].title.contains("MTU 1450"));
    }

    #[test]
    fn an_overlay_whose_path_carries_the_pods_1450_has_no_finding() {
        // The pods' eth0 is 1450 (read by the agents; the runtime does not
        // know it) and the path carries 1450: healthy, not a blackhole
        // against an assumed 1500.
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            let mut a = sim::ok();
            if t.kind == CheckKind::Mtu {
                a.path_mtu = Some(1450);
            }
            a
        });
        let mtu: Vec<_> = checks.iter().filter(|c| c.kind == CheckKind::Mtu).collect();
        assert!(!mtu.is_empty());
        assert!(
            mtu.iter()
                .all(|c| c.configured_mtu == Some(1450) && c.path_mtu == Some(1450)),
            "{mtu:#?}"
        );
        let f = sim::diagnose(&d, &checks);
        assert!(sim::ids(&f).is_empty(), "{f:#?}");
    }
}
