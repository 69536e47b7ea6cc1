//! The real agent binary between two network namespaces joined by a veth pair
//! (root only): `agent serve` in one, `agent probe` in the other.
//!
//! Addresses: 198.18.N.0/24 on the veth (N random per run), and a "dead"
//! 198.19.M.0/22 routed through the serving namespace, which does not forward
//! and so drops those packets silently: a thousand unanswered targets behind
//! one neighbour entry (a thousand on-link targets would fill the kernel's
//! neighbour table, which all namespaces share). IPv6 2001:2:0:N::/64.
//! Everything is removed by a Drop guard, also when a test fails.

use netcheck::model::{Outcome, Probe, ProbePlan, ProbeReport, ProbeResult, ProbeSpec};
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netcheck");
const TCP: u16 = 7000;
const UDP: u16 = 7001;
const HTTP: u16 = 8080;

/// Skip (with the reason) when not root; fail instead when
/// NETCHECK_REQUIRE_LAB=1.
fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let has_ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let why = match (root, has_ip) {
        (true, true) => return true,
        (false, _) => "needs root (network namespaces)",
        (true, false) => "needs the `ip` command (iproute2)",
    };
    if std::env::var("NETCHECK_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!("NETCHECK_REQUIRE_LAB=1 but this test {why}");
    }
    eprintln!("skipped: agent_netns {why}");
    false
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces, a veth pair, and the serving agent in `b`.
struct Pair {
    a: String,
    b: String,
    /// Third octet of 198.18.N.0/24.
    n: u8,
    /// Third octet of the dead 198.19.M.0/22.
    dead: u8,
    server: Option<Child>,
}

