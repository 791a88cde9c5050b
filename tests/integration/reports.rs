//! The report files the orb stores: JUnit XML for CircleCI's Tests tab,
//! read back with a maintained JUnit reader (PyPI's junitparser), and the
//! self-contained HTML and markdown reports.

use serde_json::{Value, json};

use crate::support::sandbox::{ALICE, Pipeline, Sandbox, sha};
use crate::support::{Run, check_html, junit_counts, read_junit, repo};

/// A plan whose addresses carry markup and quotes.
fn hostile_plan() -> String {
    json!({"format_version": "1.2", "terraform_version": "1.9.8", "planned_values": {}, "resource_changes": [
        {"address": "aws_iam_role.r[\"<script>alert('x')</script>\"]", "mode": "managed", "type": "aws_iam_role",
         "name": "r", "index": "<script>alert('x')</script>", "change": {"actions": ["update"], "before": {}, "after": {}}},
        {"address": "aws_s3_bucket.a&b", "mode": "managed", "type": "aws_s3_bucket", "name": "a",
         "change": {"actions": ["create"], "after": {}}},
        {"address": "aws_instance.same", "mode": "managed", "type": "aws_instance", "name": "same",
         "change": {"actions": ["no-op"]}}
    ]})
    .to_string()
}

fn case<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no case {name}: {v}"))
}

#[test]
#[ignore = "external: needs Python's junitparser; run with cargo test -- --include-ignored"]
fn plan_check_junit_has_a_case_per_change_judged_and_a_failure_per_risky_one() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("reports/junit/plan.xml");
    let out = Run::new(["plan-check", repo().join("examples/plan.json").to_str().unwrap(), "--junit"])
        .env("CHANGEGATE_NO_BOT", "")
        .run();
    assert_eq!(out.code, 2, "--junit needs a file: {}", out.stderr);

    let out = Run::new([
        "plan-check",
        repo().join("examples/plan.json").to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
        "--stack",
        "network",
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = read_junit(&xml);
    // Seven managed changes (the read and the no-op are not judged), four risky.
    assert_eq!(junit_counts(&v), (7, 4, 0), "{v}");
    let role = case(&v, "aws_iam_role.deploy");
    assert_eq!(role["classname"], "plan.network");
    let failure = &role["results"][0];
    assert_eq!(failure["tag"], "failure");
    assert_eq!(failure["type"], "iam,trust_policy");
    assert!(failure["message"].as_str().unwrap().contains("needs review: iam, trust_policy"), "{failure}");
    assert!(failure["text"].as_str().unwrap().contains("trust changed"), "{failure}");
    assert_eq!(case(&v, "aws_sqs_queue.jobs")["results"], json!([]));
    assert!(v["suites"][0].as_str().unwrap().contains("RISKY: 4 resource changes need review"), "{v}");

    // Values with markup come back exactly as they were.
    let (_d, plan) = crate::support::temp_file("plan.json", hostile_plan());
    let out = Run::new(["plan-check", plan.to_str().unwrap(), "--junit", xml.to_str().unwrap()]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = read_junit(&xml);
    assert_eq!(junit_counts(&v), (2, 1, 0), "{v}");
    case(&v, "aws_iam_role.r[\"<script>alert('x')</script>\"]");
    assert_eq!(case(&v, "aws_s3_bucket.a&b")["results"], json!([]));
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(!text.contains("<script"), "{text}");
}

#[test]
#[ignore = "external: needs Python's junitparser; run with cargo test -- --include-ignored"]
fn a_plan_that_cannot_be_judged_leaves_an_error_case() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("plan.xml");
    let out = Run::new(["plan-check", "-", "--junit", xml.to_str().unwrap()]).stdin("Error: Failed to load plan").run();
    assert_eq!(out.code, 2);
    let v = read_junit(&xml);
    assert_eq!(junit_counts(&v), (1, 0, 1), "{v}");
    let error = &v["cases"][0]["results"][0];
    assert_eq!(error["type"], "undecided");
    assert!(error["message"].as_str().unwrap().contains("not valid JSON"), "{error}");

    // A safe plan: every case passes.
    let safe = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
        {"address": "aws_sqs_queue.q", "mode": "managed", "type": "aws_sqs_queue", "name": "q",
         "change": {"actions": ["create"], "after": {}}}]});
    let out = Run::new(["plan-check", "-", "--junit", xml.to_str().unwrap()]).stdin(safe.to_string()).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(junit_counts(&read_junit(&xml)), (1, 0, 0));
}

/// Runs a changegate command as a job of pipeline `p`.
fn job(sb: &Sandbox, p: &Pipeline, args: &[&str]) -> crate::support::Output {
    sb.job(p, args).run()
}

