//! `host-gw`: kube-flannel with its host-gw backend. As `flannel`, a bridge
//! `cni0` per node holds the node's pods and flanneld's FLANNEL-FWD and
//! FLANNEL-POSTRTG chains accept and masquerade pod traffic, but nothing is
//! encapsulated: each node routes every other node's pod CIDR via that
//! node's underlay address (the nodes share one L2 segment), so there is no
//! `flannel.1` and the pods get the wire's full 1500 bytes
//! (`FLANNEL_MTU=1500` in /run/flannel/subnet.env). flanneld's network
//! config names the backend (`"Backend": {"Type": "host-gw"}`).
//!
//! IPv6 (`--ip-family ipv6|dual`; flanneld with `EnableIPv6` and an
//! `IPv6Network`): cni0 also holds the node's IPv6 gateway (::1 of its pod
//! /64), each pod its IPv6 address and a default route via it, and each
//! peer's IPv6 pod /64 is routed via the peer's IPv6 node address on eth0.

use super::flannel::{
    BRIDGE, CONFLIST, PLUGINS, bridge_lines, bridge_port_lines, bridged_pod_lines, conflist,
    flanneld_rules, subnet_env,
};
use super::{CniRules, Flavour, Overlay, PodWire};
use crate::lab::ctx::LabCtx;
use crate::lab::plan::{CLUSTER_CIDR, CLUSTER_CIDR_V6, LabPlan, WIRE_MTU};
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct HostGw;

