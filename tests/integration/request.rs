//! `changegate request` end to end against the stand-ins: first run, retry,
//! reruns, races, adoption, approval and decline, missing fields,
//! superseded orphans, faults, JQL injection and secrets.

use serde_json::{Value, json};

use crate::support::sandbox::{ALICE, CI, Sandbox, sha};

const REPO: &str = "gh/acme/web";

fn labels(issue: &Value) -> Vec<String> {
    issue["fields"]["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect()
}

fn record(issue: &Value) -> &Value {
    &issue["properties"]["changegate"]
}

#[test]
fn first_run_creates_a_filled_ticket_that_waits_for_input() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(1));
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("created PRODCM-1"), "{}", out.stdout);
    assert!(out.stdout.contains("PRODCM-1 (Waiting for input)"), "{}", out.stdout);
    assert!(out.stdout.contains("waiting for input: justification, rollback_plan"), "{}", out.stdout);

    let issue = sb.issue("PRODCM-1");
    assert_eq!(issue["status"], "Waiting for input");
    let f = &issue["fields"];
    assert_eq!(f["summary"], format!("Deploy {REPO}@{} to production (apply)", &sha(1)[..7]));
    assert_eq!(f["customfield_10050"], "production");
    assert_eq!(f["customfield_10055"], REPO);
    assert_eq!(f["customfield_10056"], "main");
    assert_eq!(f["customfield_10057"], sha(1));
    assert_eq!(f["customfield_10058"], "build");
    assert_eq!(f["customfield_10059"], json!(1001.0));
    // The Build URL links the build job deployed (#1001), not the request job.
    assert_eq!(f["customfield_10060"], "https://app.circleci.com/jobs/1001");
    assert_eq!(f["customfield_10061"], p.id);
    assert_eq!(f["customfield_10063"], p.workflow_id);
    assert_eq!(f["customfield_10053"], json!({"value": "normal"}));
    assert!(f["customfield_10066"].as_str().unwrap().starts_with("binding sha256:"));
    let l = labels(&issue);
    assert!(l.contains(&"changegate".to_owned()));
    assert!(l.iter().any(|x| x.starts_with("changegate-key-")));
    assert!(l.iter().any(|x| x.starts_with("changegate-stream-")));
    assert!(l.iter().any(|x| x.starts_with("changegate-binding-")));

    let r = record(&issue);
    assert_eq!(r["binding"]["commit"], sha(1));
    assert_eq!(r["binding"]["build_job"]["number"], 1001);
    assert_eq!(r["binding"]["pipeline_number"], p.number);
    assert_eq!(r["workflows"][0]["id"], p.workflow_id);
    assert_eq!(r["workflows"][0]["hold"], "hold_change");
    assert_eq!(r["requested_by"], "dev-dana");

    let comments = issue["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].as_str().unwrap().contains("Justification (field customfield_10051)"));

    let state = sb.state();
    assert_eq!(state["ticket"], "PRODCM-1");
    assert_eq!(state["controlled"], true);
    assert_eq!(state["status"], "Waiting for input");
    assert_eq!(state["binding"]["commit"], sha(1));
    assert_eq!(state["missing_fields"], json!(["justification", "rollback_plan"]));
}

#[test]
fn given_justification_and_rollback_plan_nothing_is_missing() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(2));
    let out = sb.request(
        &p,
        &["--justification", "Fix checkout bug", "--rollback-plan", "Redeploy the previous build", "--service", "web"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issue = sb.issue("PRODCM-1");
    assert_eq!(issue["status"], "Open");
    assert!(issue["comments"].as_array().unwrap().is_empty());
    assert_eq!(issue["fields"]["customfield_10051"]["type"], "doc");
    assert_eq!(issue["fields"]["customfield_10067"], "web");
    assert_eq!(sb.state()["missing_fields"], json!([]));
}

#[test]
fn retry_finds_the_same_ticket_and_repeats_nothing() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(3));
    assert_eq!(sb.request(&p, &[]).code, 0);
    let first = sb.issue("PRODCM-1");
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("found PRODCM-1"), "{}", out.stdout);
    assert_eq!(sb.issues().len(), 1);
    let again = sb.issue("PRODCM-1");
    assert_eq!(again["comments"], first["comments"], "the missing-fields comment is not repeated");
    assert_eq!(again["changelog"], first["changelog"], "nothing changed");
}

