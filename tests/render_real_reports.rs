//! Reports saved from real lab runs (tests/data/reports/, written by
//! `sudo kubectl-netcheck lab --nodes 3 [--fault F] -o json`): what every
//! renderer and the `report`/`diff` commands do with evidence from real
//! packets, not a model of them. The files are fixed, so their latencies and
//! durations are too: the snapshots are stable without redaction.
//!
//! To refresh them after a change to the lab or the report, rerun the
//! commands above (as root) and review the snapshot diffs.

use netcheck::cli::OutputFormat;
use netcheck::model::{Report, Severity, Status};
use netcheck::render::{RenderOptions, render, saved};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The saved runs: the file name (the fault, or "healthy") and the one error
/// finding the fault must produce.
const RUNS: [(&str, Option<&str>); 6] = [
    ("healthy", None),
    ("node-isolated", Some("node-isolated")),
    ("cross-node-drop", Some("cross-node-pod-traffic-broken")),
    ("dns-down", Some("dns-unreachable")),
    ("kube-proxy-down", Some("service-vip-unreachable")),
    ("underlay-mtu", Some("mtu-blackhole")),
];

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reports")
        .join(format!("{name}.json"))
}

fn load(name: &str) -> Report {
    saved::load(&path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn opts(width: usize, unicode: bool) -> RenderOptions {
    RenderOptions {
        color: false,
        unicode,
        wide: false,
        width,
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
}

#[test]
fn each_saved_run_is_a_real_lab_run_with_its_root_cause() {
    for (name, want) in RUNS {
        let r = load(name);
        assert!(
            r.cluster.name.starts_with("netcheck-lab-"),
            "{name}: not a lab run ({})",
            r.cluster.name
        );
        assert_eq!(r.nodes.len(), 3, "{name}");
        assert!(r.checks.len() > 200, "{name}: {} checks", r.checks.len());
        let errors: Vec<&str> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.id.as_str())
            .collect();
        match want {
            None => {
                assert!(r.findings.is_empty(), "{name}: {:#?}", r.findings);
                assert!(r.checks.iter().all(|c| c.status == Status::Pass));
            }
            Some(id) => assert_eq!(errors, [id], "{name}"),
        }
    }
}

#[test]
fn table_snapshots_of_each_real_run() {
    for (name, _) in RUNS {
        let out = render(&load(name), OutputFormat::Table, &opts(120, true));
        insta::assert_snapshot!(format!("real_table_{name}"), out);
    }
}

#[test]
fn at_80_columns_every_line_fits_and_the_root_cause_is_on_the_first_screen() {
    for (name, want) in RUNS {
        let r = load(name);
        for unicode in [true, false] {
            let out = render(&r, OutputFormat::Table, &opts(80, unicode));
            for line in out.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{name} (unicode {unicode}): a line of {} columns:\n{line}",
                    line.chars().count()
                );
            }
            if !unicode {
                let bad: Vec<char> = out.chars().filter(|c| !c.is_ascii()).collect();
                assert!(bad.is_empty(), "{name}: non-ASCII {bad:?}");
            }
            // The first screen of an 80×24 terminal names the root cause and
            // its fix; the last line names it again.
            let first: String = out.lines().take(24).collect::<Vec<_>>().join("\n");
            let last = out.lines().last().unwrap_or_default();
            match want {
                Some(id) => {
                    assert!(first.contains(id), "{name}: {id} not on screen:\n{first}");
                    assert!(first.contains("fix"), "{name}: no fix on screen:\n{first}");
                    assert!(last.contains(id), "{name}: last line {last:?}");
                }
                None => assert!(last.contains("checks passed"), "{name}: {last:?}"),
            }
        }
    }
    insta::assert_snapshot!(
        "real_table_node-isolated_80_ascii",
        render(
            &load("node-isolated"),
            OutputFormat::Table,
            &opts(80, false)
        )
    );
}

#[test]
fn wide_shows_every_column_past_the_width() {
    let r = load("dns-down");
    let folded = render(&r, OutputFormat::Table, &opts(80, true));
    assert!(folded.contains("folded to 80 columns"), "{folded}");
    assert!(folded.contains("failing pairs (12)"), "{folded}");
    let wide = render(
        &r,
        OutputFormat::Table,
        &RenderOptions {
            wide: true,
            ..opts(80, true)
        },
    );
    assert!(!wide.contains("folded"), "{wide}");
    assert!(wide.contains("coredns-lab"));
    assert!(wide.contains("kubernetes.default"));
}

