//! Planning: turn a deployment into one probe plan per source, and the agents'
//! answers back into checks.
//!
//! Each source gets its whole plan at once (DESIGN.md: no connection per probe
//! pair). A probe's id is its index into the plan's check templates, so
//! assembling is a lookup, not a search.

use crate::model::plan::{Outcome, Probe, ProbePlan, ProbeReport, ProbeSpec};
use crate::model::report::{Check, CheckKind, Endpoint, Protocol, Status};
use crate::model::topology::{Deployment, ProbePod, Source};
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
    /// Everything but `external` (which needs a target outside the cluster).
    pub fn default_set() -> Self {
        CheckSet(
            CheckKind::ALL
                .into_iter()
                .filter(|k| *k != CheckKind::External)
                .collect(),
        )
    }
    /// Parse `--checks` values; empty means the default set.
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
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            checks: CheckSet::default_set(),
            pairs: PairStrategy::All,
            timing: Timing::default(),
            mtu_floor: 576,
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
    /// MTU: the MTU the path is configured for.
    pub configured_mtu: Option<u16>,
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
    fn push(&mut self, timeout: Duration, retries: u8, spec: ProbeSpec, t: CheckTemplate) {
        let id = self.templates.len().to_string();
        self.plan.probes.push(Probe {
            id,
            timeout_ms: timeout.as_millis() as u64,
            retries,
            spec,
        });
        self.templates.push(t);
    }
}

fn pod_endpoint(p: &ProbePod, ip: IpAddr) -> Endpoint {
    Endpoint {
        node: Some(p.node.clone()),
        pod: Some(p.name.clone()),
        ip: Some(ip),
        name: None,
    }
}

