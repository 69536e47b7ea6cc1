//! `flannel` (the default): kube-flannel with its VXLAN backend. A bridge
//! `cni0` per node holds the node's pods (the bridge plugin, hairpin on, the
//! bridge the pods' gateway); `flannel.1` (VXLAN, VNI 1, UDP 8472) carries
//! pod traffic to the other nodes, each reached by a route to its pod CIDR
//! via its `flannel.1` address, a permanent neighbour entry and an FDB entry
//! (what flanneld writes from the peers' leases). The overlay costs 50
//! bytes: pods get 1450 on the 1500 wire. flanneld's FLANNEL-FWD and
//! FLANNEL-POSTRTG chains accept and masquerade pod traffic.

use super::{CniRules, Flavour, Overlay, PodWire};
use crate::lab::ctx::LabCtx;
use crate::lab::plan::{
    CLUSTER_CIDR, CLUSTER_CIDR_V6, LabPlan, OVERLAY_MTU, VXLAN_PORT, VXLAN_VNI,
};
use crate::runtime::Result;
use futures::future::BoxFuture;

/// The bridge flannel's bridge plugin makes.
pub const BRIDGE: &str = "cni0";
/// flannel's VXLAN device.
pub const DEVICE: &str = "flannel.1";
/// kube-flannel's conflist.
pub const CONFLIST: &str = "10-flannel.conflist";

pub struct Flannel;

impl Flavour for Flannel {
    fn name(&self) -> &'static str {
        "flannel"
    }
    fn description(&self) -> &'static str {
        "flannel's VXLAN backend: a bridge cni0 per node, flannel.1 to the others (pod MTU 1450)"
    }
    fn pod_mtu(&self, _family: crate::lab::plan::IpFamily) -> u16 {
        OVERLAY_MTU
    }
    fn bridge(&self) -> Option<&'static str> {
        Some(BRIDGE)
    }
    fn overlay(&self) -> Option<Overlay> {
        Some(Overlay {
            device: DEVICE,
            port: VXLAN_PORT,
        })
    }

    fn node_lines(&self, p: &LabPlan, i: usize) -> Vec<String> {
        let mut l = bridge_lines(p, i, OVERLAY_MTU);
        l.extend([
            format!(
                "link add {DEVICE} address {} mtu {OVERLAY_MTU} type vxlan id {VXLAN_VNI} local {} dev eth0 dstport {VXLAN_PORT} nolearning",
                p.overlay_mac(i),
                p.node_ip(i)
            ),
            format!("addr add {}/32 dev {DEVICE}", p.overlay_ip(i)),
            format!("link set {DEVICE} up"),
        ]);
        for b in (0..p.nodes).filter(|&b| b != i) {
            l.push(format!(
                "neigh add {} lladdr {} dev {DEVICE} nud permanent",
                p.overlay_ip(b),
                p.overlay_mac(b)
            ));
            l.push(format!(
                "route add {} via {} dev {DEVICE} onlink",
                p.pod_cidr(b),
                p.overlay_ip(b)
            ));
        }
        if p.family.v6() {
            l.extend(ipv6_node_lines(p, i));
        }
        l
    }

    fn fdb_lines(&self, p: &LabPlan, i: usize) -> Vec<String> {
        (0..p.nodes)
            .filter(|&b| b != i)
            .map(|b| {
                format!(
                    "fdb append {} dev {DEVICE} dst {} self permanent",
                    p.overlay_mac(b),
                    p.node_ip(b)
                )
            })
            .collect()
    }

    fn pod_host_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        bridge_port_lines(p, pod, OVERLAY_MTU)
    }

    fn pod_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        bridged_pod_lines(p, pod)
    }

    fn iptables(&self, p: &LabPlan, i: usize) -> CniRules {
        flanneld_rules(&p.pod_cidr(i))
    }
    fn ip6tables(&self, p: &LabPlan, i: usize) -> CniRules {
        flanneld_rules6(p, i)
    }

    fn node_files(&self, p: &LabPlan, i: usize) -> Vec<(String, String)> {
        vec![
            (
                format!("{}/{CONFLIST}", crate::lab::nodefs::CNI_CONF_DIR),
                conflist(),
            ),
            (
                "run/flannel/subnet.env".into(),
                subnet_env(p, i, OVERLAY_MTU),
            ),
        ]
    }

    fn plugins(&self) -> &'static [&'static str] {
        &PLUGINS
    }

    fn cut_pair<'a>(&'a self, lab: &'a LabCtx, a: usize, b: usize) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for (x, y) in [(a, b), (b, a)] {
                forget_peer(lab, x, y).await?;
            }
            Ok(())
        })
    }

    fn isolate<'a>(&'a self, lab: &'a LabCtx, i: usize) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            lab.ip(
                &lab.plan.node_ns(i),
                &[format!("link set dev {DEVICE} down")],
            )
            .await
        })
    }
}

