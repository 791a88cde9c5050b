//! `[scan]`: where the evidence of security scanning comes from, and what
//! blocks a deploy.
//!
//! ```toml
//! [scan]
//! jobs = ["trivy-scan", "semgrep"]   # CircleCI jobs whose SARIF artifacts are evidence
//! required = ["Trivy", "Semgrep"]    # scanners that must have scanned the commit
//! code_scanning = true               # GitHub code-scanning analyses of the commit count as evidence
//! blocking_severity = 7.0            # results with security-severity at or above this block
//! blocking_level = "error"           # without a security-severity: this level and above block
//! ```
//!
//! An entry of `required` names a scanner as its runs call themselves
//! (SARIF `tool.driver.name`, or the code-scanning tool name), ignoring
//! case: it matches a name it equals, or that it begins followed by a
//! character that is not a letter, digit or `_` (`"Semgrep"` matches
//! "Semgrep OSS", `"CodeQL"` matches "CodeQL command-line toolchain",
//! `"Trivy"` does not match "Trivyx", `"Snyk"` does not match "SnykCode").
//! An entry written between slashes, `'/^Snyk ?Code$/'`, is a regular
//! expression (the `regex` crate's syntax) found anywhere in the name,
//! ignoring case. Each entry needs a run of its own bound to the commit:
//! one run never satisfies two entries (README, `[scan]`).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use toml::Spanned;

use super::pattern::{Match, Pattern};
use super::problems::Problems;

/// SARIF result levels, lowest first.
pub(crate) const LEVELS: &[&str] = &["none", "note", "warning", "error"];

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
    /// Scanners that must have scanned the deployed commit, each with a
    /// run of its own. Empty: at least one scanner, whichever.
    pub required: Vec<RequiredScanner>,
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

fn required(list: Vec<Spanned<String>>, p: &mut Problems<'_>) -> Vec<RequiredScanner> {
    let mut out: Vec<RequiredScanner> = Vec::new();
    for entry in list {
        match entry.get_ref().parse::<RequiredScanner>() {
            Err(why) => p.at(entry.span(), format!("scan.required: {why}")),
            Ok(r) if out.iter().any(|o| o.key() == r.key()) => {
                p.at(entry.span(), format!("scan.required: {:?} is listed twice", entry.get_ref()));
            }
            Ok(r) => out.push(r),
        }
    }
    out
}

/// One entry of `[scan] required`: a scanner name, or a `/regex/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredScanner {
    written: String,
    rule: NameRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NameRule {
    /// The name, trimmed, in lower case.
    Name(String),
    /// The expression between the slashes.
    Pattern(Pattern),
}

impl RequiredScanner {
    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// Is it a `/regex/` entry?
    pub fn is_pattern(&self) -> bool {
        matches!(self.rule, NameRule::Pattern(_))
    }

    /// Does a run of the scanner called `tool` satisfy this entry? See the
    /// module documentation for the rule.
    pub fn matches(&self, tool: &str) -> bool {
        match &self.rule {
            NameRule::Pattern(p) => p.is_match(tool.trim()),
            NameRule::Name(name) => {
                let tool = tool.trim().to_lowercase();
                match tool.strip_prefix(name.as_str()) {
                    Some(rest) => rest.chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_')),
                    None => false,
                }
            }
        }
    }

    /// Does it equal `tool`, ignoring case (a closer match than a prefix)?
    pub fn is_exactly(&self, tool: &str) -> bool {
        matches!(&self.rule, NameRule::Name(n) if *n == tool.trim().to_lowercase())
    }

    /// Entries with the same key are the same entry written twice.
    fn key(&self) -> String {
        match &self.rule {
            NameRule::Name(n) => n.clone(),
            NameRule::Pattern(p) => format!("/{}/", p.as_str()),
        }
    }
}

impl FromStr for RequiredScanner {
    type Err = String;

    fn from_str(written: &str) -> Result<Self, String> {
        let t = written.trim();
        let rule = if t.is_empty() {
            return Err("a required scanner name cannot be empty".into());
        } else if let Some(inner) = t.strip_prefix('/') {
            let Some(inner) = inner.strip_suffix('/') else {
                return Err(format!("{written:?}: a pattern is written between slashes, such as \"/^Snyk ?Code$/\""));
            };
            if inner.is_empty() {
                return Err("an empty pattern would match every scanner: name the scanner".into());
            }
            let p = Pattern::new(inner, Match::SearchIgnoringCase)
                .map_err(|why| format!("{written:?} is not a valid regular expression: {why}"))?;
            NameRule::Pattern(p)
        } else {
            NameRule::Name(t.to_lowercase())
        };
        Ok(RequiredScanner { written: t.to_owned(), rule })
    }
}

