//! pod-to-service: TCP (with an echo) and UDP from a pod address to the
//! ClusterIP of every probe pod's own Service; to the pod's own Service
//! this is hairpin traffic, and says so.

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Endpoint, Protocol};
use crate::model::topology::ProbePod;

pub(super) fn plan(
    cx: &Ctx<'_>,
    from: &SourceAddr<'_>,
    _dst_index: usize,
    dst: &ProbePod,
    sp: &mut SourcePlan,
) {
    let Some(svc) = &dst.service else {
        return;
    };
    for vip in from.reachable(&svc.cluster_ips) {
        let target = Endpoint {
            node: Some(dst.node.clone()),
            pod: Some(dst.name.clone()),
            ip: Some(vip),
            name: Some(format!("{}/{}", svc.namespace, svc.name)),
        };
        let note = (dst.name == from.pod.name).then_some("hairpin");
        let tmpl = |protocol, port| CheckTemplate {
            note,
            ..CheckTemplate::new(
                CheckKind::PodToService,
                &from.endpoint,
                &target,
                protocol,
                port,
            )
        };
        cx.push(
            sp,
            ProbeSpec::Tcp {
                target: vip,
                port: dst.ports.tcp,
                echo: true,
            },
            tmpl(Protocol::Tcp, Some(dst.ports.tcp)),
        );
        cx.push(
            sp,
            ProbeSpec::Udp {
                target: vip,
                port: dst.ports.udp,
            },
            tmpl(Protocol::Udp, Some(dst.ports.udp)),
        );
    }
}
