//! `iptables-backend-mix`: rules in both iptables-legacy and iptables-nft.
//! Both run in the kernel, in an order nobody chose; a component that reads
//! or cleans up one backend never sees the other's rules (kube-proxy in one,
//! the CNI or Docker in the other).

use super::host::{self, claim, diagnosis, service_from};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::query;
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct IptablesBackendMix;

impl Rule for IptablesBackendMix {
    fn rank(&self) -> u16 {
        16
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter_map(|h| {
                let fw = h.firewall.as_ref()?;
                if query::backends_with_rules(fw).len() < 2 {
                    return None;
                }
                let n = h.node.as_str();
                let mut evidence = Vec::new();
                for b in fw.iptables.iter().filter(|b| b.rule_count > 0) {
                    let chains: Vec<String> = b
                        .tables
                        .iter()
                        .flat_map(|t| t.chains.iter().filter(|c| c.rules_total() > 0).map(move |c| format!("{}/{}", t.name, c.name)))
                        .take(6)
                        .collect();
                    evidence.push(format!(
                        "{n}: {} rules in iptables-{} ({}{}), e.g. {}",
                        b.rule_count,
                        b.backend,
                        b.binary.as_deref().unwrap_or("?"),
                        b.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default(),
                        chains.join(", ")
                    ));
                }
                let explains = claim(ev, explained, |c| service_from(c, n));
                Some(diagnosis(
                    ev,
                    FindingId::IptablesBackendMix,
                    Severity::Error,
                    format!("{n} has rules in both iptables backends (legacy and nft)"),
                    n,
                    evidence,
                    explains,
                    format!(
                        "On {n}: pick the backend kube-proxy and the CNI use (iptables --version says which; \
                         `update-alternatives --set iptables /usr/sbin/iptables-nft` or `…-legacy`), \
                         flush the other (`iptables-legacy-save` to keep a copy, then `iptables-legacy -F; \
                         iptables-legacy -t nat -F; iptables-legacy -X; iptables-legacy -t nat -X`), \
                         then restart kube-proxy and the CNI agent on {n} so they rewrite their rules"
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
    use crate::model::FindingId;

    #[test]
    fn kube_proxy_rules_in_both_backends() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let fw = hosts[1].firewall.as_mut().unwrap();
        let nft_tables = fw.iptables[1].tables.clone();
        fw.iptables[0].tables = nft_tables;
        fw.iptables[0].rule_count = fw.iptables[1].rule_count;
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::IptablesBackendMix], "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-1"]);
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("rules in iptables-legacy"))
        );
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("rules in iptables-nft") && e.contains("filter/FORWARD"))
        );
    }

    #[test]
    fn empty_legacy_tables_are_not_a_mix() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let legacy = crate::inspect::iptables::parse(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n",
        );
        hosts[0].firewall.as_mut().unwrap().iptables[0].tables = legacy.tables;
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }
}
