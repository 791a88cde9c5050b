//! The Jira webhook that wakes the bot, set up as a Jira administrator
//! through `/rest/webhooks/1.0/webhook`, and `config check --probe` proving
//! the bot accepts its signed deliveries.
//!
//! `/rest/webhooks/1.0/webhook` is outside the official Jira Cloud REST v3
//! description: there is no description to check requests against, so
//! everything here runs against changegate's Jira stand-in only, which
//! models the resource from Atlassian's webhook documentation
//! (`changegate::standins::jira_webhooks`). A real site may differ where that
//! documentation is silent (what a change without `secret` keeps).

use std::time::{Duration, Instant};

use changegate::AdminWebhookSpec;
use changegate::Outcome;
use changegate::Secret;
use changegate::setup::jira_webhook::{self, Existing, Needed};
use changegate::setup::{Action, Plan};
use serde_json::{Map, json};

use crate::support::sandbox::{CI, Sandbox};

/// The stand-in's Jira administrator.
const ADMIN: (&str, &str) = ("admin@acme.test", "admin-token");
const WEBHOOK_SECRET: &str = "w3bhook-s3cret-value";

fn needed(secret: &str, rotate: bool) -> Needed {
    Needed::new("PRODCM", "https://changegate-bot.example.com", Some(Secret::new(secret)), rotate)
}

fn plan_of(sb: &Sandbox, who: (&str, &str), n: &Needed) -> (Plan, Existing) {
    let existing = jira_webhook::read(&sb.jira_as(who)).unwrap();
    let mut plan = Plan::new("Jira webhook for the bot");
    for s in jira_webhook::plan(n, &existing) {
        plan.push(s);
    }
    (plan, existing)
}

fn rendered(plan: &Plan) -> String {
    let mut out = Vec::new();
    plan.render(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn an_administrator_registers_the_webhook_once_then_it_is_present() {
    let sb = Sandbox::new();
    let admin = sb.jira_as(ADMIN);
    let n = needed(WEBHOOK_SECRET, false);
    let (plan, existing) = plan_of(&sb, ADMIN, &n);
    assert_eq!(plan.steps[0].action, Action::Create);
    assert_eq!(plan.outcome(), Outcome::Deny, "something to do");
    let done = jira_webhook::apply(&admin, &n, &existing).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].action, Action::Create);

    // Registered as documented, with the secret stored but never listed.
    let listed = admin.admin_webhooks().unwrap();
    assert_eq!(listed.len(), 1);
    let w = &listed[0];
    assert_eq!(w.url, "https://changegate-bot.example.com/webhooks/jira");
    assert_eq!(w.jql.as_deref(), Some("project = PRODCM"));
    assert_eq!(w.events, ["jira:issue_created", "jira:issue_updated"]);
    assert!(w.enabled && !w.exclude_body);
    let id = w.id.unwrap();
    assert_eq!(
        sb.stand_ins.with_jira(|j| j.admin_webhooks.secret_of(id).map(str::to_owned)),
        Some(WEBHOOK_SECRET.into())
    );

    // Planned again: present, nothing applied.
    let (plan, existing) = plan_of(&sb, ADMIN, &n);
    assert_eq!(plan.steps[0].action, Action::Present);
    assert_eq!(plan.outcome(), Outcome::Pass);
    assert!(plan.steps[0].detail.contains("cannot be read back"), "{}", plan.steps[0].detail);
    assert!(jira_webhook::apply(&admin, &n, &existing).unwrap().is_empty());
    assert_eq!(admin.admin_webhooks().unwrap().len(), 1, "idempotent: no second webhook");
    let text = rendered(&plan);
    assert!(!text.contains(WEBHOOK_SECRET), "{text}");
}