/// Dual stack on one VXLAN device: flanneld makes a second one,
/// `flannel-v6.1`, over an IPv6 underlay; the lab keeps one `flannel.1`
/// over the IPv4 underlay, which carries IPv6 inside just as well. cni0
/// has the node's IPv6 gateway ([`bridge_lines`]), `flannel.1` gets an IPv6
/// address outside every pod /64, and each peer's IPv6 pod /64 is routed
/// via its `flannel.1` IPv6 address (a permanent neighbour entry with its
/// VXLAN MAC, which the FDB already maps to the peer's underlay), and that
/// address itself too. `nodad`: usable at once.
fn ipv6_node_lines(p: &LabPlan, i: usize) -> Vec<String> {
    let mut l = vec![format!(
        "addr add {}/128 dev {DEVICE} nodad",
        p.overlay_ip6(i)
    )];
    for b in (0..p.nodes).filter(|&b| b != i) {
        l.push(format!(
            "neigh add {} lladdr {} dev {DEVICE} nud permanent",
            p.overlay_ip6(b),
            p.overlay_mac(b)
        ));
        // The peer's flannel.1 address itself (outside its pod /64): what
        // answers a node that sends from its own flannel.1 address.
        l.push(format!("route add {}/128 dev {DEVICE}", p.overlay_ip6(b)));
        l.push(format!(
            "route add {} via {} dev {DEVICE} onlink",
            p.pod_cidr6(b),
            p.overlay_ip6(b)
        ));
    }
    l
}

/// The plugins a flannel node has (flannel delegates to bridge and
/// host-local; portmap chained; loopback for the pods' lo).
pub const PLUGINS: [&str; 5] = ["flannel", "bridge", "host-local", "portmap", "loopback"];

/// Node `a` forgets overlay peer `b`: its FDB and neighbour entries (what
/// flanneld removes when a peer's lease goes away; the route stays).
async fn forget_peer(lab: &LabCtx, a: usize, b: usize) -> Result<()> {
    let p = &lab.plan;
    let ns = p.node_ns(a);
    lab.bridge(
        &ns,
        &[format!(
            "fdb del {} dev {DEVICE} dst {} self",
            p.overlay_mac(b),
            p.node_ip(b)
        )],
    )
    .await?;
    lab.ip(
        &ns,
        &[format!("neigh del {} dev {DEVICE}", p.overlay_ip(b))],
    )
    .await
}

/// The bridge `cni0` with the node's gateway address (flannel's bridge
/// plugin with `isGateway`; host-gw has it too), and on an IPv6 lab the
/// node's IPv6 gateway on its pod /64 (`nodad`: usable at once).
pub(crate) fn bridge_lines(p: &LabPlan, i: usize, mtu: u16) -> Vec<String> {
    let mut l = vec![
        format!(
            "link add {BRIDGE} address {} mtu {mtu} type bridge",
            p.cni_mac(i)
        ),
        format!("addr add {}/24 dev {BRIDGE}", p.gateway(i)),
    ];
    if p.family.v6() {
        l.push(format!("addr add {}/64 dev {BRIDGE} nodad", p.gateway6(i)));
    }
    l.push(format!("link set {BRIDGE} up"));
    l
}

