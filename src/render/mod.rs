//! Rendering a report: table, JSON, JUnit, markdown.

use crate::model::Report;

/// The `-o json` document: the report as it is, pretty-printed.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; say so loudly if it ever does.
        format!("{{\"error\": \"could not serialize the report: {e}\"}}")
    });
    s.push('\n');
    s
}
