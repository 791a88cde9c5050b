//! The bot (`changegate serve`) against the stand-ins: deliveries checked
//! (unsigned, wrongly signed, oversized, malformed, other projects), a
//! signed Jira event converging a ticket (analysed, approved, receipt
//! written, hold resumed), and reconcile at start-up picking up a ticket
//! whose event was never delivered.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use changegate::standins::github::Pull;
use changegate::webhook::sign;
use serde_json::{Value, json};

use crate::collect::{Git, deployed, register};
use crate::support::sandbox::{Pipeline, Sandbox};
use crate::support::{free_port, shared};

pub(crate) const SECRET: &str = "jira-webhook-secret";
const CI_SECRET: &str = "circleci-webhook-secret";

pub(crate) struct Bot {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `changegate serve` as the bot, with a receipt key; returns it
/// and the matching public key.
pub(crate) fn start(sb: &Sandbox, p: &Pipeline) -> (Bot, String) {
    let (private, public) = sb.keys.clone();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_changegate"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--workers", "2", "--reconcile-every", "0"])
        .args(["--hold-wait", "10", "--max-body", "65536", "--read-timeout", "2"])
        .current_dir(sb.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in sb.job_env(p) {
        cmd.env(k, v);
    }
    cmd.env("JIRA_USER_EMAIL", "bot@acme.test")
        .env("JIRA_API_TOKEN", "bot-token")
        .env("GITHUB_API_URL", sb.stand_ins.url())
        .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
        .env("CHANGEGATE_JIRA_WEBHOOK_SECRETS", format!("retired-secret,{SECRET}"))
        .env("CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS", CI_SECRET)
        .env("CHANGEGATE_RECEIPT_KEY", &private)
        .env("CIRCLE_TOKEN", changegate::standins::circleci::BOT_TOKEN);
    let bot = Bot { child: cmd.spawn().unwrap(), url: format!("http://127.0.0.1:{port}") };
    let started = Instant::now();
    while ureq::get(&format!("{}/healthz", bot.url)).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "the bot did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (bot, public)
}

fn post(url: &str, header: Option<(&str, String)>, body: &[u8]) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.post(url).header("Content-Type", "application/json");
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let v = resp.body_mut().read_json::<Value>().unwrap_or(Value::Null);
    (status, v)
}

fn jira_event(key: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"timestamp": 1, "webhookEvent": "jira:issue_created",
        "issue": {"id": "10001", "key": key, "fields": {"project": {"key": "PRODCM"}}}}))
    .unwrap()
}

/// A deployed base, then an approved pull request at the head with a clean
/// scan; the bot may auto-approve.
fn change(sb: &Sandbox) -> (Git, Pipeline) {
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f1", "alice", 1);
    let m = g.merge("f1", "Merge pull request #1 from acme/f1");
    register(
        sb,
        &g.path,
        vec![Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m)).approved_by("bob", 11)],
    );
    deployed(sb, &base);
    let p = crate::collect::pipeline(sb, &m);
    sb.add_trivy(&p);
    (g, p)
}

fn config() -> String {
    format!("{}\n[scan]\njobs = [\"build\"]\n[approval]\nauto_approve = true\n", changegate::standins::SITE_CONFIG)
}

fn hold_status(sb: &Sandbox, p: &Pipeline) -> String {
    let ci = sb.circleci_as(changegate::standins::circleci::TOKEN);
    ci.workflow_jobs(&p.workflow_id).unwrap().into_iter().find(|j| j.name == "hold_change").unwrap().status
}

