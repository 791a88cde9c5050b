//! `changegate plan-check`: judge a plan, print the report, exit 0/1/2.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, Format, load_config};
use crate::digest::Sha256Digest;
use crate::outcome::Outcome;
use crate::plan;

#[derive(Debug, Args)]
pub(super) struct PlanCheckArgs {
    /// Plan JSON from `terraform show -json` or `tofu show -json`; `-` reads stdin
    #[arg(value_name = "PLAN_JSON", default_value = "-")]
    plan_json: String,

    /// The binary plan file that will be applied; its digest is recorded
    #[arg(long, value_name = "FILE")]
    plan_file: Option<PathBuf>,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Also write the JSON report to FILE
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
}

pub(super) fn run(args: &PlanCheckArgs, config: Option<&Path>, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let config = load_config(config)?;
    let input: Box<dyn Read + Send> = if args.plan_json == "-" {
        Box::new(io::stdin())
    } else {
        let path = PathBuf::from(&args.plan_json);
        Box::new(File::open(&path).map_err(|source| CliError::File { what: "cannot open the plan", path, source })?)
    };
    let mut report = plan::check(input, &config.plan)?;
    if let Some(path) = &args.plan_file {
        let digest = Sha256Digest::of_file(path).map_err(|source| CliError::File {
            what: "cannot read the plan file",
            path: path.clone(),
            source,
        })?;
        report.plan_file_digest = Some(digest);
    }
    if let Some(path) = &args.json_out {
        std::fs::write(path, report.to_json() + "\n").map_err(|source| CliError::File {
            what: "cannot write the JSON report",
            path: path.clone(),
            source,
        })?;
    }
    let rendered = match args.format {
        Format::Text => report.to_text(),
        Format::Markdown => report.to_markdown(),
        Format::Json => report.to_json() + "\n",
    };
    out.write_all(rendered.as_bytes())?;
    out.flush()?;
    Ok(if report.risky { Outcome::Deny } else { Outcome::Pass })
}
