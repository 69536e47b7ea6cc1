//! `pod-route-missing`: on a routed network (flannel host-gw, kindnet,
//! Calico: one route per other node's pod CIDR or block, kept by the CNI's
//! agent), one node has lost its route to one other node's pods. Pod traffic
//! between exactly those two nodes dies both ways (requests one way,
//! replies the other), while each of them still reaches every other node.
//!
//! From the routes host inspection reads, compared with the nodes' pod
//! CIDRs, and only when the failed checks say so: the node routes its other
//! peers itself (a node that sends everything to its default gateway, as on
//! cloud-routed clusters, is not judged), checks between exactly those two
//! nodes fail, and neither node fails with anyone else. An overlay's routes
//! (via `flannel.1`) count as routes: a flannel VXLAN node has them all.

use super::host::{self, diagnosis};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::model::host::{HostReport, Route};
use crate::model::topology::NodeInfo;
use crate::model::{Check, FindingId, Severity, Status};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct PodRouteMissing;

/// A route's destination as a prefix (`198.18.1.2` is a /32); None for
/// `default` and anything unparsable.
fn dst_net(r: &Route) -> Option<IpNet> {
    if r.dst == "default" {
        return None;
    }
    r.dst
        .parse::<IpNet>()
        .ok()
        .or_else(|| r.dst.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// A host's routes with their destinations parsed once.
struct Routes<'a>(Vec<(IpNet, &'a Route)>);

impl<'a> Routes<'a> {
    fn of(h: &'a HostReport) -> Self {
        Routes(
            h.routes
                .iter()
                .filter_map(|r| Some((dst_net(r)?, r)))
                .collect(),
        )
    }
    /// The route that carries traffic to `cidr` (a prefix covering it).
    fn to(&self, cidr: &IpNet) -> Option<&'a Route> {
        self.0
            .iter()
            .find(|(n, _)| n.prefix_len() <= cidr.prefix_len() && n.contains(cidr))
            .map(|(_, r)| *r)
    }
}

/// A check between nodes `a` and `b` (either way) with a pod at one end.
fn between(c: &Check, a: &str, b: &str) -> bool {
    let (s, t) = (c.source_node(), c.target_node());
    (c.source.pod.is_some() || c.target.pod.is_some())
        && ((s == Some(a) && t == Some(b)) || (s == Some(b) && t == Some(a)))
}

fn failed(c: &Check) -> bool {
    matches!(c.status, Status::Fail | Status::Error)
}

/// The two nodes of a failed cross-node check with a pod at one end.
fn failed_pod_pair(c: &Check) -> Option<(&str, &str)> {
    if !failed(c) || (c.source.pod.is_none() && c.target.pod.is_none()) {
        return None;
    }
    match (c.source_node(), c.target_node()) {
        (Some(s), Some(t)) if s != t => Some((s, t)),
        _ => None,
    }
}

/// The failed checks between nodes, indexed once per evaluation so that the
/// rule's work grows with the checks, not with nodes × peers × checks.
#[derive(Default)]
struct Failures<'a> {
    /// Per node, every node it has a failed pod check with (explained or not).
    peers: HashMap<&'a str, BTreeSet<&'a str>>,
    /// Per node and peer (both ways), the unexplained failed pod checks
    /// between them.
    unexplained: HashMap<&'a str, BTreeMap<&'a str, BTreeSet<usize>>>,
}

