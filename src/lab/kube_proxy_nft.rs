//! kube-proxy's nftables mode, as the lab plays it: `table ip kube-proxy`
//! (and, for IPv6, `table ip6 kube-proxy`: kube-proxy runs one proxier per
//! family, each with its own table of the same sets, maps and chains) as
//! kube-proxy v1.36 writes them (the real capture
//! fixtures/real-cluster-v1.36/turn2/node1-nft-table-kube-proxy.txt; its
//! `nft -j list ruleset` shows the `ip6` table beside it), loaded with
//! `nft -f`:
//!
//! - `service-ips`: a verdict map from ClusterIP . protocol . port to the
//!   Service port's chain `service-<hash>-<ns>/<name>/<proto>/<port>`, which
//!   DNATs with `numgen random mod N` over its endpoints (the DNS Service's
//!   two replicas: `mod 2`);
//! - `no-endpoint-services`: a port without endpoints goes to `reject-chain`
//!   (a connect is refused, as iptables mode's "has no endpoints" REJECT);
//!   `no-endpoint-nodeports` the same for its nodePort;
//! - `service-nodeports`: a verdict map from protocol . nodePort to the
//!   port's `external-<hash>-…` chain (masquerade mark, then the Service
//!   port's chain), reached for the addresses in `nodeport-ips`;
//! - `cluster-ips` (masquerade mark for sources outside the cluster CIDR,
//!   REJECT for ports no Service has), `nodeport-ips` (the node's IP of the
//!   table's family: kube-proxy's default `--nodeport-addresses primary`) and
//!   `hairpin-connections` (a local endpoint reaching itself through its
//!   Service is masqueraded in `masquerading`).
//!
//! The IPv6 table differs only in what the family changes: `ipv6_addr`
//! keys, `ip6 daddr`/`ip6 saddr` matches, `dnat ip6 to`, the IPv6 cluster
//! and Service CIDRs, and `reject` answering ICMPv6.
//!
//! Every node has both tables whatever the cluster's families: kube-proxy
//! runs a proxier per family the node's kernel has, so an IPv4-only node
//! carries an `ip6 kube-proxy` table without Services or NodePort
//! addresses (as the real capture's ruleset shows), and an IPv6-only one an
//! empty `ip kube-proxy`.
//!
//! In this mode kube-proxy writes nothing in iptables: the node's iptables
//! document is kubelet's and flannel's chains only ([`super::rules`]).
//! Every load replaces one family's whole table in one `nft -f` transaction
//! (declare, delete, write): what kube-proxy's sync leaves is the same table.

use super::plan::{CLUSTER_CIDR, CLUSTER_CIDR_V6, SERVICE_CIDR, SERVICE_CIDR_V6};
use super::rules::{ServicePort, hash16};
use std::fmt::Write;
use std::net::IpAddr;

/// The table's family and name for IPv4 or IPv6 (`ip kube-proxy`,
/// `ip6 kube-proxy`).
pub fn table_name(v6: bool) -> &'static str {
    if v6 {
        "ip6 kube-proxy"
    } else {
        "ip kube-proxy"
    }
}

/// `nodeport-ips`: the node's address of the table's family; none when the
/// node has none (the other family's table on a single-stack lab).
fn node_port_ips(node: &NftNode) -> Vec<String> {
    if node.node_ip.is_unspecified() {
        Vec::new()
    } else {
        vec![node.node_ip.to_string()]
    }
}

/// What of the node one family's table names.
#[derive(Debug, Clone)]
pub struct NftNode {
    /// The node's IP of the table's family (`nodeport-ips`); its family is
    /// the table's. Unspecified (`0.0.0.0`, `::`): the node has no address
    /// of that family, and the table serves nothing (the other family's
    /// table on a single-stack cluster).
    pub node_ip: IpAddr,
    /// The node's pod CIDR of that family: endpoints in it are local
    /// (`hairpin-connections`).
    pub pod_cidr: ipnet::IpNet,
}

