//! `changegate collect KEY -o FILE`: writes the evidence record of a ticket
//! (the input of the analysis, and what auditors re-run decisions from).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::common::{CliError, load_config};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::steps::analyze::collect::{self, Sources};

#[derive(Debug, Args)]
pub(super) struct CollectCli {
    /// The change ticket
    #[arg(value_name = "KEY")]
    ticket: String,

    /// Where to write the record
    #[arg(short, long, value_name = "FILE", default_value = "evidence.json")]
    output: PathBuf,

    /// A SARIF file from a scan run in this deploy's job (repeatable)
    #[arg(long = "sarif", value_name = "FILE")]
    sarif: Vec<PathBuf>,
}

pub(super) fn run(
    cli: &CollectCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &crate::base::progress::Progress,
) -> Result<Outcome, CliError> {
    let config = load_config(config_path)?;
    let svc = super::analyze::step2_clients(env)?;
    let (source, content) = super::analyze::policy_of(&config)?;
    // With the bot's public keys, the change set starts at the last deploy
    // the bot signed a receipt for; without them, where the CI records say.
    let ring = match env.get(crate::model::signing::PUBLIC_KEYS_VAR) {
        Some(text) => Some(crate::model::signing::KeyRing::parse(text).map_err(CliError::from)?),
        None => None,
    };
    let sources = Sources { clients: &svc, ring: ring.as_ref(), progress };
    let mut evidence = collect::collect(&cli.ticket, &config, (&source, &content), &sources).map_err(CliError::from)?;
    collect::add_sarif_files(&mut evidence, &cli.sarif).map_err(CliError::from)?;
    std::fs::write(&cli.output, evidence.to_bytes()).map_err(|source| CliError::File {
        what: "cannot write the evidence record",
        path: cli.output.clone(),
        source,
    })?;
    writeln!(
        out,
        "{}: {} landing(s), {} pull request(s), {} gap(s), {} GitHub request(s) -> {}",
        evidence.ticket,
        evidence.range.landings.len(),
        evidence.pulls.len(),
        evidence.gaps.len(),
        evidence.requests.github,
        cli.output.display()
    )?;
    for g in &evidence.gaps {
        writeln!(out, "  gap: {}: {}", g.what, g.why)?;
    }
    Ok(Outcome::Pass)
}

/// A failure of collecting evidence stops the command.
impl From<crate::steps::analyze::collect::CollectError> for CliError {
    fn from(e: crate::steps::analyze::collect::CollectError) -> Self {
        CliError::Step(Box::new(e))
    }
}
