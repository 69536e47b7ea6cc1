//! [`SimNetwork`]: a cluster's network as data. Nodes with their pods, the
//! probe Services, two DNS replicas behind the DNS Service, the API server
//! behind `kubernetes.default`, and per node the state that the lab's faults
//! change (overlay up, wire MTU, kube-proxy's rules, FORWARD policy,
//! sysctls, hairpin, CNI files, conntrack). Probes are answered from that
//! state the way packets would be carried ([`SimNetwork::answer`]); nothing
//! here knows which fault, if any, was applied.
//!
//! Addresses (no packet is ever sent, so they only need to be consistent and
//! large enough for 10,000 nodes): pods 10.0.0.0/8 (node i: 10.(i/256).(i%256).0/24,
//! pod j .(j+2), DNS replica r .(53+r), gateway .1, overlay .0), nodes
//! 172.16.0.0/12 (node i: 172.16.0.0 + i + 1), Services 100.64.0.0/10
//! (kubernetes .0.1, kube-dns .0.10, probe pod k 100.64.0.(32+k) onwards).

use crate::model::plan::{Probe, ProbeSpec};
use crate::model::report::{ClusterSummary, Endpoint, ServiceRef};
use crate::model::topology::{
    ApiServer, DnsName, DnsTarget, HostAgent, NodeInfo, PolicyWorld, ProbePod, ServePorts,
    ServiceTarget, Source,
};
use crate::model::{Deployment, Outcome, ProbeResult};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

/// Most nodes the address plan holds (pod CIDRs are /24s of 10.0.0.0/8).
pub const MAX_NODES: usize = 10_000;
pub const MAX_PODS_PER_NODE: usize = 16;
pub const CLUSTER_DOMAIN: &str = "cluster.local";
pub const CLUSTER_CIDR: &str = "10.0.0.0/8";
pub const SERVICE_CIDR: &str = "100.64.0.0/10";
pub const UNDERLAY: &str = "172.16.0.0/12";
pub const WIRE_GATEWAY: Ipv4Addr = Ipv4Addr::new(172, 31, 255, 254);
pub const APISERVER_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
pub const DNS_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 10);
pub const APISERVER_PORT: u16 = 443;
/// CoreDNS's default: two replicas, replica r on node r mod N (as the lab).
pub const DNS_REPLICAS: usize = 2;
/// The host agents' ports (as the lab's).
pub const NODE_TCP_PORT: u16 = 9100;
pub const NODE_UDP_PORT: u16 = 9101;
pub const NODE_HTTP_PORT: u16 = 9180;
pub const WIRE_MTU: u16 = 1500;
/// VXLAN's 50 bytes: the overlay and every pod get 1450 on a 1500 wire.
pub const VXLAN_OVERHEAD: u16 = 50;
pub const POD_MTU: u16 = WIRE_MTU - VXLAN_OVERHEAD;
/// The probe pods' Kubernetes namespace.
pub const PROBE_NAMESPACE: &str = "netcheck-sim";

/// What can break on one node (the lab's faults change the same things).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeState {
    /// The overlay device (flannel.1) is up.
    pub overlay_up: bool,
    /// The MTU of the node's port on the wire.
    pub wire_mtu: u16,
    /// kube-proxy's Service rules (KUBE-SERVICES) are in place.
    pub kube_proxy_rules: bool,
    /// FORWARD policy DROP with flannel's accepts gone (Docker's way).
    pub forward_policy_drop: bool,
    /// net.ipv4.ip_forward.
    pub ip_forward: bool,
    /// net.bridge.bridge-nf-call-iptables.
    pub bridge_nf_call: bool,
    /// Hairpin mode on the bridge's pod ports.
    pub hairpin: bool,
    /// An old Calico conflist (and its binaries) sorts before flannel's.
    pub stale_calico_config: bool,
    /// kube-proxy's nat rules also loaded through iptables-legacy.
    pub legacy_nat_copy: bool,
    /// Conntrack entries in use, in ‰ of nf_conntrack_max.
    pub conntrack_permille: u32,
    /// net.ipv4.conf.all.rp_filter.
    pub rp_filter_all: u32,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState {
            overlay_up: true,
            wire_mtu: WIRE_MTU,
            kube_proxy_rules: true,
            forward_policy_drop: false,
            ip_forward: true,
            bridge_nf_call: true,
            hairpin: true,
            stale_calico_config: false,
            legacy_nat_copy: false,
            conntrack_permille: 2,
            rp_filter_all: 0,
        }
    }
}

