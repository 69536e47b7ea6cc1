//! Faults that break IPv6 alone on the last node of an IPv6 or dual-stack
//! lab; IPv4 is untouched. They differ only in what they do to the node, so
//! they are one type and two constants.
//!
//! - `ipv6-forward-off`: net.ipv6.conf.all.forwarding = 0 (a `sysctl
//!   --system` with a file that sets only the IPv4 switch, or resets
//!   IPv6's). The node stops routing IPv6: its pods' IPv6 traffic to and
//!   from other nodes, its IPv6 Services' backends, the other nodes' IPv6
//!   node-to-pod checks toward it fail. The diagnosis must name
//!   `ip-forward-disabled` for IPv6 on that node.
//! - `ipv6-forward-drop`: ip6tables' FORWARD policy DROP with Docker's
//!   DOCKER-USER chain in front, as Docker 27 and later leave a node (they
//!   manage ip6tables by default), and flanneld's IPv6 accepts gone (as
//!   `forward-drop` does for IPv4), while iptables for IPv4 accepts. The
//!   node's pods lose IPv6 to and from other nodes. The diagnosis must read
//!   ip6tables and name `forward-policy-drop` for IPv6 on that node. Not on
//!   calico: Felix's cali-FORWARD accepts its pods' IPv6 whatever the policy.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::{Result, RuntimeError};
use futures::future::BoxFuture;

/// What the fault does to the node's namespace.
enum Break {
    /// Set these sysctls.
    Sysctls(&'static [(&'static str, &'static str)]),
    /// Load this into ip6tables (`ip6tables-restore --noflush`).
    Ip6tables(&'static str),
}

pub struct Ipv6Fault {
    name: &'static str,
    description: &'static str,
    expected: FindingId,
    action: Break,
    /// Flavours on which it breaks nothing by design.
    not_on: &'static [&'static str],
}

pub const FORWARD_OFF: Ipv6Fault = Ipv6Fault {
    name: "ipv6-forward-off",
    description: "net.ipv6.conf.all.forwarding = 0 on the node (IPv6 and dual-stack labs: --ip-family ipv6|dual)",
    expected: FindingId::IpForwardDisabled,
    action: Break::Sysctls(&[("net.ipv6.conf.all.forwarding", "0")]),
    not_on: &[],
};

pub const FORWARD_DROP: Ipv6Fault = Ipv6Fault {
    name: "ipv6-forward-drop",
    description: "ip6tables' FORWARD policy DROP on the node, as Docker 27+ sets it, and flannel's IPv6 accepts gone (IPv6 and dual-stack labs: --ip-family ipv6|dual)",
    expected: FindingId::ForwardPolicyDrop,
    action: Break::Ip6tables(
        "*filter\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\n\
         -I FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n",
    ),
    not_on: &["calico"],
};

impl Fault for Ipv6Fault {
    fn name(&self) -> &'static str {
        self.name
    }
    fn description(&self) -> &'static str {
        self.description
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        self.expected
    }
    fn min_nodes(&self) -> usize {
        2
    }
    fn needs_ipv6(&self) -> bool {
        true
    }
    fn applies_to(&self, cni: &dyn crate::lab::flavours::Flavour) -> bool {
        !self.not_on.contains(&cni.name())
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if !lab.plan.family.v6() {
                return Err(RuntimeError::Other(format!(
                    "{} needs an IPv6 lab: add --ip-family dual (or ipv6)",
                    self.name
                )));
            }
            let ns = lab.plan.node_ns(lab.last_node());
            match self.action {
                Break::Sysctls(values) => lab.sysctl(&ns, values).await,
                Break::Ip6tables(rules) => {
                    lab.exec(&ns, "ip6tables-restore", &["--noflush"], Some(rules.into()))
                        .await?;
                    // flanneld's IPv6 accepts, where the flavour has them.
                    let _ = lab
                        .exec(&ns, "ip6tables", &["-F", "FLANNEL-FWD"], None)
                        .await;
                    Ok(())
                }
            }
        })
    }
}
