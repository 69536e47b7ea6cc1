//! Planning: turn a deployment into one probe plan per source, and the agents'
//! answers back into checks.
//!
//! Each source gets its whole plan at once (DESIGN.md: no connection per probe
//! pair). A probe's id is its index into the plan's check templates, so
//! assembling is a lookup, not a search.

use crate::model::plan::{Outcome, Probe, ProbePlan, ProbeReport, ProbeSpec};
use crate::model::report::{Check, CheckKind, Endpoint, Family, Protocol, Status};
use crate::model::topology::{Deployment, HostAgent, ProbePod, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// `--pairs auto`: the full mesh up to this many nodes…
pub const AUTO_ALL_UP_TO: usize = 50;
/// …then each node to this many others (ring neighbours first).
pub const AUTO_SAMPLE_K: usize = 8;

/// Which node pairs get cross-node checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairStrategy {
    /// `all` up to [`AUTO_ALL_UP_TO`] nodes, then `sample:`[`AUTO_SAMPLE_K`]:
    /// the full mesh while its O(N²) probes are cheap, then O(N·K).
    Auto,
    /// Every ordered pair of nodes (full mesh).
    All,
    /// Each node to the next and the previous one: every node and link class, O(N).
    Ring,
    /// Each node to K others (the ring neighbours first, then spread evenly): O(N·K).
    Sample(usize),
}

impl PairStrategy {
    /// The strategy `auto` stands for with `n` nodes (others are themselves).
    pub fn resolve(self, n: usize) -> PairStrategy {
        match self {
            PairStrategy::Auto if n <= AUTO_ALL_UP_TO => PairStrategy::All,
            PairStrategy::Auto => PairStrategy::Sample(AUTO_SAMPLE_K),
            other => other,
        }
    }
}

impl FromStr for PairStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(PairStrategy::Auto),
            "all" => Ok(PairStrategy::All),
            "ring" => Ok(PairStrategy::Ring),
            _ => match s.strip_prefix("sample:").map(str::parse::<usize>) {
                Some(Ok(k)) if k > 0 => Ok(PairStrategy::Sample(k)),
                _ => Err(format!(
                    "--pairs '{s}' is not one of: auto, all, ring, sample:K (K a whole number above 0)"
                )),
            },
        }
    }
}

/// The check kinds a run includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSet(BTreeSet<CheckKind>);

impl CheckSet {
    /// Everything that can be planned (not `external`, which needs a target
    /// outside the cluster and has no check yet).
    pub fn default_set() -> Self {
        CheckSet(
            CheckKind::ALL
                .into_iter()
                .filter(|k| *k != CheckKind::External)
                .collect(),
        )
    }
    /// Parse `--checks` values; empty means the default set. A kind that no
    /// planner plans yet (`external`) is an error, not a check that runs nothing.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Ok(Self::default_set());
        }
        let mut set = BTreeSet::new();
        for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let kind = CheckKind::ALL
                .into_iter()
                .find(|k| k.as_str() == n)
                .ok_or_else(|| {
                    let known: Vec<&str> = CheckKind::ALL.iter().map(|k| k.as_str()).collect();
                    format!("unknown check '{n}'; known checks: {}", known.join(", "))
                })?;
            if planner(kind).is_none() {
                return Err(format!(
                    "the check '{n}' is not available yet: this version has no {} check \
                     to plan, so it would run no probe; leave it out of --checks",
                    unplanned_what(kind)
                ));
            }
            set.insert(kind);
        }
        Ok(CheckSet(set))
    }
    pub fn contains(&self, k: CheckKind) -> bool {
        self.0.contains(&k)
    }
}

/// Deadlines of one run. A dead path costs one probe timeout, not more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub probe_timeout: Duration,
    pub dns_timeout: Duration,
    /// Extra attempts inside a probe's timeout (one lost packet must not fail a cell).
    pub retries: u8,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            probe_timeout: Duration::from_millis(2000),
            dns_timeout: Duration::from_millis(2000),
            retries: 2,
        }
    }
}