impl NftNode {
    /// An IPv6 table (`table ip6 kube-proxy`).
    pub fn v6(&self) -> bool {
        self.node_ip.is_ipv6()
    }
    /// `ip kube-proxy` or `ip6 kube-proxy`.
    pub fn table(&self) -> &'static str {
        table_name(self.v6())
    }
    /// The address keyword of matches and DNAT: `ip` or `ip6`.
    fn ipx(&self) -> &'static str {
        if self.v6() { "ip6" } else { "ip" }
    }
    /// The set element type of an address: `ipv4_addr` or `ipv6_addr`.
    fn addr_type(&self) -> &'static str {
        if self.v6() { "ipv6_addr" } else { "ipv4_addr" }
    }
    fn cluster_cidr(&self) -> &'static str {
        if self.v6() {
            CLUSTER_CIDR_V6
        } else {
            CLUSTER_CIDR
        }
    }
    fn service_cidr(&self) -> &'static str {
        if self.v6() {
            SERVICE_CIDR_V6
        } else {
            SERVICE_CIDR
        }
    }
    /// `text` with IPv4's `ip daddr`/`ip saddr` as this family writes them.
    fn family_text(&self, text: &str) -> String {
        if self.v6() {
            text.replace("ip daddr", "ip6 daddr")
                .replace("ip saddr", "ip6 saddr")
        } else {
            text.to_string()
        }
    }
}

/// The chain of one Service port, named as kube-proxy names it.
pub fn service_chain(p: &ServicePort) -> String {
    let hash = hash16(&format!("{}{}", p.id(), p.protocol));
    format!(
        "service-{}-{}/{}/{}",
        &hash[..8],
        p.service,
        p.protocol,
        p.port_name
    )
}

/// The NodePort chain of one Service port (`service-nodeports` goes here):
/// mark for masquerade, then the Service port's chain.
pub fn external_chain(p: &ServicePort) -> String {
    service_chain(p).replacen("service-", "external-", 1)
}

/// The `nft -f` document that replaces the node's kube-proxy table of
/// `node`'s family with one for `services` (atomic: one transaction).
pub fn replace_table(node: &NftNode, services: &[ServicePort]) -> String {
    let t = node.table();
    let mut s = format!("table {t} {{ }}\ndelete table {t}\n");
    s.push_str(&table(node, services));
    s
}

/// `delete table ip kube-proxy` (or `ip6`): the `kube-proxy-down` fault.
pub fn delete_table(v6: bool) -> String {
    format!("delete table {}\n", table_name(v6))
}

/// `{ a, b }`, or nothing for an empty list (an empty set has no elements line).
fn elements(s: &mut String, items: &[String]) {
    if !items.is_empty() {
        let _ = writeln!(s, "\t\telements = {{ {} }}", items.join(",\n\t\t\t     "));
    }
}

fn set(s: &mut String, kind: &str, name: &str, ty: &str, comment: &str, items: &[String]) {
    let _ = writeln!(
        s,
        "\t{kind} {name} {{\n\t\ttype {ty}\n\t\tcomment \"{comment}\""
    );
    elements(s, items);
    s.push_str("\t}\n\n");
}

/// The hooks and fixed chains, as kube-proxy writes them.
const FIXED_CHAINS: &str = "\tchain filter-prerouting-pre-dnat {
\t\ttype filter hook prerouting priority dstnat - 10; policy accept;
\t\tct state new jump firewall-check
\t}

\tchain filter-output-pre-dnat {
\t\ttype filter hook output priority -110; policy accept;
\t\tct state new jump firewall-check
\t}

\tchain filter-input {
\t\ttype filter hook input priority filter; policy accept;
\t\tct state new jump nodeport-endpoints-check
\t\tct state new jump service-endpoints-check
\t}

\tchain filter-forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tct state new jump service-endpoints-check
\t\tct state new jump cluster-ips-check
\t}

\tchain filter-output {
\t\ttype filter hook output priority filter; policy accept;
\t\tct state new jump service-endpoints-check
\t\tct state new jump cluster-ips-check
\t}

\tchain nat-prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tjump services
\t}

\tchain nat-output {
\t\ttype nat hook output priority -100; policy accept;
\t\tjump services
\t}

\tchain nat-postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tjump masquerading
\t}

\tchain nodeport-endpoints-check {
\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
\t}

\tchain service-endpoints-check {
\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services
\t}

