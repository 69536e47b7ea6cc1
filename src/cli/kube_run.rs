//! The handlers of `run` (the default command), `cleanup` and `image`: thin
//! wrappers that build the Kubernetes runtime from the flags and run the
//! pipeline on it; [`super::outcome`] renders and picks the exit code.

use super::outcome::{ReportFlags, check_output_file, finish, interrupted_error, pipeline_or_stop};
use super::{CliError, ExitCode, GlobalArgs, RunArgs};
use crate::kube::{self, KubeOptions, KubeRuntime};
use crate::pipeline;
use crate::plan::{Aggregate, CheckSet, PairStrategy, PlanOptions};
use crate::runtime::Runtime;
use std::path::Path;
use std::time::Duration;

fn tokio_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::could_not_run(format!("could not start the async runtime: {e}")))
}

/// The pipeline options a `run` asks for; bad values are usage errors (exit 2).
pub fn pipeline_options(args: &RunArgs) -> Result<pipeline::Options, CliError> {
    let checks = CheckSet::parse(&args.checks).map_err(CliError::usage)?;
    let pairs: PairStrategy = args.pairs.parse().map_err(CliError::usage)?;
    Ok(pipeline::Options {
        plan: PlanOptions {
            aggregate: Aggregate::from_flags(args.all_checks, args.aggregate),
            ..PlanOptions::from_flags(checks, pairs, args.probe_timeout)
        },
        no_host: args.no_host,
        keep: args.keep,
    })
}

/// `--policy-from NAMESPACE[/LABELS]`: the probes run in that namespace, so
/// `-n` may only name the same one.
pub fn policy_from(
    g: &GlobalArgs,
    args: &RunArgs,
) -> Result<Option<crate::policy::labels::PolicyFrom>, CliError> {
    let Some(text) = &args.policy_from else {
        return Ok(None);
    };
    let from: crate::policy::labels::PolicyFrom = text.parse().map_err(CliError::usage)?;
    if let Some(ns) = &g.namespace
        && ns != &from.namespace
    {
        return Err(CliError::usage(format!(
            "--policy-from {text} runs the probes in namespace {} (a NetworkPolicy selects pods of its own namespace only), but -n names {ns}: leave out -n",
            from.namespace
        )));
    }
    Ok(Some(from))
}

pub fn run(g: &GlobalArgs, args: RunArgs) -> Result<ExitCode, CliError> {
    let opts = pipeline_options(&args)?;
    check_output_file(g.output, args.output_file.as_deref())?;
    let policy_from = policy_from(g, &args)?;
    let kopts = KubeOptions {
        kubeconfig: g.kubeconfig.clone(),
        context: g.context.clone(),
        namespace: policy_from
            .as_ref()
            .map(|f| f.namespace.clone())
            .or_else(|| g.namespace.clone()),
        policy_from,
        image: args
            .image
            .clone()
            .unwrap_or_else(kube::manifests::default_image),
        no_host: args.no_host,
        timeout: g.timeout,
        nodes: args.nodes.clone(),
        wait_cleanup: args.wait_cleanup,
    };
    let progress = super::progress::for_cli(g);
    let rt = tokio_runtime()?;
    let calls = std::sync::OnceLock::new();
    let outcome = rt.block_on(async {
        let krt = KubeRuntime::new(kopts).await?;
        let _ = calls.set(krt.api_calls());
        let keep_advice = krt.keep_advice();
        // The kube runtime bounds each of its waits by --timeout itself.
        match pipeline_or_stop(&krt, &opts, progress.as_ref(), None).await {
            Ok(r) => r.map(|r| (r, keep_advice)).map_err(CliError::from),
            Err(_) => Err(remove_after_signal(&krt, &keep_advice, opts.keep).await),
        }
    });
    // -v: what the run asked of the API server, also when it failed.
    if g.verbose > 0
        && !g.quiet
        && let Some(c) = calls.get()
    {
        eprintln!("netcheck: {}", c.summary());
    }
    let (report, keep_advice) = outcome?;
    let kept = opts.keep.then(|| format!("netcheck: {keep_advice}"));
    let flags = ReportFlags {
        output_file: args.output_file.as_deref(),
        wide: args.wide,
        fail_on: args.fail_on,
    };
    finish(g, &report, progress, kept, flags)
}

