//! The iptables rules a node of the lab carries, as `iptables-restore`
//! documents, with the chain names, comments and marks the real ones use, so
//! that host inspection reads what it would read on a kubeadm + flannel node:
//!
//! - kube-proxy's (iptables mode): the filter hooks and KUBE-SERVICES with
//!   a REJECT for each Service port without endpoints ("has no endpoints"),
//!   KUBE-FORWARD; in nat KUBE-SERVICES → KUBE-SVC-… → KUBE-SEP-… DNAT, one
//!   SEP per endpoint chosen by `statistic --mode random --probability`,
//!   KUBE-MARK-MASQ / KUBE-POSTROUTING for hairpin and off-cluster sources;
//!   NodePorts in KUBE-NODEPORTS → KUBE-EXT-… (masquerade) → KUBE-SVC-…,
//!   reached from the last rule of KUBE-SERVICES for local addresses
//!   (PREROUTING and OUTPUT both jump KUBE-SERVICES), and a REJECT in
//!   KUBE-EXTERNAL-SERVICES for a nodePort without endpoints;
//! - kubelet's own chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY,
//!   KUBE-IPTABLES-HINT), which are not kube-proxy's;
//! - the CNI flavour's own chains ([`CniRules`], from [`super::flavours`];
//!   flannel's FLANNEL-FWD and FLANNEL-POSTRTG), placed among them.
//!
//! [`node_rules`] is the whole document a node starts with; [`kube_proxy_sync`]
//! is what kube-proxy's later sync writes with `--noflush`: only its own
//! chains (a declared chain is flushed and refilled), so the CNI's rules and
//! whatever a fault changed stay.

use super::flavours::CniRules;
use super::plan::{CLUSTER_CIDR, CLUSTER_CIDR_V6};
use std::fmt::Write;
use std::net::IpAddr;

/// One port of one Service and its ready endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// `namespace/name`.
    pub service: String,
    /// The port's name (tcp, udp, dns, https).
    pub port_name: String,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// An IPv4 port goes to iptables, an IPv6 one to ip6tables (its
    /// endpoints are of the same family).
    pub cluster_ip: IpAddr,
    pub port: u16,
    /// Ready endpoints. None: kube-proxy REJECTs the port ("has no endpoints").
    pub endpoints: Vec<IpAddr>,
    pub target_port: u16,
    /// The port's nodePort, when its Service is a NodePort
    /// (`externalTrafficPolicy: Cluster`: every node forwards it).
    pub node_port: Option<u16>,
}

impl ServicePort {
    pub(crate) fn id(&self) -> String {
        format!("{}:{}", self.service, self.port_name)
    }
    /// `KUBE-SVC-` + 16 characters derived from the port's identity, like
    /// kube-proxy's hashed chain names.
    pub fn svc_chain(&self) -> String {
        format!(
            "KUBE-SVC-{}",
            hash16(&format!("{}{}", self.id(), self.protocol))
        )
    }
    /// `KUBE-EXT-` + the SVC chain's hash: the NodePort's way in (masquerade,
    /// then the SVC chain), as kube-proxy names it.
    pub fn ext_chain(&self) -> String {
        format!(
            "KUBE-EXT-{}",
            hash16(&format!("{}{}", self.id(), self.protocol))
        )
    }
    /// The chain of one endpoint of the port.
    pub fn sep_chain(&self, endpoint: IpAddr) -> String {
        format!(
            "KUBE-SEP-{}",
            hash16(&format!(
                "{}{}{}:{}",
                self.id(),
                self.protocol,
                endpoint,
                self.target_port
            ))
        )
    }
}

/// `/32` or `/128`: one address of the port's family.
fn host(ip: IpAddr) -> String {
    format!("{ip}/{}", if ip.is_ipv6() { 128 } else { 32 })
}

/// `ip:port`, `[ip]:port` for IPv6 (DNAT's --to-destination).
fn ip_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// The cluster CIDR of the port's family.
fn cluster_cidr(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        CLUSTER_CIDR_V6
    } else {
        CLUSTER_CIDR
    }
}

