//! The probe plan the CLI sends to an agent (JSON on stdin of `agent probe`)
//! and the report the agent writes back (JSON on stdout).

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Everything one source agent must probe, sent once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbePlan {
    /// The whole plan must finish within this many milliseconds; probes still
    /// running then are reported as `timeout`.
    pub deadline_ms: u64,
    /// Upper bound of probes in flight at once (the agent picks a default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// The agent starts no probe of phase 1 or later ([`Probe::phase`])
    /// before this many milliseconds after the plan began: a node's
    /// kube-proxy programs the run's new Services about a second after their
    /// endpoints appear, and a probe sent before that is refused, or its SYN
    /// is dropped and resent a second later (a 1 s "latency" that is not the
    /// path's). Absent: 0.
    #[serde(default, skip_serializing_if = "is_zero_ms")]
    pub later_phases_after_ms: u64,
    pub probes: Vec<Probe>,
}

fn is_zero_ms(n: &u64) -> bool {
    *n == 0
}

/// One probe: an id the result echoes, its own deadline, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub id: String,
    pub timeout_ms: u64,
    /// Extra attempts after a timeout before the probe is called failed
    /// (one dropped packet must not fail a cell). The total still fits in `timeout_ms`.
    #[serde(default)]
    pub retries: u8,
    /// Aggregation (`agent::aggregate`): when set and the probe passes, the
    /// agent only counts it in this cell of its answer (`cells`); any other
    /// outcome is answered in full. Absent: always answered in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<u32>,
    /// When the agent starts this probe: every probe of a lower phase is
    /// started first (in plan order within a phase). The planner puts
    /// probes through kube-proxy's rules (Services, NodePorts) in phase 1:
    /// a node programs a new Service some time after its endpoints are
    /// ready (a second, or more on a busy node), so they go last. Absent: 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub phase: u8,
    #[serde(flatten)]
    pub spec: ProbeSpec,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProbeSpec {
    /// ICMP echo.
    Icmp { target: IpAddr },
    /// TCP connect (and one echo round trip when `echo` is set).
    Tcp {
        target: IpAddr,
        port: u16,
        #[serde(default)]
        echo: bool,
    },
    /// One UDP datagram that the peer must echo back.
    Udp { target: IpAddr, port: u16 },
    /// HTTP GET; ok on any 2xx answer.
    Http {
        target: IpAddr,
        port: u16,
        #[serde(default = "default_path")]
        path: String,
    },
    /// DNS A/AAAA query. `server: None` uses the pod's resolv.conf (search path
    /// and ndots like any pod); otherwise the name is asked as given of that server.
    Dns {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server: Option<IpAddr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// Ask only for this record type (A: IPv4, AAAA: IPv6); absent: both.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<DnsRecord>,
    },
    /// Path MTU: ICMP echoes with DF set at sizes from `min` to `max` bytes of
    /// IP packet; reports the largest size answered. Without `max` (what the
    /// planner sends) the largest size is the MTU of the agent's own interface
    /// toward `target`, which it reads and reports as `interfaceMtu`.
    Mtu {
        target: IpAddr,
        min: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u16>,
    },
}

/// The address record a DNS probe asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsRecord {
    A,
    Aaaa,
}

impl DnsRecord {
    /// The record of an address family's addresses.
    pub fn of(family: super::report::Family) -> DnsRecord {
        match family {
            super::report::Family::Ipv4 => DnsRecord::A,
            super::report::Family::Ipv6 => DnsRecord::Aaaa,
        }
    }
}

fn default_path() -> String {
    "/".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Timeout,
    Refused,
    Unreachable,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub id: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// DNS: the addresses in the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
    /// MTU: the largest IP packet size that came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_mtu: Option<u16>,
    /// MTU: the MTU of the agent's own interface toward the target (the route's
    /// MTU, read inside the pod): what the pod sends with, so what the path
    /// must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_mtu: Option<u16>,
    /// HTTP/TCP/UDP echo: who answered (the responder's JSON identity or echo), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

impl ProbeResult {
    pub fn new(id: impl Into<String>, outcome: Outcome) -> Self {
        ProbeResult {
            id: id.into(),
            outcome,
            latency_ms: None,
            detail: None,
            addresses: Vec::new(),
            path_mtu: None,
            interface_mtu: None,
            peer: None,
        }
    }
}

/// What `agent probe` writes on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    pub results: Vec<ProbeResult>,
    pub duration_ms: f64,
    /// Peak resident memory of the agent in KiB (from /proc/self/status VmHWM), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
    /// Passed probes the agent counted instead of answering (those whose
    /// plan entry names a `cell`), one entry per cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<CellAnswer>,
}

/// An agent's count of the passed probes of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CellAnswer {
    pub cell: u32,
    pub passed: usize,
    /// Latency histogram of the passes (bucket → count, see `model::cells`).
    #[serde(default)]
    pub latency: super::cells::LatencyHistogram,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<f64>,
}
