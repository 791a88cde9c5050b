//! `changegate plan-check`: judge a plan, print the report, exit 0/1/2.
//! A risky plan is exit 1 whether or not it is recorded on a ticket: a
//! person must decide (the orb's `plan_gate` step lets the hold wait on it).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::common::{CliError, JunitOut, load_config, write_file};
use crate::base::digest::Sha256Digest;
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::steps::escalate;
use crate::steps::plan;

#[derive(Debug, Args)]
pub(super) struct PlanCheckArgs {
    /// Plan JSON from `terraform show -json` or `tofu show -json`; `-` reads stdin
    #[arg(value_name = "PLAN_JSON", default_value = "-")]
    plan_json: String,

    /// The binary plan file that will be applied; its digest is recorded
    #[arg(long, value_name = "FILE")]
    plan_file: Option<PathBuf>,

    /// Render the JSON from --plan-file with `terraform show -json` or `tofu show -json`
    /// (after `init`) instead of reading PLAN_JSON: the JSON judged is then the plan's own
    #[arg(long, value_enum, value_name = "TOOL", requires = "plan_file")]
    render_with: Option<super::common::RenderWith>,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,

    /// Also write the JSON report to FILE
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,

    /// Also write a JUnit XML report to FILE: a test case per resource change judged, a failure per
    /// risky one (for CircleCI's store_test_results)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Also write the markdown report to FILE
    #[arg(long, value_name = "FILE")]
    markdown_out: Option<PathBuf>,

    /// Also write a self-contained HTML report to FILE (the findings table; with a ticket, a link
    /// to it and what was recorded there)
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,

    /// Also write the report as SARIF 2.1.0 to FILE
    #[arg(long, value_name = "FILE")]
    sarif_out: Option<PathBuf>,

    /// Record the plan on this ticket and escalate it when risky (exit 1: a person must decide)
    #[arg(long, value_name = "KEY")]
    ticket: Option<String>,

    /// Record the plan on the ticket named in this state file (from `changegate request`)
    #[arg(long, value_name = "FILE", conflicts_with = "ticket")]
    state: Option<PathBuf>,

    /// The approval job that waits after the plan
    #[arg(long, value_name = "NAME")]
    hold: Option<String>,

    /// Stack of the plan (several plans per deploy)
    #[arg(long, value_name = "NAME", default_value = "default")]
    stack: String,

    /// Accepted for older pipelines and changes nothing: a risky plan is always exit 1
    #[arg(long = "fail-on-risk", hide = true)]
    _fail_on_risk: bool,

    /// With --state: the environment this job deploys to [default: the state file's]
    #[arg(long)]
    environment: Option<String>,

    /// No changegate bot runs: trust the checkout's configuration (nothing is signed)
    #[arg(long, env = "CHANGEGATE_NO_BOT", value_parser = clap::builder::FalseyValueParser::new())]
    no_bot: bool,
}

/// Output formats of a plan check: the report formats, and SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlanFormat {
    /// A readable table and a one-line verdict.
    Text,
    /// For a CI step summary or a ticket.
    Markdown,
    /// The stable JSON contract (schema_version 1).
    Json,
    /// SARIF 2.1.0 for code-scanning viewers: a result per reason of each finding.
    Sarif,
}

pub(super) fn run(
    args: &PlanCheckArgs,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut junit = JunitOut::new(args.junit.as_deref(), "plan-check");
    let result = check_and_record(args, config, env, out, &mut junit);
    junit.finish(result)
}

fn check_and_record(
    args: &PlanCheckArgs,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    junit: &mut JunitOut,
) -> Result<Outcome, CliError> {
    let config_path = config;
    let config = load_config(config)?;
    let (input, rendered) = open_plan(args)?;
    let report = judge(args, input, rendered, &config.plan, junit)?;
    write_reports(args, &report)?;
    print_report(args, &report, out)?;
    out.flush()?;
    if args.ticket.is_none() && args.state.is_none() {
        return Ok(verdict(report.risky));
    }
    record(args, config_path, env, out, &report)
}

/// The plan JSON to judge: rendered from --plan-file with --render-with
/// (kept, for its digest and renderer), else PLAN_JSON or stdin.
fn open_plan(
    args: &PlanCheckArgs,
) -> Result<(Box<dyn Read + Send>, Option<crate::steps::plan::render::Rendered>), CliError> {
    if let Some(tool) = args.render_with {
        if args.plan_json != "-" {
            return Err(CliError::Usage(
                "--render-with renders the JSON from --plan-file: give no PLAN_JSON with it".into(),
            ));
        }
        let path = args.plan_file.as_deref().expect("clap requires --plan-file");
        let r = super::common::render_plan(tool, path)?;
        let bytes = r.json.clone();
        Ok((Box::new(io::Cursor::new(bytes)), Some(r)))
    } else if args.plan_json == "-" {
        Ok((Box::new(io::stdin()), None))
    } else {
        let path = PathBuf::from(&args.plan_json);
        let file = File::open(&path).map_err(|source| CliError::File { what: "cannot open the plan", path, source })?;
        Ok((Box::new(file), None))
    }
}

