//! `kindnet`: kind's CNI. No bridge and no overlay: kindnetd writes a
//! conflist (`10-kindnet.conflist`) that gives each pod the `ptp` plugin's
//! point-to-point veth: the pod's address from the node's pod CIDR
//! (host-local), the host end holding the pod's gateway (.1) as a /32 and a
//! /32 route to the pod; inside the pod, the gateway is reached over a link
//! route and every destination through it, so even same-node pods are
//! routed by the node. kindnetd routes every other node's pod CIDR via
//! that node's IP and masquerades what leaves the cluster (KIND-MASQ-AGENT).
//! Pod MTU 1500, the wire's.
//!
//! IPv6 (kind's `ipFamily: dual` or `ipv6`): ptp wires the second family
//! the same way (host-local hands out an address of each range): the host
//! end also holds the pod's IPv6 gateway (::1 of the node's pod /64) as a
//! /128 with a /128 route to the pod, the pod its /64 address without the
//! prefix route, a /128 link route to the gateway, the /64 and the default
//! route `::/0` via it; kindnetd routes every other node's IPv6 pod /64 via
//! that node's IPv6 address.

use super::{CniRules, Flavour, Overlay, PodWire};
use crate::lab::ctx::LabCtx;
use crate::lab::plan::{CLUSTER_CIDR, LabPlan, WIRE_MTU};
use crate::runtime::Result;
use futures::future::BoxFuture;
use std::net::IpAddr;

/// The file kindnetd writes.
pub const CONFLIST: &str = "10-kindnet.conflist";
/// The plugins a kind node ships.
pub const PLUGINS: [&str; 4] = ["ptp", "host-local", "portmap", "loopback"];

pub struct Kindnet;

impl Flavour for Kindnet {
    fn name(&self) -> &'static str {
        "kindnet"
    }
    fn description(&self) -> &'static str {
        "kind's CNI: a ptp veth per pod, no bridge, routes to the others via their node IPs (pod MTU 1500)"
    }
    fn pod_mtu(&self, _family: crate::lab::plan::IpFamily) -> u16 {
        WIRE_MTU
    }
    fn bridge(&self) -> Option<&'static str> {
        None
    }
    fn overlay(&self) -> Option<Overlay> {
        None
    }

    fn node_lines(&self, p: &LabPlan, i: usize) -> Vec<String> {
        super::underlay_routes(p, i)
    }

    fn pod_host_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        let veth = &pod.veth;
        let mut l = vec![
            super::veth_pair(pod, veth, Some(&host_mac(pod)), WIRE_MTU),
            format!("addr add {}/32 dev {veth}", p.gateway(pod.node)),
        ];
        if p.family.v6() {
            l.push(format!(
                "addr add {}/128 dev {veth} nodad",
                p.gateway6(pod.node)
            ));
        }
        l.push(format!("link set {veth} up"));
        l.extend(super::routed_pod_lines(p, pod, veth, ""));
        l
    }

    fn pod_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        let mut l = vec!["link set lo up".to_string()];
        l.extend(ptp_pod_lines(
            pod.ip.into(),
            24,
            p.gateway(pod.node).into(),
            &p.pod_cidr(pod.node),
            pod,
        ));
        if p.family.v6() {
            l.extend(ptp_pod_lines(
                pod.ip6.into(),
                64,
                p.gateway6(pod.node).into(),
                &p.pod_cidr6(pod.node),
                pod,
            ));
        }
        l
    }

    fn iptables(&self, _p: &LabPlan, _i: usize) -> CniRules {
        masq_agent_rules(CLUSTER_CIDR)
    }
    fn ip6tables(&self, p: &LabPlan, _i: usize) -> CniRules {
        if p.family.v6() {
            masq_agent_rules(crate::lab::plan::CLUSTER_CIDR_V6)
        } else {
            CniRules::default()
        }
    }

    fn node_files(&self, p: &LabPlan, i: usize) -> Vec<(String, String)> {
        vec![(
            format!("{}/{CONFLIST}", crate::lab::nodefs::CNI_CONF_DIR),
            conflist(&pod_cidrs(p, i)),
        )]
    }

    fn plugins(&self) -> &'static [&'static str] {
        &PLUGINS
    }

    fn cut_pair<'a>(&'a self, lab: &'a LabCtx, a: usize, b: usize) -> BoxFuture<'a, Result<()>> {
        super::cut_pair_on_wire(lab, a, b)
    }

    fn isolate<'a>(&'a self, lab: &'a LabCtx, i: usize) -> BoxFuture<'a, Result<()>> {
        super::isolate_on_wire(lab, i)
    }

    fn peer_route(&self, p: &LabPlan, a: usize, b: usize) -> Option<String> {
        super::underlay_route(p, a, b)
    }
}