impl<'a> Failures<'a> {
    fn of(ev: &Evidence<'a>, explained: &BTreeSet<usize>) -> Self {
        let mut f = Failures::default();
        for (i, c) in ev.checks.iter().enumerate() {
            let Some((s, t)) = failed_pod_pair(c) else {
                continue;
            };
            f.peers.entry(s).or_default().insert(t);
            f.peers.entry(t).or_default().insert(s);
            if explained.contains(&i) {
                continue;
            }
            for (x, y) in [(s, t), (t, s)] {
                f.unexplained
                    .entry(x)
                    .or_default()
                    .entry(y)
                    .or_default()
                    .insert(i);
            }
        }
        f
    }
    fn between(&self, a: &str, b: &str) -> Option<&BTreeSet<usize>> {
        self.unexplained.get(a)?.get(b)
    }
    /// `n` has a failed cross-node pod check with a node other than `except`.
    fn elsewhere(&self, n: &str, except: &str) -> bool {
        self.peers
            .get(n)
            .is_some_and(|p| p.iter().any(|x| *x != except))
    }
}

impl Rule for PodRouteMissing {
    fn rank(&self) -> u16 {
        15
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let nodes = &ev.deployment.nodes;
        let failures = Failures::of(ev, explained);
        let order: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut out = Vec::new();
        for h in host::hosts(ev).filter(|h| !h.routes.is_empty()) {
            let a = h.node.as_str();
            // Only peers `a` has unexplained failures with can be a finding.
            let Some(failing) = failures.unexplained.get(a) else {
                continue;
            };
            let mut candidates: Vec<&NodeInfo> = failing
                .keys()
                .filter(|b| !failures.elsewhere(a, b) && !failures.elsewhere(b, a))
                .filter_map(|b| order.get(b).map(|&i| &nodes[i]))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            candidates.sort_by_key(|n| order[n.name.as_str()]);
            let routes = Routes::of(h);
            // (peer, its first pod CIDR, the route that reaches it)
            let routed: Vec<(&str, IpNet, &Route)> = nodes
                .iter()
                .filter(|n| n.name != a)
                .filter_map(|n| {
                    let c = *n.pod_cidrs.first()?;
                    Some((n.name.as_str(), c, routes.to(&c)?))
                })
                .collect();
            if routed.is_empty() {
                continue;
            }
            for b in candidates {
                let Some(cidr) = b.pod_cidrs.iter().find(|c| routes.to(c).is_none()).copied()
                else {
                    continue;
                };
                let bn = b.name.as_str();
                let Some(explains) = failures.between(a, bn).cloned() else {
                    continue;
                };
                let passing = ev
                    .checks
                    .iter()
                    .filter(|c| c.status == Status::Pass)
                    .filter(|c| routed.iter().any(|(p, _, _)| between(c, a, p)))
                    .count();
                let (peer, peer_cidr, sibling) = routed[0];
                let via = |r: &Route| {
                    let mut s = String::new();
                    if let Some(g) = &r.gateway {
                        s.push_str(&format!(" via {g}"));
                    }
                    if let Some(d) = &r.dev {
                        s.push_str(&format!(" dev {d}"));
                    }
                    s
                };
                let evidence = vec![
                    format!("{a}: no route to {bn}'s pod CIDR {cidr} (ip route on {a})"),
                    format!(
                        "{a}: {peer}'s pod CIDR {peer_cidr} is routed: {}{}",
                        sibling.dst,
                        via(sibling)
                    ),
                    format!(
                        "checks between {a} and {bn} fail; {passing} check(s) between {a} and the nodes it routes pass, and neither node fails with any other"
                    ),
                ];
                let by_hand = by_hand(cidr, b, nodes.iter().find(|n| n.name == peer), sibling);
                let mut d = diagnosis(
                    ev,
                    FindingId::PodRouteMissing,
                    Severity::Error,
                    format!("{a} has no route to {bn}'s pods ({cidr})"),
                    a,
                    evidence,
                    explains,
                    format!(
                        "On {a}, the CNI's agent lost the route to {bn}'s pods: compare `ip route` on {a} with another node, \
                         restart the CNI's agent on {a} (kube-flannel, kindnet, calico-node) and read its logs; by hand, \
                         as the route to {peer}'s pods is: {by_hand}"
                    ),
                );
                d.finding.nodes.push(bn.to_string());
                out.push(d);
            }
        }
        out
    }
}

