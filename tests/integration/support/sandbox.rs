//! A sandbox for flow tests: the stand-ins for Jira and CircleCI running in
//! the test process, a pipeline set up in them, a working directory with a
//! `changegate.toml`, and the real binary run with the CircleCI job
//! environment of that pipeline.

use std::path::{Path, PathBuf};

use changegate::standins::{SITE_CONFIG, StandIns};
use changegate::{CircleCi, CircleCiSettings, Jira, JiraSettings};
use changegate::{RetryPolicy, Secret};
use serde_json::{Value, json};

use crate::support::{Output, Run};

/// Credentials of the stand-in users.
pub(crate) const CI: (&str, &str) = ("ci@acme.test", "ci-token");
/// The scheduled drift check's own account (`[jira] drift_check_account_ids`).
pub(crate) const DRIFT_CHECK: (&str, &str) = ("drift@acme.test", "drift-token");
pub(crate) const ALICE: (&str, &str) = ("alice@acme.test", "alice-token");

/// A Trivy image scan as Trivy writes it (SARIF 2.1.0, one rule per
/// vulnerability with its CVSS as `security-severity`), written for these
/// tests: one medium finding (5.3), below the default blocking severity
/// (7.0), so the scan passes. The reader is tested on real scanners' files
/// in `sarif.rs` (external: `../shared`).
pub(crate) const TRIVY_CLEAN_SARIF: &str = r#"{
  "version": "2.1.0",
  "$schema": "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/main/sarif-2.1/schema/sarif-schema-2.1.0.json",
  "runs": [{
    "tool": {"driver": {"fullName": "Trivy Vulnerability Scanner", "informationUri": "https://github.com/aquasecurity/trivy",
      "name": "Trivy", "version": "0.58.1",
      "rules": [{"id": "CVE-2026-0001", "name": "OsPackageVulnerability",
        "shortDescription": {"text": "libexample: medium severity issue"},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"precision": "very-high", "security-severity": "5.3", "tags": ["vulnerability", "security", "MEDIUM"]}}]}},
    "results": [{"ruleId": "CVE-2026-0001", "ruleIndex": 0, "level": "warning",
      "message": {"text": "Package: libexample\nInstalled Version: 1.0.0-r0\nVulnerability CVE-2026-0001\nSeverity: MEDIUM"},
      "locations": [{"physicalLocation": {"artifactLocation": {"uri": "library/app", "uriBaseId": "ROOTPATH"},
        "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}}}]}],
    "columnKind": "utf16CodeUnits",
    "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}}
  }]
}"#;

/// A Grype image scan (as Grype writes SARIF), written for these tests: one
/// critical finding (`security-severity` 9.8), which blocks.
pub(crate) const GRYPE_BLOCKING_SARIF: &str = r#"{
  "version": "2.1.0",
  "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/cos02/schemas/sarif-schema-2.1.0.json",
  "runs": [{
    "tool": {"driver": {"name": "grype", "version": "0.86.1", "informationUri": "https://github.com/anchore/grype",
      "rules": [{"id": "CVE-2026-0002-libexample", "name": "ApkMatcherExactDirectMatch",
        "shortDescription": {"text": "CVE-2026-0002 critical vulnerability for libexample package"},
        "properties": {"security-severity": "9.8"}}]}},
    "results": [{"ruleId": "CVE-2026-0002-libexample", "level": "error",
      "message": {"text": "A critical vulnerability in apk package: libexample, version 1.0.0-r0 was found in image app"},
      "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app/lib/apk/db/installed"},
        "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}}}]}]
  }]
}"#;

/// One pipeline of the sandbox.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub id: String,
    pub number: u64,
    pub workflow_id: String,
    pub commit: String,
    pub branch: String,
}

pub(crate) struct Sandbox {
    pub stand_ins: StandIns,
    pub dir: tempfile::TempDir,
    /// Extra environment for every run.
    pub env: Vec<(String, String)>,
    /// The bot's key pair (private seed, public key), base64.
    pub keys: (String, String),
}

impl Sandbox {
    /// Stand-ins plus a directory holding the stand-in site's config.
    pub(crate) fn new() -> Self {
        Self::with_config(SITE_CONFIG)
    }

    /// Stand-ins, a directory holding `config`, and a bot: its key pair
    /// made, its policy (from `config`) published as the bot publishes it,
    /// and its public key in every job's environment.
    pub(crate) fn with_config(config: &str) -> Self {
        let stand_ins = StandIns::start("127.0.0.1:0").expect("stand-ins start");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("changegate.toml"), config).unwrap();
        let keys = changegate::signing::generate();
        let env = vec![("CHANGEGATE_RECEIPT_PUBKEY".to_owned(), keys.1.clone())];
        let sb = Sandbox { stand_ins, dir, env, keys };
        sb.publish_policy();
        sb
    }

    /// Stand-ins and `config` without a bot: every job runs `--no-bot`.
    pub(crate) fn without_bot(config: &str) -> Self {
        let mut sb = Self::with_config(config);
        sb.env = vec![("CHANGEGATE_NO_BOT".to_owned(), "1".to_owned())];
        sb
    }

    /// Publishes the policy of the sandbox's `changegate.toml`, signed with
    /// the bot's key, as `changegate serve` does at start-up.
    pub(crate) fn publish_policy(&self) {
        let text = std::fs::read_to_string(self.path().join("changegate.toml")).unwrap();
        let config = changegate::Config::parse(&text, "changegate.toml", changegate::Date::today_utc())
            .expect("the sandbox's configuration is valid");
        let key = changegate::signing::SigningKey::from_base64(&self.keys.0).unwrap();
        let content = changegate::policy::PolicyContent::of(&config);
        let serial = changegate::Timestamp::now().0 as u64;
        let signed = changegate::policy::sign(
            &key,
            content,
            serial,
            changegate::Timestamp::now(),
            changegate::policy::DEFAULT_TTL,
        );
        let value = serde_json::to_value(signed).unwrap();
        self.stand_ins.with_jira(|j| j.set_project_property(&config.jira.project, changegate::policy::PROPERTY, value));
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates a pipeline: build (done), request_change (running), the
    /// hold (blocked until request_change ends), plan.
    pub(crate) fn pipeline(&self, project: &str, branch: &str, commit: &str) -> Pipeline {
        self.pipeline_with_jobs(
            project,
            branch,
            commit,
            json!([
                {"name": "build", "type": "build"},
                {"name": "request_change", "type": "build", "requires": ["build"], "status": "running"},
                {"name": "hold_change", "type": "approval", "requires": ["request_change"]},
                {"name": "plan", "type": "build", "requires": ["hold_change"], "status": "blocked"}
            ]),
        )
    }

    /// A pipeline whose one workflow has `jobs` (the stand-in's job specs).
    pub(crate) fn pipeline_with_jobs(&self, project: &str, branch: &str, commit: &str, jobs: Value) -> Pipeline {
        self.pipeline_from(json!({"project_slug": project, "branch": branch, "revision": commit,
                                  "workflow": "deploy-prod", "jobs": jobs}))
    }

    /// A pipeline from the stand-in's full pipeline spec (`project_slug`,
    /// `branch`, `revision`, `workflow`, `jobs`, and optionally
    /// `triggered_by`).
    pub(crate) fn pipeline_from(&self, spec: Value) -> Pipeline {
        let v = self.stand_ins.with_circleci(|c| c.create_pipeline(&spec)).unwrap();
        Pipeline {
            id: v["pipeline_id"].as_str().unwrap().into(),
            number: v["pipeline_number"].as_u64().unwrap(),
            workflow_id: v["workflow_id"].as_str().unwrap().into(),
            commit: spec["revision"].as_str().unwrap().into(),
            branch: spec["branch"].as_str().unwrap().into(),
        }
    }

    /// The whole deploy workflow of `project` at `commit`: build, request,
    /// the change hold, plan (in `plan_status`), the plan hold, apply and
    /// close.
    pub(crate) fn deploy_pipeline(&self, project: &str, commit: &str, plan_status: &str) -> Pipeline {
        self.pipeline_with_jobs(
            project,
            "main",
            commit,
            json!([
                {"name": "build", "type": "build"},
                {"name": "request_change", "type": "build", "requires": ["build"]},
                {"name": "hold_change", "type": "approval", "requires": ["request_change"]},
                {"name": "plan", "type": "build", "requires": ["hold_change"], "status": plan_status},
                {"name": "hold_plan_review", "type": "approval", "requires": ["plan"]},
                {"name": "apply", "type": "build", "requires": ["hold_plan_review"], "status": "blocked"},
                {"name": "close_change", "type": "build", "requires": ["apply"], "status": "blocked"}
            ]),
        )
    }

    /// The CircleCI job environment of `p`, with the CI user's credentials.
    pub(crate) fn job_env(&self, p: &Pipeline) -> Vec<(String, String)> {
        let mut e: Vec<(String, String)> = [
            ("JIRA_BASE_URL", self.stand_ins.url()),
            ("JIRA_USER_EMAIL", CI.0.into()),
            ("JIRA_API_TOKEN", CI.1.into()),
            ("CIRCLECI_API_URL", self.stand_ins.circleci_url()),
            ("CIRCLE_TOKEN", changegate::standins::circleci::TOKEN.into()),
            ("CIRCLE_WORKFLOW_ID", p.workflow_id.clone()),
            ("CIRCLE_SHA1", p.commit.clone()),
            ("CIRCLE_BRANCH", p.branch.clone()),
            ("CIRCLE_BUILD_URL", format!("https://app.circleci.com/jobs/{}", p.number)),
            ("CIRCLE_USERNAME", "dev-dana".into()),
            ("CHANGEGATE_HTTP_TIMEOUT", "1".into()),
            ("CHANGEGATE_HTTP_ATTEMPTS", "3".into()),
            ("CHANGEGATE_HTTP_MAX_WAIT", "2".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        e.extend(self.env.iter().cloned());
        e
    }

    /// A changegate run in the job environment of `p` (add `.env(..)`, then `.run()`).
    pub(crate) fn job<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, p: &Pipeline, args: I) -> Run {
        let mut run = Run::new(args).cwd(self.path());
        for (k, v) in self.job_env(p) {
            run = run.env(&k, &v);
        }
        run
    }

    /// A changegate run as the bot: its Jira user, its key, GitHub at the
    /// stand-in.
    pub(crate) fn bot<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, p: &Pipeline, args: I) -> Run {
        self.job(p, args)
            .env("JIRA_USER_EMAIL", "bot@acme.test")
            .env("JIRA_API_TOKEN", "bot-token")
            .env("GITHUB_API_URL", &self.stand_ins.url())
            .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
            .env("CHANGEGATE_RECEIPT_KEY", &self.keys.0)
            .env("CIRCLE_TOKEN", changegate::standins::circleci::BOT_TOKEN)
    }

    /// One reconcile pass of the bot (asserted to succeed).
    pub(crate) fn reconcile(&self, p: &Pipeline) -> Output {
        let out = self.bot(p, ["reconcile", "--hold-wait", "1"]).run();
        assert_eq!(out.code, 0, "reconcile: {}{}", out.stdout, out.stderr);
        out
    }

    /// Stores a clean Trivy scan ([`TRIVY_CLEAN_SARIF`]) as an artifact of
    /// the build job of `p`.
    pub(crate) fn add_trivy(&self, p: &Pipeline) {
        let sarif = TRIVY_CLEAN_SARIF;
        self.stand_ins
            .with_circleci(|c| {
                c.add_artifact(
                    &json!({"workflow_id": p.workflow_id, "job": "build", "path": "reports/trivy.sarif", "content": sarif}),
                )
            })
            .unwrap();
    }

    /// Runs `changegate request` for `p` with extra arguments.
    pub(crate) fn request(&self, p: &Pipeline, extra: &[&str]) -> Output {
        self.request_for_job(p, "build", extra)
    }

    /// Runs `changegate request` naming `build_job` as the artifact job.
    pub(crate) fn request_for_job(&self, p: &Pipeline, build_job: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "request".to_owned(),
            "--environment".into(),
            "production".into(),
            "--build-job".into(),
            build_job.into(),
            "--hold".into(),
            "hold_change".into(),
            "--pipeline-id".into(),
            p.id.clone(),
            "--pipeline-number".into(),
            p.number.to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let run = self.job(p, args);
        run.run()
    }

    /// A Jira client acting as a user of the stand-in site.
    pub(crate) fn jira_as(&self, (email, token): (&str, &str)) -> Jira {
        let s = JiraSettings { base_url: self.stand_ins.url(), email: email.into(), token: Secret::new(token) };
        Jira::new(&s, None, RetryPolicy::default()).unwrap()
    }

    /// A CircleCI client of the stand-in, with `token` (one of
    /// `changegate::standins::circleci`'s tokens).
    pub(crate) fn circleci_as(&self, token: &str) -> CircleCi {
        circleci_client(&self.stand_ins.circleci_url(), token)
    }

    /// Every issue of the stand-in site.
    pub(crate) fn issues(&self) -> Vec<Value> {
        self.stand_ins.with_jira(|j| j.dump())["issues"].as_array().unwrap().clone()
    }

    pub(crate) fn issue(&self, key: &str) -> Value {
        self.issues().into_iter().find(|i| i["key"] == key).unwrap_or_else(|| panic!("no issue {key}"))
    }

    /// The ticket's comments, as plain text, oldest first.
    pub(crate) fn comments(&self, key: &str) -> Vec<String> {
        self.issue(key)["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Live (not closed) tickets.
    pub(crate) fn live(&self) -> Vec<Value> {
        self.issues()
            .into_iter()
            .filter(|i| !matches!(i["status"].as_str().unwrap(), "Done" | "Failed" | "Cancelled" | "Declined"))
            .collect()
    }

    /// The state file written by the last request.
    pub(crate) fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path().join("changegate.json")).unwrap()).unwrap()
    }

    /// Injects a fault through the control API.
    pub(crate) fn fault(&self, fault: Value) {
        let url = format!("{}/_standin/faults", self.stand_ins.url());
        let status = ureq::post(&url).send_json(&fault).unwrap().status();
        assert_eq!(status, 204);
    }

    pub(crate) fn clear_faults(&self) {
        ureq::delete(&format!("{}/_standin/faults", self.stand_ins.url())).call().unwrap();
    }

    pub(crate) fn set_search_lag(&self, lag: u64) {
        self.stand_ins.with_jira(|j| j.search_lag = lag);
    }

    /// Sets a job's status in a workflow.
    pub(crate) fn set_job(&self, workflow_id: &str, job: &str, status: &str) {
        self.stand_ins
            .with_circleci(|c| c.set_job(&json!({"workflow_id": workflow_id, "job": job, "status": status})))
            .unwrap();
    }

    /// A job's status in a workflow.
    pub(crate) fn job_status(&self, workflow_id: &str, job: &str) -> String {
        let dump = self.stand_ins.with_circleci(|c| c.dump());
        let wf = dump["workflows"].as_array().unwrap().iter().find(|w| w["id"] == workflow_id).unwrap().clone();
        let job = wf["jobs"].as_array().unwrap().iter().find(|j| j["name"] == job).unwrap().clone();
        job["status"].as_str().unwrap().to_owned()
    }

    pub(crate) fn state_path(&self) -> PathBuf {
        self.path().join("changegate.json")
    }
}

/// A commit SHA made from a number.
pub(crate) fn sha(n: u32) -> String {
    format!("{n:040x}")
}

/// A CircleCI client of the API at `api_url`, with `token`.
pub(crate) fn circleci_client(api_url: &str, token: &str) -> CircleCi {
    let s = CircleCiSettings { api_url: api_url.to_owned(), token: Secret::new(token) };
    CircleCi::new(&s, None, RetryPolicy::default()).unwrap()
}