/// The host end of a pod's veth: a fixed MAC (the pod holds it as its
/// gateway's, permanently).
fn host_mac(pod: &PodWire) -> String {
    format!(
        "0e:6e:63:05:{:02x}:{:02x}",
        pod.node & 0xff,
        pod.slot & 0xff
    )
}

/// What ptp does inside the pod for one of its addresses: the address
/// without the subnet's link route (`noprefixroute`; reached through the
/// gateway instead), a link route to the gateway, the subnet and the default
/// route via it, the gateway's MAC (the host end's) permanent. The first
/// family brings eth0 up.
fn ptp_pod_lines(ip: IpAddr, prefix: u8, gw: IpAddr, cidr: &str, pod: &PodWire) -> Vec<String> {
    let (host, default, nodad) = match ip {
        IpAddr::V4(_) => (32, "default", ""),
        IpAddr::V6(_) => (128, "::/0", " nodad"),
    };
    let mut l = vec![format!(
        "addr add {ip}/{prefix} dev eth0 noprefixroute{nodad}"
    )];
    if ip.is_ipv4() {
        l.push("link set eth0 up".to_string());
    }
    l.extend([
        format!("route add {gw}/{host} dev eth0 scope link src {ip}"),
        format!("route add {cidr} via {gw} dev eth0 src {ip}"),
        format!("route add {default} via {gw} dev eth0"),
        format!(
            "neigh replace {gw} lladdr {} dev eth0 nud permanent",
            host_mac(pod)
        ),
    ]);
    l
}

/// Node i's pod CIDRs, of each family the cluster shows.
fn pod_cidrs(p: &LabPlan, i: usize) -> Vec<String> {
    let mut v = Vec::new();
    if p.family.v4() {
        v.push(p.pod_cidr(i));
    }
    if p.family.v6() {
        v.push(p.pod_cidr6(i));
    }
    v
}

/// kindnetd's conflist for a node: ptp with host-local IPAM, one range and
/// one default route per family (kind's dual stack lists both), then
/// portmap.
pub fn conflist(pod_cidrs: &[String]) -> String {
    let ranges: Vec<serde_json::Value> = pod_cidrs
        .iter()
        .map(|c| serde_json::json!([{ "subnet": c }]))
        .collect();
    let routes: Vec<serde_json::Value> = pod_cidrs
        .iter()
        .map(|c| {
            let dst = if c.contains(':') { "::/0" } else { "0.0.0.0/0" };
            serde_json::json!({ "dst": dst })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "cniVersion": "0.3.1",
        "name": "kindnet",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "dataDir": "/run/cni-ipam-state",
                    "routes": routes,
                    "ranges": ranges
                },
                "mtu": WIRE_MTU
            },
            {
                "type": "portmap",
                "capabilities": { "portMappings": true }
            }
        ]
    }))
    .unwrap_or_default()
        + "\n"
}

