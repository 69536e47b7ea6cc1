//! `kubectl netcheck explain SRC DST [--port 80/TCP]`: the NetworkPolicy
//! verdict between two pods (or a pod and an address), from `-f` files or
//! the cluster's objects, as sentences or JSON. It reads the same compiled
//! model the run judges its checks with. The command's handler (flags, the
//! cluster's objects) is `cli/explain.rs`.

use super::compile::Compiled;
use super::eval::{DirectionVerdict, Verdict};
use super::load::load_objects;
use super::world::{Peer, PodInfo, PortQuery};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What `explain` reasons about.
#[derive(Debug, Clone, Default)]
pub struct ExplainInput {
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub pods: Vec<PodInfo>,
    pub policies: Vec<NetworkPolicy>,
    /// Where the objects came from, for error messages ("a.yaml, b.yaml", "the cluster").
    pub origin: String,
}

/// SRC or DST as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Pod { namespace: String, name: String },
    Ip(IpAddr),
}

impl Target {
    /// `namespace/pod`, `pod` (in `default_ns`), or an IP address.
    pub fn parse(s: &str, default_ns: &str) -> Result<Target, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Target::Ip(ip));
        }
        let (ns, name) = match s.split_once('/') {
            Some((ns, name)) => (ns, name),
            None => (default_ns, s),
        };
        let ok = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        if !ok(ns) || !ok(name) || name.contains('/') {
            return Err(format!(
                "'{s}' is neither namespace/pod (e.g. shop/api-5c4) nor an IP address"
            ));
        }
        Ok(Target::Pod {
            namespace: ns.to_string(),
            name: name.to_string(),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Pod { namespace, name } => write!(f, "{namespace}/{name}"),
            Target::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Answer the question; errors are usage errors (an unknown pod, a named
/// port the destination does not have).
pub fn explain(
    input: &ExplainInput,
    src: &Target,
    dst: &Target,
    port: &PortQuery,
) -> Result<(Verdict, Vec<String>), String> {
    let compiled = Compiled::new(&input.policies, &input.namespaces);
    let find = |t: &Target| -> Result<Option<&PodInfo>, String> {
        match t {
            Target::Pod { namespace, name } => input
                .pods
                .iter()
                .find(|p| &p.namespace == namespace && &p.name == name)
                .map(Some)
                .ok_or_else(|| {
                    let mut known: Vec<String> = input.pods.iter().map(PodInfo::key).collect();
                    known.sort();
                    let list = if known.is_empty() {
                        "there are no pods".to_string()
                    } else {
                        let more = known.len().saturating_sub(10);
                        known.truncate(10);
                        let tail = if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        };
                        format!("pods there: {}{tail}", known.join(", "))
                    };
                    format!("pod {t} is not in {} ({list})", input.origin)
                }),
            // An address that belongs to a known pod is that pod.
            Target::Ip(ip) => Ok(input.pods.iter().find(|p| p.ips.contains(ip))),
        }
    };
    let src_pod = find(src)?;
    let dst_pod = find(dst)?;
    let src_peer = as_peer(src, src_pod);
    let dst_peer = as_peer(dst, dst_pod);
    if let PortQuery::Named(name, proto) = port {
        match dst_pod {
            None => {
                return Err(format!(
                    "--port {name}: a named port needs a destination pod; {dst} is an address, give a number"
                ));
            }
            Some(p) if p.named_port(name, *proto).is_none() => {
                let ports: Vec<String> = p
                    .ports
                    .iter()
                    .map(|cp| match &cp.name {
                        Some(n) => format!("{n} ({}/{})", cp.port, cp.protocol),
                        None => format!("{}/{}", cp.port, cp.protocol),
                    })
                    .collect();
                let have = if ports.is_empty() {
                    "it declares no container ports".to_string()
                } else {
                    format!("its ports: {}", ports.join(", "))
                };
                return Err(format!(
                    "{} has no container port named '{name}' for {proto}; {have}",
                    p.key()
                ));
            }
            Some(_) => {}
        }
    }
    let v = compiled.evaluate(src_peer, dst_peer, port);
    Ok((v, compiled.warnings.clone()))
}

fn as_peer<'a>(t: &Target, pod: Option<&'a PodInfo>) -> Peer<'a> {
    match (t, pod) {
        (Target::Ip(ip), Some(p)) => Peer::Pod {
            pod: p,
            ip: Some(*ip),
        },
        (_, Some(p)) => Peer::pod(p),
        (Target::Ip(ip), None) => Peer::Ip(*ip),
        // `find` fails for an unknown pod before this is reached.
        (Target::Pod { .. }, None) => Peer::UnknownIp,
    }
}

