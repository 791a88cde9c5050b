//! `changegate request`: step 1 in CI. Finds the ticket bound to this build
//! or creates it, writes `changegate.json` for later jobs, and exits 0 when
//! the request is in place (approved or waiting), 1 when it is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::common::CliError;
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::model::binding::DeployAction;
use crate::steps::request::{self, BuildEnv, RequestArgs, RequestOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Action {
    /// Only plan
    Plan,
    /// Apply the change
    Apply,
}

#[derive(Debug, Args)]
pub(super) struct RequestCli {
    /// Target environment (only controlled environments need a ticket)
    #[arg(long)]
    environment: String,

    /// Name of the job that built the artifact (bound to the ticket)
    #[arg(long, value_name = "NAME")]
    build_job: String,

    /// Deploy action
    #[arg(long, value_enum, default_value_t = Action::Apply)]
    action: Action,

    /// Approval job that waits for the ticket (resumed when it is approved)
    #[arg(long, value_name = "NAME")]
    hold: Option<String>,

    /// << pipeline.id >> (orbs cannot read pipeline values themselves)
    #[arg(long, value_name = "ID")]
    pipeline_id: Option<String>,

    /// << pipeline.number >>
    #[arg(long, value_name = "N")]
    pipeline_number: Option<u64>,

    /// Use this existing ticket (checked against this build)
    #[arg(long, value_name = "KEY")]
    ticket: Option<String>,

    /// Where to write the state for later jobs
    #[arg(long, value_name = "FILE", default_value = "changegate.json")]
    output: PathBuf,

    /// Ticket summary [default: Deploy REPO@SHA to ENV (ACTION)]
    #[arg(long)]
    summary: Option<String>,

    /// Why the change is made
    #[arg(long)]
    justification: Option<String>,

    /// How to undo the change
    #[arg(long)]
    rollback_plan: Option<String>,

    /// Component or service deployed
    #[arg(long)]
    service: Option<String>,

    /// Ask for an emergency change: only a member of the break-glass group
    /// may grant it in Jira ("Emergency approve"); a retrospective follows
    #[arg(long, requires = "reason")]
    emergency: bool,

    /// Why the emergency cannot wait (recorded on the ticket)
    #[arg(long, value_name = "TEXT", requires = "emergency")]
    reason: Option<String>,

    /// No changegate bot runs: trust the checkout's configuration (nothing is signed; recorded on the ticket)
    #[arg(long, env = "CHANGEGATE_NO_BOT", value_parser = clap::builder::FalseyValueParser::new())]
    no_bot: bool,
}

/// `path` as a path of the repository checked out around `cwd` (the
/// nearest folder with `.git`, else `cwd`), symlinks resolved; `None` for a
/// file outside it.
fn repo_relative(path: &Path, cwd: &Path) -> Option<String> {
    let cwd = cwd.canonicalize().ok()?;
    let root = cwd.ancestors().find(|d| d.join(".git").exists()).unwrap_or(&cwd).to_path_buf();
    let file = cwd.join(path).canonicalize().ok()?;
    let inside = file.strip_prefix(&root).ok()?;
    crate::config::approval::repo_path(&inside.to_string_lossy())
}

/// Every variable a request of a controlled environment reads.
const NEEDED: [&str; 5] = ["JIRA_BASE_URL", "JIRA_USER_EMAIL", "JIRA_API_TOKEN", "CIRCLE_TOKEN", "CIRCLE_WORKFLOW_ID"];

pub(super) fn run(
    cli: &RequestCli,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    // A missing variable is reported with every other one missing, in one
    // run, not one batch per step.
    run_steps(cli, config, env, out).map_err(|e| match e {
        CliError::Env(_) => match env.require(NEEDED) {
            Err(all) => CliError::Env(all),
            Ok(_) => e,
        },
        e => e,
    })
}

fn run_steps(cli: &RequestCli, config: Option<&Path>, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let environment = crate::config::env_key(&cli.environment);
    if environment.is_empty() {
        return Err(CliError::Usage("--environment cannot be empty".into()));
    }
    let mut lazy = super::ci::Lazy::default();
    let ci = super::ci::load(config, env, cli.no_bot, &mut lazy)?;
    writeln!(out, "{}", ci.describe())?;
    let config = ci.config;
    let args = RequestArgs {
        environment,
        action: match cli.action {
            Action::Plan => DeployAction::Plan,
            Action::Apply => DeployAction::Apply,
        },
        build_job: cli.build_job.clone(),
        hold: cli.hold.clone(),
        pipeline_id: cli.pipeline_id.clone(),
        pipeline_number: cli.pipeline_number,
        ticket: cli.ticket.clone(),
        summary: cli.summary.clone(),
        justification: cli.justification.clone(),
        rollback_plan: cli.rollback_plan.clone(),
        service: cli.service.clone(),
        emergency: cli.reason.clone().filter(|_| cli.emergency),
        no_bot: cli.no_bot,
    };
    let outcome = if config.is_controlled(&args.environment) {
        let cwd = std::env::current_dir().map_err(CliError::Output)?;
        let mut build = BuildEnv::from_env(env)?;
        build.config_path = config.source.as_deref().and_then(|p| repo_relative(p, &cwd));
        let svc = lazy.get(env)?;
        request::run(&args, &build, &config, svc, &cwd)?
    } else {
        request::run_uncontrolled(&args)
    };
    out.write_all(request::render(&outcome).as_bytes())?;
    match &outcome {
        RequestOutcome::InPlace { state, .. } | RequestOutcome::NotControlled(state) => {
            let text = serde_json::to_string_pretty(state).expect("serialises") + "\n";
            std::fs::write(&cli.output, text).map_err(|source| CliError::File {
                what: "cannot write the state file",
                path: cli.output.clone(),
                source,
            })?;
            Ok(Outcome::Pass)
        }
        RequestOutcome::Refused { .. } => Ok(Outcome::Deny),
    }
}

#[cfg(test)]
mod tests {
    use super::repo_relative;

    #[test]
    fn the_recorded_configuration_path_is_the_repositorys() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("infra/deploy")).unwrap();
        std::fs::write(root.join("infra/changegate.toml"), "").unwrap();
        std::fs::write(root.join("infra/deploy/gate.toml"), "").unwrap();
        let job = root.join("infra");
        // A job working in a sub-folder: the path is from the repository's root.
        assert_eq!(repo_relative("changegate.toml".as_ref(), &job).as_deref(), Some("infra/changegate.toml"));
        assert_eq!(repo_relative("./deploy/gate.toml".as_ref(), &job).as_deref(), Some("infra/deploy/gate.toml"));
        let absolute = root.join("infra/changegate.toml");
        assert_eq!(repo_relative(&absolute, &job).as_deref(), Some("infra/changegate.toml"));
        // Through a symlink: the file it points at.
        std::os::unix::fs::symlink("deploy/gate.toml", root.join("infra/link.toml")).unwrap();
        assert_eq!(repo_relative("link.toml".as_ref(), &job).as_deref(), Some("infra/deploy/gate.toml"));
        // Outside the checkout: nothing to watch.
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("x.toml"), "").unwrap();
        assert_eq!(repo_relative(&elsewhere.path().join("x.toml"), &job), None);
    }
}
