//! `calico`: Calico in VXLAN mode (calico-node's Felix programming the
//! dataplane, the `calico` CNI plugin wiring pods), as a node of such a
//! cluster shows it:
//!
//! - no bridge: one veth pair per pod, the host end named `cali<hash>`
//!   ([`crate::inspect::calico::workload_interface`]: 11 hex digits of the
//!   SHA-1 of `<namespace>.<pod>`), MAC ee:ee:ee:ee:ee:ee, no address,
//!   proxy_arp = 1 and proxy_delay = 0 (Felix's per-interface sysctls);
//! - inside the pod: eth0 with the pod's /32, a link route to 169.254.1.1 and
//!   the default route via it; the pod learns the gateway's MAC by ARP, which
//!   only the host's proxy ARP answers (no permanent entry: `proxy-arp-off`
//!   must break it, as on a real node once the entry ages out);
//! - on the host: a /32 route per local pod via its `cali` interface, a
//!   blackhole for the node's own block (Felix's), and every other node's
//!   block via that node's VTEP over `vxlan.calico` (VNI 4096, UDP 4789,
//!   MTU 1450), with the static ARP and FDB entries Felix programs for each
//!   remote VTEP (as flanneld does for flannel.1); a default route toward the
//!   wire's gateway (the kernel answers proxy ARP only for an address it has
//!   a route to through another interface, and real nodes have one);
//! - Felix's iptables chains, `cali-*`: cali-FORWARD (jumped to from
//!   FORWARD, accepting what comes from or goes to `cali+`), and in nat
//!   cali-POSTROUTING → cali-nat-outgoing (masquerade for pod traffic
//!   leaving the pool); the FORWARD policy stays the lab's;
//! - Calico's conflist, `10-calico.conflist` (`calico` with `calico-ipam`,
//!   then `portmap` and `bandwidth`), and the plugins install-cni copies.
//!
//! Blocks: Calico hands out /26 blocks by default; the lab's pool uses a
//! block size of 24 (allowed: 20–32), so that a node's block is its pod CIDR.

use super::{CniRules, Flavour, Overlay, PodWire};
use crate::inspect::calico::{POD_GATEWAY, workload_interface};
use crate::lab::ctx::LabCtx;
use crate::lab::plan::{CLUSTER_CIDR, LabPlan, WIRE_GATEWAY};
use crate::runtime::Result;
use futures::future::BoxFuture;
use std::net::Ipv4Addr;

/// Felix's VXLAN device, and its defaults (FELIX_VXLANVNI, FELIX_VXLANPORT).
pub const VXLAN_DEVICE: &str = "vxlan.calico";
pub const VXLAN_VNI: u32 = 4096;
pub const VXLAN_PORT: u16 = 4789;
/// The VXLAN device's and the pods' MTU (1500 on the wire minus 50).
pub const MTU: u16 = 1450;
/// The MAC of every `cali` host end.
pub const HOST_VETH_MAC: &str = "ee:ee:ee:ee:ee:ee";
pub const CONF_FILE: &str = "10-calico.conflist";
/// What Calico's install-cni puts into the CNI bin dir.
pub const PLUGINS: [&str; 7] = [
    "calico",
    "calico-ipam",
    "bandwidth",
    "host-local",
    "loopback",
    "portmap",
    "tuning",
];
/// Felix's route protocol number (`proto 80` in `ip route`).
const FELIX_PROTO: u8 = 80;

pub struct Calico;

