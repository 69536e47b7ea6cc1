//! DNS: A and/or AAAA through hickory-resolver (the plan's `record`: A for
//! an IPv4 check, AAAA for an IPv6 one; both when it names none).
//!
//! `server: None` resolves like a pod: /etc/resolv.conf's nameservers, search
//! list and ndots (`ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf
//! there, and a pod's kubelet writes it). `server: Some(ip)` asks that server
//! only, the name as given. Timeouts are the probe's: hickory's own timeout
//! and attempts are set so that its retries fit inside the probe timeout, and
//! nothing is cached between probes.

use super::{Attempts, error, ms};
use crate::model::plan::DnsRecord;
use crate::model::{Outcome, ProbeResult};
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::{Resolver, TokioResolver};
use std::net::IpAddr;
use std::time::Instant;

const RESOLV_CONF: &str = "/etc/resolv.conf";

pub(super) async fn probe(
    id: &str,
    name: &str,
    server: Option<IpAddr>,
    port: Option<u16>,
    record: Option<DnsRecord>,
    attempts: Attempts,
) -> ProbeResult {
    let attempts = (attempts, strategy(record));
    let resolver = match server {
        Some(ip) => explicit_resolver(ip, port.unwrap_or(53), attempts),
        None => match std::fs::read(RESOLV_CONF) {
            Ok(conf) => system_resolver(&conf, port, attempts),
            Err(e) => Err(format!("cannot read {RESOLV_CONF}: {e}")),
        },
    };
    match resolver {
        Ok(r) => lookup(id, &r, name).await,
        Err(e) => error(id, e),
    }
}

/// hickory's lookup strategy for the record asked.
pub(super) fn strategy(record: Option<DnsRecord>) -> LookupIpStrategy {
    match record {
        Some(DnsRecord::A) => LookupIpStrategy::Ipv4Only,
        Some(DnsRecord::Aaaa) => LookupIpStrategy::Ipv6Only,
        None => LookupIpStrategy::Ipv4AndIpv6,
    }
}

/// How many tries, and which records to ask.
pub(super) type Asking = (Attempts, LookupIpStrategy);

/// Options shared by both kinds: no cache, no hosts file surprises for an
/// explicit server, hickory's per-try timeout so that `attempts` tries fit
/// inside the probe timeout.
fn opts(base: ResolverOpts, (attempts, strategy): Asking) -> ResolverOpts {
    let mut o = base;
    o.timeout = attempts.interval.max(std::time::Duration::from_millis(50));
    o.attempts = attempts.count.saturating_sub(1) as usize;
    o.cache_size = 0;
    o.ip_strategy = strategy;
    o.try_tcp_on_error = false;
    o.num_concurrent_reqs = 1;
    o
}

fn explicit_resolver(ip: IpAddr, port: u16, attempts: Asking) -> Result<TokioResolver, String> {
    let mut ns = NameServerConfig::udp(ip);
    for c in &mut ns.connections {
        c.port = port;
    }
    let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
    let mut o = opts(ResolverOpts::default(), attempts);
    o.use_hosts_file = ResolveHosts::Never;
    // The name as given: no search list, whatever its dots.
    o.ndots = 0;
    Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(o)
        .build()
        .map_err(|e| format!("cannot build a resolver for {ip}: {e}"))
}

/// A resolver from resolv.conf content. `port` overrides the servers' port
/// (resolv.conf cannot name one; tests use it).
pub(super) fn system_resolver(
    conf: &[u8],
    port: Option<u16>,
    attempts: Asking,
) -> Result<TokioResolver, String> {
    let (config, base) = hickory_resolver::system_conf::parse_resolv_conf(conf)
        .map_err(|e| format!("cannot use {RESOLV_CONF}: {e}"))?;
    let config = match port {
        Some(port) => {
            let (domain, search, mut servers) = config.into_parts();
            for s in &mut servers {
                for c in &mut s.connections {
                    c.port = port;
                }
            }
            ResolverConfig::from_parts(domain, search, servers)
        }
        None => config,
    };
    Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts(base, attempts))
        .build()
        .map_err(|e| format!("cannot build a resolver from {RESOLV_CONF}: {e}"))
}

pub(super) async fn lookup(id: &str, resolver: &TokioResolver, name: &str) -> ProbeResult {
    let started = Instant::now();
    let answer = resolver.lookup_ip(name).await;
    let latency = started.elapsed();
    match answer {
        Ok(ips) => {
            let mut addresses: Vec<IpAddr> = ips.iter().collect();
            addresses.sort();
            addresses.dedup();
            if addresses.is_empty() {
                return answered_error(id, "no records", latency);
            }
            let mut r = ProbeResult::new(id, Outcome::Ok);
            r.latency_ms = Some(ms(latency));
            r.addresses = addresses;
            r
        }
        Err(e) => from_net_error(id, &e, latency),
    }
}

/// DNS answered, but the name does not resolve: an error with latency, so the
/// diagnosis tells it from no answer at all (timeout).
fn answered_error(id: &str, what: &str, latency: std::time::Duration) -> ProbeResult {
    let mut r = error(id, what);
    r.latency_ms = Some(ms(latency));
    r
}

fn from_net_error(id: &str, e: &NetError, latency: std::time::Duration) -> ProbeResult {
    if e.is_nx_domain() {
        return answered_error(id, "NXDOMAIN", latency);
    }
    if e.is_no_records_found() {
        return answered_error(id, "no records", latency);
    }
    match e {
        // REFUSED, SERVFAIL, …: the server answered, with an error code.
        NetError::Dns(DnsError::ResponseCode(code)) => {
            answered_error(id, &format!("{code:?}").to_uppercase(), latency)
        }
        NetError::Timeout => {
            let mut r = ProbeResult::new(id, Outcome::Timeout);
            r.detail = Some("no DNS answer".into());
            r
        }
        NetError::Io(io) => super::from_io(id, "DNS", io),
        other => error(id, format!("DNS: {other}")),
    }
}
