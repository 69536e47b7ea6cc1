//! The lab's network flavours (`lab --cni NAME`): what differs between CNIs,
//! one file per flavour, as faults are.
//!
//! Everything else is common to every flavour and stays where it is: the
//! wire and the nodes' underlay (eth0, the Service CIDR toward the wire's
//! gateway), kube-proxy and its rules ([`super::rules`],
//! [`super::kube_proxy_nft`]), kubelet's chains, the DNS pods, the agents,
//! containerd's config. A flavour says:
//!
//! - which devices a node has and the routes to the other nodes' pods
//!   ([`Flavour::node_lines`], [`Flavour::fdb_lines`]);
//! - how a pod is wired: the host side ([`Flavour::pod_host_lines`]) and the
//!   inside ([`Flavour::pod_lines`]), at the flavour's pod MTU;
//! - whether same-node pods share a bridge ([`Flavour::bridge`]) and whether
//!   pod traffic between nodes is encapsulated ([`Flavour::overlay`]);
//! - the files its installer leaves on the node (the conflist and the
//!   rest, [`Flavour::node_files`]) and its plugin binaries;
//! - its own iptables chains ([`CniRules`]) and sysctls;
//! - what the faults that reach into the CNI do on it: cut one node pair
//!   ([`Flavour::cut_pair`]), isolate a node ([`Flavour::isolate`]), the route
//!   to a peer's pods ([`Flavour::peer_route`]);
//! - all of it in IPv6 too when the lab has it (`plan.family.v6()`:
//!   `--ip-family ipv6|dual`), as the CNI wires its second family.
//!
//! Adding a flavour: one file here with a unit struct implementing
//! [`Flavour`] and one line in [`all`]; `--cni` and the tests pick it up from
//! there. Faults that cannot mean anything on it say so in
//! [`crate::lab::faults::Fault::applies_to`].
//!
//! The kernel the lab runs on has VXLAN but no IPIP, GENEVE or WireGuard
//! devices: flavours that need them (Calico IPIP, Cilium's GENEVE, Weave's
//! fastdp, anything encrypted) are out of the lab.

pub mod calico;
pub mod flannel;
pub mod host_gw;
pub mod kindnet;

use super::ctx::LabCtx;
use super::plan::{IpFamily, LabPlan};
use crate::runtime::Result;
use futures::future::BoxFuture;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use flannel::Flannel;
pub use host_gw::HostGw;
pub use kindnet::Kindnet;

/// One pod to wire on a node: a probe pod or a DNS pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodWire {
    /// The node (0-based).
    pub node: usize,
    /// The pod's slot on its node: probe pods 0.., then DNS pods (as
    /// [`LabPlan::dns_mac`] counts them).
    pub slot: usize,
    /// The host end of the pod's veth (in the node namespace).
    pub veth: String,
    /// The pod's network namespace.
    pub ns: String,
    /// The pod's eth0 MAC (fixed: neighbour entries are permanent).
    pub mac: String,
    pub ip: Ipv4Addr,
    /// Its IPv6 address (wired on an IPv6 or dual-stack lab only).
    pub ip6: Ipv6Addr,
}

impl PodWire {
    /// Every pod of node i: its probe pods, then the DNS replicas it runs.
    pub fn on_node(plan: &LabPlan, i: usize) -> Vec<PodWire> {
        let mut v: Vec<PodWire> = (0..plan.pods_per_node)
            .map(|j| PodWire {
                node: i,
                slot: j,
                veth: plan.pod_veth(j),
                ns: plan.pod_ns(i, j),
                mac: plan.pod_mac(i, j),
                ip: plan.pod_ip(i, j),
                ip6: plan.pod_ip6(i, j),
            })
            .collect();
        for r in plan.dns_replicas_on(i) {
            v.push(PodWire {
                node: i,
                slot: plan.pods_per_node + r,
                veth: plan.dns_veth(r),
                ns: plan.dns_ns(r),
                mac: plan.dns_mac(r),
                ip: plan.dns_pod_ip(r),
                ip6: plan.dns_pod_ip6(r),
            });
        }
        v
    }
}

/// A flavour's encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlay {
    /// The device (`flannel.1`, `vxlan.calico`).
    pub device: &'static str,
    /// Its UDP port on the underlay.
    pub port: u16,
}

