//! Shared pieces of the host rules (one file per finding next to this one):
//! which failed checks a broken node explains, and the finding shape.
//!
//! A host root cause on node X claims the failed checks whose packets X
//! forwards (or serves, or NATs), so the data-plane rules that run later do
//! not report the same cells again.

use crate::diagnose::{Diagnosis, Evidence, cap_evidence, describe_check, finding};
use crate::model::host::HostReport;
use crate::model::{Check, CheckKind, FindingId, Severity};
use ipnet::IpNet;
use std::collections::BTreeSet;

/// Every node's pod CIDRs, and the CNI IPAM subnets the hosts report.
/// The one IP family of the checks the rules run on (dual stack runs them
/// per family), or None when they mix or there are none.
pub fn family(ev: &Evidence<'_>) -> Option<crate::model::Family> {
    let first = ev.checks.first()?.family();
    ev.checks
        .iter()
        .all(|c| c.family() == first)
        .then_some(first)
}

pub fn pod_cidrs(ev: &Evidence<'_>) -> Vec<IpNet> {
    let mut v: Vec<IpNet> = ev
        .deployment
        .nodes
        .iter()
        .flat_map(|n| n.pod_cidrs.iter().copied())
        .collect();
    for h in ev.hosts {
        if let Some(f) = h.cni.as_ref().and_then(|c| c.selected_file()) {
            for p in &f.plugins {
                for s in p.ipam.iter().flat_map(|i| &i.subnets) {
                    if let Ok(n) = s.parse::<IpNet>() {
                        if !v.contains(&n) {
                            v.push(n);
                        }
                    }
                }
            }
        }
    }
    v
}

/// The smallest prefix covering every CIDR of the first one's family (the
/// cluster CIDR, as far as the nodes' pod CIDRs tell).
pub fn covering(nets: &[IpNet]) -> Option<IpNet> {
    let first = *nets.first()?;
    let same: Vec<&IpNet> = nets
        .iter()
        .filter(|n| n.addr().is_ipv4() == first.addr().is_ipv4())
        .collect();
    let mut len = same.iter().map(|n| n.prefix_len()).min()?;
    loop {
        let cand = IpNet::new(first.addr(), len).ok()?.trunc();
        if same.iter().all(|n| cand.contains(&n.network())) {
            return Some(cand);
        }
        len = len.checked_sub(1)?;
    }
}

fn is_pod(e: &crate::model::Endpoint) -> bool {
    e.pod.is_some()
}

/// A node's own host network as an endpoint (node→pod source, pod→node target).
fn is_host_of(e: &crate::model::Endpoint, node: &str) -> bool {
    e.pod.is_none() && e.name.is_none() && e.node.as_deref() == Some(node)
}

/// The check's packets are forwarded (routed or bridged through netfilter)
/// by `node`: a pod on it talks to anything but its own host.
pub fn forwarded_by(c: &Check, node: &str) -> bool {
    let src_pod_here = is_pod(&c.source) && c.source_node() == Some(node);
    let dst_pod_here = is_pod(&c.target) && c.target_node() == Some(node);
    let src_host_here = c.source.pod.is_none() && c.source_node() == Some(node);
    (src_pod_here && !is_host_of(&c.target, node)) || (dst_pod_here && !src_host_here)
}

/// Routed (not only bridged) by `node`: excludes pod→pod on the same bridge.
pub fn routed_by(c: &Check, node: &str) -> bool {
    let bridged = c.kind == CheckKind::PodToPod
        && c.source_node() == Some(node)
        && c.target_node() == Some(node);
    forwarded_by(c, node) && !bridged
}

/// Service traffic a node's kube-proxy translates: VIPs asked from pods on it.
pub fn service_from(c: &Check, node: &str) -> bool {
    c.source_node() == Some(node)
        && is_pod(&c.source)
        && (c.kind == CheckKind::PodToService
            || c.kind == CheckKind::PodToApiserver
            || crate::diagnose::facts::is_dns_via_service(c))
}

/// Unexplained failed checks matching `pred`.
pub fn claim(
    ev: &Evidence<'_>,
    explained: &BTreeSet<usize>,
    pred: impl Fn(&Check) -> bool,
) -> BTreeSet<usize> {
    ev.unexplained_failures(explained)
        .filter(|(_, c)| pred(c))
        .map(|(i, _)| i)
        .collect()
}

/// A host finding: its own evidence first, then up to five failed cells it explains.
#[allow(clippy::too_many_arguments)]
pub fn diagnosis(
    ev: &Evidence<'_>,
    id: FindingId,
    severity: Severity,
    title: String,
    node: &str,
    mut evidence: Vec<String>,
    explains: BTreeSet<usize>,
    remediation: String,
) -> Diagnosis {
    if !explains.is_empty() {
        evidence.push(format!(
            "{} failed check(s) pass through {node}, for example:",
            explains.len()
        ));
        evidence.extend(
            explains
                .iter()
                .take(5)
                .map(|&i| format!("  {}", describe_check(&ev.checks[i]))),
        );
    }
    Diagnosis {
        finding: finding(
            id,
            severity,
            title,
            vec![node.to_string()],
            cap_evidence(evidence, 12),
            remediation,
        ),
        explains,
    }
}

/// Hosts with a node name, in report order.
pub fn hosts<'a>(ev: &'a Evidence<'_>) -> impl Iterator<Item = &'a HostReport> {
    ev.hosts.iter().filter(|h| !h.node.is_empty())
}

