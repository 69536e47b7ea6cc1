//! Rendering a report: table, JSON, JUnit, markdown; and the diff of two reports.
//!
//! Everything here is a pure function of the report and [`RenderOptions`]:
//! the CLI decides the options once ([`RenderOptions::detect`]) and may render
//! the same report twice (the table to the terminal, another format to
//! `--output-file`, see [`outputs`]).
//!
//! - [`grid`]: the matrix type (checks aggregated into node × target cells),
//!   read by every format.
//! - [`table`], [`markdown`], [`junit`]: the formats; [`hosts`] the host view.
//! - [`diff`]: what changed between two saved reports.

pub mod diff;
pub mod grid;
pub mod host_fold;
pub mod hosts;
pub mod junit;
pub mod markdown;
pub mod saved;
pub mod table;
pub mod theme;

use crate::cli::OutputFormat;
use crate::model::Report;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// How the terminal looks, decided once by the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colours (off with --no-color, NO_COLOR, or when stdout is not a terminal).
    pub color: bool,
    /// Unicode symbols (off for a non-UTF-8 locale).
    pub unicode: bool,
    /// Full matrix even past the terminal width.
    pub wide: bool,
    /// Terminal width in columns.
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            unicode: true,
            wide: false,
            width: 120,
        }
    }
}

/// Width when neither $COLUMNS nor the terminal says.
pub const DEFAULT_WIDTH: usize = 120;

impl RenderOptions {
    /// Decide from the environment: `--no-color` and NO_COLOR, whether stdout
    /// is a terminal, the locale (LC_ALL, LC_CTYPE, LANG: UTF-8 or not), the
    /// width ($COLUMNS, else the terminal's). Non-table formats never colour:
    /// [`render`] ignores `color` for them.
    pub fn detect(no_color_flag: bool, wide: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let width = if tty { terminal_width() } else { None };
        Self::from_env(|k| std::env::var(k).ok(), tty, width, no_color_flag, wide)
    }

    /// [`detect`](Self::detect) with the environment passed in (for tests).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        stdout_is_terminal: bool,
        terminal_width: Option<usize>,
        no_color_flag: bool,
        wide: bool,
    ) -> Self {
        // https://no-color.org: set and not empty disables colour.
        let no_color_env = env("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = env("TERM").is_some_and(|t| t == "dumb");
        let color = stdout_is_terminal && !no_color_flag && !no_color_env && !dumb;
        // POSIX precedence: the first of LC_ALL, LC_CTYPE, LANG that is set and not empty.
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|k| env(k).filter(|v| !v.is_empty()));
        let unicode = match locale {
            Some(l) => {
                let l = l.to_ascii_lowercase();
                l.contains("utf-8") || l.contains("utf8")
            }
            // No locale at all: the C locale on Unix (ASCII); Windows terminals do Unicode.
            None => cfg!(windows),
        };
        let width = env("COLUMNS")
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w > 0)
            .or(terminal_width)
            .unwrap_or(DEFAULT_WIDTH);
        RenderOptions {
            color,
            unicode,
            wide,
            width,
        }
    }
}

/// The width of the terminal on stdout (or stderr), when there is one.
#[cfg(unix)]
pub fn terminal_width() -> Option<usize> {
    for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: TIOCGWINSZ writes a winsize into the struct we own; a
        // failing call leaves it zeroed and returns -1.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        if rc == 0 && ws.ws_col > 0 {
            return Some(ws.ws_col as usize);
        }
    }
    None
}

#[cfg(not(unix))]
pub fn terminal_width() -> Option<usize> {
    None
}

/// Render a report in the given format.
pub fn render(report: &Report, format: OutputFormat, opts: &RenderOptions) -> String {
    match format {
        OutputFormat::Table => table::render(report, opts),
        OutputFormat::Json => json(report),
        OutputFormat::Junit => junit::render(report),
        OutputFormat::Markdown => markdown::render(report),
    }
}

/// The `-o json` document: the report as it is, pretty-printed, fields in
/// the order of the model (stable for scripts).
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; say so loudly if it ever does.
        format!("{{\"error\": \"could not serialize the report: {e}\"}}")
    });
    s.push('\n');
    s
}

/// The format of `--output-file`: the `-o` format when it is not the table
/// (`-o junit --output-file r.xml`: JUnit to the file, the table to the
/// terminal); else from the file's extension (.json, .xml, .md); else JSON.
pub fn format_from_path_or_flag(path: &Path, flag: OutputFormat) -> OutputFormat {
    if flag != OutputFormat::Table {
        return flag;
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("xml") | Some("junit") => OutputFormat::Junit,
        Some("md") | Some("markdown") => OutputFormat::Markdown,
        Some("txt") | Some("log") => OutputFormat::Table,
        _ => OutputFormat::Json,
    }
}

/// What the CLI prints on stdout and writes to `--output-file`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub stdout: String,
    pub file: Option<(PathBuf, String)>,
}

/// Where a run's report goes: without `--output-file`, `-o` to stdout;
/// with it, the table to stdout and the file in
/// [`format_from_path_or_flag`]'s format.
fn destinations(
    flag: OutputFormat,
    output_file: Option<&Path>,
) -> (OutputFormat, Option<(&Path, OutputFormat)>) {
    match output_file {
        None => (flag, None),
        Some(p) => (
            OutputFormat::Table,
            Some((p, format_from_path_or_flag(p, flag))),
        ),
    }
}

/// A table written to a file never has colour, and is never folded.
fn file_options(opts: &RenderOptions) -> RenderOptions {
    RenderOptions {
        color: false,
        wide: true,
        ..*opts
    }
}

/// Both renders of a run (see [`destinations`]).
pub fn outputs(
    report: &Report,
    flag: OutputFormat,
    output_file: Option<&Path>,
    opts: &RenderOptions,
) -> Outputs {
    let (to_stdout, file) = destinations(flag, output_file);
    Outputs {
        stdout: render(report, to_stdout, opts),
        file: file.map(|(p, f)| (p.to_path_buf(), render(report, f, &file_options(opts)))),
    }
}

/// Write one format of the report. JSON is streamed: at 5,000 nodes the
/// document is 225 MB, and held as a string it took the CLI's peak from
/// 296 to 506 MiB.
fn write_format(
    w: &mut impl std::io::Write,
    report: &Report,
    format: OutputFormat,
    opts: &RenderOptions,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, report).map_err(|e| match e.io_error_kind() {
                Some(kind) => std::io::Error::new(kind, e),
                None => std::io::Error::other(e),
            })?;
            w.write_all(b"\n")
        }
        other => w.write_all(render(report, other, opts).as_bytes()),
    }
}

/// Render, write `--output-file` (when given) and print: what the `run`,
/// `lab` and `report` handlers do after the pipeline.
pub fn emit(
    report: &Report,
    flag: OutputFormat,
    output_file: Option<&Path>,
    opts: &RenderOptions,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let (to_stdout, file) = destinations(flag, output_file);
    if let Some((path, format)) = file {
        let write = || -> std::io::Result<()> {
            let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
            write_format(&mut w, report, format, &file_options(opts))?;
            w.flush()
        };
        write().with_context(|| {
            format!(
                "could not write the report to {}; check the directory exists and is writable",
                path.display()
            )
        })?;
    }
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    // A closed pipe (`| head`) is not an error worth a message.
    match write_format(&mut stdout, report, to_stdout, opts).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("could not write the report to stdout"),
    }
}