/// A CNI's own iptables rules on a node, in `iptables-restore` form, placed
/// by [`super::rules::node_rules`] around kube-proxy's and kubelet's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniRules {
    /// Chains to declare in the filter table.
    pub filter_chains: Vec<String>,
    /// `-A FORWARD …` jumps, after kube-proxy's.
    pub forward_jumps: Vec<String>,
    /// Rules in the flavour's own filter chains.
    pub filter_rules: Vec<String>,
    /// Chains to declare in the nat table.
    pub nat_chains: Vec<String>,
    /// `-A POSTROUTING …` jumps, after kube-proxy's.
    pub postrouting_jumps: Vec<String>,
    /// Rules in the flavour's own nat chains, after kube-proxy's.
    pub nat_rules: Vec<String>,
}

/// One way of giving the lab's pods their network.
pub trait Flavour: Send + Sync {
    /// The `--cni` name; `cluster.cni` contains it when host inspection
    /// recognises the flavour.
    fn name(&self) -> &'static str;
    /// One line for `--help`.
    fn description(&self) -> &'static str;
    /// The MTU of the pods' eth0 (and of the flavour's devices) on a lab of
    /// these IP families.
    fn pod_mtu(&self, family: IpFamily) -> u16;
    /// The bridge same-node pods share, or None (a routed veth per pod).
    fn bridge(&self) -> Option<&'static str>;
    /// The encapsulation between nodes, or None (routed over the underlay).
    fn overlay(&self) -> Option<Overlay>;
    /// Node i's `ip` batch for the CNI's devices and the routes to the other
    /// nodes' pods (after the common underlay lines, before the pods).
    fn node_lines(&self, plan: &LabPlan, i: usize) -> Vec<String>;
    /// Node i's `bridge` batch (VXLAN forwarding entries); none by default.
    fn fdb_lines(&self, _plan: &LabPlan, _i: usize) -> Vec<String> {
        Vec::new()
    }
    /// The node side of one pod: its veth, moved into the pod namespace,
    /// and whatever the host needs to reach it.
    fn pod_host_lines(&self, plan: &LabPlan, pod: &PodWire) -> Vec<String>;
    /// The `ip` batch inside the pod: address, routes, gateway neighbour.
    fn pod_lines(&self, plan: &LabPlan, pod: &PodWire) -> Vec<String>;
    /// Sysctls the flavour sets on node i besides the common ones
    /// (`net.ipv4.ip_forward`, bridge-nf-call-iptables): key, value, and
    /// whether a missing key is skipped.
    fn node_sysctls(&self, _plan: &LabPlan, _i: usize) -> Vec<(String, String, bool)> {
        Vec::new()
    }
    /// The CNI's own iptables chains and rules on node i.
    fn iptables(&self, plan: &LabPlan, i: usize) -> CniRules;
    /// Its ip6tables chains and rules on node i of a lab with IPv6 (the
    /// same chains over the IPv6 CIDRs, as flanneld with `EnableIPv6`,
    /// Felix and kindnet write them); none on an IPv4-only lab.
    fn ip6tables(&self, _plan: &LabPlan, _i: usize) -> CniRules {
        CniRules::default()
    }
    /// The files the CNI's installer leaves on node i, relative to the node
    /// root: its conflist in etc/cni/net.d first, then the rest.
    fn node_files(&self, plan: &LabPlan, i: usize) -> Vec<(String, String)>;
    /// Its plugin binaries (stand-ins in the node's plugin dir).
    fn plugins(&self) -> &'static [&'static str];
    /// `cross-node-drop`: pod traffic between nodes `a` and `b` vanishes
    /// both ways, while their underlay and every other pair work.
    fn cut_pair<'a>(&'a self, lab: &'a LabCtx, a: usize, b: usize) -> BoxFuture<'a, Result<()>>;
    /// `node-isolated`: node i's pods lose every other node and no other
    /// node reaches them, while its underlay address still answers.
    fn isolate<'a>(&'a self, lab: &'a LabCtx, i: usize) -> BoxFuture<'a, Result<()>>;
    /// The route node `a` holds to node `b`'s pods as a routing agent keeps
    /// it (`ip route` arguments: destination, gateway, device), of the lab's
    /// first family (IPv4 on dual stack, IPv6 on an IPv6 lab), which
    /// `route-missing` deletes. None: the flavour finds peers another way
    /// (flannel's VXLAN: the route is fixed, the peer is in the FDB, and
    /// losing a peer is `cross-node-drop`).
    fn peer_route(&self, _plan: &LabPlan, _a: usize, _b: usize) -> Option<String> {
        None
    }
}