impl Flavour for Calico {
    fn name(&self) -> &'static str {
        "calico"
    }
    fn description(&self) -> &'static str {
        "Calico's VXLAN mode: a cali veth per pod (proxy ARP, gateway 169.254.1.1), no bridge, vxlan.calico to the others (pod MTU 1450)"
    }
    fn pod_mtu(&self) -> u16 {
        MTU
    }
    fn bridge(&self) -> Option<&'static str> {
        None
    }
    fn overlay(&self) -> Option<Overlay> {
        Some(Overlay {
            device: VXLAN_DEVICE,
            port: VXLAN_PORT,
        })
    }
    fn node_lines(&self, p: &LabPlan, i: usize) -> Vec<String> {
        node_lines(p, i)
    }
    fn fdb_lines(&self, p: &LabPlan, i: usize) -> Vec<String> {
        fdb_lines(p, i)
    }
    fn pod_host_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        pod_host_lines(&workload_of(p, pod))
    }
    fn pod_lines(&self, _p: &LabPlan, pod: &PodWire) -> Vec<String> {
        pod_lines(pod.ip)
    }
    fn node_sysctls(&self, p: &LabPlan, i: usize) -> Vec<(String, String, bool)> {
        sysctls(p, i)
            .into_iter()
            .map(|(k, v)| (k, v, false))
            .collect()
    }
    fn iptables(&self, _p: &LabPlan, _i: usize) -> CniRules {
        felix_rules()
    }
    fn node_files(&self, p: &LabPlan, i: usize) -> Vec<(String, String)> {
        vec![(
            format!("{}/{CONF_FILE}", crate::lab::nodefs::CNI_CONF_DIR),
            conflist(&p.node_name(i)),
        )]
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
                &[format!("link set dev {VXLAN_DEVICE} down")],
            )
            .await
        })
    }
    fn peer_route(&self, p: &LabPlan, _a: usize, b: usize) -> Option<String> {
        Some(format!(
            "{} via {} dev {VXLAN_DEVICE} onlink",
            p.pod_cidr(b),
            vtep_ip(p, b)
        ))
    }
}

/// Node `a` forgets VTEP `b`: its FDB and ARP entries (what Felix removes
/// when the peer's VTEP goes away; the route stays).
async fn forget_peer(lab: &LabCtx, a: usize, b: usize) -> Result<()> {
    let p = &lab.plan;
    let ns = p.node_ns(a);
    lab.bridge(
        &ns,
        &[format!(
            "fdb del {} dev {VXLAN_DEVICE} dst {} self",
            vtep_mac(p, b),
            p.node_ip(b)
        )],
    )
    .await?;
    lab.ip(
        &ns,
        &[format!("neigh del {} dev {VXLAN_DEVICE}", vtep_ip(p, b))],
    )
    .await
}

/// A pod as Calico wires it on node i.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// The lab's network namespace of the pod.
    pub netns: String,
    /// Its Kubernetes namespace and name (they name the host interface).
    pub namespace: String,
    pub name: String,
    pub ip: Ipv4Addr,
    pub mac: String,
    /// The host end: `cali<hash>`.
    pub host_if: String,
}

/// The Kubernetes identity of a wired pod: a probe pod, or a DNS replica
/// (slots after the probe pods, as [`PodWire::on_node`] counts them).
pub fn workload_of(p: &LabPlan, pod: &PodWire) -> Workload {
    let (namespace, name) = if pod.slot < p.pods_per_node {
        (p.k8s_namespace(), p.pod_name(pod.node, pod.slot))
    } else {
        (
            "kube-system".to_string(),
            p.dns_pod_name(pod.slot - p.pods_per_node),
        )
    };
    Workload {
        host_if: workload_interface(&namespace, &name),
        netns: pod.ns.clone(),
        namespace,
        name,
        ip: pod.ip,
        mac: pod.mac.clone(),
    }
}

/// The pods on node i: its probe pods, then the DNS replicas there.
pub fn workloads(p: &LabPlan, i: usize) -> Vec<Workload> {
    PodWire::on_node(p, i)
        .iter()
        .map(|w| workload_of(p, w))
        .collect()
}

/// Node i's VTEP address on `vxlan.calico` (Calico's tunnel address, from
/// the node's own block).
pub fn vtep_ip(p: &LabPlan, i: usize) -> Ipv4Addr {
    p.overlay_ip(i)
}

/// Node i's VTEP MAC (fixed, so that the others hold it statically).
pub fn vtep_mac(p: &LabPlan, i: usize) -> String {
    p.overlay_mac(i)
}

