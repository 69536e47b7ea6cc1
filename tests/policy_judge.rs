//! The run's checks judged against the deployment's policies, and the
//! policy diagnosis rules (unexpected-allow, unexpected-block, policy-blocks-dns).

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netcheck::diagnose::{Evidence, diagnose};
use netcheck::model::report::{Expectation, ServiceRef};
use netcheck::model::topology::{
    ApiServer, DnsName, DnsTarget, ProbePod, ServePorts, ServiceTarget,
};
use netcheck::model::{
    Check, CheckKind, Deployment, Endpoint, FindingId, Protocol, Severity, Status,
};
use netcheck::policy::judge_checks;
use std::collections::BTreeMap;
use std::net::IpAddr;

const NS: &str = "netcheck-t1";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn probe(name: &str, node: &str, addr: &str) -> ProbePod {
    ProbePod {
        name: name.into(),
        namespace: NS.into(),
        node: node.into(),
        ips: vec![ip(addr)],
        ports: ServePorts::default(),
        labels: BTreeMap::from([
            ("app.kubernetes.io/name".into(), "netcheck-probe".into()),
            ("probe".into(), name.into()),
        ]),
        service: None,
    }
}

fn deployment(policies: &[&str]) -> Deployment {
    let mut d = Deployment {
        pods: vec![
            probe("probe-a", "n1", "198.18.0.2"),
            probe("probe-b", "n2", "198.18.1.2"),
        ],
        ..Default::default()
    };
    d.dns = Some(DnsTarget {
        service: ServiceRef {
            name: "kube-dns".into(),
            namespace: "kube-system".into(),
            ip: ip("198.19.0.10"),
        },
        service_ips: Vec::new(),
        servers: vec![Endpoint {
            node: Some("n1".into()),
            pod: Some("coredns-1".into()),
            ip: Some(ip("198.18.0.5")),
            name: None,
        }],
        cluster_domain: "cluster.local".into(),
        names: vec![DnsName {
            name: "kubernetes.default.svc.cluster.local".into(),
            expect: vec![],
            via_search: false,
        }],
    });
    d.apiserver = Some(ApiServer {
        service: ServiceTarget {
            name: "kubernetes".into(),
            namespace: "default".into(),
            cluster_ips: vec![ip("198.19.0.1")],
            node_port: None,
        },
        port: 443,
        node: None,
    });
    d.policy.namespaces = BTreeMap::from([
        (NS.to_string(), BTreeMap::new()),
        ("kube-system".to_string(), BTreeMap::new()),
    ]);
    d.policy.policies = policies
        .iter()
        .map(|y| serde_yaml::from_str::<NetworkPolicy>(y).expect("test policy"))
        .collect();
    d
}

fn pod_ep(d: &Deployment, name: &str) -> Endpoint {
    let p = d.pods.iter().find(|p| p.name == name).unwrap();
    Endpoint {
        node: Some(p.node.clone()),
        pod: Some(p.name.clone()),
        ip: Some(p.ips[0]),
        name: None,
    }
}

fn check(
    kind: CheckKind,
    source: Endpoint,
    target: Endpoint,
    protocol: Protocol,
    port: Option<u16>,
    status: Status,
) -> Check {
    Check {
        kind,
        source,
        target,
        protocol,
        port,
        family: None,
        status,
        latency_ms: None,
        detail: if status == Status::Fail {
            "timeout".into()
        } else {
            String::new()
        },
        path_mtu: None,
        configured_mtu: None,
        expected: None,
        outcome: None,
    }
}

/// a → b on every pod-to-pod protocol, with one status.
fn pod_checks(d: &Deployment, status: Status) -> Vec<Check> {
    let (a, b) = (pod_ep(d, "probe-a"), pod_ep(d, "probe-b"));
    vec![
        check(
            CheckKind::PodToPod,
            a.clone(),
            b.clone(),
            Protocol::Icmp,
            None,
            status,
        ),
        check(
            CheckKind::PodToPod,
            a.clone(),
            b.clone(),
            Protocol::Tcp,
            Some(7000),
            status,
        ),
        check(
            CheckKind::PodToPod,
            a.clone(),
            b.clone(),
            Protocol::Udp,
            Some(7001),
            status,
        ),
        check(
            CheckKind::PodToPod,
            a,
            b,
            Protocol::Http,
            Some(8080),
            status,
        ),
    ]
}

fn dns_checks(d: &Deployment, status: Status) -> Vec<Check> {
    let a = pod_ep(d, "probe-a");
    let svc = Endpoint {
        node: None,
        pod: None,
        ip: Some(ip("198.19.0.10")),
        name: Some("kubernetes.default.svc.cluster.local".into()),
    };
    let direct = Endpoint {
        node: Some("n1".into()),
        pod: Some("coredns-1".into()),
        ip: Some(ip("198.18.0.5")),
        name: svc.name.clone(),
    };
    vec![
        check(
            CheckKind::Dns,
            a.clone(),
            svc,
            Protocol::Dns,
            Some(53),
            status,
        ),
        check(CheckKind::Dns, a, direct, Protocol::Dns, Some(53), status),
    ]
}

