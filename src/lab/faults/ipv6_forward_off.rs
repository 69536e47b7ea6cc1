//! `ipv6-forward-off`: net.ipv6.conf.all.forwarding = 0 on the last node of
//! an IPv6 or dual-stack lab (a `sysctl --system` with a file that sets only
//! the IPv4 switch, or resets IPv6's). The node stops routing IPv6: its pods'
//! IPv6 traffic to and from other nodes, its IPv6 Services' backends, the
//! other nodes' IPv6 node-to-pod checks toward it fail; IPv4 is untouched.
//! The diagnosis must name `ip-forward-disabled` for IPv6 on that node.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::{Result, RuntimeError};
use futures::future::BoxFuture;

pub struct Ipv6ForwardOff;

impl Fault for Ipv6ForwardOff {
    fn name(&self) -> &'static str {
        "ipv6-forward-off"
    }
    fn description(&self) -> &'static str {
        "net.ipv6.conf.all.forwarding = 0 on the node (IPv6 and dual-stack labs: --ip-family ipv6|dual)"
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::IpForwardDisabled
    }
    fn min_nodes(&self) -> usize {
        2
    }
    fn needs_ipv6(&self) -> bool {
        true
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if !lab.plan.family.v6() {
                return Err(RuntimeError::Other(
                    "ipv6-forward-off needs an IPv6 lab: add --ip-family dual (or ipv6)".into(),
                ));
            }
            let ns = lab.plan.node_ns(lab.last_node());
            lab.sysctl(&ns, &[("net.ipv6.conf.all.forwarding", "0")])
                .await
        })
    }
}
