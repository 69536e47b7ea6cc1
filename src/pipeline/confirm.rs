//! The confirmation pass: a probe that failed is probed once more before its
//! check counts as failed.
//!
//! After the first round, each source whose answer has failed checks (status
//! `fail`: a timeout, refused, unreachable, a wrong DNS answer, a path MTU
//! below the pod's) gets one more agent call with only those probes, their
//! ids unchanged and their timeouts half as long again. The round starts
//! when the last source with failures has answered, and not before
//! [`CONFIRM_DELAY`] after the first round began, so every failure waits at
//! least that long before its second try (kube-proxy writes a new Service's
//! rules up to about a second after its endpoints appear, and until then the
//! Service answers "refused"), while a dead path, whose first answer took a
//! whole timeout, is not held longer: it costs its first timeout plus the
//! confirmation's, 2.5 timeouts in all. All sources' confirmation calls run
//! at once. A probe that answers the second time is `pass` with a
//! detail beginning "flaky: " ([`crate::model::report::RECOVERED_PREFIX`]);
//! one that fails again keeps the second answer (its longer timeout is the
//! better measurement). Not probed again: checks that could not run
//! (`error`), an agent that could not be run at all (a second exec would fail
//! the same way and cost another bound), and timeouts NetworkPolicy expects
//! (`expected-block` to be; a "refused" there is probed again, see
//! [`needs_confirmation`], and so is a timeout to a target that other traffic
//! the policy denies reached over the same protocol: the policy is not
//! enforced there, see [`unenforced_targets`]).
//!
//! A connection through a Service refused the second time too is tried
//! again each [`SERVICE_RETRY_EVERY`] while it stays refused, until
//! [`SERVICE_SYNC_WINDOW`] after the first round began
//! ([`awaits_service_sync`]).
//!
//! The probe Services are as new as the run: kube-proxy programs them a
//! second or more after their endpoints appear, on every cluster. A Service
//! or NodePort check that passed on a later try while kube-proxy was seen
//! programming them (some connection through one was refused, then passed)
//! waited for kube-proxy: it is a plain pass whose detail begins "waited for
//! kube-proxy: " ([`SYNCED_PREFIX`]), not flaky ([`attribute_sync`]).
//!
//! MTU: the larger path MTU of the two tries counts, since a packet that came
//! back proves the path carries its size, and a smaller result the second time
//! is a lost packet, not a narrower path.

use crate::model::plan::{Outcome, ProbeReport};
use crate::model::report::{CheckKind, RECOVERED_PREFIX};
use crate::model::{Check, Status};
use crate::plan::{self, SourcePlan};
use std::time::Duration;
use tokio::time::Instant;

/// How long after the first round began its failed probes are tried again,
/// at the earliest.
pub const CONFIRM_DELAY: Duration = Duration::from_secs(1);
/// The confirmation's probe timeouts, in percent of the first round's.
pub const CONFIRM_TIMEOUT_PERCENT: u64 = 150;
/// How long after the first round began a connection through a Service that
/// is still refused is tried again. kube-proxy writes a Service's rules at
/// most once per sync period after its endpoints appear (1 s by default; a
/// busy node's `iptables-restore` takes longer), and until then its REJECT
/// rule answers "refused": one second is not enough on a loaded node.
pub const SERVICE_SYNC_WINDOW: Duration = Duration::from_secs(6);
/// The pause between those tries.
pub const SERVICE_RETRY_EVERY: Duration = Duration::from_secs(1);

/// What the confirmation round did, for the summary and the stage timings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// Probes sent a second time.
    pub reprobed: usize,
    /// Of those, the ones that passed the second time (or later) and were
    /// not waiting for kube-proxy: flaky.
    pub recovered: usize,
    /// Of those, Service and NodePort checks that passed once kube-proxy had
    /// programmed the new probe Services ([`attribute_sync`]).
    pub synced: usize,
    /// Of those, the ones that failed again.
    pub confirmed: usize,
    /// Wall time of the round, its delay included; None when nothing was
    /// probed again.
    pub took: Option<Duration>,
}

/// Whether a first-round check is probed again. `expected_block`: NetworkPolicy
/// denies this traffic, so a timeout there is what the policy intends and is
/// not waited for twice. A "refused" is probed again even then: it costs no
/// timeout, and it is what kube-proxy's REJECT for a Service whose rules are
/// not synced yet answers, so a CNI that does not enforce the policy would
/// otherwise pass for one that does.
pub fn needs_confirmation(c: &Check, expected_block: &dyn Fn(&Check) -> bool) -> bool {
    c.status == Status::Fail && (c.outcome == Some(Outcome::Refused) || !expected_block(c))
}

