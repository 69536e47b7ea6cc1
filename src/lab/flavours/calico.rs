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
//!
//! IPv6 (`--ip-family ipv6|dual`: an IPv6 pool in VXLAN mode, as Calico's
//! dual-stack install makes it), Calico's own shape:
//!
//! - the pod gets its IPv6 address as a /128 and `default via
//!   fe80::ecee:eeff:feee:eeee dev eth0`: the link-local address the kernel
//!   derives from the `cali` end's MAC ee:ee:ee:ee:ee:ee. The host end really
//!   has it, so the pod finds it by neighbour discovery, with no proxy NDP
//!   (and `proxy-arp-off` leaves IPv6 alone, as on a real node). Calico's CNI
//!   plugin turns duplicate address detection off on both ends; the lab
//!   gives the host end that address with `nodad` (`addrgenmode none`, so
//!   the kernel does not make it a second time);
//! - a /128 route per local pod via its `cali` interface, a blackhole for
//!   the node's IPv6 block (its pod /64: the block size of the lab's IPv6
//!   pool);
//! - `vxlan-v6.calico`: VXLAN over the IPv6 underlay (VNI 4096, UDP 4789,
//!   its own VTEP MAC and an IPv6 tunnel address from the node's block, as
//!   Felix allocates it), MTU 1430 (IPv6 and VXLAN headers cost 70 bytes),
//!   with the same static neighbour and FDB entries for the remote VTEPs
//!   (their IPv6 node addresses) and routes to their IPv6 blocks;
//! - the pods' MTU is then 1430 in both families: Felix gives pods the
//!   smallest MTU of the encapsulations it runs, so that no pod sends what
//!   the IPv6 tunnel cannot carry; `vxlan.calico` keeps 1450;
//! - the conflist asks calico-ipam for an address of each family
//!   (`assign_ipv4`, `assign_ipv6`), with the pods' MTU.

use super::{CniRules, Flavour, Overlay, PodWire};
use crate::inspect::calico::{POD_GATEWAY, workload_interface};
use crate::lab::ctx::LabCtx;
use crate::lab::plan::{CLUSTER_CIDR, IpFamily, LabPlan, WIRE_GATEWAY};
use crate::runtime::Result;
use futures::future::BoxFuture;
use std::net::Ipv4Addr;

/// Felix's VXLAN device, and its defaults (FELIX_VXLANVNI, FELIX_VXLANPORT).
pub const VXLAN_DEVICE: &str = "vxlan.calico";
pub const VXLAN_VNI: u32 = 4096;
pub const VXLAN_PORT: u16 = 4789;
/// The VXLAN device's and the pods' MTU (1500 on the wire minus 50).
pub const MTU: u16 = 1450;
/// Felix's IPv6 VXLAN device (over the IPv6 underlay).
pub const VXLAN_V6_DEVICE: &str = "vxlan-v6.calico";
/// Its MTU, and the pods' on an IPv6 lab: 1500 minus 70 (IPv6 40, UDP 8,
/// VXLAN 8, inner Ethernet 14).
pub const MTU_V6: u16 = 1430;
/// The link-local address of every `cali` host end (EUI-64 of
/// ee:ee:ee:ee:ee:ee), the pods' IPv6 gateway.
pub const HOST_VETH_LL: &str = "fe80::ecee:eeff:feee:eeee";
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
        "Calico's VXLAN mode: a cali veth per pod (proxy ARP, gateway 169.254.1.1), no bridge, vxlan.calico to the others (pod MTU 1450; IPv6: vxlan-v6.calico, 1430)"
    }
    fn pod_mtu(&self, family: IpFamily) -> u16 {
        if family.v6() { MTU_V6 } else { MTU }
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
        pod_host_lines(p, pod)
    }
    fn pod_lines(&self, p: &LabPlan, pod: &PodWire) -> Vec<String> {
        pod_lines(p, pod)
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
    fn ip6tables(&self, p: &LabPlan, _i: usize) -> CniRules {
        if p.family.v6() {
            felix_family_rules(crate::lab::plan::CLUSTER_CIDR_V6)
        } else {
            CniRules::default()
        }
    }
    fn node_files(&self, p: &LabPlan, i: usize) -> Vec<(String, String)> {
        vec![(
            format!("{}/{CONF_FILE}", crate::lab::nodefs::CNI_CONF_DIR),
            conflist(p, &p.node_name(i)),
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
            let downs: Vec<String> = devices(&lab.plan)
                .iter()
                .map(|d| format!("link set dev {d} down"))
                .collect();
            lab.ip(&lab.plan.node_ns(i), &downs).await
        })
    }
    /// The route to `b`'s block of the lab's first family (IPv4 on dual
    /// stack, IPv6 on an IPv6 lab).
    fn peer_route(&self, p: &LabPlan, _a: usize, b: usize) -> Option<String> {
        Some(if p.family.v4() {
            format!(
                "{} via {} dev {VXLAN_DEVICE} onlink",
                p.pod_cidr(b),
                vtep_ip(p, b)
            )
        } else {
            format!(
                "{} via {} dev {VXLAN_V6_DEVICE} onlink",
                p.pod_cidr6(b),
                vtep_ip6(p, b)
            )
        })
    }
}

