//! `changegate setup jira` against the stand-in site: from an empty
//! company-managed project to a whole gated deploy, a second run that
//! changes nothing, a partly configured site that gets only what it lacks,
//! a token without administration rights, and a team-managed project. The
//! requests themselves are checked against Jira's official description in
//! `contract.rs` (`setup_jira_requests_and_answers_pass_the_official_description`).

use changegate::standins::jira_site::Site;

use crate::support::sandbox::{ALICE, Pipeline, Sandbox, sha};
use crate::support::{Output, Run};

pub(crate) const ADMIN: (&str, &str) = ("admin@acme.test", "admin-token");

/// The bot's newest Jira webhook secret.
const HOOK_SECRET: &str = "hook-secret-3f9a";

/// Where the (absent) bot would listen.
const BOT: &str = "http://127.0.0.1:9";

/// The configuration a team starts from: no field ids, the groups by name.
pub(crate) const START: &str = r#"# Our change gate.
[jira]
project = "PRODCM"
issue_type = "Change"
required = ["justification", "rollback_plan", "environment", "repository", "branch", "commit", "build_job_name", "build_job_number"]
bot_account_ids = ["712020:changegate-bot"]

[jira.approvers]
"712020:alice" = 1001
"712020:bob" = 1002

[emergency]
group = "change-break-glass"
"#;

/// A sandbox whose Jira site is a fresh project, and `START` as its config.
pub(crate) fn empty_sandbox() -> Sandbox {
    let sb = Sandbox::with_config(START);
    sb.stand_ins.with_jira(|j| j.site = Site::empty("PRODCM"));
    sb
}

/// `changegate setup jira ARGS` as `who`, in the sandbox's directory.
pub(crate) fn setup(sb: &Sandbox, who: (&str, &str), args: &[&str]) -> Output {
    let mut all = vec!["setup", "jira"];
    all.extend_from_slice(args);
    Run::new(all)
        .cwd(sb.path())
        .env("JIRA_BASE_URL", &sb.stand_ins.url())
        .env("JIRA_USER_EMAIL", who.0)
        .env("JIRA_API_TOKEN", who.1)
        .env("CHANGEGATE_HTTP_ATTEMPTS", "1")
        .env("CHANGEGATE_JIRA_WEBHOOK_SECRETS", &format!("old-secret,{HOOK_SECRET}"))
        .run()
}

/// Whether the plan in `out` has a step `tag kind name`.
pub(crate) fn has_step(out: &str, tag: &str, kind: &str, name: &str) -> bool {
    out.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with(tag) && l[tag.len()..].trim_start().starts_with(kind) && l.contains(name)
    })
}

fn config(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.path().join("changegate.toml")).unwrap()
}

fn deploy_pipeline(sb: &Sandbox, commit: &str) -> Pipeline {
    sb.pipeline_with_jobs(
        "gh/acme/web",
        "main",
        commit,
        serde_json::json!([
            {"name": "build", "type": "build"},
            {"name": "request_change", "type": "build", "requires": ["build"]},
            {"name": "hold_change", "type": "approval", "requires": ["request_change"]},
            {"name": "plan", "type": "build", "requires": ["hold_change"], "status": "running"},
            {"name": "apply", "type": "build", "requires": ["plan"], "status": "blocked"}
        ]),
    )
}

