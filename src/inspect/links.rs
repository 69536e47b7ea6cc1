//! `ip -j -d link`, `ip -j addr` and `ip -j route` → interfaces and routes.
//! Only the fields we use are declared; serde ignores the rest, so a newer
//! iproute2 with more fields parses the same.

use crate::model::host::{Interface, Route, Tunnel};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct Link {
    ifname: String,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    operstate: Option<String>,
    #[serde(default)]
    master: Option<String>,
    #[serde(default)]
    linkinfo: Option<LinkInfo>,
}

#[derive(Debug, Deserialize)]
struct LinkInfo {
    #[serde(default)]
    info_kind: Option<String>,
    #[serde(default)]
    info_data: Option<serde_json::Value>,
    #[serde(default)]
    info_slave_kind: Option<String>,
    #[serde(default)]
    info_slave_data: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct AddrLink {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

#[derive(Debug, Deserialize)]
struct AddrInfo {
    #[serde(default)]
    local: Option<String>,
    #[serde(default)]
    prefixlen: Option<u8>,
}

#[derive(Debug, Deserialize)]
struct RawRoute {
    dst: String,
    #[serde(default)]
    dev: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
}

fn num(v: Option<&serde_json::Value>) -> Option<u64> {
    v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
}

/// Interfaces from `ip -j -d link` (and `ip -j addr` for addresses, when given).
pub fn parse_links(link_json: &str, addr_json: Option<&str>) -> Result<Vec<Interface>, String> {
    let links: Vec<Link> = serde_json::from_str(link_json)
        .map_err(|e| format!("`ip -j -d link` output does not parse: {e}"))?;
    let mut addrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(a) = addr_json {
        let list: Vec<AddrLink> = serde_json::from_str(a)
            .map_err(|e| format!("`ip -j addr` output does not parse: {e}"))?;
        for l in list {
            let v: Vec<String> = l
                .addr_info
                .iter()
                .filter_map(|ai| Some(format!("{}/{}", ai.local.as_ref()?, ai.prefixlen?)))
                .collect();
            addrs.insert(l.ifname, v);
        }
    }
    Ok(links
        .into_iter()
        .map(|l| {
            let info = l.linkinfo.as_ref();
            let kind = info.and_then(|i| i.info_kind.clone());
            let data = info.and_then(|i| i.info_data.as_ref());
            let tunnel = match kind.as_deref() {
                Some("vxlan") | Some("geneve") => data.map(|d| Tunnel {
                    id: num(d.get("id")).and_then(|v| u32::try_from(v).ok()),
                    port: num(d.get("port"))
                        .and_then(|v| u16::try_from(v).ok())
                        // Geneve's default when iproute2 leaves it out.
                        .or((kind.as_deref() == Some("geneve")).then_some(6081)),
                    dev: d.get("link").and_then(|v| v.as_str()).map(str::to_string),
                    local: d.get("local").and_then(|v| v.as_str()).map(str::to_string),
                }),
                Some("ipip") | Some("wireguard") | Some("gre") | Some("sit") => Some(Tunnel {
                    dev: data
                        .and_then(|d| d.get("link"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    local: data
                        .and_then(|d| d.get("local"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    ..Default::default()
                }),
                _ => None,
            };
            let hairpin = info
                .filter(|i| i.info_slave_kind.as_deref() == Some("bridge"))
                .and_then(|i| i.info_slave_data.as_ref())
                .and_then(|d| d.get("hairpin"))
                .and_then(|h| h.as_bool().or_else(|| h.as_u64().map(|n| n != 0)));
            Interface {
                addresses: addrs.remove(&l.ifname).unwrap_or_default(),
                name: l.ifname,
                kind,
                mtu: l.mtu,
                state: l.operstate,
                master: l.master,
                hairpin,
                tunnel,
            }
        })
        .collect())
}

/// Routes from `ip -j route`.
pub fn parse_routes(json: &str) -> Result<Vec<Route>, String> {
    let raw: Vec<RawRoute> = serde_json::from_str(json)
        .map_err(|e| format!("`ip -j route` output does not parse: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|r| Route {
            dst: r.dst,
            dev: r.dev,
            gateway: r.gateway,
            protocol: r.protocol,
        })
        .collect())
}

/// `key = value` lines (as `sysctl -a` prints them) into a map; lines that
/// are not `key = value` are skipped.
pub fn parse_sysctl_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// The sysctl section from `net.…` keys and values (from /proc/sys or a capture).
pub fn sysctls_from(values: &BTreeMap<String, String>) -> crate::model::host::Sysctls {
    let get = |k: &str| values.get(k).and_then(|v| v.trim().parse::<u32>().ok());
    let mut s = crate::model::host::Sysctls {
        ip_forward: get("net.ipv4.ip_forward"),
        ipv6_forwarding: get("net.ipv6.conf.all.forwarding"),
        bridge_nf_call_iptables: get("net.bridge.bridge-nf-call-iptables"),
        bridge_nf_call_ip6tables: get("net.bridge.bridge-nf-call-ip6tables"),
        ..Default::default()
    };
    for (k, v) in values {
        let Some(rest) = k.strip_prefix("net.ipv4.conf.") else {
            continue;
        };
        let Ok(n) = v.trim().parse::<u32>() else {
            continue;
        };
        if let Some(iface) = rest.strip_suffix(".rp_filter") {
            s.rp_filter.insert(iface.to_string(), n);
        } else if let Some(iface) = rest.strip_suffix(".proxy_arp") {
            s.proxy_arp.insert(iface.to_string(), n);
        }
    }
    s
}

/// Conntrack usage from the two sysctls.
pub fn conntrack_from(values: &BTreeMap<String, String>) -> Option<crate::model::host::Conntrack> {
    let count: u64 = values
        .get("net.netfilter.nf_conntrack_count")?
        .trim()
        .parse()
        .ok()?;
    let max: u64 = values
        .get("net.netfilter.nf_conntrack_max")?
        .trim()
        .parse()
        .ok()?;
    let percent = if max == 0 {
        0.0
    } else {
        ((count as f64 / max as f64) * 1000.0).round() / 10.0
    };
    Some(crate::model::host::Conntrack {
        count,
        max,
        percent,
    })
}