impl Pair {
    fn new() -> Pair {
        let id: u32 = rand::random::<u32>() & 0xff_ffff;
        let n: u8 = rand::random();
        let pair = Pair {
            a: format!("nck-a-{id:06x}"),
            b: format!("nck-b-{id:06x}"),
            n,
            dead: (rand::random::<u8>() % 64) * 4,
            server: None,
        };
        // The guard exists before the first namespace does.
        let (a, b) = (pair.a.as_str(), pair.b.as_str());
        run(&["ip", "netns", "add", a]);
        run(&["ip", "netns", "add", b]);
        // No duplicate address detection on the fresh links: IPv6 works at once.
        for ns in [a, b] {
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ]);
        }
        run(&[
            "ip", "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b,
        ]);
        let (ip_a, ip_b) = (pair.ip_a().to_string(), pair.ip_b().to_string());
        run(&[
            "ip",
            "-n",
            a,
            "addr",
            "add",
            &format!("{ip_a}/24"),
            "dev",
            "va",
        ]);
        run(&[
            "ip",
            "-n",
            b,
            "addr",
            "add",
            &format!("{ip_b}/24"),
            "dev",
            "vb",
        ]);
        run(&[
            "ip",
            "-n",
            a,
            "addr",
            "add",
            &format!("{}/64", pair.ip6_a()),
            "dev",
            "va",
            "nodad",
        ]);
        run(&[
            "ip",
            "-n",
            b,
            "addr",
            "add",
            &format!("{}/64", pair.ip6_b()),
            "dev",
            "vb",
            "nodad",
        ]);
        for (ns, dev) in [(a, "va"), (b, "vb")] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        pair.wait_links_up();
        run(&[
            "ip",
            "-n",
            a,
            "route",
            "add",
            &format!("198.19.{}.0/22", pair.dead),
            "via",
            &ip_b,
        ]);
        pair
    }

    /// The kernel turns a new link's carrier on asynchronously (up to a
    /// second later); IPv6 sends nothing before that. Wait for both ends.
    fn wait_links_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        for (ns, dev) in [(&self.a, "va"), (&self.b, "vb")] {
            loop {
                let out = Command::new("ip")
                    .args(["-n", ns, "-6", "addr", "show", "dev", dev])
                    .output()
                    .expect("ip addr show");
                let text = String::from_utf8_lossy(&out.stdout);
                if !text.contains("tentative") && ip_link_up(ns, dev) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{ns}/{dev} did not come up: {text}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn ip_a(&self) -> IpAddr {
        IpAddr::from([198, 18, self.n, 1])
    }
    fn ip_b(&self) -> IpAddr {
        IpAddr::from([198, 18, self.n, 2])
    }
    fn ip6_a(&self) -> IpAddr {
        format!("2001:2:0:{:x}::1", self.n).parse().unwrap()
    }
    fn ip6_b(&self) -> IpAddr {
        format!("2001:2:0:{:x}::2", self.n).parse().unwrap()
    }
    /// Addresses routed into the serving namespace, which drops them.
    fn dead(&self, count: usize) -> Vec<IpAddr> {
        (0..count)
            .map(|i| IpAddr::from([198, 19, self.dead + (i / 250) as u8, 1 + (i % 250) as u8]))
            .collect()
    }

    /// Start `agent serve` in `b` and wait for its `ready` line.
    fn serve(&mut self) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.b, BIN, "agent", "serve"])
            .args(["--pod-name", "pod-b", "--node-name", "node-b"])
            .args(["--pod-ip", &self.ip_b().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn agent serve");
        let stdout = child.stdout.take().expect("piped stdout");
        self.server = Some(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("agent serve printed `ready` within 10 s");
        assert_eq!(line.trim(), "ready");
    }

    /// Run `agent probe` in `a` with `plan`; the report and the wall time.
    fn probe(&self, plan: &ProbePlan, env: &[(&str, &str)]) -> (ProbeReport, Duration) {
        let started = Instant::now();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.a, BIN, "agent", "probe"])
            // AGENT_STDERR=1: the agent's debug log (one line per probe) on stderr.
            .envs(
                std::env::var("AGENT_STDERR")
                    .ok()
                    .map(|_| ("RUST_LOG", "debug")),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn agent probe");
        let json = serde_json::to_vec(plan).unwrap();
        child.stdin.take().unwrap().write_all(&json).unwrap();
        let out = child.wait_with_output().expect("agent probe output");
        let took = started.elapsed();
        if std::env::var("AGENT_STDERR").is_ok() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(
            out.status.success(),
            "agent probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: ProbeReport = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "agent probe wrote no report ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (report, took)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            // SIGTERM first: the agent must stop cleanly on it.
            // SAFETY: kill on the pid of a child we spawned and have not reaped.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn ip_link_up(ns: &str, dev: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "link", "show", "dev", dev])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("state UP"))
}

fn probe(id: &str, timeout_ms: u64, spec: ProbeSpec) -> Probe {
    Probe {
        id: id.into(),
        timeout_ms,
        retries: 2,
        cell: None,
        phase: 0,
        spec,
    }
}

fn get<'a>(r: &'a ProbeReport, id: &str) -> &'a ProbeResult {
    r.results
        .iter()
        .find(|x| x.id == id)
        .unwrap_or_else(|| panic!("no result {id}"))
}

fn assert_ok(r: &ProbeReport, id: &str) -> f64 {
    let x = get(r, id);
    assert_eq!(x.outcome, Outcome::Ok, "{x:?}");
    x.latency_ms.expect("latency on an answer")
}

