//! The command line: argument definitions and dispatch, one file per
//! command. Each command turns its result into an [`Outcome`]; errors are
//! printed to stderr and become "could not decide" (exit 2), never a pass.

mod analyze;
mod audit;
mod ci;
mod close;
mod collect;
mod config_check;
mod decide;
mod demo;
mod drift;
mod keys;
mod plan_check;
mod request;
mod resume;
mod serve;
mod setup;
mod stand_ins;
mod validate;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::base::progress::Progress;
use crate::base::time::Date;
use crate::config::Config;
use crate::steps::plan;

/// Automated change management for production deploys.
/// The version `--version` prints: the bot's build names its content checks.
#[cfg(feature = "git-objects")]
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (content checks: git objects)");
#[cfg(not(feature = "git-objects"))]
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Parser)]
#[command(name = "changegate", version = VERSION, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 pass, 1 the policy said no or a person must decide, 2 could not decide (never a pass)."
)]
pub(crate) struct Cli {
    /// Configuration file [default: $CHANGEGATE_CONFIG, ./changegate.toml, .circleci/changegate.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find or create the change ticket for this build (CI, step 1)
    Request(request::RequestCli),
    /// Check the ticket allows this deploy: before plan and before apply (CI)
    Validate(validate::ValidateCli),
    /// Judge a Terraform/OpenTofu plan (`terraform show -json`): is it risky?
    PlanCheck(plan_check::PlanCheckArgs),
    /// Judge what changed outside Terraform (a refresh-only plan's drift) and keep its ticket in step
    Drift(drift::DriftArgs),
    /// Record how the deploy ended and close the ticket (CI, step 3)
    Close(close::CloseCli),
    /// Run the whole process once against local stand-ins of Jira, GitHub and CircleCI, narrated
    Demo(demo::DemoCli),
    /// Collect the evidence record of a ticket (commits, reviews, scans)
    Collect(collect::CollectCli),
    /// Re-decide a stored evidence record offline (audits)
    Decide(decide::DecideCli),
    /// Collect, decide and post the analysis on the ticket (step 2)
    Analyze(analyze::AnalyzeCli),
    /// Without a bot: wait beside a hold for the ticket's approval, then resume the hold
    Resume(resume::ResumeCli),
    /// Run the bot: receive Jira and CircleCI webhooks, converge tickets, resume holds
    Serve(serve::ServeCli),
    /// Converge every live ticket once (what the bot does at start-up and periodically)
    Reconcile(serve::ReconcileCli),
    /// Inspect a random sample of auto-approved tickets: re-decide and re-collect each
    Audit(audit::AuditCli),
    /// Check changegate.toml, and with credentials the Jira site
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Bring Jira, CircleCI and GitHub to what a gated deploy needs: a plan, and with --apply the changes
    Setup {
        #[command(subcommand)]
        command: setup::SetupCommand,
    },
    /// Make and inspect the bot's signing keys
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Serve local stand-ins for Jira, CircleCI and GitHub until stopped (tests, scripts, trying the orb)
    StandIns(stand_ins::StandInsArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate changegate.toml and check it against the Jira site
    Check(config_check::ConfigCheckArgs),
}

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
    pub fn tool(self) -> crate::model::binding::Tool {
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

/// Runs the command line and returns the process exit code.
pub fn main<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; usage errors cannot decide.
            return if e.use_stderr() { Outcome::Undecided.into() } else { Outcome::Pass.into() };
        }
    };
    // Unlocked handles: a lock held for the whole run would block any other
    // thread that writes to stderr.
    run(cli, &mut io::stdout(), &mut io::stderr(), &Progress::on_stderr()).into()
}

/// Runs a parsed command line, writing the report to `out`, errors to
/// `err` and how far long work got to `progress`.
pub(crate) fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write, progress: &Progress) -> Outcome {
    match execute(cli, &Env::from_process(), out, progress) {
        Ok(outcome) => outcome,
        Err(e) => {
            let _ = writeln!(err, "changegate: error: {e}");
            Outcome::Undecided
        }
    }
}

