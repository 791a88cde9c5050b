//! `changegate config check`: validates `changegate.toml` and, when Jira
//! credentials are set, checks it against the site: the project and issue
//! type exist, mapped fields exist and are on the create screen, the
//! configured statuses exist, and (`--probe-ticket KEY`) the CI user cannot
//! run Approve or Decline; `--probe` checks that each deploy context is
//! locked and that the bot at `CHANGEGATE_BOT_URL` has accepted a signed Jira
//! delivery (its `/healthz`). Every problem is listed in one run, each with its
//! fix. Exit 0 when all is well, 1 when anything a controlled deploy needs is
//! missing, unreachable or does not match (no configuration found, a required
//! field unmapped, a missing variable, every unknown key or wrong type in the
//! file: nothing passes silently), 2 when it cannot check.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::common::{CliError, ca_bundle, load_config};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::clients::http::RetryPolicy;
use crate::clients::jira::{Jira, JiraSettings};
use crate::config::Config;
use crate::config::jira::TicketField;

#[derive(Debug, Args)]
pub(super) struct ConfigCheckArgs {
    /// A ticket on which to prove the CI user cannot approve or decline
    #[arg(long, value_name = "KEY")]
    probe_ticket: Option<String>,

    /// Only validate the file, even with Jira credentials set
    #[arg(long)]
    offline: bool,

    /// Check the lock: each deploy context of [lock] is restricted (CircleCI API, CIRCLE_TOKEN); and that the
    /// bot at CHANGEGATE_BOT_URL has accepted a signed Jira delivery
    #[arg(long)]
    probe: bool,

    /// No changegate bot runs (say what protects the deploys then)
    #[arg(long, env = "CHANGEGATE_NO_BOT", value_parser = clap::builder::FalseyValueParser::new())]
    no_bot: bool,
}

/// What protects the deploys, in words, and what is missing for it.
fn mode_lines(no_bot: bool, env: &Env) -> (Vec<String>, Vec<String>) {
    use crate::model::signing::{KeyRing, PRIVATE_KEY_VAR, PUBLIC_KEYS_VAR};
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    if no_bot {
        lines.push(
            "mode: without a bot (--no-bot): nothing is signed, CI checks trust this checkout's configuration and have \
             no trust root; the lock is a person in the deploy context's security group approving the hold"
                .to_owned(),
        );
        return (lines, problems);
    }
    lines.push(
        "mode: with the changegate bot: CI checks verify its signed policy, records and receipts; the lock is the \
         deploy context's security group, which only the bot's approval of a hold (or a break-glass member) opens"
            .to_owned(),
    );
    match KeyRing::parse(env.get(PUBLIC_KEYS_VAR).unwrap_or_default()) {
        Ok(ring) if ring.is_empty() => {
            problems
                .push(format!("{PUBLIC_KEYS_VAR} is not set: every CI check with a bot needs the bot's public key(s)"));
        }
        Ok(ring) => {
            let ids: Vec<String> = ring
                .keys
                .iter()
                .map(|k| match k.retired_from {
                    Some(t) => format!("{} (retired from {t})", k.id),
                    None => k.id.clone(),
                })
                .collect();
            lines.push(format!("bot keys accepted: {}", ids.join(", ")));
        }
        Err(e) => problems.push(e.to_string()),
    }
    if env.get(PRIVATE_KEY_VAR).is_some() {
        if env.get("CIRCLECI").is_some() {
            problems.push(format!(
                "{PRIVATE_KEY_VAR} is set in a CircleCI job: the bot's private key must never be in a CircleCI context"
            ));
        } else {
            lines.push(format!("{PRIVATE_KEY_VAR} is set: this is the bot's configuration, the policy it publishes"));
        }
    }
    (lines, problems)
}

