//! Diagnosis: checks and host reports in, findings out.
//!
//! Each rule (one file in `rules/`) reads the evidence and emits findings of
//! one ID. Rules run in rank order, root causes first; every finding says
//! which failed checks it explains, and a later finding whose checks are all
//! explained already is a symptom of an earlier root and is dropped. That is
//! how an isolated node becomes one `node-isolated` finding instead of dozens.
//! A root on a node also explains the Service checks balanced to backends on
//! that node, and discovery's control-plane roots (cluster DNS down) absorb
//! their symptoms (`roots`).

pub mod facts;
pub mod family;
pub mod roots;
pub mod rules;
#[cfg(test)]
pub mod sim;

use crate::model::host::HostReport;
use crate::model::{Check, Deployment, Family, Finding, Severity};
use std::collections::BTreeSet;

/// Everything a rule may read.
pub struct Evidence<'a> {
    pub deployment: &'a Deployment,
    pub checks: &'a [Check],
    /// The cells of the run: with aggregation, the passes agents only
    /// counted are here and not in `checks` (`CellSummary::omitted`).
    pub cells: &'a [crate::model::cells::CellSummary],
    pub hosts: &'a [HostReport],
    /// The run's NetworkPolicy model, compiled once by the pipeline; None:
    /// the policy rules compile it from `deployment` themselves.
    pub policy: Option<&'a crate::policy::PolicyJudge>,
}

impl<'a> Evidence<'a> {
    /// The compiled NetworkPolicy model: the run's, or compiled now.
    pub fn policy_judge(&self) -> std::borrow::Cow<'a, crate::policy::PolicyJudge> {
        match self.policy {
            Some(j) => std::borrow::Cow::Borrowed(j),
            None => std::borrow::Cow::Owned(crate::policy::PolicyJudge::new(self.deployment)),
        }
    }

    /// Indices of failed checks (`fail` or `error`) not yet explained.
    ///
    /// Each call walks every check: a rule calls it once per finding (or
    /// once per evaluation), never once per node or node pair, or the
    /// diagnosis grows with nodes × checks (`scans` counts the calls in tests).
    pub fn unexplained_failures<'b>(
        &'b self,
        explained: &'b BTreeSet<usize>,
    ) -> impl Iterator<Item = (usize, &'a Check)> + 'b {
        #[cfg(test)]
        scans::count();
        self.checks.iter().enumerate().filter(move |(i, c)| {
            matches!(
                c.status,
                crate::model::Status::Fail | crate::model::Status::Error
            ) && !explained.contains(i)
        })
    }
}

/// How many times this thread walked the checks for unexplained failures
/// (tests only): the diagnosis of a healthy run walks them a fixed number of
/// times, whatever the number of nodes.
#[cfg(test)]
pub mod scans {
    use std::cell::Cell;
    thread_local!(static SCANS: Cell<usize> = const { Cell::new(0) });
    pub fn count() {
        SCANS.with(|s| s.set(s.get() + 1));
    }
    /// The scans `f` made on this thread.
    pub fn during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let before = SCANS.with(Cell::get);
        let out = f();
        (out, SCANS.with(Cell::get) - before)
    }
}

/// A finding and the failed checks it accounts for.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub finding: Finding,
    pub explains: BTreeSet<usize>,
}

pub trait Rule: Sync {
    /// Lower ranks run first. Host and control-plane roots rank before
    /// data-plane patterns, broad patterns before narrow ones.
    fn rank(&self) -> u16;
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis>;
}

/// Run every rule and return the findings, most severe first.
///
/// On dual stack each family is its own data plane (its own routes,
/// forwarding sysctl, ip6tables), so the rules run once per family, on that
/// family's checks, and the findings are merged: a root both families show
/// is one finding, and a root only one family shows is named for it
/// ("IPv6 only: …", [`family`]).
pub fn diagnose(ev: &Evidence<'_>) -> Vec<Finding> {
    let families: BTreeSet<Family> = ev.checks.iter().map(Check::family).collect();
    if !families.contains(&Family::Ipv6) {
        // IPv4 only, but the nodes have IPv6 nftables state (kube-proxy's
        // nftables mode writes `table ip6 kube-proxy` on a node with IPv6,
        // Services or not): IPv4 is judged on IPv4's tables alone. Copies
        // the host reports only then.
        if ev.hosts.iter().any(has_ip6_nft_rules) {
            let hosts = family_hosts(ev.hosts, Family::Ipv4);
            let part = Evidence {
                hosts: &hosts,
                ..*ev
            };
            return diagnose_one(&part).into_iter().map(|(f, _)| f).collect();
        }
        return diagnose_one(ev).into_iter().map(|(f, _)| f).collect();
    }
    let runs: Vec<family::Run> = families
        .iter()
        .map(|&fam| {
            let checks: Vec<Check> = ev
                .checks
                .iter()
                .filter(|c| c.family() == fam)
                .cloned()
                .collect();
            // Each family's own firewall: ip6tables for IPv6.
            let hosts = family_hosts(ev.hosts, fam);
            let part = Evidence {
                checks: &checks,
                hosts: &hosts,
                ..*ev
            };
            (fam, diagnose_one(&part))
        })
        .collect();
    if runs.len() == 1 {
        return runs
            .into_iter()
            .flat_map(|(_, f)| f)
            .map(|(f, _)| f)
            .collect();
    }
    let mut findings = family::merge(runs);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}

