//! `kube-proxy-down`: the last node's Service rules are gone, as when
//! kube-proxy died and something flushed its rules: pods on that node reach
//! pods by IP but no ClusterIP. In iptables mode its nat KUBE-SERVICES chain
//! is flushed; in nftables mode its `table ip kube-proxy` is deleted. It
//! happens after that node's kube-proxy had synced the probe Services (else
//! its sync would put them back).

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct KubeProxyDown;

impl Fault for KubeProxyDown {
    fn name(&self) -> &'static str {
        "kube-proxy-down"
    }
    fn description(&self) -> &'static str {
        "one node's Service rules are gone (KUBE-SERVICES flushed, or table ip kube-proxy deleted)"
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        FindingId::ServiceVipUnreachable
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let last = lab.last_node();
            lab.services.wait_node(last).await?;
            let ns = lab.plan.node_ns(last);
            lab.kube_proxy
                .remove_services()
                .apply(&lab.tools, &ns)
                .await
        })
    }
}
