//! The agent binary as the runtimes drive it, without root: a bad plan is
//! exit 2 with the reason, a plan gives one JSON report, `serve` says `ready`
//! and stops cleanly on SIGTERM.

use netcheck::model::{Outcome, ProbeReport};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netcheck");

fn probe_with(stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["agent", "probe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent probe");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_bad_plan_is_exit_2_with_the_reason() {
    for bad in [&b"{not json"[..], b"", b"{\"deadlineMs\": 1}"] {
        let out = probe_with(bad);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("probe plan"), "{err}");
        assert!(out.stdout.is_empty(), "no report on a bad plan");
    }
}

#[test]
fn a_plan_gives_one_json_report() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let plan = format!(
        r#"{{"deadlineMs": 3000, "probes": [
            {{"id": "open", "timeoutMs": 1000, "kind": "tcp", "target": "127.0.0.1", "port": {port}}}
        ]}}"#
    );
    let out = probe_with(plan.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: ProbeReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.results.len(), 1);
    assert_eq!(report.results[0].outcome, Outcome::Ok);
    assert!(report.peak_rss_kib.unwrap_or(0) > 0);
}

#[test]
fn serve_says_ready_and_stops_on_sigterm() {
    let free = || {
        let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let (t, u, h) = (free(), free(), free());
    let mut child = Command::new(BIN)
        .args(["agent", "serve", "--tcp-port", &t.to_string()])
        .args(["--udp-port", &u.to_string(), "--http-port", &h.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // Listening for real: the TCP echo answers.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", t)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    // SAFETY: kill on our own, not yet reaped child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("agent serve did not stop within 5 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
}
