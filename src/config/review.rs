//! `[review]`: how two-person review of every commit is verified.
//!
//! ```toml
//! [review]
//! mode = "strict"                 # or "verified-squash"
//! min_approvals = 1               # distinct independent approvers per pull request
//! branches = ["main"]             # protected branches deploys may come from
//!                                 # (default: the repository's default branch)
//! require_write_access = true     # approvers must be able to push to the repository
//! empty_commits_count_as_authorship = false
//!
//! [review.version_bump]
//! files = ["Cargo.toml", "Cargo.lock", "package.json", "CHANGELOG.md"]   # `*` globs
//! bots = [41898282]               # when set, only these GitHub ids may land exempt bumps
//! require_signature = false       # a verified signature on the bump commit
//!
//! [[review.version_bump.replacements]]   # a file a release tool rewrites by line
//! file = "src/lib.rs"
//! pattern = '#!\[doc\(html_root_url = "https://docs\.rs/web/[0-9]+\.[0-9]+\.[0-9]+"\)\]'
//! ```
//!
//! A replacement (cargo-release `pre-release-replacements`) allow-lists one
//! file by its exact path: a bump may change it only by replacing lines in
//! place, each removed and each added line matching `pattern` whole
//! (README, *Version bumps*).

use serde::Deserialize;
use toml::Spanned;

use super::pattern::{Match, Pattern};
use super::problems::Problems;

/// How squash and rebase landings are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReviewMode {
    /// Squash and rebase landings fail: the landed commit is not the one
    /// reviewed.
    Strict,
    /// A squash or rebase landing passes when its tree equals the merge of
    /// its parent with the approved head (needs the `git-objects` feature).
    VerifiedSquash,
}

impl ReviewMode {
    /// The name in the configuration.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Strict => "strict",
            ReviewMode::VerifiedSquash => "verified-squash",
        }
    }
}

/// Version files a bump may change by default; each has a parser that
/// knows its version fields.
pub(crate) const DEFAULT_VERSION_FILES: &[&str] = &[
    "Cargo.toml",
    "*/Cargo.toml",
    "Cargo.lock",
    "package.json",
    "*/package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pyproject.toml",
    "*/pyproject.toml",
    "VERSION",
    "version.txt",
    ".release-please-manifest.json",
    "Chart.yaml",
    "*/Chart.yaml",
    "CHANGELOG.md",
    "*/CHANGELOG.md",
    ".changeset/*.md",
    ".changeset/pre.json",
];

/// The validated review settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewConfig {
    /// Squash and rebase handling.
    pub(crate) mode: ReviewMode,
    /// Distinct independent approvals a pull request needs.
    pub(crate) min_approvals: u32,
    /// Branches deploys may come from; empty: the repository's default branch.
    pub(crate) branches: Vec<String>,
    /// Approvers must have push access (`authorCanPushToRepository`).
    pub(crate) require_write_access: bool,
    /// An approver who only added commits with no changed files (a "rerun
    /// CI" commit) stays independent unless this is true.
    pub(crate) empty_commits_count_as_authorship: bool,
    /// The version-bump exemption.
    pub(crate) version_bump: VersionBumpConfig,
}

/// The version-bump exemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionBumpConfig {
    /// Path patterns (`*` globs, matched against the whole path) a bump
    /// may change. Only files of a known format can be verified.
    pub(crate) files: Vec<String>,
    /// GitHub account ids allowed to land bumps; empty: anyone.
    pub(crate) bots: Vec<u64>,
    /// The bump commit must carry a signature GitHub verified.
    pub(crate) require_signature: bool,
    /// Files of no version format a bump may rewrite line by line.
    pub(crate) replacements: Vec<Replacement>,
}

/// A file a release tool rewrites line by line (cargo-release
/// `pre-release-replacements`: a README's version line, `html_root_url`),
/// and the lines it may rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replacement {
    /// The file's path inside the repository, exactly (no globs).
    pub(crate) file: String,
    /// Each removed and each added line must match it whole.
    pub(crate) pattern: Pattern,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            mode: ReviewMode::Strict,
            min_approvals: 1,
            branches: Vec::new(),
            require_write_access: true,
            empty_commits_count_as_authorship: false,
            version_bump: VersionBumpConfig::default(),
        }
    }
}

