//! What `kubectl-netcheck lab` prints, as a user sees it (root): the table on
//! stdout and another format in `--output-file`; progress bars on a terminal
//! (a pseudo-terminal from `script`), nothing with `-q`.

#![cfg(target_os = "linux")]

use netcheck::lab::testing::require_root;
use std::process::{Command, Output};

fn exe() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_kubectl-netcheck").into()
}

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .arg("lab")
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("run kubectl-netcheck")
}

#[test]
fn output_file_gets_the_format_while_the_table_goes_to_stdout() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("netcheck.xml");
    let out = lab(&[
        "--nodes",
        "3",
        "--fault",
        "node-isolated",
        "--output-file",
        xml.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("Pod -> Pod") || stdout.contains("Pod → Pod"),
        "{stdout}"
    );
    assert!(stdout.contains("node-isolated"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no colour when stdout is a pipe");
    let junit = std::fs::read_to_string(&xml).expect("--output-file written");
    let doc = roxmltree::Document::parse(&junit).expect("JUnit is XML");
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert!(
        failures
            .iter()
            .any(|f| f.attribute("type") == Some("node-isolated")),
        "{junit}"
    );
    assert!(failures.len() > 1, "failing checks are failures too");

    // -o json with a .json file: the same report for scripts, the table on stdout.
    let json = dir.path().join("netcheck.json");
    let out = lab(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "-o",
        "json",
        "--output-file",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = netcheck::render::saved::load(&json).expect("a saved report");
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity != netcheck::model::Severity::Error)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checks passed"));
}

/// `script` runs the command on a pseudo-terminal: stdout and stderr are a tty.
fn on_a_terminal(args: &str) -> Option<String> {
    let cmd = format!("{} lab {args}", exe().display());
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("COLUMNS", "120")
        .env("LANG", "C.UTF-8")
        .env("TERM", "xterm")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn progress_shows_each_stage_on_a_terminal_and_nothing_with_q() {
    if !require_root() {
        return;
    }
    let Some(tty) = on_a_terminal("--nodes 2 --pods-per-node 1 --checks pod-to-pod --no-host")
    else {
        assert!(
            std::env::var("NETCHECK_REQUIRE_LAB").as_deref() != Ok("1"),
            "NETCHECK_REQUIRE_LAB=1 but the script command (bsdutils, ./install.sh) is missing"
        );
        eprintln!("skipped: needs the script command (bsdutils) for a pseudo-terminal");
        return;
    };
    // Each finished stage leaves a line with its time above the report.
    for stage in ["✓ deploying probes (", "✓ probing", "✓ cleaning up ("] {
        assert!(tty.contains(stage), "no {stage:?} line:\n{tty}");
    }
    assert!(tty.contains("\x1b[32m"), "colour on a terminal:\n{tty}");
    let report_at = tty.find("kubectl netcheck").expect("the report");
    let last_stage = tty.rfind("✓ cleaning up").expect("stage line");
    assert!(last_stage < report_at, "progress ends before the report");

    let quiet = on_a_terminal("--nodes 2 --pods-per-node 1 --checks pod-to-pod --no-host -q")
        .expect("script ran once");
    assert!(
        !quiet.contains("deploying probes"),
        "-q shows no progress:\n{quiet}"
    );
    assert!(quiet.contains("kubectl netcheck"), "{quiet}");
}
