//! Probe tests on loopback (127.0.0.1 / ::1), no root needed: a served agent,
//! refused ports, a socket that never answers, deadlines, and DNS against a
//! tiny responder built with hickory-proto.

use super::*;
use crate::agent::serve::{Identity, ServeConfig, Server};
use crate::model::{Outcome, Probe, ProbePlan, ProbeResult, ProbeSpec};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Served {
    tcp: u16,
    udp: u16,
    http: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve() -> Served {
    let server = Server::bind(&ServeConfig {
        bind: Some(LO),
        tcp_port: 0,
        udp_port: 0,
        http_port: 0,
        identity: Identity {
            pod: "pod-a".into(),
            node: "node-1".into(),
            ip: String::new(),
        },
    })
    .expect("bind on loopback");
    let (tcp, udp, http) = (
        server.tcp_addr().unwrap().port(),
        server.udp_addr().unwrap().port(),
        server.http_addr().unwrap().port(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Served {
        tcp,
        udp,
        http,
        _stop: stop,
    }
}

fn probe(id: &str, timeout_ms: u64, retries: u8, spec: ProbeSpec) -> Probe {
    Probe {
        id: id.into(),
        timeout_ms,
        retries,
        cell: None,
        phase: 0,
        spec,
    }
}

fn plan(deadline_ms: u64, probes: Vec<Probe>) -> ProbePlan {
    ProbePlan {
        deadline_ms,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes,
    }
}

fn by_id<'a>(results: &'a [ProbeResult], id: &str) -> &'a ProbeResult {
    results
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no result {id} in {results:?}"))
}

/// A port nothing listens on (TCP and UDP): bound, then released.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind((LO, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// A UDP socket that reads everything and never answers.
async fn black_hole() -> (tokio::task::JoinHandle<()>, u16) {
    let sock = tokio::net::UdpSocket::bind((LO, 0)).await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while sock.recv_from(&mut buf).await.is_ok() {}
    });
    (task, port)
}

#[tokio::test]
async fn tcp_udp_http_against_a_served_agent() {
    let s = serve().await;
    let report = run_plan(&plan(
        5000,
        vec![
            probe(
                "tcp",
                2000,
                0,
                ProbeSpec::Tcp {
                    target: LO,
                    port: s.tcp,
                    echo: false,
                },
            ),
            probe(
                "tcp-echo",
                2000,
                0,
                ProbeSpec::Tcp {
                    target: LO,
                    port: s.tcp,
                    echo: true,
                },
            ),
            probe(
                "udp",
                2000,
                2,
                ProbeSpec::Udp {
                    target: LO,
                    port: s.udp,
                },
            ),
            probe(
                "http",
                2000,
                0,
                ProbeSpec::Http {
                    target: LO,
                    port: s.http,
                    path: "/whoami".into(),
                },
            ),
        ],
    ))
    .await;
    assert_eq!(report.results.len(), 4);
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
        let l = r.latency_ms.expect("latency on an answered probe");
        assert!((0.0..2000.0).contains(&l), "{r:?}");
    }
    let peer: serde_json::Value =
        serde_json::from_str(by_id(&report.results, "http").peer.as_deref().unwrap()).unwrap();
    assert_eq!(peer["pod"], "pod-a");
    assert_eq!(peer["node"], "node-1");
    assert_eq!(
        peer["ip"], "127.0.0.1",
        "the address the request arrived on"
    );
    assert!(report.peak_rss_kib.unwrap_or(0) > 0);
    assert_eq!(report.results[0].id, "tcp", "results keep the plan's order");
}

#[tokio::test]
async fn refused_ports_are_refused() {
    let port = free_port();
    let started = Instant::now();
    let report = run_plan(&plan(
        3000,
        vec![
            probe(
                "tcp",
                3000,
                0,
                ProbeSpec::Tcp {
                    target: LO,
                    port,
                    echo: false,
                },
            ),
            probe("udp", 3000, 2, ProbeSpec::Udp { target: LO, port }),
            probe(
                "http",
                3000,
                0,
                ProbeSpec::Http {
                    target: LO,
                    port,
                    path: "/".into(),
                },
            ),
        ],
    ))
    .await;
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Refused, "{r:?}");
    }
    // At the first attempt, not at a retry (every 1000 ms here).
    let took = started.elapsed();
    assert!(took < Duration::from_millis(800), "took {took:?}");
}

