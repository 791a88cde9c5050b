//! `changegate serve` (the bot) and `changegate reconcile` (one pass of
//! converge over every live ticket).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::common::{CliError, ca_bundle, load_config};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::bot::reconcile::{BotParts, reconcile};
use crate::bot::server::{ServeOptions, serve};
use crate::clients::circleci::{CircleCi, CircleCiSettings};
use crate::clients::github::{GitHub, GitHubSettings};
use crate::clients::http::RetryPolicy;
use crate::clients::jira::{Jira, JiraSettings};
use crate::model::signing::{KeyRing, PRIVATE_KEY_VAR, PUBLIC_KEYS_VAR, SigningKey};
use crate::steps::policy::PolicyContent;

#[derive(Debug, Args)]
pub(super) struct ServeCli {
    /// Address to listen on
    #[arg(long, default_value = "0.0.0.0:8080", value_name = "HOST:PORT")]
    listen: String,

    /// Converge workers
    #[arg(long, default_value_t = 4)]
    workers: usize,

    /// Distinct deliveries that may wait for a worker (then 503)
    #[arg(long, default_value_t = 10_000)]
    queue: usize,

    /// Largest webhook body accepted, in bytes
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body: usize,

    /// Seconds between reconcile passes (0: only at start-up)
    #[arg(long, default_value_t = 300)]
    reconcile_every: u64,

    /// Seconds a blocked hold is waited for before the next event or reconcile retries
    #[arg(long, default_value_t = 60)]
    hold_wait: u64,

    /// After SIGTERM, seconds queued and running work may take to finish
    #[arg(long, default_value_t = 30)]
    drain_timeout: u64,

    /// Seconds a client has to send a request's head, and again its body
    #[arg(long, default_value_t = 10)]
    read_timeout: u64,

    /// Connections served at once (more are answered 503)
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
}

#[derive(Debug, Args)]
pub(super) struct ReconcileCli {
    /// Seconds a blocked hold is waited for
    #[arg(long, default_value_t = 60)]
    hold_wait: u64,
}

