//! How a CI command knows what to trust (docs/trust-model.md): with a bot
//! (the default), the bot's signed policy read from Jira and verified with
//! `CHANGEGATE_RECEIPT_PUBKEY`, tightened by the checkout's
//! `changegate.toml`; with `--no-bot`, the checkout's file alone, and no
//! trust root at all.

use std::path::Path;

use super::common::{CliError, ca_bundle, load_config};
use crate::base::env::Env;
use crate::base::time::Timestamp;
use crate::clients::Clients;
use crate::clients::circleci::{CircleCi, CircleCiSettings};
use crate::clients::github::{GitHub, GitHubSettings};
use crate::clients::http::RetryPolicy;
use crate::clients::jira::{Jira, JiraSettings};
use crate::config::Config;
use crate::model::signing::{KeyError, KeyRing, PRIVATE_KEY_VAR, PUBLIC_KEYS_VAR};
use crate::steps::policy::{self, SignedPolicy};
use crate::steps::validate::Trust;

/// Where a CI command's trust comes from.
#[derive(Debug)]
pub(super) enum Mode {
    /// A bot runs: its keys and its verified policy.
    Bot {
        /// The bot's public keys.
        ring: KeyRing,
        /// The policy in force.
        policy: Box<SignedPolicy>,
    },
    /// No bot: the lock is a person approving the hold; nothing here is
    /// signed.
    NoBot,
}

/// A CI command's configuration and mode.
#[derive(Debug)]
pub(super) struct Ci {
    /// The effective configuration.
    pub(crate) config: Config,
    /// The mode.
    pub(crate) mode: Mode,
}

impl Ci {
    /// What the judgements trust.
    pub(super) fn trust(&self) -> Trust<'_> {
        match &self.mode {
            Mode::Bot { ring, policy } => Trust::Ci { ring, policy: policy.payload.content.digest() },
            Mode::NoBot => Trust::NoBot,
        }
    }

    /// One line saying what protects this run, and which configuration file
    /// it read (or where it looked).
    pub(super) fn describe(&self) -> String {
        match &self.mode {
            Mode::Bot { policy, .. } => format!(
                "policy: the changegate bot's (serial {}, key {}, expires {}){}",
                policy.payload.serial,
                policy.key_id,
                policy.payload.expires_at,
                match &self.config.source {
                    Some(p) => format!(", tightened by {}", p.display()),
                    None => format!("; no changegate.toml tightens it ({NOT_FOUND})"),
                }
            ),
            Mode::NoBot => format!(
                "policy: {} (--no-bot: nothing is signed; the lock is a person in the deploy context's security group approving the hold)",
                self.config
                    .source
                    .as_ref()
                    .map_or_else(|| format!("built-in defaults ({NOT_FOUND})"), |p| p.display().to_string())
            ),
        }
    }

    /// True without a bot.
    pub(super) fn no_bot(&self) -> bool {
        matches!(self.mode, Mode::NoBot)
    }
}

/// Where a configuration is looked for when none is named.
const NOT_FOUND: &str =
    "none found: --config and CHANGEGATE_CONFIG unset, no ./changegate.toml or ./.circleci/changegate.toml here";

/// The bot's private key must never reach a CI job: a job that can read it
/// can sign anything.
pub(super) fn refuse_private_key_in_ci(env: &Env) -> Result<(), CliError> {
    if env.get("CIRCLECI").is_some() && env.get(PRIVATE_KEY_VAR).is_some() {
        return Err(CliError::Environment(format!(
            "{PRIVATE_KEY_VAR} is set in this CircleCI job: the bot's private key must never be in a CircleCI context \
             (a job that can read it can approve its own deploy); remove it from the context and rotate the key"
        )));
    }
    Ok(())
}

/// The public keys (`CHANGEGATE_RECEIPT_PUBKEY`): exit 2 naming the variable
/// when unset or empty.
pub(super) fn ring(env: &Env) -> Result<KeyRing, CliError> {
    let ring = KeyRing::parse(env.get(PUBLIC_KEYS_VAR).unwrap_or_default()).map_err(key_error)?;
    if ring.is_empty() {
        return Err(key_error(KeyError::Missing(PUBLIC_KEYS_VAR)));
    }
    Ok(ring)
}

fn key_error(e: KeyError) -> CliError {
    CliError::Key(e)
}

/// The Jira and CircleCI clients from the environment.
pub(super) fn services(env: &Env) -> Result<Clients, CliError> {
    let ca = ca_bundle(env);
    let retry = RetryPolicy::from_env(env)?;
    let jira = Jira::new(&JiraSettings::from_env(env)?, ca.as_deref(), retry.clone())?;
    let circleci = CircleCi::new(&CircleCiSettings::from_env(env)?, ca.as_deref(), retry)?;
    Ok(Clients { jira, circleci, github: None })
}

/// The clients, made once when first needed (a run without a bot on an
/// environment that is not controlled needs none).
#[derive(Debug, Default)]
pub(super) struct Lazy(Option<Clients>);