/// 16 characters of A–Z and 2–7 (base32 alphabet) from a 64-bit FNV-1a hash
/// extended with a second round: stable, short, uppercase like kube-proxy's.
pub(crate) fn hash16(s: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let fnv = |seed: u64| {
        s.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142));
    let bits = (u128::from(a) << 64) | u128::from(b);
    (0..16)
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// kube-proxy's filter chains.
const KP_FILTER_CHAINS: [&str; 6] = [
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-FORWARD",
    "KUBE-NODEPORTS",
    "KUBE-PROXY-CANARY",
    "KUBE-PROXY-FIREWALL",
    "KUBE-SERVICES",
];
/// kube-proxy's fixed nat chains (the SVC and SEP chains come per Service).
const KP_NAT_CHAINS: [&str; 5] = [
    "KUBE-MARK-MASQ",
    "KUBE-NODEPORTS",
    "KUBE-POSTROUTING",
    "KUBE-PROXY-CANARY",
    "KUBE-SERVICES",
];

fn declare(s: &mut String, chains: impl IntoIterator<Item = impl AsRef<str>>) {
    for c in chains {
        let _ = writeln!(s, ":{} - [0:0]", c.as_ref());
    }
}

/// Rules in kube-proxy's filter chains: KUBE-FORWARD, and a REJECT in
/// KUBE-SERVICES for every Service port without endpoints.
fn kube_proxy_filter_rules(s: &mut String, services: &[ServicePort]) {
    s.push_str(
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n\
         -A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
    );
    for p in services.iter().filter(|p| p.endpoints.is_empty()) {
        let (id, proto, vip, port) = (p.id(), p.protocol, host(p.cluster_ip), p.port);
        let reject = if p.cluster_ip.is_ipv6() {
            "icmp6-port-unreachable"
        } else {
            "icmp-port-unreachable"
        };
        let _ = writeln!(
            s,
            "-A KUBE-SERVICES -d {vip} -p {proto} -m comment --comment \"{id} has no endpoints\" -m {proto} --dport {port} -j REJECT --reject-with {reject}"
        );
        if let Some(np) = p.node_port {
            let _ = writeln!(
                s,
                "-A KUBE-EXTERNAL-SERVICES -p {proto} -m comment --comment \"{id} has no endpoints\" -m addrtype --dst-type LOCAL -m {proto} --dport {np} -j REJECT --reject-with {reject}"
            );
        }
    }
}

/// kube-proxy's nat chains to declare: the fixed ones, then one SVC per port
/// with endpoints and one SEP per endpoint.
fn kube_proxy_nat_chains(services: &[ServicePort]) -> Vec<String> {
    let mut v: Vec<String> = KP_NAT_CHAINS.iter().map(|c| c.to_string()).collect();
    for p in services.iter().filter(|p| !p.endpoints.is_empty()) {
        v.push(p.svc_chain());
        if p.node_port.is_some() {
            v.push(p.ext_chain());
        }
        v.extend(p.endpoints.iter().map(|&e| p.sep_chain(e)));
    }
    v
}

/// A NodePort's rules (externalTrafficPolicy Cluster): KUBE-NODEPORTS sends
/// its port to KUBE-EXT-…, which marks it for masquerade (the backend may
/// be on another node) and goes on to the Service's SVC chain.
fn node_port_rules(s: &mut String, p: &ServicePort) {
    let Some(np) = p.node_port else {
        return;
    };
    let (id, proto, ext) = (p.id(), p.protocol, p.ext_chain());
    let _ = writeln!(
        s,
        "-A KUBE-NODEPORTS -p {proto} -m comment --comment \"{id}\" -m {proto} --dport {np} -j {ext}"
    );
    let _ = writeln!(
        s,
        "-A {ext} -m comment --comment \"masquerade traffic for {id} external destinations\" -j KUBE-MARK-MASQ"
    );
    let _ = writeln!(s, "-A {ext} -j {}", p.svc_chain());
}

