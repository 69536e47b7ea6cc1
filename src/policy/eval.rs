//! Answering (source, destination, port) questions from the compiled model,
//! with the reasons: which policies select the pod in each direction, which
//! rule, peer and port allowed the traffic, or that none did.

use super::compile::{
    Compiled, CompiledPolicy, CompiledRule, Direction, NsMatch, PeerMatcher, PortMatcher, PortSpec,
};
use super::world::{Peer, PodInfo, PortQuery};
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
    fn from_bool(b: bool) -> Self {
        if b { Decision::Allow } else { Decision::Deny }
    }
}

/// A rule that matched (the peer, and the port unless `port` is a near miss).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRef {
    /// `namespace/name` of the policy.
    pub policy: String,
    /// Index into `spec.ingress` or `spec.egress`.
    pub rule: usize,
    /// Index into the rule's `from`/`to`; None when the rule has no peers (every peer).
    pub peer: Option<usize>,
    /// Index into the rule's `ports`; None when the rule has no ports (every port).
    pub port: Option<usize>,
    /// `shop/allow-web spec.ingress[0]: from[1] (pods app=web in namespace shop) on ports[0] (8080/TCP)`.
    pub text: String,
}

/// The verdict of one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectionVerdict {
    pub verdict: Decision,
    /// The pod whose policies decide: the source for egress, the destination
    /// for ingress. None when that end is not a pod.
    pub pod: Option<String>,
    /// Policies selecting that pod for this direction (`namespace/name`).
    pub policies: Vec<String>,
    /// Every rule that allows the traffic.
    pub allowed_by: Vec<RuleRef>,
    /// Rules whose peer matched but none of whose ports did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peer_matched_other_ports: Vec<RuleRef>,
    /// False when the answer depends on something unknown (an address or a
    /// port behind a Service); `verdict` is then the stricter answer.
    #[serde(skip_serializing_if = "is_true")]
    pub certain: bool,
    /// The reason, as a sentence.
    pub reason: String,
}

