//! `changegate validate`: before plan and before apply. Exit 0 only when the
//! ticket allows exactly this deploy; 1 naming each failed condition; 2 when
//! it cannot decide.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, load_config, request::services};
use crate::env::Env;
use crate::outcome::Outcome;
use crate::request::BuildEnv;
use crate::validate::{self, ValidateArgs};

#[derive(Debug, Args)]
pub(super) struct ValidateCli {
    /// The ticket [default: from the state file]
    #[arg(long, value_name = "KEY")]
    ticket: Option<String>,

    /// State written by `changegate request`
    #[arg(long, value_name = "FILE", default_value = "changegate.json")]
    state: PathBuf,

    /// Before apply: the plan JSON that was reviewed
    #[arg(long, value_name = "FILE")]
    plan_json: Option<PathBuf>,

    /// Before apply: the binary plan that will be applied
    #[arg(long, value_name = "FILE")]
    plan_file: Option<PathBuf>,

    /// Stack of the plan (several plans per deploy)
    #[arg(long, value_name = "NAME", default_value = "default")]
    stack: String,

    /// The environment this job deploys to (checked against the ticket)
    #[arg(long)]
    environment: Option<String>,
}

pub(super) fn run(
    cli: &ValidateCli,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let config = load_config(config)?;
    let (key, state) =
        crate::ticket::find(cli.ticket.as_deref(), &cli.state).map_err(|e| CliError::Other(e.to_string()))?;
    if key.is_empty() {
        // The request found the environment uncontrolled: check that again
        // here, with this job's configuration.
        let environment = cli.environment.clone().or(state.map(|s| s.environment)).unwrap_or_default();
        if config.is_controlled(&environment) {
            writeln!(
                out,
                "FAIL: {environment} is a controlled environment but no change ticket was requested for this build"
            )?;
            return Ok(Outcome::Deny);
        }
        writeln!(out, "PASS: {environment} is not a controlled environment: no change ticket is needed")?;
        return Ok(Outcome::Pass);
    }
    let receipt_key = super::receipt_pubkey(env)?;
    let svc = services(env)?;
    let build = BuildEnv::from_env(env)?;
    let args = ValidateArgs {
        ticket: key,
        plan_json: cli.plan_json.clone(),
        plan_file: cli.plan_file.clone(),
        stack: cli.stack.clone(),
    };
    let (ticket, mut verdict) = validate::run(&args, &config, &svc, &build, receipt_key.as_ref())
        .map_err(|e| CliError::Other(e.to_string()))?;
    if let (Some(want), Some(record)) = (&cli.environment, &ticket.record)
        && *want != record.binding.environment
    {
        verdict.pass = false;
        verdict.failures.push(validate::Failure {
            code: "binding_mismatch",
            message: format!(
                "environment: the ticket allows {:?}, this job deploys to {want:?}",
                record.binding.environment
            ),
        });
    }
    out.write_all(validate::render(&ticket, &verdict, cli.plan_json.is_some()).as_bytes())?;
    // An emergency passes only once it is on the record with its
    // retrospective: the bot may be down, so the job records it itself.
    if let (true, Some(grant)) = (verdict.pass, &verdict.emergency) {
        let (retro, done) = crate::emergency::record_grant(&svc.jira, &config, &ticket, grant)
            .map_err(|e| CliError::Other(format!("the emergency could not be recorded, so it does not pass: {e}")))?;
        for line in done {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "retrospective: {retro}")?;
    }
    Ok(if verdict.pass { Outcome::Pass } else { Outcome::Deny })
}
