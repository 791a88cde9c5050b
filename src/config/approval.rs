//! `[approval]`: whether the bot may approve a ticket on its own.
//!
//! ```toml
//! [approval]
//! auto_approve = false   # true: `analyze --approve` approves when every check passes
//! remind_after = "4h"    # a request waiting this long is reminded, again every 4h ("off": never)
//! expire_after = "7d"    # a request waiting this long ends Cancelled/Expired ("off": never)
//! policy_paths = ["deploy/changegate.toml"]  # more configuration files whose change needs a person
//! ```
//!
//! A change in the range to `changegate.toml`, `.circleci/changegate.toml`,
//! a `policy_paths` file or the configuration file a deploy's request used
//! is `policy_config_changed`; a change to anything else under `.circleci/`
//! (the pipeline, the orb version pinned there) is `pipeline_config_changed`.
//!
//! How many people must approve, and who maps to which GitHub account, is
//! `[jira] required_approvers` and `[jira.approvers]`.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;
use crate::base::time::parse_duration;

/// `[approval]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApproval {
    #[serde(default)]
    auto_approve: Option<bool>,
    remind_after: Option<Spanned<String>>,
    expire_after: Option<Spanned<String>>,
    #[serde(default)]
    policy_paths: Vec<Spanned<String>>,
}

/// The validated approval settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApprovalConfig {
    /// The bot approves tickets whose every check passes (off by default:
    /// it then only recommends).
    pub(crate) auto_approve: bool,
    /// Remind the approvers of a request waiting this long, and again after
    /// each further period (`None`: never).
    pub(crate) remind_after: Option<Duration>,
    /// A request waiting this long ends Cancelled with resolution Expired,
    /// its workflows cancelled (`None`: never).
    pub(crate) expire_after: Option<Duration>,
    /// Repository paths of further configuration files whose change in
    /// the range needs a person (besides the two default locations).
    pub(crate) policy_paths: Vec<String>,
}

const REMIND: Duration = Duration::from_secs(4 * 3600);
const EXPIRE: Duration = Duration::from_secs(7 * 86_400);

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig {
            auto_approve: false,
            remind_after: Some(REMIND),
            expire_after: Some(EXPIRE),
            policy_paths: Vec::new(),
        }
    }
}

/// `"off"`, or a duration.
fn period(v: Option<Spanned<String>>, default: Duration, p: &mut Problems<'_>) -> Option<Duration> {
    let Some(v) = v else { return Some(default) };
    if v.get_ref().trim() == "off" {
        return None;
    }
    match parse_duration(v.get_ref()) {
        Some(d) => Some(d),
        None => {
            p.at(v.span(), format!("not a duration: {:?} (write 4h, 90m, 7d or \"off\")", v.get_ref()));
            Some(default)
        }
    }
}

/// A repository-relative path, `./` and duplicate slashes removed; `None`
/// for an absolute path, `..`, or nothing.
pub(crate) fn repo_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.trim().split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    (!path.trim().starts_with('/') && !parts.is_empty() && !parts.contains(&"..")).then(|| parts.join("/"))
}

impl RawApproval {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> ApprovalConfig {
        let remind_after = period(self.remind_after, REMIND, p);
        let expire_after = period(self.expire_after, EXPIRE, p);
        let mut policy_paths = Vec::new();
        for path in self.policy_paths {
            match repo_path(path.get_ref()) {
                Some(clean) => policy_paths.push(clean),
                None => p.at(
                    path.span(),
                    format!("{:?} is not a path inside the repository (relative, no `..`)", path.get_ref()),
                ),
            }
        }
        ApprovalConfig { auto_approve: self.auto_approve.unwrap_or(false), remind_after, expire_after, policy_paths }
    }
}
