//! Steps 1 and 3 after the request: `validate` before plan and apply,
//! `plan-check --ticket` recording and escalating plans, and `close`
//! recording the outcome, against the stand-ins.

use std::path::PathBuf;

use changegate::receipt::ReceiptPayload;
use changegate::signing::{SigningKey, generate};
use serde_json::{Value, json};

use crate::support::sandbox::{ALICE, Pipeline, Sandbox, sha};
use crate::support::{Output, repo};

const REPO: &str = "gh/acme/web";

/// A deploy pipeline: build, request, hold, plan, plan hold, apply, close.
fn deploy_pipeline(sb: &Sandbox, commit: &str) -> Pipeline {
    sb.deploy_pipeline(REPO, commit, "running")
}

/// These tests are of the CI steps' own checks (binding, plan digests,
/// required fields, outcomes), run without a bot; with a bot, the same
/// checks run and the bot's signed record and receipts are required too
/// (`with_a_bot_only_its_signed_record_and_receipts_let_a_deploy_through`).
fn no_bot() -> Sandbox {
    Sandbox::without_bot(changegate::standins::SITE_CONFIG)
}

/// Runs a changegate command as a job of pipeline `p`.
fn cg(sb: &Sandbox, p: &Pipeline, args: &[&str]) -> Output {
    sb.job(p, args).run()
}

/// A requested and approved ticket for `p` (PRODCM-1 in a fresh sandbox).
fn approved(sb: &Sandbox, p: &Pipeline) {
    let out =
        sb.request(p, &["--justification", "Ship the checkout fix", "--rollback-plan", "Redeploy the previous build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
}

/// Writes plan files into the sandbox: the shipped risky example, or a
/// plan with one harmless update.
fn plan_files(sb: &Sandbox, name: &str, risky: bool) -> (PathBuf, PathBuf) {
    let json_path = sb.path().join(format!("{name}.json"));
    let bin_path = sb.path().join(format!("{name}.tfplan"));
    if risky {
        std::fs::copy(repo().join("examples/plan.json"), &json_path).unwrap();
    } else {
        let doc = json!({"format_version": "1.2", "terraform_version": "1.9.8", "planned_values": {}, "resource_changes": [
            {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web",
             "change": {"actions": ["update"], "before": {"tags": {"v": "1"}}, "after": {"tags": {"v": "2"}}}}]});
        std::fs::write(&json_path, doc.to_string()).unwrap();
    }
    std::fs::write(&bin_path, format!("binary plan {name} {risky}")).unwrap();
    (json_path, bin_path)
}

fn p(path: &std::path::Path) -> String {
    path.display().to_string()
}

fn status(sb: &Sandbox, key: &str) -> String {
    sb.issue(key)["status"].as_str().unwrap().to_owned()
}

#[test]
fn validate_passes_only_for_an_approved_ticket_bound_to_this_build() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(400));
    let out = sb.request(&pl, &["--justification", "j", "--rollback-plan", "r"]);
    assert_eq!(out.code, 0);
    // Waiting: a CircleCI UI approval of the hold alone gets nothing through.
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("not_approved: the ticket is Open, not approved"), "{}", v.stdout);
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("PASS: PRODCM-1 is approved (by 712020:alice)"), "{}", v.stdout);
    sb.jira_as(ALICE).transition("PRODCM-1", "Decline", None).unwrap();
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("the ticket is Declined"), "{}", v.stdout);
}

#[test]
fn required_fields_must_be_filled_before_a_deploy() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(401));
    assert_eq!(sb.request(&pl, &[]).code, 0);
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("required_field_missing: Justification (customfield_10051) is empty"), "{}", v.stdout);
    assert!(v.stdout.contains("required_field_missing: Rollback plan"), "{}", v.stdout);
}