/// The route to add by hand, shaped as the one to `peer`'s pods: via `b`'s
/// node address of the CIDR's family when the sibling goes via its peer's
/// node address (host-gw, kindnet); via `b`'s address on the same device
/// when it goes via a tunnel address (Calico's VTEP, flannel.1's), which
/// the report does not know.
fn by_hand(cidr: IpNet, b: &NodeInfo, peer: Option<&NodeInfo>, sibling: &Route) -> String {
    let dev = sibling.dev.as_deref();
    let dev_arg = dev.map(|d| format!(" dev {d}")).unwrap_or_default();
    let via_node = sibling
        .gateway
        .as_deref()
        .is_some_and(|g| peer.is_some_and(|p| p.internal_ips.iter().any(|ip| ip.to_string() == g)));
    let family = |ip: &&std::net::IpAddr| ip.is_ipv6() == matches!(cidr, IpNet::V6(_));
    match (&sibling.gateway, b.internal_ips.iter().find(family)) {
        (None, _) => format!("`ip route add {cidr}{dev_arg}`"),
        (Some(_), Some(ip)) if via_node => format!("`ip route add {cidr} via {ip}{dev_arg}`"),
        (Some(_), _) => format!(
            "`ip route add {cidr} via <{}'s address on {}>{dev_arg} onlink`",
            b.name,
            dev.unwrap_or("its device")
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::host::Route;
    use crate::model::{FindingId, Severity};

    /// Hosts routed as host-gw: every node routes every other node's pod
    /// CIDR via its node address; `drop`: (node, peer) whose route is gone.
    fn host_gw(
        d: &crate::model::Deployment,
        drop: Option<(usize, usize)>,
    ) -> Vec<crate::model::host::HostReport> {
        let mut hosts = testing::healthy_hosts(d);
        for (i, h) in hosts.iter_mut().enumerate() {
            h.interfaces.retain(|x| !x.name.starts_with("flannel"));
            h.routes.retain(|r| {
                r.dev.as_deref() != Some("flannel.1") && r.dev.as_deref() != Some("cni0")
            });
            for (j, n) in d.nodes.iter().enumerate() {
                if i == j || drop == Some((i, j)) {
                    continue;
                }
                h.routes.push(Route {
                    dst: n.pod_cidrs[0].to_string(),
                    gateway: Some(n.internal_ips[0].to_string()),
                    dev: Some("eth0".into()),
                    protocol: None,
                });
            }
        }
        hosts
    }

    /// Pod traffic between `a` and `b` (either way) times out.
    fn broken_between(d: &crate::model::Deployment, a: &str, b: &str) -> Vec<crate::model::Check> {
        sim::run(d, |t| match sim::nodes_of(t) {
            (Some(x), Some(y))
                if ((x == a && y == b) || (x == b && y == a))
                    && (t.source.pod.is_some() || t.target.pod.is_some()) =>
            {
                sim::timeout()
            }
            _ => sim::ok(),
        })
    }

    #[test]
    fn a_lost_route_names_both_nodes_and_the_cidr() {
        let d = sim::cluster(3);
        let checks = broken_between(&d, "node-2", "node-0");
        let hosts = host_gw(&d, Some((2, 0)));
        let findings = testing::diagnose(&d, &checks, &hosts);
        let errors: Vec<_> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{findings:#?}");
        let root = errors[0];
        assert_eq!(root.id, FindingId::PodRouteMissing);
        assert_eq!(root.nodes, ["node-2", "node-0"]);
        assert!(root.title.contains("198.18.0.0/24"), "{}", root.title);
        assert!(
            root.evidence[1].contains("via 198.18.255.2 dev eth0"),
            "{:#?}",
            root.evidence
        );
        assert!(
            root.remediation
                .contains("ip route add 198.18.0.0/24 via 198.18.255.1 dev eth0"),
            "{}",
            root.remediation
        );
    }

    #[test]
    fn routes_present_or_failures_elsewhere_are_not_a_missing_route() {
        let d = sim::cluster(3);
        let checks = broken_between(&d, "node-2", "node-0");
        // Every route there: the failures are someone else's (the real
        // VXLAN captures: `the_real_vxlan_nodes_have_their_routes`).
        let findings = testing::diagnose(&d, &checks, &host_gw(&d, None));
        assert!(
            !findings.iter().any(|f| f.id == FindingId::PodRouteMissing),
            "{findings:#?}"
        );
        // The route is gone but nothing fails: not judged.
        let ok = sim::run(&d, |_| sim::ok());
        let findings = testing::diagnose(&d, &ok, &host_gw(&d, Some((2, 0))));
        assert!(findings.is_empty(), "{findings:#?}");
        // The route is gone and node-2 fails with everyone: isolation, not a route.
        let iso = sim::run(&d, |t| match sim::nodes_of(t) {
            (Some(x), Some(y))
                if x != y
                    && (x == "node-2" || y == "node-2")
                    && (t.source.pod.is_some() || t.target.pod.is_some()) =>
            {
                sim::timeout()
            }
            _ => sim::ok(),
        });
        let findings = testing::diagnose(&d, &iso, &host_gw(&d, Some((2, 0))));
        assert!(
            !findings.iter().any(|f| f.id == FindingId::PodRouteMissing),
            "{findings:#?}"
        );
    }

    /// The real two-node capture (flannel VXLAN: the peer's pod CIDR via
    /// flannel.1) with every cross-node pod check failing: its routes are
    /// there, so no route is missing.
    #[test]
    fn the_real_vxlan_nodes_have_their_routes() {
        let d = sim::cluster(2);
        let checks = sim::run(&d, |t| match sim::nodes_of(t) {
            (Some(x), Some(y)) if x != y => sim::timeout(),
            _ => sim::ok(),
        });
        let hosts = testing::healthy_hosts(&d);
        let findings = testing::diagnose(&d, &checks, &hosts);
        assert!(
            !findings.iter().any(|f| f.id == FindingId::PodRouteMissing),
            "{findings:#?}"
        );
    }

    /// The route to add by hand has the missing CIDR's family and the
    /// sibling route's shape: via the node address of that family on a
    /// routed network, via a placeholder for the peer's tunnel address on
    /// an overlay (the report does not know it).
    #[test]
    fn the_route_by_hand_has_the_cidrs_family_and_the_siblings_shape() {
        use crate::model::topology::NodeInfo;
        let node = |name: &str, v4: &str, v6: &str| NodeInfo {
            name: name.into(),
            internal_ips: vec![v4.parse().unwrap(), v6.parse().unwrap()],
            ..Default::default()
        };
        let b = node("node-1", "198.19.255.1", "2001:2:0:fffe::1");
        let peer = node("node-2", "198.19.255.2", "2001:2:0:fffe::2");
        let route = |gw: &str, dev: &str| Route {
            dst: "x".into(),
            gateway: Some(gw.into()),
            dev: Some(dev.into()),
            ..Default::default()
        };
        let v6 = "2001:2::/64".parse().unwrap();
        assert_eq!(
            super::by_hand(v6, &b, Some(&peer), &route("2001:2:0:fffe::2", "eth0")),
            "`ip route add 2001:2::/64 via 2001:2:0:fffe::1 dev eth0`"
        );
        let v4 = "198.18.0.0/24".parse().unwrap();
        assert_eq!(
            super::by_hand(v4, &b, Some(&peer), &route("198.19.255.2", "eth0")),
            "`ip route add 198.18.0.0/24 via 198.19.255.1 dev eth0`"
        );
        assert_eq!(
            super::by_hand(v4, &b, Some(&peer), &route("198.18.1.0", "vxlan.calico")),
            "`ip route add 198.18.0.0/24 via <node-1's address on vxlan.calico> dev vxlan.calico onlink`"
        );
    }
}
