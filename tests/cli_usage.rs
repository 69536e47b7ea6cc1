//! The command line as a user meets it: help, version, usage errors (exit 2).

use std::process::{Command, Output};

fn netcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_teaches_the_tool_and_hides_the_agent() {
    let o = netcheck(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "Examples:",
        "kubectl netcheck lab",
        "explain",
        "Exit codes:",
        "--fail-on",
        "--pairs",
    ] {
        assert!(out.contains(needle), "--help lacks {needle:?}:\n{out}");
    }
    assert!(
        !out.contains("  agent "),
        "the agent subcommand must stay hidden:\n{out}"
    );
}

#[test]
fn version_prints_the_crate_version() {
    let o = netcheck(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_flags_exit_2_with_a_clear_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["-o", "yaml"], "yaml"),
        (&["--timeout", "soon"], "not a duration"),
        (&["--timeout", "0s"], "longer than zero"),
        (&["lab", "--nodes", "0"], "0"),
        (&["lab", "--pods-per-node", "99"], "99"),
        (&["frobnicate", "now"], "frobnicate"),
        (&["completion", "tcsh"], "tcsh"),
        // No external egress check exists yet: asking for one is refused,
        // not a run that silently probes nothing.
        (&["--checks", "external"], "'external' is not available yet"),
        (
            &["lab", "--checks", "dns,external"],
            "'external' is not available yet",
        ),
    ];
    for (args, needle) in cases {
        let o = netcheck(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

/// kubectl users and CI scripts put the flags first: each subcommand takes
/// the common flags before its name, and each flag still does its job there.
#[test]
fn common_flags_work_before_each_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let saved = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reports");
    let report = std::fs::read_dir(&saved)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a saved report in tests/data/reports");
    let report = report.to_str().unwrap();
    let tar = dir.path().join("nc.tar");
    let no_config = "/nonexistent/kubeconfig";
    // (args, exit code, a needle in stdout or stderr that shows the flag acted)
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["--kubeconfig", no_config, "--timeout", "5s", "cleanup"],
            3,
            no_config,
        ),
        (
            &[
                "--kubeconfig",
                no_config,
                "--context",
                "C",
                "explain",
                "a/b",
                "c/d",
            ],
            3,
            no_config,
        ),
        (
            &["--kubeconfig", no_config, "-q", "run", "--timeout", "5s"],
            3,
            no_config,
        ),
        (&["-q", "lab", "--list-faults"], 0, "node-isolated"),
        (
            &["-o", "json", "report", report],
            -1,
            "\"apiVersion\": \"netcheck/v1\"",
        ),
        (
            &["-o", "markdown", "--no-color", "diff", report, report],
            0,
            "## netcheck diff",
        ),
        (&["-v", "completion", "bash"], 0, "kubectl-netcheck"),
        (
            &["-q", "image", "--output-file", tar.to_str().unwrap()],
            0,
            "",
        ),
    ];
    for (args, code, needle) in cases {
        let o = netcheck(args);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_ne!(o.status.code(), Some(2), "{args:?} refused: {err}");
        assert!(!err.contains("cannot be used with"), "{args:?}: {err}");
        if *code >= 0 {
            assert_eq!(o.status.code(), Some(*code), "{args:?}: {err}");
        }
        assert!(
            out.contains(needle) || err.contains(needle),
            "{args:?}: {needle:?} in neither\n{out}\n{err}"
        );
    }
    // -q before `image`: nothing on stderr.
    assert!(tar.exists());
    let o = netcheck(&["-q", "image", "--output-file", tar.to_str().unwrap()]);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn run_flags_before_a_subcommand_without_them_are_a_usage_error() {
    let o = netcheck(&["--keep", "cleanup"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--keep before `cleanup` is not a flag of `cleanup`"),
        "{}",
        stderr(&o)
    );
}

/// `-o FORMAT --output-file FILE`: FORMAT goes to FILE, the table to stdout.
/// A FILE named for another format is refused before anything runs.
#[test]
fn an_output_file_named_for_another_format_is_refused_at_once() {
    let o = netcheck(&[
        "--kubeconfig",
        "/nonexistent/kubeconfig",
        "-o",
        "json",
        "--output-file",
        "netcheck.xml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("-o json writes JSON to --output-file, but netcheck.xml is named for JUnit: name it netcheck.json"),
        "{}",
        stderr(&o)
    );
    assert!(!std::path::Path::new("netcheck.xml").exists());
    let o = netcheck(&["lab", "-o", "junit", "--output-file", "r.md"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("named for markdown"), "{}", stderr(&o));
}
