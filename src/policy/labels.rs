//! `--policy-from NAMESPACE`: give the probes the labels of the real
//! workloads of a namespace, so that the namespace's policies select them as
//! they select the workloads. The probes must also run in that namespace,
//! since a policy's podSelector only selects pods of its own namespace.

use super::compile::{Compiled, Direction};
use super::load::pod_info;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::BTreeMap;

/// Labels controllers put on every pod; copying them would confuse the
/// controllers (a ReplicaSet would adopt the probe) and they say nothing a
/// policy should select on.
const CONTROLLER_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-uid",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "batch.kubernetes.io/job-completion-index",
];

/// One workload's labels, for a probe to wear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadLabels {
    /// The workload (`ReplicaSet web-7d9c`, or the pod's name when it has no owner).
    pub workload: String,
    pub labels: BTreeMap<String, String>,
    /// `namespace/name` of the policies that select these labels (either direction).
    pub selected_by: Vec<String>,
}

/// The distinct label sets of the running workloads of a namespace, those
/// that policies select first (most policies first), then by workload name.
/// Host-network pods and finished pods are left out; controller labels are
/// stripped. Assign them to the probes round-robin.
pub fn probe_labels_from(pods: &[Pod], policies: &[NetworkPolicy]) -> Vec<WorkloadLabels> {
    let namespaces = BTreeMap::new();
    let compiled = Compiled::new(policies, &namespaces);
    let mut out: Vec<WorkloadLabels> = Vec::new();
    for p in pods {
        let host_network = p
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        if host_network || matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        let mut info = pod_info(p);
        info.labels
            .retain(|k, _| !CONTROLLER_LABELS.contains(&k.as_str()));
        if info.labels.is_empty() || out.iter().any(|w| w.labels == info.labels) {
            continue;
        }
        let workload = p
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| format!("{} {}", o.kind, o.name))
            .unwrap_or_else(|| format!("Pod {}", info.name));
        let mut selected_by = compiled.selecting(&info, Direction::Ingress);
        for p in compiled.selecting(&info, Direction::Egress) {
            if !selected_by.contains(&p) {
                selected_by.push(p);
            }
        }
        out.push(WorkloadLabels {
            workload,
            labels: info.labels,
            selected_by,
        });
    }
    out.sort_by(|a, b| {
        b.selected_by
            .len()
            .cmp(&a.selected_by.len())
            .then_with(|| a.workload.cmp(&b.workload))
    });
    out
}

/// `--policy-from NAMESPACE[/LABELS]`: where the probes run and whose labels
/// they wear. Without LABELS, those of the namespace's running workloads
/// ([`probe_labels_from`]); with `NAMESPACE/app=web,tier=api`, exactly those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFrom {
    pub namespace: String,
    pub labels: Option<BTreeMap<String, String>>,
}

impl std::str::FromStr for PolicyFrom {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (ns, labels) = match s.split_once('/') {
            Some((ns, l)) => (ns, Some(l)),
            None => (s, None),
        };
        let dns_label = |v: &str| {
            !v.is_empty()
                && v.len() <= 63
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !v.starts_with('-')
                && !v.ends_with('-')
        };
        if !dns_label(ns) {
            return Err(format!(
                "--policy-from {s}: '{ns}' is not a namespace name (lowercase letters, digits and '-'); give NAMESPACE or NAMESPACE/KEY=VALUE,…"
            ));
        }
        let labels = match labels {
            None => None,
            Some(l) => {
                let mut out = BTreeMap::new();
                for term in l.split(',') {
                    let (k, v) = term
                        .split_once('=')
                        .map(|(k, v)| (k.trim(), v.trim()))
                        .filter(|(k, v)| !k.is_empty() && !k.contains('=') && !v.contains('='))
                        .ok_or_else(|| {
                            format!(
                                "--policy-from {s}: '{term}' is not KEY=VALUE (labels are given as NAMESPACE/app=web,tier=api)"
                            )
                        })?;
                    out.insert(k.to_string(), v.to_string());
                }
                Some(out)
            }
        };
        Ok(PolicyFrom {
            namespace: ns.to_string(),
            labels,
        })
    }
}

