//! `hairpin-off`: hairpin mode off on every pod port of the last node's
//! bridge, as with a CNI bridge config without `hairpinMode`: a pod calling
//! its own Service and landing on itself gets no answer.

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct HairpinOff;

impl Fault for HairpinOff {
    fn name(&self) -> &'static str {
        "hairpin-off"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::HairpinBroken
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
