//! `overlay-port-blocked`: the nodes reach each other, but a firewall rule
//! drops the overlay's own traffic (VXLAN udp/8472 or 4789, Geneve udp/6081,
//! WireGuard udp/51820, IPIP protocol 4), so pod traffic between nodes dies
//! while ssh and the API server keep working.

use super::host::{self, diagnosis};
use crate::diagnose::facts::crosses_node;
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::query;
use crate::model::{CheckKind, FindingId, Severity, Status};
use std::collections::BTreeSet;

pub struct OverlayPortBlocked;

impl Rule for OverlayPortBlocked {
    fn rank(&self) -> u16 {
        14
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter_map(|h| {
                let ov = query::overlay(h)?;
                let rule = query::overlay_block(h, &ov)?;
                let n = h.node.as_str();
                let explains: BTreeSet<usize> = ev
                    .unexplained_failures(explained)
                    .filter(|(_, c)| {
                        crosses_node(c, n)
                            // A VIP (DNS, API server) asked from the node's pods.
                            || (c.source_node() == Some(n) && c.target_node().is_none())
                    })
                    .map(|(i, _)| i)
                    .collect();
                // Host traffic between the nodes: pod→node checks across nodes
                // go over the underlay, not the overlay.
                let host_ok = ev
                    .checks
                    .iter()
                    .filter(|c| c.kind == CheckKind::PodToNode && crosses_node(c, n))
                    .filter(|c| c.status == Status::Pass)
                    .count()
                    + crate::diagnose::facts::omitted(ev.cells)
                        .filter(|c| c.kind == CheckKind::PodToNode)
                        .filter(|c| c.source != c.target && (c.source == *n || c.target == *n))
                        .map(|c| c.omitted as usize)
                        .sum::<usize>();
                let mut evidence = vec![
                    format!("{n}: overlay {}", ov.describe()),
                    format!("{n}: the firewall drops {}: {rule}", ov.wire()),
                ];
                if host_ok > 0 {
                    evidence.push(format!(
                        "{host_ok} pod-to-node check(s) between {n} and other nodes pass: the underlay works"
                    ));
                }
                let severity = if explains.is_empty() { Severity::Warning } else { Severity::Error };
                Some(diagnosis(
                    ev,
                    FindingId::OverlayPortBlocked,
                    severity,
                    format!("{n}'s firewall blocks the {} overlay ({})", ov.kind, ov.wire()),
                    n,
                    evidence,
                    explains,
                    format!(
                        "Allow the overlay between the nodes on {n} and in any cloud security group: {} from the \
                         other nodes' addresses (e.g. `iptables -I INPUT -p udp --dport {} -s <node network> -j ACCEPT`, \
                         or remove the rule quoted above)",
                        ov.wire(),
                        ov.port.map(|p| p.to_string()).unwrap_or_else(|| "<port>".into())
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
    use crate::model::{CheckKind, FindingId, Severity};

    #[test]
    fn vxlan_dropped_while_host_traffic_passes() {
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
        testing::block_vxlan(&mut hosts[2]);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::OverlayPortBlocked], "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].evidence[0],
            "node-2: overlay vxlan flannel.1 (VNI 1, udp/8472, dev eth0)"
        );
        assert!(f[0].evidence[1].contains("-A INPUT -p udp -m udp --dport 8472 -j DROP"));
        assert!(
            f[0].evidence[2].contains("pod-to-node check(s) between node-2 and other nodes pass")
        );
    }

    #[test]
    fn other_ports_blocked_are_not_the_overlay() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let extra = crate::inspect::iptables::parse(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m udp --dport 4789 -j DROP\n-A INPUT -p tcp -m tcp --dport 8472 -j DROP\nCOMMIT\n",
        );
        let b = &mut hosts[0].firewall.as_mut().unwrap().iptables[1];
        let filter = b.tables.iter_mut().find(|t| t.name == "filter").unwrap();
        filter
            .chain_mut("INPUT")
            .unwrap()
            .rules
            .extend(extra.tables[0].chains[0].rules.clone());
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }
}
