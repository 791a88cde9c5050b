//! `changegate setup circleci` and `setup github` against the stand-ins:
//! an empty organization set up and then found ready, a partly configured
//! one given only what it lacks, tokens without the permissions named in
//! the plan, and the bot's address refused unless HTTPS.

use changegate::standins::StandIns;
use changegate::standins::circleci::{ADMIN_TOKEN, TOKEN};
use changegate::standins::github::{BranchProtection, Grant, Ruleset};
use serde_json::{Value, json};

use crate::collect::{Git, REPO};
use crate::support::{Output, Run};

/// The `[lock]` of an organization set up by these tests.
pub(crate) const LOCK: &str =
    "[lock]\nowner_slug = \"gh/acme\"\ncontexts = [\"production-aws\"]\nteam = \"acme/prod-deployers\"\n";

/// Stand-ins with a project `gh/acme/web` and the group `prod-deployers`
/// (the bot's user and carol); its id.
pub(crate) fn circleci_org(stand_ins: &StandIns) -> String {
    stand_ins.with_circleci(|c| {
        c.create_project(&json!({"slug": "gh/acme/web", "default_branch": "main"})).unwrap();
        c.create_group(&json!({"org": "gh/acme", "name": "prod-deployers", "members": ["changegate-bot", "carol"]}))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    })
}

/// `changegate setup circleci ...` with `token` against `api` (the
/// stand-ins' CircleCI, or a proxy in front of them), in a directory
/// holding `config` as changegate.toml.
pub(crate) fn setup_circleci(api: &str, token: &str, config: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("changegate.toml"), config).unwrap();
    let mut all = vec!["setup", "circleci", "--org", "gh/acme", "--project", "web"];
    all.extend_from_slice(args);
    Run::new(all)
        .cwd(dir.path())
        .env("CIRCLECI_API_URL", api)
        .env("CIRCLE_TOKEN", token)
        .env("CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS", "old-secret, new-secret")
        .env("CHANGEGATE_HTTP_ATTEMPTS", "1")
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run()
}

fn state(stand_ins: &StandIns) -> Value {
    stand_ins.with_circleci(|c| c.dump())
}

fn context<'a>(state: &'a Value, name: &str) -> Option<&'a Value> {
    state["contexts"].as_array().unwrap().iter().find(|c| c["name"] == name)
}

fn steps(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("  ") && !l.starts_with("   ")).collect()
}