pub(crate) fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_signed_event_converges_the_ticket_and_resumes_its_hold() {
    let sb = Sandbox::with_config(&config());
    let (_g, p) = change(&sb);
    // The bot starts first: its start-up reconcile finds nothing to do.
    let (bot, public) = start(&sb, &p);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    sb.set_job(&p.workflow_id, "request_change", "success");
    let hook = format!("{}/webhooks/jira", bot.url);
    let body = jira_event(&key);

    // Refused deliveries change nothing.
    assert_eq!(post(&hook, None, &body).0, 401);
    assert_eq!(post(&hook, Some(("X-Hub-Signature", format!("sha256={}", sign(&body, "guess")))), &body).0, 401);
    let big = vec![b' '; 70_000];
    assert_eq!(post(&hook, Some(("X-Hub-Signature", format!("sha256={}", sign(&big, SECRET)))), &big).0, 413);
    let junk = b"{\"webhookEvent\":";
    assert_eq!(post(&hook, Some(("X-Hub-Signature", format!("sha256={}", sign(junk, SECRET)))), junk).0, 400);
    let other = serde_json::to_vec(&json!({"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-1", "fields": {"project": {"key": "OPS"}}}})).unwrap();
    let (status, v) = post(&hook, Some(("X-Hub-Signature", format!("sha256={}", sign(&other, SECRET)))), &other);
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sb.issue(&key)["status"], "Open", "nothing happened yet");

    // The signed event: analysed, approved, receipt written, hold resumed.
    let (status, v) = post(&hook, Some(("X-Hub-Signature", format!("sha256={}", sign(&body, SECRET)))), &body);
    assert_eq!(status, 202, "{v}");
    // (The bot records the resume right after approving the hold.)
    let resumed_recorded = || {
        sb.issue(&key)["properties"]["changegate.bot"]["payload"]["resumed"].as_array().is_some_and(|r| !r.is_empty())
    };
    wait_for("the hold to be resumed", || hold_status(&sb, &p) == "success" && resumed_recorded());
    let issue = sb.issue(&key);
    assert_eq!(issue["status"], "Approved");
    let prop = &issue["properties"]["changegate.bot"]["payload"];
    assert_eq!(prop["analysis"]["recommendation"], "approve");
    assert_eq!(prop["resumed"].as_array().unwrap().len(), 1, "{prop}");
    assert_eq!(prop["receipts"].as_array().unwrap().len(), 1, "{prop}");

    // `validate` in the resumed job checks the bot's receipt.
    let run = sb.job(&p, ["validate", "--environment", "production", "--ticket", &key]);
    let out = run.env("CHANGEGATE_RECEIPT_PUBKEY", &public).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // A repeated event is a no-op.
    let (status, _) =
        post(&hook, Some(("X-Hub-Signature", format!("sha256={}", sign(&body, "retired-secret")))), &body);
    assert_eq!(status, 202);
    std::thread::sleep(Duration::from_secs(2));
    let prop = &sb.issue(&key)["properties"]["changegate.bot"]["payload"];
    assert_eq!(prop["resumed"].as_array().unwrap().len(), 1, "{prop}");

    // CircleCI events are checked the same way.
    let ev = serde_json::to_vec(
        &json!({"type": "workflow-completed", "pipeline": {"id": p.id}, "workflow": {"id": p.workflow_id}}),
    )
    .unwrap();
    let ci_hook = format!("{}/webhooks/circleci", bot.url);
    assert_eq!(post(&ci_hook, Some(("circleci-signature", format!("v1={}", sign(&ev, SECRET)))), &ev).0, 401);
    assert_eq!(post(&ci_hook, Some(("circleci-signature", format!("v1={}", sign(&ev, CI_SECRET)))), &ev).0, 202);

    let metrics = ureq::get(&format!("{}/metrics", bot.url)).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("changegate_deliveries_total{source=\"jira\",outcome=\"bad_signature\"} 1"), "{metrics}");
    assert!(metrics.contains("changegate_holds_resumed_total 1"), "{metrics}");
    assert!(!metrics.contains(SECRET) && !metrics.contains("bot-token"));
}

#[test]
fn reconcile_at_start_up_recovers_an_event_that_never_arrived() {
    let sb = Sandbox::with_config(&config());
    let (_g, p) = change(&sb);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    sb.set_job(&p.workflow_id, "request_change", "success");
    // No webhook: the bot (re)starts and reconciles.
    let (mut bot, _) = start(&sb, &p);
    wait_for("reconcile to resume the hold", || hold_status(&sb, &p) == "success");
    assert_eq!(sb.issue(&key)["status"], "Approved");

    // SIGTERM: it stops accepting, drains and exits cleanly.
    let pid = bot.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = bot.child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(40), "the bot did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    assert!(ureq::get(&format!("{}/healthz", bot.url)).call().is_err(), "no longer accepting");
}

