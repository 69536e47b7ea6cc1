//! JUnit and markdown: parsed back and checked for what CI UIs and PR
//! comments rely on; snapshots of both for a faulty report.

mod render_support;

use netcheck::cli::OutputFormat;
use netcheck::model::{CheckKind, Status};
use netcheck::render::{RenderOptions, format_from_path_or_flag, outputs, render};
use std::path::Path;

fn junit(r: &netcheck::model::Report) -> String {
    render(r, OutputFormat::Junit, &RenderOptions::default())
}

#[test]
fn junit_is_xml_with_a_suite_per_kind_and_a_failure_per_failed_check() {
    for (name, r) in render_support::all() {
        let xml = junit(&r);
        let doc = roxmltree::Document::parse(&xml)
            .unwrap_or_else(|e| panic!("{name}: JUnit is not well-formed XML: {e}\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        // findings first, then one suite per check kind present
        assert_eq!(suites[0].attribute("name"), Some("findings"));
        let kinds: Vec<&str> = CheckKind::ALL
            .iter()
            .filter(|k| r.checks.iter().any(|c| c.kind == **k))
            .map(|k| k.as_str())
            .collect();
        let names: Vec<&str> = suites[1..]
            .iter()
            .filter_map(|s| s.attribute("name"))
            .collect();
        assert_eq!(names, kinds, "{name}");
        for s in &suites[1..] {
            let kind = s.attribute("name").unwrap_or_default();
            let cases: Vec<_> = s
                .children()
                .filter(|n| n.has_tag_name("testcase"))
                .collect();
            let checks: Vec<_> = r
                .checks
                .iter()
                .filter(|c| c.kind.as_str() == kind)
                .collect();
            assert_eq!(
                cases.len(),
                checks.len(),
                "{name}/{kind}: one case per check"
            );
            // unique names, so CI UIs keep every case
            let mut seen = std::collections::BTreeSet::new();
            for c in &cases {
                assert!(
                    seen.insert(c.attribute("name")),
                    "duplicate case name in {kind}"
                );
            }
            let failures = cases
                .iter()
                .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
                .count();
            let want = checks
                .iter()
                .filter(|c| matches!(c.status, Status::Fail | Status::UnexpectedAllow))
                .count();
            assert_eq!(failures, want, "{name}/{kind}");
            // the suite's counters agree with its cases (Jenkins reads them)
            let attr = |k: &str| s.attribute(k).and_then(|v| v.parse::<usize>().ok());
            assert_eq!(attr("tests"), Some(cases.len()));
            assert_eq!(attr("failures"), Some(want));
        }
        // a failure per error or warning finding, with the evidence
        let findings: Vec<_> = suites[0]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(findings.len(), r.findings.len(), "{name}");
        for (case, f) in findings.iter().zip(r.findings.iter()) {
            let failure = case
                .children()
                .find(|n| n.has_tag_name("failure"))
                .unwrap_or_else(|| panic!("{name}: finding {} has no failure", f.id));
            let text = failure.text().unwrap_or_default();
            for e in &f.evidence {
                assert!(text.contains(e.as_str()), "{name}: evidence {e:?} missing");
            }
            assert_eq!(failure.attribute("type"), Some(f.id.as_str()));
        }
    }
}

#[test]
fn junit_case_names_say_who_talks_to_whom() {
    let xml = junit(&render_support::node_isolated());
    assert!(
        xml.contains("name=\"probe-node-1 (node-1) → probe-node-3 (node-3) tcp/7000\""),
        "{xml}"
    );
    assert!(xml.contains("(hairpin)"));
    insta::assert_snapshot!("junit_node_isolated", xml);
}

#[test]
fn markdown_has_headings_tables_and_findings_with_evidence() {
    let r = render_support::node_isolated();
    let md = render(&r, OutputFormat::Markdown, &RenderOptions::default());
    assert!(md.starts_with("## kubectl netcheck: kind-netcheck — ✗"));
    assert!(md.contains("### Findings"));
    assert!(md.contains("#### ✗ error: `node-isolated`"));
    for e in &r.findings[0].evidence {
        assert!(md.contains(&format!("  - `{e}`")), "evidence {e:?} missing");
    }
    // every table row has as many cells as its header
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
    assert!(!md.contains('\x1b'));
    insta::assert_snapshot!("markdown_node_isolated", md);
    insta::assert_snapshot!(
        "markdown_healthy",
        render(
            &render_support::healthy(),
            OutputFormat::Markdown,
            &RenderOptions::default()
        )
    );
}

#[test]
fn output_file_format_comes_from_the_flag_then_the_extension() {
    let f = |p: &str, o| format_from_path_or_flag(Path::new(p), o);
    assert_eq!(f("r.xml", OutputFormat::Junit), OutputFormat::Junit);
    assert_eq!(f("r.txt", OutputFormat::Json), OutputFormat::Json);
    assert_eq!(f("r.xml", OutputFormat::Table), OutputFormat::Junit);
    assert_eq!(f("r.MD", OutputFormat::Table), OutputFormat::Markdown);
    assert_eq!(f("r.json", OutputFormat::Table), OutputFormat::Json);
    assert_eq!(f("report", OutputFormat::Table), OutputFormat::Json);

    let r = render_support::healthy();
    let coloured = RenderOptions {
        color: true,
        ..Default::default()
    };
    let o = outputs(
        &r,
        OutputFormat::Junit,
        Some(Path::new("out.xml")),
        &coloured,
    );
    assert!(
        o.stdout.contains("Pod → Pod"),
        "the table goes to the terminal"
    );
    let (path, text) = o.file.expect("a file");
    assert_eq!(path, Path::new("out.xml"));
    assert!(text.starts_with("<?xml"));
    let o = outputs(
        &r,
        OutputFormat::Table,
        Some(Path::new("out.txt")),
        &coloured,
    );
    assert!(
        !o.file.expect("a file").1.contains('\x1b'),
        "no colour in files"
    );
    let o = outputs(&r, OutputFormat::Json, None, &coloured);
    assert!(o.stdout.starts_with('{') && o.file.is_none());
}

/// A check that passed only on its second try (the pipeline's confirmation
/// pass) shows in every format: a marker in its cell, the legend, the
/// summary, a flaky run in JUnit, `summary.recovered` in JSON.
#[test]
fn a_flaky_check_shows_in_every_format() {
    let mut r = render_support::healthy();
    let c = r
        .checks
        .iter_mut()
        .find(|c| c.kind == CheckKind::PodToPod && c.is_cross_node())
        .expect("the healthy report has cross-node pod checks");
    c.detail = "flaky: timeout on the first try, passed on the second".into();
    r.summary = netcheck::model::report::Summary {
        duration_ms: r.summary.duration_ms,
        stages_ms: r.summary.stages_ms.clone(),
        ..netcheck::model::report::Summary::tally(&r.checks, &r.findings)
    };
    assert_eq!(r.summary.recovered, 1);

    let opts = RenderOptions {
        color: false,
        unicode: true,
        wide: false,
        width: 120,
    };
    let table = render(&r, OutputFormat::Table, &opts);
    let marked: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with('│') && l.contains(" ~ "))
        .collect();
    assert_eq!(marked.len(), 1, "one matrix row has the marker:\n{table}");
    assert!(
        marked[0].contains('✓'),
        "the cell still passes: {}",
        marked[0]
    );
    assert!(table.contains("Pod → Pod  ✓ 9 ok · 1 ~ flaky"), "{table}");
    assert!(
        table.contains("~ flaky: failed once, passed on the second try"),
        "{table}"
    );
    assert!(
        table.contains("1 flaky (passed on the second try)"),
        "{table}"
    );
    let ascii = render(
        &r,
        OutputFormat::Table,
        &RenderOptions {
            unicode: false,
            ..opts
        },
    );
    assert!(
        ascii
            .lines()
            .any(|l| l.contains("| OK ") && l.contains(" ~ ")),
        "{ascii}"
    );

    let md = render(&r, OutputFormat::Markdown, &RenderOptions::default());
    assert!(md.contains(" ~ |"), "{md}");
    assert!(md.contains("~ flaky: failed once"), "{md}");

    let xml = junit(&r);
    let doc = roxmltree::Document::parse(&xml).expect("JUnit is XML");
    let flaky: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("flakyFailure"))
        .collect();
    assert_eq!(flaky.len(), 1, "{xml}");
    assert_eq!(
        flaky[0].attribute("message"),
        Some("flaky: timeout on the first try, passed on the second")
    );
    assert!(!doc.descendants().any(|n| n.has_tag_name("failure")
        && n.parent().is_some_and(|p| p.has_tag_name("testcase"))
        && p_is_check(&n)));

    let json: serde_json::Value =
        serde_json::from_str(&render(&r, OutputFormat::Json, &opts)).expect("JSON");
    assert_eq!(json["summary"]["recovered"], 1);
    assert_eq!(json["summary"]["confirmed"], 0);
}

