//! Change windows and freezes against the stand-ins: a deploy inside a
//! freeze waits for a person even when every check passes, one approval is
//! not enough, and a second approver overrides.

use std::time::Duration;

use changegate::standins::github::Pull;
use serde_json::json;

use crate::analyze::{config, key};
use crate::collect::{Git, deployed, register};
use crate::support::Output;
use crate::support::sandbox::{ALICE, Pipeline, Sandbox};

const BOB: (&str, &str) = ("bob@acme.test", "bob-token");

fn as_bot(sb: &Sandbox, p: &Pipeline, args: &[&str]) -> Output {
    sb.bot(p, args).run()
}

fn validate(sb: &Sandbox, p: &Pipeline) -> Output {
    sb.job(p, ["validate", "--environment", "production"]).run()
}

#[test]
fn a_freeze_holds_a_clean_change_until_a_second_approver_overrides() {
    let now = changegate::Timestamp::now();
    let freeze = format!(
        "[approval]\nauto_approve = true\n[[freezes]]\nfrom = \"{}\"\nuntil = \"{}\"\nreason = \"Year-end freeze\"\n",
        changegate::Timestamp(now.0 - 3_600_000),
        now.plus(Duration::from_secs(2 * 3600))
    );
    // Carol's reviewed change (alice and bob may both approve it).
    let sb = Sandbox::with_config(&config(&freeze));
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f1", "carol", 1);
    let m = g.merge("f1", "Merge pull request #1 from acme/f1");
    register(
        &sb,
        &g.path,
        vec![Pull::merged(1, "carol", &f[0], &f, &m, std::slice::from_ref(&m)).approved_by("dana", 11)],
    );
    deployed(&sb, &base);
    let p = crate::collect::pipeline(&sb, &m);
    sb.add_trivy(&p);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let k = key(&sb);
    sb.set_job(&p.workflow_id, "request_change", "success");
    let out = as_bot(&sb, &p, &["reconcile", "--hold-wait", "1"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let issue = sb.issue(&k);
    assert_eq!(issue["status"], "Manual review", "every check passed, but the freeze holds it: {}", out.stdout);
    assert_eq!(issue["properties"]["changegate.bot"]["payload"]["analysis"]["reasons"], json!(["change_freeze"]));
    assert!(issue["comments"].to_string().contains("Year-end freeze"), "shown on the ticket");

    // One approval is not enough: validate refuses, the bot asks for a second.
    sb.jira_as(ALICE).transition(&k, "Approve", None).unwrap();
    let v = validate(&sb, &p);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("change_freeze: production freeze until"), "{}", v.stdout);
    assert!(v.stdout.contains("needs 2 distinct approvers (a second approver overrides)"), "{}", v.stdout);
    let out = as_bot(&sb, &p, &["reconcile", "--hold-wait", "1"]);
    assert_eq!(sb.issue(&k)["status"], "Manual review", "{}", out.stdout);
    assert!(sb.issue(&k)["comments"].to_string().contains("Second approver needed"), "{}", out.stdout);
    assert_eq!(sb.job_status(&p.workflow_id, "hold_change"), "on_hold");

    // Bob overrides.
    sb.jira_as(BOB).transition(&k, "Approve", None).unwrap();
    let out = as_bot(&sb, &p, &["reconcile", "--hold-wait", "1"]);
    assert_eq!(sb.job_status(&p.workflow_id, "hold_change"), "success", "{}", out.stdout);
    let v = validate(&sb, &p);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("712020:alice, 712020:bob"), "{}", v.stdout);
}
