//! `host-gw`: kube-flannel with its host-gw backend. As `flannel`, a bridge
//! `cni0` per node holds the node's pods and flanneld's FLANNEL-FWD and
//! FLANNEL-POSTRTG chains accept and masquerade pod traffic, but nothing is
//! encapsulated: each node routes every other node's pod CIDR via that
//! node's underlay address (the nodes share one L2 segment), so there is no
//! `flannel.1` and the pods get the wire's full 1500 bytes
//! (`FLANNEL_MTU=1500` in /run/flannel/subnet.env). flanneld's network
//! config names the backend (`"Backend": {"Type": "host-gw"}`).

use super::flannel::{
    BRIDGE, CONFLIST, PLUGINS, bridge_lines, bridge_port_lines, bridged_pod_lines, conflist,
    flanneld_rules, subnet_env,
};
use super::{CniRules, Flavour, Overlay, PodWire};
use crate::lab::ctx::LabCtx;
use crate::lab::plan::{CLUSTER_CIDR, LabPlan, WIRE_MTU};
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
    fn pod_mtu(&self) -> u16 {
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

    fn pod_host_lines(&self, _p: &LabPlan, pod: &PodWire) -> Vec<String> {
        bridge_port_lines(pod, WIRE_MTU)
    }

    fn pod_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        bridged_pod_lines(p, pod)
    }

    fn iptables(&self, p: &LabPlan, i: usize) -> CniRules {
        flanneld_rules(&p.pod_cidr(i))
    }

    fn node_files(&self, p: &LabPlan, i: usize) -> Vec<(String, String)> {
        vec![
            (
                format!("{}/{CONFLIST}", crate::lab::nodefs::CNI_CONF_DIR),
                conflist(),
            ),
            ("run/flannel/subnet.env".into(), subnet_env(p, i, WIRE_MTU)),
            // kube-flannel's ConfigMap, where its DaemonSet mounts it.
            ("etc/kube-flannel/net-conf.json".into(), net_conf()),
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

/// flanneld's network config with the host-gw backend.
pub fn net_conf() -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Network": CLUSTER_CIDR,
        "Backend": { "Type": "host-gw" }
    }))
    .unwrap_or_default()
        + "\n"
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
    }
}
