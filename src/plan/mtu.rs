//! mtu: the path MTU between two nodes, measured once per ordered node pair
//! and family: from the first pod of the source's node to the first pod of
//! the target's node (an ICMP echo sweep with DF set, in the agent, up to
//! the MTU of the source pod's own interface, which the agent reads).

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Protocol};
use crate::model::topology::ProbePod;

pub(super) fn plan(
    cx: &Ctx<'_>,
    from: &SourceAddr<'_>,
    dst_index: usize,
    dst: &ProbePod,
    sp: &mut SourcePlan,
) {
    if dst.node == from.pod.node
        || !cx.mtu_pair(from.index, dst_index, &dst.node, from.ip.is_ipv6())
    {
        return;
    }
    let Some(dip) = from.reachable(&dst.ips).next() else {
        return;
    };
    let target = super::context::pod_endpoint(dst, dip);
    // No `max`: the largest size is the MTU of the source pod's own interface
    // toward the target, which only the agent inside the pod knows for sure
    // (the CNI's setting, an overlay's 1450, a route's MTU). It reports it,
    // and that becomes the check's `configuredMtu`.
    cx.push(
        sp,
        ProbeSpec::Mtu {
            target: dip,
            min: cx.opts.mtu_floor,
            max: None,
        },
        CheckTemplate::new(
            CheckKind::Mtu,
            &from.endpoint,
            &target,
            Protocol::Icmp,
            None,
        ),
    );
}