#[test]
fn rerun_from_failed_adds_the_workflow_and_keeps_the_binding() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(4));
    assert_eq!(sb.request(&p, &[]).code, 0);
    let before = record(&sb.issue("PRODCM-1")).clone();
    // A rerun from failed: a new workflow of the same pipeline whose build
    // job keeps its number.
    sb.set_job(&p.workflow_id, "request_change", "failed");
    let new_wf = rerun_workflow(&sb, &p.workflow_id, true);
    let mut p2 = p.clone();
    p2.workflow_id = new_wf;
    let out = sb.request(&p2, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("added workflow {} to PRODCM-1", p2.workflow_id)), "{}", out.stdout);
    let after = record(&sb.issue("PRODCM-1")).clone();
    assert_eq!(after["binding"], before["binding"]);
    assert_eq!(after["workflows"].as_array().unwrap().len(), 2);
    assert_eq!(sb.issues().len(), 1);
}

fn rerun_workflow(sb: &Sandbox, workflow_id: &str, from_failed: bool) -> String {
    let url = format!("{}/workflow/{workflow_id}/rerun", sb.stand_ins.circleci_url());
    let mut resp = ureq::post(&url)
        .header("Circle-Token", changegate::standins::circleci::TOKEN)
        .send_json(json!({"from_failed": from_failed}))
        .unwrap();
    let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    v["workflow_id"].as_str().unwrap().to_owned()
}

#[test]
fn rerun_from_start_rebinds_and_voids_the_approval() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(5));
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let binding_label = |i: &Value| labels(i).into_iter().find(|l| l.starts_with("changegate-binding-")).unwrap();
    let approved = sb.issue("PRODCM-1");
    let old_label = binding_label(&approved);

    let new_wf = rerun_workflow(&sb, &p.workflow_id, false);
    let mut p2 = p.clone();
    p2.workflow_id = new_wf.clone();
    sb.set_job(&new_wf, "build", "success");
    sb.set_job(&new_wf, "request_change", "running");
    let out = sb.request(&p2, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("rebound PRODCM-1 to build job build #"), "{}", out.stdout);
    assert!(out.stdout.contains("an earlier approval no longer counts"), "{}", out.stdout);
    let issue = sb.issue("PRODCM-1");
    assert_ne!(record(&issue)["binding"]["build_job"]["number"], record(&approved)["binding"]["build_job"]["number"]);
    assert_ne!(binding_label(&issue), old_label);
    // The history shows the binding changed after the approval.
    let log = issue["changelog"].as_array().unwrap();
    let approval =
        log.iter().position(|e| e["items"].as_array().unwrap().iter().any(|i| i["toString"] == "Approved")).unwrap();
    let relabel =
        log.iter().rposition(|e| e["items"].as_array().unwrap().iter().any(|i| i["field"] == "labels")).unwrap();
    assert!(relabel > approval, "the label change is recorded after the approval");
}

#[test]
fn already_approved_ticket_is_in_place() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(6));
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("PRODCM-1 (Approved)"), "{}", out.stdout);
    assert_eq!(sb.state()["status"], "Approved");
}

#[test]
fn declined_ticket_refuses_with_exit_1() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(7));
    assert_eq!(sb.request(&p, &[]).code, 0);
    sb.jira_as(ALICE).transition("PRODCM-1", "Decline", None).unwrap();
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("REFUSED: the change ticket PRODCM-1 for this deploy was declined"), "{}", out.stdout);
    assert_eq!(sb.issues().len(), 1, "no new ticket after a decline");
}

#[test]
fn the_ci_user_cannot_approve_its_own_ticket() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(8));
    assert_eq!(sb.request(&p, &[]).code, 0);
    let e = sb.jira_as(CI).transition("PRODCM-1", "Approve", None).unwrap_err().to_string();
    assert!(e.contains("\"Approve\" is not available on PRODCM-1"), "{e}");
    assert_ne!(sb.issue("PRODCM-1")["status"], "Approved");
}