#[tokio::test]
async fn tcp_echo_against_a_non_echo_server_is_an_error() {
    // A server that accepts and closes at once: connect works, echo does not.
    let l = tokio::net::TcpListener::bind((LO, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    let report = run_plan(&plan(
        3000,
        vec![probe(
            "tcp-echo",
            1000,
            0,
            ProbeSpec::Tcp {
                target: LO,
                port,
                echo: true,
            },
        )],
    ))
    .await;
    let r = &report.results[0];
    assert_ne!(r.outcome, Outcome::Ok, "{r:?}");
}

#[tokio::test]
async fn many_dead_probes_finish_in_about_one_timeout() {
    let (_task, port) = black_hole().await;
    let n = 300;
    let timeout_ms = 400;
    let probes = (0..n)
        .map(|i| {
            probe(
                &format!("p{i}"),
                timeout_ms,
                2,
                ProbeSpec::Udp { target: LO, port },
            )
        })
        .collect();
    let started = Instant::now();
    let report = run_plan(&plan(10_000, probes)).await;
    let took = started.elapsed();
    assert_eq!(report.results.len(), n);
    assert!(
        report.results.iter().all(|r| r.outcome == Outcome::Timeout),
        "{:?}",
        report
            .results
            .iter()
            .find(|r| r.outcome != Outcome::Timeout)
    );
    assert!(
        took >= Duration::from_millis(timeout_ms) && took < Duration::from_millis(timeout_ms * 2),
        "{n} dead probes took {took:?}, expected about one timeout ({timeout_ms} ms)"
    );
}

#[tokio::test]
async fn the_plan_deadline_cuts_everything_still_running() {
    let (_task, port) = black_hole().await;
    let probes = (0..20)
        .map(|i| {
            probe(
                &format!("p{i}"),
                10_000,
                0,
                ProbeSpec::Udp { target: LO, port },
            )
        })
        .collect();
    let started = Instant::now();
    let report = run_plan(&plan(300, probes)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    assert_eq!(report.results.len(), 20);
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Timeout);
        assert!(r.detail.as_deref().unwrap_or("").contains("plan deadline"));
    }
}

#[tokio::test]
async fn max_in_flight_bounds_concurrency() {
    let (_task, port) = black_hole().await;
    let probes = (0..8)
        .map(|i| {
            probe(
                &format!("p{i}"),
                150,
                0,
                ProbeSpec::Udp { target: LO, port },
            )
        })
        .collect();
    let mut p = plan(10_000, probes);
    p.max_in_flight = Some(2);
    let started = Instant::now();
    let report = run_plan(&p).await;
    let took = started.elapsed();
    // Four batches of two, each one timeout.
    assert!(took >= Duration::from_millis(600), "took {took:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(report.results.iter().all(|r| r.outcome == Outcome::Timeout));
}

#[tokio::test]
async fn a_late_answer_to_an_earlier_attempt_counts() {
    // Answers only the first datagram, after 250 ms: the probe resends at
    // 0/200/400 ms of a 600 ms timeout and must take the late first answer.
    let sock = tokio::net::UdpSocket::bind((LO, 0)).await.unwrap();
    let port = sock.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        if let Ok((n, peer)) = sock.recv_from(&mut buf).await {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let _ = sock.send_to(&buf[..n], peer).await;
        }
        while sock.recv_from(&mut buf).await.is_ok() {}
    });
    let report = run_plan(&plan(
        3000,
        vec![probe("udp", 600, 2, ProbeSpec::Udp { target: LO, port })],
    ))
    .await;
    let r = &report.results[0];
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    assert!(r.latency_ms.unwrap() >= 240.0, "{r:?}");
}

#[test]
fn bad_plan_json_is_a_clear_error() {
    let e = parse_plan(b"{\"deadlineMs\": 100, \"probes\": [{\"id\": 1}]}").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("not a valid ProbePlan"), "{msg}");
    assert!(msg.contains("line 1"), "{msg}");
    assert!(parse_plan(b"not json").is_err());
    let ok = parse_plan(
        br#"{"deadlineMs": 100, "probes": [{"id": "a", "timeoutMs": 5, "kind": "tcp", "target": "127.0.0.1", "port": 1}]}"#,
    )
    .unwrap();
    assert_eq!(ok.probes.len(), 1);
}

