//! The node-level faults: each applies one breakage from
//! [`crate::lab::host_faults`] (files, sysctls, rules) to the last node. They
//! differ only in data, so they are one type and a table.
//!
//! - `forward-drop` (not on calico, whose own chain accepts pod traffic):
//!   FORWARD policy DROP with flannel's accepts flushed, as
//!   when Docker starts on a node: the node's pods still talk to each other
//!   (bridged), every routed packet into or out of the node is dropped.
//! - `ip-forward-off`: net.ipv4.ip_forward = 0 after the node's pods started
//!   (a `sysctl --system` with a file that turns it off): the node's pods
//!   lose every other node. Not "a reboot without the sysctl file": the
//!   bridge CNI (`isGateway`) turns ip_forward back on at every pod ADD, so
//!   on a real node it stays off only until the next pod starts there; in
//!   the lab every pod is wired before the fault, and none after.
//! - `cni-conflict` (not on calico): an old Calico conflist (and its binaries) that sorts
//!   before flannel's: the runtime would wire new pods with Calico. Running
//!   pods keep working.
//! - `backend-mix`: kube-proxy's nat rules in iptables-legacy as well as
//!   iptables-nft: two rule sets the kernel both runs.
//! - `bridge-nf-off`: net.bridge.bridge-nf-call-iptables = 0: bridged traffic
//!   skips iptables, so replies from a Service on the same node bypass
//!   kube-proxy's NAT (flavours with a bridge only: routed pods always pass
//!   iptables).
//! - `conntrack-full`: the table filled to 95 % with real unreplied UDP flows
//!   (nf_conntrack_max is read-only in a network namespace, so the table is
//!   filled rather than shrunk).
//! - `rp-filter-strict`: all.rp_filter = 1, as hardening baselines set it;
//!   symmetric lab traffic passes, so it is a warning (it breaks asymmetric
//!   paths).
//! - `hairpin-off`: hairpin mode off on the bridge's pod ports, as with a CNI
//!   config without `hairpinMode`: a pod calling its own Service gets no answer
//!   (flavours with a bridge only: a routed veth sends the packet back itself).

use super::{Fault, apply_host, host_description};
use crate::lab::ctx::LabCtx;
use crate::lab::flavours::Flavour;
use crate::model::{FindingId, Severity};
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct HostFault {
    name: &'static str,
    expected: FindingId,
    severity: Severity,
    min_nodes: usize,
    /// It breaks the pods' bridge (a routed flavour has none).
    needs_bridge: bool,
    /// Flavours on which it breaks nothing by design (see [`FORWARD_DROP`]).
    not_on: &'static [&'static str],
    /// It changes IPv4's switch or table only: which, and IPv6's
    /// counterpart when there is one ([`Fault::needs_ipv4`]).
    ipv4_only: Option<&'static str>,
}

const fn fault(name: &'static str, expected: FindingId, min_nodes: usize) -> HostFault {
    HostFault {
        name,
        expected,
        severity: Severity::Error,
        min_nodes,
        needs_bridge: false,
        not_on: &[],
        ipv4_only: None,
    }
}

/// Not on calico: Felix accepts pod traffic in its own cali-FORWARD chain,
/// so a FORWARD policy DROP (Docker's) breaks nothing there, and the
/// diagnosis rightly says nothing.
pub const FORWARD_DROP: HostFault = HostFault {
    not_on: &["calico"],
    ipv4_only: Some("iptables' FORWARD policy; ipv6-forward-drop is IPv6's"),
    ..fault("forward-drop", FindingId::ForwardPolicyDrop, 2)
};
pub const IP_FORWARD_OFF: HostFault = HostFault {
    ipv4_only: Some("net.ipv4.ip_forward; ipv6-forward-off is IPv6's"),
    ..fault("ip-forward-off", FindingId::IpForwardDisabled, 2)
};
/// Not on calico: an earlier Calico config on a Calico node is the same CNI,
/// not another one.
pub const CNI_CONFLICT: HostFault = HostFault {
    not_on: &["calico"],
    ..fault("cni-conflict", FindingId::CniConfigConflict, 1)
};
pub const BACKEND_MIX: HostFault = HostFault {
    ipv4_only: Some("kube-proxy's IPv4 rules through iptables-legacy"),
    ..fault("backend-mix", FindingId::IptablesBackendMix, 1)
};
pub const BRIDGE_NF_OFF: HostFault = HostFault {
    needs_bridge: true,
    ipv4_only: Some("net.bridge.bridge-nf-call-iptables"),
    ..fault("bridge-nf-off", FindingId::BridgeNfCallDisabled, 1)
};
pub const CONNTRACK_FULL: HostFault = fault("conntrack-full", FindingId::ConntrackTableNearFull, 1);
pub const RP_FILTER_STRICT: HostFault = HostFault {
    severity: Severity::Warning,
    ipv4_only: Some("net.ipv4.conf.all.rp_filter; IPv6 has no rp_filter"),
    ..fault("rp-filter-strict", FindingId::RpFilterStrict, 1)
};
pub const HAIRPIN_OFF: HostFault = HostFault {
    needs_bridge: true,
    ..fault("hairpin-off", FindingId::HairpinBroken, 1)
};

impl Fault for HostFault {
    fn name(&self) -> &'static str {
        self.name
    }
    fn description(&self) -> &'static str {
        host_description(self.name)
    }
    fn target(&self) -> &'static str {
        "the last node"
    }
    fn expected(&self) -> FindingId {
        self.expected
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn min_nodes(&self) -> usize {
        self.min_nodes
    }
    fn applies_to(&self, cni: &dyn Flavour) -> bool {
        (!self.needs_bridge || cni.bridge().is_some()) && !self.not_on.contains(&cni.name())
    }
    fn needs_ipv4(&self) -> Option<&'static str> {
        self.ipv4_only
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        apply_host(lab, lab.last_node(), self.name)
    }
}