const DENY_INGRESS: &str = r#"{"metadata": {"name": "deny-all", "namespace": "netcheck-t1"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}"#;
const DENY_ALL: &str = r#"{"metadata": {"name": "deny-all", "namespace": "netcheck-t1"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}"#;

fn statuses(c: &[Check]) -> Vec<Status> {
    c.iter().map(|c| c.status).collect()
}

#[test]
fn without_policies_nothing_changes() {
    let d = deployment(&[]);
    let mut checks = pod_checks(&d, Status::Pass);
    let before = checks.clone();
    judge_checks(&d, &mut checks);
    assert_eq!(checks, before);
}

#[test]
fn passed_checks_that_policy_denies_are_unexpected_allows() {
    let d = deployment(&[DENY_INGRESS]);
    let mut checks = pod_checks(&d, Status::Pass);
    checks.extend(dns_checks(&d, Status::Pass));
    judge_checks(&d, &mut checks);
    assert_eq!(
        statuses(&checks),
        [vec![Status::UnexpectedAllow; 4], vec![Status::Pass; 2]].concat()
    );
    assert!(
        checks[..4]
            .iter()
            .all(|c| c.expected == Some(Expectation::Deny))
    );
    // The DNS pods live in kube-system, which the policy does not touch.
    assert!(
        checks[4..]
            .iter()
            .all(|c| c.expected == Some(Expectation::Allow))
    );
    assert!(
        checks[1].detail.contains("netcheck-t1/deny-all"),
        "{}",
        checks[1].detail
    );
    assert!(
        checks[1].detail.contains("ingress of netcheck-t1/probe-b"),
        "{}",
        checks[1].detail
    );
}

#[test]
fn failed_checks_that_policy_denies_are_expected_blocks() {
    let d = deployment(&[DENY_INGRESS]);
    let mut checks = pod_checks(&d, Status::Fail);
    judge_checks(&d, &mut checks);
    assert_eq!(statuses(&checks), vec![Status::ExpectedBlock; 4]);
    assert!(
        checks[0].detail.starts_with("timeout; blocked as intended"),
        "{}",
        checks[0].detail
    );
}

#[test]
fn named_probe_ports_and_icmp() {
    // Only the probe's named port "tcp" (7000/TCP) is open; ICMP is not a port and stays blocked.
    let allow_tcp = r#"{"metadata": {"name": "tcp-only", "namespace": "netcheck-t1"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "tcp"}, {"port": "http"}]}]}}"#;
    let d = deployment(&[allow_tcp]);
    let mut checks = pod_checks(&d, Status::Pass);
    judge_checks(&d, &mut checks);
    assert_eq!(
        statuses(&checks),
        vec![
            Status::UnexpectedAllow,
            Status::Pass,
            Status::UnexpectedAllow,
            Status::Pass
        ]
    );
    // A rule without ports lets ICMP through.
    let all_from_ns = r#"{"metadata": {"name": "same-ns", "namespace": "netcheck-t1"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}"#;
    let d = deployment(&[all_from_ns]);
    let mut checks = pod_checks(&d, Status::Pass);
    judge_checks(&d, &mut checks);
    assert_eq!(statuses(&checks), vec![Status::Pass; 4]);
}

#[test]
fn service_checks_are_judged_against_the_target_pod() {
    let d = deployment(&[DENY_INGRESS]);
    let a = pod_ep(&d, "probe-a");
    let svc = Endpoint {
        node: Some("n2".into()),
        pod: Some("probe-b".into()),
        ip: Some(ip("198.19.0.22")),
        name: Some("netcheck-t1/probe-b".into()),
    };
    let mut checks = vec![check(
        CheckKind::PodToService,
        a,
        svc,
        Protocol::Tcp,
        Some(7000),
        Status::Fail,
    )];
    judge_checks(&d, &mut checks);
    assert_eq!(checks[0].status, Status::ExpectedBlock);
}