#[test]
fn an_empty_organization_is_set_up_once_and_then_found_ready() {
    let stand_ins = StandIns::start("127.0.0.1:0").unwrap();
    let group_id = circleci_org(&stand_ins);
    let api = stand_ins.circleci_url();
    let args = ["--bot-url", "https://bot.acme.test/", "--apply"];

    let out = setup_circleci(&api, ADMIN_TOKEN, LOCK, &args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for line in [
        "create  context     production-aws",
        "created context production-aws",
        "restricted context production-aws by group",
        "restricted context production-aws by expression",
        "created context change-management-ci",
        "created webhook changegate to https://bot.acme.test/webhooks/circleci",
        "after applying:",
        "plan: 6 present, 0 to create, 0 to change, 0 by hand, 0 blocked",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("new-secret") && !out.stderr.contains("new-secret"), "{}", out.stdout);
    let s = state(&stand_ins);
    let prod = context(&s, "production-aws").expect("created");
    assert_eq!(
        prod["restrictions"],
        json!([{"type": "group", "value": group_id, "name": "prod-deployers"},
               {"type": "expression", "value": "pipeline.git.branch == \"main\" and not job.ssh.enabled", "name": ""}])
    );
    assert_eq!(prod["members"], json!(["changegate-bot", "carol"]));
    assert_eq!(context(&s, "change-management-ci").unwrap()["restrictions"], json!([]));
    let hooks = s["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["url"], "https://bot.acme.test/webhooks/circleci");
    assert_eq!(hooks[0]["events"], json!(["workflow-completed", "job-completed"]));
    assert_eq!(hooks[0]["verify_tls"], true);
    // The newest of the bot's secrets (the last listed) signs it.
    assert_eq!(hooks[0]["signing_secret"], "new-secret");

    // Again: nothing to do, every step ok, nothing changed.
    let again = setup_circleci(&api, ADMIN_TOKEN, LOCK, &args);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let lines = steps(&again.stdout);
    assert_eq!(lines.len(), 6, "{}", again.stdout);
    assert!(lines.iter().all(|l| l.starts_with("  ok ")), "{}", again.stdout);
    assert!(!again.stdout.contains("applying"), "{}", again.stdout);
    assert_eq!(state(&stand_ins), s);

    // The lock it made is the one `config check --probe` checks.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("changegate.toml"), LOCK).unwrap();
    let probe = Run::new(["config", "check", "--offline", "--probe", "--no-bot"])
        .cwd(dir.path())
        .env("CIRCLECI_API_URL", &api)
        .env("CIRCLE_TOKEN", TOKEN)
        .run();
    assert!(
        probe.stdout.contains("lock: production-aws: restricted to a security group (group prod-deployers"),
        "{}{}",
        probe.stdout,
        probe.stderr
    );
    assert!(!probe.stdout.contains("advice"), "{}", probe.stdout);
}

#[test]
fn a_partly_configured_organization_gets_only_what_it_lacks() {
    let stand_ins = StandIns::start("127.0.0.1:0").unwrap();
    let group_id = circleci_org(&stand_ins);
    let api = stand_ins.circleci_url();
    // The production context with a branch expression but no group and no
    // SSH guard, the CI context, and a webhook missing job-completed.
    stand_ins.with_circleci(|c| {
        c.create_context(&json!({"name": "production-aws", "owner_slug": "gh/acme",
            "restrictions": [{"type": "expression", "value": "pipeline.git.branch == \"main\""}]}))
            .unwrap();
        c.create_context(&json!({"name": "change-management-ci", "owner_slug": "gh/acme"})).unwrap();
    });
    let ci = admin_client(&api);
    let project = ci.project("gh/acme/web").unwrap();
    let spec = changegate::WebhookSpec {
        name: "bot",
        url: "https://bot.acme.test/webhooks/circleci",
        events: &["workflow-completed"],
        verify_tls: true,
    };
    ci.create_webhook(&project.id, &spec, &changegate::Secret::new("old-secret")).unwrap();

    let plan = setup_circleci(&api, ADMIN_TOKEN, LOCK, &["--bot-url", "https://bot.acme.test"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("run again with --apply"), "{}", plan.stdout);
    assert!(plan.stdout.contains("not locked yet"), "{}", plan.stdout);
    assert_eq!(state(&stand_ins)["contexts"][0]["restrictions"].as_array().unwrap().len(), 1, "a plan changes nothing");

    let out = setup_circleci(&api, ADMIN_TOKEN, LOCK, &["--bot-url", "https://bot.acme.test", "--apply"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let applied: Vec<&str> =
        out.stdout.lines().skip_while(|l| *l != "applying:").skip(1).take_while(|l| *l != "after applying:").collect();
    assert_eq!(
        applied,
        [
            "  restricted context production-aws by group",
            "  restricted context production-aws by expression",
            "  changed webhook changegate to https://bot.acme.test/webhooks/circleci"
        ],
        "{}",
        out.stdout
    );
    let s = state(&stand_ins);
    assert_eq!(
        context(&s, "production-aws").unwrap()["restrictions"],
        json!([{"type": "expression", "value": "pipeline.git.branch == \"main\"", "name": ""},
               {"type": "group", "value": group_id, "name": "prod-deployers"},
               {"type": "expression", "value": "not job.ssh.enabled", "name": ""}])
    );
    assert_eq!(s["contexts"].as_array().unwrap().len(), 2);
    let hooks = s["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["events"], json!(["workflow-completed", "job-completed"]));
    assert_eq!(hooks[0]["signing_secret"], "new-secret");
}

/// A CircleCI client with the organization admin's token.
pub(crate) fn admin_client(api: &str) -> changegate::CircleCi {
    crate::support::sandbox::circleci_client(api, ADMIN_TOKEN)
}

#[test]
fn a_token_that_is_not_an_organization_admin_gets_a_plan_naming_the_permission() {
    let stand_ins = StandIns::start("127.0.0.1:0").unwrap();
    let group_id = circleci_org(&stand_ins);
    let api = stand_ins.circleci_url();

    // The group's id cannot be looked up: blocked before anything is tried.
    let out = setup_circleci(&api, TOKEN, LOCK, &["--bot-url", "https://bot.acme.test", "--apply"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("blocked restriction production-aws: group"), "{}", out.stdout);
    assert!(out.stdout.contains("(blocked: needs CircleCI organization admin)"), "{}", out.stdout);
    assert!(out.stdout.contains("--group-id"), "{}", out.stdout);
    assert!(out.stdout.contains("nothing applied: the plan has blocked steps"), "{}", out.stdout);
    assert_eq!(state(&stand_ins)["contexts"], json!([]));

    // With the id given, the plan is tried and CircleCI refuses it.
    let out =
        setup_circleci(&api, TOKEN, LOCK, &["--bot-url", "https://bot.acme.test", "--group-id", &group_id, "--apply"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("refused: context production-aws: CircleCI: POST /context returned HTTP 403"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("not tried: production-aws: group: context production-aws was not created"),
        "{}",
        out.stdout
    );
    let after = out.stdout.split("after applying:").nth(1).unwrap();
    assert!(after.contains("blocked context     production-aws"), "{after}");
    assert!(after.contains("refused (CircleCI: POST /context returned HTTP 403: Permission denied.)"), "{after}");
    let s = state(&stand_ins);
    assert_eq!(s["contexts"], json!([]));
    assert_eq!(s["webhooks"], json!([]));
}

#[test]
fn a_bot_address_that_is_not_https_is_refused_before_anything_is_read() {
    let stand_ins = StandIns::start("127.0.0.1:0").unwrap();
    circleci_org(&stand_ins);
    let out =
        setup_circleci(&stand_ins.circleci_url(), ADMIN_TOKEN, LOCK, &["--bot-url", "http://bot.acme.test", "--apply"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("--bot-url must be the bot's https:// address (CircleCI delivers webhooks over HTTPS only)"),
        "{}",
        out.stderr
    );
    let log: Value =
        ureq::get(&format!("{}/_standin/log", stand_ins.url())).call().unwrap().body_mut().read_json().unwrap();
    assert_eq!(log, json!([]));
    // Without a bot there is no webhook to make.
    let out = setup_circleci(&stand_ins.circleci_url(), ADMIN_TOKEN, LOCK, &["--no-bot"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("webhook"), "{}", out.stdout);
}

/// Stand-ins with the repository `acme/web`, its `main` protected as the
/// review rules want.
pub(crate) fn github_repo(stand_ins: &StandIns) -> Git {
    let g = Git::new();
    stand_ins.with_github(|gh| {
        gh.add_repo(REPO, &g.path);
        gh.repo_mut(REPO).protection.insert(
            "main".into(),
            BranchProtection {
                required_approvals: Some(1),
                dismiss_stale: true,
                enforce_admins: true,
                bypass_users: Vec::new(),
            },
        );
    });
    g
}

/// `changegate setup github --repo acme/web` with `token` against `api`.
pub(crate) fn setup_github(api: &str, token: &str, args: &[&str]) -> Output {
    let mut all = vec!["setup", "github", "--repo", REPO];
    all.extend_from_slice(args);
    Run::new(all)
        .env("GITHUB_API_URL", api)
        .env("GITHUB_TOKEN", token)
        .env("CHANGEGATE_HTTP_ATTEMPTS", "1")
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run()
}

#[test]
fn a_github_token_with_everything_on_a_protected_branch_is_ready() {
    let stand_ins = StandIns::start("127.0.0.1:0").unwrap();
    let _g = github_repo(&stand_ins);
    let out = setup_github(&stand_ins.url(), changegate::standins::github::TOKEN, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let lines = steps(&out.stdout);
    assert_eq!(lines.len(), 7, "{}", out.stdout);
    assert!(lines.iter().all(|l| l.starts_with("  ok ")), "{}", out.stdout);
    assert!(
        out.stdout.contains("the branch protection rule requires a pull request with 1 approval"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_github_token_without_code_scanning_is_blocked_and_names_the_permission() {
    let stand_ins = StandIns::start("127.0.0.1:0").unwrap();
    let _g = github_repo(&stand_ins);
    stand_ins.with_github(|gh| {
        gh.tokens.insert("no-scan-token".into(), Grant { code_scanning: false, ..Grant::ALL });
    });
    let out = setup_github(&stand_ins.url(), "no-scan-token", &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("blocked access code scanning"), "{}", out.stdout);
    assert!(out.stdout.contains("(blocked: needs Code scanning alerts: read)"), "{}", out.stdout);
    assert!(out.stdout.contains("GitHub says the call needs security_events=read"), "{}", out.stdout);
    assert!(out.stdout.contains("ok      access pull requests"), "{}", out.stdout);
}

#[test]
fn a_branch_without_required_reviews_names_the_setting_and_rulesets_count_too() {
    let stand_ins = StandIns::start("127.0.0.1:0").unwrap();
    let _g = github_repo(&stand_ins);
    stand_ins.with_github(|gh| gh.repo_mut(REPO).protection.clear());
    let out = setup_github(&stand_ins.url(), changegate::standins::github::TOKEN, &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("by hand branch main: required reviews"), "{}", out.stdout);
    assert!(
        out.stdout.contains("turn on \"Require a pull request before merging\" with \"Require approvals\" set to 1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\"Dismiss stale pull request approvals when new commits are pushed\""),
        "{}",
        out.stdout
    );

    // A token that may not read the protection: a ruleset requiring review
    // counts; who may bypass it is hidden from this token.
    stand_ins.with_github(|gh| {
        gh.repo_mut(REPO).rulesets.push(Ruleset {
            id: 42,
            name: "protect main".into(),
            branches: vec!["main".into()],
            required_approvals: 1,
            dismiss_stale: true,
            bypass: vec![("Team".into(), Some(12))],
        });
        gh.tokens.insert("reader".into(), Grant { administration: false, ..Grant::ALL });
    });
    let out = setup_github(&stand_ins.url(), "reader", &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("ok      branch main: required reviews"), "{}", out.stdout);
    assert!(
        out.stdout.contains("ruleset \"protect main\" (42) requires a pull request with 1 approval"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("by hand branch main: bypass"), "{}", out.stdout);
    assert!(out.stdout.contains("not shown to this token"), "{}", out.stdout);
    // An administrator's token sees who may bypass it.
    let out = setup_github(&stand_ins.url(), changegate::standins::github::TOKEN, &[]);
    assert!(out.stdout.contains("ruleset \"protect main\" (42): team 12"), "{}", out.stdout);
}
