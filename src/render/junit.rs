//! `-o junit`: what GitHub, GitLab and Jenkins show as test results.
//!
//! One test suite per check kind, one test case per check, named
//! `<source> → <target> <protocol>/<port>` with the source node as class
//! name (CI UIs group by it). A failed check is a `<failure>` with its detail;
//! one that could not run an `<error>`; a skipped one `<skipped>`; traffic
//! blocked as NetworkPolicy intends passes; a check that failed once and
//! passed on its second try passes with a `<flakyFailure>`. The findings are
//! one more suite, `findings`, with a failure per error or warning finding
//! carrying the evidence and the fix, so the root cause is the first thing a
//! CI page shows.
//!
//! An aggregated report (agents counted passes per cell) has one more
//! passing test case per cell whose passes were counted, named
//! `<source node> → <target> (N passed)`; every check in `checks[]` (each
//! failure among them) is still a case of its own.

use crate::model::cells::CellSummary;
use crate::model::{Check, CheckKind, Endpoint, Report, Severity, Status};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestRerun, TestSuite};
use std::collections::BTreeSet;
use std::time::Duration;

/// `svc/NAME`, without the namespace.
fn service(e: &Endpoint) -> Option<String> {
    e.name.as_deref().map(|n| {
        let name = n.rsplit_once('/').map_or(n, |(_, name)| name);
        format!("svc/{name}")
    })
}

fn side(e: &Endpoint) -> String {
    // A Service by its name alone: its namespace is new every run
    // (`netcheck-<id>`), and a case name must be the same from run to run for
    // CI to follow its history.
    let service = service(e);
    let who = e
        .pod
        .clone()
        .or_else(|| service.clone())
        .or_else(|| e.node.clone().map(|n| format!("{n} (host)")))
        .or_else(|| e.ip.map(|i| i.to_string()))
        .unwrap_or_else(|| "?".into());
    match (&e.pod, &e.name, &e.node) {
        // A Service target shows its name and the backend's node.
        (Some(_), Some(_), Some(node)) => {
            format!("{} ({node})", service.unwrap_or_default())
        }
        (Some(_), None, Some(node)) => format!("{who} ({node})"),
        _ => who,
    }
}

/// `<source> → <target> <protocol>/<port>`, plus the family for IPv6. The
/// same check has the same name in every run: no namespace, and a NodePort
/// (the API server picks a new one each run) as `nodePort`.
pub fn case_name(c: &Check) -> String {
    let port = match (c.kind, c.port) {
        (CheckKind::Nodeport, _) => "/nodePort".to_string(),
        (_, Some(p)) => format!("/{p}"),
        (_, None) => String::new(),
    };
    let v6 = if c.source.ip.is_some_and(|i| i.is_ipv6()) {
        " IPv6"
    } else {
        ""
    };
    let extra = if super::grid::is_hairpin(c) {
        " (hairpin)"
    } else if super::grid::is_dns_direct(c) {
        " (direct)"
    } else {
        ""
    };
    let target = match (c.kind, &c.target.name, &c.target.pod) {
        // DNS: the name asked, and of which server.
        (CheckKind::Dns, Some(name), Some(pod)) => format!("{name} @ {pod}"),
        (CheckKind::Dns, Some(name), None) => format!("{name} via Service"),
        // The node's IP, at the NodePort of the Service of a pod on it.
        (CheckKind::Nodeport, _, _) => {
            let node = c.target.node.clone().map_or_else(
                || c.target.ip.map(|i| i.to_string()).unwrap_or_default(),
                |n| format!("{n} (host)"),
            );
            match service(&c.target).or_else(|| c.target.pod.clone()) {
                Some(via) => format!("{node} for {via}"),
                None => node,
            }
        }
        _ => side(&c.target),
    };
    format!(
        "{} → {} {}{port}{extra}{v6}",
        side(&c.source),
        target,
        c.protocol.as_str()
    )
}

/// The passes agents counted in one cell, as one passing case.
fn cell_case(s: &CellSummary) -> TestCase {
    let hairpin = if s.hairpin { " (hairpin)" } else { "" };
    let name = format!(
        "{} → {}{hairpin} ({} passed)",
        s.source, s.target, s.omitted
    );
    let mut t = TestCase::new(name, TestCaseStatus::success());
    t.set_classname(format!("netcheck.{}.{}", s.kind.as_str(), s.source));
    if let Some(l) = s.median_latency_ms.filter(|l| l.is_finite() && *l >= 0.0) {
        t.set_time(Duration::from_secs_f64(l / 1000.0));
    }
    let lat = match (s.median_latency_ms, s.max_latency_ms) {
        (Some(m), Some(x)) => format!(" (median {m} ms, max {x} ms)"),
        _ => String::new(),
    };
    t.set_system_out(format!(
        "{} passed check(s) counted by the agents and not listed one by one{lat}",
        s.omitted
    ));
    t
}

