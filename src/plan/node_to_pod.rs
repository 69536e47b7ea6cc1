//! node-to-pod: ICMP and TCP (with an echo) from a node's host-network agent,
//! at each of its addresses, to every paired pod's address of the same family.

use super::{CheckTemplate, Ctx, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Endpoint, Protocol};
use crate::model::topology::HostAgent;

pub(super) fn plan(cx: &Ctx<'_>, h: &HostAgent, sp: &mut SourcePlan) {
    for &hip in &h.ips {
        let source = Endpoint {
            node: Some(h.node.clone()),
            pod: None,
            ip: Some(hip),
            name: None,
        };
        for dst in cx.pods_reached(&h.node).into_iter().map(|j| &cx.d.pods[j]) {
            for &dip in dst.ips.iter().filter(|ip| ip.is_ipv6() == hip.is_ipv6()) {
                let target = super::context::pod_endpoint(dst, dip);
                let tmpl = |protocol, port| {
                    CheckTemplate::new(CheckKind::NodeToPod, &source, &target, protocol, port)
                };
                cx.push(
                    sp,
                    ProbeSpec::Icmp { target: dip },
                    tmpl(Protocol::Icmp, None),
                );
                cx.push(
                    sp,
                    ProbeSpec::Tcp {
                        target: dip,
                        port: dst.ports.tcp,
                        echo: true,
                    },
                    tmpl(Protocol::Tcp, Some(dst.ports.tcp)),
                );
            }
        }
    }
}
