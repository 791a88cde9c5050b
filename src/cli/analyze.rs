//! `changegate analyze KEY`: collect, decide, and post the analysis on the
//! ticket (step 2 in one shot; the bot runs the same with `--approve`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, Format, ca_bundle, load_config, request::services};
use crate::analyze::{self, AnalyzeArgs};
use crate::config::Config;
use crate::decision::render;
use crate::env::Env;
use crate::evidence::collect::Sources;
use crate::github::{GitHub, GitHubSettings};
use crate::http::RetryPolicy;
use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub(super) struct AnalyzeCli {
    /// The change ticket [default: from the state file]
    #[arg(value_name = "KEY")]
    ticket: Option<String>,

    /// State written by `changegate request` (where the ticket is named)
    #[arg(long, value_name = "FILE", default_value = "changegate.json")]
    state: PathBuf,

    /// Collect and decide, but write nothing to the ticket
    #[arg(long)]
    dry_run: bool,

    /// Approve the ticket when every check passes and [approval] auto_approve is on (the bot)
    #[arg(long)]
    approve: bool,

    /// A SARIF file from a scan run in this deploy's job (repeatable)
    #[arg(long = "sarif", value_name = "FILE")]
    sarif: Vec<PathBuf>,

    /// Also write the evidence record here
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Output format of the decision
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// The clients step 2 reads through (Jira and CircleCI from the
/// environment, and GitHub).
pub(super) fn step2_clients(env: &Env) -> Result<(crate::request::Services, GitHub), CliError> {
    let svc = services(env)?;
    let github = GitHub::new(&GitHubSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    Ok((svc, github))
}

/// The effective policy: the configuration file's text and where it came
/// from, or the built-in defaults.
pub(super) fn policy_of(config: &Config) -> Result<(String, String), CliError> {
    match &config.source {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| CliError::File {
                what: "cannot read the policy",
                path: p.clone(),
                source,
            })?;
            Ok((p.display().to_string(), text))
        }
        None => Ok(("built-in defaults".to_owned(), String::new())),
    }
}

pub(super) fn run(
    cli: &AnalyzeCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let config = load_config(config_path)?;
    let (key, _) =
        crate::ticket::find(cli.ticket.as_deref(), &cli.state).map_err(|e| CliError::Other(e.to_string()))?;
    if key.is_empty() {
        writeln!(out, "no change ticket was requested for this build (the environment is not controlled)")?;
        return Ok(Outcome::Pass);
    }
    let (svc, github) = step2_clients(env)?;
    let (source, content) = policy_of(&config)?;
    let sources = Sources { jira: &svc.jira, github: &github, circleci: &svc.circleci };
    let args = AnalyzeArgs { ticket: key, dry_run: cli.dry_run, approve: cli.approve, sarif_files: cli.sarif.clone() };
    let a = analyze::run(&args, &config, (&source, &content), &sources).map_err(|e| CliError::Other(e.to_string()))?;
    if let Some(path) = &cli.output {
        std::fs::write(path, a.evidence.to_bytes()).map_err(|source| CliError::File {
            what: "cannot write the evidence record",
            path: path.clone(),
            source,
        })?;
    }
    if cli.format == Format::Json {
        // One JSON document: the decision (as `decide --format json` prints
        // it), what was done, and what could not be read.
        let doc = serde_json::json!({"decision": a.decision, "actions": a.actions, "gaps": a.evidence.gaps});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc).expect("serialises"))?;
        return Ok(Outcome::Pass);
    }
    match cli.format {
        Format::Markdown => write!(out, "{}", render::markdown(&a.decision, &a.evidence))?,
        _ => write!(out, "{}", render::text(&a.decision, &a.evidence))?,
    }
    for g in &a.evidence.gaps {
        writeln!(out, "gap: {}: {}", g.what, g.why)?;
    }
    for line in &a.actions {
        writeln!(out, "{line}")?;
    }
    // Posted (or already there): the analysis is done, whatever it says.
    Ok(Outcome::Pass)
}
