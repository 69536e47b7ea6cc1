//! `conntrack-table-near-full`: more than 90 % of nf_conntrack_max in use.
//! At 100 % the kernel drops every new connection ("nf_conntrack: table
//! full, dropping packet"), which looks like random timeouts.

use super::host::{self, claim, diagnosis, forwarded_by};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct ConntrackTableNearFull;

pub const THRESHOLD_PERCENT: f64 = 90.0;

impl Rule for ConntrackTableNearFull {
    fn rank(&self) -> u16 {
        17
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter_map(|h| {
                let ct = h.conntrack.as_ref()?;
                if ct.max == 0 || ct.percent <= THRESHOLD_PERCENT {
                    return None;
                }
                let n = h.node.as_str();
                let explains = claim(ev, explained, |c| {
                    forwarded_by(c, n)
                        || (c.target.pod.is_none() && c.target_node() == Some(n))
                });
                Some(diagnosis(
                    ev,
                    FindingId::ConntrackTableNearFull,
                    Severity::Error,
                    format!("{n}'s conntrack table is {}% full", ct.percent),
                    n,
                    vec![format!(
                        "{n}: net.netfilter.nf_conntrack_count = {}, net.netfilter.nf_conntrack_max = {} ({}%, above {THRESHOLD_PERCENT}%)",
                        ct.count, ct.max, ct.percent
                    )],
                    explains,
                    format!(
                        "On {n}: raise the limit (`sysctl -w net.netfilter.nf_conntrack_max={}`; kube-proxy sets it from \
                         --conntrack-max-per-core) and find what fills it: `conntrack -L | awk '{{print $1, $5}}' | sort | uniq -c | sort -rn | head` \
                         (a scanner, a UDP flood, a client not reusing connections)",
                        ct.max.saturating_mul(2)
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
    use crate::model::host::Conntrack;

    #[test]
    fn above_ninety_percent_is_a_finding_at_ninety_it_is_not() {
        let (d, checks, mut hosts) = testing::healthy(2);
        hosts[1].conntrack = Some(Conntrack {
            count: 900,
            max: 1000,
            percent: 90.0,
        });
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        hosts[1].conntrack = Some(Conntrack {
            count: 1000,
            max: 1024,
            percent: 97.7,
        });
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::ConntrackTableNearFull]);
        assert!(
            f[0].evidence[0].contains(
                "nf_conntrack_count = 1000, net.netfilter.nf_conntrack_max = 1024 (97.7%"
            )
        );
        assert!(f[0].remediation.contains("nf_conntrack_max=2048"));
    }
}
