//! Reading a saved `-o json` report back (`report` and `diff`), with errors
//! that name the file, say what is wrong with it and how to get a good one.

use crate::model::Report;
use crate::model::report::API_VERSION;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SavedReportError {
    #[error("cannot read {}: {source}; give the path of a report written by `kubectl netcheck -o json > report.json`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid JSON ({source}); was it written by `kubectl netcheck -o json`, and completely?", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} is JSON but not a netcheck/v1 report ({source}); write one with `kubectl netcheck -o json > report.json`", path.display())]
    Shape {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} has apiVersion {found:?} and kind {kind:?}; this kubectl-netcheck reads {API_VERSION} reports (kind \"Report\")", path.display())]
    Version {
        path: PathBuf,
        found: String,
        kind: String,
    },
}

impl SavedReportError {
    /// The file could not be opened or read at all (missing, permission denied).
    pub fn is_io(&self) -> bool {
        matches!(self, SavedReportError::Read { .. })
    }
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            SavedReportError::Read { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// Parse a saved report from text; `path` is only for the messages.
pub fn parse(path: &Path, text: &str) -> Result<Report, SavedReportError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| SavedReportError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    let field = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (api, kind) = (field("apiVersion"), field("kind"));
    if (!api.is_empty() && api != API_VERSION) || (!kind.is_empty() && kind != "Report") {
        return Err(SavedReportError::Version {
            path: path.to_path_buf(),
            found: api,
            kind,
        });
    }
    // Parse the text again rather than the Value: serde_json's errors then
    // carry the line and column of the problem.
    serde_json::from_str(text).map_err(|source| SavedReportError::Shape {
        path: path.to_path_buf(),
        source,
    })
}

/// Read and parse a saved report.
pub fn load(path: &Path) -> Result<Report, SavedReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}
