//! `load_policy_files` (for `lab --policy FILE`) and YAML object parsing.

use netcheck::policy::{load_policy_files, parse_objects};
use std::path::PathBuf;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn loads_streams_and_lists_and_defaults_the_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let stream = write(
        &dir,
        "deny.yaml",
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\nspec:\n  podSelector: {}\n---\n# a comment-only document\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ignored\n",
    );
    let list = write(
        &dir,
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: a, namespace: shop}\n  spec: {podSelector: {matchLabels: {app: a}}, policyTypes: [Egress]}\n",
    );
    let typed = write(
        &dir,
        "typed.json",
        r#"{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "items": [{"metadata": {"name": "b", "namespace": "shop"}, "spec": {"podSelector": {}}}]}"#,
    );
    let pols = load_policy_files(&[stream, list, typed]).expect("load");
    let names: Vec<(String, String)> = pols
        .iter()
        .map(|p| {
            (
                p.metadata.namespace.clone().unwrap(),
                p.metadata.name.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("default".into(), "deny-all".into()),
            ("shop".into(), "a".into()),
            ("shop".into(), "b".into())
        ]
    );
}

fn err(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "policy.yaml", text);
    format!("{:#}", load_policy_files(&[p]).expect_err("must fail"))
}

#[test]
fn broken_yaml_names_the_file_document_and_line() {
    let e =
        err("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n---\nmetadata: {name: [x\n");
    assert!(
        e.contains("policy.yaml: document 2 is not valid YAML"),
        "{e}"
    );
    assert!(e.contains("line"), "{e}");
}

#[test]
fn wrong_field_types_name_the_object() {
    let e = err(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: 5\n",
    );
    assert!(
        e.contains("policy.yaml: document 1 (NetworkPolicy p) is not a valid NetworkPolicy"),
        "{e}"
    );
}

#[test]
fn a_file_without_policies_is_an_error() {
    let e = err("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n");
    assert!(
        e.contains("policy.yaml holds no NetworkPolicy (it holds Pod web)"),
        "{e}"
    );
}

#[test]
fn a_policy_without_a_name_is_an_error() {
    let e = err("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nspec: {podSelector: {}}\n");
    assert!(e.contains("has no metadata.name"), "{e}");
}

#[test]
fn a_missing_file_is_named() {
    let e = format!(
        "{:#}",
        load_policy_files(&[PathBuf::from("/nonexistent/p.yaml")]).unwrap_err()
    );
    assert!(e.contains("cannot read /nonexistent/p.yaml"), "{e}");
}

#[test]
fn objects_without_kind_are_rejected() {
    let e = format!(
        "{:#}",
        parse_objects("metadata: {name: x}\n", "f.yaml").unwrap_err()
    );
    assert!(
        e.contains("f.yaml: document 1: the object has no `kind`"),
        "{e}"
    );
}

#[test]
fn pods_and_namespaces_from_kubectl_output() {
    let o = parse_objects(include_str!("fixtures/policy/shop.yaml"), "shop.yaml").expect("parse");
    assert_eq!(
        (o.namespaces.len(), o.pods.len(), o.policies.len()),
        (2, 3, 3)
    );
    let pods = o.pod_infos();
    let api = pods.iter().find(|p| p.name == "api-5c4").unwrap();
    assert_eq!(
        api.ips,
        vec!["198.18.1.12".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(
        api.named_port("metrics", netcheck::policy::Proto::Tcp),
        Some(9090)
    );
    let ns = o.namespace_labels();
    assert_eq!(ns["monitoring"]["purpose"], "monitoring");
}
