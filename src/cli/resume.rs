//! `changegate resume`: for teams that run no bot, a job beside a hold waits
//! a bounded time for a person to approve the ticket, then resumes the hold.
//! Exit 0 resumed; 1 declined, closed or not approved in time; 2 could not
//! decide.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::common::CliError;
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::base::time::parse_duration;
use crate::steps::resume::{self, Ended, ResumeArgs};

#[derive(Debug, Args)]
pub(super) struct ResumeCli {
    /// The ticket [default: from the state file]
    #[arg(long, value_name = "KEY")]
    ticket: Option<String>,

    /// State written by `changegate request`
    #[arg(long, value_name = "FILE", default_value = "changegate.json")]
    state: PathBuf,

    /// The approval job to resume
    #[arg(long, value_name = "NAME")]
    hold: String,

    /// A plan hold: the stack whose recorded plan must be approved too
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,

    /// How long to wait for the approval (e.g. 30m, 2h)
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = duration)]
    timeout: std::time::Duration,

    /// How often the ticket is read again
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    interval: std::time::Duration,

    /// No changegate bot runs: trust the checkout's configuration (nothing is signed)
    #[arg(long, env = "CHANGEGATE_NO_BOT", value_parser = clap::builder::FalseyValueParser::new())]
    no_bot: bool,
}

fn duration(s: &str) -> Result<std::time::Duration, String> {
    parse_duration(s).ok_or_else(|| format!("{s:?} is not a duration such as 90s, 30m or 2h"))
}

pub(super) fn run(cli: &ResumeCli, config: Option<&Path>, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut lazy = super::ci::Lazy::default();
    let ci = super::ci::load(config, env, cli.no_bot, &mut lazy)?;
    writeln!(out, "{}", ci.describe())?;
    let key = match super::ci::find_ticket(&ci, &mut lazy, env, cli.ticket.as_deref(), &cli.state, None)? {
        super::ci::Found::Ticket(k) => k,
        // No ticket: nothing this job may resume.
        _ => {
            writeln!(out, "no change ticket is bound to this build: {} is left to a person", cli.hold)?;
            return Ok(Outcome::Deny);
        }
    };
    let [workflow_id] = env.require(["CIRCLE_WORKFLOW_ID"])?;
    let svc = lazy.get(env)?;
    let args = ResumeArgs {
        ticket: key,
        hold: cli.hold.clone(),
        workflow_id,
        stack: cli.stack.clone(),
        timeout: cli.timeout,
        interval: cli.interval,
    };
    let mut progress = |line: &str| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let ended =
        resume::run(&args, &ci.config, &svc.jira, &svc.circleci, ci.trust(), &mut progress).map_err(CliError::from)?;
    match ended {
        Ended::Resumed(line) => {
            writeln!(out, "{line}")?;
            Ok(Outcome::Pass)
        }
        Ended::Stopped(why) => {
            writeln!(out, "not resumed: {why}")?;
            Ok(Outcome::Deny)
        }
        Ended::TimedOut(why) => {
            writeln!(
                out,
                "not resumed: {} waited {}s and {}; once a person approves the ticket, approving the hold in CircleCI is safe: validate checks the ticket again",
                args.hold,
                args.timeout.as_secs(),
                why
            )?;
            Ok(Outcome::Deny)
        }
    }
}

/// A failure of the no-bot resume step stops the command.
impl From<crate::steps::resume::ResumeError> for CliError {
    fn from(e: crate::steps::resume::ResumeError) -> Self {
        CliError::Step(Box::new(e))
    }
}