/// A `<failure>` under a check's test case (not the findings suite).
fn p_is_check(n: &roxmltree::Node) -> bool {
    n.ancestors()
        .find(|a| a.has_tag_name("testsuite"))
        .and_then(|s| s.attribute("name"))
        .is_some_and(|name| name != "findings")
}

/// A failing pair listed under a folded matrix shows its reason once, also
/// when its cell carries the flaky marker ("✗ timeout ~  no answer …").
#[test]
fn a_folded_failing_pair_with_a_flaky_check_says_its_reason_once() {
    let mut r = render_support::dns_down();
    let c = r
        .checks
        .iter_mut()
        .find(|c| c.kind == CheckKind::Dns && c.status == Status::Fail)
        .expect("dns-down has failed DNS checks");
    c.status = Status::Pass;
    c.detail = format!(
        "flaky: timeout on the first try, passed on the second; {}",
        c.detail
    );
    let opts = RenderOptions {
        width: 100,
        ..RenderOptions::default()
    };
    let table = render(&r, OutputFormat::Table, &opts);
    assert!(table.contains("DNS  ✗ 12 of 12 failing (folded"), "{table}");
    let flaky_pairs: Vec<&str> = table
        .lines()
        .filter(|l| l.contains(" → ") && l.contains(" ~  "))
        .collect();
    assert!(!flaky_pairs.is_empty(), "{table}");
    for l in flaky_pairs {
        assert!(l.contains("✗ timeout ~  no DNS answer"), "{l}");
    }
}

