//! `changegate decide EVIDENCE.json`: re-decides a stored evidence record
//! offline, with the policy the record stores. What an auditor runs to
//! reproduce a decision; it needs no credentials and no network.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::common::{CliError, Format, JunitOut, write_file};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::model::analysis::Recommendation;
use crate::model::evidence::Evidence;
use crate::steps::analyze::decision::{self, render};

#[derive(Debug, Args)]
pub(super) struct DecideCli {
    /// The evidence record (written by `changegate collect` or attached to the ticket)
    #[arg(value_name = "EVIDENCE.json")]
    evidence: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,

    /// Also write a JUnit XML report to FILE: a test case per landing, per required scanner and for
    /// the approval policy (for CircleCI's store_test_results)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Also write the markdown report to FILE
    #[arg(long, value_name = "FILE")]
    markdown_out: Option<PathBuf>,

    /// Also write a self-contained HTML report to FILE (linking the ticket when JIRA_BASE_URL is set)
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Reads a stored record; an unreadable one cannot be decided (exit 2).
pub(super) fn read_record(path: &Path) -> Result<Evidence, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::File {
        what: "cannot read the evidence record",
        path: path.to_owned(),
        source,
    })?;
    Evidence::from_json(&text).map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))
}

pub(super) fn run(cli: &DecideCli, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut junit = JunitOut::new(cli.junit.as_deref(), "decide");
    let result = decide(cli, env, out, &mut junit);
    junit.finish(result)
}

fn decide(cli: &DecideCli, env: &Env, out: &mut dyn Write, junit: &mut JunitOut) -> Result<Outcome, CliError> {
    let evidence = read_record(&cli.evidence)?;
    let d = decision::decide(&evidence).map_err(CliError::from)?;
    junit.push(render::junit(&d));
    if let Some(path) = &cli.markdown_out {
        write_file(path, "cannot write the markdown report", render::markdown(&d, &evidence).as_bytes())?;
    }
    if let Some(path) = &cli.html {
        let url = env.get("JIRA_BASE_URL").map(|base| format!("{}/browse/{}", base.trim_end_matches('/'), d.ticket));
        write_file(path, "cannot write the HTML report", render::html(&d, &evidence, url.as_deref(), &[]).as_bytes())?;
    }
    match cli.format {
        Format::Text => write!(out, "{}", render::text(&d, &evidence))?,
        Format::Markdown => write!(out, "{}", render::markdown(&d, &evidence))?,
        Format::Json => writeln!(out, "{}", d.to_json())?,
    }
    // Exit 0 only when approval is recommended: a record with a failed or
    // undecidable check, or facts missing, is a "no" (1).
    Ok(if d.recommendation == Recommendation::Approve { Outcome::Pass } else { Outcome::Deny })
}

/// A failure of deciding on a record stops the command.
impl From<crate::steps::analyze::decision::DecideError> for CliError {
    fn from(e: crate::steps::analyze::decision::DecideError) -> Self {
        CliError::Step(Box::new(e))
    }
}