/// The label sets for `--policy-from`: the given labels, or those of the
/// namespace's workloads. `policies` are the namespace's NetworkPolicies.
pub fn policy_from_labels(
    from: &PolicyFrom,
    pods: &[Pod],
    policies: &[NetworkPolicy],
) -> Vec<WorkloadLabels> {
    match &from.labels {
        Some(labels) => {
            let compiled = Compiled::new(policies, &BTreeMap::new());
            let info = super::world::PodInfo {
                namespace: from.namespace.clone(),
                name: String::new(),
                labels: labels.clone(),
                ips: Vec::new(),
                ports: Vec::new(),
            };
            let mut selected_by = compiled.selecting(&info, Direction::Ingress);
            for p in compiled.selecting(&info, Direction::Egress) {
                if !selected_by.contains(&p) {
                    selected_by.push(p);
                }
            }
            vec![WorkloadLabels {
                workload: "the labels given".into(),
                labels: labels.clone(),
                selected_by,
            }]
        }
        None => probe_labels_from(pods, policies),
    }
}

/// Round-robin: probe `i` wears label set `i mod n`, so every workload's
/// labels are worn by some probe when there are enough probes, on as many
/// nodes as possible (probes are given in node order).
pub fn assign<'a>(
    sets: &'a [WorkloadLabels],
    probes: &[String],
) -> Vec<(String, &'a WorkloadLabels)> {
    if sets.is_empty() {
        return Vec::new();
    }
    probes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), &sets[i % sets.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, labels: &[(&str, &str)], owner: Option<&str>, host: bool) -> Pod {
        let v = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": "shop",
                "labels": labels.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
                "ownerReferences": owner.map(|o| vec![serde_json::json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": o, "uid": "u", "controller": true
                })]),
            },
            "spec": {"hostNetwork": host, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running"}
        });
        serde_json::from_value(v).expect("test pod")
    }

    #[test]
    fn picks_distinct_workload_labels_policy_selected_first() {
        let pods = vec![
            pod(
                "web-1",
                &[("app", "web"), ("pod-template-hash", "abc")],
                Some("web-abc"),
                false,
            ),
            pod(
                "web-2",
                &[("app", "web"), ("pod-template-hash", "abc")],
                Some("web-abc"),
                false,
            ),
            pod(
                "api-1",
                &[("app", "api"), ("pod-template-hash", "def")],
                Some("api-def"),
                false,
            ),
            pod("node-agent", &[("app", "agent")], None, true),
            pod("bare", &[], None, false),
        ];
        let pol: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "api-ingress", "namespace": "shop"},
            "spec": {"podSelector": {"matchLabels": {"app": "api"}}}
        }))
        .expect("test policy");
        let got = probe_labels_from(&pods, &[pol]);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0].workload, "ReplicaSet api-def");
        assert_eq!(
            got[0].labels,
            BTreeMap::from([("app".into(), "api".into())])
        );
        assert_eq!(got[0].selected_by, vec!["shop/api-ingress".to_string()]);
        assert_eq!(got[1].workload, "ReplicaSet web-abc");
        assert!(got[1].selected_by.is_empty());
    }

    #[test]
    fn policy_from_parses_a_namespace_and_optional_labels() {
        let f: PolicyFrom = "shop".parse().unwrap();
        assert_eq!(f.namespace, "shop");
        assert_eq!(f.labels, None);
        let f: PolicyFrom = "shop/app=web, tier=api".parse().unwrap();
        assert_eq!(
            f.labels,
            Some(BTreeMap::from([
                ("app".to_string(), "web".to_string()),
                ("tier".to_string(), "api".to_string())
            ]))
        );
        for bad in [
            "",
            "Shop",
            "-x",
            "shop/app",
            "shop/=web",
            "shop/a=b=c",
            "shop/",
        ] {
            assert!(
                bad.parse::<PolicyFrom>().is_err(),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn label_sets_are_assigned_round_robin() {
        let set = |w: &str| WorkloadLabels {
            workload: w.into(),
            labels: [("app".to_string(), w.to_string())].into(),
            selected_by: Vec::new(),
        };
        let sets = [set("web"), set("api")];
        let probes: Vec<String> = ["n1a", "n1b", "n2a", "n2b", "n3a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got: Vec<(String, String)> = assign(&sets, &probes)
            .into_iter()
            .map(|(p, w)| (p, w.workload.clone()))
            .collect();
        let want: Vec<(String, String)> = [
            ("n1a", "web"),
            ("n1b", "api"),
            ("n2a", "web"),
            ("n2b", "api"),
            ("n3a", "web"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
        assert!(assign(&[], &probes).is_empty());
    }

    #[test]
    fn given_labels_report_the_policies_selecting_them() {
        let pol: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-in", "namespace": "shop"},
            "spec": {"podSelector": {"matchLabels": {"app": "api"}}}
        }))
        .unwrap();
        let from: PolicyFrom = "shop/app=api".parse().unwrap();
        let sets = policy_from_labels(&from, &[], &[pol]);
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].selected_by, vec!["shop/api-in".to_string()]);
    }
}