#[tokio::test]
async fn zero_timeout_and_bad_mtu_range_are_errors_not_hangs() {
    let report = run_plan(&plan(
        2000,
        vec![
            probe(
                "zero",
                0,
                0,
                ProbeSpec::Tcp {
                    target: LO,
                    port: 1,
                    echo: false,
                },
            ),
            probe(
                "mtu",
                500,
                0,
                ProbeSpec::Mtu {
                    target: LO,
                    min: 1500,
                    max: Some(1000),
                },
            ),
        ],
    ))
    .await;
    assert_eq!(by_id(&report.results, "zero").outcome, Outcome::Error);
    assert_eq!(by_id(&report.results, "mtu").outcome, Outcome::Error);
}

#[test]
fn mtu_sizes_cover_the_range_in_steps_and_common_mtus() {
    let s = mtu::sizes(576, 1500);
    assert_eq!(s[0], 1500);
    assert_eq!(*s.last().unwrap(), 576);
    assert!(s.windows(2).all(|w| w[0] > w[1]), "strictly descending");
    assert!(
        s.windows(2).all(|w| w[0] - w[1] <= 8),
        "no gap above 8 bytes"
    );
    for m in [1450, 1420, 1300, 1280] {
        assert!(s.contains(&m), "{m} missing");
    }
    assert_eq!(mtu::sizes(1400, 1400), vec![1400]);
}

#[test]
fn interface_mtu_is_the_route_mtu_toward_the_target() {
    // Loopback: its device MTU (65536 on Linux) capped at the largest IP packet.
    let lo: u32 = std::fs::read_to_string("/sys/class/net/lo/mtu")
        .expect("lo has an MTU")
        .trim()
        .parse()
        .expect("a number");
    let want = u16::try_from(lo.min(65535)).expect("capped");
    assert_eq!(mtu::interface_mtu(LO).expect("lo MTU"), want);
}

#[test]
fn vm_hwm_is_read_from_proc_status() {
    let status = "Name:\tx\nVmPeak:\t  10000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t 4000 kB\n";
    assert_eq!(parse_vm_hwm(status), Some(4321));
    assert_eq!(parse_vm_hwm("Name: x\n"), None);
    assert!(peak_rss_kib().unwrap_or(0) > 0);
}

// ---- ICMP and MTU on loopback: raw sockets as root, ping sockets otherwise,
// ---- and a clear error naming NET_RAW when neither is allowed.

fn icmp_allowed(r: &ProbeResult) -> bool {
    if r.outcome == Outcome::Error {
        let d = r.detail.as_deref().unwrap_or("");
        assert!(
            d.contains("NET_RAW"),
            "the error must name the capability: {d}"
        );
        eprintln!("ICMP not permitted here: {d}");
        return false;
    }
    true
}

#[tokio::test]
async fn icmp_echo_and_mtu_on_loopback() {
    let report = run_plan(&plan(
        3000,
        vec![
            probe("icmp", 1000, 2, ProbeSpec::Icmp { target: LO }),
            probe(
                "mtu",
                1000,
                1,
                ProbeSpec::Mtu {
                    target: LO,
                    min: 576,
                    max: Some(1500),
                },
            ),
        ],
    ))
    .await;
    let icmp = by_id(&report.results, "icmp");
    if icmp_allowed(icmp) {
        assert_eq!(icmp.outcome, Outcome::Ok, "{icmp:?}");
        assert!(icmp.latency_ms.is_some());
        let mtu = by_id(&report.results, "mtu");
        assert_eq!(mtu.outcome, Outcome::Ok, "{mtu:?}");
        assert_eq!(mtu.path_mtu, Some(1500), "loopback carries every size");
    }
}

#[tokio::test]
async fn icmp_over_unprivileged_ping_sockets() {
    let mut pool = icmp::IcmpPool::default();
    pool.force_dgram = true;
    let a = Attempts::new(Duration::from_millis(1000), 2);
    let r = tokio::time::timeout(Duration::from_secs(2), icmp::probe(&pool, "x", LO, a))
        .await
        .expect("probe ends in its timeout");
    if icmp_allowed(&r) {
        assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    }
}

#[tokio::test]
async fn many_icmp_probes_share_one_socket() {
    let probes = (0..200)
        .map(|i| probe(&format!("p{i}"), 1000, 1, ProbeSpec::Icmp { target: LO }))
        .collect();
    let report = run_plan(&plan(5000, probes)).await;
    if icmp_allowed(&report.results[0]) {
        let ok = report
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .count();
        assert_eq!(ok, 200, "every probe gets its own reply");
    }
}