#[test]
fn adopting_a_ticket_a_person_created() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(9));
    let mut fields = serde_json::Map::new();
    fields.insert("project".into(), json!({"key": "PRODCM"}));
    fields.insert("issuetype".into(), json!({"name": "Change"}));
    fields.insert("summary".into(), json!("Hotfix for checkout"));
    fields.insert("customfield_10051".into(), changegate::Doc::new().text("Customers cannot pay").build());
    let created = sb.jira_as(ALICE).create(fields, &[]).unwrap();
    let out = sb.request(&p, &["--ticket", &created.key]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("adopted {}", created.key)), "{}", out.stdout);
    let issue = sb.issue(&created.key);
    assert_eq!(record(&issue)["binding"]["commit"], sha(9));
    assert_eq!(issue["fields"]["summary"], "Hotfix for checkout", "a person's summary is kept");
    assert_eq!(
        changegate::plain_text(&issue["fields"]["customfield_10051"]),
        "Customers cannot pay\n",
        "a person's justification is kept"
    );
    assert_eq!(sb.state()["missing_fields"], json!(["rollback_plan"]));
}

#[test]
fn naming_another_builds_ticket_is_refused() {
    let sb = Sandbox::new();
    let p1 = sb.pipeline(REPO, "main", &sha(10));
    assert_eq!(sb.request(&p1, &[]).code, 0);
    let p2 = sb.pipeline(REPO, "main", &sha(11));
    let out = sb.request(&p2, &["--ticket", "PRODCM-1"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("PRODCM-1 is bound to another build"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("commit {}", sha(10))), "{}", out.stdout);
    let p3 = sb.pipeline(REPO, "main", &sha(10));
    let out = sb.request(&p3, &["--ticket", "PRODCM-404"]);
    assert_eq!(out.code, 2, "an unknown ticket cannot be checked");
    assert!(out.stderr.contains("HTTP 404"), "{}", out.stderr);
}

#[test]
fn concurrent_requests_leave_one_live_ticket() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(12));
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| sb.request(&p, &[]))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    }
    assert_eq!(sb.live().len(), 1, "{:#?}", sb.issues().iter().map(|i| (&i["key"], &i["status"])).collect::<Vec<_>>());
    let winner = sb.live()[0]["key"].as_str().unwrap().to_owned();
    assert_eq!(winner, "PRODCM-1", "the lowest id wins");
    for o in &outs {
        assert!(o.stdout.contains("PRODCM-1 ("), "every run ends on the winner: {}", o.stdout);
    }
    for dup in sb.issues().iter().filter(|i| i["key"] != "PRODCM-1") {
        assert_eq!(dup["status"], "Cancelled");
        assert_eq!(dup["resolution"], "Duplicate");
        assert!(
            dup["comments"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().contains("a duplicate of PRODCM-1"))
        );
    }
}

/// Search is eventually consistent: a ticket created moments ago may not be
/// found. A duplicate made then is cancelled by the next run.
#[test]
fn a_duplicate_hidden_by_search_lag_is_cancelled_later() {
    let sb = Sandbox::new();
    sb.set_search_lag(1000);
    let p = sb.pipeline(REPO, "main", &sha(13));
    assert_eq!(sb.request(&p, &[]).code, 0);
    assert_eq!(sb.request(&p, &[]).code, 0);
    assert_eq!(sb.live().len(), 2, "neither run could see the other's ticket");
    sb.set_search_lag(0);
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("cancelled PRODCM-2 as a duplicate of PRODCM-1"), "{}", out.stdout);
    assert_eq!(sb.live().len(), 1);
}

