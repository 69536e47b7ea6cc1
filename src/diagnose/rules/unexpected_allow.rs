//! `unexpected-allow`: traffic passed that NetworkPolicy denies. One finding
//! per policy that is not enforced, with the cells that prove it.

use crate::diagnose::{Diagnosis, Evidence, Rule, describe_check, finding};
use crate::model::{FindingId, Severity, Status};
use std::collections::{BTreeMap, BTreeSet};

pub struct UnexpectedAllow;

/// Per policy: the directions it denies in, the cells, the nodes.
type Cells = (BTreeSet<&'static str>, Vec<String>, BTreeSet<String>, usize);

/// Cells listed as evidence per policy.
const MAX_CELLS: usize = 12;

impl Rule for UnexpectedAllow {
    fn rank(&self) -> u16 {
        850
    }

    fn evaluate(&self, ev: &Evidence<'_>, _explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let allowed: Vec<_> = ev
            .checks
            .iter()
            .filter(|c| c.status == Status::UnexpectedAllow)
            .collect();
        if allowed.is_empty() {
            return Vec::new();
        }
        let judge = ev.policy_judge();
        let mut by_policy: BTreeMap<String, Cells> = BTreeMap::new();
        for c in allowed {
            let Some((_, denials)) = judge.decide(c) else {
                continue;
            };
            // A policy that denies a cell in both directions counts it once.
            let mut dirs_of: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
            for d in &denials {
                for p in &d.policies {
                    dirs_of
                        .entry(p.clone())
                        .or_default()
                        .insert(d.direction.as_str());
                }
            }
            for (policy, dirs) in dirs_of {
                let e = by_policy.entry(policy).or_default();
                e.0.extend(dirs);
                // Only the cells the finding shows are written out; the rest are counted.
                if e.1.len() < MAX_CELLS {
                    e.1.push(describe_check(c));
                }
                e.3 += 1;
                e.2.extend(c.source.node.iter().chain(c.target.node.iter()).cloned());
            }
        }
        let cni = &ev.deployment.cluster.cni;
        let cni_note = if cni.is_empty() || cni == "unknown" {
            String::new()
        } else {
            format!(" (the cluster runs {cni})")
        };
        by_policy
            .into_iter()
            .map(|(policy, (dirs, cells, nodes, n))| {
                let dirs: Vec<&str> = dirs.into_iter().collect();
                let mut evidence = vec![format!(
                    "NetworkPolicy {policy} ({}) denies {n} probe connection{} that passed",
                    dirs.join(", "),
                    if n == 1 { "" } else { "s" }
                )];
                evidence.extend(cells);
                if n > MAX_CELLS {
                    evidence.push(format!("… and {} more", n - MAX_CELLS));
                }
                Diagnosis {
                    finding: finding(
                        FindingId::UnexpectedAllow,
                        Severity::Error,
                        format!("NetworkPolicy {policy} is not enforced: traffic it denies passed"),
                        nodes.into_iter().collect(),
                        evidence,
                        format!(
                            "The network plugin{cni_note} does not enforce NetworkPolicy. Install one that does (Calico, Cilium, Antrea, or kube-network-policies next to the current CNI), then rerun; `kubectl netcheck explain SRC DST --port P` shows why {policy} denies a cell."
                        ),
                    ),
                    explains: BTreeSet::new(),
                }
            })
            .collect()
    }
}