#[test]
fn a_rebuilt_artifact_or_another_pipeline_does_not_pass() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(402));
    approved(&sb, &pl);
    // A rerun from start rebuilds the artifact: a new build job number.
    let url = format!("{}/workflow/{}/rerun", sb.stand_ins.circleci_url(), pl.workflow_id);
    let mut r = ureq::post(&url).header("Circle-Token", "circle-token").send_json(json!({})).unwrap();
    let new_wf: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let mut rerun = pl.clone();
    rerun.workflow_id = new_wf["workflow_id"].as_str().unwrap().into();
    sb.set_job(&rerun.workflow_id, "build", "success");
    let v = cg(&sb, &rerun, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("binding_mismatch: build job number: the ticket allows #"), "{}", v.stdout);
    // The state file of one pipeline used in another.
    let other = deploy_pipeline(&sb, &sha(403));
    let v = cg(&sb, &other, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("binding_mismatch: commit"), "{}", v.stdout);
    assert!(v.stdout.contains("binding_mismatch: pipeline"), "{}", v.stdout);
    // The environment the job deploys to is checked too.
    let v = cg(&sb, &pl, &["validate", "--environment", "staging"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("but its ticket PRODCM-1 is for \"production\""), "{}", v.stdout);
}

#[test]
fn an_expired_approval_does_not_pass() {
    let config = format!(
        "{}\n",
        changegate::standins::SITE_CONFIG.replace("required = [", "approval_ttl = \"1s\"\nrequired = [")
    );
    let sb = Sandbox::without_bot(&config);
    let pl = deploy_pipeline(&sb, &sha(404));
    approved(&sb, &pl);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("approval_expired"), "{}", v.stdout);
}

#[test]
fn a_safe_plan_is_recorded_and_applies_with_the_first_approval() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(405));
    approved(&sb, &pl);
    let (json_file, bin) = plan_files(&sb, "plan", false);
    let out = cg(
        &sb,
        &pl,
        &[
            "plan-check",
            &p(&json_file),
            "--plan-file",
            &p(&bin),
            "--state",
            "changegate.json",
            "--hold",
            "hold_plan_review",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("recorded the plan for stack \"default\" on PRODCM-1"), "{}", out.stdout);
    assert!(out.stdout.contains("the hold hold_plan_review may be resumed at once"), "{}", out.stdout);
    assert_eq!(status(&sb, "PRODCM-1"), "Approved");
    let issue = sb.issue("PRODCM-1");
    let plan = &issue["properties"]["changegate"]["plans"]["default"];
    assert_eq!(plan["risky"], false);
    assert_eq!(plan["hold"], "hold_plan_review");
    assert_eq!(plan["json_digest"], crate::support::sha256sum(&json_file));
    assert_eq!(plan["file_digest"], crate::support::sha256sum(&bin));
    assert!(issue["fields"]["customfield_10066"].as_str().unwrap().contains(" plans sha256:"));
    // Not analysed (no bot here): a person looked, the risk is medium and
    // the change normal; the safe plan adds nothing.
    assert_eq!(issue["fields"]["customfield_10054"], json!({"value": "medium"}));
    assert_eq!(issue["fields"]["customfield_10053"], json!({"value": "normal"}));
    let v = cg(
        &sb,
        &pl,
        &["validate", "--environment", "production", "--plan-json", &p(&json_file), "--plan-file", &p(&bin)],
    );
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // Running the plan gate again records nothing new.
    let comments = issue["comments"].as_array().unwrap().len();
    let again = cg(&sb, &pl, &["plan-check", &p(&json_file), "--plan-file", &p(&bin), "--state", "changegate.json"]);
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("already recorded"), "{}", again.stdout);
    assert_eq!(sb.issue("PRODCM-1")["comments"].as_array().unwrap().len(), comments);
}

