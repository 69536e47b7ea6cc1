//! Reading Namespaces, Pods and NetworkPolicies from YAML: a stream of
//! documents separated by `---`, `kind: List` with `items` (what
//! `kubectl get -o yaml` prints), and typed lists (`PodList`, …) as the API
//! returns them. Other kinds are skipped.

use super::world::{ContainerPort, PodInfo, Proto};
use anyhow::Context;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a set of files held.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
    /// `kind name` of documents of other kinds, skipped.
    pub skipped: Vec<String>,
}

impl Objects {
    /// Namespace name → labels, for every namespace named by a Namespace
    /// object, a pod or a policy.
    pub fn namespace_labels(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for ns in &self.namespaces {
            if let Some(name) = &ns.metadata.name {
                out.insert(name.clone(), ns.metadata.labels.clone().unwrap_or_default());
            }
        }
        let named = self
            .pods
            .iter()
            .map(|p| &p.metadata)
            .chain(self.policies.iter().map(|p| &p.metadata));
        for m in named {
            let ns = m.namespace.clone().unwrap_or_else(|| "default".into());
            out.entry(ns).or_default();
        }
        out
    }

    /// Every pod as the evaluator sees it.
    pub fn pod_infos(&self) -> Vec<PodInfo> {
        self.pods.iter().map(pod_info).collect()
    }
}

/// A Pod object as the evaluator sees it: labels, IPs, container ports.
pub fn pod_info(p: &Pod) -> PodInfo {
    let status = p.status.as_ref();
    let mut ips: Vec<std::net::IpAddr> = status
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.parse().ok())
        .collect();
    if ips.is_empty()
        && let Some(ip) = status
            .and_then(|s| s.pod_ip.as_ref())
            .and_then(|i| i.parse().ok())
    {
        ips.push(ip);
    }
    let ports = p
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|cp| {
            Some(ContainerPort {
                name: cp.name.clone(),
                port: u16::try_from(cp.container_port).ok()?,
                protocol: cp
                    .protocol
                    .as_deref()
                    .map(Proto::parse)
                    .unwrap_or(Some(Proto::Tcp))?,
            })
        })
        .collect();
    PodInfo {
        namespace: p
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        name: p.metadata.name.clone().unwrap_or_default(),
        labels: p.metadata.labels.clone().unwrap_or_default(),
        ips,
        ports,
    }
}

/// Parse one YAML text (a file's content); `origin` names it in errors.
pub fn parse_objects(text: &str, origin: &str) -> anyhow::Result<Objects> {
    let mut out = Objects::default();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml::Value::deserialize(doc)
            .with_context(|| format!("{origin}: document {} is not valid YAML", i + 1))?;
        if value.is_null() {
            continue;
        }
        add_object(
            &mut out,
            value,
            None,
            &format!("{origin}: document {}", i + 1),
        )?;
    }
    Ok(out)
}

fn add_object(
    out: &mut Objects,
    mut value: serde_yaml::Value,
    implied_kind: Option<&str>,
    at: &str,
) -> anyhow::Result<()> {
    let kind = value
        .get("kind")
        .and_then(|k| k.as_str())
        .map(str::to_string)
        .or_else(|| implied_kind.map(str::to_string));
    let Some(kind) = kind else {
        anyhow::bail!(
            "{at}: the object has no `kind` (expected Namespace, Pod, NetworkPolicy or List)"
        );
    };
    if let Some(item_kind) = kind.strip_suffix("List") {
        let items = match value.get_mut("items").map(std::mem::take) {
            Some(serde_yaml::Value::Sequence(items)) => items,
            Some(serde_yaml::Value::Null) | None => Vec::new(),
            Some(_) => anyhow::bail!("{at}: `items` of the {kind} is not a list"),
        };
        let implied = (!item_kind.is_empty()).then_some(item_kind);
        for (i, item) in items.into_iter().enumerate() {
            add_object(out, item, implied, &format!("{at}, items[{i}]"))?;
        }
        return Ok(());
    }
    // Items of typed lists carry no kind; the typed deserializers accept that.
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("<unnamed>")
        .to_string();
    let what = format!("{at} ({kind} {name})");
    match kind.as_str() {
        "Namespace" => out.namespaces.push(
            serde_yaml::from_value(value)
                .with_context(|| format!("{what} is not a valid Namespace"))?,
        ),
        "Pod" => out.pods.push(
            serde_yaml::from_value(value).with_context(|| format!("{what} is not a valid Pod"))?,
        ),
        "NetworkPolicy" => out.policies.push(
            serde_yaml::from_value(value)
                .with_context(|| format!("{what} is not a valid NetworkPolicy"))?,
        ),
        _ => out.skipped.push(format!("{kind} {name}")),
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Read and merge several files.
pub fn load_objects(paths: &[PathBuf]) -> anyhow::Result<Objects> {
    let mut all = Objects::default();
    for p in paths {
        let text = read(p)?;
        let o = parse_objects(&text, &p.display().to_string())?;
        all.namespaces.extend(o.namespaces);
        all.pods.extend(o.pods);
        all.policies.extend(o.policies);
        all.skipped.extend(o.skipped);
    }
    Ok(all)
}

/// The NetworkPolicies in YAML files. Other kinds are ignored; a file with
/// no NetworkPolicy at all is an error, since it is almost certainly the
/// wrong file. A policy without a namespace goes to `default`, as
/// `kubectl apply` would put it.
pub fn load_policy_files(paths: &[PathBuf]) -> anyhow::Result<Vec<NetworkPolicy>> {
    load_policy_files_in(paths, Some("default"))
}

/// [`load_policy_files`], with policies that name no namespace put into
/// `default_namespace` (as `kubectl apply -n NAMESPACE -f FILE` would), or
/// left without one (None) for the caller to place: `lab --policy FILE`
/// puts them into the lab's probe namespace, whose name is random.
pub fn load_policy_files_in(
    paths: &[PathBuf],
    default_namespace: Option<&str>,
) -> anyhow::Result<Vec<NetworkPolicy>> {
    let mut out = Vec::new();
    for p in paths {
        let text = read(p)?;
        let o = parse_objects(&text, &p.display().to_string())?;
        if o.policies.is_empty() {
            let held: Vec<String> = o
                .namespaces
                .iter()
                .map(|n| format!("Namespace {}", n.metadata.name.as_deref().unwrap_or("?")))
                .chain(
                    o.pods
                        .iter()
                        .map(|p| format!("Pod {}", p.metadata.name.as_deref().unwrap_or("?"))),
                )
                .chain(o.skipped.iter().cloned())
                .collect();
            let other = if held.is_empty() {
                String::new()
            } else {
                format!(" (it holds {})", held.join(", "))
            };
            anyhow::bail!(
                "{} holds no NetworkPolicy{other}; give a YAML file with `kind: NetworkPolicy` documents",
                p.display()
            );
        }
        for mut pol in o.policies {
            if pol.metadata.name.as_deref().unwrap_or("").is_empty() {
                anyhow::bail!(
                    "{}: a NetworkPolicy has no metadata.name; name it",
                    p.display()
                );
            }
            if pol.metadata.namespace.as_deref() == Some("") {
                pol.metadata.namespace = None;
            }
            if let Some(ns) = default_namespace {
                pol.metadata.namespace.get_or_insert_with(|| ns.into());
            }
            out.push(pol);
        }
    }
    Ok(out)
}