#[test]
fn wrong_events_are_changed_keeping_the_secret_and_rotation_resends_it() {
    let sb = Sandbox::new();
    let admin = sb.jira_as(ADMIN);
    let n = needed(WEBHOOK_SECRET, false);
    let spec = AdminWebhookSpec { events: vec!["jira:issue_created".into()], ..n.spec() };
    let id = admin.create_admin_webhook(&spec, &Secret::new("the-old-secret")).unwrap().id.unwrap();

    let (plan, existing) = plan_of(&sb, ADMIN, &n);
    assert_eq!(plan.steps[0].action, Action::Change);
    assert!(plan.steps[0].detail.contains("does not send jira:issue_updated"), "{}", plan.steps[0].detail);
    assert!(plan.steps[0].detail.contains("its secret is kept"), "{}", plan.steps[0].detail);
    let done = jira_webhook::apply(&admin, &n, &existing).unwrap();
    assert_eq!(done[0].action, Action::Change);
    let (plan, _) = plan_of(&sb, ADMIN, &n);
    assert_eq!(plan.steps[0].action, Action::Present);
    let secret = || sb.stand_ins.with_jira(|j| j.admin_webhooks.secret_of(id).map(str::to_owned));
    assert_eq!(secret().as_deref(), Some("the-old-secret"), "a change does not touch the secret");

    // Rotation is asked for: the new secret is sent with a PUT.
    let rotate = needed("the-new-secret", true);
    let (plan, existing) = plan_of(&sb, ADMIN, &rotate);
    assert_eq!(plan.steps[0].action, Action::Change);
    assert!(!rendered(&plan).contains("the-new-secret"));
    jira_webhook::apply(&admin, &rotate, &existing).unwrap();
    assert_eq!(secret().as_deref(), Some("the-new-secret"));
    assert_eq!(admin.admin_webhooks().unwrap().len(), 1);
}

#[test]
fn a_user_who_is_not_a_jira_administrator_is_blocked_with_the_admin_screen_settings() {
    let sb = Sandbox::new();
    let n = needed(WEBHOOK_SECRET, false);
    let (plan, existing) = plan_of(&sb, CI, &n);
    assert_eq!(existing, Existing::NotAdministrator { status: 403 });
    assert_eq!(plan.steps[0].action, Action::Blocked { permission: "Administer Jira".into() });
    assert_eq!(plan.outcome(), Outcome::Undecided, "setup could not finish: exit 2");
    // Applying a blocked plan does nothing.
    assert!(jira_webhook::apply(&sb.jira_as(CI), &n, &existing).unwrap().is_empty());
    let text = rendered(&plan);
    assert!(text.contains("(blocked: needs Administer Jira)"), "{text}");
    for line in jira_webhook::admin_screen(&n) {
        assert!(text.contains(&line), "{line}: {text}");
    }
    assert!(text.contains("CHANGEGATE_JIRA_WEBHOOK_SECRETS") && !text.contains(WEBHOOK_SECRET), "{text}");
    assert!(sb.stand_ins.with_jira(|j| j.admin_webhooks.is_empty()), "nothing was registered");
}

/// A server answering `/healthz` as a bot that accepted a signed Jira
/// delivery (tests of `--probe` about other things than the bot).
pub(crate) struct HealthyBot {
    server: std::sync::Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub(crate) url: String,
}

impl HealthyBot {
    pub(crate) fn start() -> HealthyBot {
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let s = server.clone();
        let thread = std::thread::spawn(move || {
            for r in s.incoming_requests() {
                let body = json!({"status": "ok", "started": "2026-11-27T08:00:00Z",
                                  "last_accepted": {"jira": "2026-11-27T09:00:00Z", "circleci": null}});
                let _ = r.respond(tiny_http::Response::from_string(body.to_string()));
            }
        });
        HealthyBot { server, thread: Some(thread), url }
    }
}

