//! Whole-run policy scenarios on the diagnosis simulator: the real planner's
//! checks, answered by a simulated network that does or does not enforce the
//! policies, then judged and diagnosed as the pipeline does.

use crate::diagnose::sim;
use crate::model::{CheckKind, Deployment, FindingId, Severity, Status};
use crate::plan::CheckTemplate;
use k8s_openapi::api::networking::v1::NetworkPolicy;

fn with_policies(yaml: &[&str]) -> Deployment {
    let mut d = sim::cluster(3);
    d.policy.policies = yaml
        .iter()
        .map(|y| serde_yaml::from_str::<NetworkPolicy>(y).expect("test policy"))
        .collect();
    d
}

const DENY_ALL: &str = r#"{"metadata": {"name": "deny-all", "namespace": "netcheck"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}"#;
const DENY_INGRESS: &str =
    r#"{"metadata": {"name": "deny-in", "namespace": "netcheck"}, "spec": {"podSelector": {}}}"#;
const DENY_EGRESS: &str = r#"{"metadata": {"name": "deny-out", "namespace": "netcheck"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}"#;

fn errors(f: &[crate::model::Finding]) -> Vec<FindingId> {
    f.iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.id)
        .collect()
}

fn failed(checks: &[crate::model::Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(crate::diagnose::describe_check)
        .collect()
}

fn is_probe_target(t: &CheckTemplate) -> bool {
    t.target
        .pod
        .as_deref()
        .is_some_and(|p| p.starts_with("probe-"))
}

#[test]
fn a_cni_that_ignores_policy_shows_unexpected_allow_naming_the_policy() {
    let d = with_policies(&[DENY_ALL]);
    let mut checks = sim::run(&d, |_| sim::ok());
    super::judge_checks(&d, &mut checks);
    assert!(checks.iter().any(|c| c.status == Status::UnexpectedAllow));
    let f = sim::diagnose(&d, &checks);
    // The policy is not enforced, and it would block DNS if it were: nothing else.
    let mut ids = errors(&f);
    ids.sort();
    assert_eq!(
        ids,
        vec![FindingId::UnexpectedAllow, FindingId::PolicyBlocksDns],
        "{f:#?}"
    );
    let ua = f
        .iter()
        .find(|f| f.id == FindingId::UnexpectedAllow)
        .expect("unexpected-allow");
    assert!(ua.title.contains("netcheck/deny-all"));
    assert!(ua.evidence[0].contains("NetworkPolicy netcheck/deny-all (egress, ingress)"));
}

#[test]
fn an_enforcing_cni_with_deny_ingress_is_healthy() {
    let d = with_policies(&[DENY_INGRESS]);
    // Everything into a probe pod is dropped, except from the pod's own node and itself.
    let mut checks = sim::run(&d, |t| {
        let own_node = t.kind == CheckKind::NodeToPod && t.source.node == t.target.node;
        let itself = t.source.pod.is_some() && t.source.pod == t.target.pod;
        // A NodePort reaches its backend masqueraded from the backend's own node.
        let masqueraded = t.kind == CheckKind::Nodeport;
        if is_probe_target(t) && !own_node && !itself && !masqueraded {
            sim::timeout()
        } else {
            sim::ok()
        }
    });
    super::judge_checks(&d, &mut checks);
    let failed = failed(&checks);
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(
        checks
            .iter()
            .filter(|c| c.status == Status::ExpectedBlock)
            .count()
            > 20
    );
    let f = sim::diagnose(&d, &checks);
    assert!(errors(&f).is_empty(), "{f:#?}");
}

#[test]
fn an_enforcing_cni_with_deny_egress_blocks_dns_as_intended() {
    let d = with_policies(&[DENY_EGRESS]);
    // Everything a probe pod sends is dropped, except to its own node and itself.
    let mut checks = sim::run(&d, |t| {
        let from_pod = t.source.pod.is_some();
        let own_node = matches!(t.kind, CheckKind::PodToNode | CheckKind::Nodeport)
            && t.source.node == t.target.node;
        let itself = from_pod && t.source.pod == t.target.pod;
        if from_pod && !own_node && !itself {
            sim::timeout()
        } else {
            sim::ok()
        }
    });
    super::judge_checks(&d, &mut checks);
    let failed = failed(&checks);
    assert!(failed.is_empty(), "{failed:#?}");
    let f = sim::diagnose(&d, &checks);
    assert_eq!(sim::ids(&f), vec![FindingId::PolicyBlocksDns], "{f:#?}");
}

#[test]
fn a_drop_that_policy_allows_stays_a_failure_for_the_other_rules() {
    let allow_ns = r#"{"metadata": {"name": "allow-ns", "namespace": "netcheck"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}"#;
    let d = with_policies(&[allow_ns]);
    // An enforcing network (other nodes' host traffic is not from a pod of
    // the namespace) that also loses one cell.
    let mut checks = sim::run(&d, |t| {
        let cell = t.kind == CheckKind::PodToPod
            && t.protocol == crate::model::Protocol::Udp
            && t.source.pod.as_deref() == Some("probe-0-0")
            && t.target.pod.as_deref() == Some("probe-1-1");
        let remote_host = t.kind == CheckKind::NodeToPod && t.source.node != t.target.node;
        if cell || remote_host {
            sim::timeout()
        } else {
            sim::ok()
        }
    });
    super::judge_checks(&d, &mut checks);
    let cell: Vec<_> = checks.iter().filter(|c| c.status == Status::Fail).collect();
    assert_eq!(cell.len(), 1);
    assert_eq!(
        cell[0].expected,
        Some(crate::model::report::Expectation::Allow)
    );
    // The cross-node rule explains it first; unexpected-block is only the last resort.
    let f = sim::diagnose(&d, &checks);
    assert_eq!(
        errors(&f),
        vec![FindingId::CrossNodePodTrafficBroken],
        "{:?}",
        sim::ids(&f)
    );
}

/// A CiliumNetworkPolicy in the probes' namespace, as discovery reports it.
fn cilium_policy_in(ns: &str) -> crate::model::report::PolicyKind {
    super::kinds::KNOWN
        .iter()
        .find(|k| k.kind == "CiliumNetworkPolicy")
        .expect("known kind")
        .found(&[Some(ns.to_string())])
}

#[test]
fn a_drop_under_a_cilium_policy_is_not_judged_and_no_unexpected_block() {
    let allow_ns = r#"{"metadata": {"name": "allow-ns", "namespace": "netcheck"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}"#;
    let mut d = with_policies(&[allow_ns]);
    // Cilium enforces a CiliumNetworkPolicy that drops UDP between two pods
    // of one node: NetworkPolicy alone allows it.
    let answer = |t: &CheckTemplate| {
        let cell = t.kind == CheckKind::PodToPod
            && t.protocol == crate::model::Protocol::Udp
            && t.source.pod.as_deref() == Some("probe-0-0")
            && t.target.pod.as_deref() == Some("probe-0-1");
        let remote_host = t.kind == CheckKind::NodeToPod && t.source.node != t.target.node;
        if cell || remote_host {
            sim::timeout()
        } else {
            sim::ok()
        }
    };
    // Without knowing the Cilium policy: a warning that blames something else.
    let mut checks = sim::run(&d, answer);
    super::judge_checks(&d, &mut checks);
    let f = sim::diagnose(&d, &checks);
    assert!(sim::ids(&f).contains(&FindingId::UnexpectedBlock), "{f:#?}");
    // Knowing it: the cell is a failure nobody judged, and no unexpected-block.
    d.cluster.policy_kinds = vec![cilium_policy_in("netcheck")];
    let mut checks = sim::run(&d, answer);
    super::judge_checks(&d, &mut checks);
    let cell: Vec<_> = checks.iter().filter(|c| c.status == Status::Fail).collect();
    assert_eq!(cell.len(), 1, "{cell:#?}");
    assert_eq!(
        cell[0].expected,
        Some(crate::model::report::Expectation::NotJudged)
    );
    assert!(
        cell[0]
            .detail
            .contains("not judged: CiliumNetworkPolicy (cilium.io/v2) could decide it"),
        "{}",
        cell[0].detail
    );
    let f = sim::diagnose(&d, &checks);
    assert!(
        !sim::ids(&f).contains(&FindingId::UnexpectedBlock),
        "{f:#?}"
    );
    assert!(errors(&f).is_empty(), "{f:#?}");
    // A Cilium policy in another namespace governs none of the probes' checks.
    d.cluster.policy_kinds = vec![cilium_policy_in("team-a")];
    let mut checks = sim::run(&d, answer);
    super::judge_checks(&d, &mut checks);
    assert!(
        checks
            .iter()
            .all(|c| c.expected != Some(crate::model::report::Expectation::NotJudged))
    );
}

#[test]
fn a_pass_a_global_policy_allows_is_not_an_unexpected_allow() {
    // NetworkPolicy denies everything; a Calico GlobalNetworkPolicy (higher
    // order wins in Calico) lets it all through.
    let mut d = with_policies(&[DENY_ALL]);
    d.cluster.policy_kinds = vec![
        super::kinds::KNOWN
            .iter()
            .find(|k| k.kind == "GlobalNetworkPolicy" && k.group == "crd.projectcalico.org")
            .expect("known kind")
            .found(&[None]),
    ];
    let mut checks = sim::run(&d, |_| sim::ok());
    super::judge_checks(&d, &mut checks);
    assert!(checks.iter().all(|c| c.status != Status::UnexpectedAllow));
    // Every check to or from a pod is not judged; node-to-node has none.
    let pods = checks
        .iter()
        .filter(|c| c.source.pod.is_some() || c.target.pod.is_some());
    for c in pods {
        assert_eq!(
            c.expected,
            Some(crate::model::report::Expectation::NotJudged),
            "{c:?}"
        );
    }
    // policy-blocks-dns reads NetworkPolicy alone: a warning now, naming
    // the kind that could allow DNS all the same.
    let f = sim::diagnose(&d, &checks);
    assert_eq!(sim::ids(&f), vec![FindingId::PolicyBlocksDns], "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].evidence.iter().any(|e| e.starts_with(
            "GlobalNetworkPolicy (crd.projectcalico.org/v1) could allow DNS all the same"
        )),
        "{:#?}",
        f[0].evidence
    );
    assert!(errors(&f).is_empty());
}
