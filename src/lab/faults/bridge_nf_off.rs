//! `bridge-nf-off`: net.bridge.bridge-nf-call-iptables = 0 on the last node,
//! as when br_netfilter's setting is lost: bridged pod traffic skips
//! iptables, so replies from a Service on the same node bypass kube-proxy's
//! NAT.

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct BridgeNfOff;

impl Fault for BridgeNfOff {
    fn name(&self) -> &'static str {
        "bridge-nf-off"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::BridgeNfCallDisabled
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
