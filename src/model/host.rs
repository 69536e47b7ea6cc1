//! What `agent inspect-host` reports about one node. Owned by the host
//! inspection stage (src/inspect/); everything optional is "not available: why".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostReport {
    pub node: String,
    /// Inspection sections that could not be read, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}
