//! The terminal table: snapshots of every view for healthy and faulty
//! reports, and the properties a person relies on (root cause on the first
//! screen, ASCII when asked, no ANSI without colour, folding past the width).

mod render_support;

use netcheck::cli::OutputFormat;
use netcheck::render::{RenderOptions, render, table::strip_ansi};
use render_support as s;

fn plain(width: usize) -> RenderOptions {
    RenderOptions {
        color: false,
        unicode: true,
        wide: false,
        width,
    }
}

fn table(r: &netcheck::model::Report, o: RenderOptions) -> String {
    render(r, OutputFormat::Table, &o)
}

#[test]
fn snapshots_of_every_scenario() {
    for (name, r) in s::all() {
        insta::assert_snapshot!(format!("table_{name}"), table(&r, plain(120)));
    }
}

#[test]
fn ascii_snapshots_and_no_unicode_at_all() {
    for (name, r) in [
        ("node_isolated", s::node_isolated()),
        ("policy", s::policy()),
    ] {
        let out = table(
            &r,
            RenderOptions {
                unicode: false,
                ..plain(120)
            },
        );
        let bad: Vec<char> = out.chars().filter(|c| !c.is_ascii()).collect();
        assert!(bad.is_empty(), "non-ASCII characters {bad:?} in\n{out}");
        insta::assert_snapshot!(format!("table_ascii_{name}"), out);
    }
}

#[test]
fn colour_only_when_asked_and_same_text_underneath() {
    let r = s::node_isolated();
    let no = table(&r, plain(120));
    assert!(!no.contains('\x1b'), "ANSI escape without colour");
    let yes = table(
        &r,
        RenderOptions {
            color: true,
            ..plain(120)
        },
    );
    assert!(yes.contains("\x1b[1;31m"), "failures are bold red");
    assert!(yes.contains("\x1b[32m"), "passes are green");
    // Colour changes nothing but the escapes: same words, same layout.
    assert_eq!(strip_ansi(&yes), no);
    insta::assert_snapshot!("table_color_node_isolated", yes);
}

#[test]
fn the_root_cause_is_on_the_first_screen_of_every_fault() {
    for (name, r) in s::all() {
        let out = table(&r, plain(120));
        let first: Vec<&str> = out.lines().take(30).collect();
        let first = first.join("\n");
        for f in &r.findings {
            assert!(
                first.contains(f.id.as_str()),
                "{name}: finding {} is not in the first 30 lines:\n{first}",
                f.id
            );
            // A long title wraps: compare the words, not the line breaks.
            let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                words(&first).contains(&words(&f.title)),
                "{name}: title of {} not shown",
                f.id
            );
        }
        // The last line names the root causes too (what stays on screen).
        let last = out.lines().last().unwrap_or_default();
        for f in &r.findings {
            assert!(last.contains(f.id.as_str()), "{name}: last line {last:?}");
        }
    }
}

#[test]
fn summary_lines_say_the_verdict() {
    let healthy = table(&s::healthy(), plain(120));
    let last = healthy.lines().last().unwrap_or_default();
    let n = s::healthy().checks.len();
    assert_eq!(last, format!("✓ all {n} checks passed in 3.2s"));

    let r = s::node_isolated();
    let out = table(&r, plain(120));
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "✗ {} passed, {} failed",
            r.summary.passed, r.summary.failed
        )),
        "{last}"
    );
    assert!(last.contains("node-isolated (node-3)"), "{last}");
}

#[test]
fn cells_show_what_failed() {
    let out = table(&s::node_isolated(), plain(120));
    // node-1 → node-3: every protocol failed
    let row = out
        .lines()
        .find(|l| l.contains("node-1") && l.contains("✗ all"))
        .unwrap_or_else(|| panic!("no failing node-1 row in\n{out}"));
    assert!(row.contains("✓"), "same-node cell passes: {row}");
    // MTU view shows the path MTU against the configured one
    let mtu = table(&s::mtu_blackhole(), plain(120));
    assert!(mtu.contains("✗ 1400/1450"), "{mtu}");
    // hairpin is marked in the Services view
    assert!(out.contains("↺"), "hairpin mark missing");
    // policy: blocked and unexpectedly allowed cells
    let p = table(&s::policy(), plain(120));
    assert!(p.contains("! udp"), "{p}");
    assert!(p.contains("⊘"), "{p}");
}

#[test]
fn wide_clusters_fold_and_wide_forces_the_matrix() {
    let r = s::wide12();
    let folded = table(&r, plain(160));
    for l in folded.lines() {
        assert!(
            l.chars().count() <= 160,
            "line wider than the terminal ({}): {l}",
            l.chars().count()
        );
    }
    assert!(folded.contains("folded"), "{folded}");
    assert!(folded.contains("failing pairs (2)"), "{folded}");
    insta::assert_snapshot!("table_wide12_folded", folded);

    let full = table(
        &r,
        RenderOptions {
            wide: true,
            ..plain(160)
        },
    );
    assert!(!full.contains("folded"));
    assert!(full.lines().any(|l| l.chars().count() > 160));
}

