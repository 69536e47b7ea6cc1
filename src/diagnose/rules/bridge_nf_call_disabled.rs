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
        if matches!(mode, "replaced" | "none") {
            return Vec::new();
        }
        host::hosts(ev)
            .filter(|h| query::uses_bridge_cni(h))
            .filter_map(|h| {
                let s = h.sysctls.as_ref()?;
                let value = match s.bridge_nf_call_iptables {
                    Some(0) => "net.bridge.bridge-nf-call-iptables = 0".to_string(),
                    None => "net.bridge.bridge-nf-call-iptables is absent: the br_netfilter module is not loaded".to_string(),
                    Some(_) => return None,
                };
                let n = h.node.as_str();
                let cni = h.summary.cni.clone().or_else(|| {
                    h.cni.as_ref().and_then(|c| c.selected_file()).map(|f| f.describe())
                }).unwrap_or_else(|| "a bridge CNI".into());
                let explains = claim(ev, explained, |c| {
                    c.kind == CheckKind::PodToService
                        && c.source_node() == Some(n)
                        && c.target_node() == Some(n)
                });
                Some(diagnosis(
                    ev,
                    FindingId::BridgeNfCallDisabled,
                    Severity::Error,
                    format!("{n}: bridged pod traffic bypasses iptables (bridge-nf-call-iptables off)"),
                    n,
                    vec![format!("{n}: {value}"), format!("{n} uses {cni}")],
                    explains,
                    format!(
                        "On {n}: `modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1`; persist with \
                         `echo br_netfilter > /etc/modules-load.d/k8s.conf` and \
                         `echo net.bridge.bridge-nf-call-iptables=1 > /etc/sysctl.d/99-kubernetes.conf`"
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
        let checks = sim::run(&d, |t| match sim::nodes_of(t) {
            (Some("node-0"), Some("node-0")) if t.kind == CheckKind::PodToService => sim::timeout(),
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
        // br_netfilter not loaded reads the same.
        hosts[0].sysctls.as_mut().unwrap().bridge_nf_call_iptables = None;
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(f[0].evidence[0].contains("br_netfilter module is not loaded"));
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
