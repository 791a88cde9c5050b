//! `changegate demo`: the whole three-step process once, on this machine,
//! against the embedded stand-ins for Jira, GitHub and CircleCI, narrated
//! step by step. Nothing is configured and nothing leaves the machine: the
//! stand-ins listen on loopback, the repository is a real git repository
//! built in a temporary directory, and every step runs the very command a
//! CI job or the bot runs (in this process, with that job's environment).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use serde_json::{Value, json};

use super::common::CliError;
use crate::base::env::Env;
use crate::base::outcome::Outcome;
use crate::clients::http::{RetryPolicy, Secret};
use crate::clients::jira::{Jira, JiraSettings};
use crate::standins::github::{Pull, WEB_FLOW_EMAIL};
use crate::standins::{SITE_CONFIG, StandIns};

#[derive(Debug, Args)]
pub(super) struct DemoCli {
    /// Keep the demo's files in DIR: the repository, configuration, state, plan and evidence files,
    /// and the stand-ins' Jira and CircleCI at the end (site/); the demo lists what it kept
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,

    /// Address the stand-ins listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0", hide = true)]
    listen: String,

    /// Send the commands' Jira calls here instead (a proxy in front of the stand-ins; for tests)
    #[arg(long, value_name = "URL", hide = true)]
    via_jira: Option<String>,

    /// Send the commands' CircleCI calls here instead (the API root, ending in /api/v2; its host serves the artifact downloads too)
    #[arg(long, value_name = "URL", hide = true)]
    via_circleci: Option<String>,

    /// Send the commands' GitHub REST calls here instead (GraphQL still goes to the stand-in)
    #[arg(long, value_name = "URL", hide = true)]
    via_github: Option<String>,
}

/// The demo's policy: the stand-in site, auto-approval on, and a Trivy scan
/// job whose SARIF is the scan evidence.
const POLICY: &str = r#"
[approval]
auto_approve = true

[scan]
jobs = ["trivy"]
required = ["Trivy"]
code_scanning = false
"#;

/// The risky plan a person must review (the shipped example).
const RISKY_PLAN: &str = include_str!("../../examples/plan.json");

/// A Trivy run over the image that found nothing.
const CLEAN_SARIF: &str = r#"{"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": [{"tool": {"driver": {"name": "Trivy", "version": "0.58.1", "informationUri": "https://github.com/aquasecurity/trivy", "rules": []}}, "results": [], "invocations": [{"executionSuccessful": true}]}]}"#;

const PROJECT: &str = "gh/acme/web";
const REPO: &str = "acme/web";

/// Who runs a command: the CI job's Jira user, or the bot's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Ci,
    Bot,
}

struct Demo<'a> {
    out: &'a mut dyn Write,
    runner: Runner,
    stand_ins: StandIns,
    dir: PathBuf,
    receipt_key: (String, String),
    workflow: String,
    commit: String,
    failed: Vec<String>,
    via: Via,
}

/// Where the commands' calls go when not straight to the stand-ins.
#[derive(Debug, Default)]
struct Via {
    jira: Option<String>,
    circleci: Option<String>,
    github: Option<String>,
}

/// Runs one changegate command line (its first word the program's name) in
/// this process, with `env` as its environment, writing its report to the
/// buffer; a command that fails to parse or errors reports that and is
/// undecided. The command line itself hands this in, so the demo runs each
/// step through the same parser and dispatcher as the binary without
/// importing the dispatcher that dispatches to it.
pub(super) type Runner = fn(argv: &[&str], env: &Env, out: &mut Vec<u8>) -> Outcome;

pub(super) fn run(cli: &DemoCli, out: &mut dyn Write, runner: Runner) -> Result<Outcome, CliError> {
    git_available()?;
    let dir = match &cli.keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|source| CliError::File {
                what: "cannot create",
                path: d.clone(),
                source,
            })?;
            d.canonicalize().map_err(|source| CliError::File { what: "cannot open", path: d.clone(), source })?
        }
        None => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            std::env::temp_dir().join(format!("changegate-demo-{}-{}", std::process::id(), nanos.as_nanos()))
        }
    };
    let stand_ins = StandIns::start(&cli.listen)
        .map_err(|e| CliError::Local(format!("cannot start the stand-ins on {}: {e}", cli.listen)))?;
    let via = Via { jira: cli.via_jira.clone(), circleci: cli.via_circleci.clone(), github: cli.via_github.clone() };
    if let Some(api) = &via.circleci {
        // Artifact URLs must share the API's host: the client sends its
        // token to no other plain-HTTP host.
        let origin: String = api.split('/').take(3).collect::<Vec<_>>().join("/");
        stand_ins.with_circleci(|c| c.set_artifact_origin(&origin));
    }
    let mut demo = Demo {
        out,
        runner,
        stand_ins,
        dir: dir.clone(),
        receipt_key: crate::model::receipt::generate(),
        workflow: String::new(),
        commit: String::new(),
        failed: Vec::new(),
        via,
    };
    let result = demo.story();
    if cli.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        demo.keep_site()?;
        writeln!(demo.out, "\nKept in {}:", dir.display())?;
        for (name, what) in kept(&dir)? {
            writeln!(demo.out, "  {name:<44} {what}")?;
        }
    }
    result?;
    if demo.failed.is_empty() {
        writeln!(demo.out, "\nThe demo went as the process says it must.")?;
        Ok(Outcome::Pass)
    } else {
        writeln!(demo.out, "\nThe demo did not go as expected:")?;
        for f in &demo.failed {
            writeln!(demo.out, "  - {f}")?;
        }
        Ok(Outcome::Undecided)
    }
}