#[test]
fn a_risky_plan_is_escalated_and_needs_an_approval_after_it() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(406));
    approved(&sb, &pl);
    let (json_file, bin) = plan_files(&sb, "plan", true);
    let out = cg(
        &sb,
        &pl,
        &["plan-check", &p(&json_file), "--plan-file", &p(&bin), "--ticket", "PRODCM-1", "--hold", "hold_plan_review"],
    );
    assert_eq!(out.code, 1, "risky: escalated to a person, who decides at the hold: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("RISKY: 4 resource changes need review"), "{}", out.stdout);
    assert!(out.stdout.contains("moved PRODCM-1 to Manual review"), "{}", out.stdout);
    let issue = sb.issue("PRODCM-1");
    assert_eq!(issue["status"], "Manual review");
    assert_eq!(issue["properties"]["changegate"]["plans"]["default"]["risky"], true);
    assert_eq!(issue["fields"]["customfield_10054"], json!({"value": "high"}));
    let comment = issue["comments"].as_array().unwrap().last().unwrap().as_str().unwrap().to_owned();
    assert!(comment.contains("aws_iam_role.deploy") && comment.contains("trust_policy"), "{comment}");

    let apply = ["validate", "--environment", "production", "--plan-json", &p(&json_file), "--plan-file", &p(&bin)];
    let v = cg(&sb, &pl, &apply);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("not_approved"), "{}", v.stdout);
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let v = cg(&sb, &pl, &apply);
    assert_eq!(v.code, 0, "approved after the plan was recorded: {}{}", v.stdout, v.stderr);

    // --fail-on-risk, once the way to exit 1 on a recorded risky plan, is
    // still accepted and changes nothing; a safe plan still passes with it.
    let sb2 = no_bot();
    let pl2 = deploy_pipeline(&sb2, &sha(407));
    approved(&sb2, &pl2);
    let (j2, b2) = plan_files(&sb2, "plan", true);
    let out = cg(
        &sb2,
        &pl2,
        &["plan-check", &p(&j2), "--plan-file", &p(&b2), "--state", "changegate.json", "--fail-on-risk"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert_eq!(status(&sb2, "PRODCM-1"), "Manual review");
    let (j3, b3) = plan_files(&sb2, "safe", false);
    let out = cg(
        &sb2,
        &pl2,
        &[
            "plan-check",
            &p(&j3),
            "--plan-file",
            &p(&b3),
            "--state",
            "changegate.json",
            "--stack",
            "safe",
            "--fail-on-risk",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_plan_swapped_after_review_is_refused() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(408));
    approved(&sb, &pl);
    let (json_file, bin) = plan_files(&sb, "plan", false);
    assert_eq!(
        cg(&sb, &pl, &["plan-check", &p(&json_file), "--plan-file", &p(&bin), "--state", "changegate.json"]).code,
        0
    );
    // The JSON is edited after review.
    let original = std::fs::read(&json_file).unwrap();
    let mut edited = original.clone();
    edited.push(b'\n');
    std::fs::write(&json_file, &edited).unwrap();
    let v = cg(
        &sb,
        &pl,
        &["validate", "--environment", "production", "--plan-json", &p(&json_file), "--plan-file", &p(&bin)],
    );
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("plan_json_mismatch"), "{}", v.stdout);
    // The binary plan is swapped.
    std::fs::write(&json_file, &original).unwrap();
    std::fs::write(&bin, "another binary plan").unwrap();
    let v = cg(
        &sb,
        &pl,
        &["validate", "--environment", "production", "--plan-json", &p(&json_file), "--plan-file", &p(&bin)],
    );
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("plan_file_mismatch"), "{}", v.stdout);
    // Leaving out the binary plan does not help.
    let v = cg(&sb, &pl, &["validate", "--environment", "production", "--plan-json", &p(&json_file)]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("plan_file_missing"), "{}", v.stdout);
}

