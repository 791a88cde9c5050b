//! `changegate.toml`: read raw, then validated into the types the decisions
//! consume (as cargo-deny does). Unknown keys are errors; every error names
//! the file, line and column, and one run lists all of them (every unknown
//! key, with the known key it probably meant; every value of the wrong type;
//! every value that does not validate), in the order of the file.
//!
//! Where it is found: `--config FILE`, else `CHANGEGATE_CONFIG`, else
//! `./changegate.toml`, else `.circleci/changegate.toml`. Without a file every
//! command runs on the built-in defaults.

pub(crate) mod approval;
pub(crate) mod emergency;
pub(crate) mod jira;
pub(crate) mod lock;
pub(crate) mod pattern;
pub(crate) mod plan;
mod problems;
mod reading;
pub(crate) mod review;
pub(crate) mod scan;
pub(crate) mod windows;

pub(crate) use self::problems::{ConfigError, Problem, Problems, env_key};

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::base::time::Date;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Environments whose deploys need a ticket (default `production`).
    pub(crate) controlled_environments: Vec<String>,
    /// Where tickets live (`[jira]`).
    pub jira: jira::JiraConfig,
    /// Plan-gate rules (`[plan]`).
    pub(crate) plan: plan::PlanRules,
    /// Review verification (`[review]`).
    pub review: review::ReviewConfig,
    /// Scan evidence and the blocking threshold (`[scan]`).
    pub scan: scan::ScanConfig,
    /// Whether the bot approves on its own (`[approval]`).
    pub(crate) approval: approval::ApprovalConfig,
    /// `[emergency]`.
    pub(crate) emergency: emergency::EmergencyConfig,
    /// `[lock]`: the deploy contexts and their security group.
    pub(crate) lock: lock::LockConfig,
    /// `[[windows]]`: recurring change windows.
    pub(crate) windows: Vec<windows::Window>,
    /// `[[freezes]]`: change freezes.
    pub(crate) freezes: Vec<windows::Freeze>,
    /// Windows a checkout adds to the bot's policy: a deploy must be inside
    /// these as well (`policy::apply`).
    pub(crate) checkout_windows: Vec<windows::Window>,
    /// Where it was read from; `None` for the built-in defaults.
    pub(crate) source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            controlled_environments: vec!["production".to_owned()],
            jira: jira::JiraConfig::default(),
            plan: plan::PlanRules::default(),
            review: review::ReviewConfig::default(),
            scan: scan::ScanConfig::default(),
            approval: approval::ApprovalConfig::default(),
            emergency: emergency::EmergencyConfig::default(),
            lock: lock::LockConfig::default(),
            windows: Vec::new(),
            freezes: Vec::new(),
            checkout_windows: Vec::new(),
            source: None,
        }
    }
}

impl Config {
    /// True when deploys to `environment` need a ticket (names compare
    /// case-insensitively after trimming).
    pub fn is_controlled(&self, environment: &str) -> bool {
        let want = env_key(environment);
        self.controlled_environments.iter().any(|e| env_key(e) == want)
    }

    /// True when an apply to `environment` needs a recorded, reviewed plan:
    /// `[plan] required`, or the environment has a plan hold
    /// (`[lock.plan_holds]`).
    pub fn plan_required_for(&self, environment: &str) -> bool {
        self.plan.required || self.lock.plan_hold(environment).is_some()
    }

    /// Whether a deploy to `environment` may go out at `at`: inside the
    /// windows (the policy's, and the checkout's too) and in no freeze.
    pub fn window_check(&self, environment: &str, at: crate::base::time::Timestamp) -> windows::WindowCheck {
        let first = windows::check(&self.windows, &self.freezes, environment, at);
        if first != windows::WindowCheck::Open || self.checkout_windows.is_empty() {
            return first;
        }
        windows::check(&self.checkout_windows, &[], environment, at)
    }
}

