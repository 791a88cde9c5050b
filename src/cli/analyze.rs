//! `changegate analyze KEY`: collect, decide, and post the analysis on the
//! ticket (step 2 in one shot; the bot runs the same with `--approve`).
//! Exit 0 when the decision recommends approval, 1 when a person must
//! decide, 2 when the analysis could not be done.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::common::{CliError, Format, JunitOut, write_file};
use crate::base::env::Env;
use crate::base::junit::{Case, Suite};
use crate::base::outcome::Outcome;
use crate::config::Config;
use crate::steps::analyze::collect::Sources;
use crate::steps::analyze::decision::render;
use crate::steps::analyze::{self, AnalyzeArgs};

#[derive(Debug, Args)]
pub(super) struct AnalyzeCli {
    /// The change ticket [default: from the state file]
    #[arg(value_name = "KEY")]
    ticket: Option<String>,

    /// State written by `changegate request` (where the ticket is named)
    #[arg(long, value_name = "FILE", default_value = "changegate.json")]
    state: PathBuf,

    /// Collect and decide, but write nothing to the ticket
    #[arg(long)]
    dry_run: bool,

    /// Approve the ticket when every check passes and [approval] auto_approve is on (the bot)
    #[arg(long)]
    approve: bool,

    /// A SARIF file from a scan run in this deploy's job (repeatable)
    #[arg(long = "sarif", value_name = "FILE")]
    sarif: Vec<PathBuf>,

    /// Also write the evidence record here
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Output format of the decision
    #[arg(long, value_enum, default_value = "text")]
    format: Format,

    /// With the state file: the environment this job deploys to [default: the state file's]
    #[arg(long)]
    environment: Option<String>,

    /// No changegate bot runs: trust the checkout's configuration, record the analysis unsigned
    #[arg(long, env = "CHANGEGATE_NO_BOT", value_parser = clap::builder::FalseyValueParser::new())]
    no_bot: bool,

    /// Also write a JUnit XML report to FILE: a test case per landing, per required scanner and for
    /// the approval policy (for CircleCI's store_test_results)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Also write the markdown report to FILE
    #[arg(long, value_name = "FILE")]
    markdown_out: Option<PathBuf>,

    /// Also write a self-contained HTML report to FILE (the analysis, a link to the ticket)
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// The clients step 2 reads through: Jira and CircleCI from the
/// environment, and GitHub.
pub(super) fn step2_clients(env: &Env) -> Result<crate::clients::Clients, CliError> {
    let mut clients = super::ci::services(env)?;
    clients.github = Some(super::ci::github(env)?);
    Ok(clients)
}

/// The effective policy: the configuration file's text and where it came
/// from, or the built-in defaults.
pub(super) fn policy_of(config: &Config) -> Result<(String, String), CliError> {
    match &config.source {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| CliError::File {
                what: "cannot read the policy",
                path: p.clone(),
                source,
            })?;
            Ok((p.display().to_string(), text))
        }
        None => Ok(("built-in defaults".to_owned(), String::new())),
    }
}

pub(super) fn run(
    cli: &AnalyzeCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    progress: &crate::base::progress::Progress,
) -> Result<Outcome, CliError> {
    let mut junit = JunitOut::new(cli.junit.as_deref(), "analyze");
    let result = analyze(cli, config_path, env, out, &mut junit, progress);
    junit.finish(result)
}

