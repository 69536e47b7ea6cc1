//! Host reports of simulated nodes, shaped as the lab's real inspection
//! shapes them: `node.json` is `agent inspect-host` of a healthy lab node
//! (node-3 of a 3-node lab, iptables mode), with its addresses turned into
//! `@NAME@` placeholders and the probe Services' kube-proxy rules left out
//! (the node keeps `kubernetes` and `kube-dns`: a simulated node does not
//! grow with the probe Services), in the shape the agent reports
//! ([`crate::inspect::slim`]: the rules a question reads, counts for the
//! rest; nft's copy of iptables-nft's tables by name). Each node gets the template with its own
//! names and addresses, its own bridge ports and routes, and then what its
//! [`NodeState`] says is broken, changed the way the lab's faults change a
//! node; the overview is summarised last by the same function the agent uses.

use super::network::{
    CLUSTER_CIDR, DNS_SERVICE_IP, NodeState, SERVICE_CIDR, SimNetwork, UNDERLAY, WIRE_GATEWAY,
};
use crate::model::host::{HostReport, Interface, IptRule, IptTable, Route};

const TEMPLATE: &str = include_str!("node.json");

/// Nodes up to this many get a flannel route to every other node; above
/// it, to their ring neighbours only (a full table is N² routes in the CLI).
pub const ALL_ROUTES_UP_TO: usize = 64;

/// `text` with every `@KEY@` replaced by `value(KEY)`; an unknown key is an error.
fn fill(text: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut parts = text.split('@');
    out.push_str(parts.next().unwrap_or(""));
    while let Some(key) = parts.next() {
        let v = value(key).ok_or_else(|| format!("the host template has an unknown @{key}@"))?;
        out.push_str(&v);
        let rest = parts
            .next()
            .ok_or_else(|| format!("the host template has an unclosed @{key}"))?;
        out.push_str(rest);
    }
    Ok(out)
}

/// Node i's host report as inspection would find it.
pub fn host_report(net: &SimNetwork, i: usize) -> Result<HostReport, String> {
    let node = net.node_name(i);
    let text = fill(TEMPLATE, |k| {
        Some(match k {
            "NODE" => node.clone(),
            "NODE_IP" => net.node_ip(i).to_string(),
            "POD_NET" => net.pod_net(i),
            "CLUSTER_CIDR" => CLUSTER_CIDR.to_string(),
            "DNS_SVC" => DNS_SERVICE_IP.to_string(),
            "API_SVC" => super::network::APISERVER_IP.to_string(),
            "API_EP" => net.node_ip(0).to_string(),
            "DNS0" => net.dns_ip(0).to_string(),
            "DNS1" => net.dns_ip(1).to_string(),
            _ => return None,
        })
    })?;
    let mut r: HostReport = serde_json::from_str(&text)
        .map_err(|e| format!("the simulated host template does not parse: {e}"))?;
    bridge_ports(net, i, &mut r);
    r.routes = routes(net, i);
    let state = &net.nodes[i];
    if let Some(c) = r.conntrack.as_mut() {
        c.count = c.max * u64::from(state.conntrack_permille) / 1000;
        c.percent = (c.count as f64 * 1000.0 / c.max.max(1) as f64).round() / 10.0;
    }
    apply_state(state, &mut r)?;
    r.overview = crate::inspect::query::summarize(&r);
    Ok(r)
}

/// One veth per probe pod and DNS replica on the node, as the bridge CNI wires them.
fn bridge_ports(net: &SimNetwork, i: usize, r: &mut HostReport) {
    let Some(proto) = r
        .interfaces
        .iter()
        .find(|x| x.master.as_deref() == Some("cni0"))
        .cloned()
    else {
        return;
    };
    r.interfaces.retain(|x| x.master.as_deref() != Some("cni0"));
    let names: Vec<String> = (0..net.pods_per_node)
        .map(|j| format!("veth{j}"))
        .chain(net.dns_replicas_on(i).iter().map(|r| format!("vethdns{r}")))
        .collect();
    if let Some(rp) = r.sysctls.as_mut().map(|s| &mut s.rp_filter) {
        rp.retain(|k, _| !k.starts_with("veth"));
        for n in &names {
            rp.insert(n.clone(), 0);
        }
    }
    for n in names {
        r.interfaces.push(Interface {
            name: n,
            ..proto.clone()
        });
    }
}

fn route(dst: String, dev: &str, gateway: Option<String>, kernel: bool) -> Route {
    Route {
        dst,
        dev: Some(dev.into()),
        gateway,
        protocol: kernel.then(|| "kernel".to_string()),
    }
}

/// flannel's routes to the other nodes' pod CIDRs (while its device is
/// up), the node's own CIDR on the bridge, the Service CIDR toward the
/// wire's gateway, and the underlay.
fn routes(net: &SimNetwork, i: usize) -> Vec<Route> {
    let n = net.node_count();
    let mut peers: Vec<usize> = if n <= ALL_ROUTES_UP_TO {
        (0..n).filter(|&j| j != i).collect()
    } else {
        vec![(i + n - 1) % n, (i + 1) % n]
    };
    peers.sort_unstable();
    peers.dedup();
    let mut v: Vec<Route> = Vec::new();
    if net.nodes[i].overlay_up {
        v.extend(peers.into_iter().map(|j| {
            route(
                net.pod_cidr(j),
                "flannel.1",
                Some(format!("{}.0", net.pod_net(j))),
                false,
            )
        }));
    }
    v.push(route(net.pod_cidr(i), "cni0", None, true));
    v.push(route(
        SERVICE_CIDR.into(),
        "eth0",
        Some(WIRE_GATEWAY.to_string()),
        false,
    ));
    v.push(route(UNDERLAY.into(), "eth0", None, true));
    v
}