#[test]
fn egress_deny_covers_dns_nodes_and_the_apiserver() {
    let d = deployment(&[DENY_ALL]);
    let a = pod_ep(&d, "probe-a");
    let node = Endpoint {
        node: Some("n2".into()),
        pod: None,
        ip: Some(ip("198.18.255.12")),
        name: None,
    };
    let api = Endpoint {
        node: None,
        pod: None,
        ip: Some(ip("198.19.0.1")),
        name: Some("default/kubernetes".into()),
    };
    let mut checks = dns_checks(&d, Status::Fail);
    checks.push(check(
        CheckKind::PodToNode,
        a.clone(),
        node.clone(),
        Protocol::Icmp,
        None,
        Status::Fail,
    ));
    checks.push(check(
        CheckKind::PodToApiserver,
        a.clone(),
        api.clone(),
        Protocol::Tcp,
        Some(443),
        Status::Fail,
    ));
    // From another node, a pod's ingress policy applies to the node's address.
    checks.push(check(
        CheckKind::NodeToPod,
        node,
        a.clone(),
        Protocol::Tcp,
        Some(7000),
        Status::Fail,
    ));
    // Traffic between a pod and its own node is always allowed.
    let own = Endpoint {
        node: Some("n1".into()),
        pod: None,
        ip: Some(ip("198.18.255.11")),
        name: None,
    };
    checks.push(check(
        CheckKind::NodeToPod,
        own.clone(),
        a.clone(),
        Protocol::Tcp,
        Some(7000),
        Status::Fail,
    ));
    checks.push(check(
        CheckKind::PodToNode,
        a.clone(),
        own,
        Protocol::Icmp,
        None,
        Status::Pass,
    ));
    judge_checks(&d, &mut checks);
    assert_eq!(
        statuses(&checks),
        vec![
            Status::ExpectedBlock,
            Status::ExpectedBlock,
            Status::ExpectedBlock,
            Status::ExpectedBlock,
            Status::ExpectedBlock,
            Status::Fail,
            Status::Pass
        ]
    );
    assert_eq!(checks[5].expected, Some(Expectation::Allow));
    assert_eq!(checks[6].expected, Some(Expectation::Allow));

    // With an ipBlock egress rule the apiserver's endpoint address decides: no verdict.
    let cidr = r#"{"metadata": {"name": "to-net", "namespace": "netcheck-t1"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "198.18.0.0/15"}}], "ports": [{"port": 6443}]}]}}"#;
    let d = deployment(&[cidr]);
    let mut checks = vec![check(
        CheckKind::PodToApiserver,
        a,
        api,
        Protocol::Tcp,
        Some(443),
        Status::Pass,
    )];
    judge_checks(&d, &mut checks);
    assert_eq!((checks[0].status, checks[0].expected), (Status::Pass, None));
}

fn findings(d: &Deployment, checks: &[Check]) -> Vec<netcheck::model::Finding> {
    diagnose(&Evidence {
        deployment: d,
        checks,
        cells: &[],
        hosts: &[],
        policy: None,
    })
}

#[test]
fn unexpected_allow_finding_names_the_policy() {
    let other = r#"{"metadata": {"name": "b-only-from-a", "namespace": "netcheck-t1"}, "spec": {"podSelector": {"matchLabels": {"probe": "probe-a"}}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {"matchLabels": {"probe": "probe-a"}}}]}]}}"#;
    let d = deployment(&[DENY_INGRESS, other]);
    let mut checks = pod_checks(&d, Status::Pass);
    judge_checks(&d, &mut checks);
    let f = findings(&d, &checks);
    let ua: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::UnexpectedAllow)
        .collect();
    assert_eq!(ua.len(), 1, "{f:#?}");
    assert_eq!(ua[0].severity, Severity::Error);
    assert!(
        ua[0].title.contains("netcheck-t1/deny-all"),
        "{}",
        ua[0].title
    );
    assert!(
        ua[0].evidence[0]
            .contains("NetworkPolicy netcheck-t1/deny-all (ingress) denies 4 probe connections"),
        "{:?}",
        ua[0].evidence
    );
    assert_eq!(ua[0].evidence.len(), 5);
    assert_eq!(ua[0].nodes, vec!["n1".to_string(), "n2".to_string()]);
}

#[test]
fn a_cell_denied_both_ways_by_one_policy_counts_once() {
    // Egress of the source and ingress of the destination: one cell, one line.
    let d = deployment(&[DENY_ALL]);
    let mut checks = pod_checks(&d, Status::Pass);
    let cells = checks.len();
    judge_checks(&d, &mut checks);
    assert!(
        checks.iter().all(|c| c.status == Status::UnexpectedAllow),
        "{:?}",
        statuses(&checks)
    );
    let f = findings(&d, &checks);
    let ua: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::UnexpectedAllow)
        .collect();
    assert_eq!(ua.len(), 1, "{f:#?}");
    let head = format!(
        "NetworkPolicy netcheck-t1/deny-all (egress, ingress) denies {cells} probe connections that passed"
    );
    assert_eq!(ua[0].evidence[0], head, "{:?}", ua[0].evidence);
    let listed = &ua[0].evidence[1..];
    let distinct: std::collections::BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        distinct.len(),
        listed.len(),
        "a cell listed twice: {listed:#?}"
    );
}

