//! The lab's names and addresses, decided once from the run id and the size.
//! Pure data: everything the builder, the faults and the teardown need to
//! know where things are.
//!
//! Address plan (only 198.18.0.0/15, the benchmarking range):
//!
//! | what | range | node i (0-based) / pod j |
//! |---|---|---|
//! | pod network (cluster CIDR) | 198.18.0.0/16 | node i: 198.18.i.0/24, gateway .1, pod j .(j+2) |
//! | overlay address (flannel.1) | inside the pod CIDR | 198.18.i.0/32 |
//! | DNS server pods (replica r on node r mod N) | 198.18.(r mod N).(53+r) | two replicas, as CoreDNS |
//! | Services | 198.19.0.0/20 | kubernetes 198.19.0.1, kube-dns 198.19.0.10, probe k 198.19.0.(32+k) |
//! | node underlay (the wire) | 198.19.255.0/24 | node i: 198.19.255.(i+1) |
//!
//! IPv6 (only 2001:2::/48, the IPv6 benchmarking range, whose fourth group
//! is the lab's subnet; numbers in hex):
//!
//! | what | range | node i (0-based) / pod j |
//! |---|---|---|
//! | pod network (cluster CIDR) | 2001:2:0::/56 | node i: 2001:2:0:i::/64, gateway ::1, pod j ::(j+2) |
//! | overlay address (flannel.1) | 2001:2:0:fffd::/64 | node i: 2001:2:0:fffd::(i+1)/128 |
//! | DNS server pods | 2001:2:0:(r mod N)::35, ::36 | the IPv4 replicas' twins (53+r in decimal) |
//! | Services | 2001:2:0:ffff::/112 | kubernetes ::1, kube-dns ::a, probe k ::(20+k) |
//! | node underlay (the wire) | 2001:2:0:fffe::/64 | node i: 2001:2:0:fffe::(i+1), the wire's gateway ::fffe |
//!
//! Names: every namespace starts with `nc<id>-` (id: 5 hex digits), so two
//! labs never collide and a sweep finds leftovers by prefix.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Most nodes a lab can have: node i owns 198.18.i.0/24 and 198.19.255.(i+1).
pub const MAX_NODES: usize = 250;
/// Most probe pods per node (pods use .2 ..= .17 of the node's /24).
pub const MAX_PODS_PER_NODE: usize = 16;

pub const CLUSTER_DOMAIN: &str = "cluster.local";
pub const CLUSTER_CIDR: &str = "198.18.0.0/16";
pub const SERVICE_CIDR: &str = "198.19.0.0/20";
pub const UNDERLAY_PREFIX: u8 = 24;
pub const WIRE_MTU: u16 = 1500;
/// VXLAN costs 50 bytes: the overlay (and every pod) gets 1450 on a 1500 wire.
pub const OVERLAY_MTU: u16 = 1450;
pub const VXLAN_VNI: u32 = 1;
pub const VXLAN_PORT: u16 = 8472;
pub const APISERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
pub const APISERVER_PORT: u16 = 443;
pub const DNS_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 10);
/// CoreDNS's default replica count: replica r runs on node r mod N (node-1
/// and node-2 when there are two nodes or more).
pub const DNS_REPLICAS: usize = 2;
/// The Service CIDR goes to the node's gateway on the wire, as a default
/// route would carry it: an address kube-proxy does not DNAT leaves the node
/// and vanishes (a real router knows nothing of ClusterIPs).
pub const WIRE_GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 19, 255, 254);
/// The gateway's MAC: nothing on the wire has it, so frames to it are
/// flooded by the wire bridge and dropped by every node.
pub const WIRE_GATEWAY_MAC: &str = "0e:6e:63:04:ff:fe";
/// Where the node (host-network) agent serves.
pub const NODE_TCP_PORT: u16 = 9100;
pub const NODE_UDP_PORT: u16 = 9101;
pub const NODE_HTTP_PORT: u16 = 9180;
/// The first node's nodePort; node `i` has 30000 + i (at most 250 nodes:
/// well inside the NodePort range 30000–32767).
pub const NODE_PORT_BASE: u16 = 30000;