/// Node i's `ip` lines after the underlay: the VXLAN device with the
/// remote VTEPs and their blocks, the block's blackhole, the default route.
pub fn node_lines(p: &LabPlan, i: usize) -> Vec<String> {
    let mut l = vxlan_lines(p, i, VXLAN_PORT);
    l.extend([
        format!("route add blackhole {} proto {FELIX_PROTO}", p.pod_cidr(i)),
        format!("route add default via {WIRE_GATEWAY} dev eth0"),
    ]);
    l
}

/// Node i's `vxlan.calico` on UDP `port`, its VTEP address, the remote
/// VTEPs' ARP entries and the routes to their blocks (what Felix programs;
/// `vxlan-port-mismatch` makes it again on another port).
pub fn vxlan_lines(p: &LabPlan, i: usize, port: u16) -> Vec<String> {
    let mut l = vec![
        format!(
            "link add {VXLAN_DEVICE} address {} mtu {MTU} type vxlan id {VXLAN_VNI} local {} dev eth0 dstport {port} nolearning",
            vtep_mac(p, i),
            p.node_ip(i)
        ),
        format!("addr add {}/32 dev {VXLAN_DEVICE}", vtep_ip(p, i)),
        format!("link set {VXLAN_DEVICE} up"),
    ];
    for b in (0..p.nodes).filter(|&b| b != i) {
        l.push(format!(
            "neigh replace {} lladdr {} dev {VXLAN_DEVICE} nud permanent",
            vtep_ip(p, b),
            vtep_mac(p, b)
        ));
        l.push(format!(
            "route add {} via {} dev {VXLAN_DEVICE} onlink proto {FELIX_PROTO}",
            p.pod_cidr(b),
            vtep_ip(p, b)
        ));
    }
    l
}

/// The host side of one pod: its `cali` end (no address, Calico's MAC), the
/// pod's /32 route through it, and the pod's permanent neighbour entry (as
/// every lab neighbour: see `LabPlan::underlay_mac`).
pub fn pod_host_lines(w: &Workload) -> Vec<String> {
    let Workload {
        host_if,
        netns,
        ip,
        mac,
        ..
    } = w;
    vec![
        format!(
            "link add {host_if} mtu {MTU} address {HOST_VETH_MAC} type veth peer name eth0 address {mac} mtu {MTU} netns {netns}"
        ),
        format!("link set {host_if} up"),
        format!("route add {ip}/32 dev {host_if} scope link proto {FELIX_PROTO}"),
        format!("neigh replace {ip} lladdr {mac} dev {host_if} nud permanent"),
    ]
}

/// Node i's FDB entries for the remote VTEPs (`bridge` batch).
pub fn fdb_lines(p: &LabPlan, i: usize) -> Vec<String> {
    (0..p.nodes)
        .filter(|&b| b != i)
        .map(|b| {
            format!(
                "fdb append {} dev {VXLAN_DEVICE} dst {} self permanent",
                vtep_mac(p, b),
                p.node_ip(b)
            )
        })
        .collect()
}

/// A pod's `ip` lines: its /32, the gateway's link route and the default
/// route; the gateway's MAC is learned by ARP.
pub fn pod_lines(ip: Ipv4Addr) -> Vec<String> {
    vec![
        "link set lo up".to_string(),
        format!("addr add {ip}/32 dev eth0"),
        "link set eth0 up".to_string(),
        format!("route add {POD_GATEWAY} dev eth0 scope link"),
        format!("route add default via {POD_GATEWAY} dev eth0"),
    ]
}

/// Felix's per-interface sysctls for node i's pods (key, value).
pub fn sysctls(p: &LabPlan, i: usize) -> Vec<(String, String)> {
    workloads(p, i)
        .iter()
        .flat_map(|w| {
            let n = &w.host_if;
            [
                (format!("net.ipv4.conf.{n}.forwarding"), "1".to_string()),
                (format!("net.ipv4.conf.{n}.proxy_arp"), "1".to_string()),
                (format!("net.ipv4.neigh.{n}.proxy_delay"), "0".to_string()),
            ]
        })
        .collect()
}