/// Checks each deploy context of `[lock]` through the CircleCI API.
fn probe_lock(config: &Config, env: &Env, out: &mut dyn Write) -> Result<Vec<String>, CliError> {
    use crate::clients::circleci::{CircleCi, CircleCiSettings};
    use crate::steps::lock::{Locked, judge_context};
    let lock = &config.lock;
    let Some(owner) = &lock.owner_slug else {
        return Ok(vec![
            "[lock] names no deploy contexts (owner_slug, contexts): the lock is not checked; name the contexts that hold production credentials".to_owned(),
        ]);
    };
    if lock.contexts.is_empty() {
        return Ok(vec!["[lock] contexts is empty: name the contexts that hold production credentials".to_owned()]);
    }
    let ci = CircleCi::new(&CircleCiSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    let all = ci.contexts(owner).map_err(CliError::from)?;
    let mut problems = Vec::new();
    for name in &lock.contexts {
        let Some(ctx) = all.iter().find(|c| c.name == *name) else {
            problems.push(format!("context {name:?} does not exist in {owner} (or this token cannot see it)"));
            continue;
        };
        let restrictions = ci.context_restrictions(&ctx.id).map_err(CliError::from)?;
        let v = judge_context(&restrictions, lock.github_app);
        let listed = if v.restrictions.is_empty() { "none".to_owned() } else { v.restrictions.join("; ") };
        match &v.locked {
            Locked::Group => writeln!(out, "lock: {name}: restricted to a security group ({listed})")?,
            Locked::ProjectAndExpression => {
                writeln!(out, "lock: {name}: restricted by project and expression ({listed})")?;
            }
            Locked::No(why) => problems.push(format!("context {name:?} is not locked: {why} (restrictions: {listed})")),
        }
        for a in &v.advice {
            writeln!(out, "lock: {name}: advice: {a}")?;
        }
    }
    Ok(problems)
}

/// The bot's base URL, for `--probe`.
pub(super) const BOT_URL_VAR: &str = "CHANGEGATE_BOT_URL";

/// Checks that the bot has accepted a signed Jira delivery since it started
/// (its `/healthz` says when): the admin webhook reaches it, with a secret
/// it holds. Returns what is wrong, each with its fix.
fn probe_bot(config: &Config, env: &Env, out: &mut dyn Write) -> Result<Vec<String>, CliError> {
    use crate::clients::http::{Auth, Body, Http};
    use crate::steps::setup::jira_webhook::{self, Needed};
    let Some(base) = env.get(BOT_URL_VAR).map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(vec![format!(
            "{BOT_URL_VAR} is not set: --probe checks that the bot has accepted a signed Jira delivery; set it to \
             the bot's base URL (e.g. https://changegate-bot.example.com), or pass --no-bot when no bot runs"
        )]);
    };
    let base = base.trim_end_matches('/').trim_end_matches(jira_webhook::ENDPOINT).to_owned();
    let project = &config.jira.project;
    let fix = || {
        let screen = jira_webhook::admin_screen(&Needed::new(project, &base, None, false));
        format!(
            "register the webhook as a Jira administrator with `changegate setup jira`, or on the admin screen ({}), \
             giving the bot the same secret in {}; then create or update an issue in {project}",
            screen[1..].join("; "),
            jira_webhook::SECRETS_VAR
        )
    };
    let http = Http::new(
        "changegate bot",
        BOT_URL_VAR,
        &base,
        Auth::None,
        ca_bundle(env).as_deref(),
        RetryPolicy::from_env(env)?,
    )?;
    let body = match http.call(ureq::http::Method::GET, "/healthz", &[], &Body::Empty) {
        Ok(r) => r.body,
        Err(e) => return Ok(vec![format!("the bot at {base} cannot be reached: {e}")]),
    };
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(last) = health.get("last_accepted") else {
        return Ok(vec![format!(
            "the bot at {base} does not say when it last accepted a delivery (its /healthz answers {:?}): \
             run a changegate bot that does",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        )]);
    };
    match last.get("jira").and_then(serde_json::Value::as_str) {
        Some(at) => {
            writeln!(out, "bot: {base} last accepted a signed Jira delivery at {at}")?;
            Ok(Vec::new())
        }
        None => {
            let since = health.get("started").and_then(serde_json::Value::as_str).unwrap_or("start-up");
            Ok(vec![format!(
                "the bot at {base} has accepted no signed Jira delivery since it started ({since}): Jira's webhook \
                 does not reach it, or signs with a secret it does not hold: {}",
                fix()
            )])
        }
    }
}

