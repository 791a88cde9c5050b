//! `changegate drift`: the drift of every shared plan that has any, judged
//! against hand-checked expectations (tests/data/drift-expectations.tsv),
//! and the drift ticket's lifecycle against the stand-ins: opened, left
//! alone while the drift is the same, updated when it changes, closed when
//! it is gone, one ticket when two checks race; its REST calls through
//! `prism proxy --errors` in `contract.rs`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::sandbox::Sandbox;
use crate::support::{Output, Run, repo, shared};

/// (file, exit, {address=severity:reasons}) of the expectations file.
fn expectations() -> Vec<(String, i32, BTreeSet<String>)> {
    let text = std::fs::read_to_string(repo().join("tests/data/drift-expectations.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let file = cols.next().unwrap().to_owned();
            let exit = cols.next().unwrap().parse().unwrap();
            let drifted = cols.next().unwrap_or("").split_whitespace().map(str::to_owned).collect();
            (file, exit, drifted)
        })
        .collect()
}

#[test]
#[ignore = "external: needs ../shared/tfplans; run with cargo test -- --include-ignored"]
fn every_shared_plan_with_drift_is_judged_as_hand_checked() {
    let dir = shared("tfplans");
    let expected = expectations();
    // Every plan with drift has an expectation, and every expectation a plan.
    let mut with_drift = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(16).any(|w| w == b"\"resource_drift\"") {
                with_drift.insert(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let listed: BTreeSet<String> = expected.iter().map(|(f, ..)| f.clone()).collect();
    assert_eq!(listed, with_drift, "tests/data/drift-expectations.tsv lists exactly the shared plans with drift");
    for (file, exit, drifted) in expected {
        let out = Run::new(["drift", "--environment", "production", "--stack", "default", "--format", "json"])
            .stdin(std::fs::read(dir.join(&file)).unwrap())
            .run();
        assert_eq!(out.code, exit, "{file}: {}{}", out.stdout, out.stderr);
        let report: Value = serde_json::from_str(&out.stdout).unwrap();
        let got: BTreeSet<String> = report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let reasons: Vec<&str> = r["reasons"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
                format!("{}={}:{}", r["address"].as_str().unwrap(), r["severity"].as_str().unwrap(), reasons.join(","))
            })
            .collect();
        assert_eq!(got, drifted, "{file}");
        assert_eq!(report["schema_version"], 1);
        assert_eq!(report["drifted"], exit == 1);
    }
}

/// A refresh-only plan whose drift is `drift` (resource_drift entries).
pub(crate) fn drift_plan(drift: Value) -> String {
    json!({"format_version": "1.2", "terraform_version": "1.9.8", "resource_drift": drift, "resource_changes": [],
           "planned_values": {}})
    .to_string()
}

pub(crate) fn opened_sg() -> Value {
    json!([{"address": "aws_security_group.web", "mode": "managed", "type": "aws_security_group", "name": "web",
            "change": {"actions": ["update"],
                       "before": {"ingress": [{"cidr_blocks": ["10.0.0.0/8"], "from_port": 22, "to_port": 22, "protocol": "tcp"}]},
                       "after": {"ingress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 22, "to_port": 22, "protocol": "tcp"}]}}}])
}

fn retagged() -> Value {
    json!([{"address": "aws_instance.app", "mode": "managed", "type": "aws_instance", "name": "app",
            "change": {"actions": ["update"], "before": {"tags": {"v": "1"}}, "after": {"tags": {"v": "2"}}}}])
}

#[test]
fn synthetic_drift_for_each_kind_of_rule() {
    // (drift entry, severity, reasons)
    let iam = json!({"address": "aws_iam_role_policy.p", "mode": "managed", "type": "aws_iam_role_policy", "name": "p",
        "change": {"actions": ["update"], "before": {"policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"},
                   "after": {"policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}}});
    let bucket = json!({"address": "aws_s3_bucket_public_access_block.b", "mode": "managed", "type": "aws_s3_bucket_public_access_block", "name": "b",
        "change": {"actions": ["update"], "before": {"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true},
                   "after": {"block_public_acls": false, "block_public_policy": false, "ignore_public_acls": false, "restrict_public_buckets": false}}});
    let gone = json!({"address": "aws_db_instance.main", "mode": "managed", "type": "aws_db_instance", "name": "main",
        "change": {"actions": ["delete"], "before": {"identifier": "main"}, "after": null}});
    for (entry, severity, must_have) in [
        (opened_sg()[0].clone(), "high", "security_group"),
        (iam, "high", "iam"),
        (bucket, "high", "public_exposure"),
        (gone, "high", "delete"),
        (retagged()[0].clone(), "low", ""),
    ] {
        let out = Run::new(["drift", "--environment", "production", "--format", "json"])
            .stdin(drift_plan(json!([entry.clone()])))
            .run();
        assert_eq!(out.code, 1, "{entry}: {}{}", out.stdout, out.stderr);
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        let d = &r["resources"][0];
        assert_eq!(d["severity"], severity, "{d}");
        let reasons: Vec<&str> = d["reasons"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert!(must_have.is_empty() && reasons.is_empty() || reasons.contains(&must_have), "{d}");
    }
}

// The lifecycle of a stream's drift ticket.

fn sandbox() -> Sandbox {
    Sandbox::with_config(changegate::standins::SITE_CONFIG)
}

/// `changegate drift --record` as the scheduled drift check (its own Jira
/// account), on a plan made of `drift`.
pub(crate) fn record(sb: &Sandbox, drift: Value, stack: &str) -> Output {
    record_at(sb, &sb.stand_ins.url(), drift, stack)
}

pub(crate) fn record_at(sb: &Sandbox, jira_url: &str, drift: Value, stack: &str) -> Output {
    record_as(sb, jira_url, crate::support::sandbox::DRIFT_CHECK, drift, stack)
}

pub(crate) fn record_as(sb: &Sandbox, jira_url: &str, user: (&str, &str), drift: Value, stack: &str) -> Output {
    Run::new(["drift", "--environment", "production", "--stack", stack, "--record"])
        .cwd(sb.path())
        .stdin(drift_plan(drift))
        .env("JIRA_BASE_URL", jira_url)
        .env("JIRA_USER_EMAIL", user.0)
        .env("JIRA_API_TOKEN", user.1)
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run()
}

fn drift_tickets(sb: &Sandbox) -> Vec<Value> {
    sb.issues()
        .into_iter()
        .filter(|i| i["fields"]["labels"].as_array().unwrap().iter().any(|l| l == changegate::drift::LABEL))
        .collect()
}

#[test]
fn a_streams_drift_ticket_is_opened_kept_in_step_and_closed() {
    let sb = sandbox();
    // No drift, no ticket.
    let none = record(&sb, json!([]), "network");
    assert_eq!(none.code, 0, "{}{}", none.stdout, none.stderr);
    assert!(drift_tickets(&sb).is_empty());

    let first = record(&sb, opened_sg(), "network");
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("opened drift ticket PRODCM-1"), "{}", first.stdout);
    let t = &drift_tickets(&sb)[0];
    assert_eq!(t["status"], "Open");
    assert!(t["fields"]["summary"].as_str().unwrap().starts_with("Drift: production / network: 1 object(s)"));
    assert!(
        !t["fields"]["labels"].as_array().unwrap().iter().any(|l| l == "changegate"),
        "never mistaken for a change ticket"
    );
    assert_eq!(t["properties"]["changegate.drift"]["resources"], json!(["aws_security_group.web"]));

    // The same drift again: nothing new on the ticket.
    let same = record(&sb, opened_sg(), "network");
    assert_eq!(same.code, 1);
    assert!(same.stdout.contains("drift ticket PRODCM-1 already records this drift"), "{}", same.stdout);
    assert_eq!(drift_tickets(&sb)[0]["comments"].as_array().unwrap().len(), 0);

    // Other drift: one comment, the record and summary follow.
    let mut more = opened_sg().as_array().unwrap().clone();
    more.extend(retagged().as_array().unwrap().iter().cloned());
    let changed = record(&sb, Value::Array(more), "network");
    assert!(changed.stdout.contains("updated drift ticket PRODCM-1: the drift changed"), "{}", changed.stdout);
    let t = &drift_tickets(&sb)[0];
    assert_eq!(t["comments"].as_array().unwrap().len(), 1);
    assert!(t["fields"]["summary"].as_str().unwrap().contains("2 object(s)"));

    // Another stack is another stream.
    let other = record(&sb, retagged(), "app");
    assert!(other.stdout.contains("opened drift ticket PRODCM-2"), "{}", other.stdout);

    // The drift is gone: closed with a comment; the other stream stays open.
    let gone = record(&sb, json!([]), "network");
    assert_eq!(gone.code, 0);
    assert!(gone.stdout.contains("closed drift ticket PRODCM-1: no drift"), "{}", gone.stdout);
    assert_eq!(sb.issue("PRODCM-1")["status"], "Cancelled");
    assert!(sb.issue("PRODCM-1")["comments"].to_string().contains("found no object of production / network"));
    assert_eq!(sb.issue("PRODCM-2")["status"], "Open");
    // Drift found again later opens a new ticket.
    let again = record(&sb, opened_sg(), "network");
    assert!(again.stdout.contains("opened drift ticket PRODCM-3"), "{}", again.stdout);
}

#[test]
fn two_checks_at_once_leave_one_ticket() {
    let sb = sandbox();
    // Search lags behind creation, as Jira's index does.
    sb.set_search_lag(2);
    let a = std::thread::scope(|s| {
        let one = s.spawn(|| record(&sb, opened_sg(), "network"));
        let two = s.spawn(|| record(&sb, opened_sg(), "network"));
        [one.join().unwrap(), two.join().unwrap()]
    });
    for o in &a {
        assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    }
    sb.set_search_lag(0);
    // A later run settles whatever the race left.
    let settle = record(&sb, opened_sg(), "network");
    assert_eq!(settle.code, 1, "{}{}", settle.stdout, settle.stderr);
    let open: Vec<Value> = drift_tickets(&sb).into_iter().filter(|t| t["status"] == "Open").collect();
    assert_eq!(open.len(), 1, "one open drift ticket: {}\n{}\n{}", a[0].stdout, a[1].stdout, settle.stdout);
}

#[test]
fn a_drift_ticket_links_the_last_deploy_of_its_stream() {
    let sb = sandbox();
    let p = sb.pipeline("gh/acme/web", "main", &crate::support::sandbox::sha(77));
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    sb.jira_as(crate::support::sandbox::ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    sb.jira_as(crate::support::sandbox::ALICE).transition("PRODCM-1", "Complete", None).unwrap();
    let out = record(&sb, opened_sg(), "default");
    assert!(out.stdout.contains("linked PRODCM-2 to PRODCM-1, the last deploy of this stream"), "{}", out.stdout);
}

/// A whole deploy: with the environment's drift ticket open, the bot's
/// analysis of the next change ticket names `drift_open` and leaves the
/// decision to a person; once a check finds the drift gone, the same
/// change is approved.
#[test]
fn open_drift_sends_the_next_change_to_a_person() {
    use crate::analyze::{analyze, bot_property, config, key, setup};
    let (sb, _g, p) = setup(&config("[approval]\nauto_approve = true\n"), |_| Vec::new());
    let opened = record(&sb, opened_sg(), "network");
    assert!(opened.stdout.contains("opened drift ticket"), "{}", opened.stdout);
    let out = analyze(&sb, &p, &["--approve"]);
    assert_eq!(out.code, 1, "a person must decide: {}{}", out.stdout, out.stderr);
    let k = key(&sb);
    let analysis = bot_property(&sb, &k)["analysis"].clone();
    assert_eq!(analysis["reasons"], json!(["drift_open"]), "{analysis}");
    assert_eq!(sb.issue(&k)["status"], "Manual review");
    let comments = sb.issue(&k)["comments"].to_string();
    assert!(comments.contains("drift is open for production"), "{comments}");

    // The drift is gone: the next analysis approves the same change.
    assert_eq!(record(&sb, json!([]), "network").code, 0);
    sb.jira_as(crate::support::sandbox::ALICE).transition(&k, "Decline", None).ok();
    let p2 = crate::collect::pipeline(&sb, &p.commit);
    sb.add_trivy(&p2);
    assert_eq!(sb.request(&p2, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let out = analyze(&sb, &p2, &["--approve"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let k2 = key(&sb);
    assert_ne!(k, k2);
    assert_eq!(bot_property(&sb, &k2)["analysis"]["reasons"], json!([]));
    assert_eq!(sb.issue(&k2)["status"], "Approved");
}

/// The drift reports for CircleCI: JUnit read back with junitparser (a
/// failure per drifted object; one passing case without drift) and SARIF
/// valid against the SARIF 2.1.0 schema, for every shared plan with drift.
#[test]
#[ignore = "external: needs ../shared and Python's jsonschema and junitparser; run with cargo test -- --include-ignored"]
fn drift_junit_and_sarif_are_what_their_readers_expect() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs = Vec::new();
    for (file, exit, drifted) in expectations() {
        let junit = dir.path().join(format!("{file}.xml"));
        let sarif = dir.path().join(format!("{file}.sarif"));
        let plan = shared("tfplans").join(&file);
        let out = Run::new([
            "drift",
            plan.to_str().unwrap(),
            "--environment",
            "production",
            "--stack",
            "default",
            "--junit",
            junit.to_str().unwrap(),
            "--sarif-out",
            sarif.to_str().unwrap(),
        ])
        .run();
        assert_eq!(out.code, exit, "{file}: {}", out.stderr);
        let j = crate::support::read_junit(&junit);
        assert_eq!(j["declared"], j["counted"], "{file}: {j}");
        let failures = j["counted"]["failures"].as_u64().unwrap() as usize;
        assert_eq!(failures, drifted.len(), "{file}: {j}");
        assert_eq!(j["counted"]["tests"].as_u64().unwrap() as usize, drifted.len().max(1), "{file}");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
        let results = doc["runs"][0]["results"].as_array().unwrap();
        let objects: BTreeSet<&str> = results
            .iter()
            .map(|r| r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap())
            .collect();
        assert_eq!(objects.len(), drifted.len(), "{file}: a result for each drifted object");
        docs.push((file, doc));
    }
    crate::sarif::validate_sarif(&docs).unwrap();
}

/// The monthly inspection lists the drift of its period: when it was found,
/// what drifted, how long it stayed open and how it closed; drift is a
/// finding of the inspection.
#[test]
#[ignore = "external: needs Python's junitparser; run with cargo test -- --include-ignored"]
fn the_audit_lists_the_drift_of_its_period() {
    let (sb, _g, p) = crate::analyze::setup(&crate::analyze::config(""), |_| Vec::new());
    let audit = || {
        let dir = sb.path().join("audit");
        let out = sb
            .bot(
                &p,
                [
                    "audit",
                    "--since",
                    "2026-01-01",
                    "--sample",
                    "0",
                    "--json-out",
                    "audit/audit.json",
                    "--junit",
                    "audit/audit.xml",
                ],
            )
            .run();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("audit.json")).unwrap()).unwrap();
        (out, json, crate::support::read_junit(&dir.join("audit.xml")))
    };
    let (out, report, _) = audit();
    assert_eq!(out.code, 0, "no drift, nothing else: {}{}", out.stdout, out.stderr);
    assert_eq!(report["drift"], json!([]));

    assert_eq!(record(&sb, opened_sg(), "network").code, 1);
    assert_eq!(record(&sb, retagged(), "app").code, 1);
    assert_eq!(record(&sb, json!([]), "app").code, 0);
    let (out, report, junit) = audit();
    assert_eq!(out.code, 1, "drift is a finding: {}{}", out.stdout, out.stderr);
    let drift = report["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 2, "{report}");
    let network = drift.iter().find(|d| d["stack"] == "network").unwrap();
    assert_eq!(network["closed_by"], "open");
    assert_eq!(network["resources"], json!(["aws_security_group.web"]));
    let app = drift.iter().find(|d| d["stack"] == "app").unwrap();
    assert_eq!(app["closed_by"], "no drift found");
    assert!(app["closed_at"].is_string(), "{app}");
    assert_eq!(app["open_days"], 0);
    let failed: Vec<&Value> =
        junit["cases"].as_array().unwrap().iter().filter(|c| c["classname"] == "audit.drift").collect();
    assert_eq!(failed.len(), 2, "{junit}");

    // The CI user cancels the open one and rewrites its record: the audit
    // says who closed it, keeps its stream, and Jira's creation dates it.
    let key = network["ticket"].as_str().unwrap().to_owned();
    let ci = sb.jira_as(crate::support::sandbox::CI);
    let mut r = ci.property(&key, changegate::drift::PROPERTY).unwrap().unwrap();
    r["found_at"] = json!("2000-01-01T00:00:00Z");
    ci.set_property(&key, changegate::drift::PROPERTY, &r).unwrap();
    let cancel = changegate::JiraConfig::default().transitions.cancel;
    ci.transition(&key, &cancel, None).unwrap();
    let (out, report, _) = audit();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let network = report["drift"].as_array().unwrap().iter().find(|d| d["ticket"] == key.as_str()).unwrap().clone();
    let closed_by = network["closed_by"].as_str().unwrap();
    assert!(closed_by.starts_with("closed, not settled: ") && closed_by.contains("712020:ci-user"), "{network}");
    assert_eq!(network["stack"], "network");
    assert!(network["found_at"].as_str().unwrap().starts_with("2026"), "{network}");
}

/// A deploy approved after the drift was found, and applied, settles it:
/// `close` closes the drift ticket as reviewed there. Drift found after the
/// approval stays open: no one saw it.
#[test]
fn a_deploy_approved_knowing_of_the_drift_closes_it() {
    let sb = Sandbox::without_bot(changegate::standins::SITE_CONFIG);
    let seen = record(&sb, opened_sg(), "default");
    let seen_key =
        seen.stdout.split("opened drift ticket ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let p = sb.pipeline_with_jobs(
        "gh/acme/web",
        "main",
        &crate::support::sandbox::sha(91),
        json!([{"name": "build"}, {"name": "request_change", "requires": ["build"]},
               {"name": "hold_change", "type": "approval", "requires": ["request_change"]},
               {"name": "apply", "requires": ["hold_change"], "status": "success"}]),
    );
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(20));
    sb.jira_as(crate::support::sandbox::ALICE).transition(&key, "Approve", None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let later = record(&sb, retagged(), "app");
    let later_key =
        later.stdout.split("opened drift ticket ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    // Anyone who may edit issues can rewrite the drift ticket's record to
    // say it was found long ago: the time `close` goes by is Jira's own.
    let ci = sb.jira_as(crate::support::sandbox::CI);
    let mut forged = ci.property(&later_key, changegate::drift::PROPERTY).unwrap().unwrap();
    forged["found_at"] = json!("2000-01-01T00:00:00Z");
    ci.set_property(&later_key, changegate::drift::PROPERTY, &forged).unwrap();
    let out = sb.job(&p, ["close", "--deploy-job", "apply"]).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("closed drift ticket {seen_key}: reviewed in {key}")), "{}", out.stdout);
    assert_eq!(sb.issue(&seen_key)["status"], "Cancelled");
    assert!(sb.issue(&seen_key)["comments"].to_string().contains(&format!("Reviewed in {key}")));
    assert_eq!(
        sb.issue(&later_key)["status"],
        "Open",
        "drift found after the approval was not reviewed, whatever its record says"
    );
}

/// The key of the drift ticket a `drift --record` run opened.
fn opened(out: &Output) -> String {
    out.stdout.split("opened drift ticket ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// Every way the CI user (whose token any job holds) might make open drift
/// stop counting: each one leaves the next change's analysis naming
/// `drift_open`. The honest close, by the scheduled drift check's own
/// account, is `open_drift_sends_the_next_change_to_a_person`.
#[test]
fn nothing_the_ci_user_does_to_a_drift_ticket_settles_it() {
    use crate::analyze::{analyze, bot_property, config, key, setup};
    use changegate::drift::REVIEWED_PROPERTY;
    use changegate::drift::{PROPERTY, stream_label};
    let cancel = changegate::JiraConfig::default().transitions.cancel;
    type Tamper = Box<dyn Fn(&Sandbox, &str)>;
    let cancel_ = cancel.clone();
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "cancelled by hand",
            Box::new(move |sb, d| sb.jira_as(crate::support::sandbox::CI).transition(d, &cancel_, None).unwrap()),
        ),
        (
            "closed by a drift check run with the CI user's token",
            Box::new(|sb, _| {
                let out = record_as(sb, &sb.stand_ins.url(), crate::support::sandbox::CI, json!([]), "network");
                assert!(out.stdout.contains("closed drift ticket"), "{}", out.stdout);
            }),
        ),
        (
            "its record moved to another environment",
            Box::new(|sb, d| {
                let ci = sb.jira_as(crate::support::sandbox::CI);
                let mut r = ci.property(d, PROPERTY).unwrap().unwrap();
                r["environment"] = json!("staging");
                ci.set_property(d, PROPERTY, &r).unwrap();
            }),
        ),
        (
            "its record and labels moved to another environment",
            Box::new(|sb, d| {
                let ci = sb.jira_as(crate::support::sandbox::CI);
                let mut r = ci.property(d, PROPERTY).unwrap().unwrap();
                r["environment"] = json!("staging");
                ci.set_property(d, PROPERTY, &r).unwrap();
                ci.update_labels(d, &[stream_label("staging", "network")], &[stream_label("production", "network")])
                    .unwrap();
            }),
        ),
        ("its labels removed, then cancelled", {
            let cancel = cancel.clone();
            Box::new(move |sb, d| {
                let ci = sb.jira_as(crate::support::sandbox::CI);
                ci.update_labels(d, &[], &[changegate::drift::LABEL.to_owned(), stream_label("production", "network")])
                    .unwrap();
                ci.transition(d, &cancel, None).unwrap();
            })
        }),
        ("its labels swapped for the change tickets' labels, then cancelled", {
            let cancel = cancel.clone();
            Box::new(move |sb, d| {
                let ci = sb.jira_as(crate::support::sandbox::CI);
                ci.update_labels(
                    d,
                    &["changegate".to_owned()],
                    &[changegate::drift::LABEL.to_owned(), stream_label("production", "network")],
                )
                .unwrap();
                ci.transition(d, &cancel, None).unwrap();
            })
        }),
        ("cancelled, naming as its review a deploy approved before the drift was found", {
            let cancel = cancel.clone();
            Box::new(move |sb, d| {
                let ci = sb.jira_as(crate::support::sandbox::CI);
                // The environment's last deploy, approved and done before the drift.
                let base = sb
                    .issues()
                    .into_iter()
                    .find(|i| i["status"] == "Done")
                    .and_then(|i| i["key"].as_str().map(str::to_owned))
                    .expect("the last deploy");
                ci.set_property(d, REVIEWED_PROPERTY, &json!({"ticket": base})).unwrap();
                ci.transition(d, &cancel, None).unwrap();
            })
        }),
    ];
    for (what, tamper) in cases {
        let (sb, _g, p) = setup(&config("[approval]\nauto_approve = true\n"), |_| Vec::new());
        let d = opened(&record(&sb, opened_sg(), "network"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        tamper(&sb, &d);
        let out = analyze(&sb, &p, &["--approve"]);
        let k = key(&sb);
        let analysis = bot_property(&sb, &k)["analysis"].clone();
        assert_eq!(analysis["reasons"], json!(["drift_open"]), "{what}: {analysis}\n{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, 1, "{what}: a person must decide");
        assert_eq!(sb.issue(&k)["status"], "Manual review", "{what}");
        let comments = sb.issue(&k)["comments"].to_string();
        assert!(comments.contains(&d), "{what}: the analysis names {d}: {comments}");
    }
}

/// The honest end of drift that a CI user closed: a person approves the
/// next deploy knowing of it (the analysis says why it still counts), the
/// deploy's `close` names that ticket on it, and the bot, having checked
/// that ticket's history, no longer counts it.
#[test]
fn a_reviewed_deploy_settles_drift_the_ci_user_closed() {
    use crate::analyze::{analyze, bot_property, config, key, setup};
    let (sb, g, p) = setup(&config("[approval]\nauto_approve = true\n"), |_| Vec::new());
    let d = opened(&record(&sb, opened_sg(), "network"));
    let cancel = changegate::JiraConfig::default().transitions.cancel;
    sb.jira_as(crate::support::sandbox::CI).transition(&d, &cancel, None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = analyze(&sb, &p, &["--approve"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let k = key(&sb);
    let comments = sb.issue(&k)["comments"].to_string();
    assert!(comments.contains("neither the bot, an approver nor the drift check"), "{comments}");
    std::thread::sleep(std::time::Duration::from_millis(20));
    sb.jira_as(crate::support::sandbox::ALICE).transition(&k, "Approve", None).unwrap();
    let done = sb.job(&p, ["close", "--deploy-job", "build"]).run();
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert!(done.stdout.contains(&format!("settled drift ticket {d}")), "{}", done.stdout);
    assert_eq!(sb.issue(&k)["status"], "Done");

    // The next change of the environment: nothing counts any more.
    let p2 = crate::collect::pipeline(&sb, &g.head());
    sb.add_trivy(&p2);
    assert_eq!(sb.request(&p2, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let out = analyze(&sb, &p2, &["--approve"]);
    let k2 = key(&sb);
    assert_ne!(k, k2);
    let reasons = bot_property(&sb, &k2)["analysis"]["reasons"].clone();
    assert!(!reasons.as_array().unwrap().iter().any(|r| r == "drift_open"), "{reasons}\n{}{}", out.stdout, out.stderr);
}

/// An issue anyone relabels as a stream's drift ticket is never taken for
/// it: the check keeps the ticket its own account opened, and cancels
/// nothing as a "duplicate" of the decoy.
#[test]
fn a_relabelled_decoy_is_not_the_streams_drift_ticket() {
    use changegate::drift::{LABEL, stream_label};
    let sb = sandbox();
    let ci = sb.jira_as(crate::support::sandbox::CI);
    let mut fields = serde_json::Map::new();
    fields.insert("project".into(), json!({"key": "PRODCM"}));
    fields.insert("issuetype".into(), json!({"name": "Change"}));
    fields.insert("summary".into(), json!("an older issue"));
    let decoy = ci.create(fields, &[]).unwrap().key;
    let d = opened(&record(&sb, opened_sg(), "network"));
    ci.update_labels(&decoy, &[LABEL.to_owned(), stream_label("production", "network")], &[]).unwrap();
    let again = record(&sb, opened_sg(), "network");
    assert!(again.stdout.contains(&format!("drift ticket {d} already records this drift")), "{}", again.stdout);
    assert!(!again.stdout.contains("cancelled"), "{}", again.stdout);
    assert_eq!(sb.issue(&d)["status"], "Open");
    assert_eq!(sb.issue(&decoy)["status"], "Open");
    assert!(sb.issue(&decoy)["properties"]["changegate.drift"].is_null(), "nothing written onto the decoy");
}