#[test]
fn a_declined_ticket_cancels_its_workflow_and_faults_never_approve() {
    let sb = Sandbox::with_config(&config());
    let (_g, p) = change(&sb);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    // GitHub fails: the analysis has gaps, so no approval; the hold waits.
    sb.fault(json!({"service": "github", "method": "POST", "path_contains": "/graphql", "status": 502, "times": 1000}));
    let out = reconcile(&sb, &p);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_ne!(sb.issue(&key)["status"], "Approved", "{}", out.stdout);
    assert_ne!(hold_status(&sb, &p), "success");
    sb.clear_faults();

    // A person declines: the bot cancels the workflow.
    sb.jira_as(crate::support::sandbox::ALICE).transition(&key, "Decline", None).unwrap();
    let out = reconcile(&sb, &p);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("cancelled workflow"), "{}", out.stdout);
    let ci = sb.circleci_as(changegate::standins::circleci::TOKEN);
    assert_eq!(ci.workflow(&p.workflow_id).unwrap().status, "canceled");
}

/// Every real Jira webhook body parses: issue created/updated events of the
/// change project name their ticket; comments, deletions and other projects
/// are ignored, never refused as malformed. Signed deliveries of each are
/// accepted with either rotation secret.
#[test]
#[ignore = "external: needs ../shared/contracts; run with cargo test -- --include-ignored"]
fn every_real_jira_webhook_body_is_understood() {
    use changegate::webhook::{Source, Work, accept, jira_work};
    let dir = shared("contracts/jira/webhooks");
    let mut n = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let event = v["webhookEvent"].as_str().unwrap_or_default().to_owned();
        let key = v["issue"]["key"].as_str().unwrap_or_default().to_owned();
        let project = key.split('-').next().unwrap_or_default().to_owned();
        let work = jira_work(&v, &project).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let expected =
            matches!(event.as_str(), "jira:issue_created" | "jira:issue_updated").then(|| Work::Ticket(key.clone()));
        assert_eq!(work, expected, "{}", path.display());
        assert_eq!(jira_work(&v, "PRODCM").unwrap(), None, "another project: {}", path.display());
        let secrets = vec!["a".to_owned(), "b".to_owned()];
        let header = format!("sha256={}", sign(&bytes, "b"));
        assert_eq!(accept(Source::Jira, Some(&header), &bytes, &secrets, &project), Ok(expected));
        n += 1;
    }
    assert!(n >= 13, "the shared corpus has at least 13 Jira webhook bodies, found {n}");
}

fn reconcile(sb: &Sandbox, p: &Pipeline) -> crate::support::Output {
    sb.bot(p, ["reconcile", "--hold-wait", "1"]).run()
}

