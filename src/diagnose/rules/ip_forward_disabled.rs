//! `ip-forward-disabled`: net.ipv4.ip_forward = 0. The node does not route
//! for its pods: nothing leaves or reaches them except bridged same-node
//! traffic (on a CNI without a bridge, same-node traffic dies too). Classic after a reboot when the sysctl was set by hand.

use super::host::{self, claim, diagnosis, forwarded_by, routed_by};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::model::host::HostReport;
use crate::model::{Check, FindingId, Severity};
use std::collections::BTreeSet;

pub struct IpForwardDisabled;

/// The check's packets need `node` to forward them. On a bridge CNI, pods
/// of one node talk over the bridge without it; without a bridge (a routed
/// veth per pod) the node routes between its own pods too; and Calico's pods
/// reach even their own node through the host's proxy ARP, which the kernel
/// answers only on an interface that forwards (ip_forward = 0 turns every
/// interface's forwarding off).
fn through(h: &HostReport, c: &Check, node: &str) -> bool {
    let calico = h
        .interfaces
        .iter()
        .any(|i| crate::inspect::calico::is_workload_interface(&i.name));
    if calico {
        let pod_here =
            |e: &crate::model::Endpoint| e.pod.is_some() && e.node.as_deref() == Some(node);
        pod_here(&c.source) || pod_here(&c.target)
    } else if crate::inspect::query::pod_bridges(h).is_empty() {
        forwarded_by(c, node)
    } else {
        routed_by(c, node)
    }
}

impl Rule for IpForwardDisabled {
    fn rank(&self) -> u16 {
        12
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter(|h| h.sysctls.as_ref().and_then(|s| s.ip_forward) == Some(0))
            .map(|h| {
                let n = h.node.as_str();
                let explains = claim(ev, explained, |c| through(h, c, n));
                diagnosis(
                    ev,
                    FindingId::IpForwardDisabled,
                    Severity::Error,
                    format!("{n} does not route pod traffic: net.ipv4.ip_forward = 0"),
                    n,
                    vec![format!("{n}: /proc/sys/net/ipv4/ip_forward = 0")],
                    explains,
                    format!(
                        "On {n}: `sysctl -w net.ipv4.ip_forward=1`, and make it survive reboots: \
                         `echo net.ipv4.ip_forward=1 > /etc/sysctl.d/99-kubernetes.conf`"
                    ),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::{CheckKind, FindingId};

    #[test]
    fn forwarding_off_claims_routed_cells_not_bridged_ones() {
        let d = sim::cluster(2);
        // node-1 routes nothing: cross-node and Service traffic fail, same-node bridged pod traffic passes.
        let checks = sim::run(&d, |t| {
            let bridged = t.kind == CheckKind::PodToPod
                && sim::nodes_of(t) == (Some("node-1"), Some("node-1"));
            if testing::through(t, "node-1") && !bridged {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let mut hosts = testing::healthy_hosts(&d);
        hosts[1].sysctls.as_mut().unwrap().ip_forward = Some(0);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::IpForwardDisabled], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-1"]);
        assert_eq!(
            f[0].evidence[0],
            "node-1: /proc/sys/net/ipv4/ip_forward = 0"
        );
        assert!(f[0].remediation.contains("sysctl -w net.ipv4.ip_forward=1"));
    }

    #[test]
    fn on_calico_every_check_of_the_nodes_pods_is_claimed() {
        let d = sim::cluster(2);
        // Calico pods reach even their own node through the host's proxy
        // ARP, which needs forwarding: every check of node-1's pods fails.
        let here =
            |e: &crate::model::Endpoint| e.pod.is_some() && e.node.as_deref() == Some("node-1");
        let checks = sim::run(&d, |t| {
            if here(&t.source) || here(&t.target) {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let mut hosts = testing::healthy_hosts(&d);
        hosts[1].sysctls.as_mut().unwrap().ip_forward = Some(0);
        hosts[1].interfaces.push(crate::model::host::Interface {
            name: "calic7f546db357".into(),
            kind: Some("veth".into()),
            ..Default::default()
        });
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::IpForwardDisabled], "{f:#?}");
        let failed = checks
            .iter()
            .filter(|c| c.status == crate::model::Status::Fail)
            .count();
        assert!(
            f[0].evidence[1].starts_with(&format!("{failed} failed check(s) pass through node-1")),
            "{f:#?}"
        );
    }

    #[test]
    fn forwarding_on_or_unknown_is_silent() {
        let (d, checks, mut hosts) = testing::healthy(2);
        hosts[0].sysctls = None;
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }
}
