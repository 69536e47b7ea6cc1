//! `backend-mix`: kube-proxy's nat rules loaded on the last node through
//! iptables-legacy as well as iptables-nft, as when a component ships the
//! other backend's binary: two rule sets the kernel both runs.

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct BackendMix;

impl Fault for BackendMix {
    fn name(&self) -> &'static str {
        "backend-mix"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::IptablesBackendMix
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
