//! Exit codes (DESIGN.md) and how errors reach the user: one sentence saying
//! what went wrong and what to do, on stderr.

use super::GlobalArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// All checks passed (warnings allowed unless --fail-on warning).
    Ok = 0,
    /// A check failed or there is an error finding.
    Failed = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Could not run: cluster unreachable, permission denied, probes never ready, not root.
    CouldNotRun = 3,
    /// Stopped by Ctrl-C/SIGTERM (after cleaning up), like a shell's 128+SIGINT.
    Interrupted = 130,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

/// An error for the user: the exit code and a message that names the fix.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub code: ExitCode,
    pub message: String,
    #[source]
    pub source: Option<anyhow::Error>,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: ExitCode::Usage,
            message: message.into(),
            source: None,
        }
    }
    pub fn could_not_run(message: impl Into<String>) -> Self {
        CliError {
            code: ExitCode::CouldNotRun,
            message: message.into(),
            source: None,
        }
    }
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }
    pub fn code(&self) -> ExitCode {
        self.code
    }
}

impl From<crate::runtime::RuntimeError> for CliError {
    fn from(e: crate::runtime::RuntimeError) -> Self {
        CliError::could_not_run(e.to_string())
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<CliError>() {
            Ok(c) => c,
            Err(e) => match e.downcast::<crate::runtime::RuntimeError>() {
                Ok(r) => r.into(),
                Err(e) => CliError {
                    code: ExitCode::CouldNotRun,
                    message: format!("{e:#}"),
                    source: None,
                },
            },
        }
    }
}

pub fn print_error(err: &CliError) {
    eprintln!("error: {}", err.message);
    if let Some(src) = &err.source {
        tracing::debug!("caused by: {src:#}");
    }
}

/// Logs go to stderr; -v for debug, -vv for trace; RUST_LOG overrides.
pub fn init_logging(g: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let level = match (g.quiet, g.verbose) {
        // kube-client logs every failed request at ERROR; the CLI says it once, better.
        (true, _) => "error,kube_client=off",
        (false, 0) => "warn,kube_client=off",
        (false, 1) => "netcheck=debug,kubectl_netcheck=debug,info",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