#[test]
fn every_probe_kind_across_a_veth() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    let (b, b6) = (pair.ip_b(), pair.ip6_b());
    let plan = ProbePlan {
        deadline_ms: 10_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes: vec![
            probe("icmp", 2000, ProbeSpec::Icmp { target: b }),
            probe("icmp6", 2000, ProbeSpec::Icmp { target: b6 }),
            probe(
                "tcp",
                2000,
                ProbeSpec::Tcp {
                    target: b,
                    port: TCP,
                    echo: true,
                },
            ),
            probe(
                "tcp6",
                2000,
                ProbeSpec::Tcp {
                    target: b6,
                    port: TCP,
                    echo: true,
                },
            ),
            probe(
                "udp",
                2000,
                ProbeSpec::Udp {
                    target: b,
                    port: UDP,
                },
            ),
            probe(
                "udp6",
                2000,
                ProbeSpec::Udp {
                    target: b6,
                    port: UDP,
                },
            ),
            probe(
                "http",
                2000,
                ProbeSpec::Http {
                    target: b,
                    port: HTTP,
                    path: "/".into(),
                },
            ),
            probe(
                "refused",
                2000,
                ProbeSpec::Tcp {
                    target: b,
                    port: 9,
                    echo: false,
                },
            ),
            probe("udp-refused", 2000, ProbeSpec::Udp { target: b, port: 9 }),
            probe(
                "mtu",
                2000,
                ProbeSpec::Mtu {
                    target: b,
                    min: 576,
                    max: Some(1500),
                },
            ),
            probe(
                "mtu6",
                2000,
                ProbeSpec::Mtu {
                    target: b6,
                    min: 1280,
                    max: Some(1500),
                },
            ),
        ],
    };
    let (r, took) = pair.probe(&plan, &[]);
    for id in ["icmp", "icmp6", "tcp", "tcp6", "udp", "udp6", "http", "mtu"] {
        assert_ok(&r, id);
    }
    assert_eq!(get(&r, "refused").outcome, Outcome::Refused);
    assert_eq!(get(&r, "udp-refused").outcome, Outcome::Refused);
    assert_eq!(get(&r, "mtu").path_mtu, Some(1500));
    assert_eq!(get(&r, "mtu6").path_mtu, Some(1500));
    let peer: serde_json::Value =
        serde_json::from_str(get(&r, "http").peer.as_deref().unwrap()).unwrap();
    assert_eq!(peer["pod"], "pod-b");
    assert_eq!(peer["ip"], b.to_string());
    for x in &r.results {
        eprintln!(
            "  {} {:?} {:?} {:?}",
            x.id, x.outcome, x.latency_ms, x.detail
        );
    }
    // Every probe answered at its first attempt: the plan took less than one
    // retry interval (666 ms).
    assert!(r.duration_ms < 500.0, "took {} ms", r.duration_ms);
    eprintln!(
        "all kinds across a veth: {took:?}, peak RSS {:?} KiB",
        r.peak_rss_kib
    );
}

#[test]
fn path_mtu_finds_a_lowered_mtu_exactly() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    // The receiving side carries 1300: larger frames are dropped silently,
    // with no "fragmentation needed" (a blackhole, as on a misconfigured underlay).
    run(&["ip", "-n", &pair.b, "link", "set", "vb", "mtu", "1300"]);
    let b = pair.ip_b();
    let plan = ProbePlan {
        deadline_ms: 10_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes: vec![
            probe("icmp", 2000, ProbeSpec::Icmp { target: b }),
            probe(
                "mtu",
                2000,
                ProbeSpec::Mtu {
                    target: b,
                    min: 576,
                    max: Some(1500),
                },
            ),
        ],
    };
    let (r, took) = pair.probe(&plan, &[]);
    assert_ok(&r, "icmp");
    let mtu = get(&r, "mtu");
    assert_eq!(mtu.outcome, Outcome::Ok, "{mtu:?}");
    let found = mtu.path_mtu.expect("path MTU");
    assert!(
        (1292..=1304).contains(&found),
        "path MTU {found}, expected 1300 (within 8 bytes)"
    );
    assert!(
        took < Duration::from_millis(3500),
        "one timeout at most: {took:?}"
    );
    eprintln!("path MTU found: {found} (in {took:?})");
}

#[test]
fn a_path_that_stops_answering_after_one_echo_is_not_an_mtu_of_576() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    // b answers the first echo request and drops every later one, whatever
    // its size: the MTU probe's warm-up answers, no size of its sweep does.
    // A starved node looks like this. That is a timeout, not "the path
    // carries 576 bytes".
    let b = pair.b.clone();
    let rules = "*filter\n:INPUT ACCEPT [0:0]\n\
        -A INPUT -p icmp --icmp-type echo-request -m limit --limit 1/hour --limit-burst 1 -j ACCEPT\n\
        -A INPUT -p icmp --icmp-type echo-request -j DROP\nCOMMIT\n";
    let mut child = Command::new("ip")
        .args(["netns", "exec", &b, "iptables-restore"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("iptables-restore");
    child
        .stdin
        .as_mut()
        .expect("stdin")
        .write_all(rules.as_bytes())
        .expect("rules written");
    drop(child.stdin.take());
    assert!(child.wait().expect("iptables-restore ran").success());
    let target = pair.ip_b();
    let plan = ProbePlan {
        deadline_ms: 10_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes: vec![probe(
            "mtu",
            1500,
            ProbeSpec::Mtu {
                target,
                min: 576,
                max: Some(1500),
            },
        )],
    };
    let (r, _) = pair.probe(&plan, &[]);
    let mtu = get(&r, "mtu");
    assert_eq!(mtu.outcome, Outcome::Timeout, "{mtu:?}");
    assert_eq!(mtu.path_mtu, None, "{mtu:?}");
    let detail = mtu.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("not an MTU limit"), "{detail}");
}