/// An error that stops a command; shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
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
    /// Collecting evidence failed.
    #[error(transparent)]
    Collect(#[from] crate::steps::analyze::collect::CollectError),
    /// An evidence record could not be decided.
    #[error(transparent)]
    Decide(#[from] crate::steps::analyze::decision::DecideError),
    /// The analysis step failed.
    #[error(transparent)]
    Analyze(#[from] crate::steps::analyze::AnalyzeError),
    /// The validate step could not read what it judges.
    #[error(transparent)]
    Validate(#[from] crate::steps::validate::ValidateError),
    /// The no-bot resume step failed.
    #[error(transparent)]
    Resume(#[from] crate::steps::resume::ResumeError),
    /// The audit could not run.
    #[error(transparent)]
    Audit(#[from] crate::steps::audit::AuditError),
    /// `setup` could not read CircleCI.
    #[error(transparent)]
    SetupRead(#[from] crate::steps::setup::circleci::ReadError),
    /// `setup` could not write the configuration file.
    #[error(transparent)]
    SetupWrite(#[from] crate::steps::setup::config_file::WriteError),
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

pub fn load_config(explicit: Option<&Path>) -> Result<Config, CliError> {
    let env_path = std::env::var_os("CHANGEGATE_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from);
    let cwd = std::env::current_dir().map_err(CliError::Output)?;
    Ok(Config::load(explicit, env_path.as_deref(), &cwd, Date::today_utc())?)
}

/// Runs a parsed command line with `env` as its environment.
fn execute(cli: Cli, env: &Env, out: &mut dyn Write, progress: &Progress) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Request(args) => request::run(&args, cli.config.as_deref(), env, out),
        Command::Validate(args) => validate::run(&args, cli.config.as_deref(), env, out),
        Command::PlanCheck(args) => plan_check::run(&args, cli.config.as_deref(), env, out),
        Command::Close(args) => close::run(&args, cli.config.as_deref(), env, out),
        Command::Drift(args) => drift::run(&args, cli.config.as_deref(), env, out),
        Command::Collect(args) => collect::run(&args, cli.config.as_deref(), env, out, progress),
        Command::Decide(args) => decide::run(&args, env, out),
        Command::Analyze(args) => analyze::run(&args, cli.config.as_deref(), env, out, progress),
        Command::Resume(args) => resume::run(&args, cli.config.as_deref(), env, out),
        Command::Serve(args) => serve::run_serve(&args, cli.config.as_deref(), env),
        Command::Reconcile(args) => serve::run_reconcile(&args, cli.config.as_deref(), env, out),
        Command::Audit(args) => audit::run(&args, cli.config.as_deref(), env, out, progress),
        Command::Config { command: ConfigCommand::Check(args) } => {
            config_check::run(&args, cli.config.as_deref(), env, out)
        }
        Command::Setup { command } => setup::run(&command, cli.config.as_deref(), env, out, progress),
        Command::Keys { command } => keys::run(&command, env, out),
        Command::StandIns(args) => stand_ins::run(&args, out),
        Command::Demo(args) => demo::run(&args, out),
    }
}

/// The JUnit report of one run (`--junit FILE`): the suites a command
/// judged, and, when it could not decide, an error case saying why, so the
/// file is there whatever the outcome.
#[derive(Debug)]
pub struct JunitOut {
    path: Option<PathBuf>,
    command: &'static str,
    suites: Vec<crate::base::junit::Suite>,
}

impl JunitOut {
    pub fn new(path: Option<&Path>, command: &'static str) -> Self {
        JunitOut { path: path.map(Path::to_path_buf), command, suites: Vec::new() }
    }

    /// Adds a suite (kept only when a file was asked for).
    pub fn push(&mut self, suite: crate::base::junit::Suite) {
        if self.path.is_some() {
            self.suites.push(suite);
        }
    }

    /// True when a file was asked for.
    pub fn wanted(&self) -> bool {
        self.path.is_some()
    }

    /// Writes the file for the command's result and passes the result on.
    pub fn finish(mut self, result: Result<Outcome, CliError>) -> Result<Outcome, CliError> {
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
pub fn write_file(path: &Path, what: &'static str, bytes: &[u8]) -> Result<(), CliError> {
    let file = |source| CliError::File { what, path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(file)?;
    }
    std::fs::write(path, bytes).map_err(file)
}

/// The optional CA bundle (`CHANGEGATE_CA_BUNDLE`).
pub fn ca_bundle(env: &Env) -> Option<PathBuf> {
    env.get("CHANGEGATE_CA_BUNDLE").map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::progress::Captured;

    /// Long work reports to the progress it is handed, here a fake
    /// terminal; the report on stdout is the same with or without it.
    #[test]
    fn setup_reports_its_progress_to_the_reporter_it_is_given() {
        let stand_ins = crate::standins::StandIns::start("127.0.0.1:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("changegate.toml");
        std::fs::write(&config, "").unwrap();
        let url = stand_ins.url();
        let env = Env::from_pairs([
            ("GITHUB_API_URL", url.as_str()),
            ("GITHUB_TOKEN", crate::standins::github::TOKEN),
            ("CHANGEGATE_HTTP_ATTEMPTS", "1"),
        ]);
        let argv = ["changegate", "--config", config.to_str().unwrap(), "setup", "github", "--repo", "acme/web"];
        let seen = Captured::default();
        let mut shown = Vec::new();
        let outcome = execute(Cli::try_parse_from(argv).unwrap(), &env, &mut shown, &Progress::to(seen.clone()));
        assert!(seen.text().contains("changegate: setup github: reading acme/web"), "{}", seen.text());
        let mut quiet = Vec::new();
        let again = execute(Cli::try_parse_from(argv).unwrap(), &env, &mut quiet, &Progress::quiet());
        assert_eq!(outcome.is_ok(), again.is_ok());
        assert_eq!(String::from_utf8_lossy(&shown), String::from_utf8_lossy(&quiet), "progress never goes to stdout");
    }
}