#[test]
fn several_stacks_each_bind_their_own_plan() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(409));
    approved(&sb, &pl);
    let (nj, nb) = plan_files(&sb, "network", false);
    let (aj, ab) = plan_files(&sb, "app", true);
    for (stack, j, b) in [("network", &nj, &nb), ("app", &aj, &ab)] {
        let out =
            cg(&sb, &pl, &["plan-check", &p(j), "--plan-file", &p(b), "--state", "changegate.json", "--stack", stack]);
        let risky = stack == "app";
        assert_eq!(out.code, i32::from(risky), "{stack}: {}{}", out.stdout, out.stderr);
    }
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let ok = |stack: &str, j: &PathBuf, b: &PathBuf| {
        cg(
            &sb,
            &pl,
            &["validate", "--environment", "production", "--plan-json", &p(j), "--plan-file", &p(b), "--stack", stack],
        )
    };
    assert_eq!(ok("network", &nj, &nb).code, 0);
    assert_eq!(ok("app", &aj, &ab).code, 0);
    let crossed = ok("network", &aj, &ab);
    assert_eq!(crossed.code, 1);
    assert!(crossed.stdout.contains("plan_json_mismatch"), "{}", crossed.stdout);
    let unknown = ok("dns", &nj, &nb);
    assert!(unknown.stdout.contains("plan_not_recorded"), "{}", unknown.stdout);
}

#[test]
fn with_a_bot_only_its_signed_record_and_receipts_let_a_deploy_through() {
    let sb = Sandbox::new();
    let pl = deploy_pipeline(&sb, &sha(410));
    approved(&sb, &pl);
    // A person approved, but the bot has not looked: no analysis, no receipt.
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("analysis_missing"), "{}", v.stdout);
    assert!(v.stdout.contains("receipt_missing"), "{}", v.stdout);

    // A record written by anyone but the bot (here the CI user, who may
    // edit issues) counts for nothing, however it looks.
    let record = sb.issue("PRODCM-1")["properties"]["changegate"].clone();
    let binding: changegate::Binding = serde_json::from_value(record["binding"].clone()).unwrap();
    let policy = sb.stand_ins.with_jira(|j| j.project_property("PRODCM", "changegate.policy")).unwrap();
    let policy_digest: changegate::Sha256Digest =
        serde_json::from_value::<changegate::policy::SignedPolicy>(policy).unwrap().payload.content.digest();
    let payload = ReceiptPayload {
        ticket: "PRODCM-1".into(),
        binding: binding.clone(),
        stack: None,
        plan: None,
        approver: "712020:alice".into(),
        issued_at: changegate::Timestamp::now().to_rfc3339(),
        policy_digest,
    };
    let (forger, _) = generate();
    let forger = SigningKey::from_base64(&forger).unwrap();
    let mut forged = changegate::bot_record::BotRecord::new("PRODCM-1", binding.digest());
    forged.seq = 1;
    forged.written_at = changegate::Timestamp::now().to_rfc3339();
    forged.receipts.push(changegate::receipt::sign(&forger, payload));
    let forged = forger.sign(changegate::signing::Kind::Record, forged);
    sb.jira_as(crate::support::sandbox::CI)
        .set_property("PRODCM-1", "changegate.bot", &serde_json::to_value(&forged).unwrap())
        .unwrap();
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("bot_record_altered"), "{}", v.stdout);

    // The bot finds the altered record, says so once and analyses again;
    // alice approved before any analysis of the bot, so her approval does
    // not count and the ticket goes back for a new one.
    sb.reconcile(&pl);
    let comments = sb.issue("PRODCM-1")["comments"].to_string();
    assert!(comments.contains("record on this ticket was altered"), "{comments}");
    assert!(comments.contains("the changegate bot's analysis of this binding"), "{comments}");
    assert_eq!(sb.issue("PRODCM-1")["status"], "Manual review");
    // The honest deploy: approved after the analysis, the bot's receipt, pass.
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    sb.reconcile(&pl);
    let v = cg(&sb, &pl, &["validate", "--environment", "production"]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    sb.reconcile(&pl);
    assert_eq!(sb.issue("PRODCM-1")["comments"].to_string().matches("was altered").count(), 1, "reported once");

    // Before apply, the receipt must name the plan files.
    let (j, b) = plan_files(&sb, "plan", false);
    assert_eq!(cg(&sb, &pl, &["plan-check", &p(&j), "--plan-file", &p(&b), "--state", "changegate.json"]).code, 0);
    let apply = ["validate", "--environment", "production", "--plan-json", &p(&j), "--plan-file", &p(&b)];
    let v = cg(&sb, &pl, &apply);
    assert!(v.stdout.contains("receipt_missing"), "{}", v.stdout);
    sb.reconcile(&pl);
    let v = cg(&sb, &pl, &apply);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}