/// "allowed by <rule>" or "not restricted (<why>)", for the one-line verdict.
fn short_allow(d: &DirectionVerdict) -> String {
    match d.allowed_by.first() {
        Some(r) => format!("allowed by {}", r.text),
        None => format!("not restricted ({})", d.reason),
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The verdict for one question: allowed only when egress AND ingress allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub verdict: Decision,
    pub source: String,
    pub destination: String,
    pub port: String,
    pub egress: DirectionVerdict,
    pub ingress: DirectionVerdict,
    /// The sentence a person can act on.
    pub reason: String,
}

impl Verdict {
    pub fn certain(&self) -> bool {
        self.egress.certain && self.ingress.certain
    }
    /// The decision when it does not depend on unknowns.
    pub fn decided(&self) -> Option<Decision> {
        self.certain().then_some(self.verdict)
    }
    /// The directions that deny, with their policies.
    pub fn denying(&self) -> Vec<(Direction, &DirectionVerdict)> {
        [
            (Direction::Egress, &self.egress),
            (Direction::Ingress, &self.ingress),
        ]
        .into_iter()
        .filter(|(_, d)| d.verdict == Decision::Deny)
        .collect()
    }
}

impl Compiled {
    /// Is traffic from `src` to `dst` on `port` allowed?
    pub fn evaluate(&self, src: Peer<'_>, dst: Peer<'_>, port: &PortQuery) -> Verdict {
        let port = port.resolve(dst.as_pod());
        let egress = self.direction(Direction::Egress, src, dst, &port);
        let ingress = self.direction(Direction::Ingress, src, dst, &port);
        let verdict = if egress.verdict == Decision::Allow && ingress.verdict == Decision::Allow {
            Decision::Allow
        } else {
            Decision::Deny
        };
        let reason = match (egress.verdict, ingress.verdict) {
            (Decision::Allow, Decision::Allow) => format!(
                "allow: {} → {} on {port}: ingress {}; egress {}",
                src.describe(),
                dst.describe(),
                short_allow(&ingress),
                short_allow(&egress)
            ),
            (Decision::Deny, Decision::Allow) => format!("deny: {}", egress.reason),
            (Decision::Allow, Decision::Deny) => format!("deny: {}", ingress.reason),
            (Decision::Deny, Decision::Deny) => {
                format!("deny: {}; and {}", egress.reason, ingress.reason)
            }
        };
        Verdict {
            verdict,
            source: src.describe(),
            destination: dst.describe(),
            port: port.to_string(),
            egress,
            ingress,
            reason,
        }
    }

    /// Policies selecting `pod` for `dir`.
    pub fn selecting(&self, pod: &PodInfo, dir: Direction) -> Vec<String> {
        self.selecting_policies(pod, dir)
            .map(CompiledPolicy::key)
            .collect()
    }

    fn selecting_policies<'s>(
        &'s self,
        pod: &'s PodInfo,
        dir: Direction,
    ) -> impl Iterator<Item = &'s CompiledPolicy> + 's {
        self.policies.iter().filter(move |p| {
            p.rules(dir).is_some()
                && p.namespace == pod.namespace
                && p.selector.matches(&pod.labels)
        })
    }

    /// One direction: egress of `src` towards `dst`, or ingress of `dst` from `src`.
    /// Unknowns (an unknown address or port) are decided both ways; when the
    /// answers differ the stricter one is returned with `certain: false`.
    pub fn direction(
        &self,
        dir: Direction,
        src: Peer<'_>,
        dst: Peer<'_>,
        port: &PortQuery,
    ) -> DirectionVerdict {
        let strict = self.direction_assuming(dir, src, dst, port, false);
        if strict.verdict == Decision::Allow {
            return strict;
        }
        let lenient = self.direction_assuming(dir, src, dst, port, true);
        if lenient.verdict == Decision::Allow {
            DirectionVerdict {
                certain: false,
                reason: format!(
                    "{} (undecided: an ipBlock or port rule may match the address or port, which is not known)",
                    strict.reason
                ),
                ..strict
            }
        } else {
            strict
        }
    }

    fn direction_assuming(
        &self,
        dir: Direction,
        src: Peer<'_>,
        dst: Peer<'_>,
        port: &PortQuery,
        assume: bool,
    ) -> DirectionVerdict {
        let (subject, peer) = match dir {
            Direction::Egress => (src, dst),
            Direction::Ingress => (dst, src),
        };
        let open = |pod: Option<String>, reason: String| DirectionVerdict {
            verdict: Decision::Allow,
            pod,
            policies: Vec::new(),
            allowed_by: Vec::new(),
            peer_matched_other_ports: Vec::new(),
            certain: true,
            reason,
        };
        let Some(pod) = subject.as_pod() else {
            let what = match dir {
                Direction::Egress => "the source",
                Direction::Ingress => "the destination",
            };
            return open(
                None,
                format!(
                    "{what} {} is not a pod, so no NetworkPolicy restricts its {dir}",
                    subject.describe()
                ),
            );
        };
        if let (Some(a), Some(b)) = (src.as_pod(), dst.as_pod())
            && a.namespace == b.namespace
            && a.name == b.name
        {
            return open(
                Some(pod.key()),
                format!(
                    "traffic of {} to itself is not subject to NetworkPolicy",
                    pod.key()
                ),
            );
        }
        let selecting: Vec<&CompiledPolicy> = self.selecting_policies(pod, dir).collect();
        if selecting.is_empty() {
            return open(
                Some(pod.key()),
                format!(
                    "{} is not selected by any NetworkPolicy for {dir}, so all its {dir} is allowed",
                    pod.key()
                ),
            );
        }
        let mut allowed_by = Vec::new();
        let mut near = Vec::new();
        let dst_pod = dst.as_pod();
        for p in &selecting {
            for (ri, rule) in p.rules(dir).unwrap_or_default().iter().enumerate() {
                let Some(peer_idx) = self.rule_peer_match(p, rule, peer, assume) else {
                    continue;
                };
                let mk = |port_idx: Option<usize>, port_text: String| {
                    let peer_text = match (peer_idx, &rule.peers) {
                        (Some(i), Some(ps)) => format!("{}[{i}] ({})", dir.peers_field(), ps[i]),
                        _ => match dir {
                            Direction::Ingress => "from any source".to_string(),
                            Direction::Egress => "to any destination".to_string(),
                        },
                    };
                    RuleRef {
                        policy: p.key(),
                        rule: ri,
                        peer: peer_idx,
                        port: port_idx,
                        text: format!("{} spec.{dir}[{ri}]: {peer_text} {port_text}", p.key()),
                    }
                };
                match &rule.ports {
                    None => allowed_by.push(mk(None, "on any port".into())),
                    Some(ports) => {
                        match ports
                            .iter()
                            .position(|pm| port_matches(pm, port, dst_pod, assume))
                        {
                            Some(i) => allowed_by
                                .push(mk(Some(i), format!("on ports[{i}] ({})", ports[i]))),
                            None => {
                                let list: Vec<String> =
                                    ports.iter().map(|p| p.to_string()).collect();
                                near.push(mk(None, format!("only on {}", list.join(", "))));
                            }
                        }
                    }
                }
            }
        }
        let policies: Vec<String> = selecting.iter().map(|p| p.key()).collect();
        let named = if policies.len() == 1 {
            format!("NetworkPolicy {}", policies[0])
        } else {
            format!("NetworkPolicies {}", policies.join(", "))
        };
        let verdict = Decision::from_bool(!allowed_by.is_empty());
        let reason = if let Some(first) = allowed_by.first() {
            format!(
                "{} is selected by {named} ({dir}), and {} allows {} on {port}",
                pod.key(),
                first.text,
                peer.describe()
            )
        } else {
            let of = if policies.len() == 1 { "it" } else { "them" };
            let mut r = format!(
                "{} is selected by {named} ({dir}), and no {dir} rule of {of} allows {} on {port}",
                pod.key(),
                peer.describe()
            );
            if !near.is_empty() {
                let texts: Vec<&str> = near.iter().map(|n| n.text.as_str()).collect();
                r.push_str(&format!(" (the peer matches {})", texts.join("; ")));
            }
            r
        };
        DirectionVerdict {
            verdict,
            pod: Some(pod.key()),
            policies,
            allowed_by,
            peer_matched_other_ports: near,
            certain: true,
            reason,
        }
    }

    /// Some(None): the rule has no peers (every peer); Some(Some(i)): peer i matches.
    fn rule_peer_match(
        &self,
        p: &CompiledPolicy,
        rule: &CompiledRule,
        peer: Peer<'_>,
        assume: bool,
    ) -> Option<Option<usize>> {
        match &rule.peers {
            None => Some(None),
            Some(ps) => ps
                .iter()
                .position(|m| self.peer_matches(p, m, peer, assume))
                .map(Some),
        }
    }

    fn peer_matches(
        &self,
        _p: &CompiledPolicy,
        m: &PeerMatcher,
        peer: Peer<'_>,
        assume: bool,
    ) -> bool {
        match m {
            PeerMatcher::Pods { ns, pods } => {
                let Some(pod) = peer.as_pod() else {
                    return false;
                };
                let ns_ok = match ns {
                    NsMatch::Own(n) => *n == pod.namespace,
                    NsMatch::Selector(s) => s.matches(&self.namespace_labels(&pod.namespace)),
                };
                ns_ok && pods.matches(&pod.labels)
            }
            PeerMatcher::IpBlock { cidr, except } => {
                let in_block =
                    |ip: &IpAddr| cidr.contains(ip) && !except.iter().any(|e| e.contains(ip));
                match peer {
                    Peer::Ip(ip) => in_block(&ip),
                    // Pod IPs match ipBlocks too, as in the upstream e2e tests
                    // (docs/policy.md explains the choice).
                    Peer::Pod { ip: Some(ip), .. } => in_block(&ip),
                    Peer::Pod { pod, ip: None } if !pod.ips.is_empty() => {
                        pod.ips.iter().any(in_block)
                    }
                    Peer::Pod { .. } | Peer::UnknownIp => assume,
                }
            }
            PeerMatcher::Invalid(_) => false,
        }
    }
}

fn port_matches(pm: &PortMatcher, q: &PortQuery, dst: Option<&PodInfo>, assume: bool) -> bool {
    let Some(proto) = pm.proto else {
        return false;
    };
    match q {
        PortQuery::Any | PortQuery::Icmp => false,
        PortQuery::Port(n, qp) => {
            proto == *qp
                && match &pm.spec {
                    PortSpec::Any => true,
                    PortSpec::Range(a, b) => a <= n && n <= b,
                    PortSpec::Named(name) => {
                        dst.and_then(|d| d.named_port(name, proto)) == Some(*n)
                    }
                    PortSpec::Invalid => false,
                }
        }
        PortQuery::Named(name, qp) => {
            proto == *qp
                && match &pm.spec {
                    PortSpec::Any => true,
                    PortSpec::Named(n) => n == name,
                    PortSpec::Range(..) | PortSpec::Invalid => false,
                }
        }
        PortQuery::Unknown(qp) => {
            proto == *qp
                && match &pm.spec {
                    PortSpec::Any => true,
                    PortSpec::Invalid => false,
                    _ => assume,
                }
        }
    }
}