/// What a check reached and how: its target pod (the one behind a Service),
/// else its target's name or IP, and the protocol.
pub fn target_key(c: &Check) -> String {
    let t = &c.target;
    let target = t
        .pod
        .clone()
        .or_else(|| t.name.clone())
        .or_else(|| t.ip.map(|ip| ip.to_string()))
        .unwrap_or_default();
    format!("{target} {:?}", c.protocol)
}

/// Targets that traffic NetworkPolicy denies reached in the first round (a
/// passed check `expected_block` says the policy denies): the policy is not
/// enforced there.
pub fn unenforced_targets<'a>(
    checks: impl Iterator<Item = &'a Check>,
    expected_block: &dyn Fn(&Check) -> bool,
) -> std::collections::HashSet<String> {
    checks
        .filter(|c| c.status == Status::Pass && expected_block(c))
        .map(target_key)
        .collect()
}

/// A failure a Service not yet synced by kube-proxy gives: a connection
/// through a ClusterIP or a NodePort refused. Refused costs no timeout, so
/// such a check is tried again while it stays refused, within
/// [`SERVICE_SYNC_WINDOW`]; every other failure is tried twice in all.
pub fn awaits_service_sync(c: &Check) -> bool {
    c.status == Status::Fail
        && c.outcome == Some(Outcome::Refused)
        && matches!(c.kind, CheckKind::PodToService | CheckKind::Nodeport)
}

/// How the detail of a Service or NodePort check begins that passed once
/// kube-proxy had programmed the run's new probe Services: "waited for
/// kube-proxy: refused on the first try, passed on the second".
pub const SYNCED_PREFIX: &str = "waited for kube-proxy: ";

/// A check through a Service (a ClusterIP or a NodePort) that recovered.
fn recovered_through_service(c: &Check) -> bool {
    c.recovered() && matches!(c.kind, CheckKind::PodToService | CheckKind::Nodeport)
}

/// After the confirmation: the Service and NodePort checks that recovered
/// waited for kube-proxy, when the run saw kube-proxy still programming the
/// new probe Services: one of them was refused (kube-proxy's REJECT for a
/// Service whose endpoints it has not synced yet) and passed later. A timeout
/// through such a Service is then the same wait (the REJECT's ICMP answers
/// are rate-limited, and a rule set half loaded drops a SYN). Without a
/// refusal, a check that failed once through a Service stays flaky: nothing
/// says kube-proxy was behind.
pub fn attribute_sync(per_source: &mut [Vec<Check>], tally: &mut Confirmation) {
    let refused_first = format!("{RECOVERED_PREFIX}refused ");
    let seen_syncing = per_source
        .iter()
        .flatten()
        .any(|c| recovered_through_service(c) && c.detail.starts_with(&refused_first));
    if !seen_syncing {
        return;
    }
    for c in per_source.iter_mut().flatten() {
        if !recovered_through_service(c) {
            continue;
        }
        if let Some(rest) = c.detail.strip_prefix(RECOVERED_PREFIX) {
            c.detail = format!("{SYNCED_PREFIX}{rest}");
            tally.recovered = tally.recovered.saturating_sub(1);
            tally.synced += 1;
        }
    }
}

/// The part of `p` whose checks (in `checks`, the source's) are still
/// refused by a Service: tried again. None when there is none.
pub fn still_refused(p: &Pending, checks: &[Check]) -> Option<Pending> {
    let (indices, slots): (Vec<usize>, Vec<usize>) = p
        .indices
        .iter()
        .zip(&p.slots)
        .filter(|&(_, &slot)| checks.get(slot).is_some_and(awaits_service_sync))
        .map(|(&i, &s)| (i, s))
        .unzip();
    (!indices.is_empty()).then_some(Pending {
        source: p.source,
        indices,
        slots,
        answered_at: p.answered_at,
    })
}

/// The plan that probes `indices` (into `sp`'s probes) again: the same ids,
/// 1.5× the timeouts, and a deadline for that many probes.
pub fn confirmation_plan(sp: &SourcePlan, indices: &[usize]) -> SourcePlan {
    let mut out = SourcePlan {
        source: sp.source.clone(),
        plan: crate::model::ProbePlan {
            deadline_ms: sp.plan.deadline_ms,
            max_in_flight: sp.plan.max_in_flight,
            // Past the first round: kube-proxy had its second.
            later_phases_after_ms: 0,
            probes: Vec::new(),
        },
        templates: Vec::with_capacity(indices.len()),
    };
    out.plan.probes = indices
        .iter()
        .filter_map(|&i| sp.plan.probes.get(i).cloned())
        .map(|mut p| {
            p.timeout_ms = p.timeout_ms.saturating_mul(CONFIRM_TIMEOUT_PERCENT) / 100;
            // Answered in full: a second pass must replace the failure.
            p.cell = None;
            p
        })
        .collect();
    out.templates = indices
        .iter()
        .filter_map(|&i| sp.templates.get(i).cloned())
        .collect();
    let longest = out.plan.probes.iter().map(|p| p.timeout_ms).max();
    out.plan.deadline_ms = plan::plan_deadline(
        out.plan.probes.len(),
        Duration::from_millis(longest.unwrap_or(0)),
    )
    .as_millis() as u64;
    out
}

