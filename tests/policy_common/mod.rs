//! The upstream e2e netpol world: namespaces x, y, z (labelled ns=…) with
//! pods a, b, c (labelled pod=…), each serving 80 and 81 on TCP, UDP and
//! SCTP under the names serve-<port>-<proto>; pod IPs 198.18.1<ns>.<pod>.

#![allow(dead_code)]

use netcheck::policy::{ContainerPort, PodInfo, Proto};
use std::collections::BTreeMap;

pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
pub const PODS: [&str; 3] = ["a", "b", "c"];

pub type Namespaces = BTreeMap<String, BTreeMap<String, String>>;

pub fn world() -> (Namespaces, Vec<PodInfo>) {
    let mut namespaces = BTreeMap::new();
    let mut pods = Vec::new();
    for (i, ns) in NAMESPACES.iter().enumerate() {
        namespaces.insert(
            ns.to_string(),
            BTreeMap::from([("ns".to_string(), ns.to_string())]),
        );
        for (j, p) in PODS.iter().enumerate() {
            let mut ports = Vec::new();
            for port in [80u16, 81] {
                for (proto, word) in [
                    (Proto::Tcp, "tcp"),
                    (Proto::Udp, "udp"),
                    (Proto::Sctp, "sctp"),
                ] {
                    ports.push(ContainerPort {
                        name: Some(format!("serve-{port}-{word}")),
                        port,
                        protocol: proto,
                    });
                }
            }
            pods.push(PodInfo {
                namespace: ns.to_string(),
                name: p.to_string(),
                labels: BTreeMap::from([("pod".to_string(), p.to_string())]),
                ips: vec![format!("198.18.{}.{}", 10 + i, j + 1).parse().unwrap()],
                ports,
            });
        }
    }
    (namespaces, pods)
}

pub fn names() -> Vec<String> {
    NAMESPACES
        .iter()
        .flat_map(|ns| PODS.iter().map(move |p| format!("{ns}/{p}")))
        .collect()
}
