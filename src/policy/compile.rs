//! NetworkPolicies compiled once into matchers (selectors parsed, CIDRs
//! parsed, policyTypes defaulted), so that thousands of pod-pair questions
//! cost no parsing. `eval` answers the questions.

use super::selector::Selector;
use super::world::{NAMESPACE_NAME_LABEL, Proto};
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Traffic direction, seen from the pod a policy selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
    /// The field naming a rule's peers: `from` or `to`.
    pub fn peers_field(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub(crate) enum NsMatch {
    /// The policy's own namespace.
    Own(String),
    Selector(Selector),
}

#[derive(Debug, Clone)]
pub(crate) enum PeerMatcher {
    Pods {
        ns: NsMatch,
        pods: Selector,
    },
    IpBlock {
        cidr: IpNet,
        except: Vec<IpNet>,
    },
    /// A peer the API server would reject: matches nothing.
    Invalid(String),
}

impl fmt::Display for PeerMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerMatcher::Pods { ns, pods } => {
                let who = if pods.is_everything() {
                    "every pod".to_string()
                } else {
                    format!("pods {pods}")
                };
                match ns {
                    NsMatch::Own(n) => write!(f, "{who} in namespace {n}"),
                    NsMatch::Selector(s) if s.is_everything() => {
                        write!(f, "{who} in every namespace")
                    }
                    NsMatch::Selector(s) => write!(f, "{who} in namespaces {s}"),
                }
            }
            PeerMatcher::IpBlock { cidr, except } if except.is_empty() => {
                write!(f, "IPs in {cidr}")
            }
            PeerMatcher::IpBlock { cidr, except } => {
                let ex: Vec<String> = except.iter().map(|e| e.to_string()).collect();
                write!(f, "IPs in {cidr} except {}", ex.join(", "))
            }
            PeerMatcher::Invalid(why) => write!(f, "an invalid peer ({why})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortSpec {
    /// `port` absent: every port of the protocol.
    Any,
    Range(u16, u16),
    Named(String),
    /// An invalid port: matches nothing.
    Invalid,
}

#[derive(Debug, Clone)]
pub(crate) struct PortMatcher {
    /// None: a protocol the API does not know; matches nothing.
    pub proto: Option<Proto>,
    pub spec: PortSpec,
}

impl fmt::Display for PortMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = self.proto.map(|p| p.as_str()).unwrap_or("?");
        match &self.spec {
            PortSpec::Any => write!(f, "any {proto} port"),
            PortSpec::Range(a, b) if a == b => write!(f, "{a}/{proto}"),
            PortSpec::Range(a, b) => write!(f, "{a}-{b}/{proto}"),
            PortSpec::Named(n) => write!(f, "{n}/{proto}"),
            PortSpec::Invalid => write!(f, "an invalid {proto} port"),
        }
    }
}

/// One ingress or egress rule.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    /// None: `from`/`to` absent or empty, every peer.
    pub peers: Option<Vec<PeerMatcher>>,
    /// None: `ports` absent or empty, every port and protocol.
    pub ports: Option<Vec<PortMatcher>>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledPolicy {
    pub namespace: String,
    pub name: String,
    pub selector: Selector,
    /// Some when the policy affects ingress (the rules may be empty: deny all).
    pub ingress: Option<Vec<CompiledRule>>,
    pub egress: Option<Vec<CompiledRule>>,
}

impl CompiledPolicy {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    pub fn rules(&self, dir: Direction) -> Option<&[CompiledRule]> {
        match dir {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

/// Every policy of a world, compiled, and the namespaces' labels.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    pub(crate) policies: Vec<CompiledPolicy>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// What the API server would have rejected, per policy; such parts match nothing.
    pub warnings: Vec<String>,
}

impl Compiled {
    pub fn new(
        policies: &[NetworkPolicy],
        namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Compiled {
        let mut warnings = Vec::new();
        let compiled = policies
            .iter()
            .map(|p| compile_policy(p, &mut warnings))
            .collect();
        let namespaces = namespaces
            .iter()
            .map(|(n, labels)| {
                let mut labels = labels.clone();
                labels
                    .entry(NAMESPACE_NAME_LABEL.to_string())
                    .or_insert_with(|| n.clone());
                (n.clone(), labels)
            })
            .collect();
        Compiled {
            policies: compiled,
            namespaces,
            warnings,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// A namespace's labels, with `kubernetes.io/metadata.name` defaulted.
    pub fn namespace_labels(&self, ns: &str) -> Cow<'_, BTreeMap<String, String>> {
        match self.namespaces.get(ns) {
            Some(l) => Cow::Borrowed(l),
            None => Cow::Owned(BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                ns.to_string(),
            )])),
        }
    }