fn table<'a>(r: &'a mut HostReport, backend: &str, name: &str) -> Option<&'a mut IptTable> {
    r.firewall
        .as_mut()?
        .iptables
        .iter_mut()
        .find(|b| b.backend == backend)?
        .tables
        .iter_mut()
        .find(|t| t.name == name)
}

/// Break the report the way the lab's fault changes the node.
fn apply_state(s: &NodeState, r: &mut HostReport) -> Result<(), String> {
    if !s.overlay_up {
        for x in r.interfaces.iter_mut().filter(|x| x.name == "flannel.1") {
            x.state = Some("DOWN".into());
        }
    }
    if !s.kube_proxy_rules {
        // iptables mode: the nat KUBE-SERVICES chain flushed.
        if let Some(c) = table(r, "nft", "nat").and_then(|t| t.chain_mut("KUBE-SERVICES")) {
            c.clear_rules();
        }
    }
    if s.forward_policy_drop {
        forward_drop(r)?;
    }
    if let Some(sys) = r.sysctls.as_mut() {
        if !s.ip_forward {
            sys.ip_forward = Some(0);
        }
        if !s.bridge_nf_call {
            sys.bridge_nf_call_iptables = Some(0);
        }
        sys.rp_filter.insert("all".into(), s.rp_filter_all);
    }
    if !s.hairpin {
        for x in r
            .interfaces
            .iter_mut()
            .filter(|x| x.master.as_deref() == Some("cni0"))
        {
            x.hairpin = Some(false);
        }
    }
    if s.stale_calico_config {
        stale_calico(r);
    }
    if s.legacy_nat_copy {
        legacy_nat_copy(r);
    }
    recount(r);
    Ok(())
}

/// Docker's way: FORWARD policy DROP, a DOCKER-USER chain jumped to first,
/// flannel's FLANNEL-FWD accepts flushed.
fn forward_drop(r: &mut HostReport) -> Result<(), String> {
    let extra = crate::inspect::iptables::parse(
        "*filter\n:FORWARD ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n",
    );
    let rule = |chain: &str| -> Option<IptRule> {
        extra.tables.first()?.chain(chain)?.rules.first().cloned()
    };
    let (jump, ret) = rule("FORWARD")
        .zip(rule("DOCKER-USER"))
        .ok_or("the DOCKER-USER rules do not parse")?;
    let filter = table(r, "nft", "filter").ok_or("the host template has no filter table")?;
    if let Some(fwd) = filter.chain_mut("FORWARD") {
        fwd.policy = Some("DROP".into());
        fwd.insert_rule(0, jump);
    }
    if let Some(c) = filter.chain_mut("FLANNEL-FWD") {
        c.clear_rules();
    }
    if let Some(mut user) = extra
        .tables
        .into_iter()
        .next()
        .and_then(|t| t.chains.into_iter().find(|c| c.name == "DOCKER-USER"))
    {
        user.rules = vec![ret];
        filter.chains.push(user);
    }
    Ok(())
}

/// An old Calico conflist that sorts first, and its two binaries.
fn stale_calico(r: &mut HostReport) {
    let Some(cni) = r.cni.as_mut() else {
        return;
    };
    let name = "05-calico.conflist";
    let parsed = crate::inspect::cni::analyse(
        &cni.conf_dir,
        &cni.bin_dir,
        vec![(
            name.to_string(),
            Ok(crate::lab::host_faults::CALICO_CONFLIST.to_string()),
        )],
        Ok(Vec::new()),
    );
    cni.files.splice(0..0, parsed.files);
    cni.selected = Some(name.into());
    cni.binaries
        .extend(["calico", "calico-ipam"].map(String::from));
    cni.binaries.sort();
}

/// kube-proxy's nat table copied into iptables-legacy (`iptables-nft-save
/// -t nat | iptables-legacy-restore`).
fn legacy_nat_copy(r: &mut HostReport) {
    let Some(nat) = table(r, "nft", "nat").cloned() else {
        return;
    };
    let Some(fw) = r.firewall.as_mut() else {
        return;
    };
    if let Some(legacy) = fw.iptables.iter_mut().find(|b| b.backend == "legacy") {
        legacy.tables = vec![nat];
        legacy.version = Some("v1.8.9".into());
        legacy.error = None;
    }
}

/// Rule counts after the changes, as `iptables-save` would count them.
fn recount(r: &mut HostReport) {
    let Some(fw) = r.firewall.as_mut() else {
        return;
    };
    for b in fw.iptables.iter_mut() {
        b.rule_count = b.tables.iter().map(|t| t.rules_total()).sum();
    }
}

#[cfg(test)]
mod tests {
    use crate::model::host::HostReport;

    fn template() -> HostReport {
        serde_json::from_str(super::TEMPLATE).expect("the template is a host report")
    }

    /// The template is what the agent reports: slimming it changes nothing,
    /// and nft's copy of iptables-nft's tables is named only.
    #[test]
    fn the_template_is_in_the_shape_the_agent_reports() {
        let t = template();
        let mut slim = t.clone();
        let fw = slim.firewall.as_mut().expect("firewall");
        crate::inspect::slim::defer_to_iptables(fw);
        crate::inspect::slim::slim_firewall(fw);
        assert_eq!(slim, t);
        let nft = t
            .firewall
            .as_ref()
            .and_then(|f| f.nftables.as_ref())
            .expect("nft");
        assert!(
            nft.tables
                .iter()
                .all(|t| t.read_by.is_some() && t.chains.is_empty())
        );
    }
}