/// An approved deploy whose workflow was cancelled in CircleCI (the close
/// job never ran) is recorded as ended, so it never stays pending.
#[test]
fn a_workflow_cancelled_outside_changegate_closes_its_ticket() {
    let sb = Sandbox::with_config(&config());
    let (_g, p) = change(&sb);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    let out = reconcile(&sb, &p);
    assert_eq!(sb.issue(&key)["status"], "Approved", "{}", out.stdout);
    sb.circleci_as(changegate::standins::circleci::TOKEN).cancel(&p.workflow_id).unwrap();
    let out = reconcile(&sb, &p);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status = sb.issue(&key)["status"].as_str().unwrap().to_owned();
    assert!(matches!(status.as_str(), "Failed" | "Cancelled"), "{status}: {}", out.stdout);
    // Again: nothing more to do.
    let out = reconcile(&sb, &p);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// A fault in any downstream call of converge — a 500, a 429 with
/// Retry-After, a timeout, or (where the answer is read) a malformed body —
/// leaves the workflow waiting: the hold is never resumed on an incomplete
/// run, no second live ticket appears, no credential is printed, and the
/// next reconcile after the fault ends finishes the job with one receipt.
#[test]
fn faults_in_downstream_calls_never_resume_a_hold() {
    // (service, method, path, whether the answer's body is read)
    let calls: &[(&str, &str, &str, bool)] = &[
        ("jira", "GET", "/rest/api/3/issue/", true),
        ("jira", "POST", "/rest/api/3/search/jql", true),
        ("jira", "PUT", "/properties/changegate.bot", false),
        // Field edits and the record's sequence label.
        ("jira", "PUT", "/rest/api/3/issue/", false),
        ("jira", "POST", "/comment", true),
        // The upload's answer is not read: a 200 means the file is there.
        ("jira", "POST", "/attachments", false),
        ("jira", "POST", "/transitions", false),
        ("circleci", "GET", "/api/v2/workflow/", true),
        ("circleci", "GET", "/api/v2/pipeline/", true),
        ("circleci", "POST", "/approve/", false),
        ("circleci", "GET", "/artifacts", true),
        ("github", "POST", "/graphql", true),
        ("github", "GET", "/compare/", true),
        ("github", "GET", "/code-scanning/", true),
    ];
    let faults = [
        ("500", json!({"status": 500})),
        ("429", json!({"status": 429, "retry_after": 1})),
        ("timeout", json!({"delay_ms": 2500})),
        ("malformed", json!({"status": 200, "body": "{\"issues\": [tru"})),
    ];
    let mut cells = 0;
    for (service, method, path, read) in calls {
        for (kind, fault) in &faults {
            if *kind == "malformed" && !read {
                continue;
            }
            let cell = format!("{service} {method} {path} {kind}");
            let sb = Sandbox::with_config(&config());
            let (_g, p) = change(&sb);
            assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
            sb.set_job(&p.workflow_id, "request_change", "success");
            let mut f = fault.clone();
            f["service"] = json!(service);
            f["method"] = json!(method);
            f["path_contains"] = json!(path);
            f["times"] = json!(1000);
            sb.fault(f);
            let out = reconcile(&sb, &p);
            sb.clear_faults();
            assert_ne!(hold_status(&sb, &p), "success", "{cell}: {}{}", out.stdout, out.stderr);
            assert!(!out.stdout.contains("resumed hold_change"), "{cell}: {}", out.stdout);
            assert!(!format!("{}{}", out.stdout, out.stderr).contains("bot-token"), "{cell}: a credential was printed");
            assert_eq!(sb.live().len(), 1, "{cell}: one live ticket");
            // Without the fault, the next reconcile finishes the job (once
            // the requests the client gave up on are answered: one landing
            // after the next run's writes would undo them).
            if *kind == "timeout" {
                std::thread::sleep(std::time::Duration::from_millis(2600));
            }
            let out = reconcile(&sb, &p);
            assert_eq!(hold_status(&sb, &p), "success", "{cell} then clear: {}{}", out.stdout, out.stderr);
            // However often the resume was tried, one receipt stands for the binding.
            let key = sb.state()["ticket"].as_str().unwrap().to_owned();
            let receipts = sb.issue(&key)["properties"]["changegate.bot"]["payload"]["receipts"].clone();
            assert_eq!(receipts.as_array().map(Vec::len), Some(1), "{cell}: {receipts}");
            cells += 1;
        }
    }
    // 14 calls x 4 faults, less the malformed answers never read.
    assert_eq!(cells, 51);
}

/// A client that trickles its request is cut off at the deadline (408)
/// while other clients are served meanwhile; a chunked body is refused, and
/// so is a head over 64 KiB.
#[test]
fn slow_clients_are_cut_off_and_do_not_block_others() {
    use std::io::{Read, Write};
    let sb = Sandbox::with_config(&config());
    let p = sb.pipeline("gh/acme/web", "main", &crate::support::sandbox::sha(1));
    let (bot, _) = start(&sb, &p);
    let addr = bot.url.trim_start_matches("http://").to_owned();
    // Several slow clients: a head never finished, a body never finished.
    let mut slow = Vec::new();
    for i in 0..8 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        if i % 2 == 0 {
            s.write_all(b"POST /webhooks/jira HTTP/1.1\r\nHost: x\r\n").unwrap();
        } else {
            s.write_all(b"POST /webhooks/jira HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"webhook").unwrap();
        }
        slow.push(s);
    }
    // Others are served at once.
    let started = Instant::now();
    assert_eq!(ureq::get(&format!("{}/healthz", bot.url)).call().unwrap().status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    // The slow ones are answered 408 at the deadline and closed.
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    }
    // Trickling a byte at a time does not extend the deadline.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    for b in b"POST /webhooks/jira HTTP/1.1\r\n".iter() {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(6), "cut off at the deadline: {:?}", started.elapsed());
    // Chunked bodies need a length.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(
        b"POST /webhooks/jira HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 411"), "{answer:?}");
    // A head over 64 KiB is refused, though it arrives whole and at once.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n", "a".repeat(66_000));
    let _ = s.write_all(head.as_bytes());
    let mut answer = String::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
}

