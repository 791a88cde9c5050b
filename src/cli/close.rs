//! `changegate close`: records the deploy's outcome on its ticket. Exit 0
//! once recorded (a repeat changes nothing); 1 when a deploy succeeded on a
//! ticket that did not allow it; 2 when it cannot record.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::ci::services;
use super::common::{CliError, load_config};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::steps::close::{self, CloseAction, CloseArgs, DeployOutcome};
use crate::steps::request::BuildEnv;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutcomeArg {
    Success,
    Failure,
    Canceled,
}

#[derive(Debug, Args)]
pub(super) struct CloseCli {
    /// The ticket [default: from the state file]
    #[arg(long, value_name = "KEY")]
    ticket: Option<String>,

    /// State written by `changegate request`
    #[arg(long, value_name = "FILE", default_value = "changegate.json")]
    state: PathBuf,

    /// The outcome [default: read from the deploy job's status]
    #[arg(long, value_enum)]
    outcome: Option<OutcomeArg>,

    /// Name of the deploy job in this workflow
    #[arg(long, value_name = "NAME", default_value = "apply")]
    deploy_job: String,
}

pub(super) fn run(cli: &CloseCli, config: Option<&Path>, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let config = load_config(config)?;
    let (key, _) = crate::steps::ticket::find(cli.ticket.as_deref(), &cli.state).map_err(CliError::from)?;
    if key.is_empty() {
        writeln!(out, "no change ticket for this deploy (environment not controlled): nothing to close")?;
        return Ok(Outcome::Pass);
    }
    let svc = services(env)?;
    let build = BuildEnv::from_env(env)?;
    let outcome = match cli.outcome {
        Some(OutcomeArg::Success) => DeployOutcome::Success,
        Some(OutcomeArg::Failure) => DeployOutcome::Failure,
        Some(OutcomeArg::Canceled) => DeployOutcome::Canceled,
        None => {
            let jobs = svc.circleci.workflow_jobs(&build.workflow_id).map_err(CliError::from)?;
            let job = jobs.iter().find(|j| j.name == cli.deploy_job).ok_or_else(|| {
                CliError::Usage(format!("the deploy job {:?} is not in workflow {}", cli.deploy_job, build.workflow_id))
            })?;
            close::outcome_of(&job.status).ok_or_else(|| {
                CliError::Invalid(format!(
                    "the deploy job {:?} is {}: it has not finished, so there is no outcome to record",
                    job.name, job.status
                ))
            })?
        }
    };
    let args = CloseArgs {
        key: &key,
        outcome,
        workflow_id: &build.workflow_id,
        deploy_job: &cli.deploy_job,
        who: build.username.as_deref(),
        build_url: build.build_url.as_deref(),
    };
    let closed = close::run(&args, &config, &svc)?;
    for l in &closed.lines {
        writeln!(out, "{l}")?;
    }
    if let CloseAction::Unauthorized { status } = &closed.action {
        writeln!(out, "FAIL: the deploy succeeded while {key} was {status}: recorded as Failed")?;
        return Ok(Outcome::Deny);
    }
    Ok(Outcome::Pass)
}