#[test]
fn a_newer_pipeline_supersedes_finished_older_ones() {
    let sb = Sandbox::new();
    let p1 = sb.pipeline(REPO, "main", &sha(14));
    assert_eq!(sb.request(&p1, &[]).code, 0);
    let p2 = sb.pipeline(REPO, "main", &sha(15));
    assert_eq!(sb.request(&p2, &[]).code, 0);
    assert_eq!(sb.live().len(), 2, "the older workflow is still on hold: not an orphan");
    // The older workflow is cancelled in CircleCI: now it is an orphan.
    ureq::post(&format!("{}/workflow/{}/cancel", sb.stand_ins.circleci_url(), p1.workflow_id))
        .header("Circle-Token", changegate::standins::circleci::TOKEN)
        .send_empty()
        .unwrap();
    let p3 = sb.pipeline(REPO, "main", &sha(16));
    let out = sb.request(&p3, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("cancelled PRODCM-1: superseded by PRODCM-3"), "{}", out.stdout);
    let old = sb.issue("PRODCM-1");
    assert_eq!(old["status"], "Cancelled");
    assert!(old["remote_links"][0]["object"]["title"].as_str().unwrap().contains("Superseded by PRODCM-3"));
    assert_eq!(sb.issue("PRODCM-2")["status"], "Waiting for input", "a pipeline still running is not superseded");
    // Another repository's tickets are never touched.
    let other = sb.pipeline("gh/acme/api", "main", &sha(17));
    assert_eq!(sb.request(&other, &[]).code, 0);
    assert_eq!(sb.issue("PRODCM-2")["status"], "Waiting for input");
}

#[test]
fn an_uncontrolled_environment_needs_no_ticket_and_without_a_bot_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let run =
        || crate::support::Run::new(["request", "--environment", "staging", "--build-job", "build"]).cwd(dir.path());
    // With a bot (the default), whether an environment is controlled is the
    // bot's signed policy's to say: without its public key, nothing is decided.
    let out = run().run();
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("CHANGEGATE_RECEIPT_PUBKEY is not set"), "{}", out.stderr);
    let out = run().env("CHANGEGATE_RECEIPT_PUBKEY", " ").run();
    assert_eq!(out.code, 2, "an empty key is no key: {}", out.stderr);
    assert!(!dir.path().join("changegate.json").exists());
    // Without a bot, the checkout's configuration says so, and no call is made.
    let out = run().env("CHANGEGATE_NO_BOT", "1").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("staging is not a controlled environment"));
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("changegate.json")).unwrap()).unwrap();
    assert_eq!(state["controlled"], false);
    assert_eq!(state["ticket"], Value::Null);
}

#[test]
fn the_build_must_be_what_the_pipeline_says() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(18));
    let mut wrong = p.clone();
    wrong.id = "00000000-0000-4000-8000-000000000000".into();
    let out = sb.request(&wrong, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is not the pipeline of this workflow"), "{}", out.stderr);
    let out = sb.request_for_job(&p, "compile", &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("the build job \"compile\" is not in workflow"), "{}", out.stderr);
    sb.set_job(&p.workflow_id, "build", "failed");
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("has status failed"), "{}", out.stderr);
    assert!(sb.issues().is_empty(), "no ticket for a build that cannot be bound");
}

#[test]
fn missing_credentials_are_named() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(19));
    let mut run =
        crate::support::Run::new(["request", "--environment", "production", "--build-job", "build"]).cwd(sb.path());
    for (k, v) in sb.job_env(&p) {
        if k != "JIRA_API_TOKEN" && k != "CIRCLE_TOKEN" {
            run = run.env(&k, &v);
        }
    }
    let out = run.run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("missing environment variable(s): JIRA_API_TOKEN"), "{}", out.stderr);
}

/// Branch names are user input: quotes and JQL in them stay data.
#[test]
fn jql_injection_in_a_branch_name_stays_data() {
    let sb = Sandbox::new();
    let evil = "fix\" OR project = \"OTHER\" OR labels = \"x";
    let p = sb.pipeline(REPO, evil, &sha(20));
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let issue = sb.issue("PRODCM-1");
    assert_eq!(issue["fields"]["customfield_10056"], evil);
    assert_eq!(record(&issue)["binding"]["branch"], evil);
    // A second pipeline with the same branch finds nothing of the first.
    let p2 = sb.pipeline(REPO, evil, &sha(21));
    assert_eq!(sb.request(&p2, &[]).code, 0);
    assert_eq!(sb.issues().len(), 2);
}