/// A `cali:` rule comment as Felix writes them (16 characters naming the rule).
fn rule_id(what: &str) -> String {
    format!("cali:{}", crate::lab::rules::hash16(what))
}

/// Felix's chains: cali-FORWARD accepts pod traffic from and to `cali+`
/// (the lab's pods have no policy); cali-POSTROUTING → cali-nat-outgoing
/// masquerades pod traffic leaving the IP pool (natOutgoing, the default).
pub fn felix_rules() -> CniRules {
    let accept = |flag: &str, dir: &str| {
        format!(
            "-A cali-FORWARD {flag} cali+ -m comment --comment \"{}\" -m comment --comment \"Accept traffic {dir} workloads\" -j ACCEPT",
            rule_id(&format!("forward {dir} workloads"))
        )
    };
    CniRules {
        filter_chains: vec!["cali-FORWARD".into()],
        forward_jumps: vec![format!(
            "-A FORWARD -m comment --comment \"{}\" -j cali-FORWARD",
            rule_id("FORWARD")
        )],
        filter_rules: vec![accept("-i", "from"), accept("-o", "to")],
        nat_chains: vec!["cali-POSTROUTING".into(), "cali-nat-outgoing".into()],
        postrouting_jumps: vec![format!(
            "-A POSTROUTING -m comment --comment \"{}\" -j cali-POSTROUTING",
            rule_id("POSTROUTING")
        )],
        nat_rules: vec![
            format!(
                "-A cali-POSTROUTING -m comment --comment \"{}\" -j cali-nat-outgoing",
                rule_id("nat outgoing")
            ),
            format!(
                "-A cali-nat-outgoing -s {CLUSTER_CIDR} ! -d {CLUSTER_CIDR} -m comment --comment \"{}\" -j MASQUERADE --random-fully",
                rule_id("masquerade")
            ),
        ],
    }
}