/// Checks the configuration against the site; returns what is wrong.
pub(super) fn check_site(config: &Config, jira: &Jira, probe: Option<&str>) -> Result<Vec<String>, CliError> {
    let jc = &config.jira;
    let mut problems = Vec::new();
    let me = jira.myself()?;
    let types = jira.create_issue_types(&jc.project)?;
    let Some(type_id) = types.get(&jc.issue_type) else {
        problems.push(format!(
            "issue type {:?} cannot be created in project {} by {} (available: {})",
            jc.issue_type,
            jc.project,
            me.email_address.unwrap_or(me.account_id),
            types.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
        return Ok(problems);
    };
    let site_fields = jira.fields()?;
    let screen = jira.create_fields(&jc.project, type_id)?;
    for (field, site) in &jc.fields {
        if !site_fields.iter().any(|f| f.id == site.id) {
            problems.push(format!(
                "[jira.fields] {} = {:?}: the site has no field with that id",
                field.name(),
                site.id
            ));
        } else if !screen.contains_key(&site.id) {
            problems.push(format!(
                "[jira.fields] {} = {:?}: the field is not on the create screen of {}",
                field.name(),
                site.id,
                jc.issue_type
            ));
        }
    }
    for (id, required) in &screen {
        let ours = jc.fields.values().any(|s| s.id == *id)
            || matches!(id.as_str(), "summary" | "description" | "project" | "issuetype" | "labels" | "reporter");
        if *required && !ours {
            problems.push(format!("the create screen requires field {id}, which changegate does not fill: map it in [jira.fields] or make it optional"));
        }
    }
    let statuses = jira.project_statuses(&jc.project)?;
    let s = &jc.statuses;
    for (name, value) in [
        ("open", &s.open),
        ("waiting_for_input", &s.waiting_for_input),
        ("manual_review", &s.manual_review),
        ("approved", &s.approved),
        ("declined", &s.declined),
        ("done", &s.done),
        ("failed", &s.failed),
        ("cancelled", &s.cancelled),
    ] {
        if !statuses.iter().any(|x| x.eq_ignore_ascii_case(value)) {
            problems.push(format!("[jira.statuses] {name} = {value:?}: project {} has no such status", jc.project));
        }
    }
    if let Some(key) = probe {
        let offered = jira.transitions(key)?;
        for forbidden in [&jc.transitions.approve, &jc.transitions.decline] {
            if offered.iter().any(|t| t.name.eq_ignore_ascii_case(forbidden)) {
                problems.push(format!(
                    "the CI user may run {forbidden:?} on {key}: restrict Approve and Decline to the approvers group and the bot (docs/jira-setup.md)"
                ));
            }
        }
    }
    Ok(problems)
}

pub(super) fn run(
    args: &ConfigCheckArgs,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let explicit = config;
    let config = match load_config(config) {
        Ok(c) => c,
        Err(CliError::Config(crate::config::ConfigError::Invalid { origin, problems })) => {
            return invalid_config(args, env, &origin, &problems, out);
        }
        Err(e) => return Err(e),
    };
    let source = config
        .source
        .as_ref()
        .map_or_else(|| "built-in defaults (no changegate.toml found)".to_owned(), |p| p.display().to_string());
    writeln!(out, "configuration valid: {source}")?;
    let (mode, mut problems) = mode_lines(args.no_bot, env);
    if config.source.is_none() && explicit.is_none() {
        let cwd = std::env::current_dir().map_err(CliError::Output)?;
        problems.push(format!(
            "no configuration found: CHANGEGATE_CONFIG is not set and neither {0}/changegate.toml nor {0}/.circleci/changegate.toml exists; \
             the built-in defaults name no Jira project or fields: write one (docs/jira-setup.md) or name it with --config",
            cwd.display()
        ));
    }
    for line in mode.iter().chain(gate_summary(&config, crate::base::time::Timestamp::now()).iter()) {
        writeln!(out, "{line}")?;
    }
    if args.probe {
        problems.extend(probe_lock(&config, env, out)?);
        if !args.no_bot {
            problems.extend(probe_bot(&config, env, out)?);
        }
    }
    problems.extend(file_problems(&config));
    let site_vars = ["JIRA_BASE_URL", "JIRA_USER_EMAIL", "JIRA_API_TOKEN"];
    let missing: Vec<&str> = site_vars.iter().copied().filter(|v| env.get(v).is_none()).collect();
    if args.offline || !missing.is_empty() {
        return site_unchecked(args, &missing, problems, out);
    }
    let jira = Jira::new(&JiraSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    problems.extend(check_site(&config, &jira, args.probe_ticket.as_deref())?);
    if problems.is_empty() {
        writeln!(out, "site {} matches the configuration", jira.base_url())?;
        if let Some(k) = &args.probe_ticket {
            writeln!(out, "the CI user cannot approve or decline {k}")?;
        }
        Ok(Outcome::Pass)
    } else {
        for p in &problems {
            writeln!(out, "problem: {p}")?;
        }
        Ok(Outcome::Deny)
    }
}

/// What the file alone gets wrong: required fields mapped to no site
/// field, and with several controlled environments, those without holds.
fn file_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let unmapped: Vec<&str> = config
        .jira
        .required
        .iter()
        .filter(|f| config.jira.site_field(**f).is_none())
        .map(|f| TicketField::name(*f))
        .collect();
    for field in &unmapped {
        problems.push(format!(
            "[jira] required field {field} is not mapped to a site field, so every ticket would be reported missing it: \
             map it in [jira.fields] or drop it from [jira] required"
        ));
    }
    let without_holds: Vec<&str> = if config.controlled_environments.len() > 1 {
        config
            .controlled_environments
            .iter()
            .filter(|e| !config.lock.holds.contains_key(e.as_str()))
            .map(String::as_str)
            .collect()
    } else {
        Vec::new()
    };
    if !without_holds.is_empty() {
        problems.push(format!(
            "several environments are controlled and [lock.holds] names no holds for {}: the bot resumes no hold of theirs; \
             name each environment's holds in [lock.holds]",
            without_holds.join(", ")
        ));
    }
    problems
}

/// Without the site's variables, or with `--offline`: the file's problems
/// only, the missing variables among them unless offline was asked for.
fn site_unchecked(
    args: &ConfigCheckArgs,
    missing: &[&str],
    mut problems: Vec<String>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if args.probe_ticket.is_some() {
        return Err(CliError::Environment(
            "--probe-ticket needs JIRA_BASE_URL, JIRA_USER_EMAIL and JIRA_API_TOKEN".into(),
        ));
    }
    if args.offline {
        writeln!(out, "site not checked (--offline)")?;
    } else {
        problems.push(format!(
            "missing environment variable(s): {}: the site cannot be checked (set them, or pass --offline to check the file only)",
            missing.join(", ")
        ));
    }
    for p in &problems {
        writeln!(out, "problem: {p}")?;
    }
    Ok(if problems.is_empty() { Outcome::Pass } else { Outcome::Deny })
}

/// A configuration that does not read: every problem of the file (each with
/// its line and fix) and of the environment, exit 1. Nothing is checked
/// against the site without a valid configuration.
fn invalid_config(
    args: &ConfigCheckArgs,
    env: &Env,
    origin: &str,
    problems: &[crate::config::Problem],
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    writeln!(out, "configuration invalid: {origin} ({} problem(s))", problems.len())?;
    let (mode, env_problems) = mode_lines(args.no_bot, env);
    for line in &mode {
        writeln!(out, "{line}")?;
    }
    for p in problems {
        writeln!(out, "problem: {}", p.to_string_with(origin))?;
    }
    for p in &env_problems {
        writeln!(out, "problem: {p}")?;
    }
    writeln!(out, "site not checked: fix the configuration first")?;
    Ok(Outcome::Deny)
}

/// What the gate's time rules and break-glass path are, and for each
/// controlled environment whether a deploy now would be inside its windows
/// (so a time-zone mistake shows before it holds a deploy).
fn gate_summary(config: &crate::config::Config, now: crate::base::time::Timestamp) -> Vec<String> {
    use crate::config::windows::{WindowCheck, check};
    let hours = |d: std::time::Duration| d.as_secs() / 3600;
    let mut lines = Vec::new();
    lines.push(match &config.emergency.group {
        Some(g) => format!(
            "emergencies: granted by members of the Jira group {g}; retrospective due {} h after",
            hours(config.emergency.retrospective_within)
        ),
        None => "emergencies: off (no [emergency] group)".to_owned(),
    });
    let a = &config.approval;
    lines.push(format!(
        "waiting requests: {}, {}",
        a.remind_after.map_or("never reminded".to_owned(), |d| format!("reminded every {} h", hours(d).max(1))),
        a.expire_after.map_or("never expired".to_owned(), |d| format!("expired after {} h", hours(d)))
    ));
    lines.push(if config.jira.drift_check_accounts.is_empty() {
        "drift: no [jira] drift_check_account_ids: drift a check finds gone still sends the next deploy to a person \
         (docs/drift.md)"
            .to_owned()
    } else {
        format!("drift: settled when closed by the drift check ({})", config.jira.drift_check_accounts.join(", "))
    });
    for env in &config.controlled_environments {
        let state = match check(&config.windows, &config.freezes, env, now) {
            WindowCheck::Open => "a deploy now is inside its windows".to_owned(),
            WindowCheck::Outside(why) | WindowCheck::Frozen(why) => why,
        };
        lines.push(format!("{env}: {state}"));
    }
    lines
}
