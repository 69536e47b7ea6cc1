//! Flags before the subcommand, as kubectl users and CI scripts write them.
//!
//! The common flags (`GlobalArgs`: --kubeconfig, --context, -n, -o,
//! --timeout, --no-color, -q, -v) are clap globals: any position works. The
//! `run` flags are accepted without the word `run`, so before a subcommand
//! they are parsed as `run`'s; [`place`] hands them to the subcommand: to
//! `run` as they are, to `lab` when `lab` has the same flag (--checks,
//! --fail-on, --pairs, --probe-timeout, --output-file, --wide, --no-host,
//! --keep), and refuses them elsewhere with a sentence that says where they
//! go. Given both before and after the subcommand, the one after wins (as
//! for the globals).

use super::{Cli, Command, LabArgs, RunArgs};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args};

/// The `run` flags given on the command line before the subcommand, as
/// (id, `--long`).
fn given_before(m: &ArgMatches) -> Vec<(String, String)> {
    RunArgs::augment_args(clap::Command::new("run"))
        .get_arguments()
        .filter(|a| m.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|a| {
            let long = a.get_long().map(|l| format!("--{l}")).unwrap_or_default();
            (a.get_id().to_string(), long)
        })
        .collect()
}

/// Whether the subcommand has flag `id` and it was given.
fn given(m: &ArgMatches, id: &str) -> bool {
    m.try_get_raw(id).is_ok() && m.value_source(id) == Some(ValueSource::CommandLine)
}

/// Copy one `run` flag.
fn to_run(id: &str, from: &RunArgs, to: &mut RunArgs) {
    match id {
        "checks" => to.checks = from.checks.clone(),
        "nodes" => to.nodes = from.nodes.clone(),
        "image" => to.image = from.image.clone(),
        "keep" => to.keep = from.keep,
        "no_host" => to.no_host = from.no_host,
        "fail_on" => to.fail_on = from.fail_on,
        "pairs" => to.pairs = from.pairs.clone(),
        "probe_timeout" => to.probe_timeout = from.probe_timeout,
        "all_checks" => to.all_checks = from.all_checks,
        "aggregate" => to.aggregate = from.aggregate,
        "output_file" => to.output_file = from.output_file.clone(),
        "wide" => to.wide = from.wide,
        "policy_from" => to.policy_from = from.policy_from.clone(),
        _ => {}
    }
}

/// The `run` flags `lab` has too, with the same meaning.
const LAB_HAS: [&str; 10] = [
    "checks",
    "keep",
    "no_host",
    "fail_on",
    "pairs",
    "probe_timeout",
    "all_checks",
    "aggregate",
    "output_file",
    "wide",
];

/// Copy a `run` flag that `lab` has too (one of [`LAB_HAS`]).
fn to_lab(id: &str, from: &RunArgs, to: &mut LabArgs) {
    match id {
        "checks" => to.checks = from.checks.clone(),
        "keep" => to.keep = from.keep,
        "no_host" => to.no_host = from.no_host,
        "fail_on" => to.fail_on = from.fail_on,
        "pairs" => to.pairs = from.pairs.clone(),
        "probe_timeout" => to.probe_timeout = from.probe_timeout,
        "all_checks" => to.all_checks = from.all_checks,
        "aggregate" => to.aggregate = from.aggregate,
        "output_file" => to.output_file = from.output_file.clone(),
        "wide" => to.wide = from.wide,
        _ => {}
    }
}

