//! `[approval]`: whether the bot may approve a ticket on its own.
//!
//! ```toml
//! [approval]
//! auto_approve = false   # true: `analyze --approve` approves when every check passes
//! ```
//!
//! How many people must approve, and who maps to which GitHub account, is
//! `[jira] required_approvers` and `[jira.approvers]`.

use serde::Deserialize;

/// `[approval]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApproval {
    #[serde(default)]
    auto_approve: Option<bool>,
}

/// The validated approval settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalConfig {
    /// The bot approves tickets whose every check passes (off by default:
    /// it then only recommends).
    pub auto_approve: bool,
}

impl RawApproval {
    pub(super) fn validate(self) -> ApprovalConfig {
        ApprovalConfig { auto_approve: self.auto_approve.unwrap_or(false) }
    }
}
