//! `ip-forward-disabled`: net.ipv4.ip_forward = 0, or on a cluster with IPv6
//! net.ipv6.conf.all.forwarding = 0. The node does not route that family
//! for its pods: nothing of it leaves or reaches them except bridged
//! same-node traffic (on a CNI without a bridge, same-node traffic dies
//! too). Classic after a reboot when the sysctl was set by hand. Each sysctl
//! governs its own family only, so each claims only the failed checks of its
//! family, and the IPv6 one names IPv6.

use super::host::{self, claim, diagnosis, forwarded_by, routed_by};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::model::host::HostReport;
use crate::model::{Check, Family, FindingId, Severity};
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

/// One family's forwarding switch.
struct Switch {
    family: Family,
    /// What the title says the node does not route.
    what: &'static str,
    key: &'static str,
    path: &'static str,
    value: fn(&HostReport) -> Option<u32>,
}

const SWITCHES: [Switch; 2] = [
    Switch {
        family: Family::Ipv4,
        what: "pod traffic",
        key: "net.ipv4.ip_forward",
        path: "/proc/sys/net/ipv4/ip_forward",
        value: |h| h.sysctls.as_ref().and_then(|s| s.ip_forward),
    },
    Switch {
        family: Family::Ipv6,
        what: "IPv6 pod traffic",
        key: "net.ipv6.conf.all.forwarding",
        path: "/proc/sys/net/ipv6/conf/all/forwarding",
        value: |h| h.sysctls.as_ref().and_then(|s| s.ipv6_forwarding),
    },
];

/// Whether the cluster runs `family` at all: an IPv4-only cluster's nodes
/// often have IPv6 forwarding off, and that breaks nothing. With neither
/// checks nor pod addresses to tell, IPv4.
fn in_use(ev: &Evidence<'_>, family: Family) -> bool {
    let pod_ips = || ev.deployment.pods.iter().flat_map(|p| &p.ips);
    ev.checks.iter().any(|c| c.family() == family)
        || pod_ips().any(|ip| Family::of(*ip) == family)
        || (family == Family::Ipv4 && ev.checks.is_empty() && pod_ips().next().is_none())
}

impl Rule for IpForwardDisabled {
    fn rank(&self) -> u16 {
        12
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mut out = Vec::new();
        // Once per run, not per host: it reads every check.
        let switches: Vec<&Switch> = SWITCHES.iter().filter(|s| in_use(ev, s.family)).collect();
        for h in host::hosts(ev) {
            for s in switches.iter().copied() {
                if (s.value)(h) != Some(0) {
                    continue;
                }
                let n = h.node.as_str();
                let explains = claim(ev, explained, |c| {
                    c.family() == s.family && through(h, c, n)
                });
                let mut evidence = vec![format!("{n}: {} = 0", s.path)];
                if s.family == Family::Ipv6 {
                    evidence.push(format!(
                        "family IPv6: {} governs IPv6 only; IPv4 forwarding is net.ipv4.ip_forward",
                        s.key
                    ));
                }
                out.push(diagnosis(
                    ev,
                    FindingId::IpForwardDisabled,
                    Severity::Error,
                    format!("{n} does not route {}: {} = 0", s.what, s.key),
                    n,
                    evidence,
                    explains,
                    format!(
                        "On {n}: `sysctl -w {key}=1`, and make it survive reboots: \
                         `echo {key}=1 > /etc/sysctl.d/99-kubernetes.conf`",
                        key = s.key
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::{CheckKind, Family, FindingId, Severity};

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

    /// An IPv4-only cluster whose nodes have IPv6 forwarding off (the
    /// kernel's default): nothing is wrong.
    #[test]
    fn ipv6_forwarding_off_on_an_ipv4_cluster_is_silent() {
        let (d, checks, mut hosts) = testing::healthy(2);
        hosts[1].sysctls.as_mut().unwrap().ipv6_forwarding = Some(0);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }

    /// Dual stack, net.ipv6.conf.all.forwarding = 0 on node-1: only IPv6
    /// traffic routed by node-1 fails. One finding, named for IPv6, whose
    /// evidence is the sysctl and IPv6 checks; no IPv4 check is claimed and
    /// nothing else is reported.
    #[test]
    fn ipv6_forwarding_off_on_dual_stack_is_named_for_ipv6() {
        let d = sim::dual_stack(sim::cluster(3));
        let checks = testing::ipv6_dead_through(&d, "node-1");
        assert!(
            checks
                .iter()
                .any(|c| c.family() == Family::Ipv6 && c.status.is_failure())
        );
        let mut hosts = testing::healthy_hosts(&d);
        hosts[1].sysctls.as_mut().unwrap().ipv6_forwarding = Some(0);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::IpForwardDisabled], "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].nodes, vec!["node-1"]);
        assert!(f[0].title.contains("IPv6"), "{}", f[0].title);
        assert!(f[0].title.contains("net.ipv6.conf.all.forwarding = 0"));
        let ev = f[0].evidence.join("\n");
        assert!(
            ev.contains("node-1: /proc/sys/net/ipv6/conf/all/forwarding = 0"),
            "{ev}"
        );
        assert!(ev.contains("family IPv6"), "{ev}");
        // The failed checks quoted are IPv6 ones.
        let quoted: Vec<&String> = f[0].evidence.iter().filter(|e| e.contains(" → ")).collect();
        assert!(!quoted.is_empty(), "{ev}");
        assert!(quoted.iter().all(|e| e.contains(" IPv6 ")), "{ev}");
        assert!(
            f[0].remediation
                .contains("sysctl -w net.ipv6.conf.all.forwarding=1")
        );
    }

    /// Without host reports the same fault is still named for IPv6, by the
    /// data-plane rule that sees it.
    #[test]
    fn an_ipv6_only_break_without_host_reports_is_named_for_ipv6() {
        let d = sim::dual_stack(sim::cluster(3));
        let checks = testing::ipv6_dead_through(&d, "node-1");
        let f = sim::diagnose(&d, &checks);
        assert!(!f.is_empty());
        for x in f.iter().filter(|x| x.severity == Severity::Error) {
            assert!(x.title.starts_with("IPv6 only: "), "{x:#?}");
        }
    }
}