/// Faults at every call of the flow: 500s, 429 with Retry-After, timeouts
/// and malformed bodies. Never a second live ticket, a message that says
/// what failed, exit 2, no secret in the output; once the fault ends, a
/// rerun puts exactly one ticket in place.
#[test]
fn faults_at_every_call_fail_closed_and_recover() {
    let calls: &[(&str, &str, &str)] = &[
        ("circleci", "GET", "/workflow/"),
        ("circleci", "GET", "/pipeline/"),
        ("jira", "POST", "/search/jql"),
        ("jira", "POST", "/rest/api/3/issue"),
        ("jira", "GET", "/rest/api/3/issue/"),
        ("jira", "GET", "/comment"),
        ("jira", "POST", "/comment"),
        ("jira", "GET", "/transitions"),
        ("jira", "POST", "/transitions"),
    ];
    // The answer to a transition has no body: a malformed one is never read.
    let not_read = |service: &str, method: &str, path: &str, fault: &str| {
        (service, method, path, fault) == ("jira", "POST", "/transitions", "malformed")
    };
    let faults = [
        ("500", json!({"status": 500, "times": 50})),
        ("429", json!({"status": 429, "retry_after": 1, "times": 50})),
        ("timeout", json!({"delay_ms": 1500, "times": 50})),
        ("malformed", json!({"status": 200, "body": "{\"issues\": [tru", "times": 50})),
    ];
    let mut cells = 0;
    for (service, method, path) in calls {
        for (name, spec) in &faults {
            if not_read(service, method, path, name) {
                continue;
            }
            // POSTs that may have been processed are not retried, and a
            // malformed answer to a write cannot be read: all must exit 2.
            let sb = Sandbox::new();
            let p = sb.pipeline(REPO, "main", &sha(100));
            let mut f = spec.clone();
            f["service"] = json!(service);
            f["method"] = json!(method);
            f["path_contains"] = json!(path);
            sb.fault(f);
            let out = sb.request(&p, &[]);
            let cell = format!("{service} {method} {path} {name}");
            assert_eq!(out.code, 2, "{cell}: {}{}", out.stdout, out.stderr);
            let svc = if *service == "jira" { "Jira:" } else { "CircleCI:" };
            assert!(out.stderr.contains(svc), "{cell}: the message names the service: {}", out.stderr);
            for secret in ["ci-token", changegate::standins::circleci::TOKEN] {
                assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret), "{cell}: secret in output");
            }
            assert!(sb.live().len() <= 1, "{cell}: a second live ticket");
            assert!(sb.issues().iter().all(|i| i["status"] != "Approved"), "{cell}: no approval");
            sb.clear_faults();
            let again = sb.request(&p, &[]);
            assert_eq!(again.code, 0, "{cell}: recovery: {}{}", again.stdout, again.stderr);
            assert_eq!(sb.live().len(), 1, "{cell}: one live ticket after recovery");
            cells += 1;
        }
    }
    assert_eq!(cells, calls.len() * faults.len() - 1);
}

/// A short 429 is waited out and the request succeeds.
#[test]
fn a_short_rate_limit_is_waited_out() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(22));
    sb.fault(json!({"service": "jira", "path_contains": "/search/jql", "status": 429, "retry_after": 1, "times": 1}));
    let started = std::time::Instant::now();
    let out = sb.request(&p, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

/// No credential appears in any output, file or ticket.
#[test]
fn secrets_never_leave_the_environment() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(23));
    let out = sb.request(&p, &[]);
    let everything = format!(
        "{}{}{}{}",
        out.stdout,
        out.stderr,
        std::fs::read_to_string(sb.state_path()).unwrap(),
        serde_json::to_string(&sb.issues()).unwrap()
    );
    for secret in ["ci-token", changegate::standins::circleci::TOKEN] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[test]
