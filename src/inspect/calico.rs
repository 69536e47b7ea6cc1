//! Calico's conventions that host inspection and the diagnosis rely on, and
//! the lab reproduces: the name of a pod's host-side interface and the pod's
//! gateway.
//!
//! Calico gives every pod a veth pair and no bridge. The host end is named
//! `cali` followed by the first 11 hex digits of the SHA-1 of
//! `<namespace>.<pod name>` (so a pod keeps its interface name across
//! restarts, and a node's interfaces can be mapped back to its pods); it has
//! no address, MAC ee:ee:ee:ee:ee:ee and proxy_arp = 1. Inside the pod, eth0
//! carries the pod's /32 and a default route via 169.254.1.1, an address no
//! one has: the host answers the pod's ARP for it by proxy ARP, so every
//! packet leaving the pod goes to the host, which routes it (a /32 route per
//! local pod via its `cali` interface, remote blocks over the overlay).

use sha1::{Digest, Sha1};
use std::net::Ipv4Addr;

/// The gateway every Calico pod routes through (link-local, answered by the
/// host's proxy ARP on the pod's `cali` interface).
pub const POD_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// Calico's interface name prefix for pods (`cali` + 11 hex digits).
pub const WORKLOAD_PREFIX: &str = "cali";

/// The host-side interface Calico creates for pod `namespace/name`.
pub fn workload_interface(namespace: &str, pod: &str) -> String {
    let digest = Sha1::digest(format!("{namespace}.{pod}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{WORKLOAD_PREFIX}{}", &hex[..11])
}

/// A Calico workload interface name: `cali` and 11 hex digits.
pub fn is_workload_interface(name: &str) -> bool {
    name.strip_prefix(WORKLOAD_PREFIX)
        .is_some_and(|h| h.len() == 11 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cali_and_the_first_11_hex_digits_of_sha1() {
        // sha1("netcheck-abcde.probe-1a") = c7f546db357760…, sha1("default.nginx") = c440f455693b69…
        assert_eq!(
            workload_interface("netcheck-abcde", "probe-1a"),
            "calic7f546db357"
        );
        assert_eq!(workload_interface("default", "nginx"), "calic440f455693");
        let n = workload_interface("kube-system", "coredns-lab-a");
        assert_eq!(n.len(), 15, "an interface name has at most 15 characters");
        assert!(is_workload_interface(&n));
        assert!(!is_workload_interface("cali-FORWARD"));
        assert!(!is_workload_interface("vxlan.calico"));
        assert!(!is_workload_interface("calic7f546db35"));
    }

    /// A node whose CNI config could not be read is still Calico by its
    /// devices (vxlan.calico), and the cali veths do not hide it.
    #[test]
    fn a_calico_node_is_recognised_by_its_devices_alone() {
        use crate::model::host::{HostReport, Interface, Tunnel};
        let h = HostReport {
            node: "node-1".into(),
            interfaces: vec![
                Interface {
                    name: workload_interface("default", "nginx"),
                    kind: Some("veth".into()),
                    ..Default::default()
                },
                Interface {
                    name: "vxlan.calico".into(),
                    kind: Some("vxlan".into()),
                    tunnel: Some(Tunnel {
                        id: Some(4096),
                        port: Some(4789),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let (cni, why) = crate::inspect::cluster_facts::node_cni(&h).expect("recognised");
        assert_eq!(cni, "calico");
        assert!(why.contains("vxlan.calico"), "{why}");
    }

    /// A dual-stack Calico node has `vxlan-v6.calico` (VXLAN over the IPv6
    /// underlay, MTU 1430) beside `vxlan.calico`; an IPv6-only one has it
    /// alone. Either is Calico's, and the host summary shows both MTUs.
    #[test]
    fn vxlan_v6_calico_is_calicos_and_its_mtu_is_shown() {
        use crate::model::host::{HostReport, Interface, Tunnel};
        let vxlan = |name: &str, mtu: u32| Interface {
            name: name.into(),
            kind: Some("vxlan".into()),
            mtu: Some(mtu),
            tunnel: Some(Tunnel {
                id: Some(4096),
                port: Some(4789),
                dev: Some("eth0".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut h = HostReport {
            node: "node-1".into(),
            interfaces: vec![
                Interface {
                    name: "eth0".into(),
                    kind: Some("veth".into()),
                    mtu: Some(1500),
                    ..Default::default()
                },
                vxlan("vxlan-v6.calico", 1430),
            ],
            ..Default::default()
        };
        let (cni, why) = crate::inspect::cluster_facts::node_cni(&h).expect("IPv6 only");
        assert_eq!(cni, "calico");
        assert!(why.contains("vxlan-v6.calico"), "{why}");
        h.interfaces.push(vxlan("vxlan.calico", 1450));
        let (cni, _) = crate::inspect::cluster_facts::node_cni(&h).expect("dual stack");
        assert_eq!(cni, "calico");
        let mtus = crate::inspect::query::summarize(&h).mtus;
        assert_eq!(mtus.get("vxlan.calico"), Some(&1450), "{mtus:?}");
        assert_eq!(mtus.get("vxlan-v6.calico"), Some(&1430), "{mtus:?}");
    }
}
