//! `changegate setup`: bring the Jira site (and, in their own
//! subcommands, CircleCI and GitHub) to what a gated deploy needs. Without
//! `--apply` it only reads and prints the plan; with it, it performs the
//! plan, writes the ids into the configuration and checks the result as
//! `config check` does. Exit 0 ready, 1 something is left to do (by
//! `--apply` or by hand), 2 blocked (a missing permission, a refused
//! project) or could not read. See docs/setup.md.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{CliError, ca_bundle, load_config};
use crate::env::Env;
use crate::http::RetryPolicy;
use crate::jira::{Jira, JiraSettings};
use crate::outcome::Outcome;
use crate::setup::jira::{Needs, apply, plan, read};
use crate::setup::{JiraIds, write_config};

#[derive(Debug, Subcommand)]
pub(super) enum SetupCommand {
    /// Read the Jira site and print (or with --apply, make) what the change project needs
    Jira(JiraSetupArgs),
}

#[derive(Debug, Args)]
pub(super) struct JiraSetupArgs {
    /// The change project's key [default: [jira] project of the configuration]
    #[arg(long, value_name = "KEY")]
    project: Option<String>,

    /// Make what is missing (otherwise only read and print the plan)
    #[arg(long)]
    apply: bool,

    /// The group whose members may Approve and Decline
    #[arg(long, value_name = "NAME", default_value = "change-approvers")]
    approvers_group: String,

    /// Where --apply writes the ids [default: the configuration read, or ./changegate.toml]
    #[arg(long, value_name = "FILE")]
    write_config: Option<PathBuf>,
}

pub(super) fn run(
    command: &SetupCommand,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    match command {
        SetupCommand::Jira(args) => run_jira(args, config, env, out),
    }
}

fn run_jira(
    args: &JiraSetupArgs,
    explicit: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut config = load_config(explicit)?;
    match &config.source {
        Some(p) => writeln!(out, "configuration: {}", p.display())?,
        None => writeln!(out, "configuration: none found, built-in defaults")?,
    }
    if let Some(p) = &args.project {
        config.jira.project.clone_from(p);
    }
    let jira = Jira::new(&JiraSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    let needs = Needs::from_config(&config, &args.approvers_group);
    if !args.apply {
        let snapshot = read(&jira, &needs)?;
        let planned = plan(&needs, &snapshot);
        planned.plan.render(out)?;
        if !planned.ops.is_empty() {
            writeln!(out, "run again with --apply to make it so")?;
        }
        return Ok(planned.plan.outcome());
    }
    let applied = apply(&jira, &needs)?;
    for line in &applied.performed {
        writeln!(out, "applied: {line}")?;
    }
    if applied.performed.is_empty() {
        writeln!(out, "applied: nothing, the site already had everything this token can make")?;
    }
    applied.last.plan.render(out)?;
    let mut outcome = applied.last.plan.outcome();
    if applied.snapshot.project.is_none() || outcome == Outcome::Undecided {
        return Ok(outcome);
    }
    let target = args
        .write_config
        .clone()
        .or_else(|| explicit.map(Path::to_path_buf))
        .or_else(|| config.source.clone())
        .unwrap_or_else(|| PathBuf::from("changegate.toml"));
    let ids = JiraIds {
        project: needs.project.clone(),
        issue_type: needs.issue_type.clone(),
        fields: applied.last.field_ids.clone(),
        approvers: Default::default(),
    };
    let changed = write_config(&target, &ids).map_err(|e| CliError::Other(e.to_string()))?;
    if changed.is_empty() {
        writeln!(out, "config: {} already names every id", target.display())?;
    } else {
        writeln!(out, "config: wrote {} to {}", changed.join(", "), target.display())?;
    }
    // What `config check` checks, on the configuration just written.
    let written = load_config(Some(&target))?;
    let problems = super::config_check::check_site(&written, &jira, None)?;
    if problems.is_empty() {
        writeln!(out, "check: site {} matches {}", jira.base_url(), target.display())?;
    } else {
        for p in &problems {
            writeln!(out, "check: problem: {p}")?;
        }
        outcome = Outcome::Deny;
    }
    Ok(outcome)
}