#[test]
fn icmp_errors_from_the_path_are_unreachable() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    // b now forwards the dead prefix (to a spare veth) and rejects it in
    // its FORWARD chain with ICMP host unreachable, as a router or firewall on
    // the path does. icmp_ratelimit=0 and a large budget for b's namespace, so
    // that every packet gets its error (the kernel's defaults allow a handful).
    let prefix = format!("198.19.{}.0/22", pair.dead);
    let b = pair.b.clone();
    run(&[
        "ip",
        "netns",
        "exec",
        &b,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
        "net.ipv4.icmp_ratelimit=0",
        "net.ipv4.icmp_msgs_per_sec=100000",
        "net.ipv4.icmp_msgs_burst=10000",
    ]);
    run(&[
        "ip", "-n", &b, "link", "add", "d0", "type", "veth", "peer", "name", "d1",
    ]);
    run(&["ip", "-n", &b, "link", "set", "d0", "up"]);
    run(&["ip", "-n", &b, "link", "set", "d1", "up"]);
    run(&["ip", "-n", &b, "route", "add", &prefix, "dev", "d0"]);
    run(&[
        "ip",
        "netns",
        "exec",
        &b,
        "iptables",
        "-I",
        "FORWARD",
        "-d",
        &prefix,
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-host-unreachable",
    ]);
    // The same for IPv6: a dead /64 routed through b, rejected with
    // "address unreachable".
    let prefix6 = format!("2001:2:0:{:x}::/64", 0x1000 + u16::from(pair.n));
    let dead6 = |i: u16| -> IpAddr {
        format!("2001:2:0:{:x}::{:x}", 0x1000 + u16::from(pair.n), i + 1)
            .parse()
            .unwrap()
    };
    run(&[
        "ip",
        "netns",
        "exec",
        &b,
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.forwarding=1",
        "net.ipv6.icmp.ratelimit=0",
    ]);
    run(&["ip", "-n", &b, "-6", "route", "add", &prefix6, "dev", "d0"]);
    run(&[
        "ip",
        "-n",
        &pair.a,
        "-6",
        "route",
        "add",
        &prefix6,
        "via",
        &pair.ip6_b().to_string(),
    ]);
    run(&[
        "ip",
        "netns",
        "exec",
        &b,
        "ip6tables",
        "-I",
        "FORWARD",
        "-d",
        &prefix6,
        "-j",
        "REJECT",
        "--reject-with",
        "icmp6-addr-unreachable",
    ]);
    let dead = pair.dead(4);
    let plan = ProbePlan {
        deadline_ms: 10_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes: vec![
            probe("icmp6", 2000, ProbeSpec::Icmp { target: dead6(0) }),
            probe(
                "tcp6",
                2000,
                ProbeSpec::Tcp {
                    target: dead6(1),
                    port: TCP,
                    echo: false,
                },
            ),
            probe(
                "udp6",
                2000,
                ProbeSpec::Udp {
                    target: dead6(2),
                    port: UDP,
                },
            ),
            probe(
                "mtu6",
                2000,
                ProbeSpec::Mtu {
                    target: dead6(3),
                    min: 1280,
                    max: Some(1500),
                },
            ),
            probe("icmp", 2000, ProbeSpec::Icmp { target: dead[0] }),
            probe(
                "tcp",
                2000,
                ProbeSpec::Tcp {
                    target: dead[1],
                    port: TCP,
                    echo: false,
                },
            ),
            probe(
                "udp",
                2000,
                ProbeSpec::Udp {
                    target: dead[2],
                    port: UDP,
                },
            ),
            probe(
                "mtu",
                2000,
                ProbeSpec::Mtu {
                    target: dead[3],
                    min: 576,
                    max: Some(1500),
                },
            ),
        ],
    };
    let (r, took) = pair.probe(&plan, &[]);
    for x in &r.results {
        assert_eq!(x.outcome, Outcome::Unreachable, "{x:?}");
    }
    let detail = get(&r, "icmp").detail.clone().unwrap_or_default();
    assert!(detail.contains("unreachable"), "{detail}");
    eprintln!("path errors: agent {:.0} ms, wall {took:?}", r.duration_ms);
    let detail = get(&r, "icmp6").detail.clone().unwrap_or_default();
    assert!(detail.contains("ICMPv6 address unreachable"), "{detail}");
    assert!(
        took < Duration::from_millis(1500),
        "an ICMP error is an answer: {took:?}"
    );
}