#[test]
fn unexpected_block_is_the_last_explanation() {
    let allow_all = r#"{"metadata": {"name": "allow-ns", "namespace": "netcheck-t1"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}"#;
    let d = deployment(&[allow_all]);
    let mut checks = pod_checks(&d, Status::Pass);
    checks[1].status = Status::Fail;
    judge_checks(&d, &mut checks);
    assert_eq!(checks[1].expected, Some(Expectation::Allow));
    let f = findings(&d, &checks);
    let ub: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::UnexpectedBlock)
        .collect();
    assert_eq!(ub.len(), 1, "{f:#?}");
    assert!(
        ub[0].evidence[1].contains("tcp/7000 probe-a (n1) → probe-b (n2)"),
        "{:?}",
        ub[0].evidence
    );
    // Without policies there is no expectation and so no unexpected-block.
    let d = deployment(&[]);
    let mut checks = pod_checks(&d, Status::Fail);
    judge_checks(&d, &mut checks);
    assert!(
        findings(&d, &checks)
            .iter()
            .all(|f| f.id != FindingId::UnexpectedBlock)
    );
}

#[test]
fn policy_blocks_dns_static_finding() {
    let d = deployment(&[DENY_ALL]);
    let f = findings(&d, &[]);
    let pd: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::PolicyBlocksDns)
        .collect();
    assert_eq!(pd.len(), 1, "{f:#?}");
    assert!(pd[0].title.contains("netcheck-t1/deny-all"));
    assert!(
        pd[0].evidence[0].contains("UDP/53 and TCP/53"),
        "{:?}",
        pd[0].evidence
    );
    assert!(
        pd[0]
            .evidence
            .iter()
            .any(|e| e.contains("probe pod netcheck-t1/probe-a"))
    );
}

#[test]
fn policy_blocks_dns_quiet_when_dns_is_allowed_and_precise_when_half_is() {
    let dns_ok = r#"{"metadata": {"name": "web-egress", "namespace": "shop"}, "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
      "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                  "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}}"#;
    let d = deployment(&[dns_ok]);
    assert!(
        findings(&d, &[])
            .iter()
            .all(|f| f.id != FindingId::PolicyBlocksDns)
    );

    let udp_only = r#"{"metadata": {"name": "api-egress", "namespace": "shop"}, "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"],
      "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}"#;
    let d = deployment(&[udp_only]);
    let f = findings(&d, &[]);
    let pd: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::PolicyBlocksDns)
        .collect();
    assert_eq!(pd.len(), 1, "{f:#?}");
    assert!(
        pd[0].evidence[0].contains("allows TCP/53 to"),
        "{:?}",
        pd[0].evidence
    );
    assert!(
        pd[0].evidence.iter().any(|e| e == "pods app=api in shop"),
        "{:?}",
        pd[0].evidence
    );
    assert_eq!(pd[0].severity, Severity::Error);
}

/// a → b MTU check: `path` the largest echo that came back, the pod
/// interface 1450.
fn mtu_check(d: &Deployment, status: Status, path: Option<u16>) -> Check {
    let mut c = check(
        CheckKind::Mtu,
        pod_ep(d, "probe-a"),
        pod_ep(d, "probe-b"),
        Protocol::Icmp,
        None,
        status,
    );
    c.path_mtu = path;
    c.configured_mtu = Some(1450);
    c.outcome = Some(if path.is_some() {
        netcheck::model::Outcome::Ok
    } else {
        netcheck::model::Outcome::Timeout
    });
    c
}

#[test]
fn an_mtu_check_whose_echoes_crossed_is_never_an_expected_block() {
    let d = deployment(&[DENY_INGRESS]);
    let mut checks = vec![
        // Short path: echoes up to 1350 crossed, larger ones vanished.
        mtu_check(&d, Status::Fail, Some(1350)),
        // The whole MTU crossed.
        mtu_check(&d, Status::Pass, Some(1450)),
        // Nothing crossed: that is what the policy asks for.
        mtu_check(&d, Status::Fail, None),
    ];
    judge_checks(&d, &mut checks);
    assert_eq!(
        statuses(&checks),
        [Status::Fail, Status::UnexpectedAllow, Status::ExpectedBlock]
    );
    assert!(checks.iter().all(|c| c.expected == Some(Expectation::Deny)));
    assert!(
        checks[0].detail.contains("echoes crossed although")
            && checks[0].detail.contains("netcheck-t1/deny-all"),
        "{}",
        checks[0].detail
    );
    // The short path is still the MTU blackhole it is.
    let ids: Vec<FindingId> = findings(&d, &checks[..1]).iter().map(|f| f.id).collect();
    assert!(ids.contains(&FindingId::MtuBlackhole), "{ids:?}");
}
