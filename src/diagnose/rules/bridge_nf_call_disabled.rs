//! `bridge-nf-call-disabled`: a bridge CNI with
//! net.bridge.bridge-nf-call-iptables = 0 (or br_netfilter not loaded):
//! traffic between pods on the same bridge skips iptables, so a Service
//! whose backend sits on the same node gets its reply un-NATed and dropped.

use super::host::{self, claim, diagnosis};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::query;
use crate::model::{CheckKind, FindingId, Severity};
use std::collections::BTreeSet;

pub struct BridgeNfCallDisabled;

impl Rule for BridgeNfCallDisabled {
    fn rank(&self) -> u16 {
        17
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mode = ev.deployment.cluster.kube_proxy_mode.as_str();
        if mode == "none" || mode.starts_with("replaced") {
            return Vec::new();
        }
        // IPv6's run reads IPv6's switch: bridged IPv6 goes through ip6tables.
        let v6 = crate::diagnose::facts::run_is_ipv6(ev);
        let (key, tables) = if v6 {
            ("net.bridge.bridge-nf-call-ip6tables", "ip6tables")
        } else {
            ("net.bridge.bridge-nf-call-iptables", "iptables")
        };
        host::hosts(ev)
            .filter(|h| query::uses_bridge_cni(h))
            .filter_map(|h| {
                let s = h.sysctls.as_ref()?;
                let setting = match (v6, s.bridge_nf_call_ip6tables) {
                    (false, _) => s.bridge_nf_call_iptables,
                    (true, Some(on)) => Some(on),
                    // Not read (an older report): br_netfilter is loaded
                    // when IPv4's key is there; say nothing of IPv6's.
                    (true, None) if s.bridge_nf_call_iptables.is_some() => return None,
                    (true, None) => None,
                };
                let value = match setting {
                    Some(0) => format!("{key} = 0"),
                    None => format!("{key} is absent: the br_netfilter module is not loaded"),
                    Some(_) => return None,
                };
                let n = h.node.as_str();
                let cni = h
                    .overview
                    .cni
                    .clone()
                    .or_else(|| {
                        h.cni
                            .as_ref()
                            .and_then(|c| c.selected_file())
                            .map(|f| f.describe())
                    })
                    .unwrap_or_else(|| "a bridge CNI".into());
                // DNS through its Service is bridged too when every DNS pod is on this node.
                let dns_here = ev.deployment.dns.as_ref().is_some_and(|d| {
                    !d.servers.is_empty() && d.servers.iter().all(|s| s.node.as_deref() == Some(n))
                });
                let explains = claim(ev, explained, |c| {
                    (c.kind == CheckKind::PodToService
                        && c.source_node() == Some(n)
                        && c.target_node() == Some(n))
                        || (dns_here
                            && c.source_node() == Some(n)
                            && crate::diagnose::facts::is_dns_via_service(c))
                });
                Some(diagnosis(
                    ev,
                    FindingId::BridgeNfCallDisabled,
                    Severity::Error,
                    format!(
                        "{n}: bridged pod traffic bypasses {tables} (bridge-nf-call-{tables} off)"
                    ),
                    n,
                    vec![format!("{n}: {value}"), format!("{n} uses {cni}")],
                    explains,
                    format!(
                        "On {n}: `modprobe br_netfilter && sysctl -w {key}=1`; persist with \
                         `echo br_netfilter > /etc/modules-load.d/k8s.conf` and \
                         `echo {key}=1 > /etc/sysctl.d/99-kubernetes.conf`"
                    ),
                ))
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
    fn off_with_a_bridge_cni_claims_same_node_service_failures() {
        let d = sim::cluster(2);
        // Same-node Services from node-0 fail, and DNS through its Service
        // (the DNS pod is on node-0 too).
        let checks = sim::run(&d, |t| match sim::nodes_of(t) {
            (Some("node-0"), Some("node-0")) if t.kind == CheckKind::PodToService => sim::timeout(),
            (Some("node-0"), _) if t.kind == CheckKind::Dns && t.target.pod.is_none() => {
                sim::timeout()
            }
            _ => sim::ok(),
        });
        let mut hosts = testing::healthy_hosts(&d);
        hosts[0].sysctls.as_mut().unwrap().bridge_nf_call_iptables = Some(0);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::BridgeNfCallDisabled],
            "{f:#?}"
        );
        assert!(f[0].evidence[0].contains("bridge-nf-call-iptables = 0"));
        assert!(f[0].evidence[1].contains("10-bridge.conflist"));
        assert!(
            f[0].evidence.iter().any(|e| e.contains("  dns ")),
            "{:?}",
            f[0].evidence
        );
        // br_netfilter not loaded reads the same.
        hosts[0].sysctls.as_mut().unwrap().bridge_nf_call_iptables = None;
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(f[0].evidence[0].contains("br_netfilter module is not loaded"));
    }

    /// Each family's switch is its own: IPv4's off breaks IPv4's Services
    /// only and is named for IPv4; IPv6's off, read from
    /// bridge-nf-call-ip6tables, is IPv6's; on an IPv6-only cluster IPv4's
    /// switch says nothing.
    #[test]
    fn each_family_reads_its_own_bridge_nf_call_switch() {
        let d = sim::dual_stack(sim::cluster(2));
        let v6 = |t: &crate::plan::CheckTemplate| t.target.ip.is_some_and(|ip| ip.is_ipv6());
        let failing = |want_v6: bool| {
            sim::run(&d, |t| match sim::nodes_of(t) {
                (Some("node-0"), Some("node-0"))
                    if t.kind == CheckKind::PodToService && v6(t) == want_v6 =>
                {
                    sim::timeout()
                }
                _ => sim::ok(),
            })
        };
        let mut hosts = testing::healthy_hosts(&d);
        let s = hosts[0].sysctls.as_mut().unwrap();
        s.bridge_nf_call_iptables = Some(0);
        s.bridge_nf_call_ip6tables = Some(1);
        let f = testing::diagnose(&d, &failing(false), &hosts);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::BridgeNfCallDisabled],
            "{f:#?}"
        );
        assert!(f[0].title.starts_with("IPv4 only"), "{}", f[0].title);
        let s = hosts[0].sysctls.as_mut().unwrap();
        s.bridge_nf_call_iptables = Some(1);
        s.bridge_nf_call_ip6tables = Some(0);
        let f = testing::diagnose(&d, &failing(true), &hosts);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::BridgeNfCallDisabled],
            "{f:#?}"
        );
        assert!(f[0].title.starts_with("IPv6 only"), "{}", f[0].title);
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e == "node-0: net.bridge.bridge-nf-call-ip6tables = 0"),
            "{:?}",
            f[0].evidence
        );
        assert!(
            f[0].remediation
                .contains("net.bridge.bridge-nf-call-ip6tables=1")
        );
        // A report without IPv6's key (older agents) says nothing of IPv6.
        hosts[0].sysctls.as_mut().unwrap().bridge_nf_call_ip6tables = None;
        let f = testing::diagnose(&d, &failing(true), &hosts);
        assert!(
            !sim::ids(&f).contains(&FindingId::BridgeNfCallDisabled),
            "{f:#?}"
        );
    }

    #[test]
    fn not_a_bridge_cni_or_on_is_silent() {
        let (d, checks, mut hosts) = testing::healthy(2);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        hosts[0].sysctls.as_mut().unwrap().bridge_nf_call_iptables = Some(0);
        let cilium = crate::inspect::cni::parse_file(
            "05-cilium.conflist",
            r#"{"name":"cilium","cniVersion":"0.3.1","plugins":[{"type":"cilium-cni"}]}"#,
        );
        let c = hosts[0].cni.as_mut().unwrap();
        c.files = vec![cilium];
        c.selected = Some("05-cilium.conflist".into());
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }
}