impl PlanOptions {
    /// The plan the `run` and `lab` flags ask for: `--checks`, `--pairs`
    /// and `--probe-timeout` (for DNS queries too); the rest as default.
    pub fn from_flags(checks: CheckSet, pairs: PairStrategy, probe_timeout: Duration) -> Self {
        PlanOptions {
            checks,
            pairs,
            timing: Timing {
                probe_timeout,
                dns_timeout: probe_timeout,
                ..Timing::default()
            },
            ..PlanOptions::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub checks: CheckSet,
    pub pairs: PairStrategy,
    pub timing: Timing,
    /// Smallest packet of the MTU search (the IPv4 minimum every path must carry).
    pub mtu_floor: u16,
    /// Whether agents count their passes per cell (`pipeline::cells`).
    pub aggregate: Aggregate,
}

/// Whether agents answer passed probes in full or count them per cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Aggregate {
    /// Past [`AGGREGATE_ABOVE_CHECKS`] probes or [`AGGREGATE_ABOVE_NODES`] nodes.
    #[default]
    Auto,
    /// Always (`--aggregate`).
    Always,
    /// Never: every check in full (`--all-checks`).
    Never,
}

/// `Aggregate::Auto` counts passes per cell when a run plans more probes than this…
pub const AGGREGATE_ABOVE_CHECKS: usize = 20_000;
/// …or has more nodes than this.
pub const AGGREGATE_ABOVE_NODES: usize = 50;

impl Aggregate {
    /// `--all-checks` and `--aggregate` (clap refuses both at once).
    pub fn from_flags(all_checks: bool, aggregate: bool) -> Aggregate {
        match (all_checks, aggregate) {
            (true, _) => Aggregate::Never,
            (false, true) => Aggregate::Always,
            (false, false) => Aggregate::Auto,
        }
    }
    /// Whether a run of `probes` probes on `nodes` nodes aggregates.
    pub fn applies(self, probes: usize, nodes: usize) -> bool {
        self.applies_with(nodes, || probes)
    }
    /// [`Self::applies`], counting the probes (`probes()`) only when the
    /// answer depends on them: `auto` up to [`AGGREGATE_ABOVE_NODES`] nodes.
    pub fn applies_with(self, nodes: usize, probes: impl FnOnce() -> usize) -> bool {
        match self {
            Aggregate::Auto => nodes > AGGREGATE_ABOVE_NODES || probes() > AGGREGATE_ABOVE_CHECKS,
            Aggregate::Always => true,
            Aggregate::Never => false,
        }
    }
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            checks: CheckSet::default_set(),
            pairs: PairStrategy::All,
            timing: Timing::default(),
            mtu_floor: 576,
            aggregate: Aggregate::Auto,
        }
    }
}

/// What one probe will become once answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckTemplate {
    pub kind: CheckKind,
    pub source: Endpoint,
    pub target: Endpoint,
    pub protocol: Protocol,
    pub port: Option<u16>,
    /// DNS: the addresses the answer must contain (empty: any answer).
    pub expect: Vec<IpAddr>,
    /// Extra words for the detail ("hairpin", "via search path", …).
    pub note: Option<&'static str>,
}

/// One source's plan and the templates its probe ids index.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub source: Source,
    pub plan: ProbePlan,
    pub templates: Vec<CheckTemplate>,
}

impl SourcePlan {
    fn new(source: Source) -> Self {
        SourcePlan {
            source,
            plan: ProbePlan {
                deadline_ms: 0,
                max_in_flight: None,
                later_phases_after_ms: 0,
                probes: Vec::new(),
            },
            templates: Vec::new(),
        }
    }
    fn push(&mut self, timeout: Duration, retries: u8, spec: ProbeSpec, t: CheckTemplate) {
        let id = self.templates.len().to_string();
        self.plan.probes.push(Probe {
            id,
            timeout_ms: timeout.as_millis() as u64,
            retries,
            cell: None,
            phase: phase_of(t.kind),
            spec,
        });
        self.templates.push(t);
    }
}

