//! `changegate validate`: before plan and before apply. Exit 0 only when the
//! ticket allows exactly this deploy; 1 naming each failed condition; 2 when
//! it cannot decide.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::common::{CliError, JunitOut};
use crate::base::env::Env;
use crate::base::junit::{Case, Suite};
use crate::base::outcome::Outcome;
use crate::clients::Clients;
use crate::config::env_key;
use crate::steps::request::BuildEnv;
use crate::steps::validate::{self, ValidateArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Stage {
    /// Before `terraform plan`
    Plan,
    /// Before `terraform apply`: with the plan files
    Apply,
}

#[derive(Debug, Args)]
pub(super) struct ValidateCli {
    /// The ticket [default: from the state file, else the one bound to this pipeline]
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

    /// Before apply: render the JSON from --plan-file with `terraform show -json` or
    /// `tofu show -json` (after `init`) and compare it with the reviewed one
    #[arg(long, value_enum, value_name = "TOOL", requires = "plan_file", conflicts_with = "plan_json")]
    render_with: Option<super::common::RenderWith>,

    /// Stack of the plan (several plans per deploy)
    #[arg(long, value_name = "NAME", default_value = "default")]
    stack: String,

    /// The environment this job deploys to (checked against the ticket)
    #[arg(long)]
    environment: String,

    /// Where in the deploy this runs [default: apply with plan files, else
    /// before plan]. Only `plan` accepts a ticket whose action is plan: without
    /// it the job is taken to deploy
    #[arg(long, value_enum)]
    stage: Option<Stage>,

    /// No changegate bot runs: trust the checkout's configuration (nothing is signed)
    #[arg(long, env = "CHANGEGATE_NO_BOT", value_parser = clap::builder::FalseyValueParser::new())]
    no_bot: bool,

    /// Also write a JUnit XML report to FILE: a test case per condition checked, a failure per
    /// condition that does not hold (for CircleCI's store_test_results)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

pub(super) fn run(
    cli: &ValidateCli,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut junit = JunitOut::new(cli.junit.as_deref(), "validate");
    let result = validate(cli, config, env, out, &mut junit);
    junit.finish(result)
}

/// A suite of one case: what `validate` found before it could judge a ticket.
fn one_case(name: &str, case: Case) -> Suite {
    Suite::new(format!("changegate validate: {name}"), vec![case])
}

fn validate(
    cli: &ValidateCli,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    junit: &mut JunitOut,
) -> Result<Outcome, CliError> {
    let environment = env_key(&cli.environment);
    if environment.is_empty() {
        return Err(CliError::Usage("--environment cannot be empty".into()));
    }
    let mut lazy = super::ci::Lazy::default();
    let ci = super::ci::load(config, env, cli.no_bot, &mut lazy)?;
    writeln!(out, "{}", ci.describe())?;
    let named = crate::steps::ticket::named(cli.ticket.as_deref(), &cli.state);
    if !ci.config.is_controlled(&environment) {
        return not_controlled(&ci, &mut lazy, env, named.as_deref(), &environment, out, junit);
    }
    let svc = lazy.get(env)?;
    let build = BuildEnv::from_env(env)?;
    let key = match named {
        Some(k) => k,
        None => match bound_ticket(&ci, svc, &build, &environment, out, junit)? {
            Some(k) => k,
            None => return Ok(Outcome::Deny),
        },
    };
    let args = validate_args(cli, key, environment)?;
    judge(cli, &ci, svc, &build, &args, out, junit)
}

/// An environment that is not controlled passes: no change ticket is
/// needed. But a job that names a controlled environment's ticket while
/// saying it deploys elsewhere contradicts itself: refuse rather than guess.
fn not_controlled(
    ci: &super::ci::Ci,
    lazy: &mut super::ci::Lazy,
    env: &Env,
    named: Option<&str>,
    environment: &str,
    out: &mut dyn Write,
    junit: &mut JunitOut,
) -> Result<Outcome, CliError> {
    if let Some(k) = named {
        let svc = lazy.get(env)?;
        let issue = svc.jira.issue(k, &["status"], &[crate::model::binding::RECORD_PROPERTY])?;
        let theirs = issue
            .properties
            .get(crate::model::binding::RECORD_PROPERTY)
            .and_then(crate::model::binding::TicketRecord::from_value)
            .map(|r| r.binding.environment);
        if let Some(e) = theirs.filter(|e| ci.config.is_controlled(e)) {
            let why = format!(
                "environment: this job says it deploys to {environment:?}, but its ticket {k} is for {e:?}, a controlled environment"
            );
            writeln!(out, "FAIL: binding_mismatch: {why}")?;
            junit.push(one_case(
                "binding",
                Case::failed("validate", "binding", "binding_mismatch", format!("binding_mismatch: {why}"), &why),
            ));
            return Ok(Outcome::Deny);
        }
    }
    let why = format!("{environment} is not a controlled environment: no change ticket is needed");
    writeln!(out, "PASS: {why}")?;
    junit.push(one_case("not controlled", Case::passed("validate", "controlled environment").with_output(why)));
    Ok(Outcome::Pass)
}

/// The ticket bound to this pipeline when the state file names none (it
/// is a CI job's: a controlled environment is controlled whatever it
/// says); `None`, reported as a failure, when no ticket is bound.
fn bound_ticket(
    ci: &super::ci::Ci,
    svc: &Clients,
    build: &BuildEnv,
    environment: &str,
    out: &mut dyn Write,
    junit: &mut JunitOut,
) -> Result<Option<String>, CliError> {
    let pipeline = svc.circleci.workflow(&build.workflow_id).map_err(crate::steps::request::RequestError::from)?;
    let bound =
        crate::steps::ticket::bound_to_pipeline(&svc.jira, &ci.config.jira, &pipeline.pipeline_id, environment)?;
    match bound.first() {
        Some(k) => {
            writeln!(out, "the state file names no ticket; {k} is bound to this pipeline")?;
            Ok(Some(k.clone()))
        }
        None => {
            let why = format!(
                "{environment} is a controlled environment but no change ticket is bound to this pipeline: run `changegate request` first"
            );
            writeln!(out, "FAIL: {why}")?;
            junit.push(one_case(
                "change ticket",
                Case::failed("validate", "change ticket", "ticket_missing", &why, &why),
            ));
            Ok(None)
        }
    }
}

/// What to judge: the ticket's binding at this stage, with the plan JSON
/// rendered from the plan file when asked.
fn validate_args(cli: &ValidateCli, ticket: String, environment: String) -> Result<ValidateArgs, CliError> {
    let applying = match cli.stage {
        Some(Stage::Apply) => true,
        Some(Stage::Plan) => false,
        None => cli.plan_json.is_some() || cli.render_with.is_some(),
    };
    let rendered_json = match (cli.render_with, &cli.plan_file) {
        (Some(tool), Some(file)) => Some(super::common::render_plan(tool, file)?.json),
        _ => None,
    };
    Ok(ValidateArgs {
        ticket,
        plan_json: cli.plan_json.clone(),
        plan_file: cli.plan_file.clone(),
        rendered_json,
        stack: cli.stack.clone(),
        environment,
        applying,
        deploys: cli.stage != Some(Stage::Plan),
    })
}

/// The ticket judged and the verdict printed; a passing emergency is put
/// on the record with its retrospective first (the bot may be down, so the
/// job records it itself).
fn judge(
    cli: &ValidateCli,
    ci: &super::ci::Ci,
    svc: &Clients,
    build: &BuildEnv,
    args: &ValidateArgs,
    out: &mut dyn Write,
    junit: &mut JunitOut,
) -> Result<Outcome, CliError> {
    let (ticket, verdict) = validate::run(args, &ci.config, svc, build, ci.trust()).map_err(CliError::from)?;
    out.write_all(
        validate::render(&ticket, &verdict, cli.plan_json.is_some() || cli.render_with.is_some()).as_bytes(),
    )?;
    junit.push(verdict.to_junit(&ticket.key, &cli.stack));
    // An emergency passes only once it is on the record with its
    // retrospective: the bot may be down, so the job records it itself.
    if let (true, Some(grant)) = (verdict.pass, &verdict.emergency) {
        let (retro, done) = crate::steps::emergency::record_grant(&svc.jira, &ci.config, &ticket, grant)
            .map_err(|e| CliError::Stopped(format!("the emergency could not be recorded, so it does not pass: {e}")))?;
        for line in done {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "retrospective: {retro}")?;
    }
    Ok(if verdict.pass { Outcome::Pass } else { Outcome::Deny })
}

/// A failure of reading what the validate step judges stops the command.
impl From<crate::steps::validate::ValidateError> for CliError {
    fn from(e: crate::steps::validate::ValidateError) -> Self {
        CliError::Step(Box::new(e))
    }
}