#[test]
fn a_thousand_dead_targets_cost_about_one_timeout() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    let timeout_ms = 2000;
    let probes: Vec<Probe> = pair
        .dead(1000)
        .into_iter()
        .enumerate()
        .map(|(i, target)| {
            let spec = match i % 3 {
                0 => ProbeSpec::Icmp { target },
                1 => ProbeSpec::Tcp {
                    target,
                    port: TCP,
                    echo: false,
                },
                _ => ProbeSpec::Udp { target, port: UDP },
            };
            probe(&format!("dead-{i}"), timeout_ms, spec)
        })
        .collect();
    let plan = ProbePlan {
        deadline_ms: 30_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes,
    };
    let (r, took) = pair.probe(&plan, &[]);
    assert_eq!(r.results.len(), 1000);
    let not_timeout: Vec<_> = r
        .results
        .iter()
        .filter(|x| x.outcome != Outcome::Timeout)
        .collect();
    assert!(
        not_timeout.is_empty(),
        "{:?}",
        &not_timeout[..not_timeout.len().min(3)]
    );
    eprintln!(
        "1000 dead targets (timeout {timeout_ms} ms): agent {:.0} ms, wall {took:?}, peak RSS {:?} KiB",
        r.duration_ms, r.peak_rss_kib
    );
    assert!(
        r.duration_ms < timeout_ms as f64 * 1.5,
        "the agent took {} ms for one timeout of {timeout_ms} ms",
        r.duration_ms
    );
    assert!(
        took < Duration::from_millis(timeout_ms * 2),
        "wall {took:?}"
    );
}

#[test]
fn peak_memory_for_a_500_target_plan() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    let b = pair.ip_b();
    // 100 live probes of every kind to the served agent, 100 to dead targets.
    let mut probes = Vec::new();
    for i in 0..100 {
        probes.push(probe(
            &format!("icmp-{i}"),
            2000,
            ProbeSpec::Icmp { target: b },
        ));
        probes.push(probe(
            &format!("tcp-{i}"),
            2000,
            ProbeSpec::Tcp {
                target: b,
                port: TCP,
                echo: true,
            },
        ));
        probes.push(probe(
            &format!("udp-{i}"),
            2000,
            ProbeSpec::Udp {
                target: b,
                port: UDP,
            },
        ));
        probes.push(probe(
            &format!("http-{i}"),
            2000,
            ProbeSpec::Http {
                target: b,
                port: HTTP,
                path: "/".into(),
            },
        ));
    }
    for (i, target) in pair.dead(100).into_iter().enumerate() {
        probes.push(probe(
            &format!("dead-{i}"),
            2000,
            ProbeSpec::Icmp { target },
        ));
    }
    let plan = ProbePlan {
        deadline_ms: 30_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes,
    };
    let (r, took) = pair.probe(&plan, &[]);
    let ok = r
        .results
        .iter()
        .filter(|x| x.outcome == Outcome::Ok)
        .count();
    let rss = r.peak_rss_kib.expect("peak RSS reported");
    eprintln!(
        "500-target plan: {ok} ok, agent {:.0} ms, wall {took:?}, peak RSS {rss} KiB",
        r.duration_ms
    );
    for kind in ["icmp", "tcp", "udp", "http"] {
        let mut l: Vec<f64> = r
            .results
            .iter()
            .filter(|x| x.id.starts_with(kind))
            .filter_map(|x| x.latency_ms)
            .collect();
        l.sort_by(f64::total_cmp);
        if !l.is_empty() {
            eprintln!(
                "  {kind} latency ms: min {:.2} median {:.2} max {:.2}",
                l[0],
                l[l.len() / 2],
                l[l.len() - 1]
            );
        }
    }
    assert_eq!(ok, 400, "every live probe answered");
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB");
}

