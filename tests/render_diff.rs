//! `diff`: matching cells across runs (different pods, namespaces and IPs),
//! regressions, fixes, findings, latency; and the `report`/`diff` commands as
//! a user runs them (exit codes, error sentences).

mod render_support;

use netcheck::cli::OutputFormat;
use netcheck::model::Report;
use netcheck::render::RenderOptions;
use netcheck::render::diff::{diff, render};
use std::process::Command;

/// The same cluster run again: a new probe namespace, so other names and IPs.
fn rerun(r: &Report) -> Report {
    let text = netcheck::render::json(r)
        .replace(render_support::NS, "netcheck-q9w4z")
        .replace("198.18.0.2\"", "198.18.0.7\"");
    serde_json::from_str(&text).expect("still a report")
}

#[test]
fn a_healthy_rerun_is_no_change() {
    let a = render_support::healthy();
    let d = diff(&a, &rerun(&a));
    assert!(!d.regressed);
    assert!(
        d.regressions.is_empty() && d.fixed.is_empty() && d.changed.is_empty(),
        "{d:#?}"
    );
    assert!(d.findings_appeared.is_empty());
}

/// Two healthy runs of the same cluster differ in the host agent's TCP port,
/// which is derived from the run id (issue 11, item 11): pod-to-node cells
/// must still match.
#[test]
fn the_host_agents_port_changing_between_runs_is_no_change() {
    use netcheck::model::CheckKind;
    let a = render_support::healthy();
    let mut b = rerun(&a);
    let mut moved = 0;
    for c in b
        .checks
        .iter_mut()
        .filter(|c| c.kind == CheckKind::PodToNode)
    {
        if let Some(p) = c.port.as_mut() {
            *p = 63895;
            moved += 1;
        }
    }
    assert!(moved > 0, "the fixture has pod-to-node TCP checks");
    let d = diff(&a, &b);
    assert!(!d.regressed);
    assert!(
        d.regressions.is_empty() && d.fixed.is_empty() && d.changed.is_empty(),
        "{:#?}",
        d.changed
    );
    // A real change on the same cell is still seen.
    for c in b
        .checks
        .iter_mut()
        .filter(|c| c.kind == CheckKind::PodToNode && c.port.is_some())
    {
        c.status = netcheck::model::Status::Fail;
        c.detail = "timeout".into();
    }
    let d = diff(&a, &b);
    assert!(d.regressed);
    assert!(
        d.regressions
            .iter()
            .all(|c| c.key.kind == CheckKind::PodToNode)
    );
    assert!(d.changed.is_empty(), "{:#?}", d.changed);
}

#[test]
fn healthy_to_isolated_regresses_and_back_is_fixed() {
    let (a, b) = (
        render_support::healthy(),
        rerun(&render_support::node_isolated()),
    );
    let d = diff(&a, &b);
    assert!(d.regressed);
    // every failing cell of the new run is a regression (cells aggregate per node)
    assert!(!d.regressions.is_empty());
    assert!(
        d.regressions
            .iter()
            .all(|c| c.old == Some("pass") && c.new == Some("fail"))
    );
    assert!(d.regressions.iter().all(|c| c.key.source == "node-3"
        || c.key.target.contains("node-3")
        || c.key.kind == netcheck::model::CheckKind::Dns));
    assert_eq!(d.findings_appeared.len(), 1);
    assert_eq!(d.findings_appeared[0].id, "node-isolated");

    let back = diff(&b, &a);
    assert!(!back.regressed);
    assert_eq!(back.fixed.len(), d.regressions.len());
    assert_eq!(back.findings_resolved.len(), 1);

    let opts = RenderOptions::default();
    let t = render(&d, "before.json", "after.json", OutputFormat::Table, &opts).expect("table");
    insta::assert_snapshot!("diff_healthy_to_isolated", t);
    let j = render(&d, "before.json", "after.json", OutputFormat::Json, &opts).expect("json");
    let v: serde_json::Value = serde_json::from_str(&j).expect("json");
    assert_eq!(v["kind"], "Diff");
    assert_eq!(v["regressed"], true);
    let md = render(
        &d,
        "before.json",
        "after.json",
        OutputFormat::Markdown,
        &opts,
    )
    .expect("md");
    assert!(md.starts_with("## netcheck diff"));
    assert!(render(&d, "a", "b", OutputFormat::Junit, &opts).is_err());
}