/// The pods' MTU: 1450, or 1430 when the IPv6 tunnel runs too (Felix gives
/// pods the smallest MTU of its encapsulations).
pub fn pod_mtu(p: &LabPlan) -> u16 {
    Calico.pod_mtu(p.family)
}

/// Felix's VXLAN devices on a node of the lab: `vxlan.calico`, and
/// `vxlan-v6.calico` on an IPv6 lab.
pub fn devices(p: &LabPlan) -> Vec<&'static str> {
    let mut v = vec![VXLAN_DEVICE];
    if p.family.v6() {
        v.push(VXLAN_V6_DEVICE);
    }
    v
}

/// Node `a` forgets VTEP `b`: its FDB and ARP entries (what Felix removes
/// when the peer's VTEP goes away; the route stays).
async fn forget_peer(lab: &LabCtx, a: usize, b: usize) -> Result<()> {
    let p = &lab.plan;
    let ns = p.node_ns(a);
    let mut fdb = vec![format!(
        "fdb del {} dev {VXLAN_DEVICE} dst {} self",
        vtep_mac(p, b),
        p.node_ip(b)
    )];
    let mut neigh = vec![format!("neigh del {} dev {VXLAN_DEVICE}", vtep_ip(p, b))];
    if p.family.v6() {
        fdb.push(format!(
            "fdb del {} dev {VXLAN_V6_DEVICE} dst {} self",
            vtep_mac6(p, b),
            p.node_ip6(b)
        ));
        neigh.push(format!(
            "neigh del {} dev {VXLAN_V6_DEVICE}",
            vtep_ip6(p, b)
        ));
    }
    lab.bridge(&ns, &fdb).await?;
    lab.ip(&ns, &neigh).await
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

/// Node i's IPv6 VTEP address on `vxlan-v6.calico`: the first address of
/// its IPv6 block, as the IPv4 one is of its IPv4 block (no interface holds
/// the block's /64, so no subnet-router anycast address takes it).
pub fn vtep_ip6(p: &LabPlan, i: usize) -> std::net::Ipv6Addr {
    let g = p.gateway6(i).segments();
    std::net::Ipv6Addr::new(g[0], g[1], g[2], g[3], 0, 0, 0, 0)
}

/// Node i's IPv6 VTEP MAC (Felix gives each device its own).
pub fn vtep_mac6(_p: &LabPlan, i: usize) -> String {
    format!("0e:6e:63:06:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff)
}

/// Node i's `ip` lines after the underlay: the VXLAN device with the
/// remote VTEPs and their blocks, the block's blackhole, the default route.
pub fn node_lines(p: &LabPlan, i: usize) -> Vec<String> {
    let mut l = vxlan_lines(p, i, VXLAN_PORT);
    l.extend([
        format!("route add blackhole {} proto {FELIX_PROTO}", p.pod_cidr(i)),
        format!("route add default via {WIRE_GATEWAY} dev eth0"),
    ]);
    if p.family.v6() {
        l.push(format!(
            "route add blackhole {} proto {FELIX_PROTO}",
            p.pod_cidr6(i)
        ));
    }
    l
}

/// Node i's `vxlan.calico` on UDP `port` (and on an IPv6 lab
/// `vxlan-v6.calico` on the same port), its VTEP address, the remote VTEPs'
/// neighbour entries and the routes to their blocks (what Felix programs;
/// `vxlan-port-mismatch` makes them again on another port).
pub fn vxlan_lines(p: &LabPlan, i: usize, port: u16) -> Vec<String> {
    let v4 = Vtep {
        device: VXLAN_DEVICE,
        mtu: MTU,
        local: p.node_ip(i).to_string(),
        mac: vtep_mac,
        ip: |p, b| vtep_ip(p, b).to_string(),
        host_prefix: 32,
        block: |p, b| p.pod_cidr(b),
    };
    let mut l = v4.lines(p, i, port);
    if p.family.v6() {
        let v6 = Vtep {
            device: VXLAN_V6_DEVICE,
            mtu: MTU_V6,
            local: p.node_ip6(i).to_string(),
            mac: vtep_mac6,
            ip: |p, b| vtep_ip6(p, b).to_string(),
            host_prefix: 128,
            block: |p, b| p.pod_cidr6(b),
        };
        l.extend(v6.lines(p, i, port));
    }
    l
}

/// One of Felix's VXLAN devices, of one family.
struct Vtep {
    device: &'static str,
    mtu: u16,
    /// The node's underlay address of the family.
    local: String,
    mac: fn(&LabPlan, usize) -> String,
    ip: fn(&LabPlan, usize) -> String,
    /// The prefix of the VTEP address on the device (/32, /128).
    host_prefix: u8,
    /// Node b's block of the family.
    block: fn(&LabPlan, usize) -> String,
}

impl Vtep {
    fn lines(&self, p: &LabPlan, i: usize, port: u16) -> Vec<String> {
        let Vtep {
            device: dev,
            mtu,
            local,
            ..
        } = self;
        let nodad = if self.host_prefix == 128 {
            " nodad"
        } else {
            ""
        };
        let mut l = vec![
            format!(
                "link add {dev} address {} mtu {mtu} type vxlan id {VXLAN_VNI} local {local} dev eth0 dstport {port} nolearning",
                (self.mac)(p, i)
            ),
            format!(
                "addr add {}/{} dev {dev}{nodad}",
                (self.ip)(p, i),
                self.host_prefix
            ),
            format!("link set {dev} up"),
        ];
        for b in (0..p.nodes).filter(|&b| b != i) {
            l.push(format!(
                "neigh replace {} lladdr {} dev {dev} nud permanent",
                (self.ip)(p, b),
                (self.mac)(p, b)
            ));
            l.push(format!(
                "route add {} via {} dev {dev} onlink proto {FELIX_PROTO}",
                (self.block)(p, b),
                (self.ip)(p, b)
            ));
        }
        l
    }
}

/// The host side of one pod: its `cali` end (no address, Calico's MAC; on
/// an IPv6 lab its link-local address, the pods' IPv6 gateway), the pod's
/// host routes through it, and the pod's permanent neighbour entries (as
/// every lab neighbour: see `LabPlan::underlay_mac`).
pub fn pod_host_lines(p: &LabPlan, pod: &PodWire) -> Vec<String> {
    let cali = workload_of(p, pod).host_if;
    let mut l = vec![super::veth_pair(
        pod,
        &cali,
        Some(HOST_VETH_MAC),
        pod_mtu(p),
    )];
    if p.family.v6() {
        l.extend([
            format!("link set {cali} addrgenmode none"),
            format!("addr add {HOST_VETH_LL}/64 dev {cali} nodad"),
        ]);
    }
    l.push(format!("link set {cali} up"));
    l.extend(super::routed_pod_lines(
        p,
        pod,
        &cali,
        &format!(" proto {FELIX_PROTO}"),
    ));
    l
}

/// Node i's FDB entries for the remote VTEPs (`bridge` batch), of each
/// VXLAN device.
pub fn fdb_lines(p: &LabPlan, i: usize) -> Vec<String> {
    let mut l = Vec::new();
    for b in (0..p.nodes).filter(|&b| b != i) {
        l.push(format!(
            "fdb append {} dev {VXLAN_DEVICE} dst {} self permanent",
            vtep_mac(p, b),
            p.node_ip(b)
        ));
        if p.family.v6() {
            l.push(format!(
                "fdb append {} dev {VXLAN_V6_DEVICE} dst {} self permanent",
                vtep_mac6(p, b),
                p.node_ip6(b)
            ));
        }
    }
    l
}

/// A pod's `ip` lines: its /32, the gateway's link route and the default
/// route; the gateway's MAC is learned by ARP. On an IPv6 lab also its
/// /128 and the default route via the `cali` end's link-local address
/// (learned by neighbour discovery).
pub fn pod_lines(p: &LabPlan, pod: &PodWire) -> Vec<String> {
    let mut l = vec![
        "link set lo up".to_string(),
        format!("addr add {}/32 dev eth0", pod.ip),
        "link set eth0 up".to_string(),
        format!("route add {POD_GATEWAY} dev eth0 scope link"),
        format!("route add default via {POD_GATEWAY} dev eth0"),
    ];
    if p.family.v6() {
        l.extend([
            format!("addr add {}/128 dev eth0 nodad", pod.ip6),
            format!("route add ::/0 via {HOST_VETH_LL} dev eth0"),
        ]);
    }
    l
}

/// Felix's per-interface sysctls for node i's pods (key, value), and on an
/// IPv6 lab IPv6 forwarding on each `cali` interface too.
pub fn sysctls(p: &LabPlan, i: usize) -> Vec<(String, String)> {
    workloads(p, i)
        .iter()
        .flat_map(|w| {
            let n = &w.host_if;
            let mut v = vec![
                (format!("net.ipv4.conf.{n}.forwarding"), "1".to_string()),
                (format!("net.ipv4.conf.{n}.proxy_arp"), "1".to_string()),
                (format!("net.ipv4.neigh.{n}.proxy_delay"), "0".to_string()),
            ];
            if p.family.v6() {
                v.push((format!("net.ipv6.conf.{n}.forwarding"), "1".to_string()));
            }
            v
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
    felix_family_rules(CLUSTER_CIDR)
}

/// Felix's chains over one family's cluster CIDR (its ip6tables rules are
/// the same chains).
fn felix_family_rules(cluster_cidr: &str) -> CniRules {
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
                "-A cali-nat-outgoing -s {cluster_cidr} ! -d {cluster_cidr} -m comment --comment \"{}\" -j MASQUERADE --random-fully",
                rule_id("masquerade")
            ),
        ],
    }
}

/// Calico's conflist as install-cni writes it for node `node`.
pub fn conflist(p: &LabPlan, node: &str) -> String {
    let ipam = if p.family.v6() {
        serde_json::json!({
            "type": "calico-ipam",
            "assign_ipv4": p.family.v4().to_string(),
            "assign_ipv6": "true"
        })
    } else {
        serde_json::json!({ "type": "calico-ipam" })
    };
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
                "mtu": pod_mtu(p),
                "ipam": ipam,
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
        let host = pod_host_lines(&p, &PodWire::on_node(&p, 0)[0]);
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
        let l = pod_lines(&plan(), &PodWire::on_node(&plan(), 0)[0]);
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
        let v: serde_json::Value = serde_json::from_str(&conflist(&plan(), "node-1")).unwrap();
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

    /// Dual stack as Calico builds it: pods route IPv6 via the `cali` end's
    /// link-local address (which the host end has), a /128 per pod,
    /// `vxlan-v6.calico` over the IPv6 underlay at 1430 to the remote IPv6
    /// blocks, and pods at 1430 in both families.
    #[test]
    fn dual_stack_is_calicos_link_local_gateway_and_vxlan_v6() {
        let mut p = plan();
        p.family = crate::lab::plan::IpFamily::Dual;
        let has = |l: &[String], s: &str| l.iter().any(|x| x == s);
        let l = node_lines(&p, 0);
        for want in [
            "link add vxlan-v6.calico address 0e:6e:63:06:00:00 mtu 1430 type vxlan id 4096 local 2001:2:0:fffe::1 dev eth0 dstport 4789 nolearning",
            "addr add 2001:2::/128 dev vxlan-v6.calico nodad",
            "neigh replace 2001:2:0:1:: lladdr 0e:6e:63:06:00:01 dev vxlan-v6.calico nud permanent",
            "route add 2001:2:0:1::/64 via 2001:2:0:1:: dev vxlan-v6.calico onlink proto 80",
            "route add blackhole 2001:2:0:0::/64 proto 80",
            // IPv4 unchanged.
            "route add 198.18.2.0/24 via 198.18.2.0 dev vxlan.calico onlink proto 80",
        ] {
            assert!(has(&l, want), "{want}: {l:#?}");
        }
        assert!(
            l.iter()
                .any(|x| x.starts_with("link add vxlan.calico") && x.contains("mtu 1450"))
        );
        let fdb = fdb_lines(&p, 0);
        assert_eq!(fdb.len(), 4);
        assert!(has(
            &fdb,
            "fdb append 0e:6e:63:06:00:02 dev vxlan-v6.calico dst 2001:2:0:fffe::3 self permanent"
        ));
        let pod = &PodWire::on_node(&p, 0)[0];
        let cali = workload_of(&p, pod).host_if;
        let host = pod_host_lines(&p, pod);
        assert!(
            host[0].contains("mtu 1430 address ee:ee:ee:ee:ee:ee type veth"),
            "{host:#?}"
        );
        for want in [
            format!("link set {cali} addrgenmode none"),
            format!("addr add fe80::ecee:eeff:feee:eeee/64 dev {cali} nodad"),
            format!("route add 2001:2::2/128 dev {cali} proto 80"),
            format!("route add 198.18.0.2/32 dev {cali} scope link proto 80"),
        ] {
            assert!(has(&host, &want), "{want}: {host:#?}");
        }
        let inside = pod_lines(&p, pod);
        assert!(
            has(&inside, "addr add 2001:2::2/128 dev eth0 nodad"),
            "{inside:#?}"
        );
        assert!(has(
            &inside,
            "route add ::/0 via fe80::ecee:eeff:feee:eeee dev eth0"
        ));
        assert!(
            !inside.iter().any(|x| x.starts_with("neigh")),
            "learned by NDP"
        );
        assert_eq!(Calico.pod_mtu(IpFamily::Dual), 1430);
        assert_eq!(Calico.pod_mtu(IpFamily::Ipv6), 1430);
        assert_eq!(pod_mtu(&plan()), 1450);
        let n = &workloads(&p, 2)[0].host_if;
        assert!(sysctls(&p, 2).contains(&(format!("net.ipv6.conf.{n}.forwarding"), "1".into())));
        let v: serde_json::Value = serde_json::from_str(&conflist(&p, "node-1")).unwrap();
        assert_eq!(v["plugins"][0]["mtu"], 1430);
        assert_eq!(v["plugins"][0]["ipam"]["assign_ipv6"], "true");
        assert_eq!(v["plugins"][0]["ipam"]["assign_ipv4"], "true");
        assert_eq!(devices(&p), [VXLAN_DEVICE, VXLAN_V6_DEVICE]);
        assert_eq!(
            Calico.peer_route(&p, 0, 2).as_deref(),
            Some("198.18.2.0/24 via 198.18.2.0 dev vxlan.calico onlink")
        );
        p.family = crate::lab::plan::IpFamily::Ipv6;
        assert_eq!(
            Calico.peer_route(&p, 0, 2).as_deref(),
            Some("2001:2:0:2::/64 via 2001:2:0:2:: dev vxlan-v6.calico onlink")
        );
    }
}
