//! `changegate drift`: judge what changed outside Terraform (the
//! `resource_drift` of a plan, all of a refresh-only plan), print the
//! report, and with `--record` keep the stream's drift ticket in Jira in
//! step. Exit 0 no drift, 1 drift, 2 could not decide. See docs/drift.md.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::common::{CliError, Format, load_config};
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::steps::plan;

#[derive(Debug, Args)]
pub(super) struct DriftArgs {
    /// Plan JSON (`terraform show -json` of a `plan -refresh-only`, or of any plan); `-` reads stdin
    #[arg(value_name = "PLAN_JSON", default_value = "-")]
    plan_json: String,

    /// The binary plan file, rendered with --render-with instead of reading PLAN_JSON
    #[arg(long, value_name = "FILE")]
    plan_file: Option<PathBuf>,

    /// Render the JSON from --plan-file with `terraform show -json` or `tofu show -json` (after `init`)
    #[arg(long, value_enum, value_name = "TOOL", requires = "plan_file")]
    render_with: Option<super::common::RenderWith>,

    /// The environment the plan is of
    #[arg(long)]
    environment: String,

    /// The stack (Terraform root module) the plan is of
    #[arg(long, value_name = "NAME", default_value = "default")]
    stack: String,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Also write the JSON report to FILE
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,

    /// Also write the report as SARIF 2.1.0 to FILE (a result per drifted object)
    #[arg(long, value_name = "FILE")]
    sarif_out: Option<PathBuf>,

    /// Write JUnit XML: a test case per drifted object (CircleCI's Tests tab)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Also write the markdown report to FILE
    #[arg(long, value_name = "FILE")]
    markdown_out: Option<PathBuf>,

    /// Keep the drift ticket of this environment and stack in Jira in step (JIRA_* variables)
    #[arg(long)]
    record: bool,
}

pub(super) fn run(
    args: &DriftArgs,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut junit = super::common::JunitOut::new(args.junit.as_deref(), "drift");
    let result = judge_and_record(args, config, env, out, &mut junit);
    junit.finish(result)
}

fn judge_and_record(
    args: &DriftArgs,
    config: Option<&Path>,
    env: &Env,
    out: &mut dyn Write,
    junit: &mut super::common::JunitOut,
) -> Result<Outcome, CliError> {
    let config = load_config(config)?;
    let environment = crate::config::env_key(&args.environment);
    if environment.is_empty() {
        return Err(CliError::Usage("--environment is empty: name the environment the plan is of".into()));
    }
    let input: Box<dyn Read + Send> = if let Some(tool) = args.render_with {
        if args.plan_json != "-" {
            return Err(CliError::Usage(
                "--render-with renders the JSON from --plan-file: give no PLAN_JSON with it".into(),
            ));
        }
        let path = args.plan_file.as_deref().expect("clap requires --plan-file");
        Box::new(io::Cursor::new(super::common::render_plan(tool, path)?.json))
    } else if args.plan_json == "-" {
        Box::new(io::stdin())
    } else {
        let path = PathBuf::from(&args.plan_json);
        Box::new(File::open(&path).map_err(|source| CliError::File { what: "cannot open the plan", path, source })?)
    };
    let report = plan::drift::check(input, &config.plan, &environment, &args.stack)?;
    junit.push(report.to_junit());
    if let Some(path) = &args.sarif_out {
        let from_file = args.render_with.is_none() && args.plan_json != "-";
        let doc = plan::sarif::drift_to_sarif(&report, from_file.then(|| Path::new(&args.plan_json)));
        let text = serde_json::to_string_pretty(&doc).expect("a SARIF document serialises") + "\n";
        super::common::write_file(path, "cannot write the SARIF report", text.as_bytes())?;
    }
    if let Some(path) = &args.markdown_out {
        super::common::write_file(path, "cannot write the markdown report", report.to_markdown().as_bytes())?;
    }
    if let Some(path) = &args.json_out {
        std::fs::write(path, report.to_json() + "\n").map_err(|source| CliError::File {
            what: "cannot write the JSON report",
            path: path.clone(),
            source,
        })?;
    }
    let text = match args.format {
        Format::Text => report.to_text(),
        Format::Markdown => report.to_markdown(),
        Format::Json => report.to_json() + "\n",
    };
    out.write_all(text.as_bytes())?;
    if args.record {
        let jira = crate::clients::jira::Jira::new(
            &crate::clients::jira::JiraSettings::from_env(env)?,
            super::common::ca_bundle(env).as_deref(),
            crate::clients::http::RetryPolicy::from_env(env)?,
        )?;
        for line in crate::steps::drift::record(&jira, &config, &report, crate::base::time::Timestamp::now())? {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(if report.drifted { Outcome::Deny } else { Outcome::Pass })
}
