//! `nodeport-down`: the last node's NodePort rules are gone while its
//! ClusterIP rules stay, as when kube-proxy's `--nodeport-addresses` leaves
//! the node's IP out, or something flushed its NodePort chain: the node's
//! IP at a nodePort answers no one (from its own pods and host, from other
//! nodes), while every ClusterIP still works. In iptables mode its nat
//! KUBE-NODEPORTS chain is flushed; in nftables mode its `service-nodeports`
//! map; in each family the lab has (ip6tables, `table ip6 kube-proxy`). It happens after that node's kube-proxy had synced the probe
//! Services (else its sync would put them back).

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct NodeportDown;

impl Fault for NodeportDown {
    fn name(&self) -> &'static str {
        "nodeport-down"
    }
    fn description(&self) -> &'static str {
        "one node's NodePort rules are gone, its ClusterIP rules stay (KUBE-NODEPORTS or the service-nodeports map flushed)"
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::NodeportUnreachable
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let last = lab.last_node();
            lab.services.wait_node(last).await?;
            let ns = lab.plan.node_ns(last);
            lab.kube_proxy
                .remove_node_ports()
                .apply(&lab.tools, &ns)
                .await
        })
    }
}
