//! What a drift ticket records (`changegate.drift`), and the labels that
//! find a stream's tickets.

use serde::{Deserialize, Serialize};

use crate::base::digest::Sha256Digest;

/// The label every drift ticket carries.
pub const LABEL: &str = "changegate-drift";

/// The entity property holding a drift ticket's record.
pub const PROPERTY: &str = "changegate.drift";

/// What a drift ticket records (`changegate.drift`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DriftRecord {
    /// Always 1.
    pub(crate) schema_version: u32,
    /// Environment.
    pub(crate) environment: String,
    /// Stack.
    pub(crate) stack: String,
    /// The digest of the drift last reported.
    pub(crate) drift_digest: Sha256Digest,
    /// Objects that drifted, last reported.
    pub(crate) resources: Vec<String>,
    /// When drift was first found.
    pub(crate) found_at: String,
    /// When it was last seen.
    pub(crate) seen_at: String,
}

/// The label of one stream: a digest of its environment and stack, since
/// labels take no spaces and names may have them.
pub fn stream_label(environment: &str, stack: &str) -> String {
    let d = Sha256Digest::of(format!("{}\n{}", crate::config::env_key(environment), stack.trim()).as_bytes()).hex();
    format!("{LABEL}-{}", &d[..16])
}
