//! What every planner reads, built once per run: which node pairs get
//! cross-node checks, which pods measure the MTU and towards which, the
//! run's timing; and the source address a pod's planners plan from.

use super::{CheckTemplate, PlanOptions, SourcePlan, Timing, node_pairs, plan_deadline};
use crate::model::plan::ProbeSpec;
use crate::model::report::Endpoint;
use crate::model::topology::{Deployment, ProbePod};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

pub(super) struct Ctx<'a> {
    pub d: &'a Deployment,
    pub opts: &'a PlanOptions,
    pub timing: Timing,
    node_index: BTreeMap<&'a str, usize>,
    pairs: BTreeSet<(usize, usize)>,
    /// MTU is a property of the path between two nodes: the first pod of
    /// each node (by index into `d.pods`) measures it towards every other node…
    mtu_sources: BTreeSet<usize>,
    /// …at the first pod of that node with an address of the family
    /// (node, IPv6?) → index into `d.pods`.
    mtu_targets: BTreeMap<(&'a str, bool), usize>,
    /// Indices into `d.pods` / `d.hosts` by node index; those on nodes
    /// discovery did not list are apart (every source probes them).
    pods_by_node: ByNode,
    hosts_by_node: ByNode,
}

/// Items (indices, ascending) grouped by the index of their node.
struct ByNode {
    known: Vec<Vec<usize>>,
    unknown: Vec<usize>,
    total: usize,
}

impl ByNode {
    fn new<'b>(
        nodes: usize,
        index: &BTreeMap<&str, usize>,
        items: impl Iterator<Item = &'b str>,
    ) -> Self {
        let mut by = ByNode {
            known: vec![Vec::new(); nodes],
            unknown: Vec::new(),
            total: 0,
        };
        for (i, node) in items.enumerate() {
            match index.get(node) {
                Some(&n) => by.known[n].push(i),
                None => by.unknown.push(i),
            }
            by.total += 1;
        }
        by
    }
}

impl<'a> Ctx<'a> {
    pub fn new(d: &'a Deployment, opts: &'a PlanOptions) -> Self {
        let node_index = d
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut seen = BTreeSet::new();
        let mtu_sources = d
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| seen.insert(p.node.as_str()))
            .map(|(i, _)| i)
            .collect();
        let mut mtu_targets = BTreeMap::new();
        for (i, p) in d.pods.iter().enumerate() {
            for ip in &p.ips {
                mtu_targets
                    .entry((p.node.as_str(), ip.is_ipv6()))
                    .or_insert(i);
            }
        }
        let pods_by_node = ByNode::new(
            d.nodes.len(),
            &node_index,
            d.pods.iter().map(|p| p.node.as_str()),
        );
        let hosts_by_node = ByNode::new(
            d.nodes.len(),
            &node_index,
            d.hosts.iter().map(|h| h.node.as_str()),
        );
        Ctx {
            d,
            opts,
            timing: opts.timing,
            pods_by_node,
            hosts_by_node,
            node_index,
            pairs: node_pairs(d.nodes.len(), opts.pairs),
            mtu_sources,
            mtu_targets,
        }
    }

    /// Whether checks from node `a` to node `b` are planned (`--pairs`).
    #[cfg(test)]
    pub fn node_pair_ok(&self, a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }
        match (self.node_index.get(a), self.node_index.get(b)) {
            (Some(&x), Some(&y)) => self.pairs.contains(&(x, y)),
            // A node we did not discover: probe it rather than hide it.
            _ => true,
        }
    }

    /// The items of `by` on the nodes a source on node `a` probes (its own,
    /// its `--pairs` peers, and any on an unknown node), ascending: the
    /// same as filtering every item with [`Self::node_pair_ok`], without
    /// looking at every item from every source (O(N²) at thousands of nodes).
    fn reached(&self, a: &str, by: &ByNode) -> Vec<usize> {
        let Some(&x) = self.node_index.get(a) else {
            return (0..by.total).collect();
        };
        let mut v: Vec<usize> = by.known[x].clone();
        for &(_, y) in self.pairs.range((x, 0)..=(x, usize::MAX)) {
            v.extend_from_slice(&by.known[y]);
        }
        v.extend_from_slice(&by.unknown);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Indices into `d.pods` that sources on node `a` probe, ascending.
    pub fn pods_reached(&self, a: &str) -> Vec<usize> {
        self.reached(a, &self.pods_by_node)
    }

    /// Indices into `d.pods` of the pods on `node`, ascending (a node
    /// discovery did not list: its pods by a scan).
    pub fn pods_on(&self, node: &str) -> Vec<usize> {
        match self.node_index.get(node) {
            Some(&x) => self.pods_by_node.known[x].clone(),
            None => (0..self.d.pods.len())
                .filter(|&j| self.d.pods[j].node == node)
                .collect(),
        }
    }

    /// Indices into `d.hosts` that sources on node `a` probe, ascending.
    pub fn hosts_reached(&self, a: &str) -> Vec<usize> {
        self.reached(a, &self.hosts_by_node)
    }

    /// Whether pod `src` (index into `d.pods`) measures the MTU at pod `dst`
    /// for addresses of this family.
    pub fn mtu_pair(&self, src: usize, dst: usize, dst_node: &str, v6: bool) -> bool {
        self.mtu_sources.contains(&src) && self.mtu_targets.get(&(dst_node, v6)) == Some(&dst)
    }

    /// Add a probe with the run's probe timeout.
    pub fn push(&self, sp: &mut SourcePlan, spec: ProbeSpec, t: CheckTemplate) {
        sp.push(self.timing.probe_timeout, self.timing.retries, spec, t);
    }

    /// Add a DNS query with the run's DNS timeout.
    pub fn push_dns(&self, sp: &mut SourcePlan, spec: ProbeSpec, t: CheckTemplate) {
        sp.push(self.timing.dns_timeout, self.timing.retries, spec, t);
    }

    /// Give a source's plan its deadline; None when it probes nothing.
    pub fn finish(&self, mut sp: SourcePlan) -> Option<SourcePlan> {
        if sp.templates.is_empty() {
            return None;
        }
        let max_timeout = self.timing.probe_timeout.max(self.timing.dns_timeout);
        sp.plan.deadline_ms = plan_deadline(sp.plan.probes.len(), max_timeout).as_millis() as u64;
        Some(sp)
    }
}

