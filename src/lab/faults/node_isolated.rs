//! `node-isolated`: the last node's pods are cut from every other node the
//! flavour's way ([`crate::lab::flavours::Flavour::isolate`]; flannel: its
//! overlay device goes down, flannel dead on that node): its pods reach
//! nothing on other nodes and nothing reaches them, while its underlay
//! address still answers.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct NodeIsolated;

impl Fault for NodeIsolated {
    fn name(&self) -> &'static str {
        "node-isolated"
    }
    fn description(&self) -> &'static str {
        "one node's overlay is cut from every other node; its underlay stays up"
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::NodeIsolated
    }
    fn min_nodes(&self) -> usize {
        3
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { lab.cni.isolate(lab, lab.last_node()).await })
    }
}
