//! pod-to-node: ICMP, and TCP where the host agent serves it, from a pod
//! address to every paired node's host-network address of the same family.

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Endpoint, Protocol};

pub(super) fn plan(cx: &Ctx<'_>, from: &SourceAddr<'_>, sp: &mut SourcePlan) {
    for h in cx
        .hosts_reached(&from.pod.node)
        .into_iter()
        .map(|i| &cx.d.hosts[i])
    {
        for hip in from.reachable(&h.ips) {
            let target = Endpoint {
                node: Some(h.node.clone()),
                pod: None,
                ip: Some(hip),
                name: None,
            };
            let tmpl = |protocol, port| {
                CheckTemplate::new(
                    CheckKind::PodToNode,
                    &from.endpoint,
                    &target,
                    protocol,
                    port,
                )
            };
            cx.push(
                sp,
                ProbeSpec::Icmp { target: hip },
                tmpl(Protocol::Icmp, None),
            );
            if let Some(port) = h.tcp_port {
                cx.push(
                    sp,
                    ProbeSpec::Tcp {
                        target: hip,
                        port,
                        echo: false,
                    },
                    tmpl(Protocol::Tcp, Some(port)),
                );
            }
        }
    }
}