/// What to change to allow denied traffic, one line per denying direction.
pub fn hints(v: &Verdict, input: &ExplainInput) -> Vec<String> {
    let pod_labels = |key: &str| {
        input
            .pods
            .iter()
            .find(|p| p.key() == key)
            .map(|p| {
                let l: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if l.is_empty() {
                    format!("{key} (no labels)")
                } else {
                    format!("{key} (labels {})", l.join(","))
                }
            })
            .unwrap_or_else(|| key.to_string())
    };
    let mut out: Vec<String> = v
        .denying()
        .into_iter()
        .map(|(dir, _)| {
            let (subject, other, field) = match dir {
                super::Direction::Egress => (&v.source, &v.destination, "to"),
                super::Direction::Ingress => (&v.destination, &v.source, "from"),
            };
            format!(
                "to allow it, add to a policy selecting {subject} an {dir} rule with `{field}:` matching {} and `ports:` covering {}",
                pod_labels(other),
                v.port
            )
        })
        .collect();
    let port_limited = !v.egress.peer_matched_other_ports.is_empty()
        || !v.ingress.peer_matched_other_ports.is_empty();
    if port_limited && v.port == PortQuery::Any.to_string() {
        out.push(
            "rules match these pods on some ports only; ask about one port with --port PORT/PROTO (e.g. --port 8080/TCP)".into(),
        );
    }
    out
}

fn direction_block(name: &str, d: &DirectionVerdict) -> String {
    let mut s = format!("{name:<8} {:<5}  {}\n", d.verdict.as_str(), d.reason);
    let pad = " ".repeat(16);
    if !d.policies.is_empty() {
        s.push_str(&format!("{pad}selected by: {}\n", d.policies.join(", ")));
    }
    for r in &d.allowed_by {
        s.push_str(&format!("{pad}allowed by:  {}\n", r.text));
    }
    for r in &d.peer_matched_other_ports {
        s.push_str(&format!("{pad}peer only:   {}\n", r.text));
    }
    s
}

/// The human output: the verdict as a sentence, each direction, what to change.
pub fn render_table(v: &Verdict, hints: &[String], warnings: &[String]) -> String {
    let mut s = format!("{}\n\n", v.reason);
    s.push_str(&format!(
        "{} → {} on {}: {}\n",
        v.source,
        v.destination,
        v.port,
        v.verdict.as_str()
    ));
    s.push_str(&direction_block("egress", &v.egress));
    s.push_str(&direction_block("ingress", &v.ingress));
    if !hints.is_empty() {
        s.push('\n');
        for h in hints {
            s.push_str(&format!("hint: {h}\n"));
        }
    }
    if !warnings.is_empty() {
        s.push('\n');
        for w in warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
    }
    s
}

/// `-o json`: `{"verdict", "source", "destination", "port", "egress", "ingress", "reason"}`.
pub fn render_json(v: &Verdict, warnings: &[String]) -> String {
    let mut value = serde_json::to_value(v).unwrap_or_default();
    if !warnings.is_empty()
        && let Some(o) = value.as_object_mut()
    {
        o.insert("warnings".into(), serde_json::json!(warnings));
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// Objects from `-f` files.
pub fn input_from_files(paths: &[std::path::PathBuf]) -> anyhow::Result<ExplainInput> {
    let objects = load_objects(paths)?;
    for s in &objects.skipped {
        tracing::debug!("skipped {s}: explain reads Namespaces, Pods and NetworkPolicies");
    }
    let origin: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Ok(ExplainInput {
        namespaces: objects.namespace_labels(),
        pods: objects.pod_infos(),
        policies: objects.policies.clone(),
        origin: origin.join(", "),
    })
}
