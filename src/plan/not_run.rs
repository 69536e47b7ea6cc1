//! Checks that could not run. A probe the agent could not even start (no
//! socket of the kind it needs in this pod) says nothing about the network:
//! its check is `skipped` with the agent's reason, and the diagnosis names it
//! in one `checks-not-run` info finding instead of a broken network.
//!
//! What counts as "could not run", from the agent's answer (outcome `error`):
//!
//! - The ICMP socket could not be opened (`cannot open an ICMP socket: …`):
//!   no CAP_NET_RAW for a raw socket and `net.ipv4.ping_group_range` closed
//!   for unprivileged ping sockets (Pod Security `restricted` drops every
//!   capability), or ICMP/ICMPv6 not available in the pod at all. The ICMP
//!   and MTU probes share that socket.
//! - A socket of the probe's address family or protocol does not exist in
//!   the pod: `Address family not supported by protocol` (EAFNOSUPPORT, e.g.
//!   IPv6 disabled in the pod), `Protocol not supported` (EPROTONOSUPPORT),
//!   `Socket type not supported` (ESOCKTNOSUPPORT).
//! - DNS through the Service without the pod's resolver configuration
//!   (`cannot read /etc/resolv.conf`).
//!
//! Everything else stays a failure, in particular "Operation not permitted"
//! on *sending* or connecting (`ICMP send: …`, `connect: …`): a socket that
//! opened but whose packet the kernel refused is a firewall rule in the path
//! (an OUTPUT DROP answers EPERM to the sender), which is what netcheck is
//! there to find. Timeouts, refusals and unreachables are answers from the
//! network and never "not run".

use crate::model::report::{Check, Status};
use crate::model::{Outcome, ProbeResult};

/// The start of a not-run check's detail, before the agent's words.
pub const NOT_RUN: &str = "not run: ";

/// Errno texts (Rust's `io::Error` Display) meaning the socket kind does not
/// exist in the pod.
const UNSUPPORTED: [&str; 3] = [
    "(os error 97)", // EAFNOSUPPORT
    "(os error 93)", // EPROTONOSUPPORT
    "(os error 94)", // ESOCKTNOSUPPORT
];

/// Why the probe could not run, when the agent's answer says it could not.
pub fn reason(r: &ProbeResult) -> Option<&str> {
    if r.outcome != Outcome::Error {
        return None;
    }
    let d = r.detail.as_deref()?;
    let could_not_open = d.starts_with("cannot open an ICMP socket")
        || d.starts_with("cannot open an ICMPv6 socket")
        || d.starts_with("cannot read /etc/resolv.conf")
        || UNSUPPORTED.iter().any(|e| d.ends_with(e));
    could_not_open.then_some(d)
}

/// A check the agent could not run (as opposed to one skipped because no
/// probe pod runs on its node, or one that ran and failed).
pub fn is_not_run(c: &Check) -> bool {
    c.status == Status::Skipped && c.detail.starts_with(NOT_RUN)
}

/// Whether the reason is ICMP lacking its capability (the usual one:
/// Pod Security `restricted`), which has a known way to enable it.
pub fn is_icmp_permission(detail: &str) -> bool {
    detail.contains("NET_RAW")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::report::{CheckKind, Endpoint, Protocol};
    use crate::plan::CheckTemplate;

    fn answer(outcome: Outcome, detail: &str) -> ProbeResult {
        let mut r = ProbeResult::new("0", outcome);
        r.detail = Some(detail.into());
        r
    }

    fn icmp() -> CheckTemplate {
        CheckTemplate {
            kind: CheckKind::PodToPod,
            source: Endpoint {
                node: Some("node-0".into()),
                pod: Some("a".into()),
                ..Default::default()
            },
            target: Endpoint {
                node: Some("node-1".into()),
                pod: Some("b".into()),
                ..Default::default()
            },
            protocol: Protocol::Icmp,
            port: None,
            expect: Vec::new(),
            note: None,
        }
    }

    /// The agent's words when the pod has neither NET_RAW nor an open
    /// ping_group_range (agent/probe/icmp.rs, IcmpSocket::open).
    const NO_NET_RAW: &str = "cannot open an ICMP socket: raw sockets need the NET_RAW \
        capability (Operation not permitted (os error 1)) and unprivileged ping sockets are \
        not allowed for this group (Permission denied (os error 13)); run the agent with \
        CAP_NET_RAW or widen net.ipv4.ping_group_range";

    #[test]
    fn the_agent_still_says_what_the_classifier_reads() {
        // The classifier reads the agent's own sentences: if they change, this fails.
        let icmp_src = include_str!("../agent/probe/icmp.rs");
        assert!(icmp_src.contains("\"cannot open an {family} socket"));
        assert!(icmp_src.contains("(Domain::IPV6, Protocol::ICMPV6, \"ICMPv6\")"));
        assert!(icmp_src.contains("(Domain::IPV4, Protocol::ICMPV4, \"ICMP\")"));
        assert!(icmp_src.contains("raw sockets need the NET_RAW capability"));
        let dns_src = include_str!("../agent/probe/dns.rs");
        assert!(dns_src.contains("cannot read {RESOLV_CONF}"));
        assert!(dns_src.contains("RESOLV_CONF: &str = \"/etc/resolv.conf\""));
    }

    #[test]
    fn no_icmp_socket_is_a_skipped_check_with_the_agents_reason() {
        let c = super::super::judge(&icmp(), &answer(Outcome::Error, NO_NET_RAW));
        assert_eq!(c.status, Status::Skipped);
        assert!(is_not_run(&c), "{}", c.detail);
        assert!(c.detail.contains("NET_RAW"));
        assert!(is_icmp_permission(&c.detail));
        for unsupported in [
            "cannot open an ICMPv6 socket: Address family not supported by protocol (os error 97)",
            "connect: Address family not supported by protocol (os error 97)",
            "cannot read /etc/resolv.conf: No such file or directory (os error 2)",
        ] {
            let c = super::super::judge(&icmp(), &answer(Outcome::Error, unsupported));
            assert!(is_not_run(&c), "{unsupported}");
            assert!(!is_icmp_permission(&c.detail));
        }
    }

    #[test]
    fn a_packet_the_kernel_refused_to_send_is_a_network_failure() {
        // The socket opened; a firewall rule (OUTPUT DROP) refused the packet.
        for (outcome, detail) in [
            (
                Outcome::Error,
                "ICMP send: Operation not permitted (os error 1)",
            ),
            (
                Outcome::Error,
                "connect: Operation not permitted (os error 1)",
            ),
            (Outcome::Error, "HTTP handshake: connection closed"),
            (Outcome::Timeout, "no answer within 2000 ms"),
            (
                Outcome::Unreachable,
                "connect: No route to host (os error 113)",
            ),
        ] {
            let c = super::super::judge(&icmp(), &answer(outcome, detail));
            assert!(
                matches!(c.status, Status::Error | Status::Fail),
                "{detail}: {:?}",
                c.status
            );
            assert!(!is_not_run(&c));
        }
    }
}
