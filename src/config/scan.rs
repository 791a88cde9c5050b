//! `[scan]`: where the evidence of security scanning comes from, and what
//! blocks a deploy.
//!
//! ```toml
//! [scan]
//! jobs = ["trivy-scan", "semgrep"]   # CircleCI jobs whose SARIF artifacts are evidence
//! required = ["Trivy", "Semgrep"]    # scanners (SARIF tool names) that must have scanned the commit
//! code_scanning = true               # GitHub code-scanning analyses of the commit count as evidence
//! blocking_severity = 7.0            # results with security-severity at or above this block
//! blocking_level = "error"           # without a security-severity: this level and above block
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::Problems;

/// SARIF result levels, lowest first.
pub const LEVELS: &[&str] = &["none", "note", "warning", "error"];

/// `[scan]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScan {
    #[serde(default)]
    jobs: Vec<Spanned<String>>,
    #[serde(default)]
    required: Vec<Spanned<String>>,
    #[serde(default)]
    code_scanning: Option<bool>,
    #[serde(default)]
    blocking_severity: Option<Spanned<f64>>,
    #[serde(default)]
    blocking_level: Option<Spanned<String>>,
}

/// The validated scan settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanConfig {
    /// CircleCI job names whose `.sarif` artifacts are collected.
    pub jobs: Vec<String>,
    /// Scanners that must have scanned the deployed commit (SARIF
    /// `tool.driver.name` or code-scanning tool name, compared without
    /// case). Empty: at least one scanner, whichever.
    pub required: Vec<String>,
    /// GitHub code-scanning analyses count as evidence.
    pub code_scanning: bool,
    /// `security-severity` at or above this blocks (GitHub's "high" starts at 7.0).
    pub blocking_severity: f64,
    /// Without a `security-severity`, this effective level and above block.
    pub blocking_level: String,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            jobs: Vec::new(),
            required: Vec::new(),
            code_scanning: true,
            blocking_severity: 7.0,
            blocking_level: "error".to_owned(),
        }
    }
}

impl ScanConfig {
    /// The rank of a level in [`LEVELS`]; unknown levels rank as `warning`
    /// (SARIF's default), never as `none`.
    pub fn level_rank(level: &str) -> usize {
        LEVELS.iter().position(|l| *l == level).unwrap_or(2)
    }
}

fn names(list: Vec<Spanned<String>>, what: &str, p: &mut Problems<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for j in list {
        if j.get_ref().trim().is_empty() {
            p.at(j.span(), format!("a {what} cannot be empty"));
        } else {
            out.push(j.into_inner());
        }
    }
    out
}

impl RawScan {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> ScanConfig {
        let d = ScanConfig::default();
        let blocking_severity = match self.blocking_severity {
            None => d.blocking_severity,
            Some(s) if (0.0..=10.0).contains(s.get_ref()) => s.into_inner(),
            Some(s) => {
                p.at(s.span(), "scan.blocking_severity must be between 0.0 and 10.0");
                d.blocking_severity
            }
        };
        let blocking_level = match self.blocking_level {
            None => d.blocking_level,
            Some(l) if ["note", "warning", "error"].contains(&l.get_ref().as_str()) => l.into_inner(),
            Some(l) => {
                p.at(
                    l.span(),
                    format!("scan.blocking_level must be \"note\", \"warning\" or \"error\", not {:?}", l.get_ref()),
                );
                d.blocking_level
            }
        };
        ScanConfig {
            jobs: names(self.jobs, "scan job name", p),
            required: names(self.required, "required scanner name", p),
            code_scanning: self.code_scanning.unwrap_or(d.code_scanning),
            blocking_severity,
            blocking_level,
        }
    }
}
