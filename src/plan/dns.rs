//! dns: from a pod address, every name through the DNS Service with the
//! pod's own resolv.conf (search path and ndots, like an application), then
//! the first fully qualified name straight to each DNS server. Each query
//! asks the record of the source address's family (A from an IPv4 address,
//! AAAA from an IPv6 one), and expects that family's addresses.
//!
//! On dual stack the pods' resolv.conf names one ClusterIP of the DNS
//! Service (the first family's, as kubelet's `clusterDNS` does): from an
//! address of the other family the fully qualified names go to the DNS
//! Service's ClusterIP of that family instead, so that every packet of an
//! IPv6 check is IPv6.

use super::{CheckTemplate, Ctx, SourceAddr, SourcePlan};
use crate::model::plan::{DnsRecord, ProbeSpec};
use crate::model::report::{CheckKind, Endpoint, Family, Protocol};
use crate::model::topology::{DnsName, DnsTarget};
use std::net::IpAddr;

pub(super) fn plan(cx: &Ctx<'_>, from: &SourceAddr<'_>, sp: &mut SourcePlan) {
    let Some(dns) = &cx.d.dns else {
        return;
    };
    if dns.service.ip.is_ipv6() == from.ip.is_ipv6() {
        via_service(cx, from, dns, None, sp);
    } else if let Some(vip) = from.reachable(&dns.service_ips).next() {
        via_service(cx, from, dns, Some(vip), sp);
    }
    direct(cx, from, dns, sp);
}

/// What a name must resolve to from this source: its expected addresses of
/// the source's family (empty: any answer). None: the name has expected
/// addresses but none of this family (a single-stack Service on a
/// dual-stack cluster), so there is nothing to ask.
fn expect_for(from: &SourceAddr<'_>, n: &DnsName) -> Option<Vec<IpAddr>> {
    let want: Vec<IpAddr> = from.reachable(&n.expect).collect();
    (n.expect.is_empty() || !want.is_empty()).then_some(want)
}

fn record(from: &SourceAddr<'_>) -> Option<DnsRecord> {
    Some(DnsRecord::of(Family::of(from.ip)))
}

/// Every name through the Service: with the pod's resolv.conf (`vip`
/// None), or the fully qualified names asked of the Service's ClusterIP
/// `vip` of the source's family. The target names the server's node when
/// only one server can answer.
fn via_service(
    cx: &Ctx<'_>,
    from: &SourceAddr<'_>,
    dns: &DnsTarget,
    vip: Option<IpAddr>,
    sp: &mut SourcePlan,
) {
    let mut servers = dns.servers.iter().filter(|s| {
        s.ip.is_none_or(|ip| from.reachable(std::slice::from_ref(&ip)).next().is_some())
    });
    let svc_node = match (servers.next(), servers.next()) {
        (Some(only), None) => only.node.clone(),
        _ => None,
    };
    for n in &dns.names {
        if vip.is_some() && n.via_search {
            continue;
        }
        let Some(expect) = expect_for(from, n) else {
            continue;
        };
        let target = Endpoint {
            node: svc_node.clone(),
            pod: None,
            ip: Some(vip.unwrap_or(dns.service.ip)),
            name: Some(n.name.clone()),
        };
        cx.push_dns(
            sp,
            ProbeSpec::Dns {
                name: n.name.clone(),
                server: vip,
                port: None,
                record: record(from),
            },
            CheckTemplate {
                expect,
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
/// qualified name that has addresses of the family.
fn direct(cx: &Ctx<'_>, from: &SourceAddr<'_>, dns: &DnsTarget, sp: &mut SourcePlan) {
    let Some((fq, expect)) = dns
        .names
        .iter()
        .filter(|n| !n.via_search)
        .find_map(|n| Some((n, expect_for(from, n)?)))
    else {
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
                record: record(from),
            },
            CheckTemplate {
                expect: expect.clone(),
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
