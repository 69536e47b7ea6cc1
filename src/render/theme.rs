//! Symbols and colours, decided by [`RenderOptions`]: Unicode or ASCII, ANSI
//! colour or none. Colour codes come from `colored`'s palette but are applied
//! here, not through `colored`'s global switch: rendering is a pure function of
//! the report and the options (the CLI renders twice, table to the terminal and
//! another format to a file, and snapshot tests pin both).

use super::RenderOptions;
use super::grid::{Cell, CellState, View, truncate};
use crate::model::Severity;
use colored::Color;

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
    pub unicode: bool,
}

impl Theme {
    pub fn new(opts: &RenderOptions) -> Self {
        Theme {
            color: opts.color,
            unicode: opts.unicode,
        }
    }

    /// Plain text (markdown, files): Unicode, no colour.
    pub fn plain() -> Self {
        Theme {
            color: false,
            unicode: true,
        }
    }

    pub fn symbol(&self, s: CellState) -> &'static str {
        match (self.unicode, s) {
            (true, CellState::Pass) => "✓",
            (true, CellState::Fail) => "✗",
            (true, CellState::ExpectedBlock) => "⊘",
            (true, CellState::UnexpectedAllow) => "!",
            (true, CellState::Skipped) => "-",
            (true, CellState::Error) => "?",
            (false, CellState::Pass) => "OK",
            (false, CellState::Fail) => "FAIL",
            (false, CellState::ExpectedBlock) => "BLOCK",
            (false, CellState::UnexpectedAllow) => "ALLOW!",
            (false, CellState::Skipped) => "-",
            (false, CellState::Error) => "ERR",
        }
    }

    pub fn state_color(s: CellState) -> Option<Color> {
        match s {
            CellState::Pass => Some(Color::Green),
            CellState::Fail => Some(Color::Red),
            CellState::Error => Some(Color::Yellow),
            CellState::UnexpectedAllow => Some(Color::Magenta),
            CellState::ExpectedBlock => Some(Color::Cyan),
            CellState::Skipped => None,
        }
    }

    pub fn arrow(&self) -> &'static str {
        if self.unicode { "→" } else { "->" }
    }
    pub fn bullet(&self) -> &'static str {
        if self.unicode { "•" } else { "-" }
    }
    pub fn hairpin(&self) -> &'static str {
        if self.unicode { "↺" } else { "(hp)" }
    }
    /// A cell with a check that passed only on its second try.
    pub fn flaky(&self) -> &'static str {
        "~"
    }
    pub fn dot(&self) -> &'static str {
        if self.unicode { "·" } else { "|" }
    }
    pub fn ellipsis(&self) -> &'static str {
        if self.unicode { "…" } else { "..." }
    }

    /// Replace the Unicode characters this module and the planner use when
    /// the terminal cannot show them.
    pub fn text(&self, s: &str) -> String {
        if self.unicode {
            s.to_string()
        } else {
            s.replace('→', "->")
                .replace('…', "...")
                .replace('·', "|")
                .replace('≥', ">=")
                .replace('≤', "<=")
                .replace('×', "x")
                .replace(['—', '–'], "-")
                .replace('↺', "(hp)")
                .replace('↔', "<->")
                // Anything else a finding or a name carries: still ASCII.
                .chars()
                .map(|c| if c.is_ascii() { c } else { '?' })
                .collect()
        }
    }

    pub fn paint(&self, s: &str, color: Option<Color>, bold: bool) -> String {
        if !self.color || (color.is_none() && !bold) {
            return s.to_string();
        }
        let mut codes: Vec<String> = Vec::new();
        if bold {
            codes.push("1".into());
        }
        if let Some(c) = color {
            codes.push(c.to_fg_str().into_owned());
        }
        format!("\x1b[{}m{}\x1b[0m", codes.join(";"), s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(s, None, true)
    }
    pub fn dim(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn severity_word(&self, s: Severity) -> String {
        let (sym, word, color) = match s {
            Severity::Error => ("✗ ", "ERROR", Color::Red),
            Severity::Warning => ("▲ ", "WARNING", Color::Yellow),
            Severity::Info => ("ℹ ", "INFO", Color::Blue),
        };
        let sym = if self.unicode { sym } else { "" };
        // One width for every severity, so the IDs after it line up.
        self.paint(&format!("{sym}{word:<7}"), Some(color), true)
    }

    /// The text of a cell, without colour.
    pub fn cell_text(&self, view: View, cell: &Cell<'_>) -> String {
        let state = cell.state();
        let sym = self.symbol(state);
        let mut s = match state {
            CellState::Pass => {
                let mut s = sym.to_string();
                if view == View::Mtu {
                    if let (Some(found), _) = cell.path_mtu() {
                        s.push_str(&format!(" {found}"));
                    }
                } else if let Some(l) = cell.median_latency() {
                    s.push(' ');
                    s.push_str(&latency(l));
                }
                let blocked = cell.blocked_labels();
                if !blocked.is_empty() {
                    s.push_str(&format!(
                        " {}{}",
                        self.symbol(CellState::ExpectedBlock),
                        blocked.join(",")
                    ));
                }
                s
            }
            CellState::Fail | CellState::Error => {
                // Dual stack: "✗ v6 all" when only IPv6 fails in the cell.
                let (family, cell) = match cell.failing_family() {
                    Some(f) => (format!("{} ", f.short()), &cell.only(f)),
                    None => (String::new(), cell),
                };
                let what = if view == View::Mtu {
                    match cell.path_mtu() {
                        (Some(f), Some(c)) => format!("{f}/{c}"),
                        _ => cell.reason().unwrap_or_default(),
                    }
                } else if cell.single_protocol() || view == View::Dns {
                    cell.reason()
                        .unwrap_or_else(|| cell.failed_labels().join(","))
                } else if cell.all_failed() && cell.failed_labels().len() > 1 {
                    "all".to_string()
                } else {
                    cell.failed_labels().join(",")
                };
                format!("{sym} {family}{}", truncate(&what, 18))
            }
            CellState::UnexpectedAllow => {
                let blocked = if cell.blocked_labels().is_empty() {
                    ""
                } else {
                    self.symbol(CellState::ExpectedBlock)
                };
                format!("{sym} {} {blocked}", cell.allowed_labels().join(","))
            }
            CellState::ExpectedBlock | CellState::Skipped => sym.to_string(),
        };
        if cell.has_hairpin() && view == View::Services {
            s.push(' ');
            s.push_str(self.hairpin());
        }
        if cell.has_recovered() && state != CellState::Skipped {
            s.push(' ');
            s.push_str(self.flaky());
        }
        self.text(s.trim_end())
    }

    /// The cell text, coloured by its state.
    pub fn cell(&self, view: View, cell: &Cell<'_>) -> String {
        let state = cell.state();
        self.paint(
            &self.cell_text(view, cell),
            Self::state_color(state),
            state.is_failure(),
        )
    }

    /// The legend under the matrices (`flaky`: the report has checks that
    /// passed only on their second try, and their marker is explained).
    pub fn legend(&self, flaky: bool) -> String {
        let mut items = self.legend_items();
        if flaky {
            items.push(self.flaky_legend());
        }
        items.join("   ")
    }

    /// The legend entry of the flaky marker.
    pub fn flaky_legend(&self) -> String {
        format!(
            "{} flaky: failed once, passed on the second try",
            self.flaky()
        )
    }

    /// The legend entry of the family marker (dual-stack reports).
    pub fn family_legend(&self) -> String {
        format!(
            "{} v6 only IPv6 fails (v4: only IPv4)",
            self.paint(
                self.symbol(CellState::Fail),
                Self::state_color(CellState::Fail),
                false
            )
        )
    }

    /// The legend's entries, for a caller that folds them to a width.
    pub fn legend_items(&self) -> Vec<String> {
        let item = |s: CellState, what: &str| {
            format!(
                "{} {}",
                self.paint(self.symbol(s), Self::state_color(s), false),
                what
            )
        };
        [
            item(CellState::Pass, "pass (median latency)"),
            item(CellState::Fail, "fail (what failed)"),
            item(CellState::ExpectedBlock, "blocked by policy, as intended"),
            item(CellState::UnexpectedAllow, "allowed although policy denies"),
            item(CellState::Skipped, "skipped"),
            item(CellState::Error, "could not run"),
            format!("{} hairpin", self.hairpin()),
        ]
        .into()
    }
}

/// Latency for a cell: 0.42ms, 3.1ms, 12ms, 1.2s.
pub fn latency(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2}ms")
    } else if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// A duration in milliseconds for people: 850ms, 3.2s, 2m05s.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}
