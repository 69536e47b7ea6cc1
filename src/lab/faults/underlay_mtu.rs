//! `underlay-mtu`: the last node's port on the wire carries 1400 bytes while
//! the overlay assumes 1500: encapsulated frames above that vanish without an
//! ICMP "fragmentation needed", so pods see a path MTU of 1350 against an
//! interface MTU of 1450 (the classic cloud MTU blackhole). Small packets,
//! TCP handshakes and DNS still pass.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

/// The MTU the wire gives the last node.
pub const WIRE_MTU: u16 = 1400;

pub struct UnderlayMtu;

impl Fault for UnderlayMtu {
    fn name(&self) -> &'static str {
        "underlay-mtu"
    }
    fn description(&self) -> &'static str {
        "the wire carries 1400 bytes to one node: large overlay packets vanish silently"
    }
    fn target(&self) -> &'static str {
        "the last node's port on the wire"
    }
    fn expected(&self) -> FindingId {
        FindingId::MtuBlackhole
    }
    fn min_nodes(&self) -> usize {
        2
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let port = lab.plan.wire_port(lab.last_node());
            lab.ip(
                &lab.plan.wire_ns(),
                &[format!("link set dev {port} mtu {WIRE_MTU}")],
            )
            .await
        })
    }
}