impl Default for VersionBumpConfig {
    fn default() -> Self {
        VersionBumpConfig {
            files: DEFAULT_VERSION_FILES.iter().map(|s| (*s).to_owned()).collect(),
            bots: Vec::new(),
            require_signature: false,
            replacements: Vec::new(),
        }
    }
}

/// `[review]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReview {
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    min_approvals: Option<Spanned<i64>>,
    #[serde(default)]
    branches: Vec<Spanned<String>>,
    #[serde(default)]
    require_write_access: Option<bool>,
    #[serde(default)]
    empty_commits_count_as_authorship: Option<bool>,
    #[serde(default)]
    version_bump: RawVersionBump,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersionBump {
    #[serde(default)]
    files: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    bots: Vec<Spanned<i64>>,
    #[serde(default)]
    require_signature: Option<bool>,
    #[serde(default)]
    replacements: Vec<RawReplacement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplacement {
    file: Spanned<String>,
    pattern: Spanned<String>,
}

fn replacements(list: Vec<RawReplacement>, p: &mut Problems<'_>) -> Vec<Replacement> {
    let mut out: Vec<Replacement> = Vec::new();
    for r in list {
        let file = r.file.get_ref();
        if file.trim() != file || file.is_empty() || file.starts_with('/') || file.contains('*') {
            p.at(
                r.file.span(),
                "a replacement names one file by its exact path inside the repository, such as \"README.md\"",
            );
            continue;
        }
        if has_format(file) {
            p.at(
                r.file.span(),
                format!("{file} is a version file checked by its format; replacements are for other files"),
            );
            continue;
        }
        if out.iter().any(|o| o.file == *file) {
            p.at(r.file.span(), format!("{file} has a replacement already"));
            continue;
        }
        if r.pattern.get_ref().is_empty() {
            p.at(r.pattern.span(), "the pattern of a replacement cannot be empty");
            continue;
        }
        match Pattern::new(r.pattern.get_ref(), Match::WholeLine) {
            Ok(pattern) => out.push(Replacement { file: r.file.into_inner(), pattern }),
            Err(why) => {
                p.at(r.pattern.span(), format!("the pattern of {file} is not a valid regular expression: {why}"));
            }
        }
    }
    out
}

impl RawReview {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> ReviewConfig {
        let d = ReviewConfig::default();
        let mode = match self.mode {
            None => d.mode,
            Some(m) => match m.get_ref().as_str() {
                "strict" => ReviewMode::Strict,
                "verified-squash" => ReviewMode::VerifiedSquash,
                other => {
                    p.at(m.span(), format!("review.mode must be \"strict\" or \"verified-squash\", not {other:?}"));
                    d.mode
                }
            },
        };
        let min_approvals = match self.min_approvals {
            None => d.min_approvals,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(v) if (1..=10).contains(&v) => v,
                _ => {
                    p.at(n.span(), "review.min_approvals must be between 1 and 10");
                    d.min_approvals
                }
            },
        };
        let mut branches = Vec::new();
        for b in self.branches {
            if b.get_ref().trim().is_empty() || b.get_ref().starts_with("refs/") {
                p.at(b.span(), "a branch is a plain name such as \"main\"");
            } else {
                branches.push(b.into_inner());
            }
        }
        let files = match self.version_bump.files {
            None => d.version_bump.files,
            Some(list) => {
                let mut out = Vec::new();
                for f in list {
                    if f.get_ref().trim().is_empty() || f.get_ref().starts_with('/') {
                        p.at(f.span(), "a version file is a path inside the repository, such as \"Cargo.toml\"");
                    } else {
                        out.push(f.into_inner());
                    }
                }
                out
            }
        };
        let mut bots = Vec::new();
        for b in self.version_bump.bots {
            match u64::try_from(*b.get_ref()) {
                Ok(id) if id > 0 => bots.push(id),
                _ => p.at(b.span(), "a bot is a GitHub numeric account id"),
            }
        }
        ReviewConfig {
            mode,
            min_approvals,
            branches,
            require_write_access: self.require_write_access.unwrap_or(d.require_write_access),
            empty_commits_count_as_authorship: self
                .empty_commits_count_as_authorship
                .unwrap_or(d.empty_commits_count_as_authorship),
            version_bump: VersionBumpConfig {
                files,
                bots,
                require_signature: self.version_bump.require_signature.unwrap_or(false),
                replacements: replacements(self.version_bump.replacements, p),
            },
        }
    }
}