// ---- Serve robustness.

#[tokio::test]
async fn served_agent_survives_garbage_and_echoes_large_payloads() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = serve().await;
    // Garbage on the HTTP port: the server answers 400 or closes, never hangs.
    let mut g = tokio::net::TcpStream::connect((LO, s.http)).await.unwrap();
    g.write_all(b"\x00\x01garbage\r\n\r\n").await.unwrap();
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), g.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the server must close a garbage connection");
    // 200 KB through the TCP echo, in and out concurrently.
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let stream = tokio::net::TcpStream::connect((LO, s.tcp)).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let out = payload.clone();
    let writer = tokio::spawn(async move { wr.write_all(&out).await });
    let mut back = vec![0u8; payload.len()];
    tokio::time::timeout(Duration::from_secs(5), rd.read_exact(&mut back))
        .await
        .expect("echo in time")
        .unwrap();
    writer.await.unwrap().unwrap();
    assert_eq!(back, payload);
    // Still serving HTTP afterwards.
    let report = run_plan(&plan(
        3000,
        vec![probe(
            "http",
            1000,
            0,
            ProbeSpec::Http {
                target: LO,
                port: s.http,
                path: "/".into(),
            },
        )],
    ))
    .await;
    assert_eq!(report.results[0].outcome, Outcome::Ok);
}

// ---- DNS against an in-test responder.

mod dns_server {
    use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
    use hickory_resolver::proto::rr::{
        RData, Record, RecordType,
        rdata::{A, AAAA},
    };
    use std::collections::HashMap;
    use std::net::IpAddr;

    /// Answers A and AAAA for the names in `zone` (fully qualified, lower
    /// case) with their addresses of the family, NOERROR without records
    /// when it has none and for names starting with `empty.`, NXDOMAIN for
    /// the rest. Returns its port.
    pub async fn start(zone: HashMap<String, Vec<IpAddr>>) -> u16 {
        let sock = tokio::net::UdpSocket::bind((IpAddr::from([127, 0, 0, 1]), 0))
            .await
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
                resp.metadata.message_type = MessageType::Response;
                resp.metadata.recursion_desired = req.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                let Some(q) = req.queries.first().cloned() else {
                    continue;
                };
                let name = q.name.to_ascii().to_lowercase();
                let known = zone.get(&name);
                match (known, q.query_type) {
                    (Some(ips), RecordType::A | RecordType::AAAA) => {
                        for ip in ips {
                            let data = match (ip, q.query_type) {
                                (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                                (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                                _ => continue,
                            };
                            resp.add_answer(Record::from_rdata(q.name.clone(), 30, data));
                        }
                    }
                    (Some(_), _) => {}
                    (None, _) if name.starts_with("empty.") => {}
                    (None, _) if name.starts_with("refused.") => {
                        resp.metadata.response_code = ResponseCode::Refused
                    }
                    (None, _) => resp.metadata.response_code = ResponseCode::NXDomain,
                }
                resp.add_query(q);
                if let Ok(bytes) = resp.to_vec() {
                    let _ = sock.send_to(&bytes, peer).await;
                }
            }
        });
        port
    }
}

async fn dns_zone() -> u16 {
    let mut zone = std::collections::HashMap::new();
    let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
    zone.insert("web.ns1.svc.test.".to_string(), vec![ip("198.18.5.7")]);
    zone.insert("api.test.".to_string(), vec![ip("198.18.5.8")]);
    zone.insert(
        "dual.test.".to_string(),
        vec![ip("198.18.5.9"), ip("2001:2:0:ffff::9")],
    );
    dns_server::start(zone).await
}

fn dns(id: &str, name: &str, port: u16, server: bool) -> Probe {
    dns_record(id, name, port, server, None)
}

fn dns_record(
    id: &str,
    name: &str,
    port: u16,
    server: bool,
    record: Option<crate::model::plan::DnsRecord>,
) -> Probe {
    probe(
        id,
        1500,
        2,
        ProbeSpec::Dns {
            name: name.into(),
            server: server.then_some(LO),
            port: Some(port),
            record,
        },
    )
}

