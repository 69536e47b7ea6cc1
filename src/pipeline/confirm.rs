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
//! [`needs_confirmation`]).
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

/// What the confirmation round did, for the summary and the stage timings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// Probes sent a second time.
    pub reprobed: usize,
    /// Of those, the ones that passed the second time.
    pub recovered: usize,
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

/// The plan that probes `indices` (into `sp`'s probes) again: the same ids,
/// 1.5× the timeouts, and a deadline for that many probes.
pub fn confirmation_plan(sp: &SourcePlan, indices: &[usize]) -> SourcePlan {
    let mut out = SourcePlan {
        source: sp.source.clone(),
        plan: sp.plan.clone(),
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

/// The check that counts, from the first try (failed) and the second.
/// Returns it and whether it recovered.
pub fn settle(first: Check, second: Check) -> (Check, bool) {
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
    c.detail = format!(
        "{RECOVERED_PREFIX}{} on the first try, passed on the second{note}",
        first_try(&first)
    );
    (c, true)
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
    /// Index of the source's plan.
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

/// Fold a source's second answer into its first-round checks (`indices`:
/// the positions there of the probes `cp` asked again). An agent
/// that could not be run the second time leaves the first answers standing,
/// with why in their detail.
pub fn fold(
    checks: &mut [Check],
    cp: &SourcePlan,
    indices: &[usize],
    answer: Result<&ProbeReport, String>,
    tally: &mut Confirmation,
) {
    tally.reprobed += indices.len();
    let second = match answer {
        Ok(report) => plan::assemble(cp, Ok(report)),
        Err(why) => {
            for &i in indices {
                if let Some(c) = checks.get_mut(i) {
                    c.detail = format!("{} (the second try could not run: {why})", c.detail);
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
        let (settled, recovered) = settle(first, again);
        if recovered {
            tally.recovered += 1;
        } else if settled.status == Status::Fail {
            tally.confirmed += 1;
        }
        *slot = settled;
    }
}
