//! The diagnosis rules, one file per finding (the DNS family shares one).
//! Add a rule: write the file, list it in `all()`.

use super::Rule;

// Host roots (ranks 10–19): one file per finding, shared pieces in `host`.
mod bridge_nf_call_disabled;
mod cni_config_conflict;
mod cni_config_missing;
mod cni_plugin_binary_missing;
mod conntrack_table_near_full;
mod forward_policy_drop;
mod hairpin_broken;
pub mod host;
mod ip_forward_disabled;
mod iptables_backend_mix;
mod kube_proxy_rules_missing;
mod overlay_port_blocked;
mod overlay_port_mismatch;
mod pod_cidr_overlap;
mod pod_route_missing;
mod proxy_arp_disabled;
mod rp_filter_strict;

mod checks_not_run;
mod cross_node;
mod dns;
mod mtu_blackhole;
mod node_isolated;
mod node_to_pod;
mod nodeport_unreachable;
mod pod_network_down;
mod pod_to_apiserver;
mod policy_blocks_dns;
mod service_vip;
mod unexpected_allow;
mod unexpected_block;

/// Every rule; `diagnose` sorts them by rank.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &checks_not_run::ChecksNotRun,
        &cni_config_missing::CniConfigMissing,
        &cni_plugin_binary_missing::CniPluginBinaryMissing,
        &cni_config_conflict::CniConfigConflict,
        &pod_cidr_overlap::PodCidrOverlap,
        &ip_forward_disabled::IpForwardDisabled,
        &proxy_arp_disabled::ProxyArpDisabled,
        &forward_policy_drop::ForwardPolicyDrop,
        &overlay_port_blocked::OverlayPortBlocked,
        &overlay_port_mismatch::OverlayPortMismatch,
        &pod_route_missing::PodRouteMissing,
        &kube_proxy_rules_missing::KubeProxyRulesMissing,
        &iptables_backend_mix::IptablesBackendMix,
        &bridge_nf_call_disabled::BridgeNfCallDisabled,
        &conntrack_table_near_full::ConntrackTableNearFull,
        &hairpin_broken::HairpinBroken,
        &rp_filter_strict::RpFilterStrict,
        &pod_network_down::PodNetworkDown,
        &node_isolated::NodeIsolated,
        &cross_node::CrossNode,
        &mtu_blackhole::MtuBlackhole,
        &service_vip::ServiceVip,
        &nodeport_unreachable::NodeportUnreachable,
        &node_to_pod::NodeToPod,
        &pod_to_apiserver::PodToApiserver,
        &dns::DnsUnreachable,
        &dns::DnsVipBroken,
        &dns::DnsResolutionFailed,
        &dns::DnsSlow,
        &policy_blocks_dns::PolicyBlocksDns,
        &unexpected_allow::UnexpectedAllow,
        &unexpected_block::UnexpectedBlock,
    ]
}