#[test]
fn setup_on_an_empty_site_reaches_a_whole_gated_deploy_and_a_second_run_changes_nothing() {
    let sb = empty_sandbox();
    let token = "admin-token";

    // The plan only reads: everything is to be made, nothing is made.
    let plan = setup(&sb, ADMIN, &[]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(has_step(&plan.stdout, "create", "group", "change-approvers"), "{}", plan.stdout);
    assert!(has_step(&plan.stdout, "create", "workflow", "changegate change"), "{}", plan.stdout);
    assert!(plan.stdout.contains("run again with --apply"), "{}", plan.stdout);
    assert!(!sb.stand_ins.with_jira(|j| j.site.has_group("change-approvers")));

    let applied = setup(&sb, ADMIN, &["--apply", "--bot-url", BOT]);
    let text = format!("{}{}", applied.stdout, applied.stderr);
    assert!(text.contains("applied: webhook changegate bot (PRODCM): registered admin webhook"), "{text}");
    assert!(!text.contains(HOOK_SECRET) && !text.contains("old-secret"), "the secret never appears");
    assert!(text.contains("applied: created group change-approvers"), "{text}");
    assert!(text.contains("applied: created workflow changegate change"), "{text}");
    assert!(text.contains("applied: assigned workflow scheme"), "{text}");
    assert!(text.contains("applied: assigned issue type screen scheme"), "{text}");
    assert!(text.contains("config: wrote"), "{text}");
    assert!(text.contains("check: site"), "{text}");
    // The groups are empty: adding people is an administrator's act.
    assert_eq!(applied.code, 1, "{text}");
    assert!(has_step(&text, "by hand", "group", "change-approvers"), "{text}");
    assert!(!text.contains(token), "the token never appears");
    let written = config(&sb);
    assert!(written.starts_with("# Our change gate."), "comments kept: {written}");
    assert!(
        written.contains("[jira.fields]") && written.contains("justification = { id = \"customfield_"),
        "{written}"
    );

    sb.stand_ins.with_jira(|j| {
        j.add_to_group("alice@acme.test", "change-approvers");
        j.add_to_group("bob@acme.test", "change-approvers");
        j.add_to_group("carol@acme.test", "change-break-glass");
    });
    let again = setup(&sb, ADMIN, &["--apply", "--bot-url", BOT]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("applied: nothing"), "{}", again.stdout);
    assert!(again.stdout.contains("config: "), "{}", again.stdout);
    assert!(again.stdout.contains("already names every id"), "{}", again.stdout);
    assert!(again.stdout.contains("0 to create, 0 to change, 0 by hand, 0 blocked"), "{}", again.stdout);
    assert_eq!(config(&sb), written, "a second run writes nothing");
    assert_eq!(sb.stand_ins.with_jira(|j| j.admin_webhooks.count()), 1, "one webhook");

    // The whole deploy on the site setup made: request, the bot's analysis,
    // a person's approval, the CI checks, close.
    sb.publish_policy();
    let p = deploy_pipeline(&sb, &sha(901));
    let out = sb.request(&p, &["--justification", "Ship the fix", "--rollback-plan", "Redeploy the previous build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    // The CI user is offered none of the approving transitions.
    let offered: Vec<String> =
        sb.jira_as(crate::support::sandbox::CI).transitions(&key).unwrap().into_iter().map(|t| t.name).collect();
    assert!(!offered.iter().any(|t| t == "Approve" || t == "Decline" || t == "Emergency approve"), "{offered:?}");
    sb.reconcile(&p);
    sb.jira_as(ALICE).transition(&key, "Approve", None).unwrap();
    sb.reconcile(&p);
    let v = sb.job(&p, ["validate", "--environment", "production"]).run();
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    sb.set_job(&p.workflow_id, "plan", "success");
    sb.set_job(&p.workflow_id, "apply", "success");
    let c = sb.job(&p, ["close", "--deploy-job", "apply"]).run();
    assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    assert_eq!(sb.issue(&key)["status"], "Done");
}

#[test]
fn a_partly_configured_site_gets_only_what_it_lacks() {
    let sb = empty_sandbox();
    sb.stand_ins.with_jira(|j| j.site.add_group("change-approvers"));
    // The site already has an Environment text field, made by an administrator.
    use base64::Engine as _;
    let auth =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1)));
    let made: serde_json::Value = ureq::post(&format!("{}/rest/api/3/field", sb.stand_ins.url()))
        .header("Authorization", &auth)
        .send_json(serde_json::json!({"name": "Environment", "type": "com.atlassian.jira.plugin.system.customfieldtypes:textfield"}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let existing = made["id"].as_str().unwrap().to_owned();
    let first = setup(&sb, ADMIN, &["--apply"]);
    let text = first.stdout.clone();
    assert!(!text.contains("created group change-approvers"), "{text}");
    assert!(text.contains("created group change-break-glass"), "{text}");
    assert!(!text.contains("created field Environment"), "{text}");
    assert!(text.contains("created field Justification"), "{text}");
    assert!(
        config(&sb).contains(&format!("environment = {{ id = \"{existing}\", type = \"text\" }}")),
        "{}",
        config(&sb)
    );
    // Everything else was made once: nothing is left to create.
    let plan = setup(&sb, ADMIN, &[]);
    assert!(!plan.stdout.contains("create "), "{}", plan.stdout);
}

#[test]
fn a_token_without_administration_rights_gets_a_plan_that_names_the_permission() {
    let sb = empty_sandbox();
    let out = setup(&sb, crate::support::sandbox::CI, &["--apply"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("blocked: needs Administer Jira"), "{}", out.stdout);
    assert!(out.stdout.contains("blocked: needs site administration"), "{}", out.stdout);
    assert!(out.stdout.contains("applied: nothing"), "{}", out.stdout);
    assert!(!sb.stand_ins.with_jira(|j| j.site.has_group("change-approvers")));
}

#[test]
fn a_team_managed_project_is_refused_with_what_to_do() {
    let sb = empty_sandbox();
    sb.stand_ins.with_jira(|j| j.site.projects[0].style = "next-gen");
    let out = setup(&sb, ADMIN, &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("refused"), "{}", out.stdout);
    assert!(out.stdout.contains("create a company-managed project"), "{}", out.stdout);
}

#[test]
fn approvers_are_mapped_to_github_ids_checked_against_github() {
    let sb = empty_sandbox();
    assert_eq!(setup(&sb, ADMIN, &["--apply"]).code, 1);
    sb.stand_ins.with_jira(|j| {
        j.add_to_group("alice@acme.test", "change-approvers");
        j.add_to_group("carol@acme.test", "change-approvers");
    });
    // Carol approves, but the configuration does not know her GitHub id.
    let plan = setup(&sb, ADMIN, &[]);
    assert!(has_step(&plan.stdout, "by hand", "approver", "Carol On-call"), "{}", plan.stdout);
    assert!(plan.stdout.contains("--approver 712020:carol=<id>"), "{}", plan.stdout);
    let with_github = |args: &[&str]| {
        let mut all = vec!["setup", "jira"];
        all.extend_from_slice(args);
        Run::new(all)
            .cwd(sb.path())
            .env("JIRA_BASE_URL", &sb.stand_ins.url())
            .env("JIRA_USER_EMAIL", ADMIN.0)
            .env("JIRA_API_TOKEN", ADMIN.1)
            .env("GITHUB_API_URL", &sb.stand_ins.url())
            .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
            .env("CHANGEGATE_HTTP_ATTEMPTS", "1")
            .run()
    };
    let unknown = with_github(&["--approver", "712020:carol=999999"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("GitHub has no account with id 999999"), "{}", unknown.stderr);
    let bot = with_github(&["--approver", "712020:carol=41898282"]);
    assert_eq!(bot.code, 2);
    assert!(bot.stderr.contains("release-bot, a Bot account, not a person"), "{}", bot.stderr);
    let malformed = with_github(&["--approver", "carol"]);
    assert_eq!(malformed.code, 2);
    let mapped = with_github(&["--apply", "--approver", "712020:carol=1003"]);
    assert!(mapped.stdout.contains("approver: 712020:carol = GitHub carol (id 1003)"), "{}", mapped.stdout);
    assert!(has_step(&mapped.stdout, "ok", "approver", "Carol On-call"), "{}", mapped.stdout);
    assert!(config(&sb).contains("\"712020:carol\" = 1003"), "{}", config(&sb));
}