\tchain firewall-check {
\t\tip daddr . meta l4proto . th dport vmap @firewall-ips
\t}
";

/// Masquerade what `services` marked, and hairpin connections.
const MASQUERADING: &str = "
\tchain masquerading {
\t\tmeta mark & 0x00004000 != 0x00000000 meta mark set meta mark ^ 0x00004000 masquerade fully-random
\t\tct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random
\t}
";

/// Where a port without endpoints goes.
const REJECT_CHAIN: &str = "
\tchain reject-chain {
\t\tcomment \"helper for @no-endpoint-services / @no-endpoint-nodeports\"
\t\treject
\t}
";

/// The sets and maps, filled from `services`.
fn sets(s: &mut String, node: &NftNode, services: &[ServicePort]) {
    let addr = node.addr_type();
    let key = format!("{addr} . inet_proto . inet_service");
    let with: Vec<&ServicePort> = services
        .iter()
        .filter(|p| !p.endpoints.is_empty())
        .collect();
    let hairpin: Vec<String> = with
        .iter()
        .flat_map(|p| {
            p.endpoints
                .iter()
                .filter(|e| node.pod_cidr.contains(*e))
                .map(|e| format!("{e} . {e} . {} . {}", p.protocol, p.target_port))
        })
        .collect();
    set(
        s,
        "set",
        "hairpin-connections",
        &format!("{addr} . {key}"),
        "service hairpin connections",
        &hairpin,
    );
    let mut ips: Vec<std::net::IpAddr> = services.iter().map(|p| p.cluster_ip).collect();
    ips.sort();
    ips.dedup();
    let ips: Vec<String> = ips.iter().map(std::net::IpAddr::to_string).collect();
    set(s, "set", "cluster-ips", addr, "Active ClusterIPs", &ips);
    set(
        s,
        "set",
        "nodeport-ips",
        addr,
        "IPs that accept NodePort traffic",
        &node_port_ips(node),
    );
    let rejects: Vec<String> = services
        .iter()
        .filter(|p| p.endpoints.is_empty())
        .map(|p| {
            format!(
                "{} . {} . {} comment \"{}\" : goto reject-chain",
                p.cluster_ip,
                p.protocol,
                p.port,
                p.id()
            )
        })
        .collect();
    set(
        s,
        "map",
        "no-endpoint-services",
        &format!("{key} : verdict"),
        "vmap to drop or reject packets to services with no endpoints",
        &rejects,
    );
    let node_port_rejects: Vec<String> = services
        .iter()
        .filter(|p| p.endpoints.is_empty())
        .filter_map(|p| {
            let np = p.node_port?;
            Some(format!(
                "{} . {np} comment \"{}\" : goto reject-chain",
                p.protocol,
                p.id()
            ))
        })
        .collect();
    set(
        s,
        "map",
        "no-endpoint-nodeports",
        "inet_proto . inet_service : verdict",
        "vmap to drop or reject packets to service nodeports with no endpoints",
        &node_port_rejects,
    );
    set(
        s,
        "map",
        "firewall-ips",
        &format!("{key} : verdict"),
        "destinations that are subject to LoadBalancerSourceRanges",
        &[],
    );
    let vips: Vec<String> = with
        .iter()
        .map(|p| {
            format!(
                "{} . {} . {} : goto {}",
                p.cluster_ip,
                p.protocol,
                p.port,
                service_chain(p)
            )
        })
        .collect();
    set(
        s,
        "map",
        "service-ips",
        &format!("{key} : verdict"),
        "ClusterIP, ExternalIP and LoadBalancer IP traffic",
        &vips,
    );
    let node_ports: Vec<String> = with
        .iter()
        .filter_map(|p| {
            let np = p.node_port?;
            Some(format!(
                "{} . {np} : goto {}",
                p.protocol,
                external_chain(p)
            ))
        })
        .collect();
    set(
        s,
        "map",
        "service-nodeports",
        "inet_proto . inet_service : verdict",
        "NodePort traffic",
        &node_ports,
    );
}