/// A pod's veth as a port of `cni0`, hairpin on (`hairpinMode`), and the
/// pod's permanent neighbour entries (fixed MACs: see `LabPlan::underlay_mac`).
pub(crate) fn bridge_port_lines(p: &LabPlan, pod: &PodWire, mtu: u16) -> Vec<String> {
    let veth = &pod.veth;
    let mut l = vec![
        super::veth_pair(pod, veth, None, mtu),
        format!("link set {veth} master {BRIDGE}"),
        format!("link set dev {veth} type bridge_slave hairpin on"),
        format!("link set {veth} up"),
    ];
    l.extend(super::pod_neigh_lines(p, pod, BRIDGE));
    l
}

/// Inside a pod on the bridge: its address in the node's /24, the default
/// route via the bridge (`isDefaultGateway`), the gateway's MAC permanent;
/// on an IPv6 lab the same in its node's /64.
pub(crate) fn bridged_pod_lines(p: &LabPlan, pod: &PodWire) -> Vec<String> {
    let (ip, gw, gw_mac) = (pod.ip, p.gateway(pod.node), p.cni_mac(pod.node));
    let mut l = vec![
        "link set lo up".to_string(),
        format!("addr add {ip}/24 dev eth0"),
        "link set eth0 up".to_string(),
        format!("route add default via {gw} dev eth0"),
        format!("neigh replace {gw} lladdr {gw_mac} dev eth0 nud permanent"),
    ];
    if p.family.v6() {
        let gw6 = p.gateway6(pod.node);
        l.extend([
            format!("addr add {}/64 dev eth0 nodad", pod.ip6),
            format!("route add ::/0 via {gw6} dev eth0"),
            format!("neigh replace {gw6} lladdr {gw_mac} dev eth0 nud permanent"),
        ]);
    }
    l
}

/// flanneld's chains: FLANNEL-FWD accepts the pod network in FORWARD,
/// FLANNEL-POSTRTG masquerades what leaves it (not what stays inside).
pub(crate) fn flanneld_rules(pod_cidr: &str) -> CniRules {
    flanneld_family_rules(pod_cidr, CLUSTER_CIDR, "224.0.0.0/4")
}

/// flanneld's ip6tables rules on node i of a lab with IPv6 (`EnableIPv6`:
/// the same chains over the IPv6 CIDRs); none on an IPv4-only lab.
pub(crate) fn flanneld_rules6(p: &LabPlan, i: usize) -> CniRules {
    if !p.family.v6() {
        return CniRules::default();
    }
    flanneld_family_rules(
        &p.pod_cidr6(i),
        crate::lab::plan::CLUSTER_CIDR_V6,
        "ff00::/8",
    )
}

/// flanneld's FLANNEL-FWD and FLANNEL-POSTRTG over one family's CIDRs.
fn flanneld_family_rules(pod_cidr: &str, cluster_cidr: &str, multicast: &str) -> CniRules {
    let fwd = |dir: &str| {
        format!(
            "-A FLANNEL-FWD {dir} {cluster_cidr} -m comment --comment \"flanneld forward\" -j ACCEPT"
        )
    };
    let masq = |m: &str| format!("-A FLANNEL-POSTRTG {m} -m comment --comment \"flanneld masq\"");
    CniRules {
        filter_chains: vec!["FLANNEL-FWD".into()],
        forward_jumps: vec![
            "-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD".into(),
        ],
        filter_rules: vec![fwd("-s"), fwd("-d")],
        nat_chains: vec!["FLANNEL-POSTRTG".into()],
        postrouting_jumps: vec![
            "-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG".into(),
        ],
        nat_rules: vec![
            // `-m mark` before the comment, as flanneld writes it.
            "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld masq\" -j RETURN".into(),
            format!("{} -j RETURN", masq(&format!("-s {pod_cidr} -d {cluster_cidr}"))),
            format!("{} -j RETURN", masq(&format!("-s {cluster_cidr} -d {pod_cidr}"))),
            format!("{} -j RETURN", masq(&format!("! -s {cluster_cidr} -d {pod_cidr}"))),
            format!(
                "{} -j MASQUERADE --random-fully",
                masq(&format!("-s {cluster_cidr} ! -d {multicast}"))
            ),
        ],
    }
}

