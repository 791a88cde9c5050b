//! `changegate audit --since DATE --sample N [--seed S] [--record KEY | --post]`:
//! the monthly random inspection of auto-approved tickets.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::common::{CliError, Format, JunitOut, load_config, write_file};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::base::time::Date;
use crate::steps::analyze::collect::Sources;
use crate::steps::audit::{self, AuditArgs, Target};

#[derive(Debug, Args)]
pub(super) struct AuditCli {
    /// Inspect tickets created on or after this date (YYYY-MM-DD), or `previous-month` (the first
    /// day of the month before today, UTC: for a monthly schedule)
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

    /// Post the inspection on the period's inspection ticket in the change project, found or
    /// created (one per period, labelled changegate-audit-PERIOD)
    #[arg(long, conflicts_with = "record")]
    post: bool,

    /// With --post: the period of the inspection ticket [default: the YYYY-MM of --since]
    #[arg(long, value_name = "PERIOD", requires = "post")]
    period: Option<String>,

    /// With --post: the issue type of a new inspection ticket [default: [jira] issue_type]
    #[arg(long, value_name = "NAME", requires = "post")]
    issue_type: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value = "markdown")]
    format: Format,

    /// Also write the markdown report to FILE
    #[arg(long, value_name = "FILE")]
    markdown_out: Option<PathBuf>,

    /// Also write the JSON report to FILE
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,

    /// Also write a JUnit XML report to FILE: a test case per inspected ticket, per emergency
    /// change and for the lock (for CircleCI's store_test_results)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

fn random_seed() -> u64 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 8];
    SystemRandom::new().fill(&mut b).expect("the system has a random source");
    u64::from_le_bytes(b) >> 11 // fits a JSON number exactly
}

/// The window start `--since` names.
fn since(text: &str, today: Date) -> Result<Date, CliError> {
    if text == "previous-month" {
        return Ok(audit::previous_month_start(today));
    }
    Date::parse(text)
        .ok_or_else(|| CliError::Usage(format!("--since {text:?} is not a date (YYYY-MM-DD) or previous-month")))
}

pub(super) fn run(
    cli: &AuditCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &crate::base::progress::Progress,
) -> Result<Outcome, CliError> {
    let mut junit = JunitOut::new(cli.junit.as_deref(), "audit");
    let result = inspect(cli, config_path, env, out, &mut junit, progress);
    junit.finish(result)
}

fn inspect(
    cli: &AuditCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    junit: &mut JunitOut,
    progress: &crate::base::progress::Progress,
) -> Result<Outcome, CliError> {
    let since = since(&cli.since, Date::today_utc())?;
    let config = load_config(config_path)?;
    let record = match (&cli.record, cli.post) {
        (Some(k), _) => Some(Target::Ticket(k.clone())),
        (None, true) => {
            let period = cli.period.clone().unwrap_or_else(|| format!("{:04}-{:02}", since.year, since.month));
            if !audit::valid_period(&period) {
                return Err(CliError::Usage(format!(
                    "--period {period:?} must be letters, digits, '.', '_' or '-' (it becomes a label)"
                )));
            }
            let issue_type = cli.issue_type.clone().unwrap_or_else(|| config.jira.issue_type.clone());
            Some(Target::Period { period, issue_type })
        }
        (None, false) => None,
    };
    let svc = super::analyze::step2_clients(env)?;
    let (source, content) = super::analyze::policy_of(&config)?;
    let ring = match env.get(crate::model::signing::PUBLIC_KEYS_VAR) {
        Some(text) => Some(crate::model::signing::KeyRing::parse(text).map_err(CliError::from)?),
        None => None,
    };
    let sources = Sources { clients: &svc, ring: ring.as_ref(), progress };
    let args =
        AuditArgs { since, sample: cli.sample, seed: cli.seed.unwrap_or_else(random_seed), record, ring: ring.clone() };
    let r = audit::run(&args, &config, (&source, &content), &sources).map_err(CliError::from)?;
    junit.push(r.to_junit());
    let json = serde_json::to_string_pretty(&r).expect("serialises") + "\n";
    let markdown = r.to_markdown();
    if let Some(path) = &cli.json_out {
        write_file(path, "cannot write the JSON report", json.as_bytes())?;
    }
    if let Some(path) = &cli.markdown_out {
        write_file(path, "cannot write the markdown report", markdown.as_bytes())?;
    }
    match cli.format {
        Format::Json => out.write_all(json.as_bytes())?,
        _ => out.write_all(markdown.as_bytes())?,
    }
    Ok(if r.outcome == crate::steps::audit::AuditOutcome::Pass { Outcome::Pass } else { Outcome::Deny })
}

/// A failure of the audit stops the command.
impl From<crate::steps::audit::AuditError> for CliError {
    fn from(e: crate::steps::audit::AuditError) -> Self {
        CliError::Step(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_date_or_the_previous_month() {
        let today = Date::new(2027, 1, 5).unwrap();
        assert_eq!(since("previous-month", today).unwrap(), Date::new(2026, 12, 1).unwrap());
        assert_eq!(since("2026-11-03", today).unwrap(), Date::new(2026, 11, 3).unwrap());
        assert!(since("last week", today).is_err());
        assert_eq!(audit::previous_month_start(Date::new(2026, 3, 31).unwrap()), Date::new(2026, 2, 1).unwrap());
    }
}