/// Where an address leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Pod(usize),
    Dns(usize),
    Host(usize),
    Service(usize),
    DnsService,
    ApiService,
}

/// One end of a path after any DNAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ep {
    /// Probe pod k (global index).
    Pod(usize),
    /// DNS replica r.
    Dns(usize),
    /// Node i's host network.
    Host(usize),
}

/// Why a probe got no good answer.
struct Fail {
    outcome: Outcome,
    detail: Option<String>,
}

fn timeout() -> Fail {
    Fail {
        outcome: Outcome::Timeout,
        detail: None,
    }
}

#[derive(Debug, Clone)]
pub struct SimNetwork {
    pub nodes: Vec<NodeState>,
    pub pods_per_node: usize,
    /// Ordered node pairs whose overlay peer entries are gone (both ways
    /// listed when both are).
    pub lost_overlay_pairs: BTreeSet<(usize, usize)>,
    /// The DNS servers run (all replicas).
    pub dns_up: bool,
    /// Seeds the latencies.
    pub seed: u64,
    pub ports: ServePorts,
    targets: HashMap<IpAddr, Target>,
    pods_by_name: HashMap<String, usize>,
    nodes_by_name: HashMap<String, usize>,
    records: HashMap<String, Vec<IpAddr>>,
}

fn v4(base: Ipv4Addr, offset: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base).wrapping_add(offset as u32))
}

impl SimNetwork {
    /// A healthy cluster of `nodes` nodes with `pods_per_node` probe pods each.
    pub fn new(nodes: usize, pods_per_node: usize, seed: u64) -> Result<Self, String> {
        if !(1..=MAX_NODES).contains(&nodes) {
            return Err(format!(
                "a simulated cluster has 1 to {MAX_NODES} nodes, not {nodes}"
            ));
        }
        if !(1..=MAX_PODS_PER_NODE).contains(&pods_per_node) {
            return Err(format!(
                "a simulated cluster has 1 to {MAX_PODS_PER_NODE} pods per node, not {pods_per_node}"
            ));
        }
        let mut net = SimNetwork {
            nodes: vec![NodeState::default(); nodes],
            pods_per_node,
            lost_overlay_pairs: BTreeSet::new(),
            dns_up: true,
            seed,
            ports: ServePorts::default(),
            targets: HashMap::new(),
            pods_by_name: HashMap::new(),
            nodes_by_name: HashMap::new(),
            records: HashMap::new(),
        };
        net.index();
        Ok(net)
    }

