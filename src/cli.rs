//! The command line: argument definitions and dispatch. Each command turns
//! its result into an [`Outcome`]; errors are printed to stderr and become
//! "could not decide" (exit 2), never a pass.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::digest::Sha256Digest;
use crate::outcome::Outcome;
use crate::plan;
use crate::time::Date;

/// Automated change management for production deploys.
#[derive(Debug, Parser)]
#[command(name = "changegate", version, about, long_about = None)]
#[command(after_help = "Exit codes: 0 pass, 1 the policy said no, 2 could not decide (never a pass).")]
pub struct Cli {
    /// Configuration file [default: $CHANGEGATE_CONFIG, ./changegate.toml, .circleci/changegate.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Judge a Terraform/OpenTofu plan (`terraform show -json`): is it risky?
    PlanCheck(PlanCheckArgs),
}

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table and a one-line verdict.
    Text,
    /// For a CI step summary or a ticket.
    Markdown,
    /// The stable JSON contract (schema_version 1).
    Json,
}

#[derive(Debug, Args)]
struct PlanCheckArgs {
    /// Plan JSON from `terraform show -json` or `tofu show -json`; `-` reads stdin
    #[arg(value_name = "PLAN_JSON", default_value = "-")]
    plan_json: String,

    /// The binary plan file that will be applied; its digest is recorded
    #[arg(long, value_name = "FILE")]
    plan_file: Option<PathBuf>,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Also write the JSON report to FILE
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
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
    run(cli, &mut io::stdout(), &mut io::stderr()).into()
}

/// Runs a parsed command line, writing the report to `out` and errors to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
    match execute(cli, out) {
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
}

fn load_config(explicit: Option<&Path>) -> Result<Config, CliError> {
    let env_path = std::env::var_os("CHANGEGATE_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from);
    let cwd = std::env::current_dir().map_err(CliError::Output)?;
    Ok(Config::load(explicit, env_path.as_deref(), &cwd, Date::today_utc())?)
}

fn execute(cli: Cli, out: &mut dyn Write) -> Result<Outcome, CliError> {
    match cli.command {
        Command::PlanCheck(args) => plan_check(&args, cli.config.as_deref(), out),
    }
}

fn plan_check(args: &PlanCheckArgs, config: Option<&Path>, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let config = load_config(config)?;
    let input: Box<dyn Read + Send> = if args.plan_json == "-" {
        Box::new(io::stdin())
    } else {
        let path = PathBuf::from(&args.plan_json);
        Box::new(File::open(&path).map_err(|source| CliError::File { what: "cannot open the plan", path, source })?)
    };
    let mut report = plan::check(input, &config.plan)?;
    if let Some(path) = &args.plan_file {
        let digest = Sha256Digest::of_file(path).map_err(|source| CliError::File {
            what: "cannot read the plan file",
            path: path.clone(),
            source,
        })?;
        report.plan_file_digest = Some(digest);
    }
    if let Some(path) = &args.json_out {
        std::fs::write(path, report.to_json() + "\n").map_err(|source| CliError::File {
            what: "cannot write the JSON report",
            path: path.clone(),
            source,
        })?;
    }
    let rendered = match args.format {
        Format::Text => report.to_text(),
        Format::Markdown => report.to_markdown(),
        Format::Json => report.to_json() + "\n",
    };
    out.write_all(rendered.as_bytes())?;
    out.flush()?;
    Ok(if report.risky { Outcome::Deny } else { Outcome::Pass })
}
