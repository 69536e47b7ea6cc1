//! Truth tables in the style of the upstream e2e netpol tests: namespaces x,
//! y, z (labelled ns=x, …) with pods a, b, c (labelled pod=a, …), one
//! scenario per semantic point of networking.k8s.io/v1, the full 9×9
//! expected matrix compared with the evaluator's (printed as grids on failure).

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netcheck::policy::{Compiled, PortQuery, Proto, TruthTable};

mod policy_common;
use policy_common::{names, world};

fn policies(yaml: &[&str]) -> Vec<NetworkPolicy> {
    yaml.iter()
        .map(|y| serde_yaml::from_str(y).unwrap_or_else(|e| panic!("bad test policy: {e}\n{y}")))
        .collect()
}

/// Compile `yaml`, evaluate all 81 pairs on `port`, compare with the table
/// `expect` builds from a start of `start` (loopback always allowed).
fn scenario(yaml: &[&str], port: PortQuery, start: bool, expect: impl FnOnce(&mut TruthTable)) {
    let (namespaces, pods) = world();
    let compiled = Compiled::new(&policies(yaml), &namespaces);
    assert!(
        compiled.warnings.is_empty(),
        "warnings: {:?}",
        compiled.warnings
    );
    let actual = TruthTable::evaluate(&compiled, &pods, &port);
    let mut expected = TruthTable::new(names(), start);
    expect(&mut expected);
    expected.allow_loopback();
    if let Err(msg) = TruthTable::compare(&expected, &actual) {
        panic!("on {port}: {msg}");
    }
}

fn tcp(p: u16) -> PortQuery {
    PortQuery::Port(p, Proto::Tcp)
}

fn in_ns(ns: &'static str) -> impl Fn(&str) -> bool {
    move |n: &str| n.starts_with(&format!("{ns}/"))
}

fn any(_: &str) -> bool {
    true
}

#[test]
fn no_policy_everything_is_allowed() {
    scenario(&[], tcp(80), true, |_| {});
}

#[test]
fn deny_all_ingress_in_a_namespace() {
    let p = r#"{"metadata": {"name": "deny-all", "namespace": "x"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn policy_selecting_nothing_changes_nothing() {
    let p = r#"{"metadata": {"name": "nobody", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "nobody"}}}}"#;
    scenario(&[p], tcp(80), true, |_| {});
}

#[test]
fn unselected_pods_stay_open() {
    // Only x/a is isolated; x/b and x/c accept everything.
    let p = r#"{"metadata": {"name": "a-only", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false);
    });
}

#[test]
fn policy_types_default_to_ingress_only_without_egress_rules() {
    // No policyTypes and no egress rules: ingress only, egress stays open.
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false).set("x/b", "x/a", true);
    });
}

#[test]
fn policy_types_default_adds_egress_when_egress_rules_exist() {
    // Egress rules and no policyTypes: Ingress AND Egress; no ingress rules, so all ingress denied.
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false)
            .egress("x/a", false)
            .set_where(|f| f == "x/a", in_ns("y"), true);
    });
}

#[test]
fn empty_egress_list_without_policy_types_is_ingress_only() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "egress": []}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false);
    });
}

#[test]
fn explicit_egress_policy_type_denies_egress_and_leaves_ingress_open() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.egress("x/a", false);
    });
}

#[test]
fn explicit_policy_types_ignore_rules_of_the_other_direction() {
    // policyTypes [Ingress]: the egress rules are ignored (egress stays open).
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}]}],
        "egress": [{"to": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false).set("x/c", "x/a", true);
    });
}

#[test]
fn explicit_empty_ingress_denies_all_ingress() {
    let p = r#"{"metadata": {"name": "p", "namespace": "y"}, "spec": {"podSelector": {"matchLabels": {"pod": "b"}}, "policyTypes": ["Ingress"], "ingress": []}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("y/b", false);
    });
}

#[test]
fn empty_ingress_list_without_policy_types_denies_all_ingress() {
    // `ingress: []` and no policyTypes: Ingress by default, and no rule allows.
    let p = r#"{"metadata": {"name": "p", "namespace": "z"}, "spec": {"podSelector": {"matchLabels": {"pod": "c"}}, "ingress": []}}"#;
    for port in [tcp(80), PortQuery::Port(53, Proto::Udp), PortQuery::Icmp] {
        scenario(&[p], port, true, |t| {
            t.ingress("z/c", false);
        });
    }
}