#[cfg(test)]
pub mod testing {
    //! Host reports for rule tests: the real cluster's node captures renamed
    //! to the simulator's nodes, so each rule test starts healthy and breaks
    //! one thing.
    use crate::diagnose::{Evidence, sim};
    use crate::model::host::HostReport;
    use crate::model::{Check, Deployment, Finding};

    /// node-0…node-(n-1), each a copy of the real node1/node2 captures.
    pub fn healthy_hosts(d: &Deployment) -> Vec<HostReport> {
        d.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut h =
                    crate::inspect::captures::fixture(if i % 2 == 0 { "node1" } else { "node2" });
                h.node = n.name.clone();
                // Each node's host-local range is its own pod CIDR.
                if let (Some(cidr), Some(c)) = (n.pod_cidrs.first(), h.cni.as_mut()) {
                    for f in c.files.iter_mut() {
                        for p in f.plugins.iter_mut() {
                            if let Some(ipam) = p.ipam.as_mut() {
                                ipam.subnets = vec![cidr.to_string()];
                            }
                        }
                    }
                }
                h
            })
            .collect()
    }

    pub fn diagnose(d: &Deployment, checks: &[Check], hosts: &[HostReport]) -> Vec<Finding> {
        crate::diagnose::diagnose(&Evidence {
            deployment: d,
            checks,
            cells: &[],
            hosts,
            policy: None,
        })
    }

    /// Checks of a dual-stack sim cluster where `node` forwards no IPv6: the
    /// IPv6 checks through it time out (not the ones its bridge carries
    /// between its own pods), everything else passes.
    pub fn ipv6_dead_through(d: &Deployment, node: &str) -> Vec<Check> {
        use crate::model::{CheckKind, Family};
        sim::run(d, |t| {
            let bridged =
                t.kind == CheckKind::PodToPod && sim::nodes_of(t) == (Some(node), Some(node));
            if sim::family_of(t) == Family::Ipv6 && through(t, node) && !bridged {
                sim::timeout()
            } else {
                sim::ok()
            }
        })
    }

    /// Simulated physics: the probe's packets are forwarded by `node` (a pod
    /// there talks to anything but that node's own host).
    pub fn through(t: &crate::plan::CheckTemplate, node: &str) -> bool {
        let here = |e: &crate::model::Endpoint| e.node.as_deref() == Some(node);
        let src_pod = t.source.pod.is_some() && here(&t.source);
        let dst_pod = t.target.pod.is_some() && here(&t.target);
        let src_host = t.source.pod.is_none() && here(&t.source);
        let dst_host = t.target.pod.is_none() && t.target.name.is_none() && here(&t.target);
        (src_pod && !dst_host) || (dst_pod && !src_host)
    }

    /// The fixture's iptables-nft filter table (the backend the real nodes use).
    fn nft_filter(h: &mut HostReport) -> &mut crate::model::host::IptTable {
        h.firewall
            .as_mut()
            .expect("fixture has a firewall")
            .iptables[1]
            .tables
            .iter_mut()
            .find(|t| t.name == "filter")
            .expect("filter table")
    }

    /// `node`'s firewall drops the VXLAN overlay (udp/8472) in INPUT.
    pub fn block_vxlan(h: &mut HostReport) {
        let extra = crate::inspect::iptables::parse(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m udp --dport 8472 -j DROP\nCOMMIT\n",
        );
        let filter = nft_filter(h);
        let rule = extra.tables[0].chains[0].rules[0].clone();
        filter
            .chain_mut("INPUT")
            .expect("INPUT")
            .insert_rule(0, rule);
    }

    /// Docker's way: FORWARD policy DROP, and the flannel accept is gone.
    pub fn set_forward_drop(h: &mut HostReport) {
        let filter = nft_filter(h);
        filter.chain_mut("FORWARD").expect("FORWARD").policy = Some("DROP".into());
        filter.chains.retain(|c| c.name != "FLANNEL-FWD");
        for c in filter.chains.iter_mut() {
            c.rules
                .retain(|r| r.target.as_deref() != Some("FLANNEL-FWD"));
        }
    }

    /// A healthy sim cluster with healthy hosts: every check passes.
    pub fn healthy(n: usize) -> (Deployment, Vec<Check>, Vec<HostReport>) {
        let d = sim::cluster(n);
        let checks = sim::run(&d, |_| sim::ok());
        let hosts = healthy_hosts(&d);
        (d, checks, hosts)
    }
}

#[cfg(test)]
mod tests {
    use super::covering;
    use ipnet::IpNet;

    #[test]
    fn covering_is_the_smallest_common_prefix() {
        let n = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(
            covering(&[n("198.18.0.0/24"), n("198.18.1.0/24")]),
            Some(n("198.18.0.0/23"))
        );
        assert_eq!(
            covering(&[n("198.18.0.0/24"), n("198.18.2.0/24")]),
            Some(n("198.18.0.0/22"))
        );
        assert_eq!(covering(&[n("198.18.5.0/24")]), Some(n("198.18.5.0/24")));
        assert_eq!(
            covering(&[n("198.18.0.0/24"), n("2001:2::/64")]),
            Some(n("198.18.0.0/24"))
        );
        assert_eq!(covering(&[]), None);
    }
}
