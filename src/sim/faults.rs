//! The lab's faults, applied to a [`SimNetwork`]: each `--fault` name of
//! `lab --list-faults` changes the simulated nodes the way the lab's fault
//! changes the real ones (same node, same thing), so the probes and the host
//! reports show what the lab would show. The diagnosis is never told.
//!
//! A lab fault without a counterpart here is refused with `--simulate`
//! (and fails `every_lab_fault_has_a_simulated_counterpart` unless
//! [`out_of_scope`] says why it cannot have one): adding a lab fault of the
//! default flavour means adding its line to [`apply`].

use super::network::SimNetwork;

/// What the lab's `underlay-mtu` gives the last node's wire port.
pub const UNDERLAY_MTU: u16 = 1400;

/// Break `net` as the lab fault `name` breaks a lab of the same size.
pub fn apply(name: &str, net: &mut SimNetwork) -> Result<(), String> {
    match name {
        // node-1 <-> node-2: flannel forgot the peers both ways.
        "cross-node-drop" => {
            if net.node_count() < 2 {
                return Err("cross-node-drop needs at least 2 nodes".into());
            }
            net.lost_overlay_pairs.extend([(0, 1), (1, 0)]);
        }
        "dns-down" => net.dns_up = false,
        _ => {
            let last = net.last_node();
            let n = &mut net.nodes[last];
            match name {
                "node-isolated" => n.overlay_up = false,
                "underlay-mtu" => n.wire_mtu = UNDERLAY_MTU,
                "kube-proxy-down" => n.kube_proxy_rules = false,
                "forward-drop" => n.forward_policy_drop = true,
                "ip-forward-off" => n.ip_forward = false,
                "cni-conflict" => n.stale_calico_config = true,
                "backend-mix" => n.legacy_nat_copy = true,
                "bridge-nf-off" => n.bridge_nf_call = false,
                "conntrack-full" => n.conntrack_permille = 952,
                "rp-filter-strict" => n.rp_filter_all = 1,
                "hairpin-off" => n.hairpin = false,
                _ => {
                    let why = crate::lab::faults::all()
                        .iter()
                        .find(|f| f.name() == name)
                        .and_then(|f| out_of_scope(*f))
                        .map(|w| format!(": {w}"))
                        .unwrap_or_default();
                    return Err(format!(
                        "the fault '{name}' has no simulated counterpart{why}"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Why a lab fault has no simulated counterpart, or None when it has one.
/// The simulated network is the lab's default flavour (flannel's VXLAN,
/// IPv4, kube-proxy in iptables mode) and plans no NodePorts yet.
pub fn out_of_scope(f: &dyn crate::lab::faults::Fault) -> Option<&'static str> {
    if !f.applies_to(crate::lab::flavours::default()) {
        return Some("it breaks another CNI flavour than the simulated one (flannel)");
    }
    if f.needs_ipv6() {
        return Some("it breaks IPv6 only and the simulator is IPv4");
    }
    if f.name() == "nodeport-down" {
        return Some("the simulated cluster has no NodePorts yet");
    }
    None
}

/// Lab faults the simulator models (see [`out_of_scope`] for the others).
pub fn simulated() -> Vec<&'static dyn crate::lab::faults::Fault> {
    crate::lab::faults::all()
        .iter()
        .copied()
        .filter(|f| out_of_scope(*f).is_none())
        .collect()
}

/// Whether `name` has a simulated counterpart.
pub fn supported(name: &str) -> bool {
    let mut probe = match SimNetwork::new(3, 1, 0) {
        Ok(n) => n,
        Err(_) => return false,
    };
    apply(name, &mut probe).is_ok()
}