#[test]
fn latency_changes_beyond_the_threshold_are_reported_not_failed() {
    let a = render_support::healthy();
    let mut b = rerun(&a);
    for c in b
        .checks
        .iter_mut()
        .filter(|c| c.kind == netcheck::model::CheckKind::Dns)
    {
        c.latency_ms = c.latency_ms.map(|l| l + 40.0);
    }
    // small noise on pod-to-pod stays silent
    for c in b
        .checks
        .iter_mut()
        .filter(|c| c.kind == netcheck::model::CheckKind::PodToPod)
    {
        c.latency_ms = c.latency_ms.map(|l| l * 3.0);
    }
    let d = diff(&a, &b);
    assert!(!d.regressed);
    assert!(!d.slower.is_empty());
    assert!(
        d.slower
            .iter()
            .all(|l| l.key.kind == netcheck::model::CheckKind::Dns),
        "{:#?}",
        d.slower
    );
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
}

fn write(dir: &tempfile::TempDir, name: &str, r: &Report) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, netcheck::render::json(r)).expect("write");
    p
}

#[test]
fn the_commands_as_a_user_runs_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(&dir, "good.json", &render_support::healthy());
    let bad = write(&dir, "bad.json", &render_support::cross_node_drop());

    // report: re-render in every format; the exit code is the report's verdict
    for fmt in ["table", "json", "junit", "markdown"] {
        let out = bin()
            .args(["report", "-o", fmt])
            .arg(&good)
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{fmt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty());
        assert!(!out.stdout.contains(&0x1b), "no colour into a pipe");
    }
    let out = bin().arg("report").arg(&bad).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cross-node-pod-traffic-broken"));
    // the JSON re-rendered is the JSON saved
    let out = bin()
        .args(["report", "-o", "json"])
        .arg(&good)
        .output()
        .expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(&good).expect("read")
    );

    // diff: exit 1 on a regression, 0 otherwise
    let out = bin()
        .arg("diff")
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("regressed"), "{text}");
    let out = bin()
        .arg("diff")
        .arg(&bad)
        .arg(&good)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let out = bin()
        .args(["diff", "-o", "json"])
        .arg(&good)
        .arg(&good)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));

    // bad files: a sentence naming the file and the problem
    let missing = dir.path().join("nope.json");
    let out = bin().arg("report").arg(&missing).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope.json") && err.contains("cannot read"),
        "{err}"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\"apiVersion\": \"netcheck/v1\", \"kind\": \"Report\",",
    )
    .expect("write");
    let out = bin().arg("report").arg(&broken).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json is not valid JSON") && err.contains("line 1"),
        "{err}"
    );

    let other = dir.path().join("pod.json");
    std::fs::write(&other, "{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}").expect("write");
    let out = bin()
        .arg("diff")
        .arg(&good)
        .arg(&other)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pod.json has apiVersion \"v1\" and kind \"Pod\""),
        "{err}"
    );

    let shape = dir.path().join("shape.json");
    std::fs::write(
        &shape,
        "{\"apiVersion\": \"netcheck/v1\", \"kind\": \"Report\", \"checks\": []}",
    )
    .expect("write");
    let out = bin().arg("report").arg(&shape).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shape.json is JSON but not a netcheck/v1 report")
            && err.contains("missing field"),
        "{err}"
    );

    let out = bin()
        .args(["diff", "-o", "junit"])
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