/// JUnit as a CI server reads it: well-formed, the counters Jenkins and
/// GitLab read on every suite, a case per check with a failure exactly for
/// the failing checks, and the root-cause finding as a failure with evidence.
#[test]
fn junit_of_each_real_run_has_failures_exactly_for_the_failing_checks() {
    for (name, want) in RUNS {
        let r = load(name);
        let xml = render(&r, OutputFormat::Junit, &RenderOptions::default());
        let doc = roxmltree::Document::parse(&xml)
            .unwrap_or_else(|e| panic!("{name}: not well-formed XML: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let mut cases = 0;
        let mut failures = 0;
        let mut finding_failures = Vec::new();
        for suite in root.children().filter(|n| n.has_tag_name("testsuite")) {
            let num = |k: &str| {
                suite
                    .attribute(k)
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("{name}: testsuite without a numeric {k}"))
            };
            assert!(suite.attribute("name").is_some_and(|n| !n.is_empty()));
            let its: Vec<_> = suite
                .children()
                .filter(|n| n.has_tag_name("testcase"))
                .collect();
            let failed = its
                .iter()
                .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
                .count();
            assert_eq!(num("tests"), its.len(), "{name}");
            assert_eq!(num("failures"), failed, "{name}");
            assert_eq!(num("errors"), 0, "{name}");
            for c in &its {
                assert!(c.attribute("name").is_some_and(|n| !n.is_empty()));
                assert!(c.attribute("classname").is_some_and(|n| !n.is_empty()));
            }
            if suite.attribute("name") == Some("findings") {
                for c in &its {
                    if let Some(f) = c.children().find(|n| n.has_tag_name("failure")) {
                        finding_failures.push((
                            f.attribute("type").unwrap_or_default().to_string(),
                            f.text().unwrap_or_default().to_string(),
                        ));
                    }
                }
            } else {
                cases += its.len();
                failures += failed;
            }
        }
        assert_eq!(cases, r.checks.len(), "{name}: a case per check");
        let failing = r.checks.iter().filter(|c| c.status.is_failure()).count();
        assert_eq!(failures, failing, "{name}: a failure per failing check");
        match want {
            None => assert!(finding_failures.is_empty(), "{name}"),
            Some(id) => {
                let (_, text) = finding_failures
                    .iter()
                    .find(|(t, _)| t == id)
                    .unwrap_or_else(|| panic!("{name}: no failure for {id}"));
                let f = r.findings.iter().find(|f| f.id.as_str() == id).unwrap();
                assert!(text.contains(&f.evidence[0]), "{name}: evidence missing");
                assert!(failures > 0, "{name}: no failing cell");
            }
        }
    }
}

#[test]
fn markdown_of_a_real_fault_has_the_finding_and_even_tables() {
    let md = render(
        &load("kube-proxy-down"),
        OutputFormat::Markdown,
        &RenderOptions::default(),
    );
    assert!(md.contains("`service-vip-unreachable`"), "{md}");
    let mut header_cells = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header_cells = None;
            continue;
        }
        let cells = line.replace("\\|", "").matches('|').count();
        match header_cells {
            None => header_cells = Some(cells),
            Some(h) => assert_eq!(cells, h, "ragged table row: {line}"),
        }
    }
}

#[test]
fn diff_from_healthy_to_each_fault_regresses_and_back_does_not() {
    let healthy = path("healthy");
    for (name, want) in RUNS.iter().skip(1) {
        let fault = path(name);
        let o = bin()
            .arg("diff")
            .arg(&healthy)
            .arg(&fault)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: a regression exits 1\n{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains(want.unwrap_or_default()), "{name}:\n{out}");
        let back = bin()
            .arg("diff")
            .arg(&fault)
            .arg(&healthy)
            .output()
            .unwrap();
        assert_eq!(
            back.status.code(),
            Some(0),
            "{name}: fixed is not a regression"
        );
        // The same report twice: nothing changed.
        let same = bin().arg("diff").arg(&fault).arg(&fault).output().unwrap();
        assert_eq!(same.status.code(), Some(0), "{name}");
    }
    // -o json for scripts says the same.
    let o = bin()
        .args(["diff", "-o", "json"])
        .arg(&healthy)
        .arg(path("node-isolated"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("diff -o json is JSON");
    assert_eq!(v["regressed"], true, "{v}");
}

#[test]
fn report_rerenders_a_saved_run_with_its_verdict() {
    for (name, want) in RUNS {
        let o = bin()
            .args(["report", "--no-color"])
            .arg(path(name))
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        let code = if want.is_some() { 1 } else { 0 };
        assert_eq!(o.status.code(), Some(code), "{name}");
        let table = String::from_utf8_lossy(&o.stdout);
        assert!(table.contains("Pod → Pod"), "{name}: {table}");
        let o = bin()
            .args(["report", "-o", "junit"])
            .arg(path(name))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{name}");
        let xml = String::from_utf8_lossy(&o.stdout);
        assert!(roxmltree::Document::parse(&xml).is_ok(), "{name}: {xml}");
    }
}