#[test]
fn markdown_names_the_policy_kinds_not_judged() {
    let mut r = render_support::healthy();
    let plain = render(&r, OutputFormat::Markdown, &RenderOptions::default());
    assert!(!plain.contains("Policies not judged"));
    r.cluster.policy_kinds = vec![netcheck::model::report::PolicyKind {
        kind: "AdminNetworkPolicy".into(),
        api_version: "policy.networking.k8s.io/v1alpha1".into(),
        cluster_wide: true,
        count: Some(1),
        ..Default::default()
    }];
    let md = render(&r, OutputFormat::Markdown, &RenderOptions::default());
    assert!(
        md.contains(
            "| Policies not judged | AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1) |"
        ),
        "{md}"
    );
}

/// An aggregated report (passes counted per cell) renders the same matrices
/// as the full one: every cell in the same state with the same counts, and
/// the same failing pairs; JUnit names every failed check and has a passing
/// case per counted cell; a diff of the two changes nothing.
#[test]
fn aggregated_reports_render_the_same_cells() {
    use netcheck::render::grid;
    for (name, full) in render_support::all() {
        let agg = render_support::aggregated(&full);
        assert!(agg.checks.len() < full.checks.len(), "{name}");
        let (gf, ga) = (grid::grids(&full), grid::grids(&agg));
        assert_eq!(gf.len(), ga.len(), "{name}");
        for (f, a) in gf.iter().zip(&ga) {
            assert_eq!(
                (&f.rows, &f.cols),
                (&a.rows, &a.cols),
                "{name}: {}",
                f.title
            );
            for r in 0..f.rows.len() {
                for (cf, ca) in f.dense_row(r).iter().zip(a.dense_row(r)) {
                    let state = |c: &Option<&grid::Cell<'_>>| c.map(|c| (c.state(), c.counts()));
                    assert_eq!(state(cf), state(&ca), "{name}: {}", f.title);
                    let labels = |c: &Option<&grid::Cell<'_>>| {
                        c.map(|c| (c.failed_labels(), c.single_protocol(), c.all_failed()))
                    };
                    assert_eq!(labels(cf), labels(&ca), "{name}: {}", f.title);
                }
            }
            assert_eq!(f.failing().len(), a.failing().len(), "{name}: {}", f.title);
        }
        let xml = junit(&agg);
        let doc = roxmltree::Document::parse(&xml).expect("JUnit is XML");
        let failures = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count();
        let full_xml = junit(&full);
        let full_doc = roxmltree::Document::parse(&full_xml).expect("JUnit is XML");
        let full_failures = full_doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count();
        assert_eq!(
            failures, full_failures,
            "{name}: every failure is still a case"
        );
        assert!(xml.contains(" passed)"), "{name}: a case per counted cell");
        let d = netcheck::render::diff::diff(&full, &agg);
        assert!(
            d.regressions.is_empty() && d.fixed.is_empty() && d.changed.is_empty(),
            "{name}: {d:#?}"
        );
        assert_eq!(d.old.checks, d.new.checks, "{name}");
        let d = netcheck::render::diff::diff(&agg, &agg);
        assert!(!d.regressed && d.changed.is_empty(), "{name}");
    }
}