#[test]
fn deny_all_egress_and_ingress() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(any, in_ns("x"), false)
            .set_where(in_ns("x"), any, false);
    });
}

#[test]
fn union_of_all_policies_selecting_a_pod() {
    let p1 = r#"{"metadata": {"name": "from-b", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}}"#;
    let p2 = r#"{"metadata": {"name": "from-c", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}]}]}}"#;
    scenario(&[p1, p2], tcp(80), true, |t| {
        t.ingress("x/a", false)
            .set("x/b", "x/a", true)
            .set("x/c", "x/a", true);
    });
}

#[test]
fn traffic_needs_source_egress_and_destination_ingress() {
    // x/a may send only to namespace y; y/b accepts only from z. So x/a → y/b is denied on both sides.
    let egress = r#"{"metadata": {"name": "a-to-y", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}}"#;
    let ingress = r#"{"metadata": {"name": "b-from-z", "namespace": "y"}, "spec": {"podSelector": {"matchLabels": {"pod": "b"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}}"#;
    scenario(&[egress, ingress], tcp(80), true, |t| {
        t.egress("x/a", false)
            .set_where(|f| f == "x/a", in_ns("y"), true)
            .ingress("y/b", false)
            .set_where(in_ns("z"), |d| d == "y/b", true);
    });
}

#[test]
fn pod_selector_peer_is_in_the_policys_own_namespace() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        // y/b and z/b carry pod=b too, but live elsewhere.
        t.ingress("x/a", false).set("x/b", "x/a", true);
    });
}

#[test]
fn namespace_selector_peer_selects_every_pod_there() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false)
            .set_where(in_ns("y"), |d| d == "x/a", true);
    });
}

#[test]
fn pod_and_namespace_selector_in_one_peer_are_anded() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false).set("y/b", "x/a", true);
    });
}

#[test]
fn several_peers_are_ored() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false)
            .set_where(in_ns("y"), |d| d == "x/a", true)
            .set("x/b", "x/a", true);
    });
}

#[test]
fn empty_pod_selector_peer_is_every_pod_of_the_own_namespace() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(|f| !f.starts_with("x/"), in_ns("x"), false);
    });
}

#[test]
fn empty_namespace_selector_peer_is_every_pod_of_every_namespace() {
    // Every pod of the cluster, but not addresses outside it (see the ipBlock tests).
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}}"#;
    scenario(&[p], tcp(80), true, |_| {});
}

#[test]
fn empty_namespace_selector_with_pod_selector_is_those_pods_everywhere() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "c"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false)
            .set_where(|f| f.ends_with("/c"), |d| d == "x/a", true);
    });
}

#[test]
fn match_expressions_in() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["a", "b"]}]}, "policyTypes": ["Ingress"]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false).ingress("x/b", false);
    });
}

#[test]
fn match_expressions_not_in() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["y"]}]}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(in_ns("y"), in_ns("x"), false);
    });
}

#[test]
fn match_expressions_exists() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "Exists"}]}, "ingress": [{"from": [
        {"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "Exists"}]}, "podSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]}}]}]}}"#;
    // No pod carries `team`, so nothing may enter namespace x.
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn match_expressions_does_not_exist() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, "ingress": [{"from": [
        {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "DoesNotExist"}]}}]}]}}"#;
    // Every pod lacks `team` (all selected); every pod has `pod` (no peer matches).
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn match_labels_and_match_expressions_are_anded() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"ns": "y"}, "matchExpressions": [{"key": "ns", "operator": "In", "values": ["y", "z"]}]},
         "podSelector": {"matchLabels": {"pod": "b"}, "matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["c"]}]}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false).set("y/b", "x/a", true);
    });
}

#[test]
fn namespace_name_label_is_defaulted() {
    // The namespaces carry only ns=…; kubernetes.io/metadata.name is set by the API server.
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false)
            .set_where(in_ns("z"), |d| d == "x/a", true);
    });
}

#[test]
fn ip_block_matches_pod_ips() {
    // Namespace y's pods are 198.18.11.0/24: allowed by ipBlock, as in the e2e CIDR tests.
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.18.11.0/24"}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.ingress("x/a", false)
            .set_where(in_ns("y"), |d| d == "x/a", true);
    });
}

#[test]
fn ip_block_except() {
    // y/b (198.18.11.2) is carved out.
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{"to": [
        {"ipBlock": {"cidr": "198.18.11.0/24", "except": ["198.18.11.2/32"]}}]}]}}"#;
    scenario(&[p], tcp(80), true, |t| {
        t.egress("x/a", false)
            .set_where(|f| f == "x/a", in_ns("y"), true)
            .set("x/a", "y/b", false);
    });
}