/// What the demo keeps, as its files are named: a description for each.
fn describe_kept(path: &str) -> &'static str {
    match path {
        "acme-web/" => "the git repository of acme/web the deploy was built from",
        "changegate.toml" => "the policy the bot and the jobs ran with",
        "changegate.json" => "the state file request wrote for the later jobs",
        "previous.json" => "the state file of the previous deploy (the base of the change set)",
        "plan.json" => "the plan JSON judged (the shipped example)",
        "plan.tfplan" => "the binary plan applied (a stand-in)",
        "site/jira.json" => "Jira at the end: the tickets, their fields, properties, comments and history",
        "site/circleci.json" => "CircleCI at the end: the pipelines, workflows and jobs",
        "site/attachments/" => "the tickets' attachments, named TICKET-FILE (the evidence records)",
        p if p.starts_with("changegate-evidence-") => "the evidence record attached to the ticket, re-decided offline",
        _ => "",
    }
}

/// Each entry `--keep` left in `dir` (and in its `site/`), with what it is.
fn kept(dir: &Path) -> std::io::Result<Vec<(String, &'static str)>> {
    let mut out = Vec::new();
    for sub in ["", "site/"] {
        let mut names: Vec<(String, bool)> = std::fs::read_dir(dir.join(sub))?
            .map(|e| e.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().is_dir())))
            .collect::<Result<_, _>>()?;
        names.sort();
        for (name, is_dir) in names {
            let path = format!("{sub}{name}{}", if is_dir { "/" } else { "" });
            if path != "site/" {
                out.push((path.clone(), describe_kept(&path)));
            }
        }
    }
    Ok(out)
}

fn git_available() -> Result<(), CliError> {
    match Command::new("git").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err(CliError::Local("changegate demo builds a real git repository and needs git on PATH".into())),
    }
}