fn secrets(env: &Env, name: &str) -> Vec<String> {
    env.get(name).unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A factory of the bot's parts, from the environment and the configuration.
fn factory(
    config_path: Option<&Path>,
    env: &Env,
    hold_wait: Duration,
) -> Result<crate::bot::server::Factory, CliError> {
    let config = load_config(config_path)?;
    let policy = super::analyze::policy_of(&config)?;
    let jira = JiraSettings::from_env(env)?;
    let circleci = CircleCiSettings::from_env(env)?;
    let github = GitHubSettings::from_env(env)?;
    let ca = ca_bundle(env);
    let retry = RetryPolicy::from_env(env)?;
    // The bot signs its records, receipts and policy: without its key it
    // cannot be trusted by anything, so it does not start.
    let Some(key_text) = env.get(PRIVATE_KEY_VAR).map(str::to_owned) else {
        return Err(CliError::Environment(format!(
            "{PRIVATE_KEY_VAR} is not set: the bot signs its records, receipts and policy with it \
             (base64 of a 32-byte Ed25519 seed; never put it in a CircleCI context)"
        )));
    };
    if env.get("CIRCLECI").is_some() {
        return Err(CliError::Environment(
            "the changegate bot does not run inside a CircleCI job: its key would be readable by the pipeline it guards"
                .into(),
        ));
    }
    let key = SigningKey::from_base64(&key_text).map_err(CliError::from)?;
    // Older keys still accepted while receipts they signed are in flight.
    let mut ring = key.ring();
    ring.extend(KeyRing::parse(env.get(PUBLIC_KEYS_VAR).unwrap_or_default()).map_err(CliError::from)?);
    let policy_content = PolicyContent::of(&config);
    let notifier = crate::clients::notify::Notifier::from_env(env, ca.as_deref(), retry.clone())?;
    Ok(Arc::new(move || {
        let e = |e: crate::clients::http::SetupError| e.to_string();
        Ok(BotParts {
            clients: crate::clients::Clients {
                jira: Jira::new(&jira, ca.as_deref(), retry.clone()).map_err(e)?,
                circleci: CircleCi::new(&circleci, ca.as_deref(), retry.clone()).map_err(e)?,
                github: Some(GitHub::new(&github, ca.as_deref(), retry.clone()).map_err(e)?),
            },
            config: config.clone(),
            policy: policy.clone(),
            signing_key: SigningKey::from_base64(&key_text).expect("checked above"),
            ring: ring.clone(),
            policy_content: policy_content.clone(),
            policy_ttl: crate::steps::policy::DEFAULT_TTL,
            hold_wait: (hold_wait, Duration::from_secs(5).min(hold_wait.max(Duration::from_millis(200)))),
            notifier: notifier.clone(),
        })
    }))
}

/// The bot's Jira account must be one of `[jira] bot_account_ids`: its
/// approvals are auto-approvals and the sequence labels of its records
/// count only when its account added them (docs/trust-model.md).
fn check_identity(parts: &BotParts) -> Result<(), CliError> {
    let me = parts.clients.jira.myself()?;
    if parts.config.jira.bot_accounts.contains(&me.account_id) {
        return Ok(());
    }
    Err(CliError::Invalid(format!(
        "the bot's Jira account {} is not in [jira] bot_account_ids of its configuration: add it, or the bot's own \
         approvals and records are not recognised as the bot's",
        me.account_id
    )))
}

pub(super) fn run_serve(cli: &ServeCli, config_path: Option<&Path>, env: &Env) -> Result<Outcome, CliError> {
    let f = factory(config_path, env, Duration::from_secs(cli.hold_wait))?;
    let first = f().map_err(CliError::Environment)?;
    check_identity(&first)?;
    let project = first.config.jira.project.clone();
    // CI jobs trust only the policy the bot signed: publish it before
    // anything else, and do not start without it.
    match crate::bot::reconcile::publish_policy(&first) {
        Ok(p) => crate::bot::log::log("info", "policy", serde_json::json!({"published": format!("{p:?}")})),
        Err(e) => {
            return Err(CliError::Stopped(format!(
                "cannot publish the signed policy in project {project} (property {}): {e}; \
                 the bot's Jira user needs Administer Projects on the change project",
                crate::steps::policy::PROPERTY
            )));
        }
    }
    drop(first);
    let opts = ServeOptions {
        listen: cli.listen.clone(),
        workers: cli.workers,
        queue: cli.queue,
        max_body: cli.max_body,
        reconcile_every: (cli.reconcile_every > 0).then(|| Duration::from_secs(cli.reconcile_every)),
        jira_secrets: secrets(env, "CHANGEGATE_JIRA_WEBHOOK_SECRETS"),
        circleci_secrets: secrets(env, "CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS"),
        project,
        drain: Duration::from_secs(cli.drain_timeout),
        read_timeout: Duration::from_secs(cli.read_timeout.max(1)),
        max_connections: cli.max_connections.max(1),
    };
    for (name, list) in [
        ("CHANGEGATE_JIRA_WEBHOOK_SECRETS", &opts.jira_secrets),
        ("CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS", &opts.circleci_secrets),
    ] {
        if list.is_empty() {
            crate::bot::log::log(
                "warn",
                "no webhook secret: every delivery of this source is refused",
                serde_json::json!({"variable": name}),
            );
        }
    }
    serve(opts, f).map_err(CliError::Local)?;
    Ok(Outcome::Pass)
}

pub(super) fn run_reconcile(
    cli: &ReconcileCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let f = factory(config_path, env, Duration::from_secs(cli.hold_wait))?;
    let parts = f().map_err(CliError::Environment)?;
    check_identity(&parts)?;
    let mut failed = 0;
    for (key, r) in reconcile(&parts)? {
        match r {
            Ok(c) => {
                for a in c.actions {
                    writeln!(out, "{key}: {a}")?;
                }
            }
            Err(e) => {
                failed += 1;
                writeln!(out, "{key}: error: {e}")?;
            }
        }
    }
    Ok(if failed == 0 { Outcome::Pass } else { Outcome::Undecided })
}
