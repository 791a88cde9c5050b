//! What every command shares: the error that stops a command, the report
//! formats, reading the configuration, rendering a binary plan, the JUnit
//! file and writing report files. Each command converts the errors of the
//! steps it runs (`CliError::Step`).

use std::io;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::base::time::Date;
use crate::config::Config;
use crate::steps::plan;

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A readable table and a one-line verdict.
    Text,
    /// For a CI step summary or a ticket.
    Markdown,
    /// The stable JSON contract (schema_version 1).
    Json,
}

/// The tool that renders a binary plan as JSON (`show -json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RenderWith {
    /// `terraform show -json`.
    Terraform,
    /// `tofu show -json` (OpenTofu).
    Tofu,
}

impl RenderWith {
    pub(super) fn tool(self) -> crate::model::binding::Tool {
        match self {
            RenderWith::Terraform => crate::model::binding::Tool::Terraform,
            RenderWith::Tofu => crate::model::binding::Tool::Tofu,
        }
    }
}

/// Renders `plan_file` with `tool` in the plan file's directory (the stack's
/// working directory, where `init` ran).
pub(crate) fn render_plan(
    tool: RenderWith,
    plan_file: &Path,
) -> Result<crate::steps::plan::render::Rendered, CliError> {
    let cwd = std::env::current_dir().map_err(CliError::Output)?;
    let dir = cwd.join(plan_file.parent().unwrap_or(Path::new("")));
    let name = plan_file.file_name().map_or_else(|| plan_file.to_path_buf(), PathBuf::from);
    crate::steps::plan::render::render(tool.tool(), &name, &dir).map_err(CliError::from)
}

/// An error that stops a command; shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub(super) enum CliError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The plan could not be judged.
    #[error("{0}")]
    Plan(#[from] plan::PlanError),
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// Writing the report failed.
    #[error("could not write the report: {0}")]
    Output(#[from] io::Error),
    /// Required environment variables are missing.
    #[error(transparent)]
    Env(#[from] crate::base::env::MissingVars),
    /// An API client could not be set up.
    #[error(transparent)]
    Setup(#[from] crate::clients::http::SetupError),
    /// The request step failed.
    #[error(transparent)]
    Request(#[from] crate::steps::request::RequestError),
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] crate::clients::jira::JiraError),
    /// A GitHub call failed.
    #[error(transparent)]
    GitHub(#[from] crate::clients::github::GitHubError),
    /// A CircleCI (or other API) call failed.
    #[error(transparent)]
    Api(#[from] crate::clients::http::ApiError),
    /// A signing key or the public keys could not be read.
    #[error(transparent)]
    Key(#[from] crate::model::signing::KeyError),
    /// The bot's signed policy could not be read or does not verify.
    #[error(transparent)]
    Policy(#[from] crate::steps::policy::PolicyError),
    /// The ticket could not be found from `--ticket` or the state file.
    #[error(transparent)]
    Find(#[from] crate::steps::ticket::FindError),
    /// A binary plan could not be rendered as JSON.
    #[error(transparent)]
    Render(#[from] crate::steps::plan::render::RenderError),
    /// A step that one command runs failed (collecting, deciding,
    /// analysing, validating, resuming, auditing, setting up); the command
    /// converts its step's error.
    #[error(transparent)]
    Step(Box<dyn std::error::Error + Send + Sync>),
    /// The arguments given cannot be used (beyond what the parser checks).
    #[error("{0}")]
    Usage(String),
    /// The environment the command runs in is not one it may run in (a
    /// secret where it must not be, a variable missing or malformed).
    #[error("{0}")]
    Environment(String),
    /// A file or record read does not hold what it must.
    #[error("{0}")]
    Invalid(String),
    /// A step stopped partway; what was done is reported and nothing passes.
    #[error("{0}")]
    Stopped(String),
    /// The demo or the stand-ins could not run on this machine.
    #[error("{0}")]
    Local(String),
}

pub(super) fn load_config(explicit: Option<&Path>) -> Result<Config, CliError> {
    let env_path = std::env::var_os("CHANGEGATE_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from);
    let cwd = std::env::current_dir().map_err(CliError::Output)?;
    Ok(Config::load(explicit, env_path.as_deref(), &cwd, Date::today_utc())?)
}

/// The JUnit report of one run (`--junit FILE`): the suites a command
/// judged, and, when it could not decide, an error case saying why, so the
/// file is there whatever the outcome.
#[derive(Debug)]
pub(super) struct JunitOut {
    path: Option<PathBuf>,
    command: &'static str,
    suites: Vec<crate::base::junit::Suite>,
}

impl JunitOut {
    pub(super) fn new(path: Option<&Path>, command: &'static str) -> Self {
        JunitOut { path: path.map(Path::to_path_buf), command, suites: Vec::new() }
    }

    /// Adds a suite (kept only when a file was asked for).
    pub(super) fn push(&mut self, suite: crate::base::junit::Suite) {
        if self.path.is_some() {
            self.suites.push(suite);
        }
    }

    /// True when a file was asked for.
    pub(super) fn wanted(&self) -> bool {
        self.path.is_some()
    }

    /// Writes the file for the command's result and passes the result on.
    pub(super) fn finish(mut self, result: Result<Outcome, CliError>) -> Result<Outcome, CliError> {
        use crate::base::junit::{Case, Suite};
        let Some(path) = self.path.take() else { return result };
        if let Err(e) = &result {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default().to_owned();
            self.suites.push(Suite::new(
                format!("changegate {}: could not decide", self.command),
                vec![Case::error(self.command, "could not decide", "undecided", first, text)],
            ));
        }
        let written =
            write_file(&path, "cannot write the JUnit report", crate::base::junit::to_xml(&self.suites).as_bytes());
        match written {
            Err(e) if result.is_ok() => Err(e),
            _ => result,
        }
    }
}

/// Writes a report file, making its directory.
pub(super) fn write_file(path: &Path, what: &'static str, bytes: &[u8]) -> Result<(), CliError> {
    let file = |source| CliError::File { what, path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(file)?;
    }
    std::fs::write(path, bytes).map_err(file)
}

/// The optional CA bundle (`CHANGEGATE_CA_BUNDLE`).
pub(super) fn ca_bundle(env: &Env) -> Option<PathBuf> {
    env.get("CHANGEGATE_CA_BUNDLE").map(PathBuf::from)
}
