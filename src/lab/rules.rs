//! The iptables rules a node of the lab carries, as one `iptables-restore`
//! document: kube-proxy's (iptables mode: KUBE-SERVICES → KUBE-SVC-… →
//! KUBE-SEP-… DNAT, KUBE-MARK-MASQ / KUBE-POSTROUTING for hairpin and
//! off-cluster sources, KUBE-FORWARD) and flannel's (FLANNEL-FWD accepts for
//! the pod network, FLANNEL-POSTRTG masquerade for traffic leaving it), with
//! the chain names, comments and marks the real ones use, so that host
//! inspection reads what it would read on a kubeadm + flannel node.

use super::plan::CLUSTER_CIDR;
use std::fmt::Write;
use std::net::Ipv4Addr;

/// One port of one Service and its single endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// `namespace/name`.
    pub service: String,
    /// The port's name (tcp, udp, dns, https).
    pub port_name: String,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    pub endpoint: Ipv4Addr,
    pub target_port: u16,
}

impl ServicePort {
    fn id(&self) -> String {
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
    pub fn sep_chain(&self) -> String {
        format!(
            "KUBE-SEP-{}",
            hash16(&format!(
                "{}{}{}:{}",
                self.id(),
                self.protocol,
                self.endpoint,
                self.target_port
            ))
        )
    }
}

/// 16 characters of A–Z and 2–7 (base32 alphabet) from a 64-bit FNV-1a hash
/// extended with a second round: stable, short, uppercase like kube-proxy's.
fn hash16(s: &str) -> String {
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

/// The whole document for one node (filter and nat tables).
pub fn node_rules(pod_cidr: &str, services: &[ServicePort]) -> String {
    let mut s = String::with_capacity(256 + services.len() * 700);
    s.push_str(
        "*filter\n\
         :INPUT ACCEPT [0:0]\n\
         :FORWARD ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n\
         :KUBE-FORWARD - [0:0]\n\
         :FLANNEL-FWD - [0:0]\n\
         -A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n\
         -A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD\n\
         -A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n\
         -A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
    );
    let _ = writeln!(
        s,
        "-A FLANNEL-FWD -s {CLUSTER_CIDR} -m comment --comment \"flanneld forward\" -j ACCEPT"
    );
    let _ = writeln!(
        s,
        "-A FLANNEL-FWD -d {CLUSTER_CIDR} -m comment --comment \"flanneld forward\" -j ACCEPT"
    );
    s.push_str("COMMIT\n");

    s.push_str(
        "*nat\n\
         :PREROUTING ACCEPT [0:0]\n\
         :INPUT ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n\
         :POSTROUTING ACCEPT [0:0]\n\
         :KUBE-SERVICES - [0:0]\n\
         :KUBE-NODEPORTS - [0:0]\n\
         :KUBE-POSTROUTING - [0:0]\n\
         :KUBE-MARK-MASQ - [0:0]\n\
         :FLANNEL-POSTRTG - [0:0]\n",
    );
    for p in services {
        let _ = writeln!(s, ":{} - [0:0]", p.svc_chain());
        let _ = writeln!(s, ":{} - [0:0]", p.sep_chain());
    }
    s.push_str(
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
         -A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
         -A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n\
         -A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG\n\
         -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n\
         -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n\
         -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n\
         -A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n",
    );
    for p in services {
        let (id, proto, svc, sep) = (p.id(), p.protocol, p.svc_chain(), p.sep_chain());
        let (vip, port, ep, tp) = (p.cluster_ip, p.port, p.endpoint, p.target_port);
        let _ = writeln!(
            s,
            "-A KUBE-SERVICES -d {vip}/32 -p {proto} -m comment --comment \"{id} cluster IP\" -m {proto} --dport {port} -j {svc}"
        );
        let _ = writeln!(
            s,
            "-A {svc} ! -s {CLUSTER_CIDR} -d {vip}/32 -p {proto} -m comment --comment \"{id} cluster IP\" -m {proto} --dport {port} -j KUBE-MARK-MASQ"
        );
        let _ = writeln!(
            s,
            "-A {svc} -m comment --comment \"{id} -> {ep}:{tp}\" -j {sep}"
        );
        let _ = writeln!(
            s,
            "-A {sep} -s {ep}/32 -m comment --comment \"{id}\" -j KUBE-MARK-MASQ"
        );
        let _ = writeln!(
            s,
            "-A {sep} -p {proto} -m comment --comment \"{id}\" -m {proto} -j DNAT --to-destination {ep}:{tp}"
        );
    }
    s.push_str(
        "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n\
         -A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld masq\" -j RETURN\n",
    );
    let _ = writeln!(
        s,
        "-A FLANNEL-POSTRTG -s {pod_cidr} -d {CLUSTER_CIDR} -m comment --comment \"flanneld masq\" -j RETURN"
    );
    let _ = writeln!(
        s,
        "-A FLANNEL-POSTRTG -s {CLUSTER_CIDR} -d {pod_cidr} -m comment --comment \"flanneld masq\" -j RETURN"
    );
    let _ = writeln!(
        s,
        "-A FLANNEL-POSTRTG ! -s {CLUSTER_CIDR} -d {pod_cidr} -m comment --comment \"flanneld masq\" -j RETURN"
    );
    let _ = writeln!(
        s,
        "-A FLANNEL-POSTRTG -s {CLUSTER_CIDR} ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully"
    );
    s.push_str("COMMIT\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str, proto: &'static str, ep: [u8; 4]) -> ServicePort {
        ServicePort {
            service: format!("netcheck-abcde/{name}"),
            port_name: proto.to_string(),
            protocol: proto,
            cluster_ip: Ipv4Addr::new(198, 19, 0, 32),
            port: 7000,
            endpoint: Ipv4Addr::from(ep),
            target_port: 7000,
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
        assert_ne!(a.sep_chain(), c.sep_chain());
        assert_eq!(
            a.svc_chain(),
            port("probe-1a", "tcp", [198, 18, 0, 2]).svc_chain()
        );
    }

    #[test]
    fn document_declares_every_chain_it_jumps_to() {
        let ports = vec![
            port("probe-1a", "tcp", [198, 18, 0, 2]),
            port("probe-1a", "udp", [198, 18, 0, 2]),
        ];
        let doc = node_rules("198.18.0.0/24", &ports);
        let declared: std::collections::BTreeSet<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for l in doc.lines().filter(|l| l.starts_with("-A ")) {
            let words: Vec<&str> = l.split_whitespace().collect();
            assert!(declared.contains(words[1]), "undeclared chain in {l}");
            if let Some(i) = words.iter().position(|w| *w == "-j") {
                let target = words[i + 1];
                if target.starts_with("KUBE-") || target.starts_with("FLANNEL-") {
                    assert!(declared.contains(target), "undeclared jump target in {l}");
                }
            }
        }
        assert_eq!(doc.matches("COMMIT").count(), 2);
        assert!(doc.contains("-j DNAT --to-destination 198.18.0.2:7000"));
        assert!(doc.contains("-A KUBE-SEP-") && doc.contains("-s 198.18.0.2/32"));
    }
}
