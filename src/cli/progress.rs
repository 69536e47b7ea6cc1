//! Progress on stderr while pods start and probes run.
//!
//! - stderr is a terminal: an indicatif spinner with the current stage and its
//!   latest step ("deploying probes · node-2 ready"), a bar while a stage
//!   counts (`Progress::tick`: "probing [=====>    ] 5/9"), and one line per
//!   finished stage with its time, so the screen keeps where the time went;
//! - not a terminal, with `-v`: plain log lines (CI logs);
//! - `-q`, or not a terminal without `-v`: nothing.
//!
//! Pick one with [`for_cli`].

use crate::runtime::{Progress, Quiet};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The messages the pipeline sends when a stage starts (src/pipeline.rs).
/// Anything else is a step inside the current stage.
const STAGES: [&str; 6] = [
    "discovering",
    "deploying probes",
    "probing",
    "inspecting hosts",
    "diagnosing",
    "cleaning up",
];

fn is_stage(msg: &str) -> bool {
    STAGES.iter().any(|s| msg.starts_with(s))
}

/// The progress the CLI should show for the global flags: bars when stderr
/// and stdout are terminals and the report is the table (DESIGN.md: no bars
/// when stdout is not a terminal or the output is not `table`); log lines
/// otherwise with `-v`; nothing with `-q`.
pub fn for_cli(g: &super::GlobalArgs) -> Box<dyn Progress> {
    choose(
        g.quiet,
        g.verbose,
        std::io::stderr().is_terminal(),
        std::io::stdout().is_terminal() && g.output == super::OutputFormat::Table,
    )
}

/// Which progress to show: `Bars`, `LogLines` or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bars,
    LogLines,
    Nothing,
}

/// The decision of [`for_cli`], with the terminal questions answered (for tests).
pub fn kind(quiet: bool, verbose: u8, stderr_tty: bool, table_on_a_tty: bool) -> Kind {
    match (quiet, stderr_tty && table_on_a_tty, verbose) {
        (true, _, _) => Kind::Nothing,
        (false, true, _) => Kind::Bars,
        (false, false, v) if v > 0 => Kind::LogLines,
        _ => Kind::Nothing,
    }
}

fn choose(quiet: bool, verbose: u8, stderr_tty: bool, table_on_a_tty: bool) -> Box<dyn Progress> {
    match kind(quiet, verbose, stderr_tty, table_on_a_tty) {
        Kind::Bars => Box::new(Bars::new(ProgressDrawTarget::stderr())),
        Kind::LogLines => Box::new(LogLines::new(Box::new(std::io::stderr()))),
        Kind::Nothing => Box::new(Quiet),
    }
}

struct BarState {
    stage: Option<(String, Instant)>,
    counting: bool,
}

/// Spinner and bars on a terminal.
pub struct Bars {
    bar: ProgressBar,
    state: Mutex<BarState>,
    unicode: bool,
}

impl Bars {
    pub fn new(target: ProgressDrawTarget) -> Self {
        let unicode = crate::render::RenderOptions::detect(true, false).unicode;
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(Self::spinner_style(unicode));
        bar.enable_steady_tick(Duration::from_millis(100));
        Bars {
            bar,
            state: Mutex::new(BarState {
                stage: None,
                counting: false,
            }),
            unicode,
        }
    }

    fn spinner_style(unicode: bool) -> ProgressStyle {
        let s = ProgressStyle::with_template(
            "{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:.dim}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        if unicode { s } else { s.tick_chars("-\\|/ ") }
    }

    fn bar_style(unicode: bool) -> ProgressStyle {
        let s = ProgressStyle::with_template(
            "{spinner:.cyan} {prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {wide_msg} {elapsed:.dim}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        if unicode {
            s.progress_chars("━╸ ")
        } else {
            s.progress_chars("=> ").tick_chars("-\\|/ ")
        }
    }

    /// Print the line of a finished stage above the spinner.
    fn finish_stage(&self, st: &mut BarState) {
        if let Some((name, since)) = st.stage.take() {
            let done = if self.unicode { "✓" } else { "ok" };
            self.bar.println(format!(
                "{done} {name} ({})",
                crate::render::theme::duration(since.elapsed().as_millis() as u64)
            ));
        }
    }
}

impl Progress for Bars {
    fn message(&self, msg: &str) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if is_stage(msg) {
            self.finish_stage(&mut st);
            st.stage = Some((msg.to_string(), Instant::now()));
            if st.counting {
                st.counting = false;
                self.bar.set_style(Self::spinner_style(self.unicode));
                self.bar.unset_length();
            }
            self.bar.set_prefix(msg.to_string());
            self.bar.set_message("");
            self.bar.reset_elapsed();
        } else {
            self.bar.set_message(msg.to_string());
        }
    }