impl Demo<'_> {
    /// The story: one production deploy of acme/web, from request to close.
    fn story(&mut self) -> Result<(), CliError> {
        let (pipeline_id, pipeline_number) = self.scene()?;
        self.heading("Step 1: request (CI job cg/request_change)")?;
        let state = self.dir.join("changegate.json");
        let state_arg = state.display().to_string();
        let key = self.request(&pipeline_id, &pipeline_number, &state, &state_arg)?;
        self.analyse(&key)?;
        let (pj, pf) = self.plan(&key, &state_arg)?;
        self.apply(&key, &state_arg, &pj, &pf)?;
        self.heading(&format!("The ticket at the end: {key}"))?;
        self.final_state(&key)?;
        Ok(())
    }

    /// The scene: the demo's folder and configuration, the repository, the
    /// bot's signed policy, the previous deploy and the pipeline to deploy
    /// (its id and number).
    fn scene(&mut self) -> Result<(String, String), CliError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| CliError::File {
            what: "cannot create",
            path: self.dir.clone(),
            source,
        })?;
        std::fs::write(self.dir.join("changegate.toml"), format!("{SITE_CONFIG}{POLICY}"))?;
        writeln!(
            self.out,
            "changegate demo: one production deploy of acme/web, from request to close, against local stand-ins\n\
             of Jira, GitHub and CircleCI on {} (nothing leaves this machine).",
            self.stand_ins.url()
        )?;

        self.heading("The scene")?;
        let (base, head) = self.repository()?;
        let outcome = self.cg(Who::Bot, "", &["reconcile", "--hold-wait", "5"])?;
        self.expect(outcome == Outcome::Pass, "the bot published its signed policy")?;
        self.note(
            "Before anything else the bot publishes its policy (controlled environments, approvers, TTL, windows,\n\
             field map) signed with its key, in the Jira project property changegate.policy. Every CI step below\n\
             verifies it with the bot's public key (CHANGEGATE_RECEIPT_PUBKEY) and lets the checkout's\n\
             changegate.toml only tighten it.",
        )?;

        self.previous_deploy(&base)?;
        self.pipeline(&head)
    }

    /// Step 1: the CI job requests the change; returns the ticket's key.
    fn request(
        &mut self,
        pipeline_id: &str,
        pipeline_number: &str,
        state: &Path,
        state_arg: &str,
    ) -> Result<String, CliError> {
        let outcome = self.cg(
            Who::Ci,
            "request_change",
            &[
                "request",
                "--environment",
                "production",
                "--build-job",
                "build",
                "--hold",
                "hold_change",
                "--pipeline-id",
                pipeline_id,
                "--pipeline-number",
                pipeline_number,
                "--justification",
                "Checkout fix and new pricing copy for the winter release",
                "--rollback-plan",
                "Redeploy release 1.0.0 with the same pipeline",
                "--service",
                "acme-web",
                "--output",
                state_arg,
            ],
        )?;
        self.expect(outcome == Outcome::Pass, "request created the ticket")?;
        let key = self.ticket_key(state)?;
        self.note(&format!(
            "{key} is Open with every required field filled from the build; the workflow waits at hold_change, using no compute."
        ))?;
        self.job("request_change", "success");
        Ok(key)
    }

    /// Step 2: the bot analyses ticket `key` and sends it to a person, who
    /// approves it; the bot resumes the hold.
    fn analyse(&mut self, key: &str) -> Result<(), CliError> {
        self.heading("Step 2: analyse (the bot, woken by Jira's webhook)")?;
        let (_, text) = self.cg_output(Who::Bot, "", &["reconcile", "--hold-wait", "5"])?;
        let status = self.status(key);
        self.expect(status == "Manual review", &format!("the analysis sent {key} to Manual review (it is {status})"))?;
        let reasons = self.issue(key)["properties"]["changegate.bot"]["payload"]["analysis"]["reasons"].clone();
        self.expect(
            reasons == serde_json::json!(["review_failed"]),
            &format!("the review alone needs a person; the scans passed (reasons {reasons})"),
        )?;
        self.show_analysis(key, &text)?;
        self.note(
            "Auto-approval is on, but one check did not pass: the squash-merged pull request #2 landed a commit\n\
             nobody approved (its approval was of the branch head), so a person must decide.",
        )?;

        self.heading("Step 2: a person approves")?;
        self.approve(key, "the analysis")?;
        self.cg(Who::Bot, "", &["reconcile", "--hold-wait", "5"])?;
        self.expect(self.job_status("hold_change") == "success", "the bot resumed hold_change")?;
        self.note("The bot checked the workflow's project, pipeline, branch and commit against the ticket, wrote a\nsigned receipt, and approved hold_change through the CircleCI API.")?;
        self.job("plan", "running");
        Ok(())
    }

    /// Step 3: the plan job records a risky plan, which goes to a person;
    /// until then validate refuses to apply it. Returns the paths of the
    /// plan's JSON and binary files.
    fn plan(&mut self, key: &str, state_arg: &str) -> Result<(String, String), CliError> {
        self.heading("Step 3: plan (CI job plan)")?;
        let outcome = self.cg(Who::Ci, "plan", &["validate", "--environment", "production", "--state", state_arg])?;
        self.expect(outcome == Outcome::Pass, "validate passed before the plan")?;
        let plan_json = self.dir.join("plan.json");
        let plan_file = self.dir.join("plan.tfplan");
        std::fs::write(&plan_json, RISKY_PLAN)?;
        std::fs::write(&plan_file, b"the binary plan terraform plan -out would write")?;
        let (pj, pf) = (plan_json.display().to_string(), plan_file.display().to_string());
        self.note(
            "terraform plan -out plan.tfplan && terraform show -json plan.tfplan > plan.json (the example plan)",
        )?;
        let outcome = self.cg(
            Who::Ci,
            "plan",
            &["plan-check", &pj, "--plan-file", &pf, "--state", state_arg, "--hold", "hold_plan_review"],
        )?;
        self.expect(
            outcome == Outcome::Deny,
            "plan-check recorded the risky plan and escalated it to a person (exit 1; the orb's plan_gate step lets the hold do the pausing)",
        )?;
        let status = self.status(key);
        self.expect(
            status == "Manual review",
            &format!("the risky plan sent {key} back to Manual review (it is {status})"),
        )?;
        self.job("plan", "success");
        self.cg(Who::Bot, "", &["reconcile", "--hold-wait", "5"])?;
        self.expect(self.job_status("hold_plan_review") == "on_hold", "hold_plan_review waits for a person")?;
        self.note("Were apply to start now, validate would refuse it: the plan needs an approval given after it was recorded.")?;
        let outcome = self.cg(
            Who::Ci,
            "apply",
            &["validate", "--environment", "production", "--state", state_arg, "--plan-json", &pj, "--plan-file", &pf],
        )?;
        self.expect(outcome == Outcome::Deny, "validate refused the unreviewed plan")?;
        Ok((pj, pf))
    }

    /// Step 3 continued: a person reviews the plan, the apply job applies
    /// it (plan JSON `pj`, binary `pf`), and the close job records the
    /// deploy.
    fn apply(&mut self, key: &str, state_arg: &str, pj: &str, pf: &str) -> Result<(), CliError> {
        self.heading("Step 3: a person reviews the plan")?;
        self.approve(key, "the plan's findings")?;
        self.cg(Who::Bot, "", &["reconcile", "--hold-wait", "5"])?;
        self.expect(self.job_status("hold_plan_review") == "success", "the bot resumed hold_plan_review")?;
        self.job("apply", "running");

        self.heading("Step 3: apply the reviewed plan (CI job apply)")?;
        let outcome = self.cg(
            Who::Ci,
            "apply",
            &["validate", "--environment", "production", "--state", state_arg, "--plan-json", pj, "--plan-file", pf],
        )?;
        self.expect(outcome == Outcome::Pass, "validate passed with the reviewed plan")?;
        self.note(
            "terraform apply plan.tfplan: the very plan that was reviewed (its SHA-256 digests match the ticket's)",
        )?;
        self.job("apply", "success");
        self.job("close_change", "running");

        self.heading("Step 3: close (CI job cg/close_change, after apply whatever its outcome)")?;
        let outcome = self.cg(Who::Ci, "close_change", &["close", "--state", state_arg, "--deploy-job", "apply"])?;
        self.expect(outcome == Outcome::Pass, "close recorded the deploy")?;
        let status = self.status(key);
        self.expect(status == "Done", &format!("{key} is Done (it is {status})"))?;
        Ok(())
    }

    /// Writes what the stand-ins hold at the end (tickets with their
    /// fields, properties, comments and history; attachments; workflows)
    /// next to what the jobs wrote, for a look at the record.
    fn keep_site(&self) -> Result<(), CliError> {
        let site = self.dir.join("site");
        let files = site.join("attachments");
        std::fs::create_dir_all(&files)?;
        let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("serialises");
        std::fs::write(site.join("jira.json"), pretty(&self.stand_ins.with_jira(|j| j.dump())))?;
        std::fs::write(site.join("circleci.json"), pretty(&self.stand_ins.with_circleci(|c| c.dump())))?;
        for (key, name, bytes) in self.stand_ins.with_jira(|j| j.files()) {
            std::fs::write(files.join(format!("{key}-{name}")), bytes)?;
        }
        Ok(())
    }

    /// The repository: a first commit (deployed before), a merged and
    /// reviewed pull request, a squash-merged one, and a version bump.
    fn repository(&mut self) -> Result<(String, String), CliError> {
        let g = Git { dir: self.dir.join("acme-web") };
        std::fs::create_dir_all(&g.dir)?;
        g.run(&["init", "-q", "-b", "main"])?;
        g.write("README.md", "# acme web\n")?;
        g.write("package.json", "{\n  \"name\": \"acme-web\",\n  \"version\": \"1.0.0\"\n}\n")?;
        g.write("src/checkout.js", "export const total = (items) => items.reduce((s, i) => s + i.price, 0);\n")?;
        let base = g.commit("dana", "Release 1.0.0")?;

        // #1: two commits by carol, approved by bob, merged with a merge commit.
        g.run(&["checkout", "-q", "-b", "checkout-fix", "main"])?;
        g.write(
            "src/checkout.js",
            "export const total = (items) => items.reduce((s, i) => s + i.price * i.qty, 0);\n",
        )?;
        let c1 = g.commit("carol", "Count quantities in the checkout total")?;
        g.write("src/checkout.test.js", "// total([{price: 2, qty: 3}]) === 6\n")?;
        let c2 = g.commit("carol", "Test the checkout total")?;
        g.run(&["checkout", "-q", "main"])?;
        g.as_github(
            "dana",
            &["merge", "-q", "--no-ff", "checkout-fix", "-m", "Merge pull request #1 from acme/checkout-fix"],
        )?;
        let m1 = g.head()?;

        // #2: one commit by dana, approved by alice, squash-merged.
        g.run(&["checkout", "-q", "-b", "pricing-copy", "main"])?;
        g.write("src/pricing.txt", "Winter prices: 10% off everything\n")?;
        let p1 = g.commit("dana", "New pricing copy")?;
        g.run(&["checkout", "-q", "main"])?;
        g.run(&["merge", "-q", "--squash", "pricing-copy"])?;
        g.as_github("dana", &["commit", "-q", "--allow-empty", "-m", "New pricing copy (#2)"])?;
        let s2 = g.head()?;

        // The release bot bumps the version, pushed directly.
        g.write("package.json", "{\n  \"name\": \"acme-web\",\n  \"version\": \"1.1.0\"\n}\n")?;
        let head = g.commit("release-bot", "chore(release): 1.1.0")?;

        let pulls = vec![
            Pull::merged(1, "carol", &c2, &[c1, c2.clone()], &m1, std::slice::from_ref(&m1)).approved_by("bob", 11),
            Pull::merged(2, "dana", &p1, std::slice::from_ref(&p1), &s2, std::slice::from_ref(&s2))
                .approved_by("alice", 12),
        ];
        let dir = g.dir.clone();
        self.stand_ins.with_github(|gh| {
            gh.add_repo(REPO, &dir);
            gh.repo_mut(REPO).pulls = pulls;
        });
        self.note(&format!(
            "acme/web is a real git repository ({}) served by the GitHub stand-in. Since the last deploy:\n\
             - pull request #1 by carol: 2 commits, approved by bob, merged with a merge commit\n\
             - pull request #2 by dana: approved by alice, squash-merged into a new commit\n\
             - a version bump 1.0.0 -> 1.1.0 pushed by release-bot",
            g.dir.display()
        ))?;
        Ok((base, head))
    }

    /// The last production deploy of acme/web: a ticket for the base
    /// commit, approved and Done (the base of this change set).
    fn previous_deploy(&mut self, base: &str) -> Result<(), CliError> {
        let spec = json!({"project_slug": PROJECT, "branch": "main", "revision": base, "workflow": "deploy-prod",
            "jobs": [{"name": "build"}, {"name": "request_change", "requires": ["build"]},
                     {"name": "hold_change", "type": "approval", "requires": ["request_change"]}]});
        let p = self.stand_ins.with_circleci(|c| c.create_pipeline(&spec)).map_err(CliError::Local)?;
        // The jobs below run in this pipeline until `pipeline` sets up the next.
        self.workflow = p["workflow_id"].as_str().unwrap_or_default().to_owned();
        self.commit = base.to_owned();
        let state = self.dir.join("previous.json").display().to_string();
        let pid = p["pipeline_id"].as_str().unwrap_or_default().to_owned();
        let env = self.env(Who::Ci, "request_change");
        let (outcome, _) = self.quiet(
            &env,
            &[
                "request",
                "--environment",
                "production",
                "--build-job",
                "build",
                "--pipeline-id",
                &pid,
                "--pipeline-number",
                "1",
                "--justification",
                "Release 1.0.0",
                "--rollback-plan",
                "None: first release",
                "--output",
                &state,
            ],
        );
        self.expect(outcome == Outcome::Pass, "the previous deploy's ticket was created")?;
        let key = self.ticket_key(Path::new(&state))?;
        // The bot analysed it, a person approved, and the bot resumed its
        // hold with a signed receipt: the base of the next change set is a
        // deploy the bot signed for.
        let bot = self.env(Who::Bot, "");
        let (outcome, _) = self.quiet(&bot, &["reconcile", "--hold-wait", "5"]);
        self.expect(outcome == Outcome::Pass, "the bot analysed the previous deploy")?;
        self.person("alice@acme.test", "alice-token").transition(&key, "Approve", None).map_err(CliError::Jira)?;
        let (outcome, _) = self.quiet(&bot, &["reconcile", "--hold-wait", "5"]);
        self.expect(outcome == Outcome::Pass, "the bot resumed the previous deploy with its receipt")?;
        self.person("ci@acme.test", "ci-token").transition(&key, "Complete", None).map_err(CliError::Jira)?;
        self.note(&format!(
            "The last production deploy of acme/web is {key}: approved, deployed and Done at {}. The change set\n\
             of this deploy is every commit since then.",
            &base[..12]
        ))
    }

    /// Pipeline 2: the deploy workflow of the head commit, with a clean
    /// Trivy scan whose SARIF is an artifact. Returns its id and number.
    fn pipeline(&mut self, head: &str) -> Result<(String, String), CliError> {
        let spec = json!({"project_slug": PROJECT, "branch": "main", "revision": head, "workflow": "deploy-prod", "jobs": [
            {"name": "build"},
            {"name": "trivy", "requires": ["build"], "artifacts": [{"path": "reports/trivy.sarif", "content": CLEAN_SARIF}]},
            {"name": "request_change", "requires": ["trivy"], "status": "running"},
            {"name": "hold_change", "type": "approval", "requires": ["request_change"]},
            {"name": "plan", "requires": ["hold_change"], "status": "blocked"},
            {"name": "hold_plan_review", "type": "approval", "requires": ["plan"]},
            {"name": "apply", "requires": ["hold_plan_review"], "status": "blocked"},
            {"name": "close_change", "requires": ["apply"], "status": "blocked"}]});
        let p = self.stand_ins.with_circleci(|c| c.create_pipeline(&spec)).map_err(CliError::Local)?;
        self.workflow = p["workflow_id"].as_str().unwrap_or_default().to_owned();
        self.commit = head.to_owned();
        let id = p["pipeline_id"].as_str().unwrap_or_default().to_owned();
        let number = p["pipeline_number"].to_string();
        self.note(&format!(
            "Pipeline {number} of {PROJECT} builds {} on main: build, trivy (a clean scan, SARIF kept as an artifact),\n\
             cg/request_change, hold_change (approval), plan, hold_plan_review (approval), apply, cg/close_change.",
            &head[..12]
        ))?;
        Ok((id, number))
    }

    /// The environment of a job of the current pipeline (or of the bot).
    fn env(&self, who: Who, job: &str) -> Env {
        let url = self.stand_ins.url();
        let jira = self.via.jira.clone().unwrap_or_else(|| url.clone());
        let circleci = self.via.circleci.clone().unwrap_or_else(|| self.stand_ins.circleci_url());
        let github = self.via.github.clone().unwrap_or_else(|| url.clone());
        let (email, token) = match who {
            Who::Ci => ("ci@acme.test", "ci-token"),
            Who::Bot => ("bot@acme.test", "bot-token"),
        };
        let mut pairs: Vec<(&str, String)> = vec![
            ("JIRA_BASE_URL", jira),
            ("JIRA_USER_EMAIL", email.into()),
            ("JIRA_API_TOKEN", token.into()),
            ("CIRCLECI_API_URL", circleci),
            (
                "CIRCLE_TOKEN",
                match who {
                    Who::Ci => crate::standins::circleci::TOKEN,
                    Who::Bot => crate::standins::circleci::BOT_TOKEN,
                }
                .into(),
            ),
            ("GITHUB_API_URL", github),
            ("GITHUB_GRAPHQL_URL", format!("{url}/graphql")),
            ("GITHUB_TOKEN", crate::standins::github::TOKEN.into()),
            ("CHANGEGATE_RECEIPT_PUBKEY", self.receipt_key.1.clone()),
            ("CHANGEGATE_HTTP_TIMEOUT", "30".into()),
        ];
        match who {
            Who::Bot => pairs.push(("CHANGEGATE_RECEIPT_KEY", self.receipt_key.0.clone())),
            Who::Ci => pairs.extend([
                ("CIRCLE_WORKFLOW_ID", self.workflow.clone()),
                ("CIRCLE_SHA1", self.commit.clone()),
                ("CIRCLE_BRANCH", "main".into()),
                ("CIRCLE_JOB", job.into()),
                ("CIRCLE_BUILD_URL", format!("https://app.circleci.com/pipelines/github/acme/web/2/jobs/{job}")),
                ("CIRCLE_USERNAME", "dana".into()),
            ]),
        }
        Env::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// Runs a changegate command as `who` in `job`, narrating it.
    fn cg(&mut self, who: Who, job: &str, args: &[&str]) -> Result<Outcome, CliError> {
        Ok(self.cg_output(who, job, args)?.0)
    }

    /// [`Demo::cg`], also returning the command's output.
    fn cg_output(&mut self, who: Who, job: &str, args: &[&str]) -> Result<(Outcome, String), CliError> {
        let env = self.env(who, job);
        let shown: Vec<String> = args.iter().map(|a| self.short(a)).collect();
        let by = match who {
            Who::Ci => format!("in job {job}"),
            Who::Bot => "as the bot".to_owned(),
        };
        writeln!(self.out, "\n  $ changegate {}    # {by}", shown.join(" "))?;
        let (outcome, text) = self.quiet(&env, args);
        for line in text.lines() {
            writeln!(self.out, "  | {line}")?;
        }
        writeln!(self.out, "  -> exit {}", outcome.code())?;
        Ok((outcome, text))
    }

    /// Runs a changegate command and returns its outcome and output.
    fn quiet(&self, env: &Env, args: &[&str]) -> (Outcome, String) {
        let config = self.dir.join("changegate.toml").display().to_string();
        let mut argv = vec!["changegate", "--config", &config];
        argv.extend_from_slice(args);
        let mut buf = Vec::new();
        let outcome = (self.runner)(&argv, env, &mut buf);
        (outcome, String::from_utf8_lossy(&buf).into_owned())
    }

    /// A path inside the demo directory, shortened for the narration.
    fn short(&self, arg: &str) -> String {
        let prefix = format!("{}/", self.dir.display());
        arg.strip_prefix(&prefix).map_or_else(|| arg.to_owned(), str::to_owned)
    }

    fn heading(&mut self, title: &str) -> Result<(), CliError> {
        writeln!(self.out, "\n== {title}")?;
        Ok(())
    }

    fn note(&mut self, text: &str) -> Result<(), CliError> {
        writeln!(self.out)?;
        for line in text.lines() {
            writeln!(self.out, "  {line}")?;
        }
        Ok(())
    }

    fn expect(&mut self, ok: bool, what: &str) -> Result<(), CliError> {
        if ok {
            writeln!(self.out, "  ok: {what}")?;
        } else {
            writeln!(self.out, "  NOT AS EXPECTED: {what}")?;
            self.failed.push(what.to_owned());
        }
        Ok(())
    }

    fn ticket_key(&self, state: &Path) -> Result<String, CliError> {
        let text = std::fs::read_to_string(state).map_err(|source| CliError::File {
            what: "cannot read the state file",
            path: state.to_owned(),
            source,
        })?;
        serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["ticket"].as_str().map(str::to_owned))
            .ok_or_else(|| CliError::Invalid(format!("{} names no ticket", state.display())))
    }

    fn person(&self, email: &str, token: &str) -> Jira {
        let s = JiraSettings { base_url: self.stand_ins.url(), email: email.into(), token: Secret::new(token) };
        Jira::new(&s, None, RetryPolicy::default()).expect("a client for the local stand-in")
    }

    fn approve(&mut self, key: &str, what: &str) -> Result<(), CliError> {
        self.person("alice@acme.test", "alice-token").transition(key, "Approve", None)?;
        self.note(&format!(
            "Alice (approvers group) reads {what} and moves {key} to Approved in Jira. Approving the hold in\n\
             CircleCI instead would achieve nothing: every later job checks the ticket."
        ))
    }

    fn issue(&self, key: &str) -> Value {
        let dump = self.stand_ins.with_jira(|j| j.dump());
        dump["issues"].as_array().and_then(|a| a.iter().find(|i| i["key"] == key).cloned()).unwrap_or(Value::Null)
    }

    fn status(&self, key: &str) -> String {
        self.issue(key)["status"].as_str().unwrap_or_default().to_owned()
    }

    fn job(&self, name: &str, status: &str) {
        let spec = json!({"workflow_id": self.workflow, "job": name, "status": status});
        // The workflow and job exist: they were created above.
        let _ = self.stand_ins.with_circleci(|c| c.set_job(&spec));
    }

    fn job_status(&self, name: &str) -> String {
        let dump = self.stand_ins.with_circleci(|c| c.dump());
        dump["workflows"]
            .as_array()
            .and_then(|w| w.iter().find(|w| w["id"] == self.workflow.as_str()))
            .and_then(|w| w["jobs"].as_array())
            .and_then(|j| j.iter().find(|j| j["name"] == name))
            .and_then(|j| j["status"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The head of the analysis the bot posted, and the decision
    /// reproduced offline from the evidence record attached to the ticket.
    fn show_analysis(&mut self, key: &str, bot_output: &str) -> Result<(), CliError> {
        let issue = self.issue(key);
        let comments: Vec<String> = issue["comments"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if let Some(c) = comments.iter().rev().find(|c| c.starts_with("changegate analysis")) {
            writeln!(self.out, "\n  The analysis on {key} begins:")?;
            for line in c.lines().filter(|l| !l.trim().is_empty()).take(3) {
                writeln!(self.out, "  > {line}")?;
            }
        }
        // The evidence record is attached; `decide` re-decides it offline,
        // as the monthly inspection does.
        let name = bot_output
            .split_whitespace()
            .find(|w| w.starts_with("changegate-evidence-") && w.ends_with(".json"))
            .map(str::to_owned);
        let Some(name) = name else { return Ok(()) };
        let Some(bytes) = self.stand_ins.with_jira(|j| j.attachment(key, &name)) else { return Ok(()) };
        let path = self.dir.join(&name);
        std::fs::write(&path, bytes)?;
        self.note(&format!("The full analysis, re-decided offline from the evidence record attached to {key}:"))?;
        let p = path.display().to_string();
        let outcome = self.cg(Who::Bot, "", &["decide", &p])?;
        self.expect(outcome == Outcome::Deny, "the attached evidence gives the same decision: a person must approve")
    }

    fn final_state(&mut self, key: &str) -> Result<(), CliError> {
        let issue = self.issue(key);
        let f = &issue["fields"];
        let field = |id: &str| -> String {
            match &f[id] {
                Value::String(s) => s.clone(),
                Value::Object(o) => o.get("value").and_then(Value::as_str).unwrap_or_default().to_owned(),
                Value::Null => String::new(),
                Value::Number(n) => n.as_u64().map_or_else(
                    || n.as_f64().filter(|x| x.fract() == 0.0).map_or_else(|| n.to_string(), |x| format!("{x:.0}")),
                    |u| u.to_string(),
                ),
                v => v.to_string(),
            }
        };
        let mut lines = vec![
            format!(
                "status: {}, resolution: {}",
                issue["status"].as_str().unwrap_or(""),
                issue["resolution"].as_str().unwrap_or("-")
            ),
            format!("summary: {}", field("summary")),
            format!(
                "environment {}, repository {}, branch {}, commit {}",
                field("customfield_10050"),
                field("customfield_10055"),
                field("customfield_10056"),
                field("customfield_10057").chars().take(12).collect::<String>()
            ),
            format!(
                "build job {} #{}, change type {}, risk level {}, scans {}",
                field("customfield_10058"),
                field("customfield_10059"),
                field("customfield_10053"),
                field("customfield_10054"),
                field("customfield_10065")
            ),
        ];
        let bot = &issue["properties"]["changegate.bot"]["payload"];
        lines.push(format!(
            "record: CI property with {} plan(s); the bot's signed record (number {}) with {} receipt(s) and {} resumed hold(s); {} attachment(s)",
            issue["properties"]["changegate"]["plans"].as_object().map_or(0, serde_json::Map::len),
            bot["seq"].as_u64().unwrap_or(0),
            bot["receipts"].as_array().map_or(0, Vec::len),
            bot["resumed"].as_array().map_or(0, Vec::len),
            issue["attachments"].as_u64().unwrap_or(0)
        ));
        lines.push(format!("comments: {}", issue["comments"].as_array().map_or(0, Vec::len)));
        lines.push("history:".into());
        for entry in issue["changelog"].as_array().into_iter().flatten() {
            let who = entry["author"]["displayName"].as_str().unwrap_or("?");
            let when = entry["created"].as_str().unwrap_or("");
            for item in entry["items"].as_array().into_iter().flatten() {
                if item["field"] == "status" {
                    lines.push(format!(
                        "  {when}  {who}: {} -> {}",
                        item["fromString"].as_str().unwrap_or("(new)"),
                        item["toString"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        let text = lines.join("\n");
        self.note(&text)
    }
}

/// A git repository the demo commits to as GitHub users.
struct Git {
    dir: PathBuf,
}

impl Git {
    fn git(&self, args: &[&str], envs: &[(&str, &str)]) -> Result<String, CliError> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .envs(envs.iter().copied())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .map_err(|e| CliError::Local(format!("git: {e}")))?;
        if !out.status.success() {
            return Err(CliError::Local(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr))));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn run(&self, args: &[&str]) -> Result<String, CliError> {
        self.git(args, &[])
    }

    fn write(&self, file: &str, text: &str) -> Result<(), CliError> {
        let p = self.dir.join(file);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, text)?;
        Ok(())
    }

    /// Commits everything as `login` (author and committer).
    fn commit(&self, login: &str, msg: &str) -> Result<String, CliError> {
        let email = format!("{login}@acme.test");
        self.run(&["add", "-A"])?;
        self.git(
            &["commit", "-q", "--allow-empty", "--no-gpg-sign", "-m", msg],
            &[
                ("GIT_AUTHOR_NAME", login),
                ("GIT_AUTHOR_EMAIL", &email),
                ("GIT_COMMITTER_NAME", login),
                ("GIT_COMMITTER_EMAIL", &email),
            ],
        )?;
        self.head()
    }

    /// Runs git as GitHub does when it lands a pull request: authored by
    /// `login`, committed by web-flow.
    fn as_github(&self, login: &str, args: &[&str]) -> Result<String, CliError> {
        let email = format!("{login}@acme.test");
        let mut full = vec!["-c", "commit.gpgsign=false"];
        full.extend_from_slice(args);
        self.git(
            &full,
            &[
                ("GIT_AUTHOR_NAME", login),
                ("GIT_AUTHOR_EMAIL", &email),
                ("GIT_COMMITTER_NAME", "GitHub"),
                ("GIT_COMMITTER_EMAIL", WEB_FLOW_EMAIL),
            ],
        )
    }

    fn head(&self) -> Result<String, CliError> {
        self.run(&["rev-parse", "HEAD"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_files_are_listed_with_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("acme-web")).unwrap();
        std::fs::create_dir_all(dir.path().join("site/attachments")).unwrap();
        for f in ["changegate.json", "changegate-evidence-0123.json", "site/jira.json", "notes.txt"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let got = kept(dir.path()).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "acme-web/",
                "changegate-evidence-0123.json",
                "changegate.json",
                "notes.txt",
                "site/attachments/",
                "site/jira.json"
            ]
        );
        assert!(got[1].1.contains("evidence record"));
        assert!(got[5].1.starts_with("Jira at the end"));
        assert_eq!(got[3].1, "", "a file the demo does not know is listed, undescribed");
    }
}
