//! pod-to-pod: ICMP, TCP (with an echo), UDP and HTTP from a pod address to
//! every other pod's address of the same family.

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Protocol};
use crate::model::topology::ProbePod;

pub(super) fn plan(
    cx: &Ctx<'_>,
    from: &SourceAddr<'_>,
    _dst_index: usize,
    dst: &ProbePod,
    sp: &mut SourcePlan,
) {
    if dst.name == from.pod.name {
        return;
    }
    let p = dst.ports;
    for dip in from.reachable(&dst.ips) {
        let target = super::context::pod_endpoint(dst, dip);
        let tmpl = |protocol, port| {
            CheckTemplate::new(CheckKind::PodToPod, &from.endpoint, &target, protocol, port)
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
                port: p.tcp,
                echo: true,
            },
            tmpl(Protocol::Tcp, Some(p.tcp)),
        );
        cx.push(
            sp,
            ProbeSpec::Udp {
                target: dip,
                port: p.udp,
            },
            tmpl(Protocol::Udp, Some(p.udp)),
        );
        cx.push(
            sp,
            ProbeSpec::Http {
                target: dip,
                port: p.http,
                path: "/".into(),
            },
            tmpl(Protocol::Http, Some(p.http)),
        );
    }
}
