//! docs/rbac.yaml grants every permission the preflight asks for: the manifest
//! users apply and the check that names a missing rule never drift apart.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use netcheck::kube::preflight::{Permission, required};
use serde::Deserialize;

fn rules() -> (Vec<PolicyRule>, Vec<(String, PolicyRule)>) {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rbac.yaml")).unwrap();
    let mut cluster = Vec::new();
    let mut namespaced = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).unwrap();
        match v.get("kind").and_then(|k| k.as_str()) {
            Some("ClusterRole") => {
                let r: ClusterRole = serde_yaml::from_value(v).unwrap();
                cluster.extend(r.rules.unwrap_or_default());
            }
            Some("Role") => {
                let r: Role = serde_yaml::from_value(v).unwrap();
                let ns = r.metadata.namespace.clone().unwrap();
                namespaced.extend(
                    r.rules
                        .unwrap_or_default()
                        .into_iter()
                        .map(|x| (ns.clone(), x)),
                );
            }
            _ => {}
        }
    }
    (cluster, namespaced)
}

fn grants(rule: &PolicyRule, p: &Permission) -> bool {
    let res = match p.subresource {
        Some(s) => format!("{}/{s}", p.resource),
        None => p.resource.to_string(),
    };
    let has = |list: &Option<Vec<String>>, want: &str| {
        list.as_ref()
            .is_some_and(|l| l.iter().any(|x| x == want || x == "*"))
    };
    let named_ok = match (&rule.resource_names, p.name) {
        (None, _) => true,
        (Some(names), Some(n)) => names.iter().any(|x| x == n),
        (Some(_), None) => false,
    };
    has(&rule.api_groups, p.group)
        && has(&rule.resources, &res)
        && rule.verbs.iter().any(|v| v == p.verb)
        && named_ok
}

#[test]
fn rbac_manifest_grants_everything_the_preflight_checks() {
    let (cluster, namespaced) = rules();
    for create_ns in [true, false] {
        for p in required("netcheck-abc123", create_ns) {
            let ok = cluster.iter().any(|r| grants(r, &p))
                || namespaced
                    .iter()
                    .any(|(ns, r)| Some(ns) == p.namespace.as_ref() && grants(r, &p));
            assert!(ok, "docs/rbac.yaml does not grant: {}", p.describe());
        }
    }
}

#[test]
fn config_maps_are_granted_only_in_kube_system_by_name() {
    let (cluster, namespaced) = rules();
    assert!(!cluster.iter().any(|r| {
        r.resources
            .as_ref()
            .is_some_and(|x| x.iter().any(|x| x == "configmaps"))
    }));
    let cm: Vec<_> = namespaced
        .iter()
        .filter(|(_, r)| {
            r.resources
                .as_ref()
                .is_some_and(|x| x.contains(&"configmaps".to_string()))
        })
        .collect();
    assert_eq!(cm.len(), 1);
    assert_eq!(cm[0].0, "kube-system");
    assert!(cm[0].1.resource_names.is_some());
}