impl std::fmt::Debug for dyn Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for dyn Flavour {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

/// Every flavour, the default first, in the order `--cni` lists them.
pub fn all() -> &'static [&'static dyn Flavour] {
    &[
        &flannel::Flannel,
        &host_gw::HostGw,
        &calico::Calico,
        &kindnet::Kindnet,
    ]
}

/// The default flavour (flannel's VXLAN).
pub fn default() -> &'static dyn Flavour {
    all()[0]
}

pub fn find(name: &str) -> Option<&'static dyn Flavour> {
    all().iter().copied().find(|f| f.name() == name)
}

/// `--cni NAME`, or a usage message naming the flavours.
pub fn parse(name: &str) -> std::result::Result<&'static dyn Flavour, String> {
    find(name.trim()).ok_or_else(|| {
        let known: Vec<&str> = all().iter().map(|f| f.name()).collect();
        format!(
            "unknown CNI flavour '{name}'; the lab builds: {}",
            known.join(", ")
        )
    })
}

/// A pod's veth pair: `host` in the node namespace (with the MAC the CNI
/// gives it, if it fixes one) and eth0 with the pod's fixed MAC in the pod's
/// namespace, both at `mtu`.
pub(crate) fn veth_pair(pod: &PodWire, host: &str, host_mac: Option<&str>, mtu: u16) -> String {
    let address = host_mac
        .map(|m| format!(" address {m}"))
        .unwrap_or_default();
    format!(
        "link add {host} mtu {mtu}{address} type veth peer name eth0 address {} mtu {mtu} netns {}",
        pod.mac, pod.ns
    )
}

/// The node's permanent neighbour entries for a pod on `dev`: its IPv4
/// address and, on an IPv6 lab, its IPv6 one (fixed MACs: see
/// `LabPlan::underlay_mac`).
pub(crate) fn pod_neigh_lines(p: &LabPlan, pod: &PodWire, dev: &str) -> Vec<String> {
    let mut l = vec![format!(
        "neigh replace {} lladdr {} dev {dev} nud permanent",
        pod.ip, pod.mac
    )];
    if p.family.v6() {
        l.push(format!(
            "neigh replace {} lladdr {} dev {dev} nud permanent",
            pod.ip6, pod.mac
        ));
    }
    l
}

/// A routed pod on its node (no bridge: kindnet's ptp, Calico): a host
/// route to its address through its veth `dev` (`/32`, and `/128` on an
/// IPv6 lab), `extra` appended to each (Felix's `proto 80`), and its
/// neighbour entries.
pub(crate) fn routed_pod_lines(p: &LabPlan, pod: &PodWire, dev: &str, extra: &str) -> Vec<String> {
    let mut l = vec![format!(
        "route add {}/32 dev {dev} scope link{extra}",
        pod.ip
    )];
    if p.family.v6() {
        l.push(format!("route add {}/128 dev {dev}{extra}", pod.ip6));
    }
    l.extend(pod_neigh_lines(p, pod, dev));
    l
}

/// Node `a`'s IPv4 route to node `b`'s pods on a routed flavour: via `b`'s
/// underlay address (flannel's host-gw, kindnet).
fn underlay_route4(p: &LabPlan, a: usize, b: usize) -> Option<String> {
    (a != b && a < p.nodes && b < p.nodes)
        .then(|| format!("{} via {} dev eth0", p.pod_cidr(b), p.node_ip(b)))
}

/// The same for IPv6: `b`'s IPv6 pod /64 via its IPv6 underlay address.
fn underlay_route6(p: &LabPlan, a: usize, b: usize) -> Option<String> {
    (a != b && a < p.nodes && b < p.nodes)
        .then(|| format!("{} via {} dev eth0", p.pod_cidr6(b), p.node_ip6(b)))
}

