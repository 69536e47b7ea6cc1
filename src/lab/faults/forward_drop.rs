//! `forward-drop`: the last node's FORWARD policy becomes DROP and flannel's
//! accepts are flushed, as when Docker starts on a node and sets
//! `iptables -P FORWARD DROP`: pods on that node still talk to each other
//! (bridged), every routed packet into or out of the node is dropped.

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct ForwardDrop;

impl Fault for ForwardDrop {
    fn name(&self) -> &'static str {
        "forward-drop"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
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
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
