//! `changegate config check`: validates `changegate.toml` and, when Jira
//! credentials are set, checks it against the site: the project and issue
//! type exist, mapped fields exist and are on the create screen, the
//! configured statuses exist, and (`--probe-ticket KEY`) the CI user cannot
//! run Approve or Decline. Exit 0 when all is well, 1 when something on the
//! site does not match, 2 when it cannot check.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::{CliError, ca_bundle, load_config};
use crate::config::Config;
use crate::config::jira::TicketField;
use crate::env::Env;
use crate::http::RetryPolicy;
use crate::jira::{Jira, JiraSettings};
use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub(super) struct ConfigCheckArgs {
    /// A ticket on which to prove the CI user cannot approve or decline
    #[arg(long, value_name = "KEY")]
    probe_ticket: Option<String>,

    /// Only validate the file, even with Jira credentials set
    #[arg(long)]
    offline: bool,
}

/// Checks the configuration against the site; returns what is wrong.
pub(crate) fn check_site(config: &Config, jira: &Jira, probe: Option<&str>) -> Result<Vec<String>, CliError> {
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
    let config = load_config(config)?;
    let source = config
        .source
        .as_ref()
        .map_or_else(|| "built-in defaults (no changegate.toml found)".to_owned(), |p| p.display().to_string());
    writeln!(out, "configuration valid: {source}")?;
    for line in gate_summary(&config, crate::time::Timestamp::now()) {
        writeln!(out, "{line}")?;
    }
    let unmapped: Vec<&str> = config
        .jira
        .required
        .iter()
        .filter(|f| config.jira.site_field(**f).is_none())
        .map(|f| TicketField::name(*f))
        .collect();
    if !unmapped.is_empty() {
        writeln!(
            out,
            "note: required fields not mapped to site fields (they will be reported missing on every ticket): {}",
            unmapped.join(", ")
        )?;
    }
    if args.offline || env.get("JIRA_BASE_URL").is_none() {
        if args.probe_ticket.is_some() {
            return Err(CliError::Other(
                "--probe-ticket needs JIRA_BASE_URL, JIRA_USER_EMAIL and JIRA_API_TOKEN".into(),
            ));
        }
        writeln!(out, "site not checked: set JIRA_BASE_URL, JIRA_USER_EMAIL and JIRA_API_TOKEN to check it")?;
        return Ok(Outcome::Pass);
    }
    let jira = Jira::new(&JiraSettings::from_env(env)?, ca_bundle(env).as_deref(), RetryPolicy::from_env(env)?)?;
    let problems = check_site(&config, &jira, args.probe_ticket.as_deref())?;
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

/// What the gate's time rules and break-glass path are, and for each
/// controlled environment whether a deploy now would be inside its windows
/// (so a time-zone mistake shows before it holds a deploy).
fn gate_summary(config: &crate::config::Config, now: crate::time::Timestamp) -> Vec<String> {
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
    for env in &config.controlled_environments {
        let state = match check(&config.windows, &config.freezes, env, now) {
            WindowCheck::Open => "a deploy now is inside its windows".to_owned(),
            WindowCheck::Outside(why) | WindowCheck::Frozen(why) => why,
        };
        lines.push(format!("{env}: {state}"));
    }
    lines
}
