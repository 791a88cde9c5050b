//! The command line: argument definitions and dispatch, one file per
//! command, and what the commands share in `common.rs`. Each command turns
//! its result into an [`Outcome`]; errors are printed to stderr and become
//! "could not decide" (exit 2), never a pass.

mod analyze;
mod audit;
mod ci;
mod close;
mod collect;
mod common;
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
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::common::CliError;
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::base::progress::Progress;

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

/// Runs a whole command line in this process for the demo ([`demo::Runner`]):
/// its report and any error go to `out`, quietly, as a job's log would show
/// them.
fn run_quietly(argv: &[&str], env: &Env, out: &mut Vec<u8>) -> Outcome {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = writeln!(out, "{e}");
            return Outcome::Undecided;
        }
    };
    match execute(cli, env, out, &Progress::quiet()) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(out, "changegate: error: {e}");
            Outcome::Undecided
        }
    }
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
        Command::Demo(args) => demo::run(&args, out, run_quietly),
    }
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