/// Two deliveries for one ticket, the second picked up while the first is
/// being converged (its analysis comment slowed): one converge runs at a
/// time in the bot, the second delivery makes it go round once more, and
/// the ticket gets one analysis comment and one receipt.
#[test]
fn a_ticket_is_converged_by_one_worker_at_a_time() {
    let mut sb = Sandbox::with_config(&config());
    sb.env.push(("CHANGEGATE_HTTP_TIMEOUT".into(), "20".into()));
    let (_g, p) = change(&sb);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    sb.set_job(&p.workflow_id, "request_change", "success");
    sb.fault(json!({"service": "jira", "method": "POST", "path_contains": "/comment", "delay_ms": 2000, "times": 1}));
    let (bot, _) = start(&sb, &p);
    let hook = format!("{}/webhooks/jira", bot.url);
    let body = jira_event(&key);
    let signed = || Some(("X-Hub-Signature", format!("sha256={}", sign(&body, SECRET))));
    assert_eq!(post(&hook, signed(), &body).0, 202);
    let log = || -> Vec<Value> {
        ureq::get(&format!("{}/_standin/log", sb.stand_ins.url())).call().unwrap().body_mut().read_json().unwrap()
    };
    wait_for("the first converge to attach its evidence", || {
        log().iter().any(|r| r["method"] == "POST" && r["path"].as_str().unwrap_or("").ends_with("/attachments"))
    });
    assert_eq!(post(&hook, signed(), &body).0, 202, "taken while the first converge runs");
    wait_for("the hold to be resumed", || hold_status(&sb, &p) == "success");
    std::thread::sleep(Duration::from_secs(2));
    let issue = sb.issue(&key);
    let analyses = issue["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.to_string().contains("[changegate:analysis:"))
        .count();
    assert_eq!(analyses, 1, "{:#}", issue["comments"]);
    let record = &issue["properties"]["changegate.bot"]["payload"];
    assert_eq!(record["receipts"].as_array().unwrap().len(), 1, "{record}");
    assert_eq!(record["resumed"].as_array().unwrap().len(), 1, "{record}");
}

/// With a plan hold (`[lock.plan_holds]`), the bot opens the change hold
/// only when every job after it waits for the plan hold, except the jobs
/// that make the plan: a deploy job beside the plan would run on the
/// change's approval alone.
#[test]
fn a_change_hold_opens_only_where_every_deploy_job_waits_for_the_plan_hold() {
    let gated = json!([
        {"name": "build", "type": "build"},
        {"name": "request_change", "type": "build", "requires": ["build"], "status": "running"},
        {"name": "hold_change", "type": "approval", "requires": ["request_change"]},
        {"name": "plan", "type": "build", "requires": ["hold_change"], "status": "blocked"},
        {"name": "hold_plan_review", "type": "approval", "requires": ["plan"]},
        {"name": "apply", "type": "build", "requires": ["hold_plan_review"], "status": "blocked"}
    ]);
    let mut beside = gated.clone();
    beside
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "apply_now", "type": "build", "requires": ["hold_change"], "status": "blocked"}));
    let mut plan_hold_as_change_hold = gated.clone();
    plan_hold_as_change_hold.as_array_mut().unwrap().truncate(3);
    for (jobs, resumed, why) in [
        (gated, true, ""),
        (beside, false, "apply_now runs after hold_change without waiting for the plan hold hold_plan_review"),
        (plan_hold_as_change_hold, false, "has no plan hold"),
    ] {
        let sb = Sandbox::with_config(&format!(
            "{}[lock.holds]\nproduction = [\"hold_change\"]\n[lock.plan_holds]\nproduction = \"hold_plan_review\"\n",
            config()
        ));
        let g = Git::new();
        let base = g.head();
        let f = g.feature("f1", "alice", 1);
        let m = g.merge("f1", "Merge pull request #1 from acme/f1");
        register(
            &sb,
            &g.path,
            vec![Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m)).approved_by("bob", 11)],
        );
        deployed(&sb, &base);
        let p = sb.pipeline_with_jobs("gh/acme/web", "main", &m, jobs);
        sb.add_trivy(&p);
        assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
        sb.set_job(&p.workflow_id, "request_change", "success");
        let out = reconcile(&sb, &p);
        let text = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(hold_status(&sb, &p) == "success", resumed, "{text}");
        assert!(text.contains(why), "want {why:?}: {text}");
    }
}