    fn index(&mut self) {
        let n = self.nodes.len();
        for i in 0..n {
            self.targets
                .insert(IpAddr::V4(self.node_ip(i)), Target::Host(i));
            self.nodes_by_name.insert(self.node_name(i), i);
        }
        for k in 0..n * self.pods_per_node {
            self.targets
                .insert(IpAddr::V4(self.pod_ip(k)), Target::Pod(k));
            self.targets
                .insert(IpAddr::V4(self.service_ip(k)), Target::Service(k));
            self.pods_by_name.insert(self.pod_name(k), k);
            self.records.insert(
                format!(
                    "{}.{PROBE_NAMESPACE}.svc.{CLUSTER_DOMAIN}",
                    self.pod_name(k)
                ),
                vec![IpAddr::V4(self.service_ip(k))],
            );
        }
        for r in 0..DNS_REPLICAS {
            self.targets
                .insert(IpAddr::V4(self.dns_ip(r)), Target::Dns(r));
        }
        self.targets
            .insert(IpAddr::V4(DNS_SERVICE_IP), Target::DnsService);
        self.targets
            .insert(IpAddr::V4(APISERVER_IP), Target::ApiService);
        self.records.insert(
            format!("kubernetes.default.svc.{CLUSTER_DOMAIN}"),
            vec![IpAddr::V4(APISERVER_IP)],
        );
        self.records.insert(
            format!("kube-dns.kube-system.svc.{CLUSTER_DOMAIN}"),
            vec![IpAddr::V4(DNS_SERVICE_IP)],
        );
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn last_node(&self) -> usize {
        self.nodes.len() - 1
    }
    /// Node i is `node-(i+1)`, as the lab and clusters name them.
    pub fn node_name(&self, i: usize) -> String {
        format!("node-{}", i + 1)
    }
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes_by_name.get(name).copied()
    }
    pub fn node_ip(&self, i: usize) -> Ipv4Addr {
        v4(Ipv4Addr::new(172, 16, 0, 0), i + 1)
    }
    /// The first three octets of node i's pod CIDR (`10.0.2`).
    pub fn pod_net(&self, i: usize) -> String {
        format!("10.{}.{}", i / 256, i % 256)
    }
    pub fn pod_cidr(&self, i: usize) -> String {
        format!("{}.0/24", self.pod_net(i))
    }
    fn pod_addr(&self, i: usize, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, (i / 256) as u8, (i % 256) as u8, host)
    }
    pub fn pod_node(&self, k: usize) -> usize {
        k / self.pods_per_node
    }
    pub fn pod_ip(&self, k: usize) -> Ipv4Addr {
        self.pod_addr(self.pod_node(k), (k % self.pods_per_node + 2) as u8)
    }
    /// Pod j of node i (global index k = i·pods + j): `probe-<i+1><letter>`.
    pub fn pod_name(&self, k: usize) -> String {
        let j = k % self.pods_per_node;
        format!("probe-{}{}", self.pod_node(k) + 1, (b'a' + j as u8) as char)
    }
    pub fn service_ip(&self, k: usize) -> Ipv4Addr {
        v4(Ipv4Addr::new(100, 64, 0, 32), k)
    }
    /// The node DNS replica r runs on.
    pub fn dns_node(&self, r: usize) -> usize {
        r % self.nodes.len()
    }
    pub fn dns_ip(&self, r: usize) -> Ipv4Addr {
        self.pod_addr(self.dns_node(r), (53 + r) as u8)
    }
    pub fn dns_pod_name(&self, r: usize) -> String {
        format!("coredns-sim-{}", (b'a' + r as u8) as char)
    }
    /// The DNS replicas on node i.
    pub fn dns_replicas_on(&self, i: usize) -> Vec<usize> {
        (0..DNS_REPLICAS)
            .filter(|&r| self.dns_node(r) == i)
            .collect()
    }

    /// What discovery learns from the API: nodes, the DNS Service; neither
    /// the CNI nor kube-proxy's mode (they run on the nodes, as in the lab:
    /// host inspection finds them).
    pub fn discovered(&self) -> Deployment {
        Deployment {
            cluster: ClusterSummary {
                name: format!("netcheck-sim-{}", self.nodes.len()),
                server: "a simulated cluster in memory".into(),
                version: "simulated".into(),
                cni: "unknown".into(),
                kube_proxy_mode: "unknown".into(),
                dns_service: Some(dns_service_ref()),
                ..Default::default()
            },
            nodes: (0..self.nodes.len())
                .map(|i| NodeInfo {
                    name: self.node_name(i),
                    ready: true,
                    internal_ips: vec![IpAddr::V4(self.node_ip(i))],
                    pod_cidrs: self.pod_cidr(i).parse().into_iter().collect(),
                    taints: Vec::new(),
                    reason: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The deployment once the probes run (what `deploy` returns), the
    /// lab's shape: a Service per probe pod, host agents, DNS names of the
    /// first pod's Service and `kubernetes.default`, the API server on node-1.
    pub fn deployed(
        &self,
        discovered: Deployment,
        policies: Vec<k8s_openapi::api::networking::v1::NetworkPolicy>,
    ) -> Deployment {
        let pods: Vec<ProbePod> = (0..self.nodes.len() * self.pods_per_node)
            .map(|k| self.probe_pod(k))
            .collect();
        let hosts = (0..self.nodes.len())
            .map(|i| HostAgent {
                node: self.node_name(i),
                ips: vec![IpAddr::V4(self.node_ip(i))],
                tcp_port: Some(NODE_TCP_PORT),
            })
            .collect();
        let first = pods[0].service.clone();
        let mut names = Vec::new();
        if let Some(s) = &first {
            names.push(DnsName {
                name: s.fqdn(CLUSTER_DOMAIN),
                expect: s.cluster_ips.clone(),
                via_search: false,
            });
        }
        names.push(DnsName {
            name: format!("kubernetes.default.svc.{CLUSTER_DOMAIN}"),
            expect: vec![IpAddr::V4(APISERVER_IP)],
            via_search: false,
        });
        if let Some(s) = &first {
            names.push(DnsName {
                name: s.name.clone(),
                expect: s.cluster_ips.clone(),
                via_search: true,
            });
        }
        let dns = DnsTarget {
            service: dns_service_ref(),
            service_ips: Vec::new(),
            servers: (0..DNS_REPLICAS)
                .map(|r| Endpoint {
                    node: Some(self.node_name(self.dns_node(r))),
                    pod: Some(self.dns_pod_name(r)),
                    ip: Some(IpAddr::V4(self.dns_ip(r))),
                    name: None,
                })
                .collect(),
            cluster_domain: CLUSTER_DOMAIN.into(),
            names,
        };
        let apiserver = ApiServer {
            service: ServiceTarget {
                name: "kubernetes".into(),
                namespace: "default".into(),
                cluster_ips: vec![IpAddr::V4(APISERVER_IP)],
                node_port: None,
            },
            port: APISERVER_PORT,
            node: Some(self.node_name(0)),
        };
        let ns_labels =
            |n: &str| BTreeMap::from([("kubernetes.io/metadata.name".to_string(), n.to_string())]);
        let namespaces = [PROBE_NAMESPACE, "kube-system", "default"]
            .iter()
            .map(|n| (n.to_string(), ns_labels(n)))
            .collect();
        let mut policies = policies;
        for p in &mut policies {
            p.metadata
                .namespace
                .get_or_insert_with(|| PROBE_NAMESPACE.to_string());
        }
        Deployment {
            pods,
            hosts,
            dns: Some(dns),
            apiserver: Some(apiserver),
            policy: PolicyWorld {
                namespaces,
                policies,
            },
            ..discovered
        }
    }

    fn probe_pod(&self, k: usize) -> ProbePod {
        let name = self.pod_name(k);
        let node = self.node_name(self.pod_node(k));
        ProbePod {
            name: name.clone(),
            namespace: PROBE_NAMESPACE.into(),
            node: node.clone(),
            ips: vec![IpAddr::V4(self.pod_ip(k))],
            ports: self.ports,
            labels: BTreeMap::from([
                ("app".to_string(), "netcheck-probe".to_string()),
                ("netcheck.io/pod".to_string(), name.clone()),
                ("netcheck.io/node".to_string(), node),
            ]),
            service: Some(ServiceTarget {
                name,
                namespace: PROBE_NAMESPACE.into(),
                cluster_ips: vec![IpAddr::V4(self.service_ip(k))],
                node_port: None,
            }),
        }
    }

    fn source_ep(&self, source: &Source) -> Option<Ep> {
        match source {
            Source::Pod(name) => self.pods_by_name.get(name).map(|&k| Ep::Pod(k)),
            Source::Host(node) => self.node_index(node).map(Ep::Host),
        }
    }

    fn node_of(&self, e: Ep) -> usize {
        match e {
            Ep::Pod(k) => self.pod_node(k),
            Ep::Dns(r) => self.dns_node(r),
            Ep::Host(i) => i,
        }
    }

    /// Answer every probe of a plan run in `source`, in plan order: the raw
    /// results an agent would collect. None: the source does not exist.
    pub fn answer_all(&self, source: &Source, probes: &[Probe]) -> Option<Vec<ProbeResult>> {
        let src = self.source_ep(source)?;
        Some(probes.iter().map(|p| self.answer(src, p)).collect())
    }

    fn answer(&self, src: Ep, p: &Probe) -> ProbeResult {
        let mut r = match &p.spec {
            ProbeSpec::Dns { name, server, .. } => self.dns(src, p, name, *server),
            ProbeSpec::Mtu { target, min, max } => self.mtu(src, p, *target, *min, *max),
            ProbeSpec::Icmp { target } => self.carry(src, p, *target, None, 1.0),
            ProbeSpec::Udp { target, port } => {
                self.carry(src, p, *target, Some((Proto::Udp, *port)), 1.0)
            }
            ProbeSpec::Tcp { target, port, .. } => {
                self.carry(src, p, *target, Some((Proto::Tcp, *port)), 2.0)
            }
            ProbeSpec::Http { target, port, .. } => {
                self.carry(src, p, *target, Some((Proto::Tcp, *port)), 3.0)
            }
        };
        if r.outcome == Outcome::Timeout && r.detail.is_none() {
            r.detail = Some(format!("no answer within {} ms", p.timeout_ms));
        }
        r
    }

    /// An ICMP, UDP, TCP or HTTP probe to `target`: DNAT (a Service), then
    /// the path, then whether something listens on the port.
    fn carry(
        &self,
        src: Ep,
        p: &Probe,
        target: IpAddr,
        port: Option<(Proto, u16)>,
        round_trips: f64,
    ) -> ProbeResult {
        let a = self.node_of(src);
        let (dst, via_service) = match self.targets.get(&target) {
            None => return failed(p, timeout()),
            Some(Target::Service(k)) => (Ep::Pod(*k), true),
            Some(Target::ApiService) => (Ep::Host(0), true),
            Some(Target::DnsService) => (Ep::Dns(self.pick_replica(src, &p.id, 0)), true),
            Some(Target::Pod(k)) => (Ep::Pod(*k), false),
            Some(Target::Dns(r)) => (Ep::Dns(*r), false),
            Some(Target::Host(i)) => (Ep::Host(*i), false),
        };
        if via_service && !self.nodes[a].kube_proxy_rules {
            // No DNAT: the ClusterIP leaves the node and vanishes.
            return failed(p, timeout());
        }
        if let Err(f) = self.path(src, dst, via_service) {
            return failed(p, f);
        }
        let port = port.map(|(proto, port)| {
            // The Services map their port onto the backend's.
            let port = match (via_service, dst) {
                (true, Ep::Host(_)) if port == APISERVER_PORT => NODE_TCP_PORT,
                _ => port,
            };
            (proto, port)
        });
        if let Some((proto, port)) = port {
            if !self.listens(dst, proto, port) {
                return failed(
                    p,
                    Fail {
                        outcome: Outcome::Refused,
                        detail: Some("connect: Connection refused".into()),
                    },
                );
            }
        }
        let mut r = ProbeResult::new(&p.id, Outcome::Ok);
        r.latency_ms = Some(self.latency(src, dst, &p.id, round_trips));
        r
    }

    fn listens(&self, dst: Ep, proto: Proto, port: u16) -> bool {
        match (dst, proto) {
            (Ep::Pod(_), Proto::Tcp) => port == self.ports.tcp || port == self.ports.http,
            (Ep::Pod(_), Proto::Udp) => port == self.ports.udp,
            (Ep::Host(_), Proto::Tcp) => port == NODE_TCP_PORT || port == NODE_HTTP_PORT,
            (Ep::Host(_), Proto::Udp) => port == NODE_UDP_PORT,
            (Ep::Dns(_), _) => port == 53 && self.dns_up,
        }
    }

    /// Whether packets get from `src` to `dst` and back (after DNAT when
    /// `via_service`), given each node's state.
    fn path(&self, src: Ep, dst: Ep, via_service: bool) -> Result<(), Fail> {
        let (a, b) = (self.node_of(src), self.node_of(dst));
        let src_pod = !matches!(src, Ep::Host(_));
        let dst_pod = !matches!(dst, Ep::Host(_));
        // Pod-bound traffic between nodes rides the overlay; pod → another
        // node's host leaves by the underlay (flannel masquerades it).
        if dst_pod && a != b {
            if !self.nodes[a].overlay_up {
                return Err(if src_pod {
                    timeout()
                } else {
                    Fail {
                        outcome: Outcome::Unreachable,
                        detail: Some("connect: Network is unreachable".into()),
                    }
                });
            }
            if !self.nodes[b].overlay_up || self.lost_overlay_pairs.contains(&(a, b)) {
                return Err(timeout());
            }
        }
        let hairpin = via_service && src == dst;
        let bridged = a == b && src_pod && dst_pod && !via_service;
        for x in if a == b { vec![a] } else { vec![a, b] } {
            let n = &self.nodes[x];
            let src_here = a == x;
            let dst_here = b == x;
            // The node forwards it (FORWARD chain, ip_forward) unless it
            // is the node's own host talking to its own pods.
            let to_this_host = dst_here && !dst_pod;
            let from_this_host = src_here && !src_pod;
            let forwarded =
                (src_pod && src_here && !to_this_host) || (dst_pod && dst_here && !from_this_host);
            if n.forward_policy_drop && forwarded && !hairpin {
                return Err(timeout());
            }
            if !n.ip_forward && forwarded && !bridged {
                return Err(timeout());
            }
            // Without bridge-nf-call, a reply from a backend on the same
            // bridge skips the un-DNAT (the hairpin reply is masqueraded
            // to the bridge address and so routed: it still works).
            if !n.bridge_nf_call
                && via_service
                && a == x
                && b == x
                && src_pod
                && dst_pod
                && !hairpin
            {
                return Err(timeout());
            }
            if !n.hairpin && hairpin && a == x {
                return Err(timeout());
            }
        }
        Ok(())
    }

    /// The DNS replica kube-proxy balances attempt `attempt` of a query to.
    fn pick_replica(&self, src: Ep, id: &str, attempt: u64) -> usize {
        let h = mix(self.seed ^ hash_str(id) ^ ep_key(src).rotate_left(17) ^ attempt);
        (h % DNS_REPLICAS as u64) as usize
    }

    fn dns(&self, src: Ep, p: &Probe, name: &str, server: Option<IpAddr>) -> ProbeResult {
        let a = self.node_of(src);
        let (lookup, attempts_needed) = match server {
            Some(ip) => {
                let Some(Target::Dns(r)) = self.targets.get(&ip) else {
                    return failed(p, timeout());
                };
                if let Err(f) = self.path(src, Ep::Dns(*r), false) {
                    return failed(p, f);
                }
                if !self.dns_up {
                    return failed(p, timeout());
                }
                (self.records.get(name.trim_end_matches('.')), 0u64)
            }
            None => {
                // resolv.conf: the DNS Service, one replica per attempt
                // (a new source port each time), resent at T/3 and 2T/3.
                if !self.nodes[a].kube_proxy_rules {
                    return failed(p, timeout());
                }
                let answered = (0..=u64::from(p.retries.min(2))).find(|&t| {
                    let r = self.pick_replica(src, &p.id, t);
                    self.dns_up && self.path(src, Ep::Dns(r), true).is_ok()
                });
                let Some(t) = answered else {
                    return failed(p, timeout());
                };
                (self.resolve_with_search(name), t)
            }
        };
        let Some(addresses) = lookup else {
            return failed(
                p,
                Fail {
                    outcome: Outcome::Error,
                    detail: Some(format!("{name}: no such name (NXDOMAIN)")),
                },
            );
        };
        let server_ep = Ep::Dns(0);
        let mut r = ProbeResult::new(&p.id, Outcome::Ok);
        let retry_wait = p.timeout_ms as f64 / 3.0 * attempts_needed as f64;
        r.latency_ms = Some(retry_wait + self.latency(src, server_ep, &p.id, 1.0) + 0.1);
        r.addresses = addresses.clone();
        r
    }

    /// A name as a pod's resolver asks it: as given when it is a cluster
    /// name, else through the search path (the pod's namespace first).
    fn resolve_with_search(&self, name: &str) -> Option<&Vec<IpAddr>> {
        let name = name.trim_end_matches('.');
        self.records.get(name).or_else(|| {
            [
                format!("{name}.{PROBE_NAMESPACE}.svc.{CLUSTER_DOMAIN}"),
                format!("{name}.svc.{CLUSTER_DOMAIN}"),
                format!("{name}.{CLUSTER_DOMAIN}"),
            ]
            .iter()
            .find_map(|n| self.records.get(n))
        })
    }

    /// Path MTU: the pod's interface MTU, unless the overlay crosses a
    /// wire port that carries less (the frames above it vanish silently).
    fn mtu(&self, src: Ep, p: &Probe, target: IpAddr, min: u16, max: Option<u16>) -> ProbeResult {
        let iface = if matches!(src, Ep::Host(_)) {
            WIRE_MTU
        } else {
            POD_MTU
        };
        let max = max.unwrap_or(iface);
        let no_echo = |p: &Probe| {
            failed(
                p,
                Fail {
                    outcome: Outcome::Timeout,
                    detail: Some(format!(
                        "no echo of any size from {min} to {max} bytes came back"
                    )),
                },
            )
        };
        let dst = match self.targets.get(&target) {
            Some(Target::Pod(k)) => Ep::Pod(*k),
            Some(Target::Dns(r)) => Ep::Dns(*r),
            Some(Target::Host(i)) => Ep::Host(*i),
            _ => return no_echo(p),
        };
        if self.path(src, dst, false).is_err() {
            return no_echo(p);
        }
        let (a, b) = (self.node_of(src), self.node_of(dst));
        let mut path = max;
        if a != b && !matches!(dst, Ep::Host(_)) {
            let wire = self.nodes[a].wire_mtu.min(self.nodes[b].wire_mtu);
            path = path.min(wire.saturating_sub(VXLAN_OVERHEAD));
        }
        if path < min {
            return no_echo(p);
        }
        let mut r = ProbeResult::new(&p.id, Outcome::Ok);
        r.latency_ms = Some(self.latency(src, dst, &p.id, 1.0));
        r.path_mtu = Some(path);
        r.interface_mtu = Some(iface);
        r
    }

    /// Round-trip time in ms: a per node pair base (same node 0.04–0.14,
    /// across nodes 0.25–1.0) drawn from the seed, times the probe's round
    /// trips, with up to 20 % jitter per probe. Deterministic.
    fn latency(&self, src: Ep, dst: Ep, id: &str, round_trips: f64) -> f64 {
        let (a, b) = (self.node_of(src), self.node_of(dst));
        let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
        let pair = unit(mix(self.seed ^ mix(lo << 32 | hi)));
        let base = if a == b {
            0.04 + 0.1 * pair
        } else {
            0.25 + 0.75 * pair
        };
        let jitter = unit(mix(self.seed ^ hash_str(id) ^ ep_key(src)));
        let ms = base * round_trips * (1.0 + 0.2 * jitter);
        (ms * 1000.0).round() / 1000.0
    }
}

#[derive(Debug, Clone, Copy)]
enum Proto {
    Tcp,
    Udp,
}

fn failed(p: &Probe, f: Fail) -> ProbeResult {
    let mut r = ProbeResult::new(&p.id, f.outcome);
    r.detail = f.detail;
    r
}

fn dns_service_ref() -> ServiceRef {
    ServiceRef {
        name: "kube-dns".into(),
        namespace: "kube-system".into(),
        ip: IpAddr::V4(DNS_SERVICE_IP),
    }
}

fn ep_key(e: Ep) -> u64 {
    match e {
        Ep::Pod(k) => (k as u64) << 2,
        Ep::Dns(r) => (r as u64) << 2 | 1,
        Ep::Host(i) => (i as u64) << 2 | 2,
    }
}

/// splitmix64's finaliser: a well-mixed u64 from any u64.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a.
pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A u64 as a number in [0, 1).
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}