    /// `namespace/name` of every policy, in input order.
    pub fn policy_names(&self) -> Vec<String> {
        self.policies.iter().map(|p| p.key()).collect()
    }
}

fn compile_policy(p: &NetworkPolicy, warnings: &mut Vec<String>) -> CompiledPolicy {
    let namespace = p
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let name = p.metadata.name.clone().unwrap_or_default();
    let key = format!("{namespace}/{name}");
    let mut warn = |w: String| warnings.push(format!("NetworkPolicy {key}: {w}"));
    let spec = p.spec.clone().unwrap_or_default();
    let selector = match &spec.pod_selector {
        Some(s) => {
            let (sel, problems) = Selector::compile(s);
            problems
                .into_iter()
                .for_each(|w| warn(format!("spec.podSelector: {w}")));
            sel
        }
        None => Selector::everything(),
    };
    // policyTypes: honoured when given; else Ingress always, Egress when
    // there are egress rules (the API server's defaulting).
    let types: Vec<String> = spec.policy_types.clone().unwrap_or_default();
    let (has_ingress, has_egress) = if types.is_empty() {
        (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty()))
    } else {
        for t in &types {
            if t != "Ingress" && t != "Egress" {
                warn(format!(
                    "spec.policyTypes has '{t}', which is neither Ingress nor Egress"
                ));
            }
        }
        (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        )
    };
    let ingress = has_ingress.then(|| {
        spec.ingress
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                compile_rule(
                    &namespace,
                    r.from.as_deref(),
                    r.ports.as_deref(),
                    &format!("spec.ingress[{i}]"),
                    &mut warn,
                )
            })
            .collect()
    });
    let egress = has_egress.then(|| {
        spec.egress
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                compile_rule(
                    &namespace,
                    r.to.as_deref(),
                    r.ports.as_deref(),
                    &format!("spec.egress[{i}]"),
                    &mut warn,
                )
            })
            .collect()
    });
    CompiledPolicy {
        namespace,
        name,
        selector,
        ingress,
        egress,
    }
}

fn compile_rule(
    namespace: &str,
    peers: Option<&[NetworkPolicyPeer]>,
    ports: Option<&[NetworkPolicyPort]>,
    path: &str,
    warn: &mut impl FnMut(String),
) -> CompiledRule {
    let peers = peers.filter(|p| !p.is_empty()).map(|ps| {
        ps.iter()
            .enumerate()
            .map(|(i, p)| compile_peer(namespace, p, &format!("{path} peer {i}"), warn))
            .collect()
    });
    let ports = ports.filter(|p| !p.is_empty()).map(|ps| {
        ps.iter()
            .enumerate()
            .map(|(i, p)| compile_port(p, &format!("{path}.ports[{i}]"), warn))
            .collect()
    });
    CompiledRule { peers, ports }
}

fn compile_selector(
    s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    path: &str,
    warn: &mut impl FnMut(String),
) -> Selector {
    let (sel, problems) = Selector::compile(s);
    problems
        .into_iter()
        .for_each(|w| warn(format!("{path}: {w}")));
    sel
}