#[test]
fn close_records_each_outcome_once() {
    for (job_status, outcome_flag, want_status, want_resolution) in [
        ("success", None, "Done", "Done"),
        ("failed", None, "Failed", "Failed"),
        ("canceled", None, "Failed", "Cancelled"),
        ("success", Some("failure"), "Failed", "Failed"),
    ] {
        let sb = no_bot();
        let pl = deploy_pipeline(&sb, &sha(411));
        approved(&sb, &pl);
        // Sent back and approved again by the same person: named once.
        sb.jira_as(ALICE).transition("PRODCM-1", "Send back", None).unwrap();
        sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
        sb.set_job(&pl.workflow_id, "apply", job_status);
        let mut args = vec!["close", "--deploy-job", "apply"];
        if let Some(o) = outcome_flag {
            args.extend(["--outcome", o]);
        }
        let out = cg(&sb, &pl, &args);
        assert_eq!(out.code, 0, "{job_status}: {}{}", out.stdout, out.stderr);
        let issue = sb.issue("PRODCM-1");
        assert_eq!(issue["status"], want_status, "{job_status}");
        assert_eq!(issue["resolution"], want_resolution, "{job_status}");
        let summary = issue["comments"].as_array().unwrap().last().unwrap().as_str().unwrap().to_owned();
        assert!(summary.contains(&format!("apply in workflow {}", pl.workflow_id)), "{summary}");
        // Each approver once, by name.
        assert_eq!(summary.matches("Alice Approver").count(), 1, "{summary}");
        assert!(summary.contains("Approved by\nAlice Approver"), "{summary}");
        assert_eq!(
            issue["properties"]["changegate"]["outcome"]["result"],
            outcome_flag.unwrap_or(match job_status {
                "success" => "success",
                "failed" => "failure",
                _ => "canceled",
            })
        );
        let before = sb.issue("PRODCM-1");
        let again = cg(&sb, &pl, &args);
        assert_eq!(again.code, 0);
        assert!(again.stdout.contains("nothing to record"), "{}", again.stdout);
        assert_eq!(sb.issue("PRODCM-1")["comments"], before["comments"], "a second close changes nothing");
        assert_eq!(sb.issue("PRODCM-1")["changelog"], before["changelog"]);
    }
}