/// After Ctrl-C/SIGTERM: delete the probe namespace (unless `--keep`); a
/// second Ctrl-C stops at once. Always exit 130.
async fn remove_after_signal(krt: &KubeRuntime, keep_advice: &str, keep: bool) -> CliError {
    if keep {
        eprintln!("netcheck: interrupted; {keep_advice}");
        return interrupted_error();
    }
    eprintln!(
        "netcheck: interrupted: deleting {} (press Ctrl-C again to stop at once)",
        krt.removal()
    );
    tokio::select! {
        r = krt.teardown() => {
            if let Err(e) = r {
                eprintln!("netcheck: cleanup failed: {e}");
            }
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("netcheck: aborted; remove what is left with `kubectl netcheck cleanup`");
        }
    }
    interrupted_error()
}

pub fn cleanup(g: &GlobalArgs) -> Result<ExitCode, CliError> {
    let rt = tokio_runtime()?;
    let removed = rt.block_on(async {
        let conn = kube::connect(g.kubeconfig.as_deref(), g.context.as_deref(), g.timeout).await?;
        let bound = g.timeout.min(Duration::from_secs(60));
        kube::cleanup_leftovers(&conn.client, bound)
            .await
            .map_err(CliError::from)
    })?;
    if removed.is_empty() {
        println!("no leftover netcheck namespaces, pods or Services");
    } else {
        for what in &removed {
            println!("deleted {what}");
        }
    }
    Ok(ExitCode::Ok)
}

pub fn image(g: &GlobalArgs, out: &Path) -> Result<ExitCode, CliError> {
    let reference = kube::manifests::default_image();
    let w = kube::image::write_running_binary(out, &reference).map_err(|e| {
        CliError::could_not_run(format!("could not write the image archive: {e:#}"))
    })?;
    if !g.quiet {
        eprintln!(
            "wrote {} ({} {}, {} file(s){})",
            out.display(),
            w.reference,
            w.manifest_digest,
            w.files.len(),
            if w.statically_linked {
                ""
            } else {
                "; dynamically linked: its loader and libraries are in the image"
            }
        );
        eprintln!(
            "load it with `kind load image-archive {0}` or `ctr -n k8s.io images import {0}`",
            out.display()
        );
    }
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pairs_and_checks_are_usage_errors() {
        let args = RunArgs {
            pairs: "some".into(),
            ..Default::default()
        };
        assert_eq!(pipeline_options(&args).unwrap_err().code, ExitCode::Usage);
        let args = RunArgs {
            pairs: "all".into(),
            checks: vec!["pod-to-moon".into()],
            ..Default::default()
        };
        assert_eq!(pipeline_options(&args).unwrap_err().code, ExitCode::Usage);
        let args = RunArgs {
            pairs: "sample:3".into(),
            keep: true,
            ..Default::default()
        };
        let o = pipeline_options(&args).unwrap();
        assert!(o.keep);
        assert_eq!(o.plan.pairs, PairStrategy::Sample(3));
    }

    #[test]
    fn probe_timeout_reaches_the_plan_and_is_bounded() {
        let args = RunArgs {
            pairs: "auto".into(),
            probe_timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let o = pipeline_options(&args).unwrap();
        assert_eq!(o.plan.timing.probe_timeout, Duration::from_secs(5));
        assert_eq!(o.plan.timing.dns_timeout, Duration::from_secs(5));
        use crate::cli::parse_probe_timeout as p;
        assert_eq!(p("2s"), Ok(Duration::from_secs(2)));
        assert!(p("50ms").unwrap_err().contains("100ms to 60s"));
        assert!(p("2m").unwrap_err().contains("100ms to 60s"));
        assert!(p("soon").is_err());
    }
}
