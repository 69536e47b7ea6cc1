//! `ipv6-forward-drop`: ip6tables' FORWARD policy is DROP on the last node of
//! an IPv6 or dual-stack lab, with Docker's DOCKER-USER chain in front, as
//! Docker 27 and later leave a node (they manage ip6tables by default and set
//! its FORWARD policy to DROP), while iptables for IPv4 accepts. The node
//! stops forwarding IPv6 for its pods: their IPv6 traffic to and from other
//! nodes dies there; IPv4 is untouched. The diagnosis must read ip6tables and
//! name `forward-policy-drop` for IPv6 on that node.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::{Result, RuntimeError};
use futures::future::BoxFuture;

pub struct Ipv6ForwardDrop;

impl Fault for Ipv6ForwardDrop {
    fn name(&self) -> &'static str {
        "ipv6-forward-drop"
    }
    fn description(&self) -> &'static str {
        "ip6tables' FORWARD policy DROP on the node, as Docker 27+ sets it (IPv6 and dual-stack labs: --ip-family ipv6|dual)"
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::ForwardPolicyDrop
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
                    "ipv6-forward-drop needs an IPv6 lab: add --ip-family dual (or ipv6)".into(),
                ));
            }
            let ns = lab.plan.node_ns(lab.last_node());
            lab.exec(
                &ns,
                "ip6tables-restore",
                &["--noflush"],
                Some(
                    "*filter\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\n\
                     -I FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n"
                        .into(),
                ),
            )
            .await
            .map(drop)
        })
    }
}