/// Calico's conflist as install-cni writes it for node `node`.
pub fn conflist(node: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "name": "k8s-pod-network",
        "cniVersion": "0.3.1",
        "plugins": [
            {
                "type": "calico",
                "log_level": "info",
                "log_file_path": "/var/log/calico/cni/cni.log",
                "datastore_type": "kubernetes",
                "nodename": node,
                "mtu": MTU,
                "ipam": { "type": "calico-ipam" },
                "policy": { "type": "k8s" },
                "kubernetes": { "kubeconfig": "/etc/cni/net.d/calico-kubeconfig" }
            },
            {
                "type": "portmap",
                "snat": true,
                "capabilities": { "portMappings": true }
            },
            {
                "type": "bandwidth",
                "capabilities": { "bandwidth": true }
            }
        ]
    }))
    .unwrap_or_default()
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> LabPlan {
        LabPlan::new("abcde", 3, 2).unwrap()
    }

    #[test]
    fn pods_get_cali_interfaces_named_by_calico_and_distinct() {
        let p = plan();
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..p.nodes {
            for w in workloads(&p, i) {
                assert!(
                    w.host_if.starts_with("cali") && w.host_if.len() == 15,
                    "{w:?}"
                );
                assert!(seen.insert(w.host_if.clone()), "{w:?}");
            }
        }
        // Two probe pods per node and the two DNS replicas on node-1 and node-2.
        assert_eq!(seen.len(), 8);
        let w = &workloads(&p, 0)[0];
        assert_eq!(
            (w.namespace.as_str(), w.name.as_str()),
            ("netcheck-abcde", "probe-1a")
        );
        assert_eq!(w.host_if, "calic7f546db357");
        let dns = &workloads(&p, 1)[2];
        assert_eq!(
            (dns.namespace.as_str(), dns.name.as_str()),
            ("kube-system", "coredns-lab-b")
        );
        assert_eq!(dns.ip, p.dns_pod_ip(1));
    }

    #[test]
    fn node_routes_each_pod_by_32_and_each_remote_block_over_vxlan() {
        let p = plan();
        let l = node_lines(&p, 0);
        let has = |s: &str| l.iter().any(|x| x == s);
        assert!(
            has(
                "link add vxlan.calico address 0e:6e:63:00:00:00 mtu 1450 type vxlan id 4096 local 198.19.255.1 dev eth0 dstport 4789 nolearning"
            ),
            "{l:#?}"
        );
        assert!(has(
            "route add 198.18.1.0/24 via 198.18.1.0 dev vxlan.calico onlink proto 80"
        ));
        assert!(has(
            "route add 198.18.2.0/24 via 198.18.2.0 dev vxlan.calico onlink proto 80"
        ));
        assert!(
            !l.iter().any(|x| x.contains("198.18.0.0/24 via")),
            "no route to its own block"
        );
        assert!(has("route add blackhole 198.18.0.0/24 proto 80"));
        assert!(
            !l.iter()
                .any(|x| x.contains("type bridge") || x.contains("master"))
        );
        let host = pod_host_lines(&workloads(&p, 0)[0]);
        assert!(host.contains(
            &"route add 198.18.0.2/32 dev calic7f546db357 scope link proto 80".to_string()
        ));
        assert!(
            host[0].contains("address ee:ee:ee:ee:ee:ee type veth"),
            "{host:?}"
        );
        assert_eq!(fdb_lines(&p, 0).len(), 2);
        assert!(fdb_lines(&p, 0)[0].ends_with("dev vxlan.calico dst 198.19.255.2 self permanent"));
        assert_eq!(
            Calico.peer_route(&p, 0, 2).as_deref(),
            Some("198.18.2.0/24 via 198.18.2.0 dev vxlan.calico onlink")
        );
    }

    #[test]
    fn pods_route_through_the_link_local_gateway_and_learn_it_by_arp() {
        let l = pod_lines(Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(l[1], "addr add 198.18.0.2/32 dev eth0");
        assert!(l.contains(&"route add default via 169.254.1.1 dev eth0".to_string()));
        assert!(
            !l.iter().any(|x| x.starts_with("neigh")),
            "no static gateway entry"
        );
        let s = sysctls(&plan(), 2);
        assert_eq!(
            s.len(),
            2 * 3,
            "three sysctls for each of node-3's two pods"
        );
        let n = &workloads(&plan(), 2)[0].host_if;
        assert!(s.contains(&(format!("net.ipv4.conf.{n}.proxy_arp"), "1".into())));
        assert!(s.contains(&(format!("net.ipv4.neigh.{n}.proxy_delay"), "0".into())));
    }

    #[test]
    fn rules_are_felixs_chains() {
        let r = felix_rules();
        assert!(
            r.filter_rules[0].starts_with("-A cali-FORWARD -i cali+ -m comment --comment \"cali:")
        );
        assert!(r.filter_rules[1].starts_with("-A cali-FORWARD -o cali+"));
        assert!(r.forward_jumps[0].starts_with("-A FORWARD -m comment --comment \"cali:"));
        assert!(
            r.nat_rules[1].contains("-A cali-nat-outgoing -s 198.18.0.0/16 ! -d 198.18.0.0/16")
        );
        for l in r.filter_rules.iter().chain(&r.nat_rules) {
            let chain = l.split_whitespace().nth(1).unwrap();
            assert!(
                r.filter_chains
                    .iter()
                    .chain(&r.nat_chains)
                    .any(|c| c == chain),
                "{l}"
            );
        }
    }

    #[test]
    fn conflist_is_calicos_with_portmap_and_bandwidth() {
        let v: serde_json::Value = serde_json::from_str(&conflist("node-1")).unwrap();
        let types: Vec<&str> = v["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["calico", "portmap", "bandwidth"]);
        assert_eq!(v["plugins"][0]["ipam"]["type"], "calico-ipam");
        assert_eq!(v["plugins"][0]["mtu"], 1450);
        for t in types.iter().chain(["calico-ipam"].iter()) {
            assert!(PLUGINS.contains(t), "{t} must be in the bin dir");
        }
    }
}