/// A dual-stack name: an A probe answers its IPv4 address, an AAAA probe its
/// IPv6 one, a probe naming no record both; AAAA of an IPv4-only name is an
/// answer without records (an error with latency), not a timeout.
#[tokio::test]
async fn dns_asks_the_record_of_the_checks_family() {
    use crate::model::plan::DnsRecord;
    let port = dns_zone().await;
    let report = run_plan(&plan(
        5000,
        vec![
            dns_record("a", "dual.test", port, true, Some(DnsRecord::A)),
            dns_record("aaaa", "dual.test", port, true, Some(DnsRecord::Aaaa)),
            dns_record("both", "dual.test", port, true, None),
            dns_record(
                "aaaa-v4-only",
                "api.test",
                port,
                true,
                Some(DnsRecord::Aaaa),
            ),
        ],
    ))
    .await;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let r = by_id(&report.results, "a");
    assert_eq!(r.addresses, vec![ip("198.18.5.9")], "{r:?}");
    let r = by_id(&report.results, "aaaa");
    assert_eq!(r.addresses, vec![ip("2001:2:0:ffff::9")], "{r:?}");
    let r = by_id(&report.results, "both");
    assert_eq!(r.addresses, vec![ip("198.18.5.9"), ip("2001:2:0:ffff::9")]);
    let r = by_id(&report.results, "aaaa-v4-only");
    assert_eq!(r.outcome, Outcome::Error, "{r:?}");
    assert_eq!(r.detail.as_deref(), Some("no records"));
}

#[tokio::test]
async fn dns_against_a_chosen_server() {
    let port = dns_zone().await;
    let report = run_plan(&plan(
        5000,
        vec![
            dns("a", "api.test", port, true),
            dns("fqdn", "web.ns1.svc.test.", port, true),
            dns("nx", "nothere.test", port, true),
            dns("empty", "empty.test", port, true),
            dns("refused", "refused.test", port, true),
            // The name as given: no search list with an explicit server.
            dns("short", "web", port, true),
        ],
    ))
    .await;
    let r = by_id(&report.results, "a");
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    assert_eq!(r.addresses, vec!["198.18.5.8".parse::<IpAddr>().unwrap()]);
    assert!(r.latency_ms.is_some());
    let r = by_id(&report.results, "fqdn");
    assert_eq!(r.addresses, vec!["198.18.5.7".parse::<IpAddr>().unwrap()]);
    let r = by_id(&report.results, "nx");
    assert_eq!(r.outcome, Outcome::Error, "{r:?}");
    assert_eq!(r.detail.as_deref(), Some("NXDOMAIN"));
    assert!(r.latency_ms.is_some(), "an answer came: it has a latency");
    let r = by_id(&report.results, "empty");
    assert_eq!(r.outcome, Outcome::Error, "{r:?}");
    assert_eq!(r.detail.as_deref(), Some("no records"));
    assert_eq!(
        by_id(&report.results, "short").detail.as_deref(),
        Some("NXDOMAIN")
    );
    let r = by_id(&report.results, "refused");
    assert_eq!(r.outcome, Outcome::Error, "{r:?}");
    assert_eq!(r.detail.as_deref(), Some("REFUSED"));
    assert!(r.latency_ms.is_some(), "REFUSED is an answer too");
}

#[tokio::test]
async fn dns_through_resolv_conf_uses_the_search_path() {
    let port = dns_zone().await;
    let conf = b"nameserver 127.0.0.1\nsearch ns1.svc.test svc.test test\noptions ndots:5\n";
    let attempts = Attempts::new(Duration::from_millis(1500), 2);
    let resolver = dns::system_resolver(conf, Some(port), (attempts, dns::strategy(None))).unwrap();
    let r = dns::lookup("short", &resolver, "web").await;
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    assert_eq!(r.addresses, vec!["198.18.5.7".parse::<IpAddr>().unwrap()]);
    // "api" is found as api.test, the third search domain.
    let r = dns::lookup("api", &resolver, "api").await;
    assert_eq!(r.addresses, vec!["198.18.5.8".parse::<IpAddr>().unwrap()]);
    let r = dns::lookup("nx", &resolver, "nothere").await;
    assert_eq!(r.outcome, Outcome::Error, "{r:?}");
    assert_eq!(r.detail.as_deref(), Some("NXDOMAIN"));
}

#[tokio::test]
async fn dns_without_an_answer_is_a_timeout_within_the_probe_timeout() {
    let (_task, port) = black_hole().await;
    let started = Instant::now();
    let report = run_plan(&plan(5000, vec![dns("mute", "api.test", port, true)])).await;
    let took = started.elapsed();
    let r = &report.results[0];
    assert_eq!(r.outcome, Outcome::Timeout, "{r:?}");
    assert!(took < Duration::from_millis(2000), "took {took:?}");
    let _ = SocketAddr::new(LO, port);
}

