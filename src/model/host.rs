//! What `agent inspect-host` reports about one node. Owned by the host
//! inspection stage (src/inspect/); everything optional is "not available: why".
//!
//! Sections that could not be read are `None` (or carry an `error`) and say
//! why in `unavailable`; a rule that needs a missing section stays silent
//! rather than guessing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostReport {
    pub node: String,
    /// Inspection sections that could not be read, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
    /// The one-line-per-node view (CNI, kube-proxy rules, backend, MTUs, flagged values).
    #[serde(default)]
    pub overview: HostSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<CniInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<Firewall>,
    /// kube-proxy's IPVS table (`ipvsadm -Ln`), read when the node has the
    /// kube-ipvs0 device (kube-proxy in IPVS mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<Ipvs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<Sysctls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<Conntrack>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// What a per-node host view shows, computed from the sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSummary {
    /// The config the container runtime uses: `cbr0 (bridge, portmap) from 10-bridge.conflist`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<String>,
    /// kube-proxy's chains (KUBE-SERVICES) or its nftables table exist (None: firewall unreadable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_proxy_rules: Option<bool>,
    /// Which iptables backend holds rules: `nft`, `legacy`, `both` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iptables_backend: Option<String>,
    /// The overlay device: `vxlan flannel.1 (VNI 1, udp/8472, dev eth0)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
    /// MTU per interface that carries pod traffic (pod bridge, overlay, underlay).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mtus: BTreeMap<String, u32>,
    /// Values worth a look: `net.ipv4.ip_forward = 0`, `filter FORWARD policy DROP (nft)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flagged: Vec<String>,
}

// ---------------------------------------------------------------- CNI

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniInfo {
    /// The config dir as seen on the node (`/etc/cni/net.d`).
    pub conf_dir: String,
    /// Where `conf_dir` came from, when not the default: the runtime's
    /// config (`conf_dir in /etc/containerd/config.toml (…)`) or the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conf_dir_source: Option<String>,
    /// The plugin dirs searched, as a search path (`/opt/cni/bin:/usr/libexec/cni`).
    pub bin_dir: String,
    /// The plugin dirs read, in search order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bin_dirs: Vec<String>,
    /// Where the plugin dirs came from: the runtime's own setting
    /// (`bin_dir in /etc/containerd/config.toml (…)`, `plugin_dirs in
    /// /etc/crio/crio.conf.d/…`), `--cni-bin-dir`, or the known places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin_dir_source: Option<String>,
    /// Every file in the conf dir, sorted as libcni sorts them.
    #[serde(default)]
    pub files: Vec<CniFile>,
    /// The file the runtime uses: the lexically first valid one (libcni).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<String>,
    /// Executables in the bin dir(s).
    #[serde(default)]
    pub binaries: Vec<String>,
    /// Plugins the selected config needs that are not in the bin dir.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_plugins: Vec<String>,
    /// The conf dir could not be read: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conf_dir_error: Option<String>,
    /// The bin dir could not be read: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin_dir_error: Option<String>,
}

