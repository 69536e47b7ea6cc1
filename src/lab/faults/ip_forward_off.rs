//! `ip-forward-off`: net.ipv4.ip_forward = 0 on the last node, as after a
//! reboot without the sysctl file: the node stops routing between its pod
//! bridge and the overlay, so its pods lose every other node.

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct IpForwardOff;

impl Fault for IpForwardOff {
    fn name(&self) -> &'static str {
        "ip-forward-off"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
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
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