#[test]
fn close_refuses_an_unfinished_deploy_and_flags_an_unauthorized_one() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(412));
    assert_eq!(sb.request(&pl, &[]).code, 0);
    let out = cg(&sb, &pl, &["close"]);
    assert_eq!(out.code, 2, "apply is blocked: {}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("has not finished"), "{}", out.stderr);
    // The deploy job succeeded although the ticket was never approved.
    sb.set_job(&pl.workflow_id, "apply", "success");
    let out = cg(&sb, &pl, &["close"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("recorded as Failed"), "{}", out.stdout);
    assert_eq!(status(&sb, "PRODCM-1"), "Failed");
}

/// The calls a command makes: (service, method, path fragment, whether the
/// answer's body is read).
type Call = (&'static str, &'static str, &'static str, bool);

/// Runs `cmd` once per call and fault: every cell must exit 2, never 0,
/// with a message naming the service and no secret; then once more without
/// the fault, which must finish: pass, or for `plan-check` of the risky
/// plan, exit 1 (recorded and escalated to a person).
fn fault_matrix(cmd: &[&str], calls: &[Call]) -> usize {
    let faults = [
        ("500", json!({"status": 500, "times": 50})),
        ("429", json!({"status": 429, "retry_after": 1, "times": 50})),
        ("timeout", json!({"delay_ms": 1500, "times": 50})),
        ("malformed", json!({"status": 200, "body": "{\"fields\": nul", "times": 50})),
    ];
    let mut cells = 0;
    for (service, method, path, body_read) in calls {
        for (name, fault) in &faults {
            if *name == "malformed" && !body_read {
                continue;
            }
            let sb = no_bot();
            let pl = deploy_pipeline(&sb, &sha(420));
            approved(&sb, &pl);
            sb.set_job(&pl.workflow_id, "apply", "success");
            let (j, b) = plan_files(&sb, "plan", true);
            let args: Vec<String> =
                cmd.iter().map(|a| a.replace("PLAN_JSON", &p(&j)).replace("PLAN_FILE", &p(&b))).collect();
            let mut f = fault.clone();
            f["service"] = json!(service);
            f["method"] = json!(method);
            f["path_contains"] = json!(path);
            sb.fault(f);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = cg(&sb, &pl, &refs);
            let cell = format!("{} | {service} {method} {path} | {name}", cmd[0]);
            assert_eq!(out.code, 2, "{cell}: {}{}", out.stdout, out.stderr);
            assert!(
                out.stderr.contains(if *service == "jira" { "Jira:" } else { "CircleCI:" }),
                "{cell}: {}",
                out.stderr
            );
            assert!(!out.stderr.contains("ci-token") && !out.stdout.contains("ci-token"), "{cell}: secret");
            // Once the fault ends, running the job again finishes it, whatever
            // the failed run left half done.
            sb.clear_faults();
            let again = cg(&sb, &pl, &refs);
            let finished = if cmd[0] == "plan-check" { 1 } else { 0 };
            assert_eq!(again.code, finished, "{cell}: the rerun: {}{}", again.stdout, again.stderr);
            cells += 1;
        }
    }
    cells
}

#[test]
fn faults_in_validate_fail_closed_and_a_rerun_recovers() {
    let calls: [Call; 4] = [
        ("jira", "GET", "/rest/api/3/issue/PRODCM-1", true),
        ("jira", "GET", "/changelog", true),
        ("circleci", "GET", "/workflow/", true),
        ("circleci", "GET", "/pipeline/", true),
    ];
    assert_eq!(fault_matrix(&["validate", "--environment", "production"], &calls), 16);
}

#[test]
fn faults_in_plan_check_with_a_ticket_fail_closed_and_a_rerun_recovers() {
    let calls: [Call; 7] = [
        ("jira", "GET", "/rest/api/3/issue/PRODCM-1", true),
        ("jira", "GET", "/changelog", true),
        ("jira", "PUT", "/properties/changegate", false),
        ("jira", "PUT", "/rest/api/3/issue/PRODCM-1", false),
        ("jira", "POST", "/comment", true),
        ("jira", "GET", "/transitions", true),
        ("jira", "POST", "/transitions", false),
    ];
    let cmd = ["plan-check", "PLAN_JSON", "--plan-file", "PLAN_FILE", "--state", "changegate.json"];
    assert_eq!(fault_matrix(&cmd, &calls), 25);
}

#[test]
fn faults_in_close_fail_closed_and_a_rerun_recovers() {
    let calls: [Call; 7] = [
        ("jira", "GET", "/rest/api/3/issue/PRODCM-1", true),
        ("circleci", "GET", "/workflow/", true),
        ("jira", "GET", "/comment", true),
        ("jira", "POST", "/comment", true),
        ("jira", "PUT", "/properties/changegate", false),
        ("jira", "GET", "/transitions", true),
        ("jira", "POST", "/transitions", false),
    ];
    assert_eq!(fault_matrix(&["close"], &calls), 26);
}

/// The status of job `name` in the stand-in's workflow `wid`.
fn workflow_status(sb: &Sandbox, wid: &str) -> String {
    let dump = sb.stand_ins.with_circleci(|c| c.dump());
    let wf = dump["workflows"].as_array().unwrap().iter().find(|w| w["id"] == wid).unwrap().clone();
    wf["status"].as_str().unwrap().to_owned()
}

const RESUME: [&str; 6] = ["resume", "--hold", "hold_change", "--timeout", "3s", "--interval"];

#[test]
fn resume_without_a_bot_waits_for_a_person_and_never_approves_the_ticket() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(420));
    let out = sb.request(&pl, &["--justification", "Ship the fix", "--rollback-plan", "Redeploy the previous build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_change"), "on_hold");

    // Nobody approves: the wait ends, the hold still waits, the ticket is untouched.
    let out = cg(&sb, &pl, &[&RESUME[..], &["1s"]].concat());
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("waiting: PRODCM-1 is Open"), "{}", out.stdout);
    assert!(out.stdout.contains("not resumed: hold_change waited 3s"), "{}", out.stdout);
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_change"), "on_hold");
    assert_eq!(status(&sb, "PRODCM-1"), "Open", "resume never approves a ticket");

    // A person approves while it waits: the hold is resumed.
    let approver = std::thread::spawn({
        let jira = sb.jira_as(ALICE);
        move || {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            jira.transition("PRODCM-1", "Approve", None).unwrap();
        }
    });
    let out = cg(&sb, &pl, &["resume", "--hold", "hold_change", "--timeout", "20s", "--interval", "1s"]);
    approver.join().unwrap();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("PRODCM-1 is approved: resumed hold_change"), "{}", out.stdout);
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_change"), "success");

    // A re-run finds it done.
    let out = cg(&sb, &pl, &[&RESUME[..], &["1s"]].concat());
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("was already resumed"), "{}", out.stdout);
}

