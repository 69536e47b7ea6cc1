//! Verdicts carry their reasons; traffic to and from addresses outside the
//! pods follows ipBlock; unknowns stay undecided.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netcheck::policy::{
    Compiled, ContainerPort, Decision, Direction, Peer, PodInfo, PortQuery, Proto,
};
use std::collections::BTreeMap;
use std::net::IpAddr;

fn pod(ns: &str, name: &str, app: &str, ip: &str) -> PodInfo {
    PodInfo {
        namespace: ns.into(),
        name: name.into(),
        labels: BTreeMap::from([("app".into(), app.into())]),
        ips: vec![ip.parse().unwrap()],
        ports: vec![ContainerPort {
            name: Some("http".into()),
            port: 8080,
            protocol: Proto::Tcp,
        }],
    }
}

fn compile(yaml: &[&str]) -> Compiled {
    let pols: Vec<NetworkPolicy> = yaml
        .iter()
        .map(|y| serde_yaml::from_str(y).unwrap())
        .collect();
    let c = Compiled::new(&pols, &BTreeMap::new());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    c
}

const DENY: &str =
    r#"{"metadata": {"name": "default-deny", "namespace": "shop"}, "spec": {"podSelector": {}}}"#;
const ALLOW_WEB: &str = r#"{"metadata": {"name": "api-from-web", "namespace": "shop"}, "spec": {
  "podSelector": {"matchLabels": {"app": "api"}},
  "ingress": [
    {"from": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]},
    {"from": [{"ipBlock": {"cidr": "198.18.200.0/24"}}, {"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 9090}, {"port": "http"}]}
  ]}}"#;

#[test]
fn deny_names_the_selecting_policy_and_that_no_rule_matched() {
    let c = compile(&[DENY]);
    let (web, api) = (
        pod("shop", "web", "web", "198.18.0.1"),
        pod("shop", "api", "api", "198.18.0.2"),
    );
    let v = c.evaluate(
        Peer::pod(&web),
        Peer::pod(&api),
        &PortQuery::Port(8080, Proto::Tcp),
    );
    assert_eq!(v.verdict, Decision::Deny);
    assert_eq!(v.egress.verdict, Decision::Allow);
    assert!(v.egress.policies.is_empty());
    assert_eq!(v.ingress.policies, vec!["shop/default-deny".to_string()]);
    assert!(v.ingress.allowed_by.is_empty());
    assert_eq!(
        v.reason,
        "deny: shop/api is selected by NetworkPolicy shop/default-deny (ingress), and no ingress rule of it allows shop/web on 8080/TCP"
    );
}

#[test]
fn allow_names_policy_rule_peer_and_port() {
    let c = compile(&[DENY, ALLOW_WEB]);
    let (web, api) = (
        pod("shop", "web", "web", "198.18.0.1"),
        pod("shop", "api", "api", "198.18.0.2"),
    );
    let v = c.evaluate(
        Peer::pod(&web),
        Peer::pod(&api),
        &PortQuery::Port(8080, Proto::Tcp),
    );
    assert_eq!(v.verdict, Decision::Allow);
    assert_eq!(
        v.ingress.policies,
        vec![
            "shop/default-deny".to_string(),
            "shop/api-from-web".to_string()
        ]
    );
    let r = &v.ingress.allowed_by;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].policy.as_str(), r[0].rule, r[0].peer, r[0].port),
        ("shop/api-from-web", 1, Some(1), Some(1))
    );
    assert_eq!(
        r[0].text,
        "shop/api-from-web spec.ingress[1]: from[1] (pods app=web in namespace shop) on ports[1] (http/TCP)"
    );
}

#[test]
fn peer_matching_on_another_port_is_reported() {
    let c = compile(&[ALLOW_WEB]);
    let (web, api) = (
        pod("shop", "web", "web", "198.18.0.1"),
        pod("shop", "api", "api", "198.18.0.2"),
    );
    let v = c.evaluate(
        Peer::pod(&web),
        Peer::pod(&api),
        &PortQuery::Port(22, Proto::Tcp),
    );
    assert_eq!(v.verdict, Decision::Deny);
    assert_eq!(v.ingress.peer_matched_other_ports.len(), 1);
    assert!(
        v.reason.contains("only on 9090/TCP, http/TCP"),
        "{}",
        v.reason
    );
}