/// Hand the `run` flags given before the subcommand to it; the error is the
/// sentence for a flag the subcommand does not have (a usage error).
pub fn place(cli: &mut Cli, m: &ArgMatches) -> Result<(), String> {
    let Some((name, sub)) = m.subcommand() else {
        return Ok(());
    };
    for (id, long) in given_before(m) {
        let fits = match &cli.command {
            Some(Command::Run(_)) => true,
            Some(Command::Lab(_)) => LAB_HAS.contains(&id.as_str()),
            _ => false,
        };
        if !fits {
            let hint = if name == "lab" && id == "nodes" {
                "lab's --nodes (how many nodes) goes after `lab`: kubectl netcheck lab --nodes 3"
                    .to_string()
            } else {
                format!("it is a flag of `run`: kubectl netcheck {long} … (without `{name}`)")
            };
            return Err(format!(
                "{long} before `{name}` is not a flag of `{name}`; {hint}"
            ));
        }
        if given(sub, &id) {
            continue; // the one after the subcommand wins
        }
        match &mut cli.command {
            Some(Command::Run(args)) => to_run(&id, &cli.run, args),
            Some(Command::Lab(args)) => to_lab(&id, &cli.run, args),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command, FailOn, OutputFormat};
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::parse_args(std::iter::once("kubectl-netcheck").chain(args.iter().copied()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_common_flags_work_before_every_subcommand() {
        let cases: &[&[&str]] = &[
            &["--kubeconfig", "K", "cleanup"],
            &["--context", "C", "explain", "a/b", "c/d"],
            &["-q", "lab"],
            &["-n", "ns", "-o", "json", "run"],
            &["--timeout", "30s", "--no-color", "-v", "report", "r.json"],
            &["-o", "markdown", "diff", "a.json", "b.json"],
            &["-q", "image", "-f", "x.tar"],
            &["--no-color", "completion", "bash"],
        ];
        for args in cases {
            let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(cli.command.is_some(), "{args:?}");
        }
        let cli = parse(&["--kubeconfig", "K", "--context", "C", "-q", "cleanup"]).unwrap();
        assert_eq!(cli.global.kubeconfig.as_deref(), Some("K".as_ref()));
        assert_eq!(cli.global.context.as_deref(), Some("C"));
        assert!(cli.global.quiet);
        // After the subcommand, as before.
        let cli = parse(&["cleanup", "--kubeconfig", "K", "-o", "json"]).unwrap();
        assert_eq!(cli.global.kubeconfig.as_deref(), Some("K".as_ref()));
        assert_eq!(cli.global.output, OutputFormat::Json);
        // Split around it, and the one after wins.
        let cli = parse(&["-o", "json", "--timeout", "9s", "lab", "-o", "markdown"]).unwrap();
        assert_eq!(cli.global.output, OutputFormat::Markdown);
        assert_eq!(cli.global.timeout, Duration::from_secs(9));
    }

    #[test]
    fn no_subcommand_is_run_with_its_flags() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        let cli = parse(&["-o", "json", "--checks", "dns", "--keep"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.checks, ["dns"]);
        assert!(cli.run.keep);
    }

    #[test]
    fn run_flags_before_run_or_lab_reach_it() {
        let cli = parse(&["--keep", "--checks", "dns", "run", "--checks", "mtu"]).unwrap();
        let Some(Command::Run(r)) = cli.command else {
            panic!("run")
        };
        assert!(r.keep);
        assert_eq!(r.checks, ["mtu"], "the one after `run` wins");
        let cli = parse(&[
            "--fail-on",
            "warning",
            "--output-file",
            "x.xml",
            "--no-host",
            "lab",
            "--nodes",
            "4",
        ])
        .unwrap();
        let Some(Command::Lab(l)) = cli.command else {
            panic!("lab")
        };
        assert_eq!(l.fail_on, FailOn::Warning);
        assert_eq!(l.output_file.as_deref(), Some("x.xml".as_ref()));
        assert!(l.no_host);
        assert_eq!(l.nodes, 4);
    }

    #[test]
    fn run_flags_before_a_subcommand_without_them_say_where_they_go() {
        let e = parse(&["--keep", "cleanup"]).unwrap_err();
        assert!(
            e.contains("--keep before `cleanup` is not a flag of `cleanup`"),
            "{e}"
        );
        let e = parse(&["--nodes", "3", "lab"]).unwrap_err();
        assert!(
            e.contains("lab's --nodes (how many nodes) goes after `lab`"),
            "{e}"
        );
        let e = parse(&["--image", "x", "lab", "--nodes", "3"]).unwrap_err();
        assert!(e.contains("--image before `lab`"), "{e}");
    }
}
