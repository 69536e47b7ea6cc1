//! Rendering a report: table, JSON, JUnit, markdown.

use crate::cli::OutputFormat;
use crate::model::Report;

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

/// Render a report in the given format.
pub fn render(report: &Report, format: OutputFormat, opts: &RenderOptions) -> String {
    let _ = opts;
    match format {
        OutputFormat::Json => json(report),
        _ => summary_lines(report),
    }
}

/// The `-o json` document: the report as it is, pretty-printed.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; say so loudly if it ever does.
        format!("{{\"error\": \"could not serialize the report: {e}\"}}")
    });
    s.push('\n');
    s
}

fn summary_lines(r: &Report) -> String {
    let mut out = String::new();
    for f in &r.findings {
        out.push_str(&format!("{} {}: {}\n", f.severity.as_str(), f.id, f.title));
        for e in &f.evidence {
            out.push_str(&format!("    {e}\n"));
        }
    }
    let s = &r.summary;
    out.push_str(&format!(
        "{} passed, {} failed, {} skipped\n",
        s.passed, s.failed, s.skipped
    ));
    out
}