#[test]
fn resume_refuses_holds_the_ticket_does_not_record_and_cancels_on_decline() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(421));
    approved(&sb, &pl);
    // The plan hold is not a change hold: it needs a recorded plan.
    let out = cg(&sb, &pl, &["resume", "--hold", "hold_plan_review", "--timeout", "2s", "--interval", "1s"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("records no hold \"hold_plan_review\""), "{}", out.stdout);

    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(422));
    let out = sb.request(&pl, &["--justification", "Ship the fix", "--rollback-plan", "Redeploy the previous build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    sb.jira_as(ALICE).transition("PRODCM-1", "Decline", None).unwrap();
    let out = cg(&sb, &pl, &[&RESUME[..], &["1s"]].concat());
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("PRODCM-1 was declined: cancelled workflow"), "{}", out.stdout);
    assert_eq!(workflow_status(&sb, &pl.workflow_id), "canceled");
}

#[test]
fn resume_of_a_plan_hold_needs_the_approval_after_a_risky_plan() {
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(423));
    approved(&sb, &pl);
    let (json_file, bin) = plan_files(&sb, "plan", true);
    let out = cg(
        &sb,
        &pl,
        &["plan-check", &p(&json_file), "--plan-file", &p(&bin), "--ticket", "PRODCM-1", "--hold", "hold_plan_review"],
    );
    assert_eq!(out.code, 1, "escalated: {}{}", out.stdout, out.stderr);
    sb.stand_ins
        .with_circleci(|c| c.set_job(&json!({"workflow_id": pl.workflow_id, "job": "plan", "status": "success"})))
        .unwrap();
    let plan_hold =
        ["resume", "--hold", "hold_plan_review", "--stack", "default", "--timeout", "2s", "--interval", "1s"];
    let out = cg(&sb, &pl, &plan_hold);
    assert_eq!(out.code, 1, "the first approval predates the risky plan: {}{}", out.stdout, out.stderr);
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_plan_review"), "on_hold");
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let out = cg(&sb, &pl, &plan_hold);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_plan_review"), "success");
}

/// A stand-in for `terraform`/`tofu` that honours the `show -json FILE`
/// contract: it renders the binary plan (here: the plan JSON, base64
/// encoded) and fails as the real tool does without `init`. A file
/// `FILE.relaid` stands for the same plan laid out by another version.
fn stand_in_tool(dir: &std::path::Path, name: &str) {
    use std::os::unix::fs::PermissionsExt;
    let script = r#"#!/bin/sh
case "$1" in
  show)
    [ "$2" = "-json" ] || { echo "usage: show -json FILE" >&2; exit 2; }
    [ -d .terraform ] || { echo "Error: Inconsistent dependency lock file; run \"init\"" >&2; exit 1; }
    if [ -f "$3.relaid" ]; then cat "$3.relaid"; else base64 -d < "$3"; fi ;;
  version)
    echo '{"terraform_version":"1.9.8","platform":"linux_amd64","provider_selections":{"registry.terraform.io/hashicorp/aws":"5.80.0"},"terraform_outdated":false}' ;;
  *) echo "unknown command $1" >&2; exit 2 ;;