/// Rules in kube-proxy's nat chains.
fn kube_proxy_nat_rules(s: &mut String, services: &[ServicePort]) {
    s.push_str(
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n\
         -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n\
         -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n\
         -A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n",
    );
    for p in services.iter().filter(|p| !p.endpoints.is_empty()) {
        let (id, proto, svc) = (p.id(), p.protocol, p.svc_chain());
        let (vip, port, tp) = (host(p.cluster_ip), p.port, p.target_port);
        let cidr = cluster_cidr(p.cluster_ip);
        let _ = writeln!(
            s,
            "-A KUBE-SERVICES -d {vip} -p {proto} -m comment --comment \"{id} cluster IP\" -m {proto} --dport {port} -j {svc}"
        );
        let _ = writeln!(
            s,
            "-A {svc} ! -s {cidr} -d {vip} -p {proto} -m comment --comment \"{id} cluster IP\" -m {proto} --dport {port} -j KUBE-MARK-MASQ"
        );
        node_port_rules(s, p);
        // As kube-proxy balances: endpoint k of n is taken with probability
        // 1/(n-k) among those left; the last one takes the rest.
        let n = p.endpoints.len();
        for (k, &ep) in p.endpoints.iter().enumerate() {
            let sep = p.sep_chain(ep);
            let statistic = if n - k > 1 {
                format!(
                    " -m statistic --mode random --probability {:.11}",
                    1.0 / (n - k) as f64
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "-A {svc} -m comment --comment \"{id} -> {ep}:{tp}\"{statistic} -j {sep}"
            );
            let _ = writeln!(
                s,
                "-A {sep} -s {} -m comment --comment \"{id}\" -j KUBE-MARK-MASQ",
                host(ep)
            );
            let _ = writeln!(
                s,
                "-A {sep} -p {proto} -m comment --comment \"{id}\" -m {proto} -j DNAT --to-destination {}",
                ip_port(ep, tp)
            );
        }
    }
    s.push_str(
        "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n",
    );
}

/// What kube-proxy's sync writes (`iptables-restore --noflush`): its own
/// chains, flushed and refilled from `services`; nothing else is touched.
pub fn kube_proxy_sync(services: &[ServicePort]) -> String {
    let mut s = String::with_capacity(256 + services.len() * 700);
    s.push_str("*filter\n");
    declare(&mut s, KP_FILTER_CHAINS);
    kube_proxy_filter_rules(&mut s, services);
    s.push_str("COMMIT\n*nat\n");
    declare(&mut s, kube_proxy_nat_chains(services));
    kube_proxy_nat_rules(&mut s, services);
    s.push_str("COMMIT\n");
    s
}

/// The whole document for one node (mangle, filter and nat tables).
/// `cni`: the CNI flavour's own chains and rules. `kube_proxy`: the Service
/// ports when kube-proxy runs in iptables mode; None when it writes no
/// iptables rules (nftables mode: only kubelet's and the CNI's chains, as the
/// real capture node1-iptables-nft-save-kube-proxy-nftables-mode.txt shows).
pub fn node_rules(cni: &CniRules, kube_proxy: Option<&[ServicePort]>) -> String {
    let v6 = kube_proxy.is_some_and(|v| v.first().is_some_and(|p| p.cluster_ip.is_ipv6()));
    document(cni, kube_proxy, v6)
}

/// The node's ip6tables document in iptables mode: kubelet's chains and
/// kube-proxy's for `services6` (IPv6 ports; none on an IPv4-only cluster,
/// where kube-proxy still writes its chains).
pub fn node_rules6(cni: &CniRules, services6: &[ServicePort]) -> String {
    document(cni, Some(services6), true)
}

/// The kubelet's own ip6tables chains and the CNI's (`cni`), with nothing
/// of kube-proxy's (its
/// nftables mode on an IPv6 or dual-stack node: kube-proxy is in `table ip6
/// kube-proxy`).
pub fn kubelet_rules6(cni: &CniRules) -> String {
    document(cni, None, true)
}

/// [`node_rules`] for one family (`v6`: ip6tables, which has no localnet rule).
fn document(cni: &CniRules, kube_proxy: Option<&[ServicePort]>, v6: bool) -> String {
    let n = kube_proxy.map_or(0, <[ServicePort]>::len);
    let mut s = String::with_capacity(1024 + n * 700);
    let lines = |s: &mut String, v: &[String]| {
        for l in v {
            s.push_str(l);
            s.push('\n');
        }
    };
    // kubelet's and kube-proxy's canaries, and kubelet's hint for which
    // iptables backend the host uses.
    s.push_str(
        "*mangle\n\
         :PREROUTING ACCEPT [0:0]\n\
         :INPUT ACCEPT [0:0]\n\
         :FORWARD ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n\
         :POSTROUTING ACCEPT [0:0]\n\
         :KUBE-IPTABLES-HINT - [0:0]\n\
         :KUBE-KUBELET-CANARY - [0:0]\n",
    );
    if kube_proxy.is_some() {
        s.push_str(":KUBE-PROXY-CANARY - [0:0]\n");
    }
    s.push_str(
        "COMMIT\n\
         *filter\n\
         :INPUT ACCEPT [0:0]\n\
         :FORWARD ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n",
    );
    declare(&mut s, &cni.filter_chains);
    s.push_str(
        ":KUBE-FIREWALL - [0:0]\n\
         :KUBE-KUBELET-CANARY - [0:0]\n",
    );
    match kube_proxy {
        Some(services) => {
            declare(&mut s, KP_FILTER_CHAINS);
            s.push_str(KP_FILTER_HOOKS_IN_FORWARD);
            lines(&mut s, &cni.forward_jumps);
            s.push_str(KP_FILTER_HOOKS_OUT);
            kube_proxy_filter_rules(&mut s, services);
        }
        None => {
            s.push_str("-A INPUT -j KUBE-FIREWALL\n");
            lines(&mut s, &cni.forward_jumps);
            s.push_str("-A OUTPUT -j KUBE-FIREWALL\n");
        }
    }
    // kubelet's localnet rule is IPv4's (127.0.0.0/8); ip6tables has none.
    if !v6 {
        s.push_str(KUBELET_FIREWALL);
    }
    lines(&mut s, &cni.filter_rules);
    s.push_str("COMMIT\n");

    s.push_str(
        "*nat\n\
         :PREROUTING ACCEPT [0:0]\n\
         :INPUT ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n\
         :POSTROUTING ACCEPT [0:0]\n",
    );
    declare(&mut s, &cni.nat_chains);
    s.push_str(":KUBE-KUBELET-CANARY - [0:0]\n");
    if let Some(services) = kube_proxy {
        declare(&mut s, kube_proxy_nat_chains(services));
        s.push_str(
            "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
             -A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
             -A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n",
        );
    }
    lines(&mut s, &cni.postrouting_jumps);
    if let Some(services) = kube_proxy {
        kube_proxy_nat_rules(&mut s, services);
    }
    lines(&mut s, &cni.nat_rules);
    s.push_str("COMMIT\n");
    s
}

/// kube-proxy's jumps from the INPUT and FORWARD hooks (iptables mode); the
/// CNI's FORWARD jumps follow them.
const KP_FILTER_HOOKS_IN_FORWARD: &str = "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n\
     -A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS\n\
     -A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n\
     -A INPUT -j KUBE-FIREWALL\n\
     -A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n\
     -A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n\
     -A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
     -A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n";

/// kube-proxy's jumps from the OUTPUT hook (iptables mode).
const KP_FILTER_HOOKS_OUT: &str = "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n\
     -A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
     -A OUTPUT -j KUBE-FIREWALL\n";

/// kubelet's KUBE-FIREWALL rule (whatever the proxy).
const KUBELET_FIREWALL: &str = "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n";

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn flannel() -> CniRules {
        crate::lab::flavours::flannel::flanneld_rules("198.18.0.0/24")
    }

    fn port(name: &str, proto: &'static str, ep: [u8; 4]) -> ServicePort {
        ServicePort {
            service: format!("netcheck-abcde/{name}"),
            port_name: proto.to_string(),
            protocol: proto,
            cluster_ip: Ipv4Addr::new(198, 19, 0, 32).into(),
            port: 7000,
            endpoints: vec![Ipv4Addr::from(ep).into()],
            target_port: 7000,
            node_port: None,
        }
    }

    #[test]
    fn chain_names_are_kube_proxy_shaped_and_distinct() {
        let a = port("probe-1a", "tcp", [198, 18, 0, 2]);
        let b = port("probe-1a", "udp", [198, 18, 0, 2]);
        let c = port("probe-1b", "tcp", [198, 18, 0, 3]);
        for p in [&a, &b, &c] {
            let n = p.svc_chain();
            assert_eq!(n.len(), "KUBE-SVC-".len() + 16);
            assert!(
                n.len() <= 28,
                "iptables chain names are at most 28 characters"
            );
            assert!(
                n[9..]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
            );
        }
        assert_ne!(a.svc_chain(), b.svc_chain());
        assert_ne!(a.svc_chain(), c.svc_chain());
        let ep = |p: &ServicePort| p.sep_chain(p.endpoints[0]);
        assert_ne!(ep(&a), ep(&c));
        assert_eq!(
            a.svc_chain(),
            port("probe-1a", "tcp", [198, 18, 0, 2]).svc_chain()
        );
    }

    /// Every `-A` names a declared chain, and every jump to a KUBE- or
    /// FLANNEL- chain names a declared one, table by table.
    fn assert_consistent(doc: &str) {
        for table in doc.split("COMMIT\n").filter(|t| !t.trim().is_empty()) {
            let declared: std::collections::BTreeSet<&str> = table
                .lines()
                .filter_map(|l| l.strip_prefix(':'))
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            for l in table.lines().filter(|l| l.starts_with("-A ")) {
                let words: Vec<&str> = l.split_whitespace().collect();
                assert!(declared.contains(words[1]), "undeclared chain in {l}");
                if let Some(i) = words.iter().position(|w| *w == "-j") {
                    let target = words[i + 1];
                    if target.starts_with("KUBE-") || target.starts_with("FLANNEL-") {
                        assert!(declared.contains(target), "undeclared jump target in {l}");
                    }
                }
            }
        }
    }

    #[test]
    fn document_declares_every_chain_it_jumps_to() {
        let ports = vec![
            port("probe-1a", "tcp", [198, 18, 0, 2]),
            port("probe-1a", "udp", [198, 18, 0, 2]),
        ];
        let doc = node_rules(&flannel(), Some(&ports));
        assert_consistent(&doc);
        assert_eq!(doc.matches("COMMIT").count(), 3);
        assert!(doc.contains("-j DNAT --to-destination 198.18.0.2:7000"));
        assert!(doc.contains("-A KUBE-SEP-") && doc.contains("-s 198.18.0.2/32"));
        assert!(!doc.contains("REJECT"), "every port has an endpoint");
        assert_consistent(&kube_proxy_sync(&ports));
    }

    #[test]
    fn two_endpoints_are_balanced_as_kube_proxy_does() {
        let mut dns = port("kube-dns", "udp", [198, 18, 0, 53]);
        dns.endpoints.push(Ipv4Addr::new(198, 18, 1, 54).into());
        let doc = node_rules(&flannel(), Some(&[dns.clone()]));
        assert_consistent(&doc);
        let svc: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with(&format!("-A {} ", dns.svc_chain())))
            .collect();
        assert_eq!(svc.len(), 3, "{svc:#?}");
        assert!(svc[1].contains("-> 198.18.0.53:7000\" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-"));
        assert!(svc[2].ends_with(&format!("-j {}", dns.sep_chain(dns.endpoints[1]))));
        assert!(!svc[2].contains("statistic"));
        assert!(doc.contains("-j DNAT --to-destination 198.18.1.54:7000"));
    }

    #[test]
    fn a_port_without_endpoints_is_rejected_and_the_sync_touches_only_kube_proxy() {
        let mut empty = port("probe-1a", "tcp", [198, 18, 0, 2]);
        empty.endpoints.clear();
        let doc = node_rules(&flannel(), Some(&[empty.clone()]));
        assert_consistent(&doc);
        assert!(doc.contains("-A KUBE-SERVICES -d 198.19.0.32/32 -p tcp -m comment --comment \"netcheck-abcde/probe-1a:tcp has no endpoints\" -m tcp --dport 7000 -j REJECT"));
        assert!(!doc.contains(&empty.svc_chain()));
        let full = port("probe-1a", "tcp", [198, 18, 0, 2]);
        let sync = kube_proxy_sync(&[full]);
        assert_consistent(&sync);
        assert!(!sync.contains("REJECT") && sync.contains("DNAT"));
        for other in [
            "FLANNEL",
            ":FORWARD",
            ":INPUT",
            "-A FORWARD",
            "KUBE-FIREWALL",
            "-P ",
        ] {
            assert!(!sync.contains(other), "the sync writes {other}");
        }
    }

    #[test]
    fn without_kube_proxy_only_kubelets_and_flannels_chains_remain() {
        let doc = node_rules(&flannel(), None);
        assert_consistent(&doc);
        let chains: std::collections::BTreeSet<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| c.starts_with("KUBE-"))
            .collect();
        // As iptables-nft-save shows a node whose kube-proxy is in nftables mode.
        assert_eq!(
            chains.into_iter().collect::<Vec<_>>(),
            ["KUBE-FIREWALL", "KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"]
        );
        assert!(doc.contains("-A INPUT -j KUBE-FIREWALL\n-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD\n-A OUTPUT -j KUBE-FIREWALL\n"));
        assert!(doc.contains("-j FLANNEL-POSTRTG") && doc.contains("MASQUERADE"));
    }
    #[test]
    fn a_node_port_goes_through_kube_ext_to_the_svc_chain_and_is_rejected_without_endpoints() {
        let np = ServicePort {
            node_port: Some(30002),
            ..port("probe-3a", "tcp", [198, 18, 2, 2])
        };
        let (ext, svc) = (np.ext_chain(), np.svc_chain());
        assert_eq!(ext.len(), svc.len());
        assert_eq!(ext[9..], svc[9..], "KUBE-EXT shares the SVC chain's hash");
        for doc in [
            node_rules(&flannel(), Some(std::slice::from_ref(&np))),
            kube_proxy_sync(std::slice::from_ref(&np)),
        ] {
            assert_consistent(&doc);
            assert!(doc.contains(&format!(
                "-A KUBE-NODEPORTS -p tcp -m comment --comment \"netcheck-abcde/probe-3a:tcp\" -m tcp --dport 30002 -j {ext}\n"
            )), "{doc}");
            assert!(doc.contains(&format!(
                "-A {ext} -m comment --comment \"masquerade traffic for netcheck-abcde/probe-3a:tcp external destinations\" -j KUBE-MARK-MASQ\n-A {ext} -j {svc}\n"
            )));
            // KUBE-NODEPORTS is reached from the last rule of KUBE-SERVICES.
            let last = doc
                .lines()
                .rfind(|l| l.starts_with("-A KUBE-SERVICES"))
                .unwrap_or_default();
            assert!(
                last.ends_with("--dst-type LOCAL -j KUBE-NODEPORTS"),
                "{last}"
            );
        }
        // Before kube-proxy has seen the endpoints: REJECTed, no KUBE-EXT.
        let early = ServicePort {
            endpoints: Vec::new(),
            ..np.clone()
        };
        let doc = node_rules(&flannel(), Some(std::slice::from_ref(&early)));
        assert_consistent(&doc);
        assert!(doc.contains(
            "-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment \"netcheck-abcde/probe-3a:tcp has no endpoints\" -m addrtype --dst-type LOCAL -m tcp --dport 30002 -j REJECT --reject-with icmp-port-unreachable"
        ));
        assert!(!doc.contains(&ext));
        // Not a NodePort: nothing in KUBE-NODEPORTS.
        let plain = port("probe-3b", "tcp", [198, 18, 2, 3]);
        let doc = kube_proxy_sync(std::slice::from_ref(&plain));
        assert!(!doc.contains("-A KUBE-NODEPORTS") && !doc.contains("KUBE-EXT-"));
    }
}
