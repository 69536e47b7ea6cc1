//! `kube-proxy-down`: the last node's Service rules are gone, as when
//! kube-proxy is not running and its rules did not outlive it (the node
//! rebooted, or `kube-proxy --cleanup` ran): pods on that node reach pods by
//! IP but no ClusterIP. A dead kube-proxy leaves no family behind: in
//! iptables mode its nat KUBE-SERVICES chain is flushed in iptables and, on
//! an IPv6 or dual-stack lab, ip6tables; in nftables mode `table ip
//! kube-proxy` and `table ip6 kube-proxy` are deleted. It happens after that
//! node's kube-proxy had synced the probe Services (else its sync would put
//! them back).

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
        "one node's Service rules are gone in every family (KUBE-SERVICES flushed, or the kube-proxy tables deleted)"
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
