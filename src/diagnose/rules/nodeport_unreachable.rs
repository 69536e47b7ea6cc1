//! `nodeport-unreachable`: a node's IP at its probe Service's nodePort
//! answers no one (or no one from another node), while the same Service's
//! ClusterIP reaches the same pod. The backend is on that node and works;
//! what is missing is the node's NodePort translation: kube-proxy's
//! KUBE-NODEPORTS rules (or `service-nodeports` map), its
//! `--nodeport-addresses` leaving the node's IP out, or a firewall in front
//! of the NodePort range. Grouped into one finding naming every such node.

use crate::diagnose::facts::{Tally, is_hairpin};
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, describe_check, finding};
use crate::model::host::{HostReport, IptChain, NftTable};
use crate::model::{CheckKind, FindingId, Severity, Status};
use std::collections::{BTreeMap, BTreeSet};

pub struct NodeportUnreachable;

/// Per node dialled: every NodePort check, and those from other nodes.
#[derive(Default)]
struct Target {
    /// The Service behind the nodePort (`namespace/name`).
    service: String,
    all: Tally,
    remote: Tally,
    failed: Vec<usize>,
}

impl Rule for NodeportUnreachable {
    fn rank(&self) -> u16 {
        52
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mut per_node: BTreeMap<&str, Target> = BTreeMap::new();
        for (i, c) in ev.checks.iter().enumerate() {
            // Hairpin too: a hairpin fault is the hairpin rule's, which ran before.
            if c.kind != CheckKind::Nodeport || explained.contains(&i) {
                continue;
            }
            let Some(t) = c.target_node() else { continue };
            let e = per_node.entry(t).or_default();
            e.service = c.target.name.clone().unwrap_or_default();
            e.all.add(c);
            if c.source_node() != Some(t) {
                e.remote.add(c);
            }
            if matches!(c.status, Status::Fail | Status::Error) {
                e.failed.push(i);
            }
        }
        // The same Service through its ClusterIP: the backend answers.
        let cluster_ip = |service: &str| {
            let mut t = Tally::default();
            for c in ev.checks.iter().filter(|c| {
                c.kind == CheckKind::PodToService
                    && c.target.name.as_deref() == Some(service)
                    && !is_hairpin(c)
            }) {
                t.add(c);
            }
            t
        };
        let bad: Vec<(&str, &Target, Tally)> = per_node
            .iter()
            .filter(|(_, t)| t.all.all_fail() || t.remote.all_fail())
            .map(|(n, t)| (*n, t, cluster_ip(&t.service)))
            // A backend its ClusterIP does not reach either is not a NodePort
            // problem (and another rule's).
            .filter(|(_, _, vip)| vip.any_pass() || vip.fail == 0)
            .collect();
        if bad.is_empty() {
            return Vec::new();
        }
        let nodes: Vec<String> = bad.iter().map(|(n, _, _)| n.to_string()).collect();
        let mut evidence = Vec::new();
        let mut explains = BTreeSet::new();
        for (n, t, vip) in &bad {
            let local = t.all.pass > 0;
            evidence.push(format!(
                "{n}'s IP at the nodePort: {} of {} checks fail{}; {}",
                t.failed.len(),
                t.all.pass + t.all.fail,
                if local {
                    " (only from other nodes: from the node itself it answers)"
                } else {
                    ""
                },
                if vip.any_pass() {
                    format!(
                        "the same Service's ClusterIP reaches the pod ({} of {} pass)",
                        vip.pass,
                        vip.pass + vip.fail
                    )
                } else {
                    "its ClusterIP was not checked".to_string()
                }
            ));
            if let Some(h) = ev.hosts.iter().find(|h| h.node == *n) {
                evidence.extend(host_evidence(ev, h));
            }
            explains.extend(t.failed.iter().copied());
        }
        evidence.extend(
            explains
                .iter()
                .take(4)
                .map(|&i| describe_check(&ev.checks[i])),
        );
        let only_remote = bad.iter().all(|(_, t, _)| t.all.pass > 0);
        let list = nodes.join(", ");
        let title = if only_remote {
            format!(
                "NodePorts on {list} do not answer from other nodes, although the Service's ClusterIP works"
            )
        } else {
            format!("NodePorts on {list} do not answer, although the Service's ClusterIP works")
        };
        vec![Diagnosis {
            finding: finding(
                FindingId::NodeportUnreachable,
                Severity::Error,
                title,
                nodes,
                cap_evidence(evidence, 12),
                format!(
                    "kube-proxy (or its replacement) programs NodePorts on each node. On {list}: \
                     look for the nodePort in its rules (`iptables-save -t nat | grep -e KUBE-NODEPORTS \
                     -e 'service nodeports'`, or `nft list map ip kube-proxy service-nodeports` and \
                     `nft list set ip kube-proxy nodeport-ips`, `ip6 kube-proxy` for IPv6); check kube-proxy's \
                     `nodePortAddresses` (`kubectl -n kube-system get cm kube-proxy -o yaml`) includes \
                     the node's IP, and restart kube-proxy there. When it fails only from other nodes, \
                     a firewall (cloud security group, host firewall) blocks the NodePort range \
                     (30000-32767 by default) between nodes."
                ),
            ),
            explains,
        }]
    }
}