impl CheckTemplate {
    /// A check of `kind` from `source` to `target` with nothing else to say.
    fn new(
        kind: CheckKind,
        source: &Endpoint,
        target: &Endpoint,
        protocol: Protocol,
        port: Option<u16>,
    ) -> Self {
        CheckTemplate {
            kind,
            source: source.clone(),
            target: target.clone(),
            protocol,
            port,
            expect: Vec::new(),
            note: None,
        }
    }
}

/// How long after its plan began an agent holds back kube-proxy's paths
/// (phase 1, see `ProbePlan::later_phases_after_ms`). kube-proxy's
/// `minSyncPeriod` is 1 s by default: the probe pods have just become ready,
/// and a node programs their Services within about that. A node slower
/// than this is waited for by the confirmation (`pipeline::confirm`). Held
/// by [`hold_later_phases`].
pub const SERVICE_SETTLE: Duration = Duration::from_secs(1);

/// Hold `sp`'s phase-1 probes back for `hold` (when it has any), its
/// deadline longer by as much. The probe stage asks it for what is left of
/// [`SERVICE_SETTLE`] since the stage began: a source asked later (a large
/// run asks a bounded number at once) is not held at all.
pub fn hold_later_phases(sp: &mut SourcePlan, hold: Duration) {
    if hold.is_zero() || !sp.plan.probes.iter().any(|p| p.phase > 0) {
        return;
    }
    let ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
    sp.plan.later_phases_after_ms = ms;
    sp.plan.deadline_ms = sp.plan.deadline_ms.saturating_add(ms);
}

/// The agent starts kube-proxy's paths (Services, NodePorts) after the
/// others: they are the ones a node may not have programmed yet when the
/// probe pods have just become ready (see `Probe::phase`).
pub fn phase_of(kind: CheckKind) -> u8 {
    match kind {
        CheckKind::PodToService | CheckKind::Nodeport => 1,
        _ => 0,
    }
}

/// What a kind without a planner would test, for the usage error.
fn unplanned_what(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::External => "external egress (pod to a target outside the cluster)",
        other => other.as_str(),
    }
}

/// A planner that plans from one pod address to one target pod (called for
/// every target pod on a node paired with the source's, in the deployment's order).
type ToPod = fn(&Ctx<'_>, &SourceAddr<'_>, usize, &ProbePod, &mut SourcePlan);
/// A planner that plans from one pod address to targets it finds itself.
type FromPod = fn(&Ctx<'_>, &SourceAddr<'_>, &mut SourcePlan);
/// A planner that plans from a node's host-network agent.
type FromHost = fn(&Ctx<'_>, &HostAgent, &mut SourcePlan);

/// Where a check kind's probes start, and the planner that plans them.
enum KindPlanner {
    ToPod(ToPod),
    FromPod(FromPod),
    FromHost(FromHost),
    /// From every pod address and from every host agent.
    FromPodAndHost(FromPod, FromHost),
}

/// The order the kinds are planned in within one source address: per target
/// pod pod-to-pod, MTU, pod-to-service; then pod-to-node, the API server, DNS;
/// node-to-pod from the host agents after every pod source; nodeport last
/// in both (so adding it moved no other probe's id). Probe ids follow it.
pub const PLAN_ORDER: [CheckKind; 8] = [
    CheckKind::PodToPod,
    CheckKind::Mtu,
    CheckKind::PodToService,
    CheckKind::PodToNode,
    CheckKind::PodToApiserver,
    CheckKind::Dns,
    CheckKind::NodeToPod,
    CheckKind::Nodeport,
];

/// The planner of each check kind; `None` for a kind nothing can plan yet.
fn planner(kind: CheckKind) -> Option<KindPlanner> {
    Some(match kind {
        CheckKind::PodToPod => KindPlanner::ToPod(pod_to_pod::plan),
        CheckKind::Mtu => KindPlanner::ToPod(mtu::plan),
        CheckKind::PodToService => KindPlanner::ToPod(pod_to_service::plan),
        CheckKind::PodToNode => KindPlanner::FromPod(pod_to_node::plan),
        CheckKind::PodToApiserver => KindPlanner::FromPod(pod_to_apiserver::plan),
        CheckKind::Dns => KindPlanner::FromPod(dns::plan),
        CheckKind::NodeToPod => KindPlanner::FromHost(node_to_pod::plan),
        CheckKind::Nodeport => KindPlanner::FromPodAndHost(nodeport::plan_pod, nodeport::plan_host),
        // No external egress check exists yet: `CheckSet::parse` refuses
        // `--checks external` as a usage error rather than plan nothing.
        CheckKind::External => return None,
    })
}

/// Ordered node pairs (by index into `nodes`) that get cross-node checks.
pub fn node_pairs(n: usize, strategy: PairStrategy) -> BTreeSet<(usize, usize)> {
    let mut pairs = BTreeSet::new();
    if n < 2 {
        return pairs;
    }
    let k = match strategy.resolve(n) {
        PairStrategy::All | PairStrategy::Auto => n - 1,
        PairStrategy::Ring => 1,
        PairStrategy::Sample(k) => k.min(n - 1),
    };
    if k >= n - 1 {
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    pairs.insert((a, b));
                }
            }
        }
        return pairs;
    }
    for a in 0..n {
        // Ring neighbours both ways, then offsets spread over the ring so
        // that sampled pairs reach far nodes too.
        pairs.insert((a, (a + 1) % n));
        pairs.insert(((a + 1) % n, a));
        for j in 1..k {
            let off = 1 + j * (n - 1) / k;
            let b = (a + off) % n;
            if b != a {
                pairs.insert((a, b));
            }
        }
    }
    pairs
}