    fn tick(&self, done: usize, total: usize) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if !st.counting {
            st.counting = true;
            self.bar.set_style(Self::bar_style(self.unicode));
        }
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Ok(mut st) = self.state.lock() {
            let shown = st.stage.is_some();
            self.finish_stage(&mut st);
            if shown {
                // A blank line between the stage lines and the report.
                self.bar.println("");
            }
        }
        self.bar.finish_and_clear();
    }
}

/// Plain lines for logs: one per message, and counts at each tenth and at the end.
pub struct LogLines {
    out: Mutex<Box<dyn Write + Send>>,
    last_tenth: Mutex<Option<usize>>,
}

impl LogLines {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        LogLines {
            out: Mutex::new(out),
            last_tenth: Mutex::new(None),
        }
    }
    fn line(&self, s: &str) {
        if let Ok(mut o) = self.out.lock() {
            // Progress must never fail the run: a closed stderr is ignored.
            let _ = writeln!(o, "netcheck: {s}");
            let _ = o.flush();
        }
    }
}

impl Progress for LogLines {
    fn message(&self, msg: &str) {
        if is_stage(msg)
            && let Ok(mut t) = self.last_tenth.lock()
        {
            *t = None;
        }
        self.line(msg);
    }
    fn tick(&self, done: usize, total: usize) {
        if total == 0 {
            return;
        }
        let tenth = done * 10 / total;
        let Ok(mut last) = self.last_tenth.lock() else {
            return;
        };
        if *last == Some(tenth) {
            return;
        }
        *last = Some(tenth);
        drop(last);
        self.line(&format!("{done}/{total} done"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_print_stages_steps_and_tenths_of_counts() {
        let buf = Buf::default();
        let p = LogLines::new(Box::new(buf.clone()));
        p.message("deploying probes");
        p.message("node-1 ready");
        p.message("probing");
        for i in 1..=20 {
            p.tick(i, 20);
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "netcheck: deploying probes");
        assert_eq!(lines[1], "netcheck: node-1 ready");
        assert_eq!(lines[2], "netcheck: probing");
        // one line per tenth, and the last one says it is done
        let counts: Vec<&&str> = lines.iter().filter(|l| l.ends_with("done")).collect();
        assert_eq!(counts.len(), 11, "{text}");
        assert_eq!(*counts.last().unwrap(), &"netcheck: 20/20 done");
    }

    #[test]
    fn bars_only_on_a_terminal_with_the_table_logs_with_v_nothing_with_q() {
        assert_eq!(kind(false, 0, true, true), Kind::Bars);
        assert_eq!(kind(false, 1, true, true), Kind::Bars);
        assert_eq!(kind(true, 2, true, true), Kind::Nothing);
        // stderr or stdout not a terminal, or -o json: no bars
        assert_eq!(kind(false, 0, false, true), Kind::Nothing);
        assert_eq!(kind(false, 0, true, false), Kind::Nothing);
        assert_eq!(kind(false, 1, false, true), Kind::LogLines);
        assert_eq!(kind(false, 1, true, false), Kind::LogLines);
        assert_eq!(kind(true, 1, false, false), Kind::Nothing);
    }

    #[test]
    fn bars_switch_between_spinner_and_bar_without_a_terminal() {
        let b = Bars::new(ProgressDrawTarget::hidden());
        b.message("deploying probes");
        b.message("node-0 ready");
        assert_eq!(b.bar.message(), "node-0 ready");
        b.message("probing");
        assert_eq!(b.bar.prefix(), "probing");
        b.tick(3, 9);
        assert_eq!(b.bar.position(), 3);
        assert_eq!(b.bar.length(), Some(9));
        b.message("diagnosing");
        assert_eq!(b.bar.length(), None);
        assert_eq!(b.bar.prefix(), "diagnosing");
    }
}
