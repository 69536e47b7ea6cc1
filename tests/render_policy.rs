//! Expected blocks are shown apart from failures: a cluster whose CNI
//! enforces a deny policy shows `⊘` cells (legend: "blocked by policy, as
//! intended"), no failing count, exit-worthy nothing, and `expected-block` in
//! JSON.

mod render_support;

use netcheck::cli::OutputFormat;
use netcheck::model::{Report, Status};
use netcheck::render::{RenderOptions, render};
use render_support as s;

fn plain() -> RenderOptions {
    RenderOptions {
        color: false,
        unicode: true,
        wide: false,
        width: 120,
    }
}

/// The policy scenario on a CNI that enforces it: UDP is blocked too.
fn enforced() -> Report {
    let mut r = s::policy();
    for c in &mut r.checks {
        if c.status == Status::UnexpectedAllow {
            c.status = Status::ExpectedBlock;
            c.latency_ms = None;
            c.detail = "blocked by NetworkPolicy netcheck/deny-ingress".into();
        }
    }
    r.findings.clear();
    r.summary.unexpected_allows = 0;
    r.summary.expected_blocks = r
        .checks
        .iter()
        .filter(|c| c.status == Status::ExpectedBlock)
        .count();
    r.summary.errors = 0;
    r
}

#[test]
fn enforced_policy_shows_blocked_cells_not_failures() {
    let r = enforced();
    let out = render(&r, OutputFormat::Table, &plain());
    let pod_to_pod: String = out
        .lines()
        .skip_while(|l| !l.starts_with("Pod → Pod"))
        .take_while(|l| !l.starts_with("Services"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!pod_to_pod.is_empty(), "{out}");
    assert!(
        !pod_to_pod.contains('✗'),
        "a blocked cell is no failure:\n{pod_to_pod}"
    );
    let row = pod_to_pod
        .lines()
        .find(|l| l.starts_with("│ node-1"))
        .unwrap_or_else(|| panic!("{pod_to_pod}"));
    let cells: Vec<&str> = row.split('│').map(str::trim).collect();
    // │ node-1 │ node-1 cell │ node-2 cell │ node-3 cell │
    assert_eq!(cells[3], "⊘", "{row}");
    assert!(
        out.contains("⊘ blocked by policy, as intended"),
        "legend: {out}"
    );
    insta::assert_snapshot!("table_policy_enforced", out);

    let json = render(&r, OutputFormat::Json, &plain());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let blocked = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "expected-block")
        .count();
    assert_eq!(blocked, r.summary.expected_blocks);
    assert!(blocked > 0);
    assert_eq!(
        v["summary"]["expectedBlocks"].as_u64(),
        Some(blocked as u64)
    );
    assert_eq!(v["summary"]["failed"], 0);
}
