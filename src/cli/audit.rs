//! `changegate audit --since DATE --sample N [--seed S] [--record KEY]`:
//! the monthly random inspection of auto-approved tickets.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::{CliError, Format, load_config};
use crate::audit::{self, AuditArgs};
use crate::env::Env;
use crate::evidence::collect::Sources;
use crate::outcome::Outcome;
use crate::time::Date;

#[derive(Debug, Args)]
pub(super) struct AuditCli {
    /// Inspect tickets created on or after this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    since: String,

    /// How many auto-approved tickets to inspect
    #[arg(long, value_name = "N")]
    sample: usize,

    /// Random seed; the same seed draws the same sample [default: random, printed]
    #[arg(long, value_name = "S")]
    seed: Option<u64>,

    /// Post the inspection (who, seed, sample, outcome) on this ticket, the report attached
    #[arg(long, value_name = "KEY")]
    record: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value = "markdown")]
    format: Format,
}

fn random_seed() -> u64 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 8];
    SystemRandom::new().fill(&mut b).expect("the system has a random source");
    u64::from_le_bytes(b) >> 11 // fits a JSON number exactly
}

pub(super) fn run(
    cli: &AuditCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &crate::progress::Progress,
) -> Result<Outcome, CliError> {
    let since = Date::parse(&cli.since)
        .ok_or_else(|| CliError::Other(format!("--since {:?} is not a date (YYYY-MM-DD)", cli.since)))?;
    let config = load_config(config_path)?;
    let (svc, github) = super::analyze::step2_clients(env)?;
    let (source, content) = super::analyze::policy_of(&config)?;
    let ring = match env.get(crate::signing::PUBLIC_KEYS_VAR) {
        Some(text) => Some(crate::signing::KeyRing::parse(text).map_err(|e| CliError::Other(e.to_string()))?),
        None => None,
    };
    let sources = Sources { jira: &svc.jira, github: &github, circleci: &svc.circleci, ring: ring.as_ref(), progress };
    let args = AuditArgs {
        since,
        sample: cli.sample,
        seed: cli.seed.unwrap_or_else(random_seed),
        record: cli.record.clone(),
        ring: ring.clone(),
    };
    let r = audit::run(&args, &config, (&source, &content), &sources).map_err(|e| CliError::Other(e.to_string()))?;
    match cli.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&r).expect("serialises"))?,
        _ => {
            writeln!(out, "### changegate audit of auto-approvals since {}: {}\n", r.since, r.outcome)?;
            writeln!(
                out,
                "{} of {} auto-approved ticket(s) inspected by {} at {}; seed {} (`--seed {}` draws the same sample).\n",
                r.sample.len(),
                r.candidates,
                r.inspector,
                r.at,
                r.seed,
                r.seed
            )?;
            writeln!(out, "| Ticket | Outcome | Details |\n|---|---|---|")?;
            for i in &r.inspected {
                writeln!(out, "| {} | {} | {} |", i.ticket, i.outcome, i.details.join("; ").replace('|', "\\|"))?;
            }
            writeln!(out, "\n#### Emergency changes: {}\n", r.emergencies.len())?;
            if !r.emergencies.is_empty() {
                writeln!(
                    out,
                    "| Ticket | Status | Reason | Requested by | Approved by | Retrospective | Due | Finding |\n|---|---|---|---|---|---|---|---|"
                )?;
            }
            for e in &r.emergencies {
                let cell = |s: Option<&str>| s.unwrap_or("-").replace('|', "\\|");
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    e.ticket,
                    e.status,
                    cell(Some(&e.reason)),
                    cell(e.requested_by.as_deref()),
                    cell(e.approved_by.as_deref()),
                    match (&e.retrospective, &e.retrospective_status) {
                        (Some(k), Some(s)) => format!("{k} ({s})"),
                        (Some(k), None) => k.clone(),
                        _ => "-".into(),
                    },
                    cell(e.retrospective_due.as_deref()),
                    e.finding
                )?;
            }
            writeln!(out, "\n#### Past the lock: {}\n", r.past_the_lock.len())?;
            if !r.past_the_lock.is_empty() {
                writeln!(out, "| Ticket | Finding | Details |\n|---|---|---|")?;
            }
            for l in &r.past_the_lock {
                writeln!(out, "| {} | {} | {} |", l.ticket, l.code, l.detail.replace('|', "\\|"))?;
            }
        }
    }
    Ok(if r.outcome == "pass" { Outcome::Pass } else { Outcome::Deny })
}