/// The IPv6 cluster CIDR (node i's pods in 2001:2:0:i::/64).
pub const CLUSTER_CIDR_V6: &str = "2001:2:0::/56";
pub const SERVICE_CIDR_V6: &str = "2001:2:0:ffff::/112";
pub const APISERVER_IP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0xffff, 0, 0, 0, 1);
pub const DNS_SERVICE_IP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0xffff, 0, 0, 0, 0xa);
pub const WIRE_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0xfffe, 0, 0, 0, 0xfffe);

/// The IP families of the lab's cluster (`lab --ip-family`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpFamily {
    /// IPv4 only (the default).
    #[default]
    Ipv4,
    /// IPv6 only: pods, Services, nodes and DNS as the cluster shows them
    /// have IPv6 addresses only (the lab's plumbing keeps its IPv4 underlay
    /// for the VXLAN tunnel).
    Ipv6,
    /// Both: every address IPv4 first, then IPv6.
    Dual,
}

/// Every `--ip-family` value, in the order `--help` lists them.
pub const IP_FAMILIES: [IpFamily; 3] = [IpFamily::Ipv4, IpFamily::Ipv6, IpFamily::Dual];

impl IpFamily {
    pub fn name(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
            IpFamily::Dual => "dual",
        }
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        IP_FAMILIES
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("--ip-family '{s}' is not one of: ipv4, ipv6, dual"))
    }
    /// The cluster shows IPv4 addresses.
    pub fn v4(self) -> bool {
        self != IpFamily::Ipv6
    }
    /// The lab carries IPv6 (pods, Services, nodes, DNS).
    pub fn v6(self) -> bool {
        self != IpFamily::Ipv4
    }
}

/// A lab's size and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabPlan {
    /// 5 lowercase hex digits.
    pub id: String,
    pub nodes: usize,
    pub pods_per_node: usize,
    /// The IP families (set after [`LabPlan::new`], IPv4 by default).
    pub family: IpFamily,
}