/// What kube-proxy's nftables tables say of the node's NodePorts: an empty
/// `service-nodeports` map, or an empty `nodeport-ips` set, where other
/// nodes' hold elements (a cluster without NodePort Services has them empty
/// everywhere).
fn nft_evidence(ev: &Evidence<'_>, h: &HostReport) -> Vec<String> {
    let n = h.node.as_str();
    let mut out = Vec::new();
    for t in kube_proxy_tables(h) {
        for set in ["service-nodeports", "nodeport-ips"] {
            if t.set_size(set) != Some(0) {
                continue;
            }
            let others: Vec<String> = ev
                .hosts
                .iter()
                .filter(|o| o.node != n)
                .filter_map(|o| {
                    let size = kube_proxy_tables(o)
                        .filter(|ot| ot.family == t.family)
                        .find_map(|ot| ot.set_size(set))?;
                    (size > 0).then(|| format!("{size} on {}", o.node))
                })
                .collect();
            if !others.is_empty() {
                let more = others.len().saturating_sub(2);
                out.push(format!(
                    "{n}: nft {} kube-proxy {set} is empty (it holds {}{})",
                    t.family,
                    others[..others.len().min(2)].join(", "),
                    if more > 0 {
                        format!(" and elements on {more} more node(s)")
                    } else {
                        String::new()
                    }
                ));
            } else if let Some(ports) = programmed_without_nodeports(ev, t, set) {
                // The other nodes read before their kube-proxy synced the
                // new probe Services (inspection runs beside the probes):
                // the node's own table still shows it.
                out.push(format!(
                    "{n}: nft {} kube-proxy service-nodeports is empty, while its service-ips holds {ports} Service port(s) and the probe Services are NodePorts",
                    t.family
                ));
            }
        }
    }
    out
}

/// A node's kube-proxy has programmed Services (`service-ips` holds some)
/// but no NodePort, although the run's probe Services are NodePorts: how
/// many Service ports it holds.
fn programmed_without_nodeports(ev: &Evidence<'_>, t: &NftTable, set: &str) -> Option<usize> {
    let node_port_services = ev
        .deployment
        .pods
        .iter()
        .any(|p| p.service.as_ref().is_some_and(|s| s.node_port.is_some()));
    let ports = t.set_size("service-ips").filter(|&n| n > 0)?;
    (set == "service-nodeports" && node_port_services).then_some(ports)
}

/// A host's kube-proxy nftables tables (one per family).
fn kube_proxy_tables(h: &HostReport) -> impl Iterator<Item = &NftTable> {
    h.firewall
        .iter()
        .flat_map(|f| &f.nftables)
        .flat_map(|n| &n.tables)
        .filter(|t| t.name == "kube-proxy")
}

