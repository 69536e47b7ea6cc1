//! `kindnet`: kind's CNI. No bridge and no overlay: kindnetd writes a
//! conflist (`10-kindnet.conflist`) that gives each pod the `ptp` plugin's
//! point-to-point veth: the pod's address from the node's pod CIDR
//! (host-local), the host end holding the pod's gateway (.1) as a /32 and a
//! /32 route to the pod; inside the pod, the gateway is reached over a link
//! route and every destination through it, so even same-node pods are
//! routed by the node. kindnetd routes every other node's pod CIDR via
//! that node's IP and masquerades what leaves the cluster (KIND-MASQ-AGENT).
//! Pod MTU 1500, the wire's.

use super::{CniRules, Flavour, Overlay, PodWire};
use crate::lab::ctx::LabCtx;
use crate::lab::plan::{CLUSTER_CIDR, LabPlan, WIRE_MTU};
use crate::runtime::Result;
use futures::future::BoxFuture;

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
    fn pod_mtu(&self) -> u16 {
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
        let PodWire {
            veth, ns, mac, ip, ..
        } = pod;
        let host_mac = host_mac(pod);
        vec![
            format!(
                "link add {veth} address {host_mac} mtu {WIRE_MTU} type veth peer name eth0 address {mac} mtu {WIRE_MTU} netns {ns}"
            ),
            format!("addr add {}/32 dev {veth}", p.gateway(pod.node)),
            format!("link set {veth} up"),
            format!("route add {ip}/32 dev {veth} scope link"),
            format!("neigh replace {ip} lladdr {mac} dev {veth} nud permanent"),
        ]
    }

    fn pod_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        let (ip, gw) = (pod.ip, p.gateway(pod.node));
        vec![
            "link set lo up".to_string(),
            // ptp removes the subnet's link route and reaches the subnet
            // through the gateway instead.
            format!("addr add {ip}/24 dev eth0 noprefixroute"),
            "link set eth0 up".to_string(),
            format!("route add {gw}/32 dev eth0 scope link src {ip}"),
            format!(
                "route add {} via {gw} dev eth0 src {ip}",
                p.pod_cidr(pod.node)
            ),
            format!("route add default via {gw} dev eth0"),
            format!(
                "neigh replace {gw} lladdr {} dev eth0 nud permanent",
                host_mac(pod)
            ),
        ]
    }

    fn iptables(&self, _p: &LabPlan, _i: usize) -> CniRules {
        let c = |s: &str| format!("-m comment --comment \"kind-masq-agent: {s}\"");
        CniRules {
            nat_chains: vec!["KIND-MASQ-AGENT".into()],
            postrouting_jumps: vec![format!(
                "-A POSTROUTING -m addrtype ! --dst-type LOCAL {} -j KIND-MASQ-AGENT",
                c("non-LOCAL destinations go through KIND-MASQ-AGENT")
            )],
            nat_rules: vec![
                format!(
                    "-A KIND-MASQ-AGENT -d {CLUSTER_CIDR} {} -j RETURN",
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

    fn node_files(&self, p: &LabPlan, i: usize) -> Vec<(String, String)> {
        vec![(
            format!("{}/{CONFLIST}", crate::lab::nodefs::CNI_CONF_DIR),
            conflist(&p.pod_cidr(i)),
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

/// kindnetd's conflist for a node: ptp with host-local IPAM on the node's
/// pod CIDR and a default route, then portmap.
pub fn conflist(pod_cidr: &str) -> String {
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
                    "routes": [{ "dst": "0.0.0.0/0" }],
                    "ranges": [[{ "subnet": pod_cidr }]]
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
    }
}
