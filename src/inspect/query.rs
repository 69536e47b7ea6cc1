//! Questions the host rules and the per-node view ask of a [`HostReport`]:
//! which backend holds rules, whether kube-proxy's chains exist, what the
//! FORWARD chain does with pod traffic, which overlay the node uses and which
//! interfaces pod traffic crosses. Pure functions over plain data.

use crate::model::host::{Firewall, HostReport, HostSummary, Interface, IptRule, IptTable};
use ipnet::IpNet;

/// Backends (`legacy`, `nft`) that hold at least one rule.
pub fn backends_with_rules(fw: &Firewall) -> Vec<&str> {
    fw.iptables
        .iter()
        .filter(|b| b.error.is_none() && b.rule_count > 0)
        .map(|b| b.backend.as_str())
        .collect()
}

/// kube-proxy's footprint: the KUBE-SERVICES chain in some iptables backend
/// (iptables and ipvs modes) or the `kube-proxy` nftables table (nftables
/// mode). None when no firewall view could be read.
pub fn kube_proxy_rules(fw: &Firewall) -> Option<bool> {
    let readable_ipt = fw.iptables.iter().any(|b| b.error.is_none());
    let nft = fw.nftables.as_ref().filter(|n| n.error.is_none());
    if !readable_ipt && nft.is_none() {
        return None;
    }
    let in_ipt = fw
        .iptables
        .iter()
        .filter(|b| b.error.is_none())
        .flat_map(|b| &b.tables)
        .any(|t| t.chain("KUBE-SERVICES").is_some());
    let in_nft = nft.is_some_and(|n| n.tables.iter().any(|t| t.name == "kube-proxy"));
    Some(in_ipt || in_nft)
}

/// The overlay a node uses, from its tunnel devices.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    pub device: String,
    /// vxlan, geneve, ipip, wireguard.
    pub kind: String,
    /// `udp` or `ipip` (IP protocol 4).
    pub protocol: &'static str,
    pub port: Option<u16>,
    pub vni: Option<u32>,
    pub underlay: Option<String>,
    pub mtu: Option<u32>,
}

impl Overlay {
    /// `udp/8472` or `IP protocol 4 (ipip)`.
    pub fn wire(&self) -> String {
        match (self.protocol, self.port) {
            ("udp", Some(p)) => format!("udp/{p}"),
            ("udp", None) => "udp".into(),
            _ => "IP protocol 4 (ipip)".into(),
        }
    }
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.vni {
            parts.push(format!("VNI {v}"));
        }
        parts.push(self.wire());
        if let Some(d) = &self.underlay {
            parts.push(format!("dev {d}"));
        }
        format!("{} {} ({})", self.kind, self.device, parts.join(", "))
    }
}

/// The node's tunnel devices, VXLAN first, then Geneve, WireGuard, IPIP
/// (each kind in the kernel's order). A dual-stack overlay has one per
/// family (`vxlan.calico` and `vxlan-v6.calico`, `flannel.1` and
/// `flannel-v6.1`).
fn tunnels(r: &HostReport) -> Vec<&Interface> {
    let order = ["vxlan", "geneve", "wireguard", "ipip"];
    let mut tunnels: Vec<&Interface> = r
        .interfaces
        .iter()
        .filter(|i| i.kind.as_deref().is_some_and(|k| order.contains(&k)))
        .collect();
    tunnels.sort_by_key(|i| order.iter().position(|k| Some(*k) == i.kind.as_deref()));
    tunnels
}

/// The node's overlay: its first tunnel device ([`tunnels`]).
pub fn overlay(r: &HostReport) -> Option<Overlay> {
    let tunnels = tunnels(r);
    let i = tunnels.first()?;
    let kind = i.kind.clone().unwrap_or_default();
    let t = i.tunnel.clone().unwrap_or_default();
    let (protocol, port) = match kind.as_str() {
        // The kernel's default VXLAN port is 8472 (flannel keeps it); 4789 is IANA's.
        "vxlan" => ("udp", Some(t.port.unwrap_or(8472))),
        "geneve" => ("udp", Some(t.port.unwrap_or(6081))),
        "wireguard" => ("udp", Some(t.port.unwrap_or(51820))),
        _ => ("ipip", None),
    };
    Some(Overlay {
        device: i.name.clone(),
        kind,
        protocol,
        port,
        vni: t.id,
        underlay: t.dev,
        mtu: i.mtu,
    })
}

