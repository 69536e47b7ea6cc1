//! Checks for nodes no probe could run on: a NotReady node, or a node whose
//! probe pods never started. Without them such a node would silently drop out
//! of the matrix and a CI run would pass having tested fewer nodes than the
//! cluster has; with them each pair involving the node is a `skipped` cell
//! that says why.

use crate::model::report::{Check, CheckKind, Endpoint, Protocol, Status};
use crate::model::topology::Deployment;

/// One `skipped` pod-to-pod check each way between every unreached node and
/// every node that has a probe pod.
pub fn unreached_checks(d: &Deployment) -> Vec<Check> {
    let mut out = Vec::new();
    let with_pods: std::collections::BTreeSet<&str> =
        d.pods.iter().map(|p| p.node.as_str()).collect();
    for n in &d.nodes {
        if with_pods.contains(n.name.as_str()) {
            continue;
        }
        let why = match (&n.reason, n.ready) {
            (Some(r), _) => r.clone(),
            (None, false) => "the node is NotReady; no probe pod runs there".to_string(),
            (None, true) => "no probe pod runs on this node".to_string(),
        };
        let here = Endpoint {
            node: Some(n.name.clone()),
            ..Default::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for p in d.pods.iter().filter(|p| seen.insert(p.node.clone())) {
            let there = Endpoint {
                node: Some(p.node.clone()),
                pod: Some(p.name.clone()),
                ip: p.ips.first().copied(),
                name: None,
            };
            out.push(skipped(here.clone(), there.clone(), &why));
            out.push(skipped(there, here.clone(), &why));
        }
    }
    out
}

fn skipped(source: Endpoint, target: Endpoint, why: &str) -> Check {
    Check {
        family: source.ip.or(target.ip).map(crate::model::Family::of),
        kind: CheckKind::PodToPod,
        source,
        target,
        protocol: Protocol::Icmp,
        port: None,
        status: Status::Skipped,
        latency_ms: None,
        detail: why.to_string(),
        path_mtu: None,
        configured_mtu: None,
        expected: None,
        outcome: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::topology::{NodeInfo, ProbePod, ServePorts};

    fn node(name: &str, ready: bool, reason: Option<&str>) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            ready,
            reason: reason.map(String::from),
            ..Default::default()
        }
    }

    fn pod(name: &str, node: &str, ip: &str) -> ProbePod {
        ProbePod {
            name: name.into(),
            namespace: "netcheck-t".into(),
            node: node.into(),
            ips: vec![ip.parse().expect("ip")],
            ports: ServePorts::default(),
            labels: Default::default(),
            service: None,
        }
    }

    #[test]
    fn a_node_without_pods_gets_a_skipped_cell_each_way_with_the_reason() {
        let d = Deployment {
            nodes: vec![
                node("a", true, None),
                node(
                    "b",
                    true,
                    Some("probe pods did not start: ImagePullBackOff"),
                ),
                node("c", false, None),
            ],
            pods: vec![
                pod("p-a-0", "a", "198.18.0.2"),
                pod("p-a-1", "a", "198.18.0.3"),
            ],
            ..Default::default()
        };
        let c = unreached_checks(&d);
        // b and c, each both ways with the one node that has pods.
        assert_eq!(c.len(), 4, "{c:#?}");
        assert!(c.iter().all(|c| c.status == Status::Skipped));
        let b_out = c
            .iter()
            .find(|c| c.source_node() == Some("b"))
            .expect("b as source");
        assert_eq!(b_out.target_node(), Some("a"));
        assert!(b_out.detail.contains("ImagePullBackOff"));
        let c_in = c
            .iter()
            .find(|c| c.target_node() == Some("c"))
            .expect("c as target");
        assert!(c_in.detail.contains("NotReady"), "{}", c_in.detail);
    }

    #[test]
    fn every_node_with_a_pod_adds_nothing() {
        let d = Deployment {
            nodes: vec![node("a", true, None), node("b", true, None)],
            pods: vec![pod("p-a", "a", "198.18.0.2"), pod("p-b", "b", "198.18.1.2")],
            ..Default::default()
        };
        assert!(unreached_checks(&d).is_empty());
    }
}