#[tokio::test]
async fn receive_time_is_the_kernels_not_the_readers() {
    let a = tokio::net::UdpSocket::bind((LO, 0)).await.unwrap();
    let b = tokio::net::UdpSocket::bind((LO, 0)).await.unwrap();
    rx::enable_timestamps(&b);
    // The kernel turns receive timestamps on for the whole system in deferred
    // work the first time a socket asks; give it a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
    let sent = Instant::now();
    // The reader is busy elsewhere for 200 ms.
    std::thread::sleep(Duration::from_millis(200));
    let mut buf = [0u8; 16];
    let r = rx::recv(&b, &mut buf).await.unwrap();
    assert_eq!(r.len, 1);
    assert_eq!(r.from, Some(a.local_addr().unwrap()));
    let waited = r.at.saturating_duration_since(sent);
    assert!(
        waited < Duration::from_millis(50),
        "stamped {waited:?} after sending"
    );
}

#[test]
fn the_fast_window_follows_answer_times_within_its_bounds() {
    let pacer = super::Pacer::new();
    let interval = Duration::from_millis(600);
    // Fresh: a few times the assumed 2 ms, at least the minimum.
    let min = super::FAST_WINDOW_MIN;
    let w0 = pacer.fast_window(interval);
    assert!(w0 >= min && w0 < interval, "{w0:?}");
    // Slow answers (a busy machine) widen it, up to the retry interval.
    for _ in 0..100 {
        pacer.answered(Duration::from_millis(400));
    }
    assert_eq!(pacer.fast_window(interval), interval);
    // Fast answers narrow it again, down to the minimum.
    for _ in 0..200 {
        pacer.answered(Duration::from_micros(100));
    }
    assert_eq!(pacer.fast_window(interval), min);
    // A retry interval below the minimum does not go under it.
    assert_eq!(pacer.fast_window(Duration::from_millis(1)), min);
}

#[tokio::test]
async fn a_probe_clock_starts_when_it_starts_not_when_the_plan_starts() {
    // More dead probes than active slots, each 300 ms: the last ones start
    // after the first fast windows, and still get their full timeout (a
    // shared clock would have cut them at the plan's 300 ms mark).
    let (_task, port) = black_hole().await;
    let n = super::DEFAULT_ACTIVE * 3;
    let probes = (0..n)
        .map(|i| {
            probe(
                &format!("p{i}"),
                300,
                0,
                ProbeSpec::Udp { target: LO, port },
            )
        })
        .collect();
    let report = run_plan(&plan(10_000, probes)).await;
    assert_eq!(report.results.len(), n);
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Timeout, "{r:?}");
        assert!(
            r.detail
                .as_deref()
                .unwrap_or("")
                .contains("no answer within 300 ms"),
            "{r:?}"
        );
    }
}

/// Hands out its chunks, then fails the test if read again: the plan must
/// be taken without waiting for end of input (an exec's stdin stays open).
struct ChunksThenStop(Vec<Vec<u8>>);

impl std::io::Read for ChunksThenStop {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        assert!(!self.0.is_empty(), "read past the end of the plan document");
        let c = self.0.remove(0);
        buf[..c.len()].copy_from_slice(&c);
        Ok(c.len())
    }
}

#[test]
fn a_plan_is_read_to_the_end_of_its_document_not_of_the_input() {
    let doc = br#"{"deadlineMs": 1000, "probes": []}"#;
    let (a, b) = doc.split_at(10);
    let r = ChunksThenStop(vec![a.to_vec(), b.to_vec()]);
    let got = read_plan(r, 1 << 20).expect("read");
    assert_eq!(got, doc);
    assert!(parse_plan(&got).is_ok());
    // What follows the document in the same chunk is not part of it.
    let r = ChunksThenStop(vec![[&doc[..], b"\n{\"x\":1}"].concat()]);
    assert_eq!(read_plan(r, 1 << 20).expect("read"), doc);
}

