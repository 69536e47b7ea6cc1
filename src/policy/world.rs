//! The objects the evaluator reasons about: pods (namespace, name, labels,
//! IPs, container ports), namespaces with their labels, and the traffic a
//! question is about. Plain data, built from k8s-openapi objects or from the
//! run's probe pods.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The label every namespace carries (set by the API server since 1.21).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The protocols NetworkPolicy ports name, and ICMP, which they cannot name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
    Icmp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Sctp => "SCTP",
            Proto::Icmp => "ICMP",
        }
    }
    /// `TCP`, `udp`, … (case-insensitive, as users type it on the command line).
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Proto::Tcp),
            "UDP" => Some(Proto::Udp),
            "SCTP" => Some(Proto::Sctp),
            "ICMP" => Some(Proto::Icmp),
            _ => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container port of a pod (what named ports in policies resolve against).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Proto,
}

/// A pod as NetworkPolicy sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ips: Vec<IpAddr>,
    pub ports: Vec<ContainerPort>,
}

impl PodInfo {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    /// The container port a named port resolves to for `proto`.
    pub fn named_port(&self, name: &str, proto: Proto) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name) && p.protocol == proto)
            .map(|p| p.port)
    }
}

/// One end of a connection.
#[derive(Debug, Clone, Copy)]
pub enum Peer<'a> {
    /// A pod; `ip` is the address this traffic uses (None: any of the pod's).
    Pod {
        pod: &'a PodInfo,
        ip: Option<IpAddr>,
    },
    /// An address that is not a pod of the world (outside the cluster, a node).
    Ip(IpAddr),
    /// Something outside the pods whose address is not known (the endpoint
    /// behind `kubernetes.default`). ipBlock rules cannot be decided for it.
    UnknownIp,
}

impl<'a> Peer<'a> {
    pub fn pod(pod: &'a PodInfo) -> Self {
        Peer::Pod { pod, ip: None }
    }
    pub fn as_pod(&self) -> Option<&'a PodInfo> {
        match self {
            Peer::Pod { pod, .. } => Some(pod),
            _ => None,
        }
    }
    /// How a sentence names it: `ns/pod`, an IP, or "an address outside the cluster".
    pub fn describe(&self) -> String {
        match self {
            Peer::Pod { pod, .. } => pod.key(),
            Peer::Ip(ip) => ip.to_string(),
            Peer::UnknownIp => "an address outside the pod network".to_string(),
        }
    }
}

/// The port part of a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortQuery {
    /// One port of a protocol.
    Port(u16, Proto),
    /// A named port of the destination pod; resolved before evaluation when
    /// the destination is a pod, otherwise it matches only rules without ports.
    Named(String, Proto),
    /// Every port of every protocol: allowed only by rules without `ports`.
    Any,
    /// ICMP: NetworkPolicy ports cannot name it; only rules without `ports` match.
    Icmp,
    /// A port of this protocol that is not known (a Service port whose target
    /// port is not known): rules with ports of the protocol cannot be decided.
    Unknown(Proto),
}

impl fmt::Display for PortQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortQuery::Port(p, proto) => write!(f, "{p}/{proto}"),
            PortQuery::Named(n, proto) => write!(f, "{n}/{proto}"),
            PortQuery::Any => f.write_str("any port"),
            PortQuery::Icmp => f.write_str("ICMP"),
            PortQuery::Unknown(proto) => write!(f, "an unknown {proto} port"),
        }
    }
}

impl PortQuery {
    /// Parse `80`, `80/TCP`, `53/udp`, `http`, `dns/UDP`, `icmp`.
    pub fn parse(s: &str) -> Result<PortQuery, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("icmp") {
            return Ok(PortQuery::Icmp);
        }
        let (port, proto) = match s.split_once('/') {
            Some((p, proto)) => {
                let proto = Proto::parse(proto).ok_or_else(|| {
                    format!("--port '{s}': protocol '{proto}' is not one of TCP, UDP, SCTP")
                })?;
                if proto == Proto::Icmp {
                    return Err(format!("--port '{s}': ICMP has no port; write --port icmp"));
                }
                (p, proto)
            }
            None => (s, Proto::Tcp),
        };
        if port.is_empty() {
            return Err(format!("--port '{s}': the port is missing (e.g. 80/TCP)"));
        }
        if port.bytes().all(|b| b.is_ascii_digit()) {
            return match port.parse::<u16>() {
                Ok(n) if n > 0 => Ok(PortQuery::Port(n, proto)),
                _ => Err(format!(
                    "--port '{s}': {port} is not a port number (1-65535)"
                )),
            };
        }
        let valid_name = port.len() <= 15
            && port
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && port.bytes().any(|b| b.is_ascii_lowercase());
        if !valid_name {
            return Err(format!(
                "--port '{s}': '{port}' is neither a port number nor a port name (lowercase letters, digits, '-', at most 15)"
            ));
        }
        Ok(PortQuery::Named(port.to_string(), proto))
    }

    /// Resolve a named port against the destination pod; numbers stay as they are.
    pub fn resolve(&self, dst: Option<&PodInfo>) -> PortQuery {
        match (self, dst) {
            (PortQuery::Named(n, proto), Some(pod)) => match pod.named_port(n, *proto) {
                Some(p) => PortQuery::Port(p, *proto),
                None => self.clone(),
            },
            _ => self.clone(),
        }
    }
}
