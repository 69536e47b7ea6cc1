//! pod-to-apiserver: a TCP connect from a pod address to `kubernetes.default`
//! (its ClusterIP of the same family), as every in-cluster client starts.

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Endpoint, Protocol};

pub(super) fn plan(cx: &Ctx<'_>, from: &SourceAddr<'_>, sp: &mut SourcePlan) {
    let Some(api) = &cx.d.apiserver else {
        return;
    };
    for vip in from.reachable(&api.service.cluster_ips) {
        let target = Endpoint {
            node: api.node.clone(),
            pod: None,
            ip: Some(vip),
            name: Some(format!("{}/{}", api.service.namespace, api.service.name)),
        };
        cx.push(
            sp,
            ProbeSpec::Tcp {
                target: vip,
                port: api.port,
                echo: false,
            },
            CheckTemplate::new(
                CheckKind::PodToApiserver,
                &from.endpoint,
                &target,
                Protocol::Tcp,
                Some(api.port),
            ),
        );
    }
}
