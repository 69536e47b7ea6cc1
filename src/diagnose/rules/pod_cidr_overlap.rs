//! `pod-cidr-overlap`: pod CIDRs overlap each other (two nodes hand out the
//! same addresses), a node's own network, or Service IPs. Routing then sends
//! traffic for one of them to the other.

use super::host;
use crate::diagnose::facts::crosses;
use crate::diagnose::{Diagnosis, Evidence, Rule, cap_evidence, finding};
use crate::inspect::query;
use crate::model::{FindingId, Severity};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;

pub struct PodCidrOverlap;

fn overlap(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl Rule for PodCidrOverlap {
    fn rank(&self) -> u16 {
        11
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // (owner node, what, range)
        let mut pods: Vec<(String, String, IpNet)> = Vec::new();
        for n in &ev.deployment.nodes {
            for c in &n.pod_cidrs {
                pods.push((n.name.clone(), format!("{}'s podCIDR", n.name), *c));
            }
        }
        for h in host::hosts(ev) {
            let Some(f) = h.cni.as_ref().and_then(|c| c.selected_file()) else {
                continue;
            };
            for s in f
                .plugins
                .iter()
                .flat_map(|p| p.ipam.iter())
                .flat_map(|i| &i.subnets)
            {
                if let Ok(net) = s.parse::<IpNet>() {
                    let from_node = ev
                        .deployment
                        .nodes
                        .iter()
                        .any(|n| n.name == h.node && n.pod_cidrs.contains(&net));
                    if !from_node {
                        pods.push((
                            h.node.clone(),
                            format!("{}'s CNI IPAM range ({})", h.node, f.file),
                            net,
                        ));
                    }
                }
            }
        }
        let mut evidence = Vec::new();
        let mut nodes: BTreeSet<String> = BTreeSet::new();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (i, (na, wa, a)) in pods.iter().enumerate() {
            for (nb, wb, b) in pods.iter().skip(i + 1) {
                if na != nb && overlap(a, b) {
                    evidence.push(format!("{wa} {a} overlaps {wb} {b}"));
                    nodes.insert(na.clone());
                    nodes.insert(nb.clone());
                    pairs.push(crate::diagnose::facts::pair(na, nb));
                }
            }
        }
        // Node addresses and networks.
        let mut node_nets: Vec<(String, IpNet)> = Vec::new();
        for n in &ev.deployment.nodes {
            for ip in &n.internal_ips {
                node_nets.push((format!("{}'s InternalIP", n.name), IpNet::from(*ip)));
            }
        }
        for h in host::hosts(ev) {
            if let Some(u) = query::underlay(h) {
                for a in h
                    .interfaces
                    .iter()
                    .filter(|i| i.name == u)
                    .flat_map(|i| &i.addresses)
                {
                    if let Ok(net) = a.parse::<IpNet>() {
                        if !matches!(net.addr(), IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80)
                        {
                            node_nets.push((format!("{}'s network on {u}", h.node), net.trunc()));
                        }
                    }
                }
            }
        }
        for (what, net) in &node_nets {
            for (owner, wp, p) in &pods {
                if overlap(net, p) {
                    evidence.push(format!("{wp} {p} overlaps {what} {net}"));
                    nodes.insert(owner.clone());
                }
            }
        }
        // Service IPs the run used.
        let d = ev.deployment;
        let mut vips: Vec<(String, IpAddr)> = Vec::new();
        for p in &d.pods {
            if let Some(s) = &p.service {
                vips.extend(
                    s.cluster_ips
                        .iter()
                        .map(|ip| (format!("Service {}/{}", s.namespace, s.name), *ip)),
                );
            }
        }
        if let Some(dns) = &d.dns {
            vips.push((
                format!("Service {}/{}", dns.service.namespace, dns.service.name),
                dns.service.ip,
            ));
        }
        if let Some(api) = &d.apiserver {
            vips.extend(
                api.service
                    .cluster_ips
                    .iter()
                    .map(|ip| ("Service default/kubernetes".to_string(), *ip)),
            );
        }
        for (what, ip) in &vips {
            for (owner, wp, p) in &pods {
                if p.contains(ip) {
                    evidence.push(format!("{what} ClusterIP {ip} is inside {wp} {p}"));
                    nodes.insert(owner.clone());
                }
            }
        }
        if evidence.is_empty() {
            return Vec::new();
        }
        evidence.dedup();
        let explains: BTreeSet<usize> = ev
            .unexplained_failures(explained)
            .filter(|(_, c)| pairs.iter().any(|p| crosses(c, p)))
            .map(|(i, _)| i)
            .collect();
        vec![Diagnosis {
            finding: finding(
                FindingId::PodCidrOverlap,
                Severity::Error,
                "Pod address ranges overlap each other, the node network or Service IPs",
                nodes.into_iter().collect(),
                cap_evidence(evidence, 10),
                "Give every node its own podCIDR inside the cluster CIDR (kube-controller-manager --cluster-cidr, \
                 --allocate-node-cidrs) and keep it apart from the node network and --service-cluster-ip-range. \
                 A bridge CNI with a hand-written host-local range must use each node's own podCIDR \
                 (`kubectl get nodes -o custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR`).",
            ),
            explains,
        }]
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::FindingId;

    #[test]
    fn two_nodes_with_the_same_host_local_range() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let c = hosts[1].cni.as_mut().unwrap();
        c.files[0].plugins[0].ipam.as_mut().unwrap().subnets = vec!["198.18.0.0/24".into()];
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::PodCidrOverlap], "{f:#?}");
        assert!(f[0].evidence.iter().any(|e| e == "node-0's podCIDR 198.18.0.0/24 overlaps node-1's CNI IPAM range (10-bridge.conflist) 198.18.0.0/24"), "{:?}", f[0].evidence);
        assert_eq!(f[0].nodes, vec!["node-0", "node-1"]);
    }

    #[test]
    fn pod_cidr_covering_the_node_network_or_a_service() {
        let (mut d, checks, hosts) = testing::healthy(2);
        d.nodes[1].pod_cidrs = vec!["198.18.255.0/24".parse().unwrap()];
        let f = testing::diagnose(&d, &checks, &hosts);
        let o = f
            .iter()
            .find(|f| f.id == FindingId::PodCidrOverlap)
            .expect("overlap");
        assert!(
            o.evidence
                .iter()
                .any(|e| e.contains("overlaps node-0's InternalIP 198.18.255.1/32")),
            "{:?}",
            o.evidence
        );
        assert!(
            o.evidence
                .iter()
                .any(|e| e.contains("network on eth0 198.18.255.0/24")),
            "{:?}",
            o.evidence
        );
        let (mut d, checks, hosts) = testing::healthy(2);
        d.nodes[0].pod_cidrs = vec!["198.19.0.0/24".parse().unwrap()];
        let f = testing::diagnose(&d, &checks, &hosts);
        let o = f
            .iter()
            .find(|f| f.id == FindingId::PodCidrOverlap)
            .expect("overlap");
        assert!(
            o.evidence.iter().any(|e| e.contains(
                "Service kube-system/kube-dns ClusterIP 198.19.0.10 is inside node-0's podCIDR"
            )),
            "{:?}",
            o.evidence
        );
    }

    #[test]
    fn the_real_clusters_ranges_do_not_overlap() {
        let (d, checks, hosts) = testing::healthy(2);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }
}