/// The host reports as one family's packets see them
/// ([`crate::model::host::Firewall::for_family`]).
fn family_hosts(hosts: &[HostReport], fam: Family) -> Vec<HostReport> {
    hosts
        .iter()
        .map(|h| HostReport {
            firewall: h.firewall.as_ref().map(|fw| fw.for_family(fam)),
            ..h.clone()
        })
        .collect()
}

/// A node with rules read from an `ip6` nftables table (not one only
/// listed because ip6tables-nft-save read it).
fn has_ip6_nft_rules(h: &HostReport) -> bool {
    h.firewall
        .iter()
        .filter_map(|fw| fw.nftables.as_ref())
        .flat_map(|n| &n.tables)
        .any(|t| t.family == "ip6" && t.read_by.is_none())
}

/// The rules over one set of checks: each finding with how many failed
/// checks it explains (None: discovery's, about no family's checks).
fn diagnose_one(ev: &Evidence<'_>) -> Vec<(Finding, Option<usize>)> {
    let mut rules: Vec<&dyn Rule> = rules::all().to_vec();
    rules.sort_by_key(|r| r.rank());
    let mut explained = BTreeSet::new();
    // Discovery's findings first: cluster DNS down is a root of its own.
    let mut findings: Vec<(Finding, Option<usize>)> = roots::seeded(ev, &mut explained)
        .into_iter()
        .map(|f| (f, None))
        .collect();
    for rule in rules {
        for d in rule.evaluate(ev, &explained) {
            if !d.explains.is_empty() && d.explains.is_subset(&explained) {
                continue;
            }
            explained.extend(d.explains.iter().copied());
            let mut finding = d.finding;
            let mut explains = d.explains;
            // A root on a node also explains the Service checks balanced to
            // backends on it, from every node.
            if rule.rank() < roots::ROOT_RANK_BELOW
                && finding.severity == Severity::Error
                && !explains.is_empty()
            {
                let behind = roots::behind(ev, &explained, &finding.nodes);
                finding
                    .evidence
                    .extend(roots::behind_evidence(ev, &finding.nodes, &behind));
                explained.extend(behind.iter().copied());
                explains.extend(behind);
            }
            roots::fill_nodes(ev, &mut finding, &explains);
            findings.push((finding, Some(explains.len())));
        }
    }
    // Stable order: severity (error first), then rank order of emission.
    findings.sort_by_key(|(f, _)| std::cmp::Reverse(f.severity));
    findings
}

/// Cap the evidence list so a finding stays readable; says how many were left out.
pub fn cap_evidence(mut lines: Vec<String>, max: usize) -> Vec<String> {
    if lines.len() > max {
        let more = lines.len() - max;
        lines.truncate(max);
        lines.push(format!("… and {more} more"));
    }
    lines
}

/// One line describing a check, for evidence: `pod-to-pod tcp/7000 a (node-1) → b (node-2): timeout`.
pub fn describe_check(c: &Check) -> String {
    fn side(e: &crate::model::Endpoint) -> String {
        let who = e
            .pod
            .as_deref()
            .or(e.name.as_deref())
            .or(e.node.as_deref())
            .map(str::to_string)
            .or_else(|| e.ip.map(|ip| ip.to_string()))
            .unwrap_or_else(|| "?".into());
        match (&e.node, &e.pod, &e.name) {
            (Some(n), Some(_), _) | (Some(n), None, Some(_)) => format!("{who} ({n})"),
            _ => who,
        }
    }
    let port = c.port.map(|p| format!("/{p}")).unwrap_or_default();
    // IPv4 stays as it always read; an IPv6 check says so.
    let port = match c.family() {
        Family::Ipv4 => port,
        Family::Ipv6 => format!("{port} IPv6"),
    };
    let detail = if c.detail.is_empty() {
        c.status.as_str().to_string()
    } else {
        c.detail.clone()
    };
    format!(
        "{} {}{} {} → {}: {}",
        c.kind.as_str(),
        c.protocol.as_str(),
        port,
        side(&c.source),
        side(&c.target),
        detail
    )
}

/// Helper for rules: a finding with the usual fields.
pub fn finding(
    id: crate::model::FindingId,
    severity: Severity,
    title: impl Into<String>,
    nodes: Vec<String>,
    evidence: Vec<String>,
    remediation: impl Into<String>,
) -> Finding {
    Finding {
        id,
        severity,
        title: title.into(),
        nodes,
        evidence,
        remediation: remediation.into(),
    }
}
