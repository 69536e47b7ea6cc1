//! nodeport: TCP (with an echo) to every paired node's IP at the NodePort
//! of that node's probe Service (the first probe pod on the node whose
//! Service has a nodePort; `externalTrafficPolicy: Cluster`), from each pod
//! address and from each node's host agent, address families matched.
//!
//! The backend is on the node dialled, so a NodePort that fails while the
//! same Service's ClusterIP answers is that node's NodePort rules, not the
//! backend. From a pod the packet reaches another node over the pod
//! network (kube-proxy's PREROUTING there), from a host agent over the
//! wire; to the source's own node it is local (PREROUTING from a pod, OUTPUT
//! from the host agent).

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Endpoint, Protocol};
use crate::model::topology::{HostAgent, ProbePod, ServiceTarget};
use std::net::IpAddr;

/// The probe pod on `node` whose Service has a nodePort, and that port.
fn nodeport_on<'a>(cx: &Ctx<'a>, node: &str) -> Option<(&'a ProbePod, &'a ServiceTarget, u16)> {
    cx.pods_on(node).into_iter().find_map(|j| {
        let p = &cx.d.pods[j];
        let svc = p.service.as_ref()?;
        Some((p, svc, svc.node_port?))
    })
}

/// Plan one source endpoint (`from_node`, address `from_ip`) to every paired
/// node's NodePort.
fn plan_from(
    cx: &Ctx<'_>,
    source: &Endpoint,
    from_node: &str,
    from_ip: IpAddr,
    sp: &mut SourcePlan,
) {
    for h in cx
        .hosts_reached(from_node)
        .into_iter()
        .map(|i| &cx.d.hosts[i])
    {
        let Some((backend, svc, node_port)) = nodeport_on(cx, &h.node) else {
            continue;
        };
        for &hip in h.ips.iter().filter(|ip| ip.is_ipv6() == from_ip.is_ipv6()) {
            let target = Endpoint {
                node: Some(h.node.clone()),
                pod: Some(backend.name.clone()),
                ip: Some(hip),
                name: Some(format!("{}/{}", svc.namespace, svc.name)),
            };
            cx.push(
                sp,
                ProbeSpec::Tcp {
                    target: hip,
                    port: node_port,
                    echo: true,
                },
                CheckTemplate {
                    // DNATed back to the pod that sent it.
                    note: (source.pod == target.pod).then_some("hairpin"),
                    ..CheckTemplate::new(
                        CheckKind::Nodeport,
                        source,
                        &target,
                        Protocol::Tcp,
                        Some(node_port),
                    )
                },
            );
        }
    }
}

pub(super) fn plan_pod(cx: &Ctx<'_>, from: &SourceAddr<'_>, sp: &mut SourcePlan) {
    plan_from(cx, &from.endpoint, &from.pod.node, from.ip, sp);
}

pub(super) fn plan_host(cx: &Ctx<'_>, h: &HostAgent, sp: &mut SourcePlan) {
    for &hip in &h.ips {
        let source = Endpoint {
            node: Some(h.node.clone()),
            pod: None,
            ip: Some(hip),
            name: None,
        };
        plan_from(cx, &source, &h.node, hip, sp);
    }
}
