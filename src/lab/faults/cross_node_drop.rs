//! `cross-node-drop`: pod traffic between node-1 and node-2 vanishes both
//! ways, the way the flavour loses a peer ([`crate::lab::flavours::Flavour::cut_pair`];
//! flannel: the VXLAN FDB and neighbour entries, as when flannel drops a
//! peer lease): the two nodes still see each other on the underlay, every
//! other pair works.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct CrossNodeDrop;

impl Fault for CrossNodeDrop {
    fn name(&self) -> &'static str {
        "cross-node-drop"
    }
    fn description(&self) -> &'static str {
        "overlay traffic between one node pair is lost (flannel forgot the peers)"
    }
    fn target(&self) -> &'static str {
        "node-1 <-> node-2"
    }
    fn expected(&self) -> FindingId {
        FindingId::CrossNodePodTrafficBroken
    }
    fn min_nodes(&self) -> usize {
        2
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { lab.cni.cut_pair(lab, 0, 1).await })
    }
}
