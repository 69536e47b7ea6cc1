//! `route-missing`: on a routed flavour (host-gw, kindnet; whichever
//! flavour keeps a route per peer, [`crate::lab::flavours::Flavour::peer_route`]),
//! the last node loses its route to node-1's pods, as when the CNI's agent
//! missed a peer or someone flushed a route: pod traffic between those two
//! nodes dies both ways (requests one way, replies the other); each still
//! reaches the third node. On a dual-stack lab the route is IPv4's (the
//! family the cluster lists first: the finding is `IPv4 only`, IPv6 keeps
//! working), on an IPv6 lab IPv6's.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::lab::flavours::Flavour;
use crate::lab::plan::LabPlan;
use crate::model::FindingId;
use crate::runtime::{Result, RuntimeError};
use futures::future::BoxFuture;

pub struct RouteMissing;

impl Fault for RouteMissing {
    fn name(&self) -> &'static str {
        "route-missing"
    }
    fn description(&self) -> &'static str {
        "one node lost its route to another node's pods (routed flavours: host-gw, kindnet, calico's blocks)"
    }
    fn target(&self) -> &'static str {
        "the last node's route to node-1's pods"
    }
    fn expected(&self) -> FindingId {
        FindingId::PodRouteMissing
    }
    fn min_nodes(&self) -> usize {
        3
    }
    fn applies_to(&self, cni: &dyn Flavour) -> bool {
        LabPlan::new("00000", 2, 1).is_ok_and(|p| cni.peer_route(&p, 1, 0).is_some())
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let last = lab.last_node();
            let route = lab.cni.peer_route(&lab.plan, last, 0).ok_or_else(|| {
                RuntimeError::Other(format!(
                    "--cni {} keeps no route per peer: route-missing does not apply",
                    lab.cni.name()
                ))
            })?;
            lab.ip(&lab.plan.node_ns(last), &[format!("route del {route}")])
                .await
        })
    }
}
