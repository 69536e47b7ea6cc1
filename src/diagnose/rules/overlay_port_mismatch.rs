//! `overlay-port-mismatch`: the nodes' overlay devices of one name
//! (`vxlan.calico`, `flannel.1`, …) do not agree on their UDP port. A VXLAN
//! device sends to its own `dstport` and listens on it: a node whose device
//! says 4790 while the others say 4789 sends where nobody listens and
//! listens where nobody sends, so pod traffic between it and every other
//! node dies, while the underlay (and so the node's own traffic) works.
//! Typical after a partial change of the port (FELIX_VXLANPORT, flannel's
//! `Port`) that only some nodes' agents picked up.
//!
//! The odd node is the one whose port differs from the port most nodes use;
//! with no majority (two nodes) every node of the device is named.

use super::host::{self, claim};
use crate::diagnose::facts::crosses_node;
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::inspect::query::{self, Overlay};
use crate::model::{FindingId, Severity};
use std::collections::{BTreeMap, BTreeSet};

pub struct OverlayPortMismatch;

impl Rule for OverlayPortMismatch {
    fn rank(&self) -> u16 {
        14
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // Device → (node, overlay), for UDP overlays with a known port.
        let mut by_device: BTreeMap<String, Vec<(&str, Overlay)>> = BTreeMap::new();
        for h in host::hosts(ev) {
            if let Some(ov) = query::overlay(h).filter(|o| o.protocol == "udp" && o.port.is_some())
            {
                by_device
                    .entry(ov.device.clone())
                    .or_default()
                    .push((h.node.as_str(), ov));
            }
        }
        by_device
            .into_values()
            .filter_map(|nodes| mismatch(ev, explained, &nodes))
            .collect()
    }
}

fn mismatch(
    ev: &Evidence<'_>,
    explained: &BTreeSet<usize>,
    nodes: &[(&str, Overlay)],
) -> Option<Diagnosis> {
    // Port → nodes, in report order of first appearance.
    let mut groups: Vec<(u16, Vec<&str>)> = Vec::new();
    for (n, ov) in nodes {
        let port = ov.port?;
        match groups.iter_mut().find(|(p, _)| *p == port) {
            Some((_, v)) => v.push(n),
            None => groups.push((port, vec![n])),
        }
    }
    if groups.len() < 2 {
        return None;
    }
    let most = groups.iter().map(|(_, v)| v.len()).max()?;
    let majority: Option<u16> = {
        let top: Vec<u16> = groups
            .iter()
            .filter(|(_, v)| v.len() == most)
            .map(|(p, _)| *p)
            .collect();
        (top.len() == 1).then(|| top[0])
    };
    let odd: Vec<&str> = groups
        .iter()
        .filter(|(p, _)| Some(*p) != majority)
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let describe = |n: &str| {
        nodes
            .iter()
            .find(|(x, _)| *x == n)
            .map(|(_, o)| o.describe())
            .unwrap_or_default()
    };
    let device = &nodes[0].1.device;
    let mut evidence: Vec<String> = odd
        .iter()
        .map(|n| format!("{n}: overlay {}", describe(n)))
        .collect();
    if let Some(p) = majority {
        let (_, agree) = groups.iter().find(|(q, _)| *q == p)?;
        evidence.push(format!("{}: overlay {device} on udp/{p}", agree.join(", ")));
    }
    let explains = claim(ev, explained, |c| {
        odd.iter().any(|n| {
            crosses_node(c, n)
                // A VIP (DNS, API server) asked from the node's pods.
                || (c.source_node() == Some(n) && c.target_node().is_none())
        })
    });
    let who = odd.join(", ");
    if !explains.is_empty() {
        evidence.push(format!(
            "{} failed check(s) pass through {who}, for example:",
            explains.len()
        ));
        evidence.extend(
            explains
                .iter()
                .take(5)
                .map(|&i| format!("  {}", describe_check(&ev.checks[i]))),
        );
    }
    let severity = if explains.is_empty() {
        Severity::Warning
    } else {
        Severity::Error
    };
    let setting = if device.contains("calico") {
        "Calico's FelixConfiguration vxlanPort (or FELIX_VXLANPORT on calico-node)"
    } else if device.starts_with("flannel") {
        "the VXLAN backend's Port in flannel's net-conf.json"
    } else {
        "the CNI's VXLAN port setting"
    };
    let (title, fix) = match majority {
        Some(p) => (
            format!("{who}'s {device} uses another UDP port than the other nodes' (udp/{p})"),
            format!(
                "Give {device} the same port on every node ({setting}), then restart the CNI's agent \
                 on {who} so it recreates the device (`ip -d link show {device}` shows `dstport`)"
            ),
        ),
        None => (
            format!("the nodes' {device} devices disagree on the UDP port"),
            format!(
                "Give {device} the same port on every node ({setting}), then restart the CNI's agent \
                 on the nodes whose device differs (`ip -d link show {device}` shows `dstport`)"
            ),
        ),
    };
    Some(Diagnosis {
        finding: finding(
            FindingId::OverlayPortMismatch,
            severity,
            title,
            odd.iter().map(|n| n.to_string()).collect(),
            cap_evidence(evidence, 12),
            fix,
        ),
        explains,
    })
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::host::HostReport;
    use crate::model::{CheckKind, FindingId, Severity};

    fn set_port(h: &mut HostReport, port: u16) {
        let i = h
            .interfaces
            .iter_mut()
            .find(|i| i.kind.as_deref() == Some("vxlan"))
            .expect("the fixture has a VXLAN device");
        i.tunnel.get_or_insert_with(Default::default).port = Some(port);
    }

    #[test]
    fn the_node_on_another_port_is_named_with_both_ports() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| match sim::nodes_of(t) {
            (Some(a), Some(b))
                if a != b && (a == "node-2" || b == "node-2") && t.kind != CheckKind::PodToNode =>
            {
                sim::timeout()
            }
            _ => sim::ok(),
        });
        let mut hosts = testing::healthy_hosts(&d);
        set_port(&mut hosts[2], 4790);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::OverlayPortMismatch], "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].nodes, vec!["node-2"]);
        assert!(
            f[0].evidence[0].starts_with("node-2: overlay vxlan flannel.1 (VNI 1, udp/4790"),
            "{f:#?}"
        );
        assert_eq!(
            f[0].evidence[1],
            "node-0, node-1: overlay flannel.1 on udp/8472"
        );
        let failed = checks
            .iter()
            .filter(|c| c.status == crate::model::Status::Fail)
            .count();
        assert!(
            f[0].evidence[2].starts_with(&format!("{failed} failed check(s) pass through node-2"))
        );
        assert!(f[0].title.contains("udp/8472"));
        assert!(
            f[0].remediation.contains("flannel's net-conf.json"),
            "{}",
            f[0].remediation
        );
    }

    #[test]
    fn agreeing_ports_and_different_devices_are_silent() {
        let (d, checks, mut hosts) = testing::healthy(3);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        // Another device name on one node (a CNI migration): not comparable.
        let i = hosts[1]
            .interfaces
            .iter_mut()
            .find(|i| i.kind.as_deref() == Some("vxlan"))
            .unwrap();
        i.name = "vxlan.calico".into();
        set_port(&mut hosts[1], 4789);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }

    #[test]
    fn two_nodes_without_a_majority_are_both_named() {
        let (d, checks, mut hosts) = testing::healthy(2);
        set_port(&mut hosts[1], 4789);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::OverlayPortMismatch]);
        assert_eq!(f[0].nodes, vec!["node-0", "node-1"]);
        assert_eq!(f[0].severity, Severity::Warning, "nothing failed");
    }
}
