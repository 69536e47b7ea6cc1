//! How a `run` or `lab` ends, the same for both handlers: the pipeline raced
//! against Ctrl-C/SIGTERM (and a deadline), then the kept note, the report on
//! stdout and in `--output-file` (`render::emit`), and the exit code.

use super::{CliError, ExitCode, FailOn, GlobalArgs, OutputFormat};
use crate::model::Report;
use crate::pipeline::{self, Options};
use crate::render::{self, RenderOptions};
use crate::runtime::{Progress, Runtime, RuntimeError};
use clap::ValueEnum;
use std::path::Path;
use std::time::Duration;

/// Resolves on Ctrl-C or SIGTERM, saying which.
pub async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "interrupted (Ctrl-C)";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted (Ctrl-C)",
            _ = term.recv() => "terminated (SIGTERM)",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted (Ctrl-C)"
    }
}

/// Why the pipeline stopped without a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Ctrl-C or SIGTERM: the sentence of [`interrupted`].
    Signal(&'static str),
    /// The deadline passed.
    Deadline(Duration),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Signal(s) => f.write_str(s),
            Stopped::Deadline(d) => write!(
                f,
                "the run did not finish within {} (--timeout)",
                humantime::format_duration(*d)
            ),
        }
    }
}

/// Run the pipeline on `rt` until it ends, a signal comes or `deadline`
/// (when given) passes; the caller cleans up after a stop, its own way.
pub async fn pipeline_or_stop<R: Runtime>(
    rt: &R,
    opts: &Options,
    progress: &dyn Progress,
    deadline: Option<Duration>,
) -> Result<Result<Report, RuntimeError>, Stopped> {
    let run = async {
        match deadline {
            Some(d) => tokio::time::timeout(d, pipeline::run(rt, opts, progress))
                .await
                .map_err(|_| Stopped::Deadline(d)),
            None => Ok(pipeline::run(rt, opts, progress).await),
        }
    };
    tokio::select! {
        r = run => r,
        sig = interrupted() => Err(Stopped::Signal(sig)),
    }
}

/// The report flags `run` and `lab` share.
#[derive(Debug, Clone, Copy)]
pub struct ReportFlags<'a> {
    pub output_file: Option<&'a Path>,
    pub wide: bool,
    pub fail_on: FailOn,
}

/// The format a file name asks for by its extension, if it names one.
fn named_format(path: &Path) -> Option<OutputFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "xml" | "junit" => Some(OutputFormat::Junit),
        "md" | "markdown" => Some(OutputFormat::Markdown),
        "txt" | "log" => Some(OutputFormat::Table),
        "json" => Some(OutputFormat::Json),
        _ => None,
    }
}

fn format_name(f: OutputFormat) -> &'static str {
    match f {
        OutputFormat::Table => "the table",
        OutputFormat::Json => "JSON",
        OutputFormat::Junit => "JUnit",
        OutputFormat::Markdown => "markdown",
    }
}

/// `-o FORMAT --output-file FILE` writes FORMAT to FILE and the table to
/// stdout; with `-o table` the file's extension picks. A FILE whose name asks
/// for another format than `-o` (`-o json --output-file r.xml`) is refused
/// before anything runs: a CI step would publish a file its reader cannot read.
pub fn check_output_file(output: OutputFormat, file: Option<&Path>) -> Result<(), CliError> {
    let Some(file) = file else { return Ok(()) };
    let Some(named) = named_format(file) else {
        return Ok(());
    };
    if output == OutputFormat::Table || output == named {
        return Ok(());
    }
    let flag = output
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let ext = match output {
        OutputFormat::Json => "json",
        OutputFormat::Junit => "xml",
        OutputFormat::Markdown => "md",
        OutputFormat::Table => "txt",
    };
    Err(CliError::usage(format!(
        "-o {flag} writes {} to --output-file, but {} is named for {}: name it {}, or leave out -o {flag} and the name picks the format (stdout shows the table either way)",
        format_name(output),
        file.display(),
        format_name(named),
        file.with_extension(ext).display(),
    )))
}

/// 1 when a check failed or there is an error finding (or a warning, with
/// `--fail-on warning`), else 0.
pub fn verdict(report: &Report, fail_on: FailOn) -> ExitCode {
    if pipeline::failed(report, fail_on == FailOn::Warning) {
        ExitCode::Failed
    } else {
        ExitCode::Ok
    }
}

/// The end of a finished run: the progress lines end, the kept note (what
/// `--keep` left and how to remove it), the report, the exit code.
pub fn finish(
    g: &GlobalArgs,
    report: &Report,
    progress: Box<dyn Progress>,
    kept: Option<String>,
    flags: ReportFlags<'_>,
) -> Result<ExitCode, CliError> {
    // The progress lines end before anything else is printed.
    drop(progress);
    if let Some(note) = kept {
        eprintln!("{note}");
    }
    render::emit(
        report,
        g.output,
        flags.output_file,
        &RenderOptions::detect(g.no_color, flags.wide),
    )?;
    Ok(verdict(report, flags.fail_on))
}

/// Exit 130: stopped by a signal after cleaning up.
pub fn interrupted_error() -> CliError {
    CliError {
        code: ExitCode::Interrupted,
        message: "interrupted".into(),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_file_named_for_another_format_than_o_is_refused() {
        fn p(s: &str) -> Option<&Path> {
            Some(Path::new(s))
        }
        let ok = |o, f| check_output_file(o, f).is_ok();
        assert!(ok(OutputFormat::Json, None));
        assert!(ok(OutputFormat::Table, p("r.xml")));
        assert!(ok(OutputFormat::Junit, p("r.XML")));
        assert!(ok(OutputFormat::Json, p("r.json")));
        assert!(ok(OutputFormat::Json, p("report")));
        assert!(ok(OutputFormat::Markdown, p("summary.md")));
        let e = check_output_file(OutputFormat::Json, p("x.xml")).unwrap_err();
        assert_eq!(e.code, ExitCode::Usage);
        assert_eq!(
            e.message,
            "-o json writes JSON to --output-file, but x.xml is named for JUnit: name it x.json, or leave out -o json and the name picks the format (stdout shows the table either way)"
        );
        assert!(check_output_file(OutputFormat::Junit, p("r.md")).is_err());
        assert!(check_output_file(OutputFormat::Markdown, p("r.txt")).is_err());
    }

    #[test]
    fn a_deadline_says_which_flag_sets_it() {
        let s = Stopped::Deadline(Duration::from_secs(90)).to_string();
        assert_eq!(s, "the run did not finish within 1m 30s (--timeout)");
        assert_eq!(
            Stopped::Signal("terminated (SIGTERM)").to_string(),
            "terminated (SIGTERM)"
        );
    }
}
