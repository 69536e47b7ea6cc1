//! The `netcheck/v1` report: the JSON contract of DESIGN.md ("The report").
//! Field names are camelCase; enums are kebab-case strings.

use super::finding::Finding;
use super::host::HostReport;
use super::topology::NodeInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const API_VERSION: &str = "netcheck/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: String,
    pub kind: String,
    pub cluster: ClusterSummary,
    pub nodes: Vec<NodeInfo>,
    /// Every check, or (when `summary.aggregated`) every check but the
    /// passes the cells only count.
    pub checks: Vec<Check>,
    /// One summary per (kind, source node, target, hairpin): counts and
    /// latency of all the checks, those in `checks` and those omitted.
    #[serde(default)]
    pub cells: Vec<super::cells::CellSummary>,
    pub hosts: Vec<HostReport>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    pub name: String,
    pub server: String,
    pub version: String,
    /// Detected CNI ("flannel", "calico", …, or "unknown").
    pub cni: String,
    /// kube-proxy mode ("iptables", "ipvs", "nftables", "replaced by CNI"
    /// (`replaced by cilium`), "none" or "unknown").
    pub kube_proxy_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_service: Option<ServiceRef>,
    /// Fields the API left unknown and the nodes' host reports told
    /// (`cni`, `kubeProxyMode`), each with what showed it on which nodes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub from_nodes: BTreeMap<String, String>,
    /// Policy kinds besides NetworkPolicy the cluster serves (Cilium,
    /// Calico, AdminNetworkPolicy): netcheck does not evaluate them, so the
    /// checks they could govern are `not-judged`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_kinds: Vec<PolicyKind>,
}

/// A network policy kind netcheck does not evaluate, as discovery found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyKind {
    /// `CiliumNetworkPolicy`, `GlobalNetworkPolicy`, `AdminNetworkPolicy`, …
    pub kind: String,
    /// `cilium.io/v2`, `projectcalico.org/v3`, `policy.networking.k8s.io/v1alpha1`.
    pub api_version: String,
    /// Whether its objects apply to pods of every namespace (cluster-scoped
    /// kinds) or only to pods of their own namespace.
    pub cluster_wide: bool,
    /// Objects found; None when they could not be listed (`error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// A namespaced kind: the namespaces that hold its objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Why its objects could not be listed (RBAC: `forbidden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PolicyKind {
    /// `CiliumNetworkPolicy (cilium.io/v2)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.kind, self.api_version)
    }

    /// Whether its objects could decide traffic to or from a pod in
    /// `namespace`. Conservative: objects that could not be listed could
    /// be anywhere.
    pub fn governs(&self, namespace: &str) -> bool {
        match self.count {
            None => true,
            Some(0) => false,
            Some(_) => self.cluster_wide || self.namespaces.iter().any(|n| n == namespace),
        }
    }
}

impl ClusterSummary {
    /// ` (from nodes)` when `field` (`cni`, `kubeProxyMode`) was filled from
    /// the nodes' host reports, for the header lines.
    pub fn provenance(&self, field: &str) -> &'static str {
        if self.from_nodes.contains_key(field) {
            " (from nodes)"
        } else {
            ""
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    pub name: String,
    pub namespace: String,
    pub ip: IpAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    PodToPod,
    PodToService,
    NodeToPod,
    PodToNode,
    PodToApiserver,
    Dns,
    Mtu,
    External,
    /// TCP to a node's IP at the NodePort of a probe Service
    /// (`externalTrafficPolicy: Cluster`), from pods and from host agents.
    Nodeport,
}

impl CheckKind {
    pub const ALL: [CheckKind; 9] = [
        CheckKind::PodToPod,
        CheckKind::PodToService,
        CheckKind::NodeToPod,
        CheckKind::PodToNode,
        CheckKind::PodToApiserver,
        CheckKind::Dns,
        CheckKind::Mtu,
        CheckKind::External,
        CheckKind::Nodeport,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::PodToPod => "pod-to-pod",
            CheckKind::PodToService => "pod-to-service",
            CheckKind::NodeToPod => "node-to-pod",
            CheckKind::PodToNode => "pod-to-node",
            CheckKind::PodToApiserver => "pod-to-apiserver",
            CheckKind::Dns => "dns",
            CheckKind::Mtu => "mtu",
            CheckKind::External => "external",
            CheckKind::Nodeport => "nodeport",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Icmp,
    Tcp,
    Udp,
    Http,
    Dns,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Icmp => "icmp",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Http => "http",
            Protocol::Dns => "dns",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    ExpectedBlock,
    UnexpectedAllow,
    Skipped,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::ExpectedBlock => "expected-block",
            Status::UnexpectedAllow => "unexpected-allow",
            Status::Skipped => "skipped",
            Status::Error => "error",
        }
    }
    /// Whether this status makes the run fail on its own.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::UnexpectedAllow | Status::Error)
    }
}