/// kind-masq-agent's chain over one family's cluster CIDR (kindnet writes
/// it in iptables and, with IPv6, in ip6tables).
fn masq_agent_rules(cluster_cidr: &str) -> CniRules {
    let c = |s: &str| format!("-m comment --comment \"kind-masq-agent: {s}\"");
    CniRules {
        nat_chains: vec!["KIND-MASQ-AGENT".into()],
        postrouting_jumps: vec![format!(
            "-A POSTROUTING -m addrtype ! --dst-type LOCAL {} -j KIND-MASQ-AGENT",
            c("non-LOCAL destinations go through KIND-MASQ-AGENT")
        )],
        nat_rules: vec![
            format!(
                "-A KIND-MASQ-AGENT -d {cluster_cidr} {} -j RETURN",
                c("pod traffic inside the cluster is not masqueraded")
            ),
            format!(
                "-A KIND-MASQ-AGENT {} -j MASQUERADE",
                c("the rest is masqueraded (last in the chain)")
            ),
        ],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pod_is_a_routed_veth_and_peers_go_via_node_ips() {
        let p = LabPlan::new("abcde", 3, 2).unwrap();
        let l = Kindnet.node_lines(&p, 1).join("\n");
        assert!(
            l.contains("route add 198.18.0.0/24 via 198.19.255.1 dev eth0"),
            "{l}"
        );
        assert!(
            l.contains("route add 198.18.2.0/24 via 198.19.255.3 dev eth0"),
            "{l}"
        );
        assert!(!l.contains("bridge") && !l.contains("vxlan"), "{l}");
        let pods = PodWire::on_node(&p, 1);
        let host = Kindnet.pod_host_lines(&p, &pods[0]).join("\n");
        assert!(host.contains("addr add 198.18.1.1/32 dev veth0"), "{host}");
        assert!(host.contains("route add 198.18.1.2/32 dev veth0"), "{host}");
        assert!(!host.contains("master"), "no bridge: {host}");
        let inside = Kindnet.pod_lines(&p, &pods[0]).join("\n");
        assert!(
            inside.contains("route add default via 198.18.1.1"),
            "{inside}"
        );
        assert_ne!(host_mac(&pods[0]), host_mac(&pods[1]));
        let v: serde_json::Value = serde_json::from_str(&Kindnet.node_files(&p, 1)[0].1).unwrap();
        assert_eq!(v["name"], "kindnet");
        assert_eq!(v["plugins"][0]["type"], "ptp");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "198.18.1.0/24"
        );
        assert_eq!(v["plugins"][1]["type"], "portmap");
        let doc = crate::lab::rules::node_rules(&Kindnet.iptables(&p, 1), None);
        assert!(doc.contains(":KIND-MASQ-AGENT - [0:0]") && !doc.contains("FLANNEL"));
        assert!(
            !host.contains("2001:") && !inside.contains("2001:"),
            "IPv4 only"
        );
    }

    /// Dual stack: ptp wires IPv6 as IPv4 (the host end holds the /128
    /// gateway, a /128 route per pod; the pod routes everything via the
    /// gateway), peers' IPv6 pod /64s go via their IPv6 node addresses.
    #[test]
    fn dual_stack_pods_get_a_ptp_ipv6_address_and_route_via_the_host_end() {
        let mut p = LabPlan::new("abcde", 3, 2).unwrap();
        p.family = crate::lab::plan::IpFamily::Dual;
        let has = |l: &[String], s: &str| l.iter().any(|x| x == s);
        let l = Kindnet.node_lines(&p, 1);
        assert!(
            has(
                &l,
                "route add 2001:2:0:0::/64 via 2001:2:0:fffe::1 dev eth0"
            ),
            "{l:#?}"
        );
        assert!(has(
            &l,
            "route add 2001:2:0:2::/64 via 2001:2:0:fffe::3 dev eth0"
        ));
        assert!(has(&l, "route add 198.18.0.0/24 via 198.19.255.1 dev eth0"));
        let pods = PodWire::on_node(&p, 1);
        let host = Kindnet.pod_host_lines(&p, &pods[0]);
        for want in [
            "addr add 2001:2:0:1::1/128 dev veth0 nodad",
            "route add 2001:2:0:1::2/128 dev veth0",
            "neigh replace 2001:2:0:1::2 lladdr 0e:6e:63:03:01:00 dev veth0 nud permanent",
            "route add 198.18.1.2/32 dev veth0 scope link",
        ] {
            assert!(has(&host, want), "{want}: {host:#?}");
        }
        let inside = Kindnet.pod_lines(&p, &pods[0]);
        for want in [
            "addr add 2001:2:0:1::2/64 dev eth0 noprefixroute nodad",
            "route add 2001:2:0:1::1/128 dev eth0 scope link src 2001:2:0:1::2",
            "route add 2001:2:0:1::/64 via 2001:2:0:1::1 dev eth0 src 2001:2:0:1::2",
            "route add ::/0 via 2001:2:0:1::1 dev eth0",
            "route add default via 198.18.1.1 dev eth0",
        ] {
            assert!(has(&inside, want), "{want}: {inside:#?}");
        }
        assert_eq!(
            inside.iter().filter(|x| *x == "link set eth0 up").count(),
            1
        );
        let v: serde_json::Value = serde_json::from_str(&Kindnet.node_files(&p, 1)[0].1).unwrap();
        let ipam = &v["plugins"][0]["ipam"];
        assert_eq!(ipam["ranges"][1][0]["subnet"], "2001:2:0:1::/64");
        assert_eq!(ipam["routes"][1]["dst"], "::/0");
    }
}