#[test]
fn options_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let o = RenderOptions::from_env(
        env(&[("LANG", "en_US.UTF-8")]),
        true,
        Some(200),
        false,
        false,
    );
    assert_eq!((o.color, o.unicode, o.width), (true, true, 200));
    // NO_COLOR (not empty), the flag, a pipe and TERM=dumb each turn colour off
    assert!(!RenderOptions::from_env(env(&[("NO_COLOR", "1")]), true, None, false, false).color);
    assert!(RenderOptions::from_env(env(&[("NO_COLOR", "")]), true, None, false, false).color);
    assert!(!RenderOptions::from_env(env(&[]), true, None, true, false).color);
    assert!(!RenderOptions::from_env(env(&[]), false, None, false, false).color);
    assert!(!RenderOptions::from_env(env(&[("TERM", "dumb")]), true, None, false, false).color);
    // LC_ALL wins over LANG; C means ASCII
    let o = RenderOptions::from_env(
        env(&[("LC_ALL", "C"), ("LANG", "en_US.UTF-8")]),
        true,
        None,
        false,
        false,
    );
    assert!(!o.unicode);
    let o = RenderOptions::from_env(env(&[("LC_CTYPE", "de_DE.utf8")]), true, None, false, false);
    assert!(o.unicode);
    // $COLUMNS beats the terminal; garbage falls back
    let o = RenderOptions::from_env(env(&[("COLUMNS", "90")]), true, Some(200), false, true);
    assert_eq!((o.width, o.wide), (90, true));
    let o = RenderOptions::from_env(env(&[("COLUMNS", "wide")]), false, None, false, false);
    assert_eq!(o.width, netcheck::render::DEFAULT_WIDTH);
}

/// The host view of a real lab report: per-node backend, kube-proxy, MTUs,
/// the CNI and overlay grouped by value, and the flagged value on its own
/// line naming the node; folded to narrow terminals.
#[test]
fn host_view_shows_what_inspection_flagged() {
    let r = s::lab_forward_drop();
    let out = table(&r, plain(120));
    let hosts = &out[out.find("Hosts\n").expect("a host view")..];
    for want in [
        "│ node-1 │ yes   │",
        "│ nft      │ iptables   │",
        "cni0 1450, eth0 1500,",
        "flannel.1 1450",
        "CNI       cbr0 (flannel → bridge, portmap) from 10-flannel.conflist (every node)",
        "overlay   vxlan flannel.1 (VNI 1, udp/8472, dev eth0) (every node)",
        "✗ flagged node-2: filter FORWARD policy DROP (nft)",
        "1 flagged",
    ] {
        assert!(hosts.contains(want), "{want:?} not in\n{hosts}");
    }
    let narrow = table(&r, plain(80));
    let hosts = &narrow[narrow.find("Hosts\n").expect("a host view")..];
    let table_lines = hosts.lines().skip(1).take_while(|l| !l.starts_with("  "));
    for l in table_lines {
        assert!(l.chars().count() <= 80, "wider than 80: {l}");
    }
    assert!(hosts.contains("node-2: filter FORWARD policy DROP (nft)"));
}

/// Not a check: `NETCHECK_DUMP_SCENARIOS=DIR cargo test --test render_table dump`
/// writes every scenario as a saved report, to look at them as a user would
/// (`kubectl-netcheck report DIR/node_isolated.json` in a terminal).
#[test]
fn dump_scenarios_when_asked() {
    let Some(dir) = std::env::var_os("NETCHECK_DUMP_SCENARIOS") else {
        return;
    };
    for (name, r) in s::all() {
        let p = std::path::Path::new(&dir).join(format!("{name}.json"));
        std::fs::write(&p, netcheck::render::json(&r)).expect("write the scenario");
    }
}

/// With the real diagnosis rules: whatever they conclude for each fault is on
/// the first screen and in the last line.
#[test]
fn real_diagnosis_is_on_the_first_screen_too() {
    for (name, r) in s::all() {
        let r = s::diagnosed(&r);
        let out = table(&r, plain(120));
        let first: String = out.lines().take(40).collect::<Vec<_>>().join("\n");
        let last = out.lines().last().unwrap_or_default();
        eprintln!(
            "{name}: {:?}",
            r.findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>()
        );
        if !matches!(name, "healthy" | "policy" | "wide12") {
            assert!(!r.findings.is_empty(), "{name}: the rules found nothing");
        }
        for f in r
            .findings
            .iter()
            .filter(|f| f.severity >= netcheck::model::Severity::Warning)
        {
            assert!(
                first.contains(f.id.as_str()),
                "{name}: {} not on the first screen",
                f.id
            );
            assert!(
                last.contains(f.id.as_str()),
                "{name}: {} not in {last:?}",
                f.id
            );
        }
    }
}

/// The NodePort matrix: rows the source node (its pods and its host agent),
/// columns the node dialled; node-3's column fails from everywhere, and the
/// root names node-3.
#[test]
fn nodeport_matrix_shows_the_dead_nodes_column() {
    let r = s::nodeport_down();
    let out = table(&r, plain(120));
    assert!(out.contains("NodePort"), "{out}");
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].id.as_str(), "nodeport-unreachable");
    assert_eq!(r.findings[0].nodes, ["node-3"]);
    insta::assert_snapshot!("table_nodeport_down", out);
}