#[test]
fn ip_block_for_external_sources_and_destinations() {
    let c = compile(&[ALLOW_WEB]);
    let api = pod("shop", "api", "api", "198.18.0.2");
    let inside: IpAddr = "198.18.200.7".parse().unwrap();
    let outside: IpAddr = "198.18.201.7".parse().unwrap();
    let port = PortQuery::Port(9090, Proto::Tcp);
    assert_eq!(
        c.evaluate(Peer::Ip(inside), Peer::pod(&api), &port).verdict,
        Decision::Allow
    );
    let v = c.evaluate(Peer::Ip(outside), Peer::pod(&api), &port);
    assert_eq!(v.verdict, Decision::Deny);
    // An address has no egress policy of its own.
    assert!(
        v.egress.reason.contains("is not a pod"),
        "{}",
        v.egress.reason
    );

    let egress = compile(&[
        r#"{"metadata": {"name": "out", "namespace": "shop"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"],
      "egress": [{"to": [{"ipBlock": {"cidr": "198.18.0.0/15", "except": ["198.18.201.0/24"]}}], "ports": [{"port": 443}]}]}}"#,
    ]);
    let q = PortQuery::Port(443, Proto::Tcp);
    assert_eq!(
        egress
            .evaluate(Peer::pod(&api), Peer::Ip(inside), &q)
            .verdict,
        Decision::Allow
    );
    assert_eq!(
        egress
            .evaluate(Peer::pod(&api), Peer::Ip(outside), &q)
            .verdict,
        Decision::Deny
    );
    // A pod selector never matches an address.
    let sel = compile(&[
        r#"{"metadata": {"name": "out", "namespace": "shop"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"],
      "egress": [{"to": [{"namespaceSelector": {}}]}]}}"#,
    ]);
    assert_eq!(
        sel.evaluate(Peer::pod(&api), Peer::Ip(inside), &q).verdict,
        Decision::Deny
    );
}

#[test]
fn ipv6_ip_block() {
    let c = compile(&[
        r#"{"metadata": {"name": "v6", "namespace": "shop"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "2001:2::/48"}}]}]}}"#,
    ]);
    let api = pod("shop", "api", "api", "2001:2::2");
    let q = PortQuery::Port(80, Proto::Tcp);
    assert_eq!(
        c.evaluate(Peer::Ip("2001:2::9".parse().unwrap()), Peer::pod(&api), &q)
            .verdict,
        Decision::Allow
    );
    assert_eq!(
        c.evaluate(Peer::Ip("2001:3::9".parse().unwrap()), Peer::pod(&api), &q)
            .verdict,
        Decision::Deny
    );
}

#[test]
fn unknown_address_or_port_is_undecided_unless_it_cannot_matter() {
    let api = pod("shop", "api", "api", "198.18.0.2");
    let q = PortQuery::Unknown(Proto::Tcp);
    // ipBlock rule: depends on the address.
    let c = compile(&[
        r#"{"metadata": {"name": "out", "namespace": "shop"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"],
      "egress": [{"to": [{"ipBlock": {"cidr": "198.18.0.0/15"}}]}]}}"#,
    ]);
    let v = c.direction(Direction::Egress, Peer::pod(&api), Peer::UnknownIp, &q);
    assert!(!v.certain);
    // Deny all egress: denied whatever the address.
    let c = compile(&[
        r#"{"metadata": {"name": "out", "namespace": "shop"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}"#,
    ]);
    let v = c.direction(Direction::Egress, Peer::pod(&api), Peer::UnknownIp, &q);
    assert!(v.certain);
    assert_eq!(v.verdict, Decision::Deny);
}

#[test]
fn invalid_parts_warn_and_match_nothing() {
    let pols: Vec<NetworkPolicy> = [r#"{"metadata": {"name": "bad", "namespace": "shop"}, "spec": {"podSelector": {},
      "ingress": [{"from": [{"ipBlock": {"cidr": "not-a-cidr"}}]}, {"ports": [{"port": 80, "protocol": "ICMP"}]}]}}"#]
        .iter()
        .map(|y| serde_yaml::from_str(y).unwrap())
        .collect();
    let c = Compiled::new(&pols, &BTreeMap::new());
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("shop/bad") && c.warnings[0].contains("not-a-cidr"));
    let api = pod("shop", "api", "api", "198.18.0.2");
    let v = c.evaluate(
        Peer::Ip("198.18.0.9".parse().unwrap()),
        Peer::pod(&api),
        &PortQuery::Port(80, Proto::Tcp),
    );
    assert_eq!(v.verdict, Decision::Deny);
}

#[test]
fn a_pod_reaches_itself() {
    let c = compile(&[DENY]);
    let api = pod("shop", "api", "api", "198.18.0.2");
    assert_eq!(
        c.evaluate(Peer::pod(&api), Peer::pod(&api), &PortQuery::Any)
            .verdict,
        Decision::Allow
    );
}

#[test]
fn port_query_parsing() {
    assert_eq!(
        PortQuery::parse("80/TCP"),
        Ok(PortQuery::Port(80, Proto::Tcp))
    );
    assert_eq!(
        PortQuery::parse("53/udp"),
        Ok(PortQuery::Port(53, Proto::Udp))
    );
    assert_eq!(
        PortQuery::parse("8080"),
        Ok(PortQuery::Port(8080, Proto::Tcp))
    );
    assert_eq!(
        PortQuery::parse("http"),
        Ok(PortQuery::Named("http".into(), Proto::Tcp))
    );
    assert_eq!(PortQuery::parse("icmp"), Ok(PortQuery::Icmp));
    for bad in ["0", "70000/TCP", "80/XTP", "/TCP", "Http", "80/ICMP"] {
        assert!(PortQuery::parse(bad).is_err(), "{bad}");
    }
}
