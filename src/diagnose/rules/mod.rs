//! The diagnosis rules, one file per finding (the DNS family shares one).
//! Add a rule: write the file, list it in `all()`.

use super::Rule;

mod cross_node;
mod dns;
mod mtu_blackhole;
mod node_isolated;
mod node_to_pod;
mod pod_network_down;
mod pod_to_apiserver;
mod policy_blocks_dns;
mod service_vip;
mod unexpected_allow;
mod unexpected_block;

/// Every rule; `diagnose` sorts them by rank.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &pod_network_down::PodNetworkDown,
        &node_isolated::NodeIsolated,
        &cross_node::CrossNode,
        &mtu_blackhole::MtuBlackhole,
        &service_vip::ServiceVip,
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
