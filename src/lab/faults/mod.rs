//! Faults: each breaks a built lab the way clusters break, in one small file.
//!
//! A fault is a unit with its CLI name, a one-line description, the node it
//! hits, the finding it must produce and an `apply` that changes the lab's
//! network or files after the build. The diagnosis never sees which fault was
//! asked for: only what probes and host inspection observe. The finding is
//! for the tests, which run every fault in [`all`] and assert it.
//!
//! Adding a fault: one file here with a unit struct implementing [`Fault`],
//! and one line in [`all`]; a node-level fault is a breakage in
//! [`crate::lab::host_faults`] and a line in [`host`].

mod cross_node_drop;
mod dns_down;
mod host;
mod ipv6;
mod kube_proxy_down;
mod node_isolated;
mod nodeport_down;
mod proxy_arp_off;
mod route_missing;
mod underlay_mtu;
mod vxlan_port_mismatch;

use super::ctx::LabCtx;
use super::flavours::Flavour;
use crate::model::{FindingId, Severity};
use crate::runtime::Result;
use futures::future::BoxFuture;

pub trait Fault: Send + Sync {
    /// The `--fault` name.
    fn name(&self) -> &'static str;
    /// One line: what breaks, in an operator's words.
    fn description(&self) -> &'static str;
    /// Which node(s) it hits (deterministic, so tests and docs can say).
    fn target(&self) -> &'static str;
    /// The finding the diagnosis must name as the root (tests only).
    fn expected(&self) -> FindingId;
    /// Its severity: an error fails the run (exit 1); a warning is a fault
    /// that breaks nothing the probes send (exit 0 unless --fail-on warning).
    fn severity(&self) -> Severity {
        Severity::Error
    }
    /// The smallest lab in which the fault means what it says.
    fn min_nodes(&self) -> usize {
        1
    }
    /// Whether the fault means anything on the CNI flavour `cni` (a bridge
    /// fault on a flavour without a bridge does not).
    fn applies_to(&self, _cni: &dyn Flavour) -> bool {
        true
    }
    /// It breaks IPv6 only, so it needs a lab with IPv6 (`--ip-family
    /// ipv6|dual`).
    fn needs_ipv6(&self) -> bool {
        false
    }
    /// It breaks IPv4 only (an IPv4 sysctl, iptables and not ip6tables), so
    /// it needs a lab with IPv4 (`--ip-family ipv4|dual`): Some(what it
    /// changes, and IPv6's counterpart when there is one).
    fn needs_ipv4(&self) -> Option<&'static str> {
        None
    }
    /// Break the built lab.
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>>;
}

/// Every fault, in the order `--list-faults` shows them.
pub fn all() -> &'static [&'static dyn Fault] {
    &[
        &cross_node_drop::CrossNodeDrop,
        &node_isolated::NodeIsolated,
        &underlay_mtu::UnderlayMtu,
        &kube_proxy_down::KubeProxyDown,
        &nodeport_down::NodeportDown,
        &dns_down::DnsDown,
        &host::FORWARD_DROP,
        &host::IP_FORWARD_OFF,
        &ipv6::FORWARD_OFF,
        &ipv6::FORWARD_DROP,
        &host::CNI_CONFLICT,
        &host::BACKEND_MIX,
        &host::BRIDGE_NF_OFF,
        &host::CONNTRACK_FULL,
        &host::RP_FILTER_STRICT,
        &host::HAIRPIN_OFF,
        &proxy_arp_off::ProxyArpOff,
        &vxlan_port_mismatch::VxlanPortMismatch,
        &route_missing::RouteMissing,
    ]
}

/// Break node `i` with the host fault `name` from [`crate::lab::host_faults`]
/// (files, sysctls, rules: blocking work, so on a blocking thread).
fn apply_host<'a>(lab: &'a LabCtx, i: usize, name: &'static str) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let fault = crate::lab::host_faults::find(name).ok_or_else(|| {
            crate::runtime::RuntimeError::Other(format!("no host fault named {name}"))
        })?;
        // Faults on kube-proxy's own rules break a node whose kube-proxy
        // had synced (else its sync would overwrite them).
        if fault.after_service_sync {
            lab.services.wait_node(i).await?;
        }
        let ns = lab.plan.node_ns(i);
        let root = lab.node_root(i);
        let bridge = lab
            .cni
            .bridge()
            .unwrap_or(crate::lab::host_faults::LAB_BRIDGE)
            .to_string();
        tokio::task::spawn_blocking(move || {
            (fault.apply)(&crate::lab::host_faults::Node {
                ns: &ns,
                root: &root,
                bridge: &bridge,
            })
        })
        .await
        .map_err(|e| crate::runtime::RuntimeError::Other(format!("fault {name} panicked: {e}")))?
        .map_err(|e| crate::runtime::RuntimeError::Other(format!("fault {name}: {e}")))
    })
}

