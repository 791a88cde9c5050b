//! `changegate setup`: prints what a target (the Jira site, the CircleCI
//! organisation, the GitHub token) needs and has (a plan), and with
//! `--apply` makes what it can; for Jira it then writes the ids into the
//! configuration and checks the result as `config check` does. Exit 0 when the target is ready, 1 when
//! something is still to do (by `--apply` or by a person), 2 when this token
//! may not do what is needed or the target cannot be read. How to run it:
//! `docs/setup.md`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::common::{CliError, ca_bundle, load_config};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::base::progress::Progress;
use crate::clients::circleci::{CircleCi, CircleCiSettings};
use crate::clients::github::{GitHub, GitHubSettings};
use crate::clients::http::{RetryPolicy, Secret};
use crate::clients::jira::{Jira, JiraSettings};
use crate::steps::setup::jira::apply::apply;
use crate::steps::setup::jira::read::read;
use crate::steps::setup::jira::{Needs, plan};
use crate::steps::setup::{JiraIds, circleci, github, write_config};

#[derive(Debug, Subcommand)]
pub(super) enum SetupCommand {
    /// Read the Jira site and print (or with --apply, make) what the change project needs (an admin's JIRA_* token)
    Jira(JiraSetupArgs),
    /// Check or create the CircleCI contexts, their restrictions and the bot's webhook (CIRCLE_TOKEN)
    Circleci(CircleciArgs),
    /// Check the GitHub token and the branch protection the review rules rely on (read-only, GITHUB_TOKEN)
    Github(GithubArgs),
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

    /// The bot's address: an admin webhook posts the project's issue events to URL/webhooks/jira,
    /// signed with the last value of CHANGEGATE_JIRA_WEBHOOK_SECRETS
    #[arg(long, value_name = "URL")]
    bot_url: Option<String>,

    /// Map an approver's Jira account to their numeric GitHub id (checked against GitHub with
    /// GITHUB_TOKEN; --apply writes it into [jira.approvers]); repeatable
    #[arg(long, value_name = "ACCOUNT=GITHUB_ID")]
    approver: Vec<String>,

    /// Re-send the webhook's secret (it cannot be read back, so it is otherwise never re-sent)
    #[arg(long, requires = "bot_url")]
    rotate_secret: bool,
}

/// The admin webhook the bot needs, when `--bot-url` names the bot: HTTPS,
/// or plain HTTP to this machine (a bot beside a test site).
fn jira_webhook_needed(
    args: &JiraSetupArgs,
    project: &str,
    env: &Env,
) -> Result<Option<crate::steps::setup::jira_webhook::Needed>, CliError> {
    use crate::steps::setup::jira_webhook::{Needed, SECRETS_VAR};
    let Some(url) = &args.bot_url else { return Ok(None) };
    let url = url.trim();
    let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|p| url.starts_with(p));
    let https = url.starts_with("https://") && url.len() > "https://".len();
    if !(https || local) {
        return Err(CliError::Usage(format!(
            "--bot-url must be the bot's https:// address (deliveries carry ticket data), not {url:?}"
        )));
    }
    let secret =
        env.get(SECRETS_VAR).and_then(|v| v.split(',').map(str::trim).rfind(|s| !s.is_empty())).map(Secret::new);
    Ok(Some(Needed::new(project, url, secret, args.rotate_secret)))
}

