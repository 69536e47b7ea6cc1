//! Findings and their stable IDs (DESIGN.md, "Finding IDs"). Scripts match on
//! the IDs: never rename one. Each has a page in docs/findings/<id>.md.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! finding_ids {
    ($($variant:ident => $id:literal),* $(,)?) => {
        /// Every finding the tool can emit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum FindingId {
            $(#[serde(rename = $id)] $variant,)*
        }
        impl FindingId {
            pub const ALL: &'static [FindingId] = &[$(FindingId::$variant,)*];
            pub fn as_str(self) -> &'static str {
                match self { $(FindingId::$variant => $id,)* }
            }
            pub fn parse(s: &str) -> Option<FindingId> {
                match s { $($id => Some(FindingId::$variant),)* _ => None }
            }
        }
    };
}

finding_ids! {
    PodNetworkDown => "pod-network-down",
    CrossNodePodTrafficBroken => "cross-node-pod-traffic-broken",
    NodeIsolated => "node-isolated",
    MtuBlackhole => "mtu-blackhole",
    ServiceVipUnreachable => "service-vip-unreachable",
    ServiceNoEndpoints => "service-no-endpoints",
    DnsUnreachable => "dns-unreachable",
    DnsVipBroken => "dns-vip-broken",
    DnsResolutionFailed => "dns-resolution-failed",
    DnsSlow => "dns-slow",
    NodeToPodBroken => "node-to-pod-broken",
    PodToApiserverBroken => "pod-to-apiserver-broken",
    UnexpectedAllow => "unexpected-allow",
    UnexpectedBlock => "unexpected-block",
    ForwardPolicyDrop => "forward-policy-drop",
    IpForwardDisabled => "ip-forward-disabled",
    BridgeNfCallDisabled => "bridge-nf-call-disabled",
    IptablesBackendMix => "iptables-backend-mix",
    KubeProxyRulesMissing => "kube-proxy-rules-missing",
    CniConfigMissing => "cni-config-missing",
    CniConfigConflict => "cni-config-conflict",
    CniPluginBinaryMissing => "cni-plugin-binary-missing",
    ConntrackTableNearFull => "conntrack-table-near-full",
    CniAgentNotReady => "cni-agent-not-ready",
    KubeProxyNotRunning => "kube-proxy-not-running",
    DnsPodsNotReady => "dns-pods-not-ready",
    PolicyBlocksDns => "policy-blocks-dns",
    NodeNotReady => "node-not-ready",
    HairpinBroken => "hairpin-broken",
    RpFilterStrict => "rp-filter-strict",
    PodCidrOverlap => "pod-cidr-overlap",
    OverlayPortBlocked => "overlay-port-blocked",
    OverlayPortMismatch => "overlay-port-mismatch",
    ProxyArpDisabled => "proxy-arp-disabled",
    PodRouteMissing => "pod-route-missing",
    ProbePodNotStarted => "probe-pod-not-started",
    ChecksNotRun => "checks-not-run",
    NodeportUnreachable => "nodeport-unreachable",
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    pub title: String,
    /// The nodes the finding is about (empty: cluster-wide).
    pub nodes: Vec<String>,
    /// Facts that prove it: failed cells, rules, file names, values.
    pub evidence: Vec<String>,
    /// What to do about it: a command or a change.
    pub remediation: String,
}