/// Bridges pod interfaces are attached to: the CNI config's bridge and any
/// bridge with veth ports.
pub fn pod_bridges(r: &HostReport) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(sel) = r.cni.as_ref().and_then(|c| c.selected_file()) {
        for p in &sel.plugins {
            for b in [
                p.bridge.as_ref(),
                p.delegate.as_ref().and_then(|d| d.bridge.as_ref()),
            ]
            .into_iter()
            .flatten()
            {
                if !out.contains(b) {
                    out.push(b.clone());
                }
            }
        }
    }
    for i in &r.interfaces {
        if i.kind.as_deref() == Some("bridge")
            && r.interfaces
                .iter()
                .any(|p| p.master.as_deref() == Some(&i.name) && p.kind.as_deref() == Some("veth"))
            && !out.contains(&i.name)
        {
            out.push(i.name.clone());
        }
    }
    // Only bridges that exist on the node.
    out.retain(|b| r.interfaces.is_empty() || r.interfaces.iter().any(|i| &i.name == b));
    out
}

/// The selected CNI config chains a bridge (bridge plugin or flannel's default delegate).
pub fn uses_bridge_cni(r: &HostReport) -> bool {
    r.cni
        .as_ref()
        .and_then(|c| c.selected_file())
        .is_some_and(|f| f.types().iter().any(|t| t == "bridge"))
}

/// The underlay interface: the overlay's `dev`, else the device of the default
/// route, else of the first gateway route.
pub fn underlay(r: &HostReport) -> Option<String> {
    overlay(r).and_then(|o| o.underlay).or_else(|| {
        r.routes
            .iter()
            .find(|x| x.dst == "default")
            // No default route (and no overlay): the link the gateway
            // routes leave by, as a routed CNI's routes to the other
            // nodes' pods via their node addresses do.
            .or_else(|| r.routes.iter().find(|x| x.gateway.is_some()))
            .and_then(|x| x.dev.clone())
    })
}