fn analyze(
    cli: &AnalyzeCli,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    junit: &mut JunitOut,
    progress: &crate::base::progress::Progress,
) -> Result<Outcome, CliError> {
    let mut lazy = super::ci::Lazy::default();
    let ci = super::ci::load(config_path, env, cli.no_bot, &mut lazy)?;
    let key = match cli.ticket.clone() {
        Some(k) => k,
        None => match super::ci::find_ticket(&ci, &mut lazy, env, None, &cli.state, cli.environment.as_deref())? {
            super::ci::Found::Ticket(k) => k,
            super::ci::Found::NotControlled(e) => {
                let why = format!("no change ticket is needed for this build ({e} is not a controlled environment)");
                writeln!(out, "{why}")?;
                junit.push(Suite::new(
                    "changegate analyze: not controlled",
                    vec![Case::passed("analyze", "controlled environment").with_output(why)],
                ));
                return Ok(Outcome::Pass);
            }
            // Nothing to analyse is no decision (exit 2), never mistaken for
            // a change escalated to a person.
            super::ci::Found::Missing(e) => {
                return Err(CliError::Invalid(format!(
                    "{e} is a controlled environment but no change ticket is bound to this pipeline: run `changegate request` first"
                )));
            }
        },
    };
    let svc = lazy.with_github(env)?;
    let config = &ci.config;
    let (source, content) = policy_of(config)?;
    let args = AnalyzeArgs { ticket: key, dry_run: cli.dry_run, approve: cli.approve, sarif_files: cli.sarif.clone() };
    // Who records: the bot's key where an operator runs this as the bot;
    // unsigned without a bot; nobody in a CI job where a bot runs.
    let signing = match env.get(crate::model::signing::PRIVATE_KEY_VAR) {
        Some(k) => Some(crate::model::signing::SigningKey::from_base64(k).map_err(CliError::from)?),
        None => None,
    };
    let mut ring = match &ci.mode {
        super::ci::Mode::Bot { ring, .. } => Some(ring.clone()),
        super::ci::Mode::NoBot => None,
    };
    if let (Some(r), Some(k)) = (&mut ring, &signing) {
        r.extend(k.ring());
    }
    let sources = Sources { clients: svc, ring: ring.as_ref(), progress };
    let policy_digest = match &ci.mode {
        super::ci::Mode::Bot { policy, .. } => policy.payload.content.digest(),
        super::ci::Mode::NoBot => crate::steps::policy::PolicyContent::of(config).digest(),
    };
    let store = match (&ci.mode, &signing) {
        (super::ci::Mode::NoBot, _) | (_, Some(_)) => Some(crate::steps::bot_record::Store {
            jira: &svc.jira,
            key: signing.as_ref().filter(|_| !ci.no_bot()),
            ring: ring.as_ref(),
            bot_accounts: &config.jira.bot_accounts,
        }),
        _ => None,
    };
    let recorder = analyze::Recorder { store, policy_digest };
    let a = analyze::run(&args, config, (&source, &content), &sources, &recorder).map_err(CliError::from)?;
    junit.push(render::junit(&a.decision));
    write_reports(cli, &svc.jira, &a)?;
    print(cli, &a, out)?;
    Ok(verdict(&a.decision))
}

/// The files asked for: the markdown and HTML reports, and the evidence
/// record, in that order.
fn write_reports(cli: &AnalyzeCli, jira: &crate::clients::jira::Jira, a: &analyze::Analysis) -> Result<(), CliError> {
    if let Some(path) = &cli.markdown_out {
        write_file(path, "cannot write the markdown report", render::markdown(&a.decision, &a.evidence).as_bytes())?;
    }
    if let Some(path) = &cli.html {
        let url = jira.browse_url(&a.decision.ticket);
        let page = render::html(&a.decision, &a.evidence, Some(&url), &a.actions);
        write_file(path, "cannot write the HTML report", page.as_bytes())?;
    }
    if let Some(path) = &cli.output {
        std::fs::write(path, a.evidence.to_bytes()).map_err(|source| CliError::File {
            what: "cannot write the evidence record",
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// The analysis on stdout: one JSON document, or the report with each gap
/// and what was done.
fn print(cli: &AnalyzeCli, a: &analyze::Analysis, out: &mut dyn Write) -> Result<(), CliError> {
    if cli.format == Format::Json {
        // One JSON document: the decision (as `decide --format json` prints
        // it), what was done, and what could not be read.
        let doc = serde_json::json!({"decision": a.decision, "actions": a.actions, "gaps": a.evidence.gaps});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc).expect("serialises"))?;
        return Ok(());
    }
    match cli.format {
        Format::Markdown => write!(out, "{}", render::markdown(&a.decision, &a.evidence))?,
        _ => write!(out, "{}", render::text(&a.decision, &a.evidence))?,
    }
    for g in &a.evidence.gaps {
        writeln!(out, "gap: {}: {}", g.what, g.why)?;
    }
    for line in &a.actions {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Exit 0 when the decision recommends approval (every check passed), 1
/// when a person must decide: the same answer `decide` gives on the record.
fn verdict(d: &crate::model::analysis::Decision) -> Outcome {
    if d.recommendation == crate::model::analysis::Recommendation::Approve { Outcome::Pass } else { Outcome::Deny }
}

/// A failure of the analysis step stops the command.
impl From<crate::steps::analyze::AnalyzeError> for CliError {
    fn from(e: crate::steps::analyze::AnalyzeError) -> Self {
        CliError::Step(Box::new(e))
    }
}