impl Lazy {
    /// The clients from the environment.
    pub(super) fn get(&mut self, env: &Env) -> Result<&Clients, CliError> {
        if self.0.is_none() {
            self.0 = Some(services(env)?);
        }
        Ok(self.0.as_ref().expect("just made"))
    }

    /// The clients from the environment, GitHub included (the commands that
    /// analyse a change read it).
    pub(super) fn with_github(&mut self, env: &Env) -> Result<&Clients, CliError> {
        self.get(env)?;
        let clients = self.0.as_mut().expect("just made");
        if clients.github.is_none() {
            clients.github = Some(github(env)?);
        }
        Ok(clients)
    }
}

/// The GitHub client from the environment.
pub(super) fn github(env: &Env) -> Result<GitHub, CliError> {
    Ok(GitHub::new(&GitHubSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?)
}

/// Loads the configuration and mode of a CI command.
pub(super) fn load(explicit: Option<&Path>, env: &Env, no_bot: bool, svc: &mut Lazy) -> Result<Ci, CliError> {
    refuse_private_key_in_ci(env)?;
    let checkout = load_config(explicit)?;
    if no_bot {
        // A context that holds the bot's public key belongs to a setup with
        // a bot: no job there may opt out of checking what the bot signed.
        if env.get(PUBLIC_KEYS_VAR).is_some() {
            return Err(CliError::Environment(format!(
                "--no-bot (or CHANGEGATE_NO_BOT) with {PUBLIC_KEYS_VAR} set: this job's context belongs to a changegate bot, \
                 so it checks what the bot signed; remove --no-bot"
            )));
        }
        return Ok(Ci { config: checkout, mode: Mode::NoBot });
    }
    let ring = ring(env)?;
    let jira: &Jira = &svc.get(env)?.jira;
    let project = checkout.jira.project.clone();
    let raw = policy::fetch(jira, &project)?;
    let signed = policy::verify(raw.as_ref(), &ring, &project, Timestamp::now()).map_err(CliError::from)?;
    let table = match &checkout.source {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| CliError::File {
                what: "cannot read the configuration",
                path: p.clone(),
                source,
            })?;
            toml::from_str::<toml::Table>(&text).map_err(|e| CliError::Invalid(e.to_string()))?
        }
        None => toml::Table::new(),
    };
    let config = policy::apply(&checkout, &table, &signed.payload.content).map_err(|list| {
        let origin = checkout.source.as_ref().map_or_else(|| "changegate.toml".to_owned(), |p| p.display().to_string());
        let lines: Vec<String> = list.iter().map(|l| format!("  {l}")).collect();
        CliError::Invalid(format!(
            "{origin} would loosen the changegate bot's policy, which a checkout may only tighten:\n{}",
            lines.join("\n")
        ))
    })?;
    Ok(Ci { config: Config { source: checkout.source, ..config }, mode: Mode::Bot { ring, policy: Box::new(signed) } })
}

/// Which ticket a later CI step works on.
#[derive(Debug)]
pub(super) enum Found {
    /// This one.
    Ticket(String),
    /// No controlled environment is involved: there is no ticket to use.
    NotControlled(String),
    /// A controlled environment, and no ticket bound to this pipeline.
    Missing(String),
}

/// The ticket named by `--ticket` or the state file; else, because the state
/// file is a CI job's and decides nothing, the ticket bound to this
/// pipeline in any environment the policy controls. `environment` is the
/// job's own (`--environment`), else what the state file says.
pub(super) fn find_ticket(
    ci: &Ci,
    lazy: &mut Lazy,
    env: &Env,
    ticket: Option<&str>,
    state_file: &Path,
    environment: Option<&str>,
) -> Result<Found, CliError> {
    if let Some(k) = crate::steps::ticket::named(ticket, state_file) {
        return Ok(Found::Ticket(k));
    }
    let state_env = crate::steps::ticket::find(None, state_file).ok().and_then(|(_, s)| s).map(|s| s.environment);
    let environment = environment.map(str::to_owned).or(state_env).unwrap_or_default();
    let svc = lazy.get(env)?;
    let [workflow_id] = env.require(["CIRCLE_WORKFLOW_ID"])?;
    let pipeline = svc.circleci.workflow(&workflow_id).map_err(crate::steps::request::RequestError::from)?.pipeline_id;
    let mut envs: Vec<String> = ci.config.controlled_environments.clone();
    if !environment.is_empty() && !envs.contains(&crate::config::env_key(&environment)) {
        envs.push(crate::config::env_key(&environment));
    }
    for e in envs {
        if let Some(k) = crate::steps::ticket::bound_to_pipeline(&svc.jira, &ci.config.jira, &pipeline, &e)?.first() {
            return Ok(Found::Ticket(k.clone()));
        }
    }
    if ci.config.is_controlled(&environment) || environment.is_empty() && !ci.config.controlled_environments.is_empty()
    {
        let shown = if environment.is_empty() { "this deploy's environment".to_owned() } else { environment };
        return Ok(Found::Missing(shown));
    }
    Ok(Found::NotControlled(environment))
}
