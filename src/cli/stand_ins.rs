//! `changegate stand-ins`: serves the local Jira, CircleCI and GitHub stand-ins
//! until stopped (for scripts, the orb's tests and demos).

use std::io::Write;

use clap::Args;

use super::common::CliError;
use crate::base::outcome::Outcome;
use crate::standins::StandIns;

#[derive(Debug, Args)]
pub(super) struct StandInsArgs {
    /// Address to listen on (port 0 picks a free one; the addresses are printed)
    #[arg(long, default_value = "127.0.0.1:4300")]
    listen: String,

    /// Also write the changegate.toml of the stand-in site (its field ids,
    /// statuses and users) to FILE
    #[arg(long, value_name = "FILE")]
    write_config: Option<std::path::PathBuf>,
}

pub(super) fn run(args: &StandInsArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    if let Some(path) = &args.write_config {
        std::fs::write(path, crate::standins::SITE_CONFIG).map_err(|source| CliError::File {
            what: "cannot write the stand-in site's configuration",
            path: path.clone(),
            source,
        })?;
    }
    let s =
        StandIns::start(&args.listen).map_err(|e| CliError::Local(format!("cannot listen on {}: {e}", args.listen)))?;
    writeln!(out, "JIRA_BASE_URL={}", s.url())?;
    writeln!(out, "CIRCLECI_API_URL={}", s.circleci_url())?;
    writeln!(out, "GITHUB_API_URL={}", s.url())?;
    writeln!(
        out,
        "stand-in users: ci@acme.test/ci-token (CI), bot@acme.test/bot-token (bot), alice@acme.test/alice-token and bob@acme.test/bob-token (approvers); CIRCLE_TOKEN={}; the bot's CircleCI token {}; GITHUB_TOKEN={}",
        crate::standins::circleci::TOKEN,
        crate::standins::circleci::BOT_TOKEN,
        crate::standins::github::TOKEN
    )?;
    out.flush()?;
    s.wait();
    Ok(Outcome::Pass)
}
