//! `[scan]`: where the evidence of security scanning comes from.
//!
//! ```toml
//! [scan]
//! jobs = ["trivy-scan", "semgrep"]   # CircleCI jobs whose SARIF artifacts are evidence
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::Problems;

/// `[scan]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScan {
    #[serde(default)]
    jobs: Vec<Spanned<String>>,
}

/// The validated scan settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanConfig {
    /// CircleCI job names whose `.sarif` artifacts are collected.
    pub jobs: Vec<String>,
}

impl RawScan {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> ScanConfig {
        let mut jobs = Vec::new();
        for j in self.jobs {
            if j.get_ref().trim().is_empty() {
                p.at(j.span(), "a scan job name cannot be empty");
            } else {
                jobs.push(j.into_inner());
            }
        }
        ScanConfig { jobs }
    }
}