/// Probes an agent keeps open at once when the plan does not say (the
/// agent's `DEFAULT_MAX_IN_FLIGHT`).
const AGENT_IN_FLIGHT: usize = 1024;
/// What the plan deadline allows per probe for the agent's own work, on top of
/// the probes' timeouts. Generous: on a laptop lab 180 agents share two
/// cores; the deadline is a backstop, not what a run normally costs.
pub const PLAN_BUDGET_PER_PROBE: Duration = Duration::from_millis(50);
/// Start-up, reading the plan, writing the answer.
pub const PLAN_SLACK: Duration = Duration::from_millis(1000);

/// The whole-plan deadline of a plan of `probes` probes whose longest timeout
/// is `max_timeout`.
///
/// Each probe's own timeout starts when the agent starts that probe (not when
/// the plan starts), and that is what a dead path costs. The plan deadline
/// only stops an agent that stalls, so it grows with the plan's work: one
/// timeout per batch of probes the agent can keep open, plus a budget per
/// probe for the agent's own CPU time, plus slack. A fixed deadline would cut
/// off healthy probes of large plans on busy machines.
pub fn plan_deadline(probes: usize, max_timeout: Duration) -> Duration {
    let waves = u32::try_from(probes.div_ceil(AGENT_IN_FLIGHT).max(1)).unwrap_or(u32::MAX);
    let per_probe = PLAN_BUDGET_PER_PROBE.saturating_mul(u32::try_from(probes).unwrap_or(u32::MAX));
    max_timeout
        .saturating_mul(waves.saturating_add(1))
        .saturating_add(per_probe)
        .saturating_add(PLAN_SLACK)
}

/// Plans one source at a time. Sources are numbered in plan order: every
/// pod of the deployment, then every host agent. A run plans, asks and
/// assembles each source in turn and drops its plan (a plan is ~500 bytes a
/// probe, and at 5,000 nodes every plan at once was most of the CLI's
/// memory); the confirmation pass plans a source again for its failed probes.
/// Planning is deterministic: the same source gets the same probes and ids.
pub struct Planner<'a> {
    cx: Ctx<'a>,
    to_pods: Vec<ToPod>,
    from_pod: Vec<FromPod>,
    from_host: Vec<FromHost>,
}

