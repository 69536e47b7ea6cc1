//! `rp-filter-strict`: net.ipv4.conf.all.rp_filter = 1 (strict) on the last
//! node, as a hardening baseline sets it. Symmetric lab traffic still
//! passes, so the finding is a warning: it breaks asymmetric paths.

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::model::{FindingId, Severity};
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct RpFilterStrict;

impl Fault for RpFilterStrict {
    fn name(&self) -> &'static str {
        "rp-filter-strict"
    }
    fn description(&self) -> &'static str {
        host_description(self.name())
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::RpFilterStrict
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name())
    }
}
