//! `cni-conflict`: an old Calico conflist (and its binaries) left in the last
//! node's CNI dir, named so it sorts before flannel's: the container runtime
//! would wire new pods with Calico. Running pods keep working.

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct CniConflict;

impl Fault for CniConflict {
    fn name(&self) -> &'static str {
        "cni-conflict"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::CniConfigConflict
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