#[test]
fn a_plan_cut_short_or_too_large_is_a_clear_error() {
    let cut = read_plan(&br#"{"deadlineMs": 10"#[..], 1 << 20).expect("eof ends reading");
    assert!(parse_plan(&cut).is_err());
    let garbage = read_plan(&b"not json at all"[..], 1 << 20).expect("read");
    assert!(parse_plan(&garbage).is_err());
    let big = format!("[{}", "1,".repeat(1000));
    let e = read_plan(big.as_bytes(), 100).unwrap_err();
    assert!(e.to_string().contains("larger than 100 bytes"), "{e}");
}

/// Accept one connection, run `exchange` on it, then report how the client
/// ended it: `Ok(0)` for a FIN, `Err(ConnectionReset)` for a reset.
async fn one_conn_server<F, Fut>(
    exchange: F,
) -> (u16, tokio::sync::oneshot::Receiver<std::io::Result<usize>>)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = tokio::net::TcpStream> + Send,
{
    use tokio::io::AsyncReadExt;
    let l = tokio::net::TcpListener::bind((LO, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let mut s = exchange(s).await;
        let mut rest = [0u8; 64];
        let end = tokio::time::timeout(Duration::from_secs(5), s.read(&mut rest))
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
        let _ = tx.send(end);
    });
    (port, rx)
}

#[tokio::test]
async fn tcp_and_http_probes_end_their_connection_with_a_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // TCP echo: the client resets once the echo is back (no FIN, no TIME_WAIT).
    let (tcp_port, tcp_end) = one_conn_server(|mut s| async move {
        let mut buf = [0u8; 26];
        s.read_exact(&mut buf).await.unwrap();
        assert!(buf.starts_with(b"netcheck-") && buf[25] == b'\n', "{buf:?}");
        s.write_all(&buf).await.unwrap();
        s
    })
    .await;
    // HTTP: one answer, then the client resets; the request does not ask the
    // server to close first (`Connection: close` would make it send a FIN).
    let (http_port, http_end) = one_conn_server(|mut s| async move {
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "request cut short");
            req.extend_from_slice(&buf[..n]);
        }
        let req = String::from_utf8_lossy(&req).to_ascii_lowercase();
        assert!(req.starts_with("get / http/1.1\r\n"), "{req}");
        assert!(!req.contains("connection: close"), "{req}");
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            .await
            .unwrap();
        s
    })
    .await;
    let report = run_plan(&plan(
        5000,
        vec![
            probe(
                "tcp-echo",
                2000,
                0,
                ProbeSpec::Tcp {
                    target: LO,
                    port: tcp_port,
                    echo: true,
                },
            ),
            probe(
                "http",
                2000,
                0,
                ProbeSpec::Http {
                    target: LO,
                    port: http_port,
                    path: "/".into(),
                },
            ),
        ],
    ))
    .await;
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    }
    for (what, end) in [("tcp", tcp_end), ("http", http_end)] {
        let end = end.await.expect("the server saw the connection end");
        assert_eq!(
            end.as_ref().map_err(|e| e.kind()),
            Err(std::io::ErrorKind::ConnectionReset),
            "{what}: the probe closed with {end:?}, not a reset"
        );
    }
}

#[tokio::test]
async fn http_down_or_failing_while_tcp_answers_is_told_apart() {
    let s = serve().await;
    // An HTTP port where nothing listens, and one that answers 503.
    let refused = free_port();
    let l = tokio::net::TcpListener::bind((LO, 0)).await.unwrap();
    let failing = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut c, _)) = l.accept().await {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf).await;
            let _ = c
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let http = |id: &str, port| {
        probe(
            id,
            2000,
            0,
            ProbeSpec::Http {
                target: LO,
                port,
                path: "/".into(),
            },
        )
    };
    let report = run_plan(&plan(
        5000,
        vec![
            probe(
                "tcp-echo",
                2000,
                0,
                ProbeSpec::Tcp {
                    target: LO,
                    port: s.tcp,
                    echo: true,
                },
            ),
            http("http-refused", refused),
            http("http-503", failing),
            // And the other way round: HTTP answers, TCP echo refused.
            http("http-ok", s.http),
            probe(
                "tcp-refused",
                2000,
                0,
                ProbeSpec::Tcp {
                    target: LO,
                    port: refused,
                    echo: true,
                },
            ),
        ],
    ))
    .await;
    let r = &report.results;
    assert_eq!(by_id(r, "tcp-echo").outcome, Outcome::Ok, "{r:?}");
    assert_eq!(by_id(r, "http-refused").outcome, Outcome::Refused, "{r:?}");
    let e = by_id(r, "http-503");
    assert_eq!(e.outcome, Outcome::Error, "{e:?}");
    assert!(e.detail.as_deref().unwrap_or("").contains("503"), "{e:?}");
    assert_eq!(by_id(r, "http-ok").outcome, Outcome::Ok, "{r:?}");
    assert_eq!(by_id(r, "tcp-refused").outcome, Outcome::Refused, "{r:?}");
}