esac
"#;
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_plan_judged_and_applied_is_rendered_from_the_binary_plan_itself() {
    use base64::Engine;
    let sb = no_bot();
    let pl = deploy_pipeline(&sb, &sha(420));
    approved(&sb, &pl);
    let tools = tempfile::tempdir().unwrap();
    for name in ["terraform", "tofu"] {
        stand_in_tool(tools.path(), name);
    }
    let path = format!("{}:{}", tools.path().display(), std::env::var("PATH").unwrap_or_default());
    let run = |args: &[&str]| sb.job(&pl, args).env("PATH", &path).run();
    let doc = json!({"format_version": "1.2", "terraform_version": "1.9.8", "planned_values": {}, "resource_changes": [
        {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web",
         "change": {"actions": ["update"], "before": {"tags": {"v": "1"}}, "after": {"tags": {"v": "2"}}}}]});
    let encode = |v: &Value| base64::engine::general_purpose::STANDARD.encode(v.to_string());
    let bin = sb.path().join("plan.tfplan");
    std::fs::write(&bin, encode(&doc)).unwrap();
    let check =
        ["plan-check", "--plan-file", "plan.tfplan", "--render-with", "terraform", "--state", "changegate.json"];
    let apply = ["validate", "--environment", "production", "--plan-file", "plan.tfplan", "--render-with", "terraform"];

    // Without init the tool cannot render: nothing is judged, nothing recorded.
    let out = run(&check);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("init"), "{}", out.stderr);
    assert!(
        sb.issue("PRODCM-1")["properties"]["changegate"]["plans"].as_object().is_none_or(serde_json::Map::is_empty)
    );
    std::fs::create_dir(sb.path().join(".terraform")).unwrap();

    let out = run(&[&check[..], &["--hold", "hold_plan_review"]].concat());
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let plan = sb.issue("PRODCM-1")["properties"]["changegate"]["plans"]["default"].clone();
    assert_eq!(
        plan["json_digest"],
        format!("sha256:{}", changegate::Sha256Digest::of(doc.to_string().as_bytes()).hex())
    );
    assert_eq!(plan["file_digest"], crate::support::sha256sum(&bin));
    assert_eq!(plan["rendered_by"]["tool"], "terraform");
    assert_eq!(plan["rendered_by"]["version"], "1.9.8");
    assert_eq!(plan["rendered_by"]["providers"]["registry.terraform.io/hashicorp/aws"], "5.80.0");
    assert!(plan["canonical_digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{plan}");

    // Before apply: the binary plan rendered again is the reviewed one.
    let v = run(&apply);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // Another layout of the same plan (another tool version) still is.
    let relaid = sb.path().join("plan.tfplan.relaid");
    std::fs::write(&relaid, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let v = run(&apply);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // A binary plan whose rendering says something else is not.
    let mut other = doc.clone();
    other["resource_changes"][0]["change"]["after"]["tags"]["v"] = json!("3");
    std::fs::write(&relaid, other.to_string()).unwrap();
    let v = run(&apply);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("plan_json_mismatch"), "{}", v.stdout);
    std::fs::remove_file(&relaid).unwrap();
    // Nor is another binary plan.
    std::fs::write(&bin, encode(&other)).unwrap();
    let v = run(&apply);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("plan_file_mismatch") && v.stdout.contains("plan_json_mismatch"), "{}", v.stdout);
    // JSON and rendering are exclusive: a JSON file cannot stand in.
    let both = run(&[&apply[..], &["--plan-json", "x.json"]].concat());
    assert_eq!(both.code, 2, "{}{}", both.stdout, both.stderr);
}