fn same_family(a: &IpAddr, b: &IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
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

/// Build every source's plan.
pub fn plan(d: &Deployment, opts: &PlanOptions) -> Vec<SourcePlan> {
    let t = opts.timing;
    let node_index: BTreeMap<&str, usize> = d
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let pairs = node_pairs(d.nodes.len(), opts.pairs);
    let node_pair_ok = |a: &str, b: &str| -> bool {
        if a == b {
            return true;
        }
        match (node_index.get(a), node_index.get(b)) {
            (Some(&x), Some(&y)) => pairs.contains(&(x, y)),
            // A node we did not discover: probe it rather than hide it.
            _ => true,
        }
    };
    let max_timeout = t.probe_timeout.max(t.dns_timeout);
    // MTU is a property of the path between two nodes: one pod per node
    // measures it towards every other node.
    let mut mtu_nodes_seen = BTreeSet::new();
    let mtu_sources: BTreeSet<&str> = d
        .pods
        .iter()
        .filter(|p| mtu_nodes_seen.insert(p.node.as_str()))
        .map(|p| p.name.as_str())
        .collect();
    let mut out = Vec::new();

    for src in &d.pods {
        let mut sp = SourcePlan {
            source: Source::Pod(src.name.clone()),
            plan: ProbePlan {
                deadline_ms: 0,
                max_in_flight: None,
                probes: Vec::new(),
            },
            templates: Vec::new(),
        };
        for &sip in &src.ips {
            let source = pod_endpoint(src, sip);
            // The first pod on each other node gets the MTU probe (from the
            // first pod of this node only).
            let mut mtu_nodes_done = BTreeSet::new();
            for dst in &d.pods {
                if !node_pair_ok(&src.node, &dst.node) {
                    continue;
                }
                for &dip in dst.ips.iter().filter(|ip| same_family(ip, &sip)) {
                    let target = pod_endpoint(dst, dip);
                    let tmpl = |protocol, port| CheckTemplate {
                        kind: CheckKind::PodToPod,
                        source: source.clone(),
                        target: target.clone(),
                        protocol,
                        port,
                        expect: Vec::new(),
                        configured_mtu: None,
                        note: None,
                    };
                    if opts.checks.contains(CheckKind::PodToPod) && dst.name != src.name {
                        let p = dst.ports;
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Icmp { target: dip },
                            tmpl(Protocol::Icmp, None),
                        );
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Tcp {
                                target: dip,
                                port: p.tcp,
                                echo: true,
                            },
                            tmpl(Protocol::Tcp, Some(p.tcp)),
                        );
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Udp {
                                target: dip,
                                port: p.udp,
                            },
                            tmpl(Protocol::Udp, Some(p.udp)),
                        );
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Http {
                                target: dip,
                                port: p.http,
                                path: "/".into(),
                            },
                            tmpl(Protocol::Http, Some(p.http)),
                        );
                    }
                    if opts.checks.contains(CheckKind::Mtu)
                        && dst.node != src.node
                        && mtu_sources.contains(src.name.as_str())
                        && mtu_nodes_done.insert(dst.node.clone())
                    {
                        let max = src.mtu.unwrap_or(1500);
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Mtu {
                                target: dip,
                                min: opts.mtu_floor.min(max),
                                max,
                            },
                            CheckTemplate {
                                kind: CheckKind::Mtu,
                                configured_mtu: Some(max),
                                ..tmpl(Protocol::Icmp, None)
                            },
                        );
                    }
                }
                // pod → Service of dst (through its own Service: hairpin).
                if let (true, Some(svc)) =
                    (opts.checks.contains(CheckKind::PodToService), &dst.service)
                {
                    for &vip in svc.cluster_ips.iter().filter(|ip| same_family(ip, &sip)) {
                        let target = Endpoint {
                            node: Some(dst.node.clone()),
                            pod: Some(dst.name.clone()),
                            ip: Some(vip),
                            name: Some(format!("{}/{}", svc.namespace, svc.name)),
                        };
                        let note = (dst.name == src.name).then_some("hairpin");
                        let tmpl = |protocol, port| CheckTemplate {
                            kind: CheckKind::PodToService,
                            source: source.clone(),
                            target: target.clone(),
                            protocol,
                            port,
                            expect: Vec::new(),
                            configured_mtu: None,
                            note,
                        };
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Tcp {
                                target: vip,
                                port: dst.ports.tcp,
                                echo: true,
                            },
                            tmpl(Protocol::Tcp, Some(dst.ports.tcp)),
                        );
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Udp {
                                target: vip,
                                port: dst.ports.udp,
                            },
                            tmpl(Protocol::Udp, Some(dst.ports.udp)),
                        );
                    }
                }
            }
            // pod → node (host network).
            if opts.checks.contains(CheckKind::PodToNode) {
                for h in &d.hosts {
                    if !node_pair_ok(&src.node, &h.node) {
                        continue;
                    }
                    for &hip in h.ips.iter().filter(|ip| same_family(ip, &sip)) {
                        let target = Endpoint {
                            node: Some(h.node.clone()),
                            pod: None,
                            ip: Some(hip),
                            name: None,
                        };
                        let tmpl = |protocol, port| CheckTemplate {
                            kind: CheckKind::PodToNode,
                            source: source.clone(),
                            target: target.clone(),
                            protocol,
                            port,
                            expect: Vec::new(),
                            configured_mtu: None,
                            note: None,
                        };
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Icmp { target: hip },
                            tmpl(Protocol::Icmp, None),
                        );
                        if let Some(port) = h.tcp_port {
                            sp.push(
                                t.probe_timeout,
                                t.retries,
                                ProbeSpec::Tcp {
                                    target: hip,
                                    port,
                                    echo: false,
                                },
                                tmpl(Protocol::Tcp, Some(port)),
                            );
                        }
                    }
                }
            }
            // pod → kubernetes.default
            if let (true, Some(api)) = (
                opts.checks.contains(CheckKind::PodToApiserver),
                &d.apiserver,
            ) {
                for &vip in api
                    .service
                    .cluster_ips
                    .iter()
                    .filter(|ip| same_family(ip, &sip))
                {
                    sp.push(
                        t.probe_timeout,
                        t.retries,
                        ProbeSpec::Tcp {
                            target: vip,
                            port: api.port,
                            echo: false,
                        },
                        CheckTemplate {
                            kind: CheckKind::PodToApiserver,
                            source: source.clone(),
                            target: Endpoint {
                                node: api.node.clone(),
                                pod: None,
                                ip: Some(vip),
                                name: Some(format!(
                                    "{}/{}",
                                    api.service.namespace, api.service.name
                                )),
                            },
                            protocol: Protocol::Tcp,
                            port: Some(api.port),
                            expect: Vec::new(),
                            configured_mtu: None,
                            note: None,
                        },
                    );
                }
            }
            // DNS through the Service and straight to each server.
            if let (true, Some(dns)) = (opts.checks.contains(CheckKind::Dns), &d.dns) {
                if same_family(&dns.service.ip, &sip) {
                    // The Service: every name, with the pod's own resolv.conf
                    // (search path and ndots), like an application would.
                    let svc_node = (dns.servers.len() == 1)
                        .then(|| dns.servers[0].node.clone())
                        .flatten();
                    for n in &dns.names {
                        sp.push(
                            t.dns_timeout,
                            t.retries,
                            ProbeSpec::Dns {
                                name: n.name.clone(),
                                server: None,
                                port: None,
                            },
                            CheckTemplate {
                                kind: CheckKind::Dns,
                                source: source.clone(),
                                target: Endpoint {
                                    node: svc_node.clone(),
                                    pod: None,
                                    ip: Some(dns.service.ip),
                                    name: Some(n.name.clone()),
                                },
                                protocol: Protocol::Dns,
                                port: Some(53),
                                expect: n.expect.clone(),
                                configured_mtu: None,
                                note: Some(if n.via_search {
                                    "via the DNS Service, search path"
                                } else {
                                    "via the DNS Service"
                                }),
                            },
                        );
                    }
                }
                // Each server directly, with the first fully qualified name.
                if let Some(fq) = dns.names.iter().find(|n| !n.via_search) {
                    for srv in &dns.servers {
                        let Some(sip2) = srv.ip.filter(|ip| same_family(ip, &sip)) else {
                            continue;
                        };
                        sp.push(
                            t.dns_timeout,
                            t.retries,
                            ProbeSpec::Dns {
                                name: fq.name.clone(),
                                server: Some(sip2),
                                port: None,
                            },
                            CheckTemplate {
                                kind: CheckKind::Dns,
                                source: source.clone(),
                                target: Endpoint {
                                    node: srv.node.clone(),
                                    pod: srv.pod.clone(),
                                    ip: Some(sip2),
                                    name: Some(fq.name.clone()),
                                },
                                protocol: Protocol::Dns,
                                port: Some(53),
                                expect: fq.expect.clone(),
                                configured_mtu: None,
                                note: Some("direct to the DNS pod"),
                            },
                        );
                    }
                }
            }
        }
        if !sp.templates.is_empty() {
            sp.plan.deadline_ms =
                plan_deadline(sp.plan.probes.len(), max_timeout).as_millis() as u64;
            out.push(sp);
        }
    }

    // node (host network) → pod
    if opts.checks.contains(CheckKind::NodeToPod) {
        for h in &d.hosts {
            let mut sp = SourcePlan {
                source: Source::Host(h.node.clone()),
                plan: ProbePlan {
                    deadline_ms: 0,
                    max_in_flight: None,
                    probes: Vec::new(),
                },
                templates: Vec::new(),
            };
            for &hip in &h.ips {
                let source = Endpoint {
                    node: Some(h.node.clone()),
                    pod: None,
                    ip: Some(hip),
                    name: None,
                };
                for dst in d.pods.iter().filter(|p| node_pair_ok(&h.node, &p.node)) {
                    for &dip in dst.ips.iter().filter(|ip| same_family(ip, &hip)) {
                        let tmpl = |protocol, port| CheckTemplate {
                            kind: CheckKind::NodeToPod,
                            source: source.clone(),
                            target: pod_endpoint(dst, dip),
                            protocol,
                            port,
                            expect: Vec::new(),
                            configured_mtu: None,
                            note: None,
                        };
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Icmp { target: dip },
                            tmpl(Protocol::Icmp, None),
                        );
                        sp.push(
                            t.probe_timeout,
                            t.retries,
                            ProbeSpec::Tcp {
                                target: dip,
                                port: dst.ports.tcp,
                                echo: true,
                            },
                            tmpl(Protocol::Tcp, Some(dst.ports.tcp)),
                        );
                    }
                }
            }
            if !sp.templates.is_empty() {
                sp.plan.deadline_ms =
                    plan_deadline(sp.plan.probes.len(), max_timeout).as_millis() as u64;
                out.push(sp);
            }
        }
    }
    out
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
    if t.kind == CheckKind::Mtu && status == Status::Pass {
        match (r.path_mtu, t.configured_mtu) {
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
        status,
        latency_ms: r.latency_ms.map(|l| (l * 1000.0).round() / 1000.0),
        detail,
        path_mtu: r.path_mtu.filter(|_| t.kind == CheckKind::Mtu),
        configured_mtu: t.configured_mtu,
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

fn error_check(t: &CheckTemplate, why: &str) -> Check {
    Check {
        kind: t.kind,
        source: t.source.clone(),
        target: t.target.clone(),
        protocol: t.protocol,
        port: t.port,
        status: Status::Error,
        latency_ms: None,
        detail: why.to_string(),
        path_mtu: None,
        configured_mtu: t.configured_mtu,
        expected: None,
        outcome: None,
    }
}

pub mod not_run;
mod unreached;
pub use unreached::unreached_checks;

#[cfg(test)]
mod tests;