/// kube-flannel's conflist: flannel delegating to bridge with hairpin mode,
/// then portmap.
pub fn conflist() -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "name": "cbr0",
        "cniVersion": "0.3.1",
        "plugins": [
            {
                "type": "flannel",
                "delegate": {
                    "hairpinMode": true,
                    "isDefaultGateway": true
                }
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

/// What flanneld writes for the CNI plugin (`/run/flannel/subnet.env`):
/// each family's network and the node's subnet (as its gateway address).
pub fn subnet_env(p: &LabPlan, i: usize, mtu: u16) -> String {
    let mut env = String::new();
    if p.family.v4() {
        env.push_str(&format!(
            "FLANNEL_NETWORK={CLUSTER_CIDR}\nFLANNEL_SUBNET={}/24\n",
            p.gateway(i)
        ));
    }
    if p.family.v6() {
        env.push_str(&format!(
            "FLANNEL_IPV6_NETWORK={CLUSTER_CIDR_V6}\nFLANNEL_IPV6_SUBNET={}/64\n",
            p.gateway6(i)
        ));
    }
    env + &format!("FLANNEL_MTU={mtu}\nFLANNEL_IPMASQ=true\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_is_flannel_delegating_to_bridge_with_hairpin() {
        let v: serde_json::Value = serde_json::from_str(&conflist()).unwrap();
        assert_eq!(v["plugins"][0]["type"], "flannel");
        assert_eq!(v["plugins"][0]["delegate"]["hairpinMode"], true);
        assert_eq!(v["plugins"][1]["type"], "portmap");
    }

    #[test]
    fn every_peer_is_reached_over_flannel_1() {
        let p = LabPlan::new("abcde", 3, 2).unwrap();
        let l = Flannel.node_lines(&p, 0).join("\n");
        assert!(l.contains("route add 198.18.1.0/24 via 198.18.1.0 dev flannel.1 onlink"));
        assert!(l.contains("route add 198.18.2.0/24 via 198.18.2.0 dev flannel.1 onlink"));
        assert!(!l.contains("198.18.0.0/24 via"), "no route to itself: {l}");
        assert_eq!(Flannel.fdb_lines(&p, 0).len(), 2);
        let env = subnet_env(&p, 1, OVERLAY_MTU);
        assert!(env.contains("FLANNEL_SUBNET=198.18.1.1/24") && env.contains("FLANNEL_MTU=1450"));
        assert!(!env.contains("IPV6"), "{env}");
    }

    /// Dual stack: cni0 holds the IPv6 gateway, each pod its /64 address and
    /// a default route via the gateway, each peer's IPv6 pod /64 goes over
    /// flannel.1 via the peer's flannel.1 IPv6 address.
    #[test]
    fn dual_stack_pods_route_ipv6_through_cni0_and_flannel_1() {
        let mut p = LabPlan::new("abcde", 3, 2).unwrap();
        p.family = crate::lab::plan::IpFamily::Dual;
        let l = Flannel.node_lines(&p, 0);
        let has = |l: &[String], s: &str| l.iter().any(|x| x == s);
        assert!(has(&l, "addr add 2001:2::1/64 dev cni0 nodad"), "{l:#?}");
        assert!(has(&l, "addr add 2001:2:0:fffd::1/128 dev flannel.1 nodad"));
        assert!(has(
            &l,
            "route add 2001:2:0:1::/64 via 2001:2:0:fffd::2 dev flannel.1 onlink"
        ));
        let pod = &PodWire::on_node(&p, 0)[1];
        let host = Flannel.pod_host_lines(&p, pod);
        assert!(
            has(
                &host,
                "neigh replace 2001:2::3 lladdr 0e:6e:63:03:00:01 dev cni0 nud permanent"
            ),
            "{host:#?}"
        );
        let inside = Flannel.pod_lines(&p, pod);
        assert!(has(&inside, "addr add 2001:2::3/64 dev eth0 nodad"));
        assert!(has(&inside, "route add ::/0 via 2001:2::1 dev eth0"));
        let env = subnet_env(&p, 1, OVERLAY_MTU);
        assert!(
            env.contains("FLANNEL_SUBNET=198.18.1.1/24\n")
                && env.contains("FLANNEL_IPV6_NETWORK=2001:2:0::/56\n")
                && env.contains("FLANNEL_IPV6_SUBNET=2001:2:0:1::1/64\n"),
            "{env}"
        );
    }
}
