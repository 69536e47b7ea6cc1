//! `ipvsadm -Ln` → the IPVS table kube-proxy programs in IPVS mode: one
//! virtual service per Service address and port, its endpoints as real
//! servers under it.
//!
//! ```text
//! IP Virtual Server version 1.2.1 (size=4096)
//! Prot LocalAddress:Port Scheduler Flags
//!   -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
//! TCP  10.96.0.10:53 rr
//!   -> 10.244.0.3:53                Masq    1      0          0
//! TCP  10.96.0.1:443 rr persistent 10800
//! FWM  1 rr
//! ```
//!
//! Lines it does not know (a newer ipvsadm's extra header) are skipped; a
//! real server before any service is dropped. Never panics.

use crate::model::host::{Ipvs, IpvsRealServer, IpvsService};

const PROTOCOLS: [&str; 4] = ["TCP", "UDP", "SCTP", "FWM"];

pub fn parse(text: &str) -> Ipvs {
    let mut out = Ipvs::default();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("IP Virtual Server version ") {
            out.version = rest.split_whitespace().next().map(str::to_string);
            continue;
        }
        if let Some(rest) = t.strip_prefix("->") {
            let w: Vec<&str> = rest.split_whitespace().collect();
            // The header line: `-> RemoteAddress:Port Forward Weight …`.
            if w.first() == Some(&"RemoteAddress:Port") || w.len() < 2 {
                continue;
            }
            let num = |i: usize| w.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let rs = IpvsRealServer {
                address: w[0].to_string(),
                forward: w[1].to_string(),
                weight: w.get(2).and_then(|v| v.parse().ok()).unwrap_or(0),
                active_conn: num(3),
                inactive_conn: num(4),
            };
            if let Some(s) = out.services.last_mut() {
                s.real_servers.push(rs);
            }
            continue;
        }
        let w: Vec<&str> = t.split_whitespace().collect();
        match w.as_slice() {
            [proto, addr, sched, flags @ ..] if PROTOCOLS.contains(proto) => {
                out.services.push(IpvsService {
                    protocol: proto.to_string(),
                    address: addr.to_string(),
                    scheduler: sched.to_string(),
                    flags: flags.iter().map(|f| f.to_string()).collect(),
                    real_servers: Vec::new(),
                })
            }
            _ => {}
        }
    }
    out
}

impl Ipvs {
    /// The virtual service for an address and port (`198.19.0.10:53`,
    /// `[2001:2::a]:53`) and protocol.
    pub fn service(&self, protocol: &str, address: &str) -> Option<&IpvsService> {
        self.services
            .iter()
            .find(|s| s.protocol.eq_ignore_ascii_case(protocol) && s.address == address)
    }

    /// Virtual services without a real server: a Service whose traffic
    /// IPVS has nowhere to send.
    pub fn empty_services(&self) -> Vec<&IpvsService> {
        self.services
            .iter()
            .filter(|s| s.real_servers.is_empty())
            .collect()
    }
}