/// The plan's report, with its JUnit cases when wanted, and the digests of
/// what will be applied: the plan file's, and the rendered JSON's.
fn judge(
    args: &PlanCheckArgs,
    input: Box<dyn Read + Send>,
    rendered: Option<crate::steps::plan::render::Rendered>,
    rules: &crate::config::plan::PlanRules,
    junit: &mut JunitOut,
) -> Result<plan::report::Report, CliError> {
    let mut report = if junit.wanted() { plan::check_listing(input, rules)? } else { plan::check(input, rules)? };
    if junit.wanted() {
        junit.push(report.to_junit(&args.stack));
    }
    if let Some(path) = &args.plan_file {
        let digest = Sha256Digest::of_file(path).map_err(|source| CliError::File {
            what: "cannot read the plan file",
            path: path.clone(),
            source,
        })?;
        report.plan_file_digest = Some(digest);
    }
    if let Some(r) = rendered {
        report.plan_json_canonical_digest = crate::steps::plan::render::canonical_digest(&r.json);
        report.rendered_by = Some(r.renderer);
    }
    Ok(report)
}

/// The report files asked for: JSON, markdown, HTML (without a ticket yet)
/// and SARIF, in that order.
fn write_reports(args: &PlanCheckArgs, report: &plan::report::Report) -> Result<(), CliError> {
    if let Some(path) = &args.json_out {
        write_file(path, "cannot write the JSON report", (report.to_json() + "\n").as_bytes())?;
    }
    if let Some(path) = &args.markdown_out {
        write_file(path, "cannot write the markdown report", report.to_markdown().as_bytes())?;
    }
    // Written now, and again with the ticket once the plan is recorded.
    write_html(args, report, None, &[])?;
    if let Some(path) = &args.sarif_out {
        std::fs::write(path, plan::sarif::to_sarif_text(report, &sarif_inputs(args)))
            .map_err(|source| CliError::File { what: "cannot write the SARIF report", path: path.clone(), source })?;
    }
    Ok(())
}

/// The HTML report, when asked for: with the ticket and what was recorded
/// there once the plan is recorded.
fn write_html(
    args: &PlanCheckArgs,
    report: &plan::report::Report,
    ticket: Option<(&str, &str)>,
    recorded: &[String],
) -> Result<(), CliError> {
    match &args.html {
        Some(path) => {
            write_file(path, "cannot write the HTML report", report.to_html(&args.stack, ticket, recorded).as_bytes())
        }
        None => Ok(()),
    }
}

/// Where the SARIF report says the plan came from: its JSON file only when
/// read from one as given.
fn sarif_inputs(args: &PlanCheckArgs) -> plan::sarif::Inputs<'_> {
    let from_file = args.render_with.is_none() && args.plan_json != "-";
    plan::sarif::Inputs {
        plan_json: from_file.then(|| Path::new(&args.plan_json)),
        plan_file: args.plan_file.as_deref(),
        stack: Some(&args.stack),
    }
}

/// The report on stdout, in the format asked for.
fn print_report(args: &PlanCheckArgs, report: &plan::report::Report, out: &mut dyn Write) -> Result<(), CliError> {
    match args.format {
        PlanFormat::Text => out.write_all(report.to_text().as_bytes())?,
        PlanFormat::Markdown => out.write_all(report.to_markdown().as_bytes())?,
        // Streamed: the JSON of a large plan's report is megabytes.
        PlanFormat::Json => {
            let mut buffered = io::BufWriter::with_capacity(64 * 1024, &mut *out);
            report.write_json(&mut buffered)?;
            buffered.flush()?;
        }
        PlanFormat::Sarif => out.write_all(plan::sarif::to_sarif_text(report, &sarif_inputs(args)).as_bytes())?,
    }
    Ok(())
}

/// The plan recorded on the ticket bound to this pipeline, and escalated
/// when risky; the policy in force decides, never the state file.
fn record(
    args: &PlanCheckArgs,
    config_path: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    report: &plan::report::Report,
) -> Result<Outcome, CliError> {
    let mut lazy = super::ci::Lazy::default();
    let ci = super::ci::load(config_path, env, args.no_bot, &mut lazy)?;
    writeln!(out, "{}", ci.describe())?;
    let state = args.state.clone().unwrap_or_default();
    let key = match super::ci::find_ticket(
        &ci,
        &mut lazy,
        env,
        args.ticket.as_deref(),
        &state,
        args.environment.as_deref(),
    )? {
        super::ci::Found::Ticket(k) => k,
        super::ci::Found::NotControlled(e) => {
            writeln!(out, "{e} is not a controlled environment: the plan is not recorded on a ticket")?;
            return Ok(verdict(report.risky));
        }
        // Not a "no" to the plan: the step cannot do its work (exit 2), so
        // a pipeline that lets an escalation through never lets this through.
        super::ci::Found::Missing(e) => {
            return Err(CliError::Invalid(format!(
                "{e} is a controlled environment but no change ticket is bound to this pipeline: the plan cannot be recorded; run `changegate request` first"
            )));
        }
    };
    let svc = lazy.get(env)?;
    let workflow_id = env.get("CIRCLE_WORKFLOW_ID").unwrap_or_default().to_owned();
    let e =
        escalate::EscalateArgs { ticket: key.clone(), stack: args.stack.clone(), hold: args.hold.clone(), workflow_id };
    let done = escalate::run(report, &e, &ci.config, svc)?;
    for a in &done.actions {
        writeln!(out, "{a}")?;
    }
    write_html(args, report, Some((&key, &svc.jira.browse_url(&key))), &done.actions)?;
    Ok(verdict(done.risky))
}

/// Exit 1 for a risky plan (a person must decide), 0 otherwise.
fn verdict(risky: bool) -> Outcome {
    if risky { Outcome::Deny } else { Outcome::Pass }
}