#[test]
fn icmp_falls_back_to_unprivileged_ping_sockets() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    let b = pair.ip_b();
    let plan = ProbePlan {
        deadline_ms: 10_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes: vec![
            probe("icmp", 2000, ProbeSpec::Icmp { target: b }),
            probe(
                "mtu",
                2000,
                ProbeSpec::Mtu {
                    target: b,
                    min: 576,
                    max: Some(1500),
                },
            ),
        ],
    };
    // Ping sockets not allowed for any group in the probing namespace: a clear error.
    run(&[
        "ip",
        "netns",
        "exec",
        &pair.a,
        "sysctl",
        "-qw",
        "net.ipv4.ping_group_range=1 0",
    ]);
    let (r, _) = pair.probe(&plan, &[("NETCHECK_AGENT_ICMP", "dgram")]);
    let x = get(&r, "icmp");
    assert_eq!(x.outcome, Outcome::Error, "{x:?}");
    assert!(
        x.detail.as_deref().unwrap_or("").contains("NET_RAW"),
        "{x:?}"
    );
    // The planner reads these answers as checks that could not run (skipped,
    // `checks-not-run`), not as a broken network (issue 11, item 10).
    for id in ["icmp", "mtu"] {
        let x = get(&r, id);
        assert!(netcheck::plan::not_run::reason(x).is_some(), "{x:?}");
    }
    // Allowed for every group (that namespace's sysctl only): ping sockets work.
    run(&[
        "ip",
        "netns",
        "exec",
        &pair.a,
        "sysctl",
        "-qw",
        "net.ipv4.ping_group_range=0 2147483647",
    ]);
    let (r, _) = pair.probe(&plan, &[("NETCHECK_AGENT_ICMP", "dgram")]);
    assert_ok(&r, "icmp");
    assert_eq!(get(&r, "mtu").path_mtu, Some(1500));
}