/// Node `a`'s route to node `b`'s pods on a routed flavour, of the lab's
/// first family (IPv4 on dual stack, as the cluster lists it first; IPv6 on
/// an IPv6 lab): what `route-missing` deletes.
pub(crate) fn underlay_route(p: &LabPlan, a: usize, b: usize) -> Option<String> {
    if p.family.v4() {
        underlay_route4(p, a, b)
    } else {
        underlay_route6(p, a, b)
    }
}

/// The routes node i holds to every other node's pods, as `ip` lines: IPv4
/// (the lab's plumbing on every lab) and, on an IPv6 lab, IPv6 (flanneld
/// with `EnableIPv6`, kindnetd, both route each family via the peer's node
/// address of that family).
pub(crate) fn underlay_routes(p: &LabPlan, i: usize) -> Vec<String> {
    let mut l: Vec<String> = (0..p.nodes)
        .filter_map(|b| underlay_route4(p, i, b))
        .map(|r| format!("route add {r}"))
        .collect();
    if p.family.v6() {
        l.extend(
            (0..p.nodes)
                .filter_map(|b| underlay_route6(p, i, b))
                .map(|r| format!("route add {r}")),
        );
    }
    l
}

/// The network between the nodes drops pod traffic (a firewall, a cloud
/// route table or source/destination check between them): nft rules in the
/// wire's bridge, which no node shows. `pairs`: (source CIDR, destination
/// CIDR) of one family each, dropped in that direction. How routed flavours
/// lose a peer or a whole node: there is no overlay device to take down.
pub(crate) fn wire_drops<'a>(
    lab: &'a LabCtx,
    pairs: Vec<(String, String)>,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        lab.tools
            .nft_load(&lab.plan.wire_ns(), &wire_drop_rules(&pairs))
            .await
    })
}

/// The wire's nft document for [`wire_drops`].
fn wire_drop_rules(pairs: &[(String, String)]) -> String {
    let mut doc = String::from(
        "table bridge netcheck-wire {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n  }\n}\n",
    );
    for (src, dst) in pairs {
        let fam = if src.contains(':') { "ip6" } else { "ip" };
        doc.push_str(&format!(
            "add rule bridge netcheck-wire forward {fam} saddr {src} {fam} daddr {dst} drop\n"
        ));
    }
    doc
}

/// [`Flavour::cut_pair`] on a routed flavour: the wire drops pod traffic
/// between the two nodes' pod CIDRs, both ways, in every family of the lab.
pub(crate) fn cut_pair_on_wire<'a>(
    lab: &'a LabCtx,
    a: usize,
    b: usize,
) -> BoxFuture<'a, Result<()>> {
    let p = &lab.plan;
    let mut cidrs = vec![(p.pod_cidr(a), p.pod_cidr(b))];
    if p.family.v6() {
        cidrs.push((p.pod_cidr6(a), p.pod_cidr6(b)));
    }
    let pairs = cidrs
        .into_iter()
        .flat_map(|(ca, cb)| [(ca.clone(), cb.clone()), (cb, ca)])
        .collect();
    wire_drops(lab, pairs)
}