/// What the node's iptables say of its NodePorts (kube-proxy iptables mode):
/// an empty KUBE-NODEPORTS, or a jump to it that leaves the node's IP out;
/// in nftables mode, [`nft_evidence`].
fn host_evidence(ev: &Evidence<'_>, h: &HostReport) -> Vec<String> {
    let n = h.node.as_str();
    let node_ips: Vec<std::net::IpAddr> = ev
        .deployment
        .hosts
        .iter()
        .filter(|a| a.node == n)
        .flat_map(|a| a.ips.iter().copied())
        .collect();
    let mut out = Vec::new();
    for b in h.firewall.iter().flat_map(|f| &f.iptables) {
        let Some(nat) = b.tables.iter().find(|t| t.name == "nat") else {
            continue;
        };
        let chain =
            |name: &str| -> Option<&IptChain> { nat.chains.iter().find(|c| c.name == name) };
        let Some(nodeports) = chain("KUBE-NODEPORTS") else {
            continue;
        };
        if nodeports.rules_total() == 0 {
            let others: Vec<&str> = ev
                .hosts
                .iter()
                .filter(|o| o.node != n && nodeport_rules(o) > 0)
                .map(|o| o.node.as_str())
                .collect();
            out.push(format!(
                "{n}: iptables-{}: nat KUBE-NODEPORTS has no rules{}",
                b.backend,
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (it has on {})", others.join(", "))
                }
            ));
        }
        for r in chain("KUBE-SERVICES")
            .into_iter()
            .flat_map(|c| &c.rules)
            .filter(|r| r.target.as_deref() == Some("KUBE-NODEPORTS"))
        {
            let Some(dst) = r.destination.as_deref() else {
                continue;
            };
            let covers = dst
                .parse::<ipnet::IpNet>()
                .ok()
                .is_some_and(|net| node_ips.iter().any(|ip| net.contains(ip)));
            if !covers && !node_ips.is_empty() {
                out.push(format!(
                    "{n}: KUBE-SERVICES sends only {dst} to KUBE-NODEPORTS, not the node's IP (nodePortAddresses)"
                ));
            }
        }
    }
    out.extend(nft_evidence(ev, h));
    out
}