/// The whole `table ip kube-proxy { … }` (or `ip6`, after `node`'s
/// family) for one node.
pub fn table(node: &NftNode, services: &[ServicePort]) -> String {
    let mut s = String::with_capacity(4096 + services.len() * 300);
    let _ = writeln!(
        s,
        "table {} {{\n\tcomment \"rules for kube-proxy\"",
        node.table()
    );
    sets(&mut s, node, services);
    s.push_str(&node.family_text(FIXED_CHAINS));
    let (ipx, cluster, service) = (node.ipx(), node.cluster_cidr(), node.service_cidr());
    let _ = write!(
        s,
        "\n\tchain services {{\n\
         \t\t{ipx} daddr @cluster-ips {ipx} saddr != {cluster} meta mark set meta mark | 0x00004000 comment \"masquerade clusterIP traffic from outside cluster\"\n\
         \t\t{ipx} daddr . meta l4proto . th dport vmap @service-ips\n\
         \t\t{ipx} daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n\
         \t}}\n"
    );
    s.push_str(&node.family_text(MASQUERADING));
    let _ = write!(
        s,
        "\n\tchain cluster-ips-check {{\n\
         \t\t{ipx} daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"\n\
         \t\t{ipx} daddr {service} drop comment \"Drop traffic to unallocated ClusterIPs\"\n\
         \t}}\n"
    );
    s.push_str(REJECT_CHAIN);
    for p in services.iter().filter(|p| !p.endpoints.is_empty()) {
        let targets: Vec<String> = p
            .endpoints
            .iter()
            .enumerate()
            .map(|(k, e)| format!("{k} : {e} . {}", p.target_port))
            .collect();
        let _ = write!(
            s,
            "\n\tchain {} {{\n\t\tmeta l4proto {} dnat {ipx} to numgen random mod {} map {{ {} }}\n\t}}\n",
            service_chain(p),
            p.protocol,
            p.endpoints.len(),
            targets.join(", ")
        );
        if p.node_port.is_some() {
            let _ = write!(
                s,
                "\n\tchain {} {{\n\t\tmeta mark set meta mark | 0x00004000 comment \"masquerade traffic from external\"\n\t\tgoto {}\n\t}}\n",
                external_chain(p),
                service_chain(p)
            );
        }
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn node() -> NftNode {
        NftNode {
            node_ip: Ipv4Addr::new(198, 19, 255, 1).into(),
            pod_cidr: "198.18.0.0/24".parse().unwrap(),
        }
    }

    fn node6() -> NftNode {
        NftNode {
            node_ip: "2001:2:0:fffe::b".parse().unwrap(),
            pod_cidr: "2001:2::/64".parse().unwrap(),
        }
    }

    fn port(name: &str, proto: &'static str, eps: &[[u8; 4]]) -> ServicePort {
        ServicePort {
            service: format!("netcheck-abcde/{name}"),
            port_name: proto.to_string(),
            protocol: proto,
            cluster_ip: Ipv4Addr::new(198, 19, 0, 32).into(),
            port: 7000,
            endpoints: eps.iter().map(|e| Ipv4Addr::from(*e).into()).collect(),
            target_port: 7000,
            node_port: None,
        }
    }

    /// Every `goto`/`jump` names a chain the table defines, and every `@set`
    /// a set or map it defines.
    fn assert_consistent(doc: &str) {
        let defined = |kw: &str| -> Vec<String> {
            doc.lines()
                .filter_map(|l| l.trim().strip_prefix(kw))
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect()
        };
        let chains = defined("chain ");
        let mut sets = defined("set ");
        sets.extend(defined("map "));
        for w in doc.split_whitespace().collect::<Vec<_>>().windows(2) {
            if w[0] == "goto" || w[0] == "jump" {
                let target = w[1].trim_end_matches(',');
                assert!(chains.iter().any(|c| c == target), "no chain {target}");
            }
        }
        for w in doc.split_whitespace().filter_map(|w| w.strip_prefix('@')) {
            let w = w.trim_end_matches('"');
            assert!(sets.iter().any(|x| x == w), "no set {w}");
        }
    }

    /// The other family's table on a single-stack node: every set, map and
    /// chain kube-proxy declares, with nothing in them (no Service, no
    /// NodePort address).
    #[test]
    fn a_family_the_node_has_no_address_of_gets_an_empty_table() {
        let absent = NftNode {
            node_ip: Ipv6Addr::UNSPECIFIED.into(),
            pod_cidr: "::/128".parse().unwrap(),
        };
        let doc = table(&absent, &[]);
        assert_consistent(&doc);
        assert!(doc.starts_with("table ip6 kube-proxy {"), "{doc}");
        assert!(doc.contains("set nodeport-ips {") && doc.contains("map service-ips {"));
        assert!(!doc.contains("elements"), "{doc}");
        assert!(!doc.contains("::,") && !doc.contains("{ :: }"), "{doc}");
    }

    #[test]
    fn two_endpoints_are_balanced_with_numgen_mod_2() {
        let dns = ServicePort {
            service: "kube-system/kube-dns".into(),
            port_name: "dns".into(),
            protocol: "udp",
            cluster_ip: Ipv4Addr::new(198, 19, 0, 10).into(),
            port: 53,
            endpoints: vec![
                Ipv4Addr::new(198, 18, 0, 82).into(),
                Ipv4Addr::new(198, 18, 1, 66).into(),
            ],
            target_port: 53,
            node_port: None,
        };
        let doc = table(&node(), std::slice::from_ref(&dns));
        assert_consistent(&doc);
        let chain = service_chain(&dns);
        assert!(chain.starts_with("service-") && chain.ends_with("-kube-system/kube-dns/udp/dns"));
        assert!(doc.contains(&format!("198.19.0.10 . udp . 53 : goto {chain}")));
        assert!(doc.contains(
            "meta l4proto udp dnat ip to numgen random mod 2 map { 0 : 198.18.0.82 . 53, 1 : 198.18.1.66 . 53 }"
        ));
        // Only the local endpoint is a hairpin connection.
        assert!(doc.contains("198.18.0.82 . 198.18.0.82 . udp . 53"));
        assert!(!doc.contains("198.18.1.66 . 198.18.1.66"));
        assert!(doc.contains("elements = { 198.19.255.1 }"));
    }

    #[test]
    fn a_port_without_endpoints_goes_to_the_reject_chain() {
        let empty = port("probe-1a", "tcp", &[]);
        let doc = table(&node(), std::slice::from_ref(&empty));
        assert_consistent(&doc);
        assert!(doc.contains(
            "198.19.0.32 . tcp . 7000 comment \"netcheck-abcde/probe-1a:tcp\" : goto reject-chain"
        ));
        assert!(!doc.contains(&service_chain(&empty)));
        assert!(
            doc.contains("elements = { 198.19.0.32 }"),
            "still a ClusterIP"
        );
        let full = replace_table(&node(), &[port("probe-1a", "tcp", &[[198, 18, 0, 2]])]);
        assert!(full.starts_with("table ip kube-proxy { }\ndelete table ip kube-proxy\n"));
        assert_consistent(&full);
        assert!(!full.contains("reject-chain }") && !full.contains(": goto reject-chain"));
    }

    #[test]
    fn the_table_has_the_real_captures_chains_and_maps() {
        let real =
            include_str!("../../tests/fixtures/host-v1.36/turn2/node1-nft-table-kube-proxy.txt");
        let doc = table(&node(), &[port("probe-1a", "tcp", &[[198, 18, 0, 2]])]);
        let heads = |t: &str| -> Vec<String> {
            t.lines()
                .map(str::trim)
                .filter(|l| {
                    (l.starts_with("chain ")
                        && !l.starts_with("chain service-")
                        && !l.starts_with("chain external-"))
                        || l.starts_with("set ")
                        || l.starts_with("map ")
                        || l.starts_with("type ")
                })
                .map(str::to_string)
                .collect()
        };
        assert_eq!(heads(&doc), heads(real));
        // The IPv6 table has the same heads with IPv6 keys (the derived
        // fixture, README there).
        let real6 = include_str!(
            "../../tests/fixtures/derived-v1.36-dualstack/node1-nft-table-ip6-kube-proxy.txt"
        );
        let six = ServicePort {
            cluster_ip: "2001:2:0:ffff::20".parse::<Ipv6Addr>().unwrap().into(),
            endpoints: vec!["2001:2::2".parse::<Ipv6Addr>().unwrap().into()],
            ..port("probe-1a", "tcp", &[])
        };
        let doc6 = table(&node6(), &[six]);
        assert_eq!(heads(&doc6), heads(real6));
        assert!(heads(&doc6).iter().any(|h| h.contains("ipv6_addr")));
    }

    /// The IPv6 table says what the derived fixture says, line for line
    /// where the Services are the same: matches on `ip6`, `dnat ip6 to`,
    /// the IPv6 CIDRs; no IPv4 left in it.
    #[test]
    fn the_ipv6_table_matches_on_ip6_with_the_ipv6_cidrs() {
        let real6 = include_str!(
            "../../tests/fixtures/derived-v1.36-dualstack/node1-nft-table-ip6-kube-proxy.txt"
        );
        let v6 = |s: &str| -> IpAddr { s.parse::<Ipv6Addr>().unwrap().into() };
        let dns = ServicePort {
            service: "kube-system/kube-dns".into(),
            port_name: "dns".into(),
            protocol: "udp",
            cluster_ip: v6("2001:2:0:ffff::a"),
            port: 53,
            endpoints: vec![v6("2001:2::52"), v6("2001:2:0:1::42")],
            target_port: 53,
            node_port: None,
        };
        let doc = table(&node6(), std::slice::from_ref(&dns));
        assert_consistent(&doc);
        assert!(doc.starts_with("table ip6 kube-proxy {\n"), "{doc}");
        for line in [
            "ip6 daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
            "ip6 daddr . meta l4proto . th dport vmap @no-endpoint-services",
            "ip6 daddr . meta l4proto . th dport vmap @service-ips",
            "ct status dnat ip6 saddr . ip6 daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random",
            "ip6 daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
            "meta l4proto udp dnat ip6 to numgen random mod 2 map { 0 : 2001:2::52 . 53, 1 : 2001:2:0:1::42 . 53 }",
        ] {
            assert!(doc.contains(line), "{line}\n{doc}");
            assert!(real6.contains(line), "the fixture has {line}");
        }
        assert!(doc.contains("ip6 saddr != 2001:2:0::/56"));
        assert!(doc.contains("ip6 daddr 2001:2:0:ffff::/112 drop"));
        assert!(doc.contains("elements = { 2001:2:0:fffe::b }"));
        assert!(
            doc.contains("2001:2::52 . 2001:2::52 . udp . 53"),
            "local: hairpin"
        );
        assert!(!doc.contains("2001:2:0:1::42 . 2001:2:0:1::42"));
        assert!(!doc.contains("ip daddr") && !doc.contains("ipv4_addr") && !doc.contains("198."));
        let full = replace_table(&node6(), &[dns]);
        assert!(full.starts_with("table ip6 kube-proxy { }\ndelete table ip6 kube-proxy\n"));
        assert_eq!(delete_table(true), "delete table ip6 kube-proxy\n");
        assert_eq!(delete_table(false), "delete table ip kube-proxy\n");
    }

    #[test]
    fn a_node_port_is_in_service_nodeports_and_rejected_until_it_has_endpoints() {
        let np = ServicePort {
            node_port: Some(30002),
            ..port("probe-3a", "tcp", &[[198, 18, 2, 2]])
        };
        let doc = table(&node(), std::slice::from_ref(&np));
        assert_consistent(&doc);
        let ext = external_chain(&np);
        assert!(ext.starts_with("external-") && ext.ends_with("-netcheck-abcde/probe-3a/tcp/tcp"));
        assert!(doc.contains(&format!("tcp . 30002 : goto {ext}")), "{doc}");
        assert!(doc.contains(&format!(
            "chain {ext} {{\n\t\tmeta mark set meta mark | 0x00004000 comment \"masquerade traffic from external\"\n\t\tgoto {}\n\t}}",
            service_chain(&np)
        )));
        let early = ServicePort {
            endpoints: Vec::new(),
            ..np.clone()
        };
        let doc = table(&node(), std::slice::from_ref(&early));
        assert_consistent(&doc);
        assert!(
            doc.contains("tcp . 30002 comment \"netcheck-abcde/probe-3a:tcp\" : goto reject-chain")
        );
        assert!(!doc.contains(&ext));
    }
}