fn case(c: &Check) -> TestCase {
    let status = match c.status {
        // Failed once, passed on the second try: a success with a flaky run
        // (`<flakyFailure>`, as Maven Surefire writes reruns).
        Status::Pass if c.recovered() => {
            let mut s = TestCaseStatus::success();
            let mut first = TestRerun::new(NonSuccessKind::Failure);
            first.set_message(c.detail.clone());
            s.add_rerun(first);
            s
        }
        Status::Pass | Status::ExpectedBlock => TestCaseStatus::success(),
        Status::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(if c.detail.is_empty() {
                "skipped".to_string()
            } else {
                c.detail.clone()
            });
            s
        }
        Status::Fail | Status::UnexpectedAllow | Status::Error => {
            let kind = if c.status == Status::Error {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            };
            let mut s = TestCaseStatus::non_success(kind);
            let message = match (c.status, c.detail.is_empty()) {
                (Status::UnexpectedAllow, _) => {
                    "traffic passed that NetworkPolicy denies (unexpected-allow)".to_string()
                }
                (_, true) => c.status.as_str().to_string(),
                (_, false) => c.detail.clone(),
            };
            s.set_message(message);
            s.set_type(c.status.as_str());
            s.set_description(crate::diagnose::describe_check(c));
            s
        }
    };
    let mut t = TestCase::new(case_name(c), status);
    t.set_classname(format!(
        "netcheck.{}.{}",
        c.kind.as_str(),
        c.source.node.as_deref().unwrap_or("unknown")
    ));
    if let Some(l) = c.latency_ms.filter(|l| l.is_finite() && *l >= 0.0) {
        t.set_time(Duration::from_secs_f64(l / 1000.0));
    }
    if c.status == Status::ExpectedBlock {
        t.set_system_out("blocked by NetworkPolicy, as intended");
    }
    t
}

pub fn render(r: &Report) -> String {
    let mut report = quick_junit::Report::new("kubectl-netcheck");
    report.set_time(Duration::from_millis(r.summary.duration_ms));

    // Findings first: the root cause is what a CI page should lead with.
    let mut fs = TestSuite::new("findings");
    let mut seen = BTreeSet::new();
    for f in super::table::sorted_findings(r) {
        let base = if f.nodes.is_empty() {
            f.id.to_string()
        } else {
            format!("{} ({})", f.id, f.nodes.join(", "))
        };
        let mut name = base.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{base} #{n}");
            n += 1;
        }
        let status = if f.severity >= Severity::Warning {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("{}: {}", f.severity.as_str(), f.title));
            s.set_type(f.id.as_str());
            let mut d = String::new();
            for e in &f.evidence {
                d.push_str(&format!("- {e}\n"));
            }
            if !f.remediation.is_empty() {
                d.push_str(&format!("Fix: {}\n", f.remediation));
            }
            d.push_str(&format!("More: docs/findings/{}.md\n", f.id));
            s.set_description(d);
            s
        } else {
            TestCaseStatus::success()
        };
        let mut t = TestCase::new(name, status);
        t.set_classname(format!("netcheck.findings.{}", f.severity.as_str()));
        if f.severity == Severity::Info {
            t.set_system_out(format!("{}\n{}", f.title, f.evidence.join("\n")));
        }
        fs.add_test_case(t);
    }
    report.add_test_suite(fs);

    for kind in CheckKind::ALL {
        let checks: Vec<&Check> = r.checks.iter().filter(|c| c.kind == kind).collect();
        let counted: Vec<&CellSummary> = r
            .cells
            .iter()
            .filter(|s| s.kind == kind && s.omitted > 0)
            .collect();
        if checks.is_empty() && counted.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(kind.as_str());
        let mut seen = BTreeSet::new();
        for mut t in checks
            .into_iter()
            .map(case)
            .chain(counted.into_iter().map(cell_case))
        {
            // Names must be unique in a suite for CI UIs to keep every case.
            let base = t.name.as_str().to_string();
            let mut n = 2;
            while !seen.insert(t.name.as_str().to_string()) {
                t.name = format!("{base} #{n}").into();
                n += 1;
            }
            suite.add_test_case(t);
        }
        report.add_test_suite(suite);
    }
    match report.to_string() {
        Ok(mut s) => {
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
        // Writing XML to a String only fails on a bug; keep the output valid XML.
        Err(e) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kubectl-netcheck\" tests=\"1\" failures=\"0\" errors=\"1\"><testsuite name=\"render\" tests=\"1\" failures=\"0\" errors=\"1\"><testcase name=\"write JUnit\"><error message=\"could not write the JUnit report\">{}</error></testcase></testsuite></testsuites>\n",
            xml_escape(&e.to_string())
        ),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