/// The file as written, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    controlled_environments: Option<Vec<toml::Spanned<String>>>,
    #[serde(default)]
    jira: jira::RawJira,
    #[serde(default)]
    plan: plan::RawPlan,
    #[serde(default)]
    review: review::RawReview,
    #[serde(default)]
    scan: scan::RawScan,
    #[serde(default)]
    approval: approval::RawApproval,
    #[serde(default)]
    emergency: emergency::RawEmergency,
    #[serde(default)]
    lock: lock::RawLock,
    #[serde(default)]
    windows: Vec<windows::RawWindow>,
    #[serde(default)]
    freezes: Vec<windows::RawFreeze>,
}

impl Config {
    /// Parses and validates configuration text. `today` decides which plan
    /// exemptions have expired.
    pub fn parse(text: &str, origin: &str, today: Date) -> Result<Config, ConfigError> {
        let invalid = |problems| ConfigError::Invalid { origin: origin.to_owned(), problems };
        let mut problems = Problems::new(text);
        // Every unknown key and wrong type is listed, then what reads
        // cleanly is validated as well: one run lists every problem.
        let Some(raw) = reading::read_all::<RawConfig>(text, &mut problems) else {
            problems.list.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
            return Err(invalid(problems.list));
        };
        let mut controlled_environments = Vec::new();
        match raw.controlled_environments {
            None => controlled_environments.push("production".to_owned()),
            Some(list) => {
                for e in list {
                    if e.get_ref().trim().is_empty() {
                        problems.at(e.span(), "an environment name cannot be empty");
                    } else if !controlled_environments.contains(&env_key(e.get_ref())) {
                        controlled_environments.push(env_key(e.get_ref()));
                    }
                }
            }
        }
        let jira = raw.jira.validate(&mut problems);
        let plan = raw.plan.validate(&mut problems, today);
        let review = raw.review.validate(&mut problems);
        let scan = raw.scan.validate(&mut problems);
        let approval = raw.approval.validate(&mut problems);
        let emergency = raw.emergency.validate(&mut problems);
        let lock = raw.lock.validate(&mut problems);
        let windows: Vec<windows::Window> = raw.windows.into_iter().filter_map(|w| w.validate(&mut problems)).collect();
        let freezes: Vec<windows::Freeze> = raw.freezes.into_iter().map(|f| f.validate(&mut problems)).collect();
        if !problems.list.is_empty() {
            // In the order of the file (problems without a place last).
            problems.list.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
            return Err(invalid(problems.list));
        }
        Ok(Config {
            controlled_environments,
            jira,
            plan,
            review,
            scan,
            approval,
            emergency,
            lock,
            windows,
            freezes,
            checkout_windows: Vec::new(),
            source: None,
        })
    }

    /// Finds and loads the configuration (see the module documentation).
    /// `env_path` is the value of `CHANGEGATE_CONFIG`.
    pub fn load(
        explicit: Option<&Path>,
        env_path: Option<&Path>,
        cwd: &Path,
        today: Date,
    ) -> Result<Config, ConfigError> {
        let named = explicit.or(env_path);
        let path = match named {
            Some(p) => Some(p.to_path_buf()),
            None => ["changegate.toml", ".circleci/changegate.toml"].iter().map(|p| cwd.join(p)).find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        let mut config = Config::parse(&text, &path.display().to_string(), today)?;
        config.source = Some(path);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 11, 27).unwrap()
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let c = Config::parse("", "t.toml", today()).unwrap();
        assert!(c.plan.exemptions.is_empty());
    }

    #[test]
    fn unknown_top_level_key_is_rejected_with_its_line() {
        let e = Config::parse("\n[plann]\nx = 1\n", "t.toml", today()).unwrap_err().to_string();
        assert!(e.contains("t.toml:2:"), "{e}");
        assert!(e.contains("plann"), "{e}");
    }