/// Rules in a host's nat KUBE-NODEPORTS (the most of its backends).
fn nodeport_rules(h: &HostReport) -> usize {
    h.firewall
        .iter()
        .flat_map(|f| &f.iptables)
        .flat_map(|b| &b.tables)
        .filter(|t| t.name == "nat")
        .flat_map(|t| &t.chains)
        .filter(|c| c.name == "KUBE-NODEPORTS")
        .map(|c| c.rules_total())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::{CheckKind, FindingId};
    use crate::plan::CheckTemplate;

    fn nodeport_to(t: &CheckTemplate, node: &str) -> bool {
        t.kind == CheckKind::Nodeport && t.target.node.as_deref() == Some(node)
    }

    #[test]
    fn nodeports_dead_on_one_node_while_its_cluster_ip_works_name_that_node() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if nodeport_to(t, "node-2") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        assert!(checks.iter().any(|c| c.kind == CheckKind::Nodeport));
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::NodeportUnreachable], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-2"]);
        assert!(
            f[0].title.contains("NodePorts on node-2 do not answer"),
            "{}",
            f[0].title
        );
        let ev = f[0].evidence.join("\n");
        assert!(
            ev.contains("the same Service's ClusterIP reaches the pod"),
            "{ev}"
        );
        // From 6 pods (the backend's own hairpin among them) and 3 host agents.
        assert!(
            ev.contains("node-2's IP at the nodePort: 9 of 9 checks fail"),
            "{ev}"
        );
    }

    #[test]
    fn nodeports_that_fail_only_from_other_nodes_point_at_a_firewall_between_them() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if nodeport_to(t, "node-1") && t.source.node.as_deref() != Some("node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let f = sim::diagnose(&d, &checks);
        assert_eq!(sim::ids(&f), vec![FindingId::NodeportUnreachable], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-1"]);
        assert!(f[0].title.contains("from other nodes"), "{}", f[0].title);
        assert!(f[0].remediation.contains("30000-32767"));
    }

    /// kube-proxy gone on a node: its NodePorts die with its ClusterIPs, one
    /// root (service-vip-unreachable), not a second finding.
    #[test]
    fn kube_proxy_gone_on_a_node_explains_its_nodeports_too() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            let vip_from = t.source.node.as_deref() == Some("node-1")
                && t.source.pod.is_some()
                && matches!(t.kind, CheckKind::PodToService | CheckKind::PodToApiserver);
            if vip_from || nodeport_to(t, "node-1") {
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
    }

    /// A Service whose ClusterIP fails too is not a NodePort problem: one
    /// service-vip-unreachable for it, its NodePorts included.
    #[test]
    fn a_dead_backend_is_not_a_nodeport_finding() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            let to_backend = t.target.pod.as_deref() == Some("probe-2-0");
            if to_backend && matches!(t.kind, CheckKind::PodToService | CheckKind::Nodeport) {
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
    }

    /// With the node's iptables: its KUBE-NODEPORTS is empty where the
    /// others have rules, and the jump to it names another address.
    #[test]
    fn in_nftables_mode_the_evidence_is_the_empty_service_nodeports_map() {
        use crate::model::host::{NftRuleset, NftSetSize, NftTable};
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if nodeport_to(t, "node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let mut hosts = testing::healthy_hosts(&d);
        for (i, h) in hosts.iter_mut().enumerate() {
            let sets = vec![
                NftSetSize {
                    name: "service-nodeports".into(),
                    kind: "map".into(),
                    elements: if i == 1 { 0 } else { 2 },
                },
                NftSetSize {
                    name: "nodeport-ips".into(),
                    kind: "set".into(),
                    elements: 1,
                },
            ];
            h.firewall.as_mut().unwrap().nftables = Some(NftRuleset {
                tables: vec![NftTable {
                    family: "ip".into(),
                    name: "kube-proxy".into(),
                    sets,
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        let np = f
            .iter()
            .find(|f| f.id == FindingId::NodeportUnreachable)
            .expect("nodeport-unreachable");
        let ev = np.evidence.join("\n");
        assert!(
            ev.contains(
                "node-1: nft ip kube-proxy service-nodeports is empty (it holds 2 on node-0, 2 on node-2)"
            ),
            "{ev}"
        );
        assert!(!ev.contains("nodeport-ips"), "{ev}");
        // The other nodes read before they programmed the probe Services:
        // node-1's own table still shows Services without NodePorts.
        for (i, h) in hosts.iter_mut().enumerate() {
            let t = &mut h
                .firewall
                .as_mut()
                .unwrap()
                .nftables
                .as_mut()
                .unwrap()
                .tables[0];
            t.sets[0].elements = 0;
            t.sets.push(NftSetSize {
                name: "service-ips".into(),
                kind: "map".into(),
                elements: if i == 1 { 12 } else { 0 },
            });
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        let ev = f
            .iter()
            .filter(|f| f.id == FindingId::NodeportUnreachable)
            .flat_map(|f| f.evidence.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            ev.contains("node-1: nft ip kube-proxy service-nodeports is empty, while its service-ips holds 12 Service port(s)"),
            "{ev}"
        );
        for h in hosts.iter_mut() {
            h.firewall
                .as_mut()
                .unwrap()
                .nftables
                .as_mut()
                .unwrap()
                .tables[0]
                .sets
                .pop();
        }
        // Empty on every node (no NodePort Service anywhere): no evidence.
        for h in hosts.iter_mut() {
            let t = &mut h
                .firewall
                .as_mut()
                .unwrap()
                .nftables
                .as_mut()
                .unwrap()
                .tables[0];
            t.sets[0].elements = 0;
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        let ev = f
            .iter()
            .filter(|f| f.id == FindingId::NodeportUnreachable)
            .flat_map(|f| f.evidence.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!ev.contains("service-nodeports"), "{ev}");
    }

    #[test]
    fn host_evidence_shows_the_empty_chain_and_the_nodeport_addresses() {
        use crate::model::host::IptRule;
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| {
            if nodeport_to(t, "node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let mut hosts = testing::healthy_hosts(&d);
        // node-0 has its NodePort rule (the captures have no NodePort Service).
        for b in hosts[0].firewall.as_mut().unwrap().iptables.iter_mut() {
            for t in b.tables.iter_mut().filter(|t| t.name == "nat") {
                for c in t.chains.iter_mut().filter(|c| c.name == "KUBE-NODEPORTS") {
                    c.rules.push(IptRule {
                        raw: "-A KUBE-NODEPORTS -p tcp -m tcp --dport 30000 -j KUBE-EXT-X".into(),
                        target: Some("KUBE-EXT-X".into()),
                        ..Default::default()
                    });
                }
            }
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        let np = f
            .iter()
            .find(|f| f.id == FindingId::NodeportUnreachable)
            .expect("nodeport-unreachable");
        assert_eq!(np.nodes, vec!["node-1"]);
        let ev = np.evidence.join("\n");
        assert!(
            ev.contains("node-1: iptables-nft: nat KUBE-NODEPORTS has no rules (it has on node-0)"),
            "{ev}"
        );
        // The capture's jump is `-d 198.18.255.12/32` (node2's address); the
        // simulated node-1 is 198.18.255.2.
        assert!(
            ev.contains("node-1: KUBE-SERVICES sends only 198.18.255.12/32 to KUBE-NODEPORTS, not the node's IP"),
            "{ev}"
        );
    }
}