impl<'a> Planner<'a> {
    /// The planners of the kinds `opts.checks` asks for, in [`PLAN_ORDER`].
    pub fn new(d: &'a Deployment, opts: &'a PlanOptions) -> Self {
        let mut p = Planner {
            cx: Ctx::new(d, opts),
            to_pods: Vec::new(),
            from_pod: Vec::new(),
            from_host: Vec::new(),
        };
        for kind in PLAN_ORDER.into_iter().filter(|k| opts.checks.contains(*k)) {
            match planner(kind) {
                Some(KindPlanner::ToPod(f)) => p.to_pods.push(f),
                Some(KindPlanner::FromPod(f)) => p.from_pod.push(f),
                Some(KindPlanner::FromHost(f)) => p.from_host.push(f),
                Some(KindPlanner::FromPodAndHost(pod, host)) => {
                    p.from_pod.push(pod);
                    p.from_host.push(host);
                }
                None => {}
            }
        }
        p
    }

    /// How many sources there are (pods, then host agents), planned or not.
    pub fn len(&self) -> usize {
        self.cx.d.pods.len() + self.cx.d.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The plan of source `i` (a pod's addresses, or a host agent), or None
    /// when it probes nothing or there is no such source.
    pub fn plan_source(&self, i: usize) -> Option<SourcePlan> {
        let d = self.cx.d;
        if let Some(src) = d.pods.get(i) {
            let mut sp = SourcePlan::new(Source::Pod(src.name.clone()));
            for &ip in &src.ips {
                let from = SourceAddr::new(i, src, ip);
                for j in self.cx.pods_reached(&src.node) {
                    let dst = &d.pods[j];
                    self.to_pods
                        .iter()
                        .for_each(|f| f(&self.cx, &from, j, dst, &mut sp));
                }
                self.from_pod
                    .iter()
                    .for_each(|f| f(&self.cx, &from, &mut sp));
            }
            return self.cx.finish(sp);
        }
        let h = d.hosts.get(i - d.pods.len())?;
        let mut sp = SourcePlan::new(Source::Host(h.node.clone()));
        self.from_host.iter().for_each(|f| f(&self.cx, h, &mut sp));
        self.cx.finish(sp)
    }

    /// Every source's plan in turn (what [`plan`] returns, one at a time).
    pub fn plans(&self) -> impl Iterator<Item = SourcePlan> + '_ {
        (0..self.len()).filter_map(|i| self.plan_source(i))
    }

    /// How many probes the run plans, without holding the plans (each is
    /// planned and dropped).
    pub fn count_probes(&self) -> usize {
        self.plans().map(|sp| sp.plan.probes.len()).sum()
    }
}

/// Build every source's plan: each pod's addresses, then each node's host
/// agent, with the planners of the kinds `opts.checks` asks for in
/// [`PLAN_ORDER`] (a probe's id is its place in its source's plan). Holds
/// them all: a run plans per source ([`Planner`]).
pub fn plan(d: &Deployment, opts: &PlanOptions) -> Vec<SourcePlan> {
    Planner::new(d, opts).plans().collect()
}

/// Turn one probe result into a check.
fn judge(t: &CheckTemplate, r: &crate::model::ProbeResult) -> Check {
    if let Some(why) = not_run::reason(r) {
        let note = t.note.map(|n| format!(" ({n})")).unwrap_or_default();
        let mut c = error_check(t, &format!("{}{why}{note}", not_run::NOT_RUN));
        c.status = Status::Skipped;
        c.outcome = Some(r.outcome);
        return c;
    }
    let mut status = match r.outcome {
        Outcome::Ok => Status::Pass,
        Outcome::Error => Status::Error,
        Outcome::Timeout | Outcome::Refused | Outcome::Unreachable => Status::Fail,
    };
    let mut detail = match (&r.outcome, &r.detail) {
        (Outcome::Ok, _) => String::new(),
        (o, Some(d)) => format!("{}: {d}", outcome_word(*o)),
        (o, None) => outcome_word(*o).to_string(),
    };
    if status == Status::Pass && t.protocol == Protocol::Dns && !t.expect.is_empty() {
        let got: BTreeSet<_> = r.addresses.iter().collect();
        if !t.expect.iter().any(|e| got.contains(e)) {
            status = Status::Fail;
            let got: Vec<String> = r.addresses.iter().map(|a| a.to_string()).collect();
            let want: Vec<String> = t.expect.iter().map(|a| a.to_string()).collect();
            detail = format!(
                "wrong answer: resolved to [{}], expected {}",
                got.join(", "),
                want.join(" or ")
            );
        }
    }
    // MTU: the path must carry what the source pod's interface sends, as the
    // agent read it inside the pod (`interfaceMtu`).
    let configured_mtu = r.interface_mtu.filter(|_| t.kind == CheckKind::Mtu);
    if t.kind == CheckKind::Mtu && status == Status::Pass {
        match (r.path_mtu, configured_mtu) {
            (Some(found), Some(want)) if found < want => {
                status = Status::Fail;
                detail = format!(
                    "packets above {found} bytes with DF set vanish; the pod interface MTU is {want}"
                );
            }
            (None, _) => {
                status = Status::Error;
                detail = "the agent reported no path MTU".into();
            }
            _ => {}
        }
    }
    if let Some(note) = t.note {
        detail = if detail.is_empty() {
            note.to_string()
        } else {
            format!("{detail} ({note})")
        };
    }
    Check {
        kind: t.kind,
        source: t.source.clone(),
        target: t.target.clone(),
        protocol: t.protocol,
        port: t.port,
        family: t.source.ip.map(Family::of),
        status,
        latency_ms: r.latency_ms.map(|l| (l * 1000.0).round() / 1000.0),
        detail,
        path_mtu: r.path_mtu.filter(|_| t.kind == CheckKind::Mtu),
        configured_mtu,
        expected: None,
        outcome: Some(r.outcome),
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Timeout => "timeout",
        Outcome::Refused => "refused",
        Outcome::Unreachable => "unreachable",
        Outcome::Error => "error",
    }
}

/// Checks from one source: its answers, or `error` on every cell when the
/// agent could not be run at all.
pub fn assemble(sp: &SourcePlan, answer: Result<&ProbeReport, &str>) -> Vec<Check> {
    match answer {
        Ok(report) => {
            let by_id: BTreeMap<&str, &crate::model::ProbeResult> =
                report.results.iter().map(|r| (r.id.as_str(), r)).collect();
            sp.plan
                .probes
                .iter()
                .zip(&sp.templates)
                .map(|(p, t)| match by_id.get(p.id.as_str()) {
                    Some(r) => judge(t, r),
                    None => error_check(t, "the agent returned no result for this probe"),
                })
                .collect()
        }
        Err(why) => sp.templates.iter().map(|t| error_check(t, why)).collect(),
    }
}

/// The check of one probe: its result, or `error` when there is none.
pub fn check_of(t: &CheckTemplate, r: Option<&crate::model::ProbeResult>) -> Check {
    match r {
        Some(r) => judge(t, r),
        None => error_check(t, "the agent returned no result for this probe"),
    }
}

fn error_check(t: &CheckTemplate, why: &str) -> Check {
    Check {
        kind: t.kind,
        source: t.source.clone(),
        target: t.target.clone(),
        protocol: t.protocol,
        port: t.port,
        family: t.source.ip.map(Family::of),
        status: Status::Error,
        latency_ms: None,
        detail: why.to_string(),
        path_mtu: None,
        configured_mtu: None,
        expected: None,
        outcome: None,
    }
}

mod context;
mod dns;
mod mtu;
mod node_to_pod;
mod nodeport;
pub mod not_run;
mod pod_to_apiserver;
mod pod_to_node;
mod pod_to_pod;
mod pod_to_service;
mod unreached;
use context::{Ctx, SourceAddr};
pub use unreached::unreached_checks;

#[cfg(test)]
mod tests;