fn compile_peer(
    namespace: &str,
    p: &NetworkPolicyPeer,
    path: &str,
    warn: &mut impl FnMut(String),
) -> PeerMatcher {
    match (&p.ip_block, &p.namespace_selector, &p.pod_selector) {
        (Some(b), None, None) => {
            let cidr = match b.cidr.trim().parse::<IpNet>() {
                Ok(c) => c,
                Err(e) => {
                    let why = format!("ipBlock.cidr '{}' is not a CIDR ({e})", b.cidr);
                    warn(format!("{path}: {why}"));
                    return PeerMatcher::Invalid(why);
                }
            };
            let mut except = Vec::new();
            for e in b.except.iter().flatten() {
                match e.trim().parse::<IpNet>() {
                    Ok(n) => except.push(n),
                    Err(err) => {
                        let why = format!("ipBlock.except '{e}' is not a CIDR ({err})");
                        warn(format!("{path}: {why}"));
                        return PeerMatcher::Invalid(why);
                    }
                }
            }
            PeerMatcher::IpBlock { cidr, except }
        }
        (Some(_), _, _) => {
            let why = "ipBlock together with a selector".to_string();
            warn(format!("{path}: {why}"));
            PeerMatcher::Invalid(why)
        }
        (None, None, None) => {
            let why = "no podSelector, namespaceSelector or ipBlock".to_string();
            warn(format!("{path}: {why}"));
            PeerMatcher::Invalid(why)
        }
        (None, ns, pods) => PeerMatcher::Pods {
            ns: match ns {
                Some(s) => NsMatch::Selector(compile_selector(s, path, warn)),
                None => NsMatch::Own(namespace.to_string()),
            },
            pods: pods
                .as_ref()
                .map(|s| compile_selector(s, path, warn))
                .unwrap_or_else(Selector::everything),
        },
    }
}

fn compile_port(p: &NetworkPolicyPort, path: &str, warn: &mut impl FnMut(String)) -> PortMatcher {
    let proto = match p.protocol.as_deref() {
        None => Some(Proto::Tcp),
        Some(s) => match Proto::parse(s) {
            Some(Proto::Icmp) | None => {
                warn(format!(
                    "{path}: protocol '{s}' is not TCP, UDP or SCTP; it matches nothing"
                ));
                None
            }
            Some(p) => Some(p),
        },
    };
    let spec = match (&p.port, p.end_port) {
        (None, None) => PortSpec::Any,
        (None, Some(_)) => {
            warn(format!("{path}: endPort without port; it matches nothing"));
            PortSpec::Invalid
        }
        (Some(IntOrString::Int(n)), end) => {
            let start = u16::try_from(*n).ok().filter(|n| *n > 0);
            let end = match end {
                None => start,
                Some(e) => u16::try_from(e).ok().filter(|e| Some(*e) >= start),
            };
            match (start, end) {
                (Some(s), Some(e)) => PortSpec::Range(s, e),
                _ => {
                    warn(format!(
                        "{path}: port {n}{} is not a valid port or range; it matches nothing",
                        p.end_port.map(|e| format!("-{e}")).unwrap_or_default()
                    ));
                    PortSpec::Invalid
                }
            }
        }
        (Some(IntOrString::String(s)), None) => {
            if !s.bytes().any(|b| b.is_ascii_alphabetic()) {
                warn(format!(
                    "{path}: port '{s}' is a string but not a port name (the API server rejects it); it matches nothing"
                ));
            }
            PortSpec::Named(s.clone())
        }
        (Some(IntOrString::String(s)), Some(_)) => {
            warn(format!(
                "{path}: endPort with the named port '{s}'; it matches nothing"
            ));
            PortSpec::Invalid
        }
    };
    PortMatcher { proto, spec }
}

/// A pod an egress policy selects, made up from its podSelector (for static checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPodExample {
    pub namespace: String,
    /// The podSelector as text (`app=web`, `{}`).
    pub selector: String,
    /// Labels a selected pod would carry; None when no example can be made.
    pub labels: Option<BTreeMap<String, String>>,
}

impl Compiled {
    /// For each policy that affects egress, an example of the pods it
    /// selects (best effort: equalities, the first value of `In`, a
    /// placeholder value for `Exists`).
    pub fn egress_pod_examples(&self) -> Vec<EgressPodExample> {
        self.policies
            .iter()
            .filter(|p| p.egress.is_some())
            .map(|p| {
                let labels = p.selector.example_labels();
                let ok = p.selector.matches(&labels);
                EgressPodExample {
                    namespace: p.namespace.clone(),
                    selector: p.selector.to_string(),
                    labels: ok.then_some(labels),
                }
            })
            .collect()
    }
}