impl LabPlan {
    pub fn new(id: impl Into<String>, nodes: usize, pods_per_node: usize) -> Result<Self, String> {
        let id = id.into();
        if id.len() != 5
            || !id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(format!("lab id '{id}' is not 5 lowercase hex digits"));
        }
        if !(1..=MAX_NODES).contains(&nodes) {
            return Err(format!("a lab has 1 to {MAX_NODES} nodes, not {nodes}"));
        }
        if !(1..=MAX_PODS_PER_NODE).contains(&pods_per_node) {
            return Err(format!(
                "a lab has 1 to {MAX_PODS_PER_NODE} pods per node, not {pods_per_node}"
            ));
        }
        Ok(LabPlan {
            id,
            nodes,
            pods_per_node,
            family: IpFamily::Ipv4,
        })
    }

    /// A fresh random id.
    pub fn random_id() -> String {
        format!("{:05x}", rand::random::<u32>() & 0xf_ffff)
    }

    pub fn prefix(&self) -> String {
        format!("nc{}-", self.id)
    }
    pub fn wire_ns(&self) -> String {
        format!("nc{}-wire", self.id)
    }
    pub fn node_ns(&self, i: usize) -> String {
        format!("nc{}-n{i}", self.id)
    }
    pub fn pod_ns(&self, i: usize, j: usize) -> String {
        format!("nc{}-n{i}p{j}", self.id)
    }
    /// DNS replica r's pod namespace.
    pub fn dns_ns(&self, r: usize) -> String {
        format!("nc{}-dns{r}", self.id)
    }
    /// The node DNS replica r runs on.
    pub fn dns_node(&self, r: usize) -> usize {
        r % self.nodes
    }
    /// The DNS replicas on node i.
    pub fn dns_replicas_on(&self, i: usize) -> Vec<usize> {
        (0..DNS_REPLICAS)
            .filter(|&r| self.dns_node(r) == i)
            .collect()
    }
    /// DNS replica r's pod IP: .53, .54 of its node's pod CIDR.
    pub fn dns_pod_ip(&self, r: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.dns_node(r) as u8, (53 + r) as u8)
    }
    /// DNS replica r's eth0 MAC (after the node's probe pods).
    pub fn dns_mac(&self, r: usize) -> String {
        self.pod_mac(self.dns_node(r), self.pods_per_node + r)
    }
    /// DNS replica r's pod name, as a Deployment names its pods.
    pub fn dns_pod_name(&self, r: usize) -> String {
        format!("coredns-lab-{}", (b'a' + r as u8) as char)
    }
    /// Every namespace of the lab, wire first.
    pub fn all_namespaces(&self) -> Vec<String> {
        let mut v = vec![self.wire_ns()];
        for i in 0..self.nodes {
            v.push(self.node_ns(i));
        }
        for i in 0..self.nodes {
            for j in 0..self.pods_per_node {
                v.push(self.pod_ns(i, j));
            }
        }
        v.extend((0..DNS_REPLICAS).map(|r| self.dns_ns(r)));
        v
    }
    /// Namespaces that get an /etc/netns/<ns>/resolv.conf (pods and DNS pod).
    pub fn pod_namespaces(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.nodes)
            .flat_map(|i| (0..self.pods_per_node).map(move |j| (i, j)))
            .map(|(i, j)| self.pod_ns(i, j))
            .collect();
        v.extend((0..DNS_REPLICAS).map(|r| self.dns_ns(r)));
        v
    }

    pub fn cluster_name(&self) -> String {
        format!("netcheck-lab-{}", self.id)
    }
    /// The Kubernetes namespace the probe pods live in.
    pub fn k8s_namespace(&self) -> String {
        format!("netcheck-{}", self.id)
    }
    /// Node names are 1-based, like a cluster's: node i is `node-(i+1)`.
    pub fn node_name(&self, i: usize) -> String {
        format!("node-{}", i + 1)
    }
    pub fn node_index(&self, name: &str) -> Option<usize> {
        let n: usize = name.strip_prefix("node-")?.parse().ok()?;
        (1..=self.nodes).contains(&n).then(|| n - 1)
    }
    /// Pod j of node i: `probe-<i+1><letter>` (probe-1a, probe-1b, probe-2a, …).
    pub fn pod_name(&self, i: usize, j: usize) -> String {
        format!("probe-{}{}", i + 1, (b'a' + j as u8) as char)
    }
    pub fn pod_index(&self, name: &str) -> Option<(usize, usize)> {
        let rest = name.strip_prefix("probe-")?;
        let letter = rest.chars().last()?;
        let num: usize = rest[..rest.len() - letter.len_utf8()].parse().ok()?;
        let j = (letter as u32).checked_sub('a' as u32)? as usize;
        (num >= 1 && num <= self.nodes && j < self.pods_per_node).then(|| (num - 1, j))
    }

    // Interfaces (at most 15 characters).
    /// Node i's port on the wire bridge (in the wire namespace).
    pub fn wire_port(&self, i: usize) -> String {
        format!("n{i}")
    }
    /// Pod j's veth end on node i's cni0 (in the node namespace).
    pub fn pod_veth(&self, j: usize) -> String {
        format!("veth{j}")
    }
    /// DNS replica r's veth end on its node's cni0.
    pub fn dns_veth(&self, r: usize) -> String {
        format!("vethdns{r}")
    }

    pub fn node_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 19, 255, (i + 1) as u8)
    }
    pub fn pod_cidr(&self, i: usize) -> String {
        format!("198.18.{i}.0/24")
    }
    pub fn gateway(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, i as u8, 1)
    }
    /// flannel.1's address on node i (the network address of its pod CIDR).
    pub fn overlay_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, i as u8, 0)
    }
    /// flannel.1's MAC on node i: locally administered, unicast, fixed, so that
    /// every other node can hold it in its FDB and neighbour table.
    pub fn overlay_mac(&self, i: usize) -> String {
        format!("0e:6e:63:00:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff)
    }
    /// Node i's underlay (eth0) MAC, fixed so that every other node holds it
    /// as a permanent neighbour entry: the kernel's neighbour table is shared
    /// by all namespaces (gc_thresh3, 1024 by default), and N·(N−1) learned
    /// underlay entries overflow it from about 30 nodes on, dropping packets.
    pub fn underlay_mac(&self, i: usize) -> String {
        format!("0e:6e:63:01:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff)
    }
    /// cni0's MAC on node i (the pods' gateway; permanent in each pod).
    pub fn cni_mac(&self, i: usize) -> String {
        format!("0e:6e:63:02:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff)
    }
    /// Pod j's eth0 MAC on node i (`j >= pods_per_node`: DNS pods).
    pub fn pod_mac(&self, i: usize, j: usize) -> String {
        format!("0e:6e:63:03:{:02x}:{:02x}", i & 0xff, j & 0xff)
    }
    pub fn pod_ip(&self, i: usize, j: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, i as u8, (j + 2) as u8)
    }
    /// Global index of pod (i, j).
    pub fn pod_number(&self, i: usize, j: usize) -> usize {
        i * self.pods_per_node + j
    }
    /// The TCP nodePort of node `i`'s first probe Service: fixed in the
    /// default NodePort range (30000–32767), one per node.
    pub fn node_port(&self, i: usize) -> u16 {
        NODE_PORT_BASE.saturating_add(u16::try_from(i).unwrap_or(u16::MAX))
    }

    pub fn service_ip(&self, i: usize, j: usize) -> Ipv4Addr {
        let k = self.pod_number(i, j) as u32;
        Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 0, 32)) + k)
    }

    // IPv6 (the address table at the top).
    pub fn node_ip6(&self, i: usize) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 2, 0, 0xfffe, 0, 0, 0, (i + 1) as u16)
    }
    pub fn pod_cidr6(&self, i: usize) -> String {
        format!("2001:2:0:{i:x}::/64")
    }
    pub fn gateway6(&self, i: usize) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 2, 0, i as u16, 0, 0, 0, 1)
    }
    pub fn pod_ip6(&self, i: usize, j: usize) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 2, 0, i as u16, 0, 0, 0, (j + 2) as u16)
    }
    /// flannel.1's IPv6 address on node i (outside every pod /64, so that no
    /// subnet-router anycast address collides with it).
    pub fn overlay_ip6(&self, i: usize) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 2, 0, 0xfffd, 0, 0, 0, (i + 1) as u16)
    }
    pub fn dns_pod_ip6(&self, r: usize) -> Ipv6Addr {
        Ipv6Addr::new(
            0x2001,
            2,
            0,
            self.dns_node(r) as u16,
            0,
            0,
            0,
            (53 + r) as u16,
        )
    }
    pub fn service_ip6(&self, i: usize, j: usize) -> Ipv6Addr {
        Ipv6Addr::new(
            0x2001,
            2,
            0,
            0xffff,
            0,
            0,
            0,
            0x20 + self.pod_number(i, j) as u16,
        )
    }

    /// Where the run's state lives.
    pub fn state_dir(&self) -> std::path::PathBuf {
        super::state::state_root().join(&self.id)
    }
    /// The simulated root filesystem of node i (CNI config and binaries).
    pub fn node_root(&self, i: usize) -> std::path::PathBuf {
        self.state_dir().join("nodes").join(self.node_name(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_fit_and_do_not_collide() {
        let p = LabPlan::new("0a1b2", MAX_NODES, MAX_PODS_PER_NODE).unwrap();
        let all = p.all_namespaces();
        let set: BTreeSet<_> = all.iter().collect();
        assert_eq!(set.len(), all.len());
        assert_eq!(
            all.len(),
            1 + MAX_NODES + MAX_NODES * MAX_PODS_PER_NODE + DNS_REPLICAS
        );
        for ns in &all {
            assert!(ns.starts_with("nc0a1b2-"), "{ns}");
        }
        for i in [0, MAX_NODES - 1] {
            assert!(p.wire_port(i).len() <= 15);
            assert!(p.pod_veth(MAX_PODS_PER_NODE - 1).len() <= 15);
        }
    }

    #[test]
    fn addresses_stay_in_the_benchmark_range_and_apart() {
        let p = LabPlan::new("fffff", MAX_NODES, MAX_PODS_PER_NODE).unwrap();
        let bench: ipnet::Ipv4Net = "198.18.0.0/15".parse().unwrap();
        let cluster: ipnet::Ipv4Net = CLUSTER_CIDR.parse().unwrap();
        let services: ipnet::Ipv4Net = SERVICE_CIDR.parse().unwrap();
        let mut seen = BTreeSet::new();
        for i in 0..p.nodes {
            let n = p.node_ip(i);
            assert!(bench.contains(&n) && !cluster.contains(&n) && !services.contains(&n));
            assert!(seen.insert(n));
            for j in 0..p.pods_per_node {
                let ip = p.pod_ip(i, j);
                assert!(cluster.contains(&ip));
                assert!(seen.insert(ip), "{ip}");
                let s = p.service_ip(i, j);
                assert!(services.contains(&s), "{s}");
                assert!(seen.insert(s), "{s}");
            }
            assert!(seen.insert(p.gateway(i)));
            assert!(seen.insert(p.overlay_ip(i)));
        }
        for fixed in [APISERVER_IP, DNS_SERVICE_IP, WIRE_GATEWAY] {
            assert!(seen.insert(fixed), "{fixed}");
        }
        for r in 0..DNS_REPLICAS {
            let ip = p.dns_pod_ip(r);
            assert!(cluster.contains(&ip) && seen.insert(ip), "{ip}");
        }
        assert!(bench.contains(&WIRE_GATEWAY) && !services.contains(&WIRE_GATEWAY));
        let macs: BTreeSet<_> = (0..p.nodes).map(|i| p.overlay_mac(i)).collect();
        assert_eq!(macs.len(), p.nodes);
    }

    #[test]
    fn ipv6_addresses_stay_in_2001_2_48_and_apart() {
        let p = LabPlan::new("fffff", MAX_NODES, MAX_PODS_PER_NODE).unwrap();
        let bench: ipnet::Ipv6Net = "2001:2::/48".parse().unwrap();
        let cluster: ipnet::Ipv6Net = CLUSTER_CIDR_V6.parse().unwrap();
        let services: ipnet::Ipv6Net = SERVICE_CIDR_V6.parse().unwrap();
        let mut seen = BTreeSet::new();
        for i in 0..p.nodes {
            let cidr: ipnet::Ipv6Net = p.pod_cidr6(i).parse().unwrap();
            assert!(cluster.contains(&cidr) && bench.contains(&cidr), "{cidr}");
            let n = p.node_ip6(i);
            assert!(bench.contains(&n) && !cluster.contains(&n) && !services.contains(&n));
            assert!(seen.insert(n));
            let o = p.overlay_ip6(i);
            assert!(
                bench.contains(&o) && !cluster.contains(&o) && seen.insert(o),
                "{o}"
            );
            assert!(cidr.contains(&p.gateway6(i)) && seen.insert(p.gateway6(i)));
            for j in 0..p.pods_per_node {
                let ip = p.pod_ip6(i, j);
                assert!(cidr.contains(&ip) && seen.insert(ip), "{ip}");
                let s = p.service_ip6(i, j);
                assert!(services.contains(&s) && seen.insert(s), "{s}");
            }
        }
        for fixed in [APISERVER_IP_V6, DNS_SERVICE_IP_V6, WIRE_GATEWAY_V6] {
            assert!(bench.contains(&fixed) && seen.insert(fixed), "{fixed}");
        }
        for r in 0..DNS_REPLICAS {
            let ip = p.dns_pod_ip6(r);
            let cidr: ipnet::Ipv6Net = p.pod_cidr6(p.dns_node(r)).parse().unwrap();
            assert!(cidr.contains(&ip) && seen.insert(ip), "{ip}");
        }
        assert_eq!(p.pod_cidr6(10), "2001:2:0:a::/64");
    }

    #[test]
    fn names_round_trip() {
        let p = LabPlan::new("12345", 12, 3).unwrap();
        assert_eq!(p.pod_name(0, 0), "probe-1a");
        assert_eq!(p.pod_index("probe-12c"), Some((11, 2)));
        assert_eq!(p.pod_index("probe-13a"), None);
        assert_eq!(p.pod_index("probe-1d"), None);
        assert_eq!(p.node_index("node-12"), Some(11));
        assert_eq!(p.node_index("node-0"), None);
        assert!(LabPlan::new("XYZ12", 3, 2).is_err());
        assert!(LabPlan::new("12345", 0, 2).is_err());
    }

    #[test]
    fn dns_replicas_run_on_two_nodes_when_there_are_two() {
        let p = LabPlan::new("12345", 3, 2).unwrap();
        assert_eq!((p.dns_node(0), p.dns_node(1)), (0, 1));
        assert_eq!(p.dns_pod_ip(0), Ipv4Addr::new(198, 18, 0, 53));
        assert_eq!(p.dns_pod_ip(1), Ipv4Addr::new(198, 18, 1, 54));
        assert_eq!(p.dns_replicas_on(2), Vec::<usize>::new());
        assert_ne!(p.dns_mac(0), p.dns_mac(1));
        let one = LabPlan::new("12345", 1, 2).unwrap();
        assert_eq!(one.dns_replicas_on(0), vec![0, 1]);
        assert_ne!(one.dns_pod_ip(0), one.dns_pod_ip(1));
        assert_ne!(one.dns_mac(0), one.dns_mac(1));
    }
}