/// Interfaces pod traffic crosses on this node: pod bridges, the overlay
/// devices (one per family on a dual-stack overlay), the underlay.
pub fn pod_path_interfaces(r: &HostReport) -> Vec<String> {
    let mut out = pod_bridges(r);
    let tunnels = tunnels(r).into_iter().map(|i| i.name.clone());
    for x in tunnels.chain(underlay(r)) {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Whether an iptables interface pattern (`cni0`, `cali+`, `!eth0`) names a
/// pod-side interface of this node.
fn pod_side_interface(pattern: &str, r: &HostReport) -> bool {
    if pattern.starts_with('!') {
        return false;
    }
    let matches = |name: &str| match pattern.strip_suffix('+') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    };
    let known = [
        "cni",
        "cbr",
        "cali",
        "cilium",
        "lxc",
        "weave",
        "flannel",
        "vxlan",
        "tunl",
        "kube-bridge",
        "genev",
        "kindnet",
        "veth",
    ];
    if known.iter().any(|k| pattern.starts_with(k)) {
        return true;
    }
    pod_path_interfaces(r)
        .iter()
        .chain(
            r.interfaces
                .iter()
                .filter(|i| i.kind.as_deref() == Some("veth"))
                .map(|i| &i.name),
        )
        .any(|n| matches(n))
        && underlay(r).is_none_or(|u| !matches(&u))
}

fn overlaps_pods(addr: &str, pod_cidrs: &[IpNet]) -> bool {
    if addr.starts_with('!') {
        return false;
    }
    let net: Option<IpNet> = addr
        .parse()
        .ok()
        .or_else(|| addr.parse::<std::net::IpAddr>().ok().map(IpNet::from));
    net.is_some_and(|n| {
        pod_cidrs
            .iter()
            .any(|p| p.contains(&n.network()) || n.contains(&p.network()))
    })
}

/// An ACCEPT that lets new pod traffic through: no conntrack/mark/protocol
/// restriction, addresses (if any) in the pod CIDRs, interfaces (if any) on
/// the pod side.
pub fn accepts_pod_traffic(rule: &IptRule, r: &HostReport, pod_cidrs: &[IpNet]) -> bool {
    if rule.target.as_deref() != Some("ACCEPT") || rule.protocol.is_some() {
        return false;
    }
    let restrictive = [
        "conntrack",
        "state",
        "mark",
        "connmark",
        "set",
        "addrtype",
        "physdev",
        "rpfilter",
        "owner",
        "policy",
        "nfacct",
        "statistic",
        "limit",
        "recent",
    ];
    if rule
        .matches
        .iter()
        .any(|m| restrictive.contains(&m.as_str()))
    {
        return false;
    }
    let addr_ok = |a: &Option<String>| a.as_deref().is_none_or(|a| overlaps_pods(a, pod_cidrs));
    let iface_ok = |i: &Option<String>| i.as_deref().is_none_or(|i| pod_side_interface(i, r));
    addr_ok(&rule.source)
        && addr_ok(&rule.destination)
        && iface_ok(&rule.in_interface)
        && iface_ok(&rule.out_interface)
}

/// Rules in evaluation order from `chain`, following jumps into user chains.
/// Each chain is walked once (the first time it is reached) and depth is
/// bounded, so loops and fan-out in odd rulesets cannot blow up.
pub fn reached_rules<'a>(t: &'a IptTable, chain: &str) -> Vec<&'a IptRule> {
    fn walk<'a>(
        t: &'a IptTable,
        chain: &str,
        depth: usize,
        seen: &mut std::collections::BTreeSet<&'a str>,
        out: &mut Vec<&'a IptRule>,
    ) {
        let Some(c) = t.chain(chain) else { return };
        if depth > 8 || !seen.insert(c.name.as_str()) {
            return;
        }
        for rule in &c.rules {
            out.push(rule);
            if let Some(target) = rule.target.as_deref() {
                if t.chain(target).is_some_and(|tc| tc.policy.is_none()) {
                    walk(t, target, depth + 1, seen, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(t, chain, 0, &mut Default::default(), &mut out);
    out
}

/// A FORWARD chain with policy DROP that nothing in it accepts pod traffic
/// for: `(backend, the accepting rules it has, if any)`.
#[derive(Debug, Clone)]
pub struct ForwardDrop {
    pub backend: String,
    /// `iptables` or `ip6tables` (the firewall's IPv6 view,
    /// [`crate::model::host::Firewall::for_family`]).
    pub tool: &'static str,
    pub policy_line: String,
    /// Rules in FORWARD (and the chains it jumps to) that accept something.
    pub accepts: Vec<String>,
}

pub fn forward_drop(r: &HostReport, pod_cidrs: &[IpNet]) -> Option<ForwardDrop> {
    let fw = r.firewall.as_ref()?;
    for b in fw.iptables.iter().filter(|b| b.error.is_none()) {
        let Some(filter) = b.tables.iter().find(|t| t.name == "filter") else {
            continue;
        };
        let Some(fwd) = filter.chain("FORWARD") else {
            continue;
        };
        if fwd.policy.as_deref() != Some("DROP") {
            continue;
        }
        let reached = reached_rules(filter, "FORWARD");
        if reached.iter().any(|x| accepts_pod_traffic(x, r, pod_cidrs)) {
            continue;
        }
        let tool = if b.binary.as_deref().is_some_and(|x| x.contains("ip6tables")) {
            "ip6tables"
        } else {
            "iptables"
        };
        return Some(ForwardDrop {
            backend: b.backend.clone(),
            tool,
            policy_line: format!(":FORWARD DROP ({tool}-{}-save, table filter)", b.backend),
            accepts: reached
                .iter()
                .filter(|x| x.target.as_deref() == Some("ACCEPT"))
                .map(|x| x.raw.clone())
                .collect(),
        });
    }
    // A native nftables filter chain on the forward hook with policy drop.
    let nft = fw.nftables.as_ref().filter(|n| n.error.is_none())?;
    let ipt_tables = ["filter", "nat", "mangle", "raw", "security"];
    for t in nft
        .tables
        .iter()
        .filter(|t| !ipt_tables.contains(&t.name.as_str()))
    {
        for c in &t.chains {
            if c.hook.as_deref() == Some("forward")
                && c.policy.as_deref() == Some("drop")
                && c.rule_count == 0
            {
                return Some(ForwardDrop {
                    backend: "nftables".into(),
                    tool: "nft",
                    policy_line: format!(
                        "table {} {} chain {} {{ type filter hook forward; policy drop; }} with no rules",
                        t.family, t.name, c.name
                    ),
                    accepts: Vec::new(),
                });
            }
        }
    }
    None
}

/// A rule that matches on protocol and ports at most (and a comment): no
/// addresses, no other match. The only kind [`overlay_block`] judges.
pub fn ports_only(rule: &IptRule) -> bool {
    rule.matches
        .iter()
        .all(|m| ["comment", "udp", "tcp", "multiport"].contains(&m.as_str()))
        && rule.source.is_none()
        && rule.destination.is_none()
}

/// Where a packet of `protocol`/`port` arriving on the node meets a DROP or
/// REJECT before any ACCEPT in INPUT (iptables) or an input-hook chain (nft).
pub fn overlay_block(r: &HostReport, ov: &Overlay) -> Option<String> {
    let fw = r.firewall.as_ref()?;
    let proto_hits = |p: Option<&str>| -> bool {
        match (ov.protocol, p) {
            (_, None) => true,
            ("udp", Some(p)) => p == "udp" || p == "17",
            (_, Some(p)) => p == "4" || p == "ipencap" || p == "ipip",
        }
    };
    let port_hits = |ports: &[String]| -> bool {
        if ports.is_empty() || ov.port.is_none() {
            return true;
        }
        let Some(port) = ov.port else { return true };
        ports.iter().any(|p| {
            if p.starts_with('!') {
                return false;
            }
            match p.split_once(':') {
                Some((a, b)) => {
                    let a: u16 = a.parse().unwrap_or(0);
                    let b: u16 = b.parse().unwrap_or(u16::MAX);
                    (a..=b).contains(&port)
                }
                None => p.parse::<u16>().ok() == Some(port),
            }
        })
    };
    for b in fw.iptables.iter().filter(|b| b.error.is_none()) {
        let Some(filter) = b.tables.iter().find(|t| t.name == "filter") else {
            continue;
        };
        for chain in ["INPUT", "OUTPUT"] {
            for rule in reached_rules(filter, chain) {
                let simple = ports_only(rule);
                let hits = proto_hits(rule.protocol.as_deref())
                    && (rule.protocol.is_some() || rule.dports.is_empty())
                    && port_hits(&rule.dports);
                match rule.target.as_deref() {
                    Some("ACCEPT") if simple && hits && rule.protocol.is_some() => break,
                    Some("DROP") | Some("REJECT")
                        if simple
                            && hits
                            && (rule.protocol.is_some() || !rule.dports.is_empty()) =>
                    {
                        return Some(format!(
                            "iptables-{}-save, filter {chain}: {}",
                            b.backend, rule.raw
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    let nft = fw.nftables.as_ref().filter(|n| n.error.is_none())?;
    for t in &nft.tables {
        for c in t
            .chains
            .iter()
            .filter(|c| matches!(c.hook.as_deref(), Some("input" | "output" | "prerouting")))
        {
            for d in c.drops.iter().filter(|d| !d.other_matches) {
                let proto_ok = proto_hits(d.protocol.as_deref()) && d.protocol.is_some();
                let port_ok = match (ov.port, d.dport) {
                    (Some(p), Some(dp)) => p == dp,
                    (_, None) => ov.protocol != "udp",
                    (None, Some(_)) => false,
                };
                if proto_ok && port_ok {
                    return Some(format!(
                        "nft table {} {} chain {}: {} dport {} {}",
                        t.family,
                        t.name,
                        c.name,
                        d.protocol.as_deref().unwrap_or("?"),
                        d.dport.map(|p| p.to_string()).unwrap_or_default(),
                        d.verdict
                    ));
                }
            }
        }
    }
    None
}

/// The per-node view: CNI, kube-proxy rules, backend, overlay, MTUs, flagged values.
pub fn summarize(r: &HostReport) -> HostSummary {
    let mut s = HostSummary::default();
    if let Some(c) = &r.cni {
        s.cni = c
            .selected_file()
            .map(|f| format!("{} from {}", f.describe(), f.file));
        if c.selected.is_none() && c.conf_dir_error.is_none() {
            s.flagged
                .push(format!("no valid CNI config in {}", c.conf_dir));
        }
        if !c.missing_plugins.is_empty() {
            s.flagged.push(format!(
                "CNI plugins missing from {}: {}",
                c.bin_dir,
                c.missing_plugins.join(", ")
            ));
        }
        let valid = c.files.iter().filter(|f| f.is_valid()).count();
        if valid > 1 {
            s.flagged
                .push(format!("{valid} valid CNI configs in {}", c.conf_dir));
        }
    }
    if let Some(fw) = &r.firewall {
        s.kube_proxy_rules = kube_proxy_rules(fw);
        let with = backends_with_rules(fw);
        let readable = fw.iptables.iter().any(|b| b.error.is_none());
        if readable {
            s.iptables_backend = Some(match with.as_slice() {
                [] => "none".into(),
                [one] => one.to_string(),
                _ => "both".into(),
            });
        }
        if with.len() > 1 {
            let counts: Vec<String> = fw
                .iptables
                .iter()
                .filter(|b| b.rule_count > 0)
                .map(|b| format!("{} {} rules", b.backend, b.rule_count))
                .collect();
            s.flagged.push(format!(
                "rules in both iptables backends ({})",
                counts.join(", ")
            ));
        }
        for b in fw.iptables.iter().filter(|b| b.error.is_none()) {
            if let Some(c) = b
                .tables
                .iter()
                .find(|t| t.name == "filter")
                .and_then(|t| t.chain("FORWARD"))
                .filter(|c| c.policy.as_deref() == Some("DROP"))
            {
                s.flagged
                    .push(format!("filter {} policy DROP ({})", c.name, b.backend));
            }
        }
    }
    if let Some(sc) = &r.sysctls {
        if sc.ip_forward == Some(0) {
            s.flagged.push("net.ipv4.ip_forward = 0".into());
        }
        if sc.bridge_nf_call_iptables == Some(0) {
            s.flagged
                .push("net.bridge.bridge-nf-call-iptables = 0".into());
        }
        for i in pod_path_interfaces(r) {
            if sc.effective_rp_filter(&i) == Some(1) {
                s.flagged.push(format!("rp_filter strict (1) on {i}"));
            }
        }
    }
    if let Some(ct) = &r.conntrack {
        if ct.percent > 90.0 {
            s.flagged.push(format!(
                "conntrack {} of {} entries ({}%)",
                ct.count, ct.max, ct.percent
            ));
        }
    }
    if let Some(ov) = overlay(r) {
        s.overlay = Some(ov.describe());
    }
    for name in pod_path_interfaces(r) {
        if let Some(m) = r
            .interfaces
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| i.mtu)
        {
            s.mtus.insert(name, m);
        }
    }
    for i in r.interfaces.iter().filter(|i| i.hairpin == Some(false)) {
        s.flagged.push(format!(
            "hairpin off on bridge port {} ({})",
            i.name,
            i.master.as_deref().unwrap_or("?")
        ));
    }
    s
}