#[test]
fn a_send_the_kernel_dropped_is_a_loss_not_an_error() {
    let enobufs = std::io::Error::from_raw_os_error(libc::ENOBUFS);
    assert!(dropped_locally(&enobufs));
    for other in [
        libc::ECONNREFUSED,
        libc::EPERM,
        libc::EHOSTUNREACH,
        libc::EMSGSIZE,
    ] {
        assert!(
            !dropped_locally(&std::io::Error::from_raw_os_error(other)),
            "errno {other}"
        );
    }
    // Every attempt dropped: a timeout (probed again), with the reason.
    let r = all_sends_dropped("u", "datagram", 3);
    assert_eq!(r.outcome, Outcome::Timeout);
    let detail = r.detail.unwrap_or_default();
    assert!(
        detail.contains("all 3") && detail.contains("ENOBUFS"),
        "{detail}"
    );
}

#[test]
fn the_active_probes_can_be_set_from_the_environment() {
    assert_eq!(active_from(None), DEFAULT_ACTIVE);
    assert_eq!(active_from(Some("4")), 4);
    assert_eq!(active_from(Some(" 2\n")), 2);
    for bad in ["0", "-1", "1025", "four", ""] {
        assert_eq!(active_from(Some(bad)), DEFAULT_ACTIVE, "{bad:?}");
    }
}

/// Probes start by phase, in plan order within a phase; a plan without
/// phases starts in plan order.
#[test]
fn later_phases_start_after_every_earlier_probe() {
    let icmp = |id: &str, phase: u8| Probe {
        phase,
        ..probe(id, 100, 0, ProbeSpec::Icmp { target: LO })
    };
    let probes = vec![
        icmp("svc-a", 1),
        icmp("pod-a", 0),
        icmp("svc-b", 1),
        icmp("pod-b", 0),
        icmp("pod-c", 0),
    ];
    let started: Vec<&str> = start_order(&probes)
        .into_iter()
        .map(|i| probes[i].id.as_str())
        .collect();
    assert_eq!(started, ["pod-a", "pod-b", "pod-c", "svc-a", "svc-b"]);
    let plain: Vec<Probe> = (0..4).map(|i| icmp(&i.to_string(), 0)).collect();
    assert_eq!(start_order(&plain), [0, 1, 2, 3]);
}

/// The results keep the plan's order whatever order the probes started in.
#[tokio::test]
async fn results_keep_the_plan_order_across_phases() {
    let late = Probe {
        phase: 1,
        ..probe("late", 500, 0, ProbeSpec::Icmp { target: LO })
    };
    let early = probe("early", 500, 0, ProbeSpec::Icmp { target: LO });
    let report = run_plan(&plan(5_000, vec![late, early])).await;
    let ids: Vec<&str> = report.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["late", "early"]);
}

/// kube-proxy's paths (phase 1) wait `later_phases_after_ms` from the plan's
/// start; the wait is not in their latency, and a plan without them does not
/// wait at all.
#[tokio::test]
async fn later_phases_wait_for_kube_proxy_and_the_wait_is_not_latency() {
    let l = tokio::net::TcpListener::bind((LO, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    let tcp = |id: &str, phase: u8| Probe {
        phase,
        ..probe(
            id,
            1_000,
            0,
            ProbeSpec::Tcp {
                target: LO,
                port,
                echo: false,
            },
        )
    };
    let mut held = plan(5_000, vec![tcp("pod", 0), tcp("svc", 1)]);
    held.later_phases_after_ms = 300;
    let report = run_plan(&held).await;
    assert!(report.duration_ms >= 300.0, "{report:?}");
    let svc = by_id(&report.results, "svc");
    assert_eq!(svc.outcome, Outcome::Ok, "{svc:?}");
    assert!(svc.latency_ms.is_some_and(|l| l < 250.0), "{svc:?}");
    let mut early_only = plan(5_000, vec![tcp("pod", 0)]);
    early_only.later_phases_after_ms = 300;
    let report = run_plan(&early_only).await;
    assert!(report.duration_ms < 300.0, "{report:?}");
    assert_eq!(by_id(&report.results, "pod").outcome, Outcome::Ok);
}