impl CniInfo {
    pub fn selected_file(&self) -> Option<&CniFile> {
        let s = self.selected.as_deref()?;
        self.files.iter().find(|f| f.file == s)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniFile {
    /// File name inside the conf dir.
    pub file: String,
    /// Network name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni_version: Option<String>,
    /// The plugin chain (a `.conf` is a chain of one).
    #[serde(default)]
    pub plugins: Vec<CniPlugin>,
    /// Not used by libcni: `invalid: why` or `ignored: why`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CniFile {
    pub fn is_valid(&self) -> bool {
        self.error.is_none()
    }
    /// Plugin types in chain order, delegates included (`flannel`, `bridge`, `portmap`).
    pub fn types(&self) -> Vec<String> {
        let mut v = Vec::new();
        for p in &self.plugins {
            v.push(p.plugin_type.clone());
            if let Some(d) = &p.delegate {
                v.push(d.plugin_type.clone());
            }
        }
        v
    }
    /// The chain in a few words: `cbr0 (bridge, portmap)`.
    pub fn describe(&self) -> String {
        let mut types = Vec::new();
        for p in &self.plugins {
            match &p.delegate {
                Some(d) => types.push(format!("{} → {}", p.plugin_type, d.plugin_type)),
                None => types.push(p.plugin_type.clone()),
            }
        }
        format!(
            "{} ({})",
            self.name.as_deref().unwrap_or("unnamed"),
            types.join(", ")
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniPlugin {
    #[serde(rename = "type")]
    pub plugin_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// bridge plugin: the bridge device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hairpin_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<CniIpam>,
    /// flannel: the plugin it delegates to (bridge unless it says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<Box<CniPlugin>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniIpam {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ipam_type: Option<String>,
    /// Subnets and ranges as written (`198.18.0.0/24`, `usePodCidr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
}

// ---------------------------------------------------------------- firewall

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firewall {
    /// `legacy` and `nft`, each with its rules or why it could not be read.
    #[serde(default)]
    pub iptables: Vec<IptablesBackend>,
    /// The same for IPv6 (`ip6tables-legacy-save`, `ip6tables-nft-save`).
    /// Empty in reports from agents that did not read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip6tables: Vec<IptablesBackend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nftables: Option<NftRuleset>,
    /// Version mismatches and other caveats about what the tools reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl HostReport {
    /// Give back what deserializing left over: a vector read from JSON
    /// grows by doubling (an `IptRule` is ~300 bytes, a chain with one rule
    /// held room for four). The CLI holds every node's report for the whole
    /// run: at 5,000 simulated nodes a third of their memory was that slack.
    pub fn shrink_to_fit(&mut self) {
        if let Some(fw) = self.firewall.as_mut() {
            for b in fw.iptables.iter_mut().chain(fw.ip6tables.iter_mut()) {
                for t in &mut b.tables {
                    for c in &mut t.chains {
                        c.rules.shrink_to_fit();
                    }
                    t.chains.shrink_to_fit();
                    t.folded.shrink_to_fit();
                }
                b.tables.shrink_to_fit();
            }
            if let Some(nft) = fw.nftables.as_mut() {
                for t in &mut nft.tables {
                    t.chains.shrink_to_fit();
                    t.folded.shrink_to_fit();
                }
                nft.tables.shrink_to_fit();
            }
        }
        self.interfaces.shrink_to_fit();
        self.routes.shrink_to_fit();
        self.unavailable.shrink_to_fit();
    }
}

impl Firewall {
    /// The firewall one IP family's packets meet: for IPv6, ip6tables in the
    /// place of iptables (when they were read) and the nftables tables of
    /// families other than `ip`; for IPv4, those other than `ip6`. The rules
    /// that read iptables then judge each family on its own tables.
    pub fn for_family(&self, family: crate::model::Family) -> Firewall {
        let v6 = family == crate::model::Family::Ipv6;
        let mut fw = self.clone();
        if v6 && !fw.ip6tables.is_empty() {
            fw.iptables = std::mem::take(&mut fw.ip6tables);
        }
        let other = if v6 { "ip" } else { "ip6" };
        if let Some(nft) = fw.nftables.as_mut() {
            nft.tables.retain(|t| t.family != other);
        }
        fw
    }

    pub fn backend(&self, name: &str) -> Option<&IptablesBackend> {
        self.iptables
            .iter()
            .find(|b| b.backend == name && b.error.is_none())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IptablesBackend {
    /// `legacy` or `nft`.
    pub backend: String,
    /// The command that produced the rules (`iptables-nft-save`, `chroot /host iptables-nft-save`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// From the `# Generated by iptables-save v1.8.9 (nf_tables)` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Rules (`-A` lines) in every table.
    pub rule_count: usize,
    #[serde(default)]
    pub tables: Vec<IptTable>,
    /// `not available: why`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IptTable {
    pub name: String,
    #[serde(default)]
    pub chains: Vec<IptChain>,
    /// kube-proxy's per-Service and per-endpoint chains (`KUBE-SVC-…`,
    /// `KUBE-SEP-…`), counted by prefix instead of listed: thousands on a
    /// real cluster, and no question reads them ([`crate::inspect::slim`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<FoldedChains>,
}

/// Chains of one kind counted, not listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoldedChains {
    /// What their names start with: `KUBE-SEP-`, `service-`.
    pub prefix: String,
    pub chains: usize,
    pub rules: usize,
}

/// Add `chains` chains holding `rules` rules to the `prefix` group.
pub fn fold_into(groups: &mut Vec<FoldedChains>, prefix: &str, chains: usize, rules: usize) {
    match groups.iter_mut().find(|g| g.prefix == prefix) {
        Some(g) => {
            g.chains += chains;
            g.rules += rules;
        }
        None => groups.push(FoldedChains {
            prefix: prefix.to_string(),
            chains,
            rules,
        }),
    }
}

impl IptTable {
    /// Rules in the table: every chain's, folded ones too.
    pub fn rules_total(&self) -> usize {
        self.chains.iter().map(IptChain::rules_total).sum::<usize>()
            + self.folded.iter().map(|g| g.rules).sum::<usize>()
    }
    pub fn chain(&self, name: &str) -> Option<&IptChain> {
        self.chains.iter().find(|c| c.name == name)
    }
    pub fn chain_mut(&mut self, name: &str) -> Option<&mut IptChain> {
        self.chains.iter_mut().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IptChain {
    pub name: String,
    /// Built-in chains: ACCEPT or DROP; user chains: None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Rules in the chain, also those not kept in `rules` (0 in reports
    /// that kept every rule: then `rules` is all of them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rule_count: usize,
    /// The rules some question reads (every rule in older reports):
    /// [`crate::inspect::slim`] says which.
    #[serde(default)]
    pub rules: Vec<IptRule>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl IptChain {
    /// How many rules the chain has, kept or only counted.
    pub fn rules_total(&self) -> usize {
        self.rule_count.max(self.rules.len())
    }
    /// Add a rule at `at`, counted.
    pub fn insert_rule(&mut self, at: usize, rule: IptRule) {
        self.rule_count = self.rules_total() + 1;
        self.rules.insert(at.min(self.rules.len()), rule);
    }
    /// Flush the chain (`iptables -F`).
    pub fn clear_rules(&mut self) {
        self.rules.clear();
        self.rule_count = 0;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IptRule {
    /// The line as iptables-save printed it.
    pub raw: String,
    /// `tcp`, `udp`, `4`, … with a leading `!` when negated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_interface: Option<String>,
    /// `--dport`/`--dports` values (`53`, `30000:32767`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sports: Vec<String>,
    /// `-m` modules used (conntrack, comment, mark, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    /// `-j`/`-g` target; None for a rule that only counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `-g` (goto) instead of `-j`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub goto: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NftRuleset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// nft's version from the metainfo object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub tables: Vec<NftTable>,
    /// `not available: why`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NftTable {
    pub family: String,
    pub name: String,
    #[serde(default)]
    pub chains: Vec<NftChain>,
    pub rule_count: usize,
    /// kube-proxy's per-Service and per-endpoint chains (`service-…`,
    /// `endpoint-…` in `table ip kube-proxy`), counted instead of listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<FoldedChains>,
    /// A table iptables-nft made and `iptables-nft-save` already read
    /// (`iptables-nft-save`): listed by name only, its rules are in
    /// `firewall.iptables` (or `ip6tables`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_by: Option<String>,
    /// Its named sets and maps and how many elements each holds (kube-proxy's
    /// `service-ips`, `service-nodeports`, `nodeport-ips`: where nftables
    /// mode keeps its Services, which no rule names one by one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<NftSetSize>,
}

/// A named nftables set or map, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NftSetSize {
    pub name: String,
    /// `set` or `map`.
    pub kind: String,
    pub elements: usize,
}

impl NftTable {
    /// The element count of its set or map `name`, when it has one.
    pub fn set_size(&self, name: &str) -> Option<usize> {
        self.sets
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.elements)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NftChain {
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub chain_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub rule_count: usize,
    /// Rules that drop or reject UDP to a destination port: `udp dport 8472 drop`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drops: Vec<NftDrop>,
}

/// A rule that drops traffic by protocol/port, as far as the JSON says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NftDrop {
    /// `udp`, `tcp`, or an IP protocol number/name for `meta l4proto`/`ip protocol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// The rule has other matches this summary does not model.
    #[serde(default)]
    pub other_matches: bool,
    pub verdict: String,
}

// ---------------------------------------------------------------- sysctls

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sysctls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_forward: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_forwarding: Option<u32>,
    /// None: the key is absent, br_netfilter is not loaded (bridged traffic skips iptables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_nf_call_iptables: Option<u32>,
    /// The same for IPv6 (`net.bridge.bridge-nf-call-ip6tables`): bridged
    /// IPv6 traffic goes through ip6tables only when it is 1. None: absent,
    /// or not read (reports from before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_nf_call_ip6tables: Option<u32>,
    /// rp_filter per conf entry: `all`, `default` and each interface.
    #[serde(default)]
    pub rp_filter: BTreeMap<String, u32>,
    /// proxy_arp of Calico's pod interfaces (`cali…`), and `all` when there
    /// are any: the pods' gateway (169.254.1.1) is answered by proxy ARP.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_arp: BTreeMap<String, u32>,
}

impl Sysctls {
    /// The rp_filter the kernel applies on `iface`: max(all, iface).
    pub fn effective_rp_filter(&self, iface: &str) -> Option<u32> {
        let all = self.rp_filter.get("all").copied();
        let own = self.rp_filter.get(iface).copied();
        match (all, own) {
            (Some(a), Some(o)) => Some(a.max(o)),
            (a, o) => a.or(o),
        }
    }

    /// Whether the kernel answers ARP by proxy on `iface`: all OR iface
    /// (None when neither was read).
    pub fn effective_proxy_arp(&self, iface: &str) -> Option<bool> {
        let all = self.proxy_arp.get("all").copied();
        let own = self.proxy_arp.get(iface).copied();
        match (all, own) {
            (None, None) => None,
            (a, o) => Some(a.unwrap_or(0) != 0 || o.unwrap_or(0) != 0),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conntrack {
    pub count: u64,
    pub max: u64,
    /// count / max × 100, one decimal.
    pub percent: f64,
}

// ---------------------------------------------------------------- IPVS

/// The IPVS table as `ipvsadm -Ln` prints it: each virtual service (a
/// Service's ClusterIP, NodePort or external IP and port) with its real
/// servers (the endpoints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ipvs {
    /// `1.2.1` from `IP Virtual Server version 1.2.1 (size=4096)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Virtual services in the table, also those not kept in `services`
    /// (0 in reports that kept them all).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub service_count: usize,
    /// The virtual services on port 53 (the cluster DNS Service's, which
    /// `kube-proxy-rules-missing` looks for; every one in older reports).
    #[serde(default)]
    pub services: Vec<IpvsService>,
    /// Why the table could not be read (`not available: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Ipvs {
    /// How many virtual services the table has, kept or only counted.
    pub fn services_total(&self) -> usize {
        self.service_count.max(self.services.len())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpvsService {
    /// `TCP`, `UDP`, `SCTP` or `FWM` (firewall mark).
    pub protocol: String,
    /// `198.19.0.10:53`, `[2001:2::a]:53`, or the mark for `FWM`.
    pub address: String,
    /// `rr`, `lc`, `sh`, …
    pub scheduler: String,
    /// What follows the scheduler: `persistent 10800`, `ops`, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default)]
    pub real_servers: Vec<IpvsRealServer>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpvsRealServer {
    pub address: String,
    /// `Masq` (NAT, what kube-proxy uses), `Route`, `Tunnel`, `Local`.
    pub forward: String,
    pub weight: i64,
    pub active_conn: u64,
    pub inactive_conn: u64,
}

// ---------------------------------------------------------------- interfaces

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    pub name: String,
    /// bridge, vxlan, veth, geneve, wireguard, ipip, dummy, … (None: a plain device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// operstate: UP, DOWN, UNKNOWN, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// CIDR notation (`198.18.0.1/24`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// The bridge this device is a port of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// Bridge ports: the hairpin flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hairpin: Option<bool>,
    /// Tunnels: VNI/port/underlay device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tunnel {
    /// VXLAN VNI / Geneve VNI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// UDP destination port (VXLAN, Geneve, WireGuard listen port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The underlay device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// `default` or a CIDR.
    pub dst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}