#[test]
fn dns_through_the_namespace_resolv_conf() {
    if !require_root() {
        return;
    }
    if Command::new("dnsmasq").arg("--version").output().is_err() {
        if std::env::var("NETCHECK_REQUIRE_LAB").as_deref() == Ok("1") {
            panic!("NETCHECK_REQUIRE_LAB=1 but dnsmasq is not installed");
        }
        eprintln!("skipped: dns_through_the_namespace_resolv_conf needs dnsmasq");
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    let b = pair.ip_b();
    // dnsmasq in b answers the lab's names; `ip netns exec a` mounts
    // /etc/netns/<a>/resolv.conf over /etc/resolv.conf for the agent.
    let conf_dir = std::path::PathBuf::from(format!("/etc/netns/{}", pair.a));
    let _conf_guard = DirGuard(conf_dir.clone());
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("resolv.conf"),
        format!("nameserver {b}\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"),
    )
    .unwrap();
    let mut dnsmasq = ChildGuard(
        Command::new("ip")
            .args(["netns", "exec", &pair.b, "dnsmasq", "--keep-in-foreground"])
            .args([
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--port=53",
            ])
            .arg(format!("--listen-address={b}"))
            .arg("--pid-file=")
            // Authoritative for the cluster domain: unknown names are NXDOMAIN.
            .arg("--local=/cluster.local/")
            .arg("--address=/web.ns1.svc.cluster.local/198.18.200.7")
            .arg("--address=/kubernetes.default.svc.cluster.local/198.18.200.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dnsmasq"),
    );
    // Wait until dnsmasq answers (it binds within milliseconds).
    let dns = |id: &str, name: &str, server: Option<IpAddr>| Probe {
        id: id.into(),
        timeout_ms: 2000,
        retries: 2,
        cell: None,
        phase: 0,
        spec: ProbeSpec::Dns {
            name: name.into(),
            server,
            port: None,
            record: None,
        },
    };
    let plan = ProbePlan {
        deadline_ms: 10_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes: vec![
            dns("short", "web", None),
            dns("two-labels", "kubernetes.default", None),
            dns("direct", "web.ns1.svc.cluster.local", Some(b)),
            dns("direct-short", "web", Some(b)),
            dns("nx", "nothere", None),
        ],
    };
    // The same lookups inside a busy plan (400 other probes starting at once):
    // DNS latency must stay DNS's, far below the dns-slow threshold (250 ms).
    let mut busy = plan.clone();
    for i in 0..200 {
        busy.probes.push(probe(
            &format!("tcp-{i}"),
            2000,
            ProbeSpec::Tcp {
                target: b,
                port: TCP,
                echo: true,
            },
        ));
        busy.probes.push(probe(
            &format!("http-{i}"),
            2000,
            ProbeSpec::Http {
                target: b,
                port: HTTP,
                path: "/".into(),
            },
        ));
    }
    let mut last = None;
    for _ in 0..20 {
        let (r, _) = pair.probe(&plan, &[]);
        if get(&r, "direct").outcome == Outcome::Ok {
            last = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = last.expect("dnsmasq answered");
    let want: IpAddr = "198.18.200.7".parse().unwrap();
    assert_eq!(
        get(&r, "short").addresses,
        vec![want],
        "search path like a pod"
    );
    assert_eq!(
        get(&r, "two-labels").addresses,
        vec!["198.18.200.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(get(&r, "direct").addresses, vec![want]);
    let short = get(&r, "direct-short");
    assert_ne!(
        short.outcome,
        Outcome::Ok,
        "an explicit server gets the name as given: {short:?}"
    );
    let nx = get(&r, "nx");
    assert_eq!(nx.outcome, Outcome::Error, "{nx:?}");
    assert!(
        nx.latency_ms.is_some(),
        "an error answer is an answer: {nx:?}"
    );
    let (r, _) = pair.probe(&busy, &[]);
    for id in ["short", "two-labels", "direct"] {
        let l = assert_ok(&r, id);
        eprintln!("  DNS {id} in a busy plan: {l:.2} ms");
        assert!(l < 100.0, "{id} took {l} ms in a busy plan");
    }
    let _ = dnsmasq.0.kill();
}

struct DirGuard(std::path::PathBuf);
impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct ChildGuard(Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The agent reads its own interface's MTU toward the target (the pod's eth0
/// at 1450, as an overlay CNI sets it) and sizes the MTU probe from it: the
/// plan gives no `max`, as the planner's does not.
#[test]
fn the_agent_reports_its_interface_mtu_and_sweeps_up_to_it() {
    if !require_root() {
        return;
    }
    let mut pair = Pair::new();
    pair.serve();
    for (ns, dev) in [(&pair.a, "va"), (&pair.b, "vb")] {
        run(&["ip", "-n", ns, "link", "set", dev, "mtu", "1450"]);
    }
    let mtu_probe = |id: &str, target: IpAddr| {
        probe(
            id,
            2000,
            ProbeSpec::Mtu {
                target,
                min: 576,
                max: None,
            },
        )
    };
    let plan = ProbePlan {
        deadline_ms: 10_000,
        max_in_flight: None,
        later_phases_after_ms: 0,
        probes: vec![mtu_probe("v4", pair.ip_b()), mtu_probe("v6", pair.ip6_b())],
    };
    let (r, _) = pair.probe(&plan, &[]);
    for id in ["v4", "v6"] {
        let m = get(&r, id);
        assert_eq!(m.outcome, Outcome::Ok, "{m:?}");
        assert_eq!(m.interface_mtu, Some(1450), "{m:?}");
        assert_eq!(m.path_mtu, Some(1450), "the path carries it all: {m:?}");
    }

    // The receiving side now carries only 1350, silently: the agent still
    // says its interface sends 1450, and finds 1350.
    run(&["ip", "-n", &pair.b, "link", "set", "vb", "mtu", "1350"]);
    let (r, _) = pair.probe(&plan, &[]);
    for id in ["v4", "v6"] {
        let m = get(&r, id);
        assert_eq!(m.outcome, Outcome::Ok, "{m:?}");
        assert_eq!(m.interface_mtu, Some(1450), "{m:?}");
        // A veth lets a frame a few bytes over its MTU in: within 8 bytes.
        let found = m.path_mtu.expect("a path MTU");
        assert!(
            (1342..=1358).contains(&found),
            "{found}, expected 1350: {m:?}"
        );
    }
}