/// The IP family of a check: the family of its source address (every check
/// runs within one family; on dual stack each pair is checked once per family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Family {
        if ip.is_ipv6() {
            Family::Ipv6
        } else {
            Family::Ipv4
        }
    }
    /// `ipv4`, `ipv6` (the JSON value).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
    /// `IPv4`, `IPv6`, for people.
    pub fn label(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
    /// `v4`, `v6`, for a matrix cell.
    pub fn short(self) -> &'static str {
        match self {
            Family::Ipv4 => "v4",
            Family::Ipv6 => "v6",
        }
    }
}

/// One side of a check. A pod has `node`, `pod`, `ip`; a Service or DNS target
/// also a `name`; a node (host network) has `node` and `ip`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The NetworkPolicy verdict expected for a check (None: no policy question).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    Allow,
    Deny,
    /// A policy kind netcheck does not evaluate (`cluster.policyKinds`)
    /// could decide this traffic: neither verdict is claimed.
    NotJudged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub kind: CheckKind,
    pub source: Endpoint,
    pub target: Endpoint,
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The IP family the check ran in (absent in reports written before
    /// dual stack: then the source address's, see [`Check::family`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default)]
    pub detail: String,
    /// `mtu` checks: the largest packet that crossed the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_mtu: Option<u16>,
    /// `mtu` checks: the MTU the path was configured for (the pod interface's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_mtu: Option<u16>,
    /// What NetworkPolicy says this traffic should do, when a policy applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectation>,
    /// The raw probe outcome behind `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<super::plan::Outcome>,
}

impl Check {
    pub fn source_node(&self) -> Option<&str> {
        self.source.node.as_deref()
    }
    pub fn target_node(&self) -> Option<&str> {
        self.target.node.as_deref()
    }
    /// Both ends known and on different nodes.
    pub fn is_cross_node(&self) -> bool {
        matches!((self.source_node(), self.target_node()), (Some(a), Some(b)) if a != b)
    }
    pub fn is_same_node(&self) -> bool {
        matches!((self.source_node(), self.target_node()), (Some(a), Some(b)) if a == b)
    }
    /// The IP family the check ran in: its `family`, else its source's (or
    /// target's) address family, else IPv4.
    pub fn family(&self) -> Family {
        self.family
            .or_else(|| self.source.ip.map(Family::of))
            .or_else(|| self.target.ip.map(Family::of))
            .unwrap_or(Family::Ipv4)
    }
    /// The check failed on the first try and passed when the confirmation
    /// pass probed it again (`pipeline::confirm`): flaky, not broken.
    pub fn recovered(&self) -> bool {
        self.detail.starts_with(RECOVERED_PREFIX)
    }
}

/// How the detail of a recovered check begins: "flaky: timeout on the first
/// try, passed on the second". The note the planner put in the detail
/// ("hairpin", "via the DNS Service") follows after "; ".
pub const RECOVERED_PREFIX: &str = "flaky: ";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Checks by status (`failed` includes checks that could not run, status `error`).
    pub passed: usize,
    pub failed: usize,
    pub expected_blocks: usize,
    pub unexpected_allows: usize,
    pub skipped: usize,
    /// Findings of severity `error`.
    pub errors: usize,
    /// Findings of severity `warning`.
    pub warnings: usize,
    /// Checks that failed on the first try and passed when probed again
    /// (their detail starts with "flaky: "); counted in `passed` too.
    #[serde(default)]
    pub recovered: usize,
    /// Failed checks whose failure the second try confirmed (counted in
    /// `failed`); the rest of `failed` could not run, or were not probed again.
    #[serde(default)]
    pub confirmed: usize,
    /// Agents counted passed checks per cell instead of answering each
    /// (past a size, or `--aggregate`): `checks` holds every check but
    /// `checksOmitted` passes, which are in `cells`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub aggregated: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub checks_omitted: usize,
    pub duration_ms: u64,
    /// Wall time of each stage: discover, deploy, probe, inspect, diagnose,
    /// render, cleanup; `confirm` (when failures were probed again) is the
    /// part of `probe` the confirmation round took.
    pub stages_ms: BTreeMap<String, u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// Counts from checks and findings; durations and `confirmed` are filled
    /// in by the pipeline.
    pub fn tally(checks: &[Check], findings: &[Finding]) -> Summary {
        use super::finding::Severity;
        let mut s = Summary::default();
        for c in checks {
            if c.recovered() {
                s.recovered += 1;
            }
            match c.status {
                Status::Pass => s.passed += 1,
                // A check that could not run is a failed check for the verdict.
                Status::Fail | Status::Error => s.failed += 1,
                Status::ExpectedBlock => s.expected_blocks += 1,
                Status::UnexpectedAllow => s.unexpected_allows += 1,
                Status::Skipped => s.skipped += 1,
            }
        }
        s.errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        s.warnings = findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
        s
    }
}