/// The host fault `name`'s one-line description (one place for the words).
fn host_description(name: &str) -> &'static str {
    crate::lab::host_faults::find(name).map_or("", |f| f.description)
}

pub fn find(name: &str) -> Option<&'static dyn Fault> {
    all().iter().copied().find(|f| f.name() == name)
}

/// Resolve `--fault` names for a lab of `nodes` nodes running `cni`; the
/// error is a usage message naming the known faults.
pub fn parse(
    names: &[String],
    nodes: usize,
    cni: &dyn Flavour,
) -> Result<Vec<&'static dyn Fault>, String> {
    let mut out: Vec<&'static dyn Fault> = Vec::new();
    for n in names.iter().map(|n| n.trim()) {
        let f = find(n).ok_or_else(|| {
            let known: Vec<&str> = all().iter().map(|f| f.name()).collect();
            format!("unknown fault '{n}'; known faults: {}", known.join(", "))
        })?;
        if nodes < f.min_nodes() {
            return Err(format!(
                "fault '{n}' needs a lab of at least {} nodes (--nodes {})",
                f.min_nodes(),
                f.min_nodes()
            ));
        }
        if !f.applies_to(cni) {
            return Err(format!(
                "fault '{n}' does not apply to --cni {}",
                cni.name()
            ));
        }
        if !out.iter().any(|o| o.name() == f.name()) {
            out.push(f);
        }
    }
    Ok(out)
}

/// The `--list-faults` text: name, what it breaks, where, which finding.
pub fn listing() -> String {
    let width = all().iter().map(|f| f.name().len()).max().unwrap_or(0);
    let mut s = String::new();
    for f in all() {
        s.push_str(&format!(
            "{:width$}  {} ({}; expect {}{}{})\n",
            f.name(),
            f.description(),
            f.target(),
            f.expected(),
            if f.severity() == Severity::Error {
                ""
            } else {
                ", a warning"
            },
            if f.needs_ipv4().is_some() {
                "; IPv4 and dual-stack labs"
            } else {
                ""
            }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_described() {
        let mut seen = std::collections::BTreeSet::new();
        for f in all() {
            assert!(seen.insert(f.name()), "duplicate fault {}", f.name());
            assert!(
                f.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                f.name()
            );
            assert!(!f.description().is_empty() && !f.description().contains('\n'));
            assert!(!f.target().is_empty());
        }
    }

    #[test]
    fn parse_validates_names_and_sizes() {
        let cni = crate::lab::flavours::default();
        let ok = parse(&["dns-down".into(), "dns-down".into()], 3, cni).unwrap();
        assert_eq!(ok.len(), 1);
        let err = parse(&["nope".into()], 3, cni).err().unwrap();
        assert!(err.contains("unknown fault 'nope'") && err.contains("cross-node-drop"));
        let kindnet = crate::lab::flavours::parse("kindnet").unwrap();
        for bridge_fault in ["hairpin-off", "bridge-nf-off"] {
            let err = parse(&[bridge_fault.into()], 3, kindnet).err().unwrap();
            assert!(err.contains("does not apply to --cni kindnet"), "{err}");
            assert!(parse(&[bridge_fault.into()], 3, cni).is_ok());
        }
        let err = parse(&["route-missing".into()], 3, cni).err().unwrap();
        assert!(err.contains("does not apply to --cni flannel"), "{err}");
        assert!(parse(&["route-missing".into()], 3, kindnet).is_ok());
        let err = parse(&["cross-node-drop".into()], 1, cni).err().unwrap();
        assert!(err.contains("at least 2 nodes"), "{err}");
    }

    #[test]
    fn listing_names_every_fault_and_its_finding() {
        let l = listing();
        for f in all() {
            assert!(l.contains(f.name()) && l.contains(f.expected().as_str()));
        }
    }
}