#[test]
#[ignore = "external: needs Python's junitparser; run with cargo test -- --include-ignored"]
fn validate_junit_has_a_case_per_condition_and_fails_the_ones_that_do_not_hold() {
    let sb = Sandbox::without_bot(changegate::standins::SITE_CONFIG);
    let p = sb.pipeline("gh/acme/web", "main", &sha(1));
    let out = sb.request(&p, &["--justification", "Ship it", "--rollback-plan", "Redeploy"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let xml = sb.path().join("reports/validate/junit.xml");
    let args = ["validate", "--environment", "production", "--junit", "reports/validate/junit.xml"];

    // Not approved yet: the approval condition fails, the others hold.
    let out = job(&sb, &p, &args);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v = read_junit(&xml);
    let names: Vec<&str> = v["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["record", "binding", "required_fields", "bot_record", "approval", "change_window"], "{v}");
    assert_eq!(junit_counts(&v), (6, 1, 0), "{v}");
    let approval = &case(&v, "approval")["results"][0];
    assert_eq!(approval["type"], "not_approved");
    assert!(v["suites"][0].as_str().unwrap().contains("PRODCM-1"), "{v}");

    // Approved: every condition holds.
    sb.jira_as(ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let out = job(&sb, &p, &args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(junit_counts(&read_junit(&xml)), (6, 0, 0));

    // Another pipeline with this state file: the binding fails, naming
    // each field in one case.
    let other = sb.pipeline("gh/acme/web", "main", &sha(2));
    let out = job(&sb, &other, &args);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v = read_junit(&xml);
    assert_eq!(junit_counts(&v).1, 1, "{v}");
    assert_eq!(case(&v, "binding")["results"][0]["type"], "binding_mismatch");

    // Jira unreachable: could not decide, and the file says so.
    let out = sb.job(&p, args).env("JIRA_BASE_URL", "http://127.0.0.1:9").run();
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let v = read_junit(&xml);
    assert_eq!(junit_counts(&v), (1, 0, 1), "{v}");
    assert!(!std::fs::read_to_string(&xml).unwrap().contains("ci-token"), "no secret in the report");
}

#[test]
#[ignore = "external: needs Python's junitparser; run with cargo test -- --include-ignored"]
fn plan_check_with_a_ticket_writes_its_junit_and_fails_without_a_ticket() {
    let sb = Sandbox::without_bot(changegate::standins::SITE_CONFIG);
    let p = sb.pipeline("gh/acme/web", "main", &sha(1));
    let plan = repo().join("examples/plan.json");
    let plan = plan.to_str().unwrap();
    // No ticket bound to this pipeline: the plan is judged, and the plan
    // cannot be recorded, which is an error (exit 2), never a pass.
    let out = job(&sb, &p, &["plan-check", plan, "--state", "changegate.json", "--junit", "plan.xml"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let v = read_junit(&sb.path().join("plan.xml"));
    assert_eq!(junit_counts(&v), (8, 4, 1), "{v}");
    let undecided = case(&v, "could not decide");
    assert_eq!(undecided["results"][0]["type"], "undecided");
    assert!(undecided["results"][0]["text"].as_str().unwrap().contains("no change ticket is bound"), "{v}");

    let out = sb.request(&p, &["--justification", "Ship it", "--rollback-plan", "Redeploy"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = job(&sb, &p, &["plan-check", plan, "--state", "changegate.json", "--junit", "plan.xml"]);
    assert_eq!(out.code, 1, "recorded and escalated: a person decides: {}{}", out.stdout, out.stderr);
    assert_eq!(junit_counts(&read_junit(&sb.path().join("plan.xml"))), (7, 4, 0));
}

#[test]
#[ignore = "external: needs Python's junitparser; run with cargo test -- --include-ignored"]
fn analyze_and_decide_junit_have_a_case_per_landing_per_required_scanner_and_the_policy() {
    let cfg = crate::analyze::config("required = [\"Trivy\", \"Semgrep\"]\n[approval]\nauto_approve = true\n");
    let (sb, _g, p) = crate::analyze::setup(&cfg, |g| {
        g.write("hotfix.txt", "x\n");
        g.commit("dana", "hotfix <b>straight</b> to main");
        Vec::new()
    });
    let k = crate::analyze::key(&sb);
    let out = sb.bot(&p, ["analyze", &k, "-o", "e.json", "--junit", "out/analyze.xml"]).run();
    assert_eq!(out.code, 1, "a person must decide: {}{}", out.stdout, out.stderr);
    let v = read_junit(&sb.path().join("out/analyze.xml"));
    // Two landings (the reviewed merge, the hotfix), two required scanners, the policy.
    assert_eq!(junit_counts(&v), (5, 3, 0), "{v}");
    let classes: Vec<&str> = v["cases"].as_array().unwrap().iter().map(|c| c["classname"].as_str().unwrap()).collect();
    assert_eq!(classes, ["review", "review", "scan", "scan", "policy"]);
    let hotfix =
        v["cases"].as_array().unwrap().iter().find(|c| c["name"].as_str().unwrap().contains("hotfix")).unwrap();
    assert!(hotfix["name"].as_str().unwrap().ends_with("hotfix <b>straight</b> to main"), "{hotfix}");
    assert_eq!(hotfix["results"][0]["type"], "no_pull_request", "{hotfix}");
    assert_eq!(case(&v, "required Trivy")["results"], json!([]));
    assert_eq!(case(&v, "required Semgrep")["results"][0]["type"], "scan_missing");
    let policy = &case(&v, "approval policy")["results"][0];
    assert_eq!(policy["type"], "review_failed,scan_failed", "{policy}");

    // The stored record re-decides to the same cases, offline.
    let out = Run::new(["decide", "e.json", "--junit", "decide.xml"]).cwd(sb.path()).run();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let d = read_junit(&sb.path().join("decide.xml"));
    assert_eq!(d["cases"], v["cases"]);

    // An unreadable record: could not decide.
    std::fs::write(sb.path().join("bad.json"), "{").unwrap();
    let out = Run::new(["decide", "bad.json", "--junit", "decide.xml"]).cwd(sb.path()).run();
    assert_eq!(out.code, 2);
    assert_eq!(junit_counts(&read_junit(&sb.path().join("decide.xml"))), (1, 0, 1));
}

/// The monthly inspection: `audit --post` finds or creates the period's
/// inspection ticket (one per period, race-safely), posts each inspection
/// once, and writes its JUnit and markdown reports.
#[test]
#[ignore = "external: needs Python's junitparser; run with cargo test -- --include-ignored"]
fn audit_posts_on_the_periods_inspection_ticket_once_and_writes_its_reports() {
    let (sb, _g, p) = crate::analyze::setup(&crate::analyze::config(""), |_| Vec::new());
    let audit = |seed: &str| {
        sb.bot(
            &p,
            [
                "audit",
                "--since",
                "previous-month",
                "--sample",
                "3",
                "--seed",
                seed,
                "--post",
                "--period",
                "2026-11",
                "--junit",
                "audit/junit/audit.xml",
                "--markdown-out",
                "audit/report.md",
            ],
        )
        // The scheduled job runs with the CI context: the CI Jira user.
        .env("JIRA_USER_EMAIL", crate::support::sandbox::CI.0)
        .env("JIRA_API_TOKEN", crate::support::sandbox::CI.1)
        .run()
    };
    let inspections = || -> Vec<Value> {
        sb.issues()
            .into_iter()
            .filter(|i| i["fields"]["labels"].to_string().contains("changegate-audit-2026-11"))
            .collect()
    };
    let comments = |k: &str| sb.issue(k)["comments"].as_array().unwrap().len();

    // Two runs that cannot see each other's ticket make two.
    sb.set_search_lag(1000);
    assert_eq!(audit("1").code, 0);
    assert_eq!(audit("2").code, 0);
    let made = inspections();
    assert_eq!(made.len(), 2, "{made:#?}");
    // The next run keeps the lowest, cancels the other, and posts there.
    sb.set_search_lag(0);
    let out = audit("3");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let (first, second) = (made[0]["key"].as_str().unwrap(), made[1]["key"].as_str().unwrap());
    assert_eq!(sb.issue(second)["status"], "Cancelled");
    assert_ne!(sb.issue(first)["status"], "Cancelled");
    assert!(out.stdout.contains(&format!("Posted on {first}.")), "{}", out.stdout);
    let labels = sb.issue(first)["fields"]["labels"].clone();
    assert!(!labels.as_array().unwrap().contains(&json!("changegate")), "never taken for a change ticket: {labels}");
    // The same inspection again posts nothing new; another seed does.
    let before = comments(first);
    assert_eq!(audit("3").code, 0);
    assert_eq!(comments(first), before);
    let out = audit("4");
    assert_eq!(out.code, 0);
    assert_eq!(comments(first), before + 1);

    // The reports: nothing auto-approved in the window, nothing past the lock.
    let v = read_junit(&sb.path().join("audit/junit/audit.xml"));
    assert_eq!(junit_counts(&v), (1, 0, 0), "{v}");
    assert_eq!(v["cases"][0]["name"], "nothing got past the lock");
    let md = std::fs::read_to_string(sb.path().join("audit/report.md")).unwrap();
    assert!(md.starts_with("### changegate audit of auto-approvals since "), "{md}");
    assert_eq!(md, out.stdout, "the file is the report printed");

    // A period that is not a label is refused before anything is written.
    let out = sb.bot(&p, ["audit", "--since", "2026-11-01", "--sample", "1", "--post", "--period", "nov 2026"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--period"), "{}", out.stderr);
}

#[test]
#[ignore = "external: needs Python (html.parser); run with cargo test -- --include-ignored"]
fn plan_check_writes_a_self_contained_html_report_and_the_markdown_one() {
    let (dir, plan) = crate::support::temp_file("plan.json", hostile_plan());
    let html = dir.path().join("out/plan.html");
    let md = dir.path().join("out/plan.md");
    let out = Run::new([
        "plan-check",
        plan.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--markdown-out",
        md.to_str().unwrap(),
        "--format",
        "markdown",
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = check_html(&html);
    let text = v["text"].as_str().unwrap();
    // The address with markup is shown as text, exactly.
    assert!(text.contains("aws_iam_role.r[\"<script>alert('x')</script>\"]"), "{text}");
    assert!(text.contains("RISKY: 1 resource change needs review"), "{text}");
    assert_eq!(v["hrefs"], json!([]), "no ticket, no link");
    assert!(v["tags"].as_array().unwrap().contains(&json!("table")));
    assert_eq!(std::fs::read_to_string(&md).unwrap(), out.stdout, "the markdown file is the markdown report");

    // The shipped example: every finding is a row of the table.
    let out =
        Run::new(["plan-check", repo().join("examples/plan.json").to_str().unwrap(), "--html", html.to_str().unwrap()])
            .run();
    assert_eq!(out.code, 1);
    let text = check_html(&html)["text"].as_str().unwrap().to_owned();
    for address in [
        "aws_s3_bucket_policy.assets",
        "aws_iam_role.deploy",
        "aws_security_group_rule.https_in",
        "aws_instance.worker[0]",
    ] {
        assert!(text.contains(address), "{address}: {text}");
    }
}

#[test]
#[ignore = "external: needs Python (html.parser); run with cargo test -- --include-ignored"]
fn a_recorded_plan_and_an_analysis_link_their_ticket_in_html() {
    let sb = Sandbox::without_bot(changegate::standins::SITE_CONFIG);
    let p = sb.pipeline("gh/acme/web", "main", &sha(1));
    assert_eq!(sb.request(&p, &["--justification", "Ship it", "--rollback-plan", "Redeploy"]).code, 0);
    let plan = repo().join("examples/plan.json");
    let out =
        job(&sb, &p, &["plan-check", plan.to_str().unwrap(), "--state", "changegate.json", "--html", "r/plan.html"]);
    assert_eq!(out.code, 1, "the risky example plan goes to a person: {}{}", out.stdout, out.stderr);
    let v = check_html(&sb.path().join("r/plan.html"));
    let url = format!("{}/browse/PRODCM-1", sb.stand_ins.url().trim_end_matches('/'));
    assert_eq!(v["hrefs"], json!([url]));
    assert!(v["text"].as_str().unwrap().contains("Recorded on the change ticket"), "{v}");
}

#[test]
#[ignore = "external: needs Python (html.parser); run with cargo test -- --include-ignored"]
fn analyze_and_decide_write_self_contained_html_reports() {
    let cfg = crate::analyze::config("required = [\"Trivy\"]\n");
    let (sb, _g, p) = crate::analyze::setup(&cfg, |g| {
        g.write("hotfix.txt", "x\n");
        g.commit("dana", "hotfix <script>alert(1)</script>");
        Vec::new()
    });
    let k = crate::analyze::key(&sb);
    let out = sb
        .bot(&p, ["analyze", &k, "-o", "e.json", "--html", "r/analysis.html", "--markdown-out", "r/analysis.md"])
        .run();
    assert_eq!(out.code, 1, "a person must decide: {}{}", out.stdout, out.stderr);
    let v = check_html(&sb.path().join("r/analysis.html"));
    let text = v["text"].as_str().unwrap();
    assert!(text.contains("hotfix <script>alert(1)</script>"), "{text}");
    assert!(text.contains("a person must review and approve"), "{text}");
    assert!(text.contains("Trivy"), "{text}");
    let url = format!("{}/browse/{k}", sb.stand_ins.url().trim_end_matches('/'));
    assert_eq!(v["hrefs"], json!([url]));
    let md = std::fs::read_to_string(sb.path().join("r/analysis.md")).unwrap();
    assert!(md.starts_with(&format!("### changegate analysis of {k}")), "{md}");

    // Offline, the ticket is linked only when the Jira site is known.
    let out = Run::new(["decide", "e.json", "--html", "d.html"]).cwd(sb.path()).run();
    assert_eq!(out.code, 1);
    assert_eq!(check_html(&sb.path().join("d.html"))["hrefs"], json!([]));
    let out = Run::new(["decide", "e.json", "--html", "d.html"])
        .cwd(sb.path())
        .env("JIRA_BASE_URL", &sb.stand_ins.url())
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(check_html(&sb.path().join("d.html"))["hrefs"], json!([url]));
}