impl Drop for HealthyBot {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// End to end: a real `changegate serve`, its webhook registered through
/// the setup code, an issue created on the stand-in, which delivers the
/// event signed with the webhook's secret. `config check --probe` fails
/// before (naming the variable, then saying the bot has accepted nothing
/// and how to fix it) and says when after.
#[test]
fn the_probe_says_when_the_bot_last_accepted_a_signed_jira_delivery() {
    let cfg = format!("{}\n{}", changegate::standins::SITE_CONFIG, crate::trust::LOCK);
    let sb = Sandbox::with_config(&cfg);
    crate::trust::restricted_context(&sb);
    let p = sb.pipeline("gh/acme/web", "main", &crate::support::sandbox::sha(90));
    let probe = |bot_url: Option<&str>| {
        let mut run = sb.job(&p, ["config", "check", "--offline", "--probe"]);
        if let Some(u) = bot_url {
            run = run.env("CHANGEGATE_BOT_URL", u);
        }
        run.run()
    };

    let out = probe(None);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("problem: CHANGEGATE_BOT_URL is not set: --probe checks"), "{}", out.stdout);

    let (bot, _) = crate::bot::start(&sb, &p);
    let out = probe(Some(&bot.url));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "problem: the bot at {} has accepted no signed Jira delivery since it started",
            bot.url
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("changegate setup jira"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("URL: {}/webhooks/jira", bot.url)), "{}", out.stdout);
    assert!(out.stdout.contains("Issue related events, JQL: project = PRODCM"), "{}", out.stdout);

    // A delivery signed with a secret the bot does not hold is refused and
    // changes nothing.
    let admin = sb.jira_as(ADMIN);
    let wrong = Needed::new("PRODCM", &bot.url, Some(Secret::new("not-the-bots-secret")), false);
    jira_webhook::apply(&admin, &wrong, &jira_webhook::read(&admin).unwrap()).unwrap();
    let ci = sb.jira_as(CI);
    let issue = |summary: &str| {
        let mut fields = Map::new();
        fields.insert("project".into(), json!({"key": "PRODCM"}));
        fields.insert("issuetype".into(), json!({"name": "Change"}));
        fields.insert("summary".into(), json!(summary));
        ci.create(fields, &[]).unwrap().key
    };
    issue("signed with the wrong secret");
    let refused = || {
        let m = ureq::get(&format!("{}/metrics", bot.url)).call().unwrap().body_mut().read_to_string().unwrap();
        m.contains("changegate_deliveries_total{source=\"jira\",outcome=\"bad_signature\"} 1")
    };
    crate::bot::wait_for("the wrongly signed delivery to be refused", refused);
    let out = probe(Some(&bot.url));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);

    // Rotated to the bot's secret: the next issue event is accepted.
    let right = Needed::new("PRODCM", &bot.url, Some(Secret::new(crate::bot::SECRET)), true);
    let done = jira_webhook::apply(&admin, &right, &jira_webhook::read(&admin).unwrap()).unwrap();
    assert_eq!(done[0].action, Action::Change);
    let before = changegate::Timestamp::now();
    issue("signed with the bot's secret");
    let health = || -> serde_json::Value {
        ureq::get(&format!("{}/healthz", bot.url)).call().unwrap().body_mut().read_json().unwrap()
    };
    let started = Instant::now();
    while health()["last_accepted"]["jira"].is_null() {
        assert!(started.elapsed() < Duration::from_secs(30), "no delivery accepted: {}", health());
        std::thread::sleep(Duration::from_millis(100));
    }
    let h = health();
    let at = changegate::Timestamp::parse(h["last_accepted"]["jira"].as_str().unwrap()).unwrap();
    assert!(at.0 >= before.0 - 1000, "{h}");
    assert!(h["last_accepted"]["circleci"].is_null(), "{h}");

    let out = probe(Some(&bot.url));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "bot: {} last accepted a signed Jira delivery at {}",
            bot.url,
            h["last_accepted"]["jira"].as_str().unwrap()
        )),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(crate::bot::SECRET) && !out.stderr.contains(crate::bot::SECRET));
}