/// One address of a source pod: the pod's planners plan from it.
pub(super) struct SourceAddr<'a> {
    /// Index of the pod into `d.pods`.
    pub index: usize,
    pub pod: &'a ProbePod,
    pub ip: IpAddr,
    pub endpoint: Endpoint,
}

impl<'a> SourceAddr<'a> {
    pub fn new(index: usize, pod: &'a ProbePod, ip: IpAddr) -> Self {
        SourceAddr {
            index,
            pod,
            ip,
            endpoint: pod_endpoint(pod, ip),
        }
    }

    /// Addresses of the same family as this source's, in their order.
    pub fn reachable<'b>(&self, ips: &'b [IpAddr]) -> impl Iterator<Item = IpAddr> + 'b {
        let v6 = self.ip.is_ipv6();
        ips.iter().copied().filter(move |ip| ip.is_ipv6() == v6)
    }
}

/// A pod at one of its addresses.
pub(super) fn pod_endpoint(p: &ProbePod, ip: IpAddr) -> Endpoint {
    Endpoint {
        node: Some(p.node.clone()),
        pod: Some(p.name.clone()),
        ip: Some(ip),
        name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PairStrategy;

    /// `pods_reached`/`hosts_reached` are `node_pair_ok` over every item,
    /// also for pods and hosts on a node discovery did not list.
    #[test]
    fn reached_items_are_the_pairs_filter() {
        let mut d = crate::diagnose::sim::cluster(9);
        let mut stray = d.pods[3].clone();
        stray.name = "stray".into();
        stray.node = "node-x".into();
        d.pods.insert(5, stray);
        let mut h = d.hosts[2].clone();
        h.node = "node-x".into();
        d.hosts.insert(1, h);
        for pairs in [
            PairStrategy::All,
            PairStrategy::Ring,
            PairStrategy::Sample(3),
        ] {
            let opts = PlanOptions {
                pairs,
                ..Default::default()
            };
            let cx = Ctx::new(&d, &opts);
            for a in d.nodes.iter().map(|n| n.name.as_str()).chain(["node-x"]) {
                let pods: Vec<usize> = (0..d.pods.len())
                    .filter(|&j| cx.node_pair_ok(a, &d.pods[j].node))
                    .collect();
                assert_eq!(cx.pods_reached(a), pods, "{a} {pairs:?}");
                let hosts: Vec<usize> = (0..d.hosts.len())
                    .filter(|&j| cx.node_pair_ok(a, &d.hosts[j].node))
                    .collect();
                assert_eq!(cx.hosts_reached(a), hosts, "{a} {pairs:?}");
            }
        }
    }
}