#[test]
fn junit_case_names_are_the_same_in_every_run() {
    // Each run has a new namespace and the API server picks new nodePorts:
    // neither may reach a case name, or CI sees new tests every run.
    let r = render_support::node_isolated();
    let svc = r
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::PodToService && c.target.name.is_some())
        .expect("the fixture has Service checks")
        .clone();
    let run = |ns: &str, node_port: u16| {
        let mut c = svc.clone();
        let pod = c.target.pod.clone().unwrap_or_default();
        c.target.name = Some(format!("{ns}/{pod}"));
        let service = netcheck::render::junit::case_name(&c);
        c.kind = CheckKind::Nodeport;
        c.port = Some(node_port);
        c.target.ip = Some("198.19.255.3".parse().unwrap());
        (service, netcheck::render::junit::case_name(&c))
    };
    let (a, b) = (run("netcheck-x7k2p", 30001), run("netcheck-9qz4m", 31876));
    assert_eq!(a, b);
    assert!(
        !a.0.contains("netcheck-") && a.0.contains("→ svc/"),
        "{}",
        a.0
    );
    assert!(
        a.1.contains(" (host) for svc/") && a.1.contains(" tcp/nodePort"),
        "{}",
        a.1
    );
}

/// `--output-file r.json` streams the JSON to the file: the same document
/// `-o json` renders, byte for byte, and one that reads back as the report.
#[test]
fn the_streamed_json_file_is_the_rendered_document() {
    let r = render_support::healthy();
    let dir = std::env::temp_dir().join(format!(
        "netcheck-emit-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.json");
    let opts = RenderOptions::default();
    netcheck::render::emit(&r, OutputFormat::Table, Some(&path), &opts).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(written, netcheck::render::json(&r));
    let back: netcheck::model::Report = serde_json::from_str(&written).unwrap();
    assert_eq!(back.checks.len(), r.checks.len());
}
