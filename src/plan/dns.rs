//! dns: from a pod address, every name through the DNS Service with the
//! pod's own resolv.conf (search path and ndots, like an application), then
//! the first fully qualified name straight to each DNS server.

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::ProbeSpec;
use crate::model::report::{CheckKind, Endpoint, Protocol};
use crate::model::topology::DnsTarget;

pub(super) fn plan(cx: &Ctx<'_>, from: &SourceAddr<'_>, sp: &mut SourcePlan) {
    let Some(dns) = &cx.d.dns else {
        return;
    };
    if dns.service.ip.is_ipv6() == from.ip.is_ipv6() {
        via_service(cx, from, dns, sp);
    }
    direct(cx, from, dns, sp);
}

/// Every name through the Service. The target names the server's node when
/// only one server can answer.
fn via_service(cx: &Ctx<'_>, from: &SourceAddr<'_>, dns: &DnsTarget, sp: &mut SourcePlan) {
    let svc_node = (dns.servers.len() == 1)
        .then(|| dns.servers[0].node.clone())
        .flatten();
    for n in &dns.names {
        let target = Endpoint {
            node: svc_node.clone(),
            pod: None,
            ip: Some(dns.service.ip),
            name: Some(n.name.clone()),
        };
        cx.push_dns(
            sp,
            ProbeSpec::Dns {
                name: n.name.clone(),
                server: None,
                port: None,
            },
            CheckTemplate {
                expect: n.expect.clone(),
                note: Some(if n.via_search {
                    "via the DNS Service, search path"
                } else {
                    "via the DNS Service"
                }),
                ..CheckTemplate::new(
                    CheckKind::Dns,
                    &from.endpoint,
                    &target,
                    Protocol::Dns,
                    Some(53),
                )
            },
        );
    }
}

/// Each server of the source's family directly, with the first fully
/// qualified name.
fn direct(cx: &Ctx<'_>, from: &SourceAddr<'_>, dns: &DnsTarget, sp: &mut SourcePlan) {
    let Some(fq) = dns.names.iter().find(|n| !n.via_search) else {
        return;
    };
    for srv in &dns.servers {
        let Some(ip) = srv.ip.filter(|ip| ip.is_ipv6() == from.ip.is_ipv6()) else {
            continue;
        };
        let target = Endpoint {
            node: srv.node.clone(),
            pod: srv.pod.clone(),
            ip: Some(ip),
            name: Some(fq.name.clone()),
        };
        cx.push_dns(
            sp,
            ProbeSpec::Dns {
                name: fq.name.clone(),
                server: Some(ip),
                port: None,
            },
            CheckTemplate {
                expect: fq.expect.clone(),
                note: Some("direct to the DNS pod"),
                ..CheckTemplate::new(
                    CheckKind::Dns,
                    &from.endpoint,
                    &target,
                    Protocol::Dns,
                    Some(53),
                )
            },
        );
    }
}