impl Flavour for HostGw {
    fn name(&self) -> &'static str {
        "host-gw"
    }
    fn description(&self) -> &'static str {
        "flannel's host-gw backend: a bridge cni0 per node, routes to the others via their node IPs (pod MTU 1500)"
    }
    fn pod_mtu(&self, _family: crate::lab::plan::IpFamily) -> u16 {
        WIRE_MTU
    }
    fn bridge(&self) -> Option<&'static str> {
        Some(BRIDGE)
    }
    fn overlay(&self) -> Option<Overlay> {
        None
    }

    fn node_lines(&self, p: &LabPlan, i: usize) -> Vec<String> {
        let mut l = bridge_lines(p, i, WIRE_MTU);
        l.extend(super::underlay_routes(p, i));
        l
    }

    fn pod_host_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        bridge_port_lines(p, pod, WIRE_MTU)
    }

    fn pod_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        bridged_pod_lines(p, pod)
    }

    fn iptables(&self, p: &LabPlan, i: usize) -> CniRules {
        flanneld_rules(&p.pod_cidr(i))
    }
    fn ip6tables(&self, p: &LabPlan, i: usize) -> CniRules {
        super::flannel::flanneld_rules6(p, i)
    }

    fn node_files(&self, p: &LabPlan, i: usize) -> Vec<(String, String)> {
        vec![
            (
                format!("{}/{CONFLIST}", crate::lab::nodefs::CNI_CONF_DIR),
                conflist(),
            ),
            ("run/flannel/subnet.env".into(), subnet_env(p, i, WIRE_MTU)),
            // kube-flannel's ConfigMap, where its DaemonSet mounts it.
            ("etc/kube-flannel/net-conf.json".into(), net_conf(p)),
        ]
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

/// flanneld's network config with the host-gw backend, and IPv6 as
/// flannel's dual-stack and IPv6-only configs enable it.
pub fn net_conf(p: &LabPlan) -> String {
    let mut conf = serde_json::json!({
        "Network": CLUSTER_CIDR,
        "Backend": { "Type": "host-gw" }
    });
    if p.family.v6() {
        conf["EnableIPv6"] = true.into();
        conf["IPv6Network"] = CLUSTER_CIDR_V6.into();
    }
    if !p.family.v4() {
        conf["EnableIPv4"] = false.into();
        conf["Network"] = serde_json::Value::Null;
    }
    serde_json::to_string_pretty(&conf).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_routed_via_their_node_ips_with_no_overlay() {
        let p = LabPlan::new("abcde", 3, 2).unwrap();
        let l = HostGw.node_lines(&p, 0).join("\n");
        assert!(
            l.contains("route add 198.18.1.0/24 via 198.19.255.2 dev eth0"),
            "{l}"
        );
        assert!(
            l.contains("route add 198.18.2.0/24 via 198.19.255.3 dev eth0"),
            "{l}"
        );
        assert!(!l.contains("vxlan") && !l.contains("flannel.1"), "{l}");
        assert!(l.contains("link add cni0") && l.contains("mtu 1500"), "{l}");
        assert!(HostGw.fdb_lines(&p, 0).is_empty());
        assert_eq!(
            HostGw.peer_route(&p, 2, 0).as_deref(),
            Some("198.18.0.0/24 via 198.19.255.1 dev eth0")
        );
        let files = HostGw.node_files(&p, 1);
        let env = &files[1].1;
        assert!(env.contains("FLANNEL_MTU=1500"), "{env}");
        let conf: serde_json::Value = serde_json::from_str(&files[2].1).unwrap();
        assert_eq!(conf["Backend"]["Type"], "host-gw");
        assert!(conf.get("EnableIPv6").is_none(), "{conf}");
    }

    /// Dual stack: cni0 holds both gateways, each peer's IPv6 pod /64 goes
    /// via its IPv6 node address, pods get their IPv6 address and default
    /// route; route-missing still takes the IPv4 route (the first family).
    #[test]
    fn dual_stack_routes_each_family_via_the_peers_node_address_of_that_family() {
        use crate::lab::plan::IpFamily;
        let mut p = LabPlan::new("abcde", 3, 2).unwrap();
        p.family = IpFamily::Dual;
        let l = HostGw.node_lines(&p, 0);
        let has = |l: &[String], s: &str| l.iter().any(|x| x == s);
        assert!(has(&l, "addr add 2001:2::1/64 dev cni0 nodad"), "{l:#?}");
        assert!(has(
            &l,
            "route add 2001:2:0:1::/64 via 2001:2:0:fffe::2 dev eth0"
        ));
        assert!(has(
            &l,
            "route add 2001:2:0:2::/64 via 2001:2:0:fffe::3 dev eth0"
        ));
        assert!(has(&l, "route add 198.18.1.0/24 via 198.19.255.2 dev eth0"));
        assert!(
            !l.iter().any(|x| x.contains("2001:2:0:0::/64 via")),
            "{l:#?}"
        );
        let pod = &PodWire::on_node(&p, 0)[0];
        let inside = HostGw.pod_lines(&p, pod);
        assert!(
            has(&inside, "addr add 2001:2::2/64 dev eth0 nodad"),
            "{inside:#?}"
        );
        assert!(has(&inside, "route add ::/0 via 2001:2::1 dev eth0"));
        assert!(has(
            &HostGw.pod_host_lines(&p, pod),
            "neigh replace 2001:2::2 lladdr 0e:6e:63:03:00:00 dev cni0 nud permanent"
        ));
        assert_eq!(
            HostGw.peer_route(&p, 2, 0).as_deref(),
            Some("198.18.0.0/24 via 198.19.255.1 dev eth0")
        );
        let conf: serde_json::Value = serde_json::from_str(&net_conf(&p)).unwrap();
        assert_eq!(
            (&conf["EnableIPv6"], &conf["IPv6Network"]),
            (&true.into(), &"2001:2:0::/56".into())
        );
        // IPv6 only: the route the cluster shows is IPv6's.
        p.family = IpFamily::Ipv6;
        assert_eq!(
            HostGw.peer_route(&p, 2, 0).as_deref(),
            Some("2001:2:0:0::/64 via 2001:2:0:fffe::1 dev eth0")
        );
        let conf: serde_json::Value = serde_json::from_str(&net_conf(&p)).unwrap();
        assert_eq!(conf["EnableIPv4"], false);
    }
}