impl fmt::Display for RequiredScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
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
            required: required(self.required, p),
            code_scanning: self.code_scanning.unwrap_or(d.code_scanning),
            blocking_severity,
            blocking_level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Date;
    use crate::config::Config;

    fn entry(s: &str) -> RequiredScanner {
        s.parse().unwrap()
    }

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "t.toml", Date::new(2026, 11, 27).unwrap()).map_err(|e| e.to_string())
    }

    /// Tool names as real scanners write them in SARIF `tool.driver.name`.
    const TRIVY: &str = "Trivy";
    const GRYPE: &str = "grype";
    const SEMGREP: &str = "Semgrep OSS";
    const CODEQL: &str = "CodeQL command-line toolchain";
    const LGTM: &str = "LGTM.com";
    const SNYK_OSS: &str = "Snyk Open Source";
    const SNYK_CODE: &str = "SnykCode";
    const CHECKOV: &str = "Checkov";

    #[test]
    fn a_name_matches_itself_or_as_a_whole_word_prefix_ignoring_case() {
        let yes: &[(&str, &str)] = &[
            ("Trivy", TRIVY),
            ("trivy", TRIVY),
            ("TRIVY", TRIVY),
            ("grype", GRYPE),
            ("Grype", GRYPE),
            ("Semgrep", SEMGREP),
            ("semgrep oss", SEMGREP),
            ("CodeQL", CODEQL),
            ("codeql command-line", CODEQL),
            ("codeql command", CODEQL),
            ("LGTM", LGTM),
            ("lgtm.com", LGTM),
            ("Snyk", SNYK_OSS),
            ("snyk open source", SNYK_OSS),
            ("SnykCode", SNYK_CODE),
            ("checkov", CHECKOV),
            (" Trivy ", " Trivy"),
        ];
        for (e, tool) in yes {
            assert!(entry(e).matches(tool), "{e:?} should match {tool:?}");
        }
        let no: &[(&str, &str)] = &[
            ("trivy", "trivyx"),
            ("trivy", "Trivy2"),
            ("trivy", GRYPE),
            ("Semgrep OSS Pro", SEMGREP),
            ("OSS", SEMGREP),
            ("Sem", SEMGREP),
            ("Code", CODEQL),
            ("codeql command-line toolchains", CODEQL),
            ("LGTM.co", LGTM),
            ("Snyk", SNYK_CODE),
            ("Snyk Code", SNYK_CODE),
            ("Snyk Open", SNYK_CODE),
            ("Checkov", "Checkovx"),
            ("grype", TRIVY),
            ("snyk_", "snyk_code"),
        ];
        for (e, tool) in no {
            assert!(!entry(e).matches(tool), "{e:?} should not match {tool:?}");
        }
        assert!(entry("Trivy").is_exactly("trivy") && !entry("Semgrep").is_exactly(SEMGREP));
    }

    #[test]
    fn a_slashed_entry_is_a_regular_expression_ignoring_case() {
        let snyk = entry("/^Snyk/");
        assert!(snyk.is_pattern() && snyk.as_str() == "/^Snyk/");
        assert!(snyk.matches(SNYK_OSS) && snyk.matches(SNYK_CODE) && snyk.matches("snyk"));
        assert!(!snyk.matches(SEMGREP) && !snyk.matches("Not Snyk"));
        let code = entry("/^snyk ?code$/");
        assert!(code.matches(SNYK_CODE) && code.matches("Snyk Code") && !code.matches(SNYK_OSS));
        // Found anywhere in the name, unless anchored.
        let sca = entry("/grype|trivy/");
        assert!(sca.matches(GRYPE) && sca.matches(TRIVY) && sca.matches("trivyx") && !sca.matches(CHECKOV));
        assert!(entry(r"/\bcodeql\b/").matches(CODEQL) && entry(r"/^LGTM\.com$/").matches(LGTM));
        assert!(!entry(r"/^LGTM\.com$/").matches("LGTMxcom"));
        assert!(entry("/checkov/").matches(CHECKOV));
    }

    #[test]
    fn entries_are_validated_where_they_are_written() {
        let c = parse("[scan]\nrequired = [\"Trivy\", '/^Snyk ?Code$/']\n").unwrap();
        assert_eq!(c.scan.required, [entry("Trivy"), entry("/^Snyk ?Code$/")]);
        let e = parse("[scan]\nrequired = [\n  \"Trivy\",\n  '/(unclosed/',\n]\n").unwrap_err();
        assert!(e.contains("t.toml:4:3: scan.required: \"/(unclosed/\" is not a valid regular expression"), "{e}");
        assert!(e.contains("unclosed group"), "{e}");
        let e = parse("[scan]\nrequired = ['/^Snyk']\n").unwrap_err();
        assert!(e.contains("t.toml:2:13:") && e.contains("between slashes"), "{e}");
        let e = parse("[scan]\nrequired = ['//']\n").unwrap_err();
        assert!(e.contains("empty pattern"), "{e}");
        let e = parse("[scan]\nrequired = [' ']\n").unwrap_err();
        assert!(e.contains("cannot be empty"), "{e}");
        let e = parse("[scan]\nrequired = ['Trivy', 'trivy ']\n").unwrap_err();
        assert!(e.contains("t.toml:2:22:") && e.contains("listed twice"), "{e}");
        // Every problem is reported, each at its place.
        let e = parse("[scan]\nrequired = ['/(/', '/[/']\n").unwrap_err();
        assert_eq!(e.matches("not a valid regular expression").count(), 2, "{e}");
    }

    #[test]
    fn the_validated_config_compares_by_what_was_written() {
        let a = parse("[scan]\nrequired = ['Trivy', '/snyk/']\n").unwrap().scan;
        assert_eq!(a, a.clone());
        assert_ne!(a, parse("[scan]\nrequired = ['Trivy', '/Snyk/']\n").unwrap().scan);
    }
}