/// The check that counts, from the try before (failed) and try number
/// `try_no` (2 for the confirmation, more for a Service kube-proxy had not
/// synced yet). Returns it and whether it recovered.
pub fn settle(first: Check, second: Check, try_no: usize) -> (Check, bool) {
    if first.kind == CheckKind::Mtu && first.path_mtu > second.path_mtu {
        // The first sweep measured more: a packet of that size crossed.
        return (first, false);
    }
    if second.status != Status::Pass {
        return (second, false);
    }
    let mut c = second;
    let note = if c.detail.is_empty() {
        String::new()
    } else {
        format!("; {}", c.detail)
    };
    let tries = if try_no <= 2 {
        "on the first try, passed on the second".to_string()
    } else {
        format!(
            "on the first {} tries, passed on the {}",
            try_no - 1,
            ordinal(try_no)
        )
    };
    c.detail = format!("{RECOVERED_PREFIX}{} {tries}{note}", first_try(&first));
    (c, true)
}

/// "second", "third", …, then "7th".
fn ordinal(n: usize) -> String {
    const WORDS: [&str; 9] = [
        "", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
    ];
    WORDS
        .get(n)
        .filter(|w| !w.is_empty())
        .map(|w| w.to_string())
        .unwrap_or_else(|| format!("{n}th"))
}

/// A few words for how the first try failed: "timeout", "refused",
/// "path MTU 1400", "wrong answer".
fn first_try(c: &Check) -> String {
    match (c.outcome, c.path_mtu) {
        (Some(Outcome::Ok), Some(mtu)) if c.kind == CheckKind::Mtu => format!("path MTU {mtu}"),
        (Some(o), _) if o != Outcome::Ok => serde_json::to_value(o)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "failed".into()),
        _ => c
            .detail
            .split([':', ';', '('])
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("failed")
            .to_string(),
    }
}

/// One source's part of the round: which of its first-round checks are
/// probed again, and when its first answer came.
pub struct Pending {
    /// The source's number (`plan::Planner::plan_source`).
    pub source: usize,
    /// Indices into that plan's probes.
    pub indices: Vec<usize>,
    /// Where each of those probes' checks is in the source's first-round
    /// checks (the same as `indices` unless passes were counted per cell).
    pub slots: Vec<usize>,
    pub answered_at: Instant,
}

/// When the round may start: [`CONFIRM_DELAY`] after the last answer with
/// failures (every failure then waited at least that long).
pub fn start_at(pending: &[Pending], first_round_began: Instant) -> Option<Instant> {
    let last = pending.iter().map(|p| p.answered_at).max()?;
    Some(last.max(first_round_began + CONFIRM_DELAY))
}

/// Fold a source's answer to try `try_no` (2: the confirmation) into its
/// checks (`indices`: the positions there of the probes `cp` asked again).
/// An agent that could not be run leaves the answers before standing, with
/// why in their detail. A later try of a Service check moves it from
/// confirmed to recovered when it passes.
pub fn fold(
    checks: &mut [Check],
    cp: &SourcePlan,
    indices: &[usize],
    answer: Result<&ProbeReport, String>,
    tally: &mut Confirmation,
    try_no: usize,
) {
    let retry = try_no > 2;
    if !retry {
        tally.reprobed += indices.len();
    }
    let second = match answer {
        Ok(report) => plan::assemble(cp, Ok(report)),
        Err(why) => {
            for &i in indices {
                if let Some(c) = checks.get_mut(i) {
                    c.detail = format!(
                        "{} (the {} try could not run: {why})",
                        c.detail,
                        ordinal(try_no)
                    );
                }
            }
            return;
        }
    };
    for (&i, again) in indices.iter().zip(second) {
        let Some(slot) = checks.get_mut(i) else {
            continue;
        };
        // No result for this probe the second time, or it could not run:
        // the first answer stands.
        if again.status == Status::Error {
            continue;
        }
        let first = slot.clone();
        let (settled, recovered) = settle(first, again, try_no);
        if recovered {
            tally.recovered += 1;
            if retry {
                tally.confirmed = tally.confirmed.saturating_sub(1);
            }
        } else if settled.status == Status::Fail && !retry {
            tally.confirmed += 1;
        }
        *slot = settled;
    }
}