fn config_check_against_the_site_and_the_approval_probe() {
    let sb = Sandbox::new();
    let p = sb.pipeline(REPO, "main", &sha(24));
    assert_eq!(sb.request(&p, &[]).code, 0);
    let out = sb.job(&p, ["config", "check", "--probe-ticket", "PRODCM-1"]).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("matches the configuration"), "{}", out.stdout);
    assert!(out.stdout.contains("the CI user cannot approve or decline PRODCM-1"), "{}", out.stdout);

    // As an approver the probe finds Approve offered: a misconfigured site.
    let mut run = crate::support::Run::new(["config", "check", "--probe-ticket", "PRODCM-1"]).cwd(sb.path());
    for (k, v) in sb.job_env(&p) {
        run = run.env(
            &k,
            &if k == "JIRA_USER_EMAIL" {
                ALICE.0.to_owned()
            } else if k == "JIRA_API_TOKEN" {
                ALICE.1.to_owned()
            } else {
                v
            },
        );
    }
    let out = run.run();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("may run \"Approve\" on PRODCM-1"), "{}", out.stdout);

    // A field that does not exist and a status the project lacks.
    std::fs::write(
        sb.path().join("changegate.toml"),
        "[jira.fields]\nenvironment = \"customfield_99999\"\n[jira.statuses]\nmanual_review = \"In Review\"\n",
    )
    .unwrap();
    let out = sb.job(&p, ["config", "check"]).run();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("environment = \"customfield_99999\": the site has no field with that id"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("manual_review = \"In Review\": project PRODCM has no such status"), "{}", out.stdout);
}

