//! `vxlan-port-mismatch` (calico): the last node's `vxlan.calico` (and on
//! an IPv6 lab `vxlan-v6.calico`: Felix has one VXLAN port) is made again
//! on UDP 4790 while every other node's stays on 4789 (a VXLAN port
//! change only that node's calico-node picked up). It sends where nobody
//! listens and listens where nobody sends: pod traffic between it and every
//! other node dies; the underlay, and with it the nodes' own traffic, works.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::lab::flavours::{Flavour, calico};
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

/// The port the odd node's device gets.
pub const ODD_PORT: u16 = 4790;

pub struct VxlanPortMismatch;

impl Fault for VxlanPortMismatch {
    fn name(&self) -> &'static str {
        "vxlan-port-mismatch"
    }
    fn description(&self) -> &'static str {
        "one node's vxlan.calico on UDP 4790, the others' on 4789: its pods lose every other node"
    }
    fn target(&self) -> &'static str {
        "the last node's vxlan.calico"
    }
    fn expected(&self) -> FindingId {
        FindingId::OverlayPortMismatch
    }
    fn min_nodes(&self) -> usize {
        // Two nodes disagree without a majority: both are named.
        3
    }
    fn applies_to(&self, cni: &dyn Flavour) -> bool {
        cni.name() == calico::Calico.name()
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (p, i) = (&lab.plan, lab.last_node());
            let ns = p.node_ns(i);
            // Felix's one VXLAN port is both devices' (vxlan-v6.calico too).
            let mut lines: Vec<String> = calico::devices(p)
                .iter()
                .map(|d| format!("link del {d}"))
                .collect();
            lines.extend(calico::vxlan_lines(p, i, ODD_PORT));
            lab.ip(&ns, &lines).await?;
            lab.bridge(&ns, &calico::fdb_lines(p, i)).await
        })
    }
}