/// The format of a version file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub(crate) enum VersionFile {
    CargoToml,
    CargoLock,
    PackageJson,
    NpmLock,
    Pyproject,
    VersionText,
    ReleaseManifest,
    Changelog,
    Changeset,
    ChartYaml,
}

/// The format of the version file at `path`, if changegate reads its
/// version fields (README.md, *Version bumps*).
pub(crate) fn version_file(path: &str) -> Option<VersionFile> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let in_changeset = path.starts_with(".changeset/") && !path[".changeset/".len()..].contains('/');
    Some(match file {
        "Cargo.toml" => VersionFile::CargoToml,
        "Cargo.lock" => VersionFile::CargoLock,
        "package.json" => VersionFile::PackageJson,
        "package-lock.json" | "npm-shrinkwrap.json" => VersionFile::NpmLock,
        "pyproject.toml" => VersionFile::Pyproject,
        "VERSION" | "version.txt" => VersionFile::VersionText,
        ".release-please-manifest.json" => VersionFile::ReleaseManifest,
        "CHANGELOG.md" => VersionFile::Changelog,
        "Chart.yaml" => VersionFile::ChartYaml,
        _ if in_changeset && (file.ends_with(".md") || file == "pre.json") => VersionFile::Changeset,
        _ => return None,
    })
}

/// Whether changegate reads version fields in `path` by its format (such
/// a file cannot be given a line replacement instead).
pub(crate) fn has_format(path: &str) -> bool {
    version_file(path).is_some()
}

#[cfg(test)]
mod tests {
    use crate::base::time::Date;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "t.toml", Date::new(2026, 11, 27).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn replacements_name_one_file_and_a_valid_pattern() {
        let c = parse(concat!(
            "[[review.version_bump.replacements]]\n",
            "file = \"README.md\"\n",
            "pattern = 'web = \"[0-9.]+\"'\n",
            "[[review.version_bump.replacements]]\n",
            "file = \"src/lib.rs\"\n",
            "pattern = '#!\\[doc\\(html_root_url = \"https://docs\\.rs/web/[0-9.]+\"\\)\\]'\n",
        ))
        .unwrap();
        let r = &c.review.version_bump.replacements;
        assert_eq!((r[0].file.as_str(), r[0].pattern.as_str()), ("README.md", "web = \"[0-9.]+\""));
        assert!(r[0].pattern.is_match("web = \"1.2.3\"") && !r[0].pattern.is_match("web = \"1.2.3\" # x"));
        assert!(r[1].pattern.is_match("#![doc(html_root_url = \"https://docs.rs/web/1.2.3\")]"));
        // The defaults are unchanged: no replacement.
        assert!(parse("").unwrap().review.version_bump.replacements.is_empty());
        assert_eq!(c.review.clone(), c.review);

        let bad = |file: &str, pattern: &str| {
            parse(&format!("[review.version_bump]\nreplacements = [{{ file = {file:?}, pattern = '{pattern}' }}]\n"))
                .unwrap_err()
        };
        let e = bad("README.md", "web = ([0-9.]+");
        assert!(e.contains("t.toml:2:") && e.contains("not a valid regular expression: unclosed group"), "{e}");
        assert!(bad("*.md", "x").contains("exact path"));
        assert!(bad("/README.md", "x").contains("exact path"));
        assert!(bad("Cargo.toml", "x").contains("checked by its format"));
        assert!(bad("docs/CHANGELOG.md", "x").contains("checked by its format"));
        assert!(bad("README.md", "").contains("cannot be empty"));
        let e = parse(
            "[review.version_bump]\nreplacements = [{ file = 'README.md', pattern = 'a' }, { file = 'README.md', pattern = 'b' }]\n",
        )
        .unwrap_err();
        assert!(e.contains("README.md has a replacement already"), "{e}");
        assert!(parse("[review.version_bump]\nreplacements = [{ file = 'README.md' }]\n").is_err());
        assert!(
            parse("[review.version_bump]\nreplacements = [{ file = 'README.md', pattern = 'a', glob = 1 }]\n").is_err()
        );
    }
}
