//! `proxy-arp-disabled`: Calico's pod interfaces (`cali…`) on a node have
//! proxy_arp = 0. A Calico pod's default route goes via 169.254.1.1, an
//! address nobody has: the host answers the pod's ARP for it by proxy ARP on
//! the pod's `cali` interface. Without it the pod has no gateway once its
//! ARP entry ages out: nothing leaves or reaches it, not even its own node
//! (the answers cannot leave the pod either).
//!
//! Each pod's interface is known by name (Calico names it after the pod,
//! [`crate::inspect::calico::workload_interface`]), so the finding claims
//! the checks of exactly the pods behind the interfaces that lost it.

use super::host::{self, diagnosis};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::calico::{POD_GATEWAY, is_workload_interface, workload_interface};
use crate::model::host::HostReport;
use crate::model::{Endpoint, FindingId, Severity};
use std::collections::{BTreeMap, BTreeSet};

pub struct ProxyArpDisabled;

/// Calico pod interfaces of a node where the kernel does not answer ARP by
/// proxy (`all` and the interface both 0), that exist on the node.
fn interfaces_without_proxy_arp(h: &HostReport) -> Vec<&str> {
    let Some(s) = h.sysctls.as_ref() else {
        return Vec::new();
    };
    s.proxy_arp
        .keys()
        .map(String::as_str)
        .filter(|i| is_workload_interface(i))
        .filter(|i| s.effective_proxy_arp(i) == Some(false))
        .filter(|i| h.interfaces.is_empty() || h.interfaces.iter().any(|x| x.name == *i))
        .collect()
}

/// The pods on `node` the report knows (probe pods and DNS servers), by
/// their Calico interface name: `cali…` → `namespace/name`.
fn pods_by_interface(ev: &Evidence<'_>, node: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for p in ev.deployment.pods.iter().filter(|p| p.node == node) {
        m.insert(
            workload_interface(&p.namespace, &p.name),
            format!("{}/{}", p.namespace, p.name),
        );
    }
    if let Some(dns) = &ev.deployment.dns {
        let ns = &dns.service.namespace;
        for s in dns
            .servers
            .iter()
            .filter(|s| s.node.as_deref() == Some(node))
        {
            if let Some(pod) = &s.pod {
                m.insert(workload_interface(ns, pod), format!("{ns}/{pod}"));
            }
        }
    }
    m
}

impl Rule for ProxyArpDisabled {
    fn rank(&self) -> u16 {
        12
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter_map(|h| {
                let off = interfaces_without_proxy_arp(h);
                if off.is_empty() {
                    return None;
                }
                let n = h.node.as_str();
                let known = pods_by_interface(ev, n);
                // The pod names (without namespace) behind the interfaces
                // that lost proxy ARP; none known: every pod on the node.
                let cut: BTreeSet<&str> = off
                    .iter()
                    .filter_map(|i| known.get(*i))
                    .filter_map(|p| p.split_once('/').map(|(_, name)| name))
                    .collect();
                let hit = |e: &Endpoint| {
                    e.node.as_deref() == Some(n)
                        && e.pod
                            .as_deref()
                            .is_some_and(|p| cut.is_empty() || cut.contains(p))
                };
                let explains = host::claim(ev, explained, |c| hit(&c.source) || hit(&c.target));
                let mut evidence: Vec<String> = off
                    .iter()
                    .take(6)
                    .map(|i| {
                        let pod = known
                            .get(*i)
                            .map(|p| format!(" (pod {p})"))
                            .unwrap_or_default();
                        format!("{n}: /proc/sys/net/ipv4/conf/{i}/proxy_arp = 0{pod}")
                    })
                    .collect();
                if off.len() > 6 {
                    evidence.push(format!(
                        "{n}: … and {} more cali interface(s) with proxy_arp = 0",
                        off.len() - 6
                    ));
                }
                evidence.push(format!(
                    "{n}: Calico pods route via {POD_GATEWAY}, which only the host's proxy ARP on their cali interface answers"
                ));
                let severity = if explains.is_empty() {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                Some(diagnosis(
                    ev,
                    FindingId::ProxyArpDisabled,
                    severity,
                    format!(
                        "{n}: proxy ARP is off on {} Calico pod interface(s): their pods have no gateway",
                        off.len()
                    ),
                    n,
                    evidence,
                    explains,
                    format!(
                        "On {n}: `sysctl -w net.ipv4.conf.<cali interface>.proxy_arp=1` for each interface \
                         above (calico-node sets it when it wires a pod: check that calico-node runs on {n} \
                         and its logs), and find what turned it off (a sysctl.d file or hardening baseline \
                         with `net.ipv4.conf.*.proxy_arp = 0`, applied after the pods started)"
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
    use crate::inspect::calico::workload_interface;
    use crate::model::{FindingId, Severity};

    /// The hosts with every pod's cali interface at proxy_arp = `on`, and
    /// node-1's first pod's at `first`.
    fn calico_hosts(
        d: &crate::model::Deployment,
        first: u32,
    ) -> Vec<crate::model::host::HostReport> {
        let mut hosts = testing::healthy_hosts(d);
        for h in hosts.iter_mut() {
            h.interfaces.clear();
            let s = h.sysctls.as_mut().unwrap();
            s.proxy_arp.insert("all".into(), 0);
            for (k, p) in d.pods.iter().filter(|p| p.node == h.node).enumerate() {
                let v = if h.node == "node-1" && k == 0 {
                    first
                } else {
                    1
                };
                s.proxy_arp
                    .insert(workload_interface(&p.namespace, &p.name), v);
            }
        }
        hosts
    }

    #[test]
    fn one_pod_without_its_gateway_is_named_with_its_interface() {
        let d = sim::cluster(3);
        let victim = d.pods.iter().find(|p| p.node == "node-1").unwrap().clone();
        let checks = sim::run(&d, |t| {
            let is = |e: &crate::model::Endpoint| e.pod.as_deref() == Some(victim.name.as_str());
            if is(&t.source) || is(&t.target) {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let hosts = calico_hosts(&d, 0);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::ProxyArpDisabled], "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].nodes, vec!["node-1"]);
        let iface = workload_interface(&victim.namespace, &victim.name);
        assert_eq!(
            f[0].evidence[0],
            format!(
                "node-1: /proc/sys/net/ipv4/conf/{iface}/proxy_arp = 0 (pod {}/{})",
                victim.namespace, victim.name
            )
        );
        let failed = checks
            .iter()
            .filter(|c| c.status == crate::model::Status::Fail)
            .count();
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.starts_with(&format!("{failed} failed check(s) pass through node-1"))),
            "{f:#?}"
        );
    }

    #[test]
    fn proxy_arp_on_or_not_calico_is_silent() {
        let (d, checks, _) = testing::healthy(3);
        assert!(testing::diagnose(&d, &checks, &calico_hosts(&d, 1)).is_empty());
        let mut hosts = testing::healthy_hosts(&d);
        // Not a Calico pod interface: nothing to say.
        hosts[0]
            .sysctls
            .as_mut()
            .unwrap()
            .proxy_arp
            .insert("cni0".into(), 0);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }

    #[test]
    fn off_while_everything_passes_is_a_warning() {
        let (d, checks, _) = testing::healthy(2);
        let f = testing::diagnose(&d, &checks, &calico_hosts(&d, 0));
        assert_eq!(sim::ids(&f), vec![FindingId::ProxyArpDisabled]);
        assert_eq!(f[0].severity, Severity::Warning);
    }
}
