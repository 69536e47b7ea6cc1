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
