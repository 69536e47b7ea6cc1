//! `forward-policy-drop`: the FORWARD chain's policy is DROP and nothing in
//! it accepts pod traffic (Docker does this on start; so do hardening
//! scripts). Every packet the node forwards for its pods dies there.

use super::host::{self, claim, diagnosis, forwarded_by, pod_cidrs};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::query;
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct ForwardPolicyDrop;

impl Rule for ForwardPolicyDrop {
    fn rank(&self) -> u16 {
        13
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        // On dual stack the rules run per family on that family's firewall
        // (ip6tables for IPv6): its pod CIDRs are the ones to accept.
        let family = host::family(ev);
        let cidrs: Vec<_> = pod_cidrs(ev)
            .into_iter()
            .filter(|c| family.is_none_or(|f| crate::model::Family::of(c.addr()) == f))
            .collect();
        host::hosts(ev)
            .filter_map(|h| {
                let d = query::forward_drop(h, &cidrs)?;
                let n = h.node.as_str();
                let mut evidence = vec![format!("{n}: {}", d.policy_line)];
                if d.accepts.is_empty() {
                    evidence.push("no rule in FORWARD (or the chains it jumps to) accepts traffic".into());
                } else {
                    evidence.push(format!(
                        "its ACCEPT rules do not cover the pod CIDRs ({}):",
                        cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                    ));
                    evidence.extend(d.accepts.iter().take(4).map(|a| format!("  {a}")));
                }
                let explains = claim(ev, explained, |c| forwarded_by(c, n));
                let tool = if d.backend == "legacy" { format!("{}-legacy", d.tool) } else { d.tool.to_string() };
                let fix = if d.backend == "nftables" {
                    format!("On {n}: accept pod traffic in that chain (nft add rule … ip saddr <pod CIDR> accept) or set its policy to accept; find who installs it (firewalld, a hardening script).")
                } else {
                    format!(
                        "On {n}: `{tool} -P FORWARD ACCEPT`, or accept the pod CIDRs: `{tool} -I FORWARD -s {c} -j ACCEPT` and `{tool} -I FORWARD -d {c} -j ACCEPT`. If Docker set the policy, keep it from doing so (\"{docker}\": false in /etc/docker/daemon.json, or remove Docker from the node).",
                        docker = d.tool,
                        c = host::covering(&cidrs).map(|c| c.to_string()).unwrap_or_else(|| "<cluster CIDR>".into())
                    )
                };
                Some(diagnosis(
                    ev,
                    FindingId::ForwardPolicyDrop,
                    Severity::Error,
                    format!("{n} drops forwarded pod traffic: FORWARD policy DROP"),
                    n,
                    evidence,
                    explains,
                    fix,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::FindingId;

    #[test]
    fn forward_drop_on_one_node_is_the_root_of_its_failed_cells() {
        let d = sim::cluster(3);
        let checks = sim::run(&d, |t| {
            if testing::through(t, "node-1") {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        let mut hosts = testing::healthy_hosts(&d);
        testing::set_forward_drop(&mut hosts[1]);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::ForwardPolicyDrop], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-1"]);
        assert!(
            f[0].evidence[0].contains(":FORWARD DROP (iptables-nft-save"),
            "{:?}",
            f[0].evidence
        );
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("failed check(s) pass through node-1"))
        );
        assert!(f[0].remediation.contains("iptables -P FORWARD ACCEPT"));
        insta::assert_json_snapshot!(f);
    }

    #[test]
    fn healthy_hosts_and_a_drop_policy_with_flannel_accepts_are_not_findings() {
        let (d, checks, mut hosts) = testing::healthy(2);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        // Policy DROP but FLANNEL-FWD accepts the pod CIDR: pods still pass.
        let b = &mut hosts[0].firewall.as_mut().unwrap().iptables[1];
        let filter = b.tables.iter_mut().find(|t| t.name == "filter").unwrap();
        filter.chain_mut("FORWARD").unwrap().policy = Some("DROP".into());
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }

    /// Dual stack: ip6tables drops forwarded IPv6 on node-1 while iptables
    /// accepts. The IPv6 run reads ip6tables and names the root for IPv6
    /// alone; the IPv4 run, on iptables, finds nothing.
    #[test]
    fn an_ip6tables_drop_on_dual_stack_is_named_for_ipv6_from_ip6tables() {
        let d = sim::dual_stack(sim::cluster(3));
        let checks = testing::ipv6_dead_through(&d, "node-1");
        let mut hosts = testing::healthy_hosts(&d);
        // The drop in node-1's ip6tables only.
        let mut dropping = hosts[1].clone();
        testing::set_forward_drop(&mut dropping);
        for (i, h) in hosts.iter_mut().enumerate() {
            let six = if i == 1 { &dropping } else { &*h };
            let mut ip6tables = six.firewall.as_ref().unwrap().iptables.clone();
            for b in ip6tables.iter_mut() {
                b.binary = Some(format!("ip6tables-{}-save", b.backend));
            }
            h.firewall.as_mut().unwrap().ip6tables = ip6tables;
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::ForwardPolicyDrop], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-1"]);
        assert!(f[0].title.starts_with("IPv6 only"), "{}", f[0].title);
        let ev = f[0].evidence.join("\n");
        assert!(ev.contains(":FORWARD DROP (ip6tables-nft-save"), "{ev}");
        // The pod CIDRs it fails to accept are IPv6's.
        assert!(!ev.contains("198.18."), "{ev}");
        assert!(f[0].remediation.contains("ip6tables -P FORWARD ACCEPT"));
        assert!(f[0].remediation.contains("\"ip6tables\": false"));
        // The same drop in iptables instead is IPv4's, not IPv6's.
        let fw = hosts[1].firewall.as_mut().unwrap();
        std::mem::swap(&mut fw.iptables, &mut fw.ip6tables);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(
            f.iter()
                .filter(|f| f.id == FindingId::ForwardPolicyDrop)
                .all(|f| !f.title.contains("IPv6")),
            "{f:#?}"
        );
    }

    #[test]
    fn legacy_backend_drop_names_iptables_legacy() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let legacy = crate::inspect::iptables::parse(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -o docker0 -j ACCEPT\nCOMMIT\n",
        );
        let b = &mut hosts[0].firewall.as_mut().unwrap().iptables[0];
        b.tables = legacy.tables;
        b.rule_count = 1;
        let f = testing::diagnose(&d, &checks, &hosts);
        let fd = f
            .iter()
            .find(|f| f.id == FindingId::ForwardPolicyDrop)
            .unwrap();
        assert!(fd.remediation.contains("iptables-legacy -P FORWARD ACCEPT"));
        assert!(fd.evidence.iter().any(|e| e.contains("-o docker0")));
    }
}