#[test]
fn config_check_offline_validates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing set up: every problem is listed in one run, none passes silently.
    let out = crate::support::Run::new(["config", "check"]).cwd(dir.path()).run();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("mode: with the changegate bot"), "{}", out.stdout);
    for problem in [
        "problem: CHANGEGATE_RECEIPT_PUBKEY is not set",
        "problem: no configuration found: CHANGEGATE_CONFIG is not set and neither",
        "problem: [jira] required field justification is not mapped to a site field",
        "problem: [jira] required field rollback_plan is not mapped to a site field",
        "problem: missing environment variable(s): JIRA_BASE_URL, JIRA_USER_EMAIL, JIRA_API_TOKEN",
    ] {
        assert!(out.stdout.contains(problem), "{problem}: {}", out.stdout);
    }
    // A configuration that maps every required field, checked offline.
    std::fs::write(dir.path().join("changegate.toml"), changegate::standins::SITE_CONFIG).unwrap();
    let (_, public) = changegate::signing::generate();
    let offline = |extra: &[&str]| {
        let mut args = vec!["config", "check", "--offline"];
        args.extend_from_slice(extra);
        crate::support::Run::new(args).cwd(dir.path()).env("CHANGEGATE_RECEIPT_PUBKEY", &public).run()
    };
    let out = offline(&[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("bot keys accepted: "), "{}", out.stdout);
    assert!(out.stdout.contains("site not checked (--offline)"), "{}", out.stdout);
    let out = offline(&["--no-bot"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("mode: without a bot (--no-bot): nothing is signed"), "{}", out.stdout);
    assert!(out.stdout.contains("emergencies: granted by members of the Jira group break-glass"), "{}", out.stdout);
    assert!(out.stdout.contains("waiting requests: reminded every 4 h, expired after 168 h"), "{}", out.stdout);
    assert!(out.stdout.contains("production: a deploy now is inside its windows"), "{}", out.stdout);
    // A freeze now.
    let now = changegate::Timestamp::now();
    std::fs::write(
        dir.path().join("changegate.toml"),
        format!(
            "{}\n[[freezes]]\nfrom = \"{}\"\nuntil = \"{}\"\nreason = \"Migration\"\n",
            changegate::standins::SITE_CONFIG,
            changegate::Timestamp(now.0 - 60_000),
            now.plus(std::time::Duration::from_secs(3600))
        ),
    )
    .unwrap();
    let out = offline(&["--no-bot"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("production: production freeze until") && out.stdout.contains("Migration"),
        "{}",
        out.stdout
    );
    // Every unknown key and wrong type of the file in one run, each with its
    // line and fix: exit 1 like every other problem.
    std::fs::write(
        dir.path().join("changegate.toml"),
        "[jira]\nprojekt = \"X\"\n[emergency]\ngroupp = \"g\"\n[approval]\nauto_approve = 1\n[scann]\njobs = []\n",
    )
    .unwrap();
    let out = offline(&[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for problem in [
        "changegate.toml:2:1: jira.projekt: unknown field `projekt`",
        "changegate.toml:4:1: emergency.groupp: unknown field `groupp`",
        "changegate.toml:6:16: approval.auto_approve: invalid type: integer `1`, expected a boolean",
        "changegate.toml:7:2: scann: unknown field `scann`",
    ] {
        assert!(out.stdout.contains(problem), "{problem}: {}", out.stdout);
    }
    assert_eq!(out.stdout.matches("problem: ").count(), 4, "{}", out.stdout);
    assert!(out.stdout.contains("did you mean `project`?") && out.stdout.contains("did you mean `scan`?"));
}

/// The ticket lists the commits since the last deploy that reached Done,
/// read from the checkout for display.
#[test]
fn the_commit_list_starts_at_the_last_done_deploy() {
    let sb = Sandbox::new();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").arg("-C").arg(sb.path()).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let commit = |msg: &str| {
        git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--allow-empty", "-q", "-m", msg]);
        git(&["rev-parse", "HEAD"])
    };
    git(&["init", "-q", "-b", "main"]);
    let first = commit("Initial service");
    let p1 = sb.pipeline(REPO, "main", &first);
    assert_eq!(sb.request(&p1, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let text = changegate::plain_text(&sb.issue("PRODCM-1")["fields"]["description"]);
    assert!(text.contains("a first deploy"), "{text}");
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    sb.jira_as(CI).transition("PRODCM-1", "Complete", None).unwrap();

    commit("Add checkout page");
    let head = commit("Fix rounding in totals");
    let p2 = sb.pipeline(REPO, "main", &head);
    assert_eq!(sb.request(&p2, &[]).code, 0, "second deploy");
    let text = changegate::plain_text(&sb.issue("PRODCM-2")["fields"]["description"]);
    assert!(text.contains(&format!("since the last approved deploy (PRODCM-1, {})", &first[..12])), "{text}");
    assert!(text.contains("Fix rounding in totals") && text.contains("Add checkout page"), "{text}");
    assert!(!text.contains("Initial service"), "the base commit itself is not listed: {text}");
}

/// Every variable a request needs and lacks is named in one run, not one
/// batch per step.
#[test]
fn every_missing_variable_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("changegate.toml"), changegate::standins::SITE_CONFIG).unwrap();
    let mut run =
        crate::support::Run::new(["request", "--environment", "production", "--build-job", "build", "--no-bot"])
            .cwd(dir.path());
    // Whatever the machine running the tests has set, these are empty.
    for var in ["JIRA_BASE_URL", "JIRA_USER_EMAIL", "JIRA_API_TOKEN", "CIRCLE_TOKEN", "CIRCLE_WORKFLOW_ID"] {
        run = run.env(var, "");
    }
    let out = run.env("CIRCLE_SHA1", "0123456789abcdef0123456789abcdef01234567").run();
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "missing environment variable(s): JIRA_BASE_URL, JIRA_USER_EMAIL, JIRA_API_TOKEN, CIRCLE_TOKEN, CIRCLE_WORKFLOW_ID"
        ),
        "{}",
        out.stderr
    );
}

/// Every step says which configuration it read, or where it looked.
#[test]
fn each_step_says_which_configuration_it_read_or_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        crate::support::Run::new(["validate", "--environment", "production", "--no-bot"])
            .cwd(dir.path())
            .env("JIRA_BASE_URL", "")
            .run()
    };
    let out = run();
    assert!(
        out.stdout.contains("policy: built-in defaults (none found: --config and CHANGEGATE_CONFIG unset, no ./changegate.toml or ./.circleci/changegate.toml here)"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    std::fs::create_dir(dir.path().join(".circleci")).unwrap();
    std::fs::write(dir.path().join(".circleci/changegate.toml"), changegate::standins::SITE_CONFIG).unwrap();
    let out = run();
    assert!(out.stdout.contains(".circleci/changegate.toml (--no-bot"), "{}{}", out.stdout, out.stderr);
}
