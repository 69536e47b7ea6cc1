//! `conntrack-full`: the last node's conntrack table filled to 95 % with real
//! unreplied UDP flows (as a scanner or a UDP flood does). nf_conntrack_max
//! is read-only inside a network namespace, so the table is filled rather
//! than shrunk; see [`crate::lab::host_faults`].

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct ConntrackFull;

impl Fault for ConntrackFull {
    fn name(&self) -> &'static str {
        "conntrack-full"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::ConntrackTableNearFull
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
