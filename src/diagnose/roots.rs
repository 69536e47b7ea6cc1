//! One root cause, one finding: what a root explains beyond the cells its
//! rule claims.
//!
//! - Service checks behind a root node. A Service check (pod→Service, DNS
//!   through the DNS Service, `kubernetes.default`) goes to whichever backend
//!   kube-proxy picks. When a backend sits on a node that is already a root
//!   (its overlay blocked, its FORWARD chain dropping, the node cut off), the
//!   queries balanced to it fail or come back late after a retry, from every
//!   node: that is the root again, not a second problem. The DNS Service's
//!   backends are `Deployment.dns.servers` with their nodes (two CoreDNS
//!   replicas on two nodes is the common case).
//! - Control-plane roots from discovery. Cluster DNS down (no ready DNS pod)
//!   is one `dns-pods-not-ready` finding: the DNS Service without endpoints
//!   and the DNS queries that got no answer are its evidence, not two more
//!   errors. A Service the checks need without endpoints explains the checks
//!   through it.
//! - A finding whose checks ran on nodes names those nodes.

use super::facts::{is_dns_via_service, no_answer};
use super::{Evidence, cap_evidence, describe_check};
use crate::model::{Check, CheckKind, Finding, FindingId, Severity};
use std::collections::BTreeSet;

/// Rules ranked below this are roots on their nodes (host roots,
/// `pod-network-down`, `node-isolated`, `cross-node-pod-traffic-broken`).
pub const ROOT_RANK_BELOW: u16 = 45;

/// The nodes a Service check's backends run on (empty: not a Service check,
/// or backends unknown).
pub fn backend_nodes<'a>(ev: &'a Evidence<'_>, c: &'a Check) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    match c.kind {
        // A NodePort check's backend is on the node dialled (its own Service).
        CheckKind::PodToService | CheckKind::PodToApiserver | CheckKind::Nodeport => {
            out.extend(c.target_node())
        }
        CheckKind::Dns if is_dns_via_service(c) => match c.target_node() {
            Some(n) => {
                out.insert(n);
            }
            None => out.extend(
                ev.deployment
                    .dns
                    .iter()
                    .flat_map(|d| &d.servers)
                    .filter_map(|s| s.node.as_deref()),
            ),
        },
        _ => {}
    }
    out
}

/// Unexplained failed Service checks with a backend on one of `roots`.
pub fn behind(ev: &Evidence<'_>, explained: &BTreeSet<usize>, roots: &[String]) -> BTreeSet<usize> {
    ev.unexplained_failures(explained)
        .filter(|(_, c)| {
            backend_nodes(ev, c)
                .iter()
                .any(|b| roots.iter().any(|r| r == b))
        })
        .map(|(i, _)| i)
        .collect()
}

/// The evidence lines saying which Service checks a root on `roots` explains.
pub fn behind_evidence(ev: &Evidence<'_>, roots: &[String], idx: &BTreeSet<usize>) -> Vec<String> {
    let Some(&first) = idx.iter().next() else {
        return Vec::new();
    };
    vec![format!(
        "{} failed Service check(s) were balanced to backends on {} \
         (for example {})",
        idx.len(),
        roots.join(", "),
        describe_check(&ev.checks[first])
    )]
}

/// Source nodes of the given checks, sorted.
pub fn source_nodes(ev: &Evidence<'_>, idx: &BTreeSet<usize>) -> Vec<String> {
    idx.iter()
        .filter_map(|&i| ev.checks[i].source_node())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// `Service NS/NAME has no ready endpoints…` (kube/discover.rs,
/// `service_no_endpoints`): whether `f` is that finding for NS/NAME.
fn no_endpoints_for(f: &Finding, namespace: &str, name: &str) -> bool {
    f.id == FindingId::ServiceNoEndpoints
        && f.title.starts_with(&format!(
            "Service {namespace}/{name} has no ready endpoints"
        ))
}

/// The discovery findings, each with the failed checks it explains: cluster
/// DNS down absorbs the DNS Service's missing endpoints and the unanswered
/// DNS queries; a Service without endpoints explains the checks through it.
pub fn seeded(ev: &Evidence<'_>, explained: &mut BTreeSet<usize>) -> Vec<Finding> {
    let d = ev.deployment;
    let mut findings = d.findings.clone();
    let dns_svc = d
        .dns
        .as_ref()
        .map(|t| (t.service.namespace.clone(), t.service.name.clone()));
    let is_dns_down =
        |f: &Finding| f.id == FindingId::DnsPodsNotReady && f.severity == Severity::Error;
    let unanswered_dns = |explained: &BTreeSet<usize>, via_service_only: bool| -> BTreeSet<usize> {
        ev.unexplained_failures(explained)
            .filter(|(_, c)| {
                c.kind == CheckKind::Dns
                    && no_answer(c)
                    && (!via_service_only || is_dns_via_service(c))
            })
            .map(|(i, _)| i)
            .collect()
    };
    if let (true, Some((ns, name))) = (findings.iter().any(is_dns_down), dns_svc.as_ref()) {
        // The DNS Service without endpoints is what the pods being down looks
        // like from the Service: evidence of the same root.
        let mut absorbed = Vec::new();
        findings.retain(|f| {
            if no_endpoints_for(f, ns, name) {
                absorbed.extend(f.evidence.iter().cloned());
                false
            } else {
                true
            }
        });
        let idx = unanswered_dns(explained, false);
        if let Some(f) = findings.iter_mut().find(|f| is_dns_down(f)) {
            f.evidence.extend(absorbed);
            f.evidence.extend(dns_evidence(ev, &idx));
            f.evidence = cap_evidence(std::mem::take(&mut f.evidence), 10);
            fill_nodes(ev, f, &idx);
        }
        explained.extend(idx);
    }
    for f in findings.iter_mut() {
        let idx: BTreeSet<usize> = match &dns_svc {
            Some((ns, name)) if no_endpoints_for(f, ns, name) => unanswered_dns(explained, true),
            _ if no_endpoints_for(f, "default", "kubernetes") => ev
                .unexplained_failures(explained)
                .filter(|(_, c)| c.kind == CheckKind::PodToApiserver)
                .map(|(i, _)| i)
                .collect(),
            _ => continue,
        };
        f.evidence.extend(dns_or_api_evidence(ev, &idx));
        f.evidence = cap_evidence(std::mem::take(&mut f.evidence), 10);
        fill_nodes(ev, f, &idx);
        explained.extend(idx);
    }
    findings
}

fn dns_evidence(ev: &Evidence<'_>, idx: &BTreeSet<usize>) -> Vec<String> {
    if idx.is_empty() {
        return Vec::new();
    }
    let total = ev
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Dns)
        .count();
    let mut out = vec![format!(
        "{} of {total} DNS queries from the probe pods got no answer",
        idx.len()
    )];
    out.extend(idx.iter().take(3).map(|&i| describe_check(&ev.checks[i])));
    out
}

fn dns_or_api_evidence(ev: &Evidence<'_>, idx: &BTreeSet<usize>) -> Vec<String> {
    if idx.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!("{} failed check(s) went through it:", idx.len())];
    out.extend(idx.iter().take(3).map(|&i| describe_check(&ev.checks[i])));
    out
}

/// A finding with no nodes names the source nodes of the checks it explains.
pub fn fill_nodes(ev: &Evidence<'_>, f: &mut Finding, idx: &BTreeSet<usize>) {
    if f.nodes.is_empty() {
        f.nodes = source_nodes(ev, idx);
    }
}