/// [`Flavour::isolate`] on a routed flavour: the wire drops every packet
/// from or to node i's pods, in every family of the lab (its node address
/// still answers).
pub(crate) fn isolate_on_wire<'a>(lab: &'a LabCtx, i: usize) -> BoxFuture<'a, Result<()>> {
    let p = &lab.plan;
    let mut cidrs = vec![(p.pod_cidr(i), "0.0.0.0/0".to_string())];
    if p.family.v6() {
        cidrs.push((p.pod_cidr6(i), "::/0".to_string()));
    }
    let pairs = cidrs
        .into_iter()
        .flat_map(|(c, any)| [(c.clone(), any.clone()), (any, c)])
        .collect();
    wire_drops(lab, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse() {
        let mut seen = std::collections::BTreeSet::new();
        for f in all() {
            assert!(seen.insert(f.name()), "duplicate flavour {}", f.name());
            assert_eq!(parse(f.name()).map(|p| p.name()), Ok(f.name()));
            assert!(!f.description().is_empty() && !f.description().contains('\n'));
        }
        assert_eq!(default().name(), "flannel");
        let e = parse("weave").err().unwrap_or_default();
        assert!(
            e.contains("unknown CNI flavour 'weave'") && e.contains("flannel"),
            "{e}"
        );
    }

    /// What every flavour must hold to, in every IP family: pods addressed
    /// at the flavour's MTU (in each family the lab has), a conflist first
    /// among its files, every pod of a node wired.
    #[test]
    fn every_flavour_wires_every_pod_at_its_mtu() {
        use crate::lab::plan::IP_FAMILIES;
        for family in IP_FAMILIES {
            let mut plan = LabPlan::new("abcde", 3, 2).unwrap_or_else(|e| panic!("{e}"));
            plan.family = family;
            for f in all() {
                let pods = PodWire::on_node(&plan, 0);
                assert_eq!(pods.len(), 2 + plan.dns_replicas_on(0).len());
                for pod in &pods {
                    let host = f.pod_host_lines(&plan, pod).join("\n");
                    assert!(
                        host.contains(&format!("mtu {}", f.pod_mtu(family)))
                            && host.contains(&pod.ns),
                        "{}: {host}",
                        f.name()
                    );
                    let inside = f.pod_lines(&plan, pod).join("\n");
                    assert!(
                        inside.contains(&pod.ip.to_string()),
                        "{}: {inside}",
                        f.name()
                    );
                    assert_eq!(
                        inside.contains(&pod.ip6.to_string()),
                        family.v6(),
                        "{} {}: {inside}",
                        f.name(),
                        family.name()
                    );
                    assert_eq!(
                        host.contains(&pod.ip6.to_string()),
                        family.v6(),
                        "{} {}: {host}",
                        f.name(),
                        family.name()
                    );
                }
                let files = f.node_files(&plan, 0);
                assert!(
                    files
                        .first()
                        .is_some_and(|(p, c)| p.starts_with("etc/cni/net.d/")
                            && p.ends_with(".conflist")
                            && serde_json::from_str::<serde_json::Value>(c).is_ok()),
                    "{}: {files:?}",
                    f.name()
                );
                // The peers' pods are reached in every family of the lab.
                let nodes = f.node_lines(&plan, 0).join("\n");
                assert_eq!(
                    nodes.contains(&plan.pod_cidr6(1)),
                    family.v6(),
                    "{} {}: {nodes}",
                    f.name(),
                    family.name()
                );
            }
        }
    }

    /// The wire drops each family's pod CIDRs with that family's match.
    #[test]
    fn wire_drops_match_each_family() {
        let doc = wire_drop_rules(&[
            ("198.18.0.0/24".into(), "198.18.1.0/24".into()),
            ("::/0".into(), "2001:2:0:2::/64".into()),
        ]);
        assert!(doc.contains("forward ip saddr 198.18.0.0/24 ip daddr 198.18.1.0/24 drop\n"));
        assert!(doc.contains("forward ip6 saddr ::/0 ip6 daddr 2001:2:0:2::/64 drop\n"));
    }

    /// Each flavour's IPv6 chains are its IPv4 ones over the IPv6 CIDRs, on
    /// a lab with IPv6 only (flanneld's `EnableIPv6`, Felix, kindnet).
    #[test]
    fn ip6tables_rules_are_the_same_chains_over_ipv6_cidrs() {
        let mut plan = LabPlan::new("abcde", 3, 2).unwrap_or_else(|e| panic!("{e}"));
        for f in all() {
            assert_eq!(f.ip6tables(&plan, 0), CniRules::default(), "{}", f.name());
        }
        plan.family = crate::lab::plan::IpFamily::Dual;
        for f in all() {
            let (v4, v6) = (f.iptables(&plan, 0), f.ip6tables(&plan, 0));
            assert_eq!(v4.filter_chains, v6.filter_chains, "{}", f.name());
            assert_eq!(v4.nat_chains, v6.nat_chains, "{}", f.name());
            let rules6 = [v6.filter_rules, v6.nat_rules].concat().join("\n");
            assert!(
                !rules6.contains("198.18.") && !rules6.contains("224.0.0.0"),
                "{}: {rules6}",
                f.name()
            );
            assert!(rules6.contains("2001:2:"), "{}: {rules6}", f.name());
        }
    }
}
