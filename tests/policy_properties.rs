//! Properties of the evaluator over random policies in the x/y/z world:
//! a policy that selects no pod changes nothing; a pod no policy selects is
//! open in that direction; adding allow rules only adds allowed pairs.

mod policy_common;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netcheck::policy::{Compiled, Decision, Direction, Peer, PortQuery, Proto, TruthTable};
use policy_common::world;
use proptest::prelude::*;
use serde_json::{Value, json};

fn selector() -> impl Strategy<Value = Value> {
    let key = prop_oneof![Just("pod"), Just("ns"), Just("team")];
    let val = prop_oneof![Just("a"), Just("b"), Just("c"), Just("x"), Just("y")];
    prop_oneof![
        Just(json!({})),
        (key.clone(), val.clone()).prop_map(|(k, v)| json!({"matchLabels": {k: v}})),
        (key.clone(), prop::collection::vec(val.clone(), 1..3), prop_oneof![Just("In"), Just("NotIn")])
            .prop_map(|(k, vs, op)| json!({"matchExpressions": [{"key": k, "operator": op, "values": vs}]})),
        (key, prop_oneof![Just("Exists"), Just("DoesNotExist")])
            .prop_map(|(k, op)| json!({"matchExpressions": [{"key": k, "operator": op}]})),
    ]
}

fn peer() -> impl Strategy<Value = Value> {
    prop_oneof![
        selector().prop_map(|s| json!({"podSelector": s})),
        selector().prop_map(|s| json!({"namespaceSelector": s})),
        (selector(), selector())
            .prop_map(|(n, p)| json!({"namespaceSelector": n, "podSelector": p})),
        (10u8..13, prop::option::of(1u8..4)).prop_map(|(net, ex)| {
            let mut b = json!({"cidr": format!("198.18.{net}.0/24")});
            if let Some(e) = ex {
                b["except"] = json!([format!("198.18.{net}.{e}/32")]);
            }
            json!({"ipBlock": b})
        }),
    ]
}

fn port() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"port": 80})),
        Just(json!({"port": 81, "protocol": "UDP"})),
        Just(json!({"port": "serve-81-tcp"})),
        Just(json!({"port": 79, "endPort": 80})),
        Just(json!({"protocol": "UDP"})),
    ]
}

fn rule(dir: &'static str) -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::collection::vec(peer(), 0..3)),
        prop::option::of(prop::collection::vec(port(), 0..2)),
    )
        .prop_map(move |(peers, ports)| {
            let mut r = json!({});
            if let Some(p) = peers {
                r[if dir == "ingress" { "from" } else { "to" }] = json!(p);
            }
            if let Some(p) = ports {
                r["ports"] = json!(p);
            }
            r
        })
}

/// (namespace, podSelector, policyTypes (None: defaulted), ingress rules, egress rules)
fn policy_parts(
    explicit_types: bool,
) -> impl Strategy<
    Value = (
        &'static str,
        Value,
        Option<Vec<&'static str>>,
        Vec<Value>,
        Vec<Value>,
    ),
> {
    let types = prop_oneof![
        Just(vec!["Ingress"]),
        Just(vec!["Egress"]),
        Just(vec!["Ingress", "Egress"]),
    ];
    let types = if explicit_types {
        types.prop_map(Some).boxed()
    } else {
        prop::option::of(types).boxed()
    };
    (
        prop_oneof![Just("x"), Just("y"), Just("z")],
        selector(),
        types,
        prop::collection::vec(rule("ingress"), 0..3),
        prop::collection::vec(rule("egress"), 0..3),
    )
}

fn build(
    i: usize,
    parts: &(&str, Value, Option<Vec<&str>>, Vec<Value>, Vec<Value>),
) -> NetworkPolicy {
    let (ns, sel, types, ing, eg) = parts;
    let mut spec = json!({"podSelector": sel, "ingress": ing, "egress": eg});
    if let Some(t) = types {
        spec["policyTypes"] = json!(t);
    }
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": format!("p{i}"), "namespace": ns}, "spec": spec
    }))
    .expect("generated policy")
}

fn queries() -> Vec<PortQuery> {
    vec![
        PortQuery::Port(80, Proto::Tcp),
        PortQuery::Port(81, Proto::Tcp),
        PortQuery::Port(81, Proto::Udp),
        PortQuery::Icmp,
    ]
}

fn tables(pols: &[NetworkPolicy]) -> Vec<TruthTable> {
    let (ns, pods) = world();
    let c = Compiled::new(pols, &ns);
    queries()
        .iter()
        .map(|q| TruthTable::evaluate(&c, &pods, q))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_policy_selecting_no_pod_changes_nothing(
        base in prop::collection::vec(policy_parts(false), 0..4),
        extra in policy_parts(false),
    ) {
        let mut pols: Vec<NetworkPolicy> = base.iter().enumerate().map(|(i, p)| build(i, p)).collect();
        let before = tables(&pols);
        let (ns, _, types, ing, eg) = extra;
        let nobody = (ns, json!({"matchLabels": {"pod": "nobody"}}), types, ing, eg);
        pols.push(build(99, &nobody));
        let after = tables(&pols);
        for (b, a) in before.iter().zip(&after) {
            if let Err(m) = TruthTable::compare(b, a) {
                prop_assert!(false, "{m}");
            }
        }
    }

    #[test]
    fn a_pod_no_policy_selects_is_open_in_that_direction(
        base in prop::collection::vec(policy_parts(false), 0..5),
    ) {
        let pols: Vec<NetworkPolicy> = base.iter().enumerate().map(|(i, p)| build(i, p)).collect();
        let (ns, pods) = world();
        let c = Compiled::new(&pols, &ns);
        for q in queries() {
            for subject in &pods {
                for other in &pods {
                    for dir in [Direction::Ingress, Direction::Egress] {
                        if !c.selecting(subject, dir).is_empty() {
                            continue;
                        }
                        let (src, dst) = match dir {
                            Direction::Egress => (subject, other),
                            Direction::Ingress => (other, subject),
                        };
                        let v = c.direction(dir, Peer::pod(src), Peer::pod(dst), &q);
                        prop_assert_eq!(v.verdict, Decision::Allow, "{} {} {}: {}", dir, subject.key(), q, v.reason);
                    }
                }
            }
        }
    }

    #[test]
    fn adding_allow_rules_only_adds_allowed_pairs(
        base in prop::collection::vec(policy_parts(true), 1..4),
        pick in any::<prop::sample::Index>(),
        new_ingress in rule("ingress"),
        new_egress in rule("egress"),
    ) {
        let before_pols: Vec<NetworkPolicy> = base.iter().enumerate().map(|(i, p)| build(i, p)).collect();
        let mut parts = base.clone();
        let i = pick.index(parts.len());
        // Add a rule to each direction the policy already governs (explicit
        // policyTypes), which cannot change what it selects or isolates.
        let types = parts[i].2.clone().unwrap_or_default();
        if types.contains(&"Ingress") { parts[i].3.push(new_ingress); }
        if types.contains(&"Egress") { parts[i].4.push(new_egress); }
        let after_pols: Vec<NetworkPolicy> = parts.iter().enumerate().map(|(i, p)| build(i, p)).collect();
        for (b, a) in tables(&before_pols).iter().zip(&tables(&after_pols)) {
            prop_assert!(b.is_subset_of(a), "an allowed pair became denied:\nbefore\n{b}\nafter\n{a}");
        }
    }
}