#[test]
fn numeric_port() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}"#;
    scenario(&[p], tcp(80), true, |_| {});
    scenario(&[p], tcp(81), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn protocol_defaults_to_tcp() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}"#;
    scenario(&[p], PortQuery::Port(80, Proto::Udp), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn udp_port() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "UDP"}]}]}}"#;
    scenario(&[p], PortQuery::Port(80, Proto::Udp), true, |_| {});
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn sctp_port() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 81, "protocol": "SCTP"}]}]}}"#;
    scenario(&[p], PortQuery::Port(81, Proto::Sctp), true, |_| {});
    scenario(&[p], PortQuery::Port(81, Proto::Udp), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn protocol_without_port_is_every_port_of_it() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP"}]}]}}"#;
    scenario(&[p], PortQuery::Port(81, Proto::Udp), true, |_| {});
    scenario(&[p], tcp(81), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn named_port_resolves_against_the_destination_pod() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]}}"#;
    scenario(&[p], tcp(81), true, |_| {});
    scenario(&[p], tcp(80), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
    // The name is for TCP; UDP 81 is another port.
    scenario(&[p], PortQuery::Port(81, Proto::Udp), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn named_port_in_egress_resolves_against_the_destination_pod() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "serve-80-udp", "protocol": "UDP"}]}]}}"#;
    scenario(&[p], PortQuery::Port(80, Proto::Udp), true, |_| {});
    scenario(&[p], tcp(80), true, |t| {
        t.egress("x/a", false);
    });
}

#[test]
fn query_by_port_name() {
    // `explain --port serve-80-tcp`: resolved to 80/TCP on the destination.
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}"#;
    scenario(
        &[p],
        PortQuery::Named("serve-80-tcp".into(), Proto::Tcp),
        true,
        |_| {},
    );
}

#[test]
fn end_port_range() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 79, "endPort": 80}]}]}}"#;
    scenario(&[p], tcp(80), true, |_| {});
    scenario(&[p], tcp(81), true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn rule_without_ports_allows_every_port() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}"#;
    for port in [
        tcp(80),
        tcp(81),
        PortQuery::Port(80, Proto::Udp),
        PortQuery::Any,
    ] {
        scenario(&[p], port, true, |t| {
            t.set_where(|f| !f.starts_with("x/"), in_ns("x"), false);
        });
    }
}

#[test]
fn empty_rule_allows_everything() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{}], "egress": [{}], "policyTypes": ["Ingress", "Egress"]}}"#;
    scenario(&[p], tcp(81), true, |_| {});
    scenario(&[p], PortQuery::Icmp, true, |_| {});
}

#[test]
fn empty_from_list_is_every_source() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"from": [], "ports": [{"port": 80}]}]}}"#;
    scenario(&[p], tcp(80), true, |_| {});
}

#[test]
fn icmp_is_blocked_by_deny_all() {
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}}}"#;
    scenario(&[p], PortQuery::Icmp, true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn icmp_is_not_matched_by_port_rules_but_by_rules_without_ports() {
    let ports = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"protocol": "UDP"}]}]}}"#;
    scenario(&[ports], PortQuery::Icmp, true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
    let no_ports = r#"{"metadata": {"name": "q", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}}"#;
    scenario(&[no_ports], PortQuery::Icmp, true, |t| {
        t.set_where(|f| !f.starts_with("y/"), in_ns("x"), false);
    });
}

#[test]
fn any_port_question_needs_a_rule_without_ports() {
    // `explain` without --port: allowed only where every port is.
    let p = r#"{"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}"#;
    scenario(&[p], PortQuery::Any, true, |t| {
        t.set_where(any, in_ns("x"), false);
    });
}

#[test]
fn egress_rules_to_pods_in_other_namespaces() {
    let p = r#"{"metadata": {"name": "p", "namespace": "z"}, "spec": {"podSelector": {"matchLabels": {"pod": "c"}}, "egress": [{"to": [
        {"namespaceSelector": {"matchLabels": {"ns": "x"}}, "podSelector": {"matchLabels": {"pod": "a"}}}], "ports": [{"port": 80}]}]}}"#;
    // Also isolated for ingress (policyTypes default to Ingress, Egress).
    scenario(&[p], tcp(80), true, |t| {
        t.egress("z/c", false)
            .set("z/c", "x/a", true)
            .ingress("z/c", false);
    });
}