/// Checks each `--approver ACCOUNT=ID` against GitHub: the id must be a
/// GitHub account. Returns the mapping, and prints who each id is.
fn check_approvers(
    args: &JiraSetupArgs,
    env: &Env,
    out: &mut dyn Write,
) -> Result<std::collections::BTreeMap<String, u64>, CliError> {
    let mut map = std::collections::BTreeMap::new();
    if args.approver.is_empty() {
        return Ok(map);
    }
    let github = GitHub::new(&GitHubSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    for pair in &args.approver {
        let parsed = pair.split_once('=').and_then(|(a, id)| Some((a.trim(), id.trim().parse::<u64>().ok()?)));
        let Some((account, id)) = parsed.filter(|(a, _)| !a.is_empty()) else {
            return Err(CliError::Usage(format!(
                "--approver {pair:?}: write the Jira account id, =, and the numeric GitHub id (712020:abc=583231)"
            )));
        };
        let answer = github.get_answer(&format!("/user/{id}"), &[]).map_err(CliError::from)?;
        match answer.status {
            200 => {
                let user: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
                let login = user["login"].as_str().unwrap_or("?");
                let kind = user["type"].as_str().unwrap_or("User");
                if kind != "User" {
                    return Err(CliError::Invalid(format!(
                        "--approver {account}={id}: GitHub id {id} is {login}, a {kind} account, not a person"
                    )));
                }
                writeln!(out, "approver: {account} = GitHub {login} (id {id})")?;
            }
            404 => {
                return Err(CliError::Invalid(format!(
                    "--approver {account}={id}: GitHub has no account with id {id}"
                )));
            }
            status => {
                return Err(CliError::Invalid(format!(
                    "--approver {account}={id}: GitHub answered HTTP {status} to GET /user/{id}"
                )));
            }
        }
        map.insert(account.to_owned(), id);
    }
    Ok(map)
}

/// Adds the webhook's step to `plan`, with the admin-screen settings when a
/// person has to make it.
fn webhook_step(
    plan: &mut crate::steps::setup::Plan,
    needed: Option<&crate::steps::setup::jira_webhook::Needed>,
    steps: Vec<crate::steps::setup::Step>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use crate::steps::setup::{Action, Step, jira_webhook};
    let Some(needed) = needed else {
        plan.push(Step::new(
            jira_webhook::KIND,
            "the bot's Jira webhook",
            Action::Manual,
            "pass --bot-url https://<the bot> to register it (with the bot's secret in CHANGEGATE_JIRA_WEBHOOK_SECRETS), or make it on the admin screen (docs/setup.md)",
        ));
        return Ok(());
    };
    let by_hand = steps.iter().any(|s| matches!(s.action, Action::Manual | Action::Blocked { .. }));
    for s in steps {
        plan.push(s);
    }
    if by_hand {
        for line in jira_webhook::admin_screen(needed) {
            writeln!(out, "webhook by hand: {line}")?;
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(super) struct CircleciArgs {
    /// The CircleCI organization: its slug (gh/acme) or id [default: [lock] owner_slug]
    #[arg(long, value_name = "ORG")]
    org: Option<String>,

    /// The project that deploys: its slug (gh/acme/web), or its name in --org
    #[arg(long, value_name = "PROJECT")]
    project: String,

    /// The bot's HTTPS address: the webhook delivers to URL/webhooks/circleci
    #[arg(long, value_name = "URL")]
    bot_url: Option<String>,

    /// No changegate bot runs: no webhook
    #[arg(long, env = "CHANGEGATE_NO_BOT", value_parser = clap::builder::FalseyValueParser::new())]
    no_bot: bool,

    /// The security group's name [default: the team slug of [lock] team]
    #[arg(long, value_name = "NAME")]
    group: Option<String>,

    /// The security group's id (instead of looking its name up among the organization's groups)
    #[arg(long, value_name = "ID", conflicts_with = "group")]
    group_id: Option<String>,

    /// The branch the production contexts' expression admits [default: the project's default branch]
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,

    /// Create and change what the plan says (then read again and report what stands)
    #[arg(long)]
    apply: bool,
}

#[derive(Debug, Args)]
pub(super) struct GithubArgs {
    /// The repository: owner/name
    #[arg(long, value_name = "OWNER/NAME")]
    repo: String,

    /// The deploy branch [default: the first of [review] branches, else the repository's default branch]
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,
}

pub(super) fn run(
    command: &SetupCommand,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<Outcome, CliError> {
    match command {
        SetupCommand::Jira(args) => run_jira(args, config, env, out, progress),
        SetupCommand::Circleci(args) => run_circleci(args, config, env, out, progress),
        SetupCommand::Github(args) => run_github(args, config, env, out, progress),
    }
}

/// The webhook's delivery URL for the bot's address: HTTPS only (CircleCI
/// delivers nowhere else), ending in `/webhooks/circleci`.
fn webhook_url(bot_url: &str) -> Result<String, CliError> {
    let url = bot_url.trim().trim_end_matches('/');
    let host = url.strip_prefix("https://").unwrap_or_default();
    if host.is_empty() || host.starts_with('/') || url.contains(char::is_whitespace) {
        return Err(CliError::Usage(format!(
            "--bot-url must be the bot's https:// address (CircleCI delivers webhooks over HTTPS only), not {bot_url:?}"
        )));
    }
    Ok(if url.ends_with(circleci::WEBHOOK_PATH) { url.to_owned() } else { format!("{url}{}", circleci::WEBHOOK_PATH) })
}

fn run_circleci(
    args: &CircleciArgs,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<Outcome, CliError> {
    // Refused before anything is read.
    let url = match (&args.bot_url, args.no_bot) {
        (_, true) => None,
        (Some(u), false) => Some(webhook_url(u)?),
        (None, false) => None,
    };
    let config = load_config(config)?;
    let lock = &config.lock;
    let org = args.org.clone().or_else(|| lock.owner_slug.clone()).ok_or_else(|| {
        CliError::Usage("name the CircleCI organization: --org gh/acme (or its id), or [lock] owner_slug".into())
    })?;
    // The newest of the bot's secrets (the last listed) signs the webhook.
    let secret = env
        .get(circleci::SECRET_VAR)
        .and_then(|v| v.split(',').map(str::trim).rfind(|s| !s.is_empty()))
        .map(Secret::new);
    let group = match (&args.group_id, &args.group, &lock.team) {
        (Some(id), _, _) => circleci::GroupRef::Id(id.trim().to_owned()),
        (None, Some(name), _) => circleci::GroupRef::Named(name.trim().to_owned()),
        (None, None, Some((_, slug))) => circleci::GroupRef::Named(slug.clone()),
        (None, None, None) => circleci::GroupRef::Unnamed,
    };
    let production_contexts = if lock.contexts.is_empty() {
        vec![circleci::DEFAULT_PRODUCTION_CONTEXT.to_owned()]
    } else {
        lock.contexts.clone()
    };
    let needs = circleci::Needs {
        production_contexts,
        ci_context: lock.ci_context.clone().unwrap_or_else(|| circleci::DEFAULT_CI_CONTEXT.to_owned()),
        github_app: lock.github_app,
        group,
        branch: args.branch.clone(),
        webhook: match (args.no_bot, url) {
            (true, _) => circleci::WebhookNeed::NoBot,
            (false, None) => circleci::WebhookNeed::NoUrl,
            (false, Some(url)) => circleci::WebhookNeed::Url { url, secret_set: secret.is_some() },
        },
        lock_owner: lock.owner_slug.clone(),
        lock_contexts: lock.contexts.clone(),
    };
    let ci = CircleCi::new(&CircleCiSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    let slug = circleci::project_slug(&org, &args.project);
    let read = |ci: &CircleCi| {
        progress.say(format_args!("setup circleci: reading {org}, {slug}, its contexts, groups and webhooks"));
        circleci::read(ci, &needs, &org, &slug).map_err(CliError::from)
    };
    let snap = read(&ci)?;
    let plan = circleci::plan(&needs, &snap);
    plan.render(out)?;
    if !args.apply || plan.pending().next().is_none() {
        if plan.pending().next().is_some() && plan.blockers().next().is_none() {
            writeln!(out, "run again with --apply to create and change what the plan says")?;
        }
        return Ok(plan.outcome());
    }
    if plan.blockers().next().is_some() {
        // Half a lock is worse than none: a production context made without
        // its restriction looks ready to be given credentials.
        writeln!(out, "nothing applied: the plan has blocked steps; unblock them first")?;
        return Ok(plan.outcome());
    }
    writeln!(out, "applying:")?;
    progress.say(format_args!("setup circleci: applying {} step(s)", plan.pending().count()));
    let applied = circleci::apply(&ci, &needs, &snap, secret.as_ref());
    for line in &applied.done {
        writeln!(out, "  {line}")?;
    }
    for r in &applied.refused {
        writeln!(out, "  refused: {} {}: {}", r.kind, r.name, r.message)?;
    }
    for s in &applied.skipped {
        writeln!(out, "  not tried: {s}")?;
    }
    if let Some(e) = applied.failed {
        return Err(CliError::Stopped(format!("applying stopped: {e}")));
    }
    writeln!(out, "after applying:")?;
    let after = circleci::with_refusals(circleci::plan(&needs, &read(&ci)?), &applied.refused);
    after.render(out)?;
    Ok(after.outcome())
}

fn run_github(
    args: &GithubArgs,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<Outcome, CliError> {
    let repo = args.repo.trim();
    if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
        return Err(CliError::Usage(format!("--repo must be owner/name, not {repo:?}")));
    }
    let config = load_config(config)?;
    let needs = github::Needs {
        repo: repo.to_owned(),
        branch: args.branch.clone().or_else(|| config.review.branches.first().cloned()),
        min_approvals: config.review.min_approvals,
    };
    let gh = GitHub::new(&GitHubSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    progress.say(format_args!("setup github: reading {repo}, its branch protection and rulesets"));
    let snap = github::read(&gh, &needs).map_err(CliError::from)?;
    let plan = github::plan(&needs, &snap);
    plan.render(out)?;
    Ok(plan.outcome())
}

fn run_jira(
    args: &JiraSetupArgs,
    explicit: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<Outcome, CliError> {
    let mut config = load_config(explicit)?;
    match &config.source {
        Some(p) => writeln!(out, "configuration: {}", p.display())?,
        None => writeln!(out, "configuration: none found, built-in defaults")?,
    }
    if let Some(p) = &args.project {
        config.jira.project.clone_from(p);
    }
    let hook = jira_webhook_needed(args, &config.jira.project, env)?;
    let approvers = check_approvers(args, env, out)?;
    let jira = Jira::new(&JiraSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    let mut needs = Needs::from_config(&config, &args.approvers_group);
    needs.approver_ids.extend(approvers.clone());
    progress.say(format_args!(
        "setup jira: reading {}: project {}, its issue types, fields, workflows, screens and groups",
        jira.base_url(),
        needs.project
    ));
    if !args.apply {
        return dry_run(&jira, &needs, hook.as_ref(), out);
    }
    progress.say(format_args!("setup jira: making what is missing on {}", jira.base_url()));
    let mut applied = apply(&jira, &needs)?;
    progress.say(format_args!("setup jira: applied {} change(s); checking the result", applied.performed.len()));
    for line in &applied.performed {
        writeln!(out, "applied: {line}")?;
    }
    if applied.snapshot.project.is_some() {
        apply_webhook(&jira, hook.as_ref(), &mut applied, out)?;
    }
    if applied.performed.is_empty() {
        writeln!(out, "applied: nothing, the site already had everything this token can make")?;
    }
    applied.last.plan.render(out)?;
    let outcome = applied.last.plan.outcome();
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
        approvers,
    };
    let changed = write_config(&target, &ids).map_err(CliError::from)?;
    if changed.is_empty() {
        writeln!(out, "config: {} already names every id", target.display())?;
    } else {
        writeln!(out, "config: wrote {} to {}", changed.join(", "), target.display())?;
    }
    if check_written(&jira, &target, &needs.project, out)? { Ok(outcome) } else { Ok(Outcome::Deny) }
}

/// Without `--apply`: what setup would do on the site, the webhook's step
/// included once the project exists, and nothing changed.
fn dry_run(
    jira: &Jira,
    needs: &Needs,
    hook: Option<&crate::steps::setup::jira_webhook::Needed>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let snapshot = read(jira, needs)?;
    let mut planned = plan(needs, &snapshot);
    if snapshot.project.is_some() {
        let steps = match hook {
            Some(h) => crate::steps::setup::jira_webhook::plan(h, &crate::steps::setup::jira_webhook::read(jira)?),
            None => Vec::new(),
        };
        webhook_step(&mut planned.plan, hook, steps, out)?;
    }
    planned.plan.render(out)?;
    if !planned.ops.is_empty() {
        writeln!(out, "run again with --apply to make it so")?;
    }
    Ok(planned.plan.outcome())
}

/// With `--apply`, on a site with the project: the bot's webhook made or
/// updated, but only for a project otherwise ready to gate, and its step
/// added to the resulting plan.
fn apply_webhook(
    jira: &Jira,
    hook: Option<&crate::steps::setup::jira_webhook::Needed>,
    applied: &mut crate::steps::setup::jira::apply::Applied,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use crate::steps::setup::jira_webhook;
    let mut steps = Vec::new();
    if let Some(h) = hook {
        // Only a webhook for a project that is otherwise ready to gate.
        let ready = applied.last.plan.blockers().next().is_none();
        let existing = jira_webhook::read(jira)?;
        if ready {
            for done in jira_webhook::apply(jira, h, &existing)? {
                writeln!(out, "applied: webhook {}: {}", done.name, done.detail)?;
                applied.performed.push(done.name.clone());
            }
        }
        steps = jira_webhook::plan(h, &jira_webhook::read(jira)?);
    }
    webhook_step(&mut applied.last.plan, hook, steps, out)
}

/// What `config check` checks, on the configuration just written: whether
/// the site matches it, with each problem printed when not.
fn check_written(jira: &Jira, target: &Path, project: &str, out: &mut dyn Write) -> Result<bool, CliError> {
    let written = load_config(Some(target))?;
    let problems = super::config_check::check_site(&written, jira, None)?;
    if problems.is_empty() {
        writeln!(out, "check: site {} matches {}", jira.base_url(), target.display())?;
        writeln!(
            out,
            "next: give the bot this configuration; once an issue of {project} is created or updated, \
             `changegate config check --probe` checks the bot received Jira's signed delivery"
        )?;
        return Ok(true);
    }
    for p in &problems {
        writeln!(out, "check: problem: {p}")?;
    }
    Ok(false)
}

/// A failure of reading CircleCI for `setup` stops the command.
impl From<crate::steps::setup::circleci::ReadError> for CliError {
    fn from(e: crate::steps::setup::circleci::ReadError) -> Self {
        CliError::Step(Box::new(e))
    }
}

/// A failure of writing the configuration file for `setup` stops the command.
impl From<crate::steps::setup::config_file::WriteError> for CliError {
    fn from(e: crate::steps::setup::config_file::WriteError) -> Self {
        CliError::Step(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_goes_to_the_bots_https_address_only() {
        assert_eq!(webhook_url("https://bot.acme.test/").unwrap(), "https://bot.acme.test/webhooks/circleci");
        assert_eq!(
            webhook_url("https://bot.acme.test/webhooks/circleci").unwrap(),
            "https://bot.acme.test/webhooks/circleci"
        );
        for bad in ["http://bot.acme.test", "bot.acme.test", "https://", "https:///x", "https://a b"] {
            let e = webhook_url(bad).unwrap_err().to_string();
            assert!(e.contains("HTTPS only"), "{bad}: {e}");
        }
    }
}