    /// The full example of the README's configuration section is valid.
    #[test]
    fn the_readme_example_is_valid() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme.find("## Configuration: `changegate.toml`").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let block = &section[start..start + section[start..].find("```").unwrap()];
        let c = Config::parse(block, "README.md", today()).unwrap_or_else(|e| panic!("{e}"));
        let required: Vec<&str> = c.scan.required.iter().map(scan::RequiredScanner::as_str).collect();
        assert_eq!(required, ["Trivy", "Semgrep"]);
        assert!(c.scan.required[1].matches("Semgrep OSS"));
        let r = &c.review.version_bump.replacements[0];
        assert_eq!(r.file, "src/lib.rs");
        assert!(r.pattern.is_match(r#"#![doc(html_root_url = "https://docs.rs/web/1.2.3")]"#));
    }

    /// Three unknown keys in three sections and a value of the wrong type:
    /// all four are listed in one run, each with its line, and the unknown
    /// keys with the key that was probably meant.
    #[test]
    fn every_unknown_key_and_wrong_type_is_listed_at_once() {
        let text = "controlled_environments = [\"production\"]\n\
                    [jira]\n\
                    project = \"PRODCM\"\n\
                    bot_acount_ids = [\"x\"]\n\
                    [emergency]\n\
                    groupp = \"break-glass\"\n\
                    [approval]\n\
                    auto_approve = \"yes\"\n\
                    [plann]\n\
                    required = true\n";
        let Err(ConfigError::Invalid { problems, .. }) = Config::parse(text, "t.toml", today()) else {
            panic!("invalid");
        };
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 4, "{shown:#?}");
        let find = |needle: &str| {
            problems.iter().find(|p| p.message.contains(needle)).unwrap_or_else(|| panic!("{needle}: {shown:#?}"))
        };
        let p = find("`bot_acount_ids`");
        assert_eq!(p.line, Some(4));
        assert!(p.message.contains("did you mean `bot_account_ids`?"), "{}", p.message);
        let p = find("`groupp`");
        assert_eq!(p.line, Some(6));
        assert!(
            p.message.starts_with("emergency.groupp: unknown field") && p.message.ends_with("did you mean `group`?")
        );
        let p = find("auto_approve");
        assert_eq!(p.line, Some(8));
        assert!(p.message.starts_with("approval.auto_approve: invalid type: string"), "{}", p.message);
        let p = find("`plann`");
        assert_eq!(p.line, Some(9));
        assert!(p.message.ends_with("did you mean `plan`?"), "{}", p.message);
    }

    #[test]
    fn problems_of_entries_in_arrays_of_tables_and_of_validation_are_listed_together() {
        let text = "[[windows]]\nname = \"w\"\ndayz = [\"mon\"]\n[jira]\nprojcet = \"X\"\n[jira.fields]\nnot_a_field = \"customfield_1\"\n";
        let e = Config::parse(text, "t.toml", today()).unwrap_err().to_string();
        assert!(e.contains("t.toml:3:1: windows[1].dayz: unknown field `dayz`"), "{e}");
        assert!(e.contains("t.toml:5:1: jira.projcet: unknown field `projcet`"), "{e}");
        assert!(e.contains("did you mean `project`?"), "{e}");
        assert!(e.contains("t.toml:7:"), "the unknown ticket field is listed as well: {e}");
    }

    #[test]
    fn syntax_errors_name_the_place() {
        let e = Config::parse("[plan\n", "t.toml", today()).unwrap_err().to_string();
        assert!(e.starts_with("invalid configuration t.toml:\n  t.toml:1:"), "{e}");
    }

    #[test]
    fn missing_explicit_file_is_an_error_missing_default_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Config::load(None, None, dir.path(), today()).unwrap().source.is_none());
        let e = Config::load(Some(&dir.path().join("nope.toml")), None, dir.path(), today()).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        std::fs::create_dir(dir.path().join(".circleci")).unwrap();
        std::fs::write(dir.path().join(".circleci/changegate.toml"), "").unwrap();
        let c = Config::load(None, None, dir.path(), today()).unwrap();
        assert!(c.source.unwrap().ends_with(".circleci/changegate.toml"));
    }
}
