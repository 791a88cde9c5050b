//! Contract tests against what Atlassian and CircleCI publish: every request
//! our clients send must pass Stoplight Prism serving the official OpenAPI
//! descriptions (`../shared/contracts`), and the stand-ins' answers must
//! pass it too (`prism proxy --errors` validates both directions). Every ADF
//! document we send is validated against Atlassian's ADF schema.
//!
//! Prism needs Node.js and npm (it is installed on first use by the shared
//! `start-prism.sh`); a missing tool fails these tests, it never skips them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use changegate::Doc;
use changegate::standins::github::Pull;
use changegate::{Body, RetryPolicy, Secret};
use changegate::{CircleCi, CircleCiSettings};
use changegate::{GitHub, GitHubSettings};
use changegate::{Jira, JiraSettings};
use serde_json::{Map, Value, json};

use crate::support::sandbox::{ALICE, Sandbox, sha};
use crate::support::{free_port, shared};

/// A running Prism; killed when dropped.
struct Prism {
    child: Option<Child>,
    pid: Option<u32>,
    url: String,
    log: PathBuf,
}

impl Drop for Prism {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(pid) = self.pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The official description of `api` trimmed to the operations changegate
/// uses (`tests/contracts/{api}-operations.txt`), made at test time by the
/// shared `prepare_spec.py` (the shared files are read-only).
fn trimmed_spec(api: &str, file: &str) -> PathBuf {
    let out = tempfile::tempdir().unwrap().keep();
    let ops = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/contracts/{api}-operations.txt"));
    let status = Command::new("python3")
        .arg(shared("contracts").join("prepare_spec.py"))
        .args([api, "--ops"])
        .arg(&ops)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("python3 runs prepare_spec.py");
    assert!(status.success(), "prepare_spec.py could not trim the {api} description");
    out.join(file)
}

/// The official GitHub description trimmed to what changegate uses.
fn github_spec() -> PathBuf {
    let path = trimmed_spec("github", "api.github.com.prism.json");
    // Prism validates an `application/sarif+json` answer against the first
    // JSON-like media type of the response (`application/json`, the analysis
    // object). changegate asks this operation only for SARIF: keep that media
    // type alone so the SARIF schema is the one checked (a Prism limitation,
    // not a change of the contract).
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let content = &mut spec["paths"]["/repos/{owner}/{repo}/code-scanning/analyses/{analysis_id}"]["get"]["responses"]
        ["200"]["content"];
    let sarif = content["application/sarif+json"].take();
    assert!(sarif.is_object(), "the description declares the SARIF answer");
    *content = json!({ "application/sarif+json": sarif });
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
    path
}

/// The official CircleCI description trimmed to what changegate uses.
fn circleci_spec() -> PathBuf {
    let path = trimmed_spec("circleci", "circleci-v2.prism.json");
    // `POST /context`'s `owner` is a oneOf of `{id, type}` and `{slug,
    // type}` (the description's own code samples send `{id, type}`), but
    // the property also says `additionalProperties: false` beside the
    // oneOf, without properties of its own, which forbids every property
    // of either alternative: no request could pass. Drop that one keyword
    // so the alternatives are what is checked (a defect of the
    // description, not a change of the contract).
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let owner = &mut spec["components"]["schemas"]["context_created"]["properties"]["owner"];
    let owner = owner.as_object_mut().expect("the description declares the context's owner");
    assert_eq!(owner.remove("additionalProperties"), Some(json!(false)), "the defect is still there");
    assert!(owner.contains_key("oneOf"));
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
    path
}

fn prism_bin() -> PathBuf {
    let dir = std::env::var_os("PRISM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/contracts-prism"));
    dir.join("node_modules/.bin/prism")
}

impl Prism {
    /// `start-prism.sh API PORT`: a validating mock of the official spec.
    fn mock(api: &str) -> Prism {
        let port = free_port();
        let log_dir = tempfile::tempdir().unwrap().keep();
        let mut cmd = Command::new("bash");
        cmd.arg(shared("contracts").join("start-prism.sh"))
            .args([api, &port.to_string()])
            .env("PRISM_LOG_DIR", &log_dir);
        match api {
            "github" => cmd.env("PRISM_SPEC", github_spec()),
            "jira" => cmd.env("PRISM_SPEC", trimmed_spec("jira", "jira-platform-v3.prism.json")),
            _ => cmd.env("PRISM_SPEC", circleci_spec()),
        };
        let out = cmd.output().expect("bash runs start-prism.sh");
        assert!(
            out.status.success(),
            "Prism could not start (it needs node and npm): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        let mut parts = line.split_whitespace();
        let pid: u32 = parts.next().unwrap().parse().unwrap();
        let url = parts.next().unwrap().to_owned();
        Prism { child: None, pid: Some(pid), url, log: log_dir.join(format!("prism-{api}.log")) }
    }

    /// `prism proxy SPEC UPSTREAM --errors`: validates requests and answers.
    fn proxy(api: &str, upstream: &str) -> Prism {
        // Installs Prism if needed (and checks it starts) through the mock.
        drop(Prism::mock(api));
        let spec = match api {
            "jira" => trimmed_spec("jira", "jira-platform-v3.prism.json"),
            "circleci" => circleci_spec(),
            _ => github_spec(),
        };
        let port = free_port();
        let log = tempfile::tempdir().unwrap().keep().join("prism-proxy.log");
        let child = Command::new(prism_bin())
            .args(["proxy", "-h", "127.0.0.1", "-p", &port.to_string(), "--errors"])
            .arg(spec)
            .arg(upstream)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("prism runs");
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while ureq::get(&format!("{url}/__ready"))
            .call()
            .is_err_and(|e| matches!(e, ureq::Error::ConnectionFailed | ureq::Error::Io(_)))
        {
            assert!(start.elapsed() < Duration::from_secs(60), "prism proxy did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        Prism { child: Some(child), pid: None, url, log }
    }

    /// Requests the proxy logged.
    fn requests(&self) -> usize {
        std::fs::read_to_string(&self.log).map_or(0, |t| t.lines().filter(|l| l.contains("Request received")).count())
    }

    /// Lines of the Prism log that report a contract violation.
    fn violations(&self) -> Vec<String> {
        let Ok(f) = std::fs::File::open(&self.log) else { return Vec::new() };
        BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("Violation") || l.contains("violation") && !l.contains("0 violation"))
            .collect()
    }
}

fn jira(url: &str, (email, token): (&str, &str)) -> Jira {
    let s = JiraSettings { base_url: url.into(), email: email.into(), token: Secret::new(token) };
    Jira::new(&s, None, RetryPolicy { attempts: 1, ..RetryPolicy::default() }).unwrap()
}

/// Every Jira operation changegate uses, sent to a validating mock of the
/// official Jira Cloud v3 description: each request must be accepted.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn jira_client_requests_pass_the_official_description() {
    let prism = Prism::mock("jira");
    let j = jira(&prism.url, ("ci@acme.test", "ci-token"));
    j.search("project = \"PRODCM\" AND labels = \"changegate\"", &["status", "labels"], &["changegate"], &[10001])
        .unwrap();
    j.issue("PRODCM-1", &["status", "labels"], &["changegate"]).unwrap();
    let mut fields = Map::new();
    fields.insert("project".into(), json!({"key": "PRODCM"}));
    fields.insert("issuetype".into(), json!({"name": "Change"}));
    fields.insert("summary".into(), json!("Deploy"));
    fields.insert("description".into(), Doc::new().text("x").build());
    fields.insert("labels".into(), json!(["changegate"]));
    fields.insert("duedate".into(), json!("2026-11-28"));
    j.create(fields.clone(), &[("changegate", json!({"schema_version": 1}))]).unwrap();
    j.edit("PRODCM-1", fields).unwrap();
    j.comment("PRODCM-1", Doc::new().text("hello").build()).unwrap();
    j.comments("PRODCM-1").unwrap();
    let offered = j.transitions("PRODCM-1").unwrap();
    assert!(!offered.is_empty(), "the spec's example offers transitions");
    let mut resolution = Map::new();
    resolution.insert("resolution".into(), json!({"name": "Done"}));
    j.transition("PRODCM-1", &offered[0].name, Some(resolution)).unwrap();
    j.set_property("PRODCM-1", "changegate", &json!({"schema_version": 1})).unwrap();
    j.property("PRODCM-1", "changegate").unwrap();
    j.changelog("PRODCM-1").unwrap();
    j.remote_link("PRODCM-1", "changegate:x", "https://example.com", "link").unwrap();
    // Atlassian's description models the multipart body of an attachment as
    // a JSON array, which no multipart form can satisfy: that must be the
    // only complaint (the form itself is checked in the client's unit test).
    let e = j.attach("PRODCM-1", "evidence.json", "application/json", b"{}").unwrap_err().to_string();
    assert!(e.ends_with("returned HTTP 422: body: Request body must be array"), "only that complaint: {e}");
    j.myself().unwrap();
    // Accepted; the mock answers with the description's example, a single
    // group where its schema says an array (the proxied emergency test checks
    // a schema-true answer): only that decoding complaint is allowed.
    j.link_issues("Relates", "PRODCM-2", "PRODCM-1").unwrap();
    let e = j.user_groups("712020:carol").unwrap_err().to_string();
    assert!(e.contains("invalid type: map, expected a sequence"), "only the example's shape: {e}");
    j.fields().unwrap();
    j.create_issue_types("PRODCM").unwrap();
    j.create_fields("PRODCM", "10001").unwrap();
    j.project_statuses("PRODCM").unwrap();
}

/// The mock really validates: a request the description forbids is refused.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn the_jira_mock_refuses_an_invalid_request() {
    let prism = Prism::mock("jira");
    let http = changegate::Http::new(
        "Jira",
        "JIRA_BASE_URL",
        &prism.url,
        changegate::Auth::None,
        None,
        RetryPolicy { attempts: 1, ..RetryPolicy::default() },
    )
    .unwrap();
    let bad = serde_json::to_vec(&json!({"jql": "project = X", "maxResults": "fifty"})).unwrap();
    let r = http.send(ureq::http::Method::POST, "/rest/api/3/search/jql", &[], &Body::Json(bad)).unwrap();
    assert!((400..500).contains(&r.status), "status {}", r.status);
    let none = http.send(ureq::http::Method::GET, "/rest/api/3/search", &[], &Body::Empty).unwrap();
    assert_eq!(none.status, 404, "the removed /rest/api/3/search is not in the description");
}

/// Every CircleCI operation changegate uses, against the official v2
/// description.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn circleci_client_requests_pass_the_official_description() {
    let prism = Prism::mock("circleci");
    let s = CircleCiSettings { api_url: format!("{}/api/v2", prism.url), token: Secret::new("circle-token") };
    let c = CircleCi::new(&s, None, RetryPolicy { attempts: 1, ..RetryPolicy::default() }).unwrap();
    let id = "5034460f-c7c4-4c43-9457-de07e2029e7b";
    c.workflow(id).unwrap();
    c.workflow_jobs(id).unwrap();
    c.pipeline(id).unwrap();
    c.pipeline_workflows(id).unwrap();
    let job = c.job("gh/acme/web", 123).unwrap();
    assert!(!job.name.is_empty());
    c.artifacts("gh/acme/web", 123).unwrap();
    c.approve(id, "8b6b7b3c-2f0e-4f5e-9b0a-5d1c3e2f1a00").unwrap();
    c.cancel(id).unwrap();
}

fn github(url: &str) -> GitHub {
    let s =
        GitHubSettings { api_url: url.into(), graphql_url: None, token: Secret::new("ghp_contract"), git_url: None };
    GitHub::new(&s, None, RetryPolicy { attempts: 1, ..RetryPolicy::default() }).unwrap()
}

/// Every GitHub REST operation changegate uses, against the official
/// description (GraphQL queries are validated against the schema instead,
/// in the `github` tests).
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn github_client_requests_pass_the_official_description() {
    let prism = Prism::mock("github");
    let gh = github(&prism.url);
    let (base, head) = (sha(1), sha(2));
    let c = gh.compare("acme", "web", &base, &head).unwrap();
    assert!(!c.status.is_empty());
    gh.commit_files("acme", "web", &head).unwrap();
    gh.analyses_of_commit("acme", "web", "refs/heads/main", &head).unwrap();
    gh.analysis_sarif("acme", "web", 41).unwrap();
    assert_eq!(gh.requests(), 4);
}

/// The mock really validates GitHub requests: a bad query is refused.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn the_github_mock_refuses_an_invalid_request() {
    let prism = Prism::mock("github");
    let http = changegate::Http::new(
        "GitHub",
        "GITHUB_API_URL",
        &prism.url,
        changegate::Auth::None,
        None,
        RetryPolicy { attempts: 1, ..RetryPolicy::default() },
    )
    .unwrap();
    let path = "/repos/acme/web/code-scanning/analyses";
    let bad = http.send(ureq::http::Method::GET, path, &[("direction", "sideways".into())], &Body::Empty).unwrap();
    assert!((400..500).contains(&bad.status), "status {}", bad.status);
}

/// Evidence collection through `prism proxy --errors` in front of the
/// stand-ins, for Jira, CircleCI and GitHub REST, both directions.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn collect_passes_the_official_descriptions_both_ways() {
    use crate::collect::{Git, REPO, analysis, deployed, register};
    let config = format!("{}\n[scan]\njobs = [\"build\"]\n", changegate::standins::SITE_CONFIG);
    let sb = Sandbox::with_config(&config);
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f", "alice", 2);
    let m = g.merge("f", "Merge pull request #1");
    g.write("hotfix.txt", "x\n");
    let head = g.commit("dana", "direct");
    register(
        &sb,
        &g.path,
        vec![Pull::merged(1, "alice", &f[1], &f, &m, std::slice::from_ref(&m)).approved_by("bob", 1)],
    );
    sb.stand_ins.with_github(|gh| {
        let r = gh.repo_mut(REPO);
        r.analyses = vec![analysis(9, &head, "CodeQL")];
        r.analysis_sarif
            .insert(9, json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}}, "results": []}]}));
    });
    deployed(&sb, &base);
    let p = crate::collect::pipeline(&sb, &head);
    sb.stand_ins
        .with_circleci(|c| {
            c.add_artifact(
                &json!({"workflow_id": p.workflow_id, "job": "build", "path": "scan.sarif", "content": {"runs": []}}),
            )
        })
        .unwrap();
    assert_eq!(sb.request(&p, &[]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();

    let jira_proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let ci_proxy = Prism::proxy("circleci", &sb.stand_ins.url());
    let gh_proxy = Prism::proxy("github", &sb.stand_ins.url());
    let run = sb.job(&p, ["collect", &key, "-o", "evidence.json"]);
    let out = run
        .env("JIRA_BASE_URL", &jira_proxy.url)
        .env("CIRCLECI_API_URL", &format!("{}/api/v2", ci_proxy.url))
        .env("GITHUB_API_URL", &gh_proxy.url)
        .env("GITHUB_GRAPHQL_URL", &format!("{}/graphql", sb.stand_ins.url()))
        .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let e: Value = serde_json::from_str(&std::fs::read_to_string(sb.path().join("evidence.json")).unwrap()).unwrap();
    assert_eq!(e["range"]["landings"].as_array().unwrap().len(), 2, "{e:#}");
    assert!(e["landing_files"][&head]["files"].as_array().is_some_and(|f| !f.is_empty()));
    assert_eq!(e["scans"]["code_scanning"][0]["id"], 9);
    assert_eq!(e["scans"]["code_scanning_status"], "read");
    // The artifact is served by another host over plain HTTP: the token is
    // not sent there, and the artifact is a gap.
    let gaps = e["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0]["why"].as_str().unwrap().contains("refusing to send credentials"), "{gaps:?}");
    for proxy in [&jira_proxy, &ci_proxy, &gh_proxy] {
        let v = proxy.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

/// A forwarder: requests for attachments go to `attachments`, the rest to
/// `rest`. Atlassian's description models the multipart attachment body as a
/// JSON array, which no multipart form satisfies, so Prism refuses every
/// upload (`the_jira_mock_refuses_...` pins that); the form itself is checked
/// by the client's unit test and the stand-in.
fn split_attachments(attachments: &str, rest: &str) -> String {
    split("/attachments", attachments, rest)
}

/// A forwarder in front of the CircleCI proxy: artifact downloads go to the
/// stand-in, as CircleCI serves them from a host outside its API (the
/// stand-in is told to hand out artifact URLs at the forwarder).
fn split_artifacts(sb: &Sandbox, proxy: &Prism) -> String {
    let url = split("/circleci-artifacts/", &sb.stand_ins.url(), &proxy.url);
    sb.stand_ins.with_circleci(|c| c.set_artifact_origin(&url));
    url
}

/// A forwarder: requests whose path contains `matching` go to `around`, the
/// rest to `rest`.
fn split(matching: &str, around: &str, rest: &str) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let (matching, around, rest) = (matching.to_owned(), around.to_owned(), rest.to_owned());
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        for mut req in server.incoming_requests() {
            let target = if req.url().contains(&matching) { &around } else { &rest };
            let mut body = Vec::new();
            req.as_reader().read_to_end(&mut body).unwrap();
            let mut b =
                ureq::http::Request::builder().method(req.method().as_str()).uri(format!("{target}{}", req.url()));
            for h in req.headers() {
                let k = h.field.as_str().as_str();
                if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
                    b = b.header(k, h.value.as_str());
                }
            }
            let mut resp = agent.run(b.body(body).unwrap()).unwrap();
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned();
            let bytes = resp.body_mut().read_to_vec().unwrap_or_default();
            let header = tiny_http::Header::from_bytes("Content-Type", ct).unwrap();
            let _ = req.respond(tiny_http::Response::from_data(bytes).with_status_code(status).with_header(header));
        }
    });
    url
}

/// `analyze --approve` through `prism proxy --errors` in front of the
/// stand-ins: the comment, the attachments, the bot's property, the fields,
/// the transition, the pending re-check and the analysis SARIF all pass the
/// official descriptions both ways; every ADF document is valid.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn analyze_passes_the_official_descriptions_both_ways() {
    use crate::collect::{Git, REPO, analysis, deployed, register};
    let config = format!(
        "{}\n[scan]\nrequired = [\"CodeQL\"]\n[approval]\nauto_approve = true\n",
        changegate::standins::SITE_CONFIG
    );
    let sb = Sandbox::with_config(&config);
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f", "alice", 2);
    let m = g.merge("f", "Merge pull request #1");
    register(
        &sb,
        &g.path,
        vec![Pull::merged(1, "alice", &f[1], &f, &m, std::slice::from_ref(&m)).approved_by("bob", 1)],
    );
    let sarif = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}}, "results": [
        {"ruleId": "rust/unused", "level": "note"}, {"ruleId": "rust/unused", "level": "note"}]}]});
    sb.stand_ins.with_github(|gh| {
        let r = gh.repo_mut(REPO);
        r.analyses = vec![analysis(9, &m, "CodeQL")];
        r.analysis_sarif.insert(9, sarif);
    });
    deployed(&sb, &base);
    let p = crate::collect::pipeline(&sb, &m);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();

    let jira_proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let ci_proxy = Prism::proxy("circleci", &sb.stand_ins.url());
    let gh_proxy = Prism::proxy("github", &sb.stand_ins.url());
    // Attachments go around the Jira proxy (see below); everything else through it.
    let jira_url = split_attachments(&sb.stand_ins.url(), &jira_proxy.url);
    let run = sb.job(&p, ["analyze", &key, "--approve"]);
    let out = run
        .env("JIRA_BASE_URL", &jira_url)
        .env("JIRA_USER_EMAIL", "bot@acme.test")
        .env("JIRA_API_TOKEN", "bot-token")
        .env("CIRCLECI_API_URL", &format!("{}/api/v2", ci_proxy.url))
        .env("GITHUB_API_URL", &gh_proxy.url)
        .env("GITHUB_GRAPHQL_URL", &format!("{}/graphql", sb.stand_ins.url()))
        .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
        .env("CHANGEGATE_RECEIPT_KEY", &sb.keys.0)
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("approved {key}")), "{}", out.stdout);
    assert_eq!(sb.issue(&key)["status"], "Approved");
    let prop = &sb.issue(&key)["properties"]["changegate.bot"]["payload"];
    assert_eq!(prop["analysis"]["recommendation"], "approve", "{prop}");
    let docs: Vec<Value> = sb.jira_as(ALICE).comments(&key).unwrap().into_iter().map(|c| c.body).collect();
    validate_adf(&docs);
    assert!(jira_proxy.requests() >= 8, "the Jira calls went through the proxy");
    for proxy in [&jira_proxy, &ci_proxy, &gh_proxy] {
        let v = proxy.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

/// The bot's converge (`changegate reconcile`: analyse, approve, write the
/// receipt, resume the hold through the CircleCI API) through `prism proxy
/// --errors` in front of the stand-ins, both directions.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn reconcile_passes_the_official_descriptions_both_ways() {
    use crate::collect::{Git, deployed, register};
    let config = format!(
        "{}\n[scan]\nrequired = [\"CodeQL\"]\n[approval]\nauto_approve = true\n",
        changegate::standins::SITE_CONFIG
    );
    let sb = Sandbox::with_config(&config);
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f", "alice", 1);
    let m = g.merge("f", "Merge pull request #1");
    register(
        &sb,
        &g.path,
        vec![Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m)).approved_by("bob", 1)],
    );
    let mut a = crate::collect::analysis(9, &m, "CodeQL");
    a["results_count"] = json!(0);
    sb.stand_ins.with_github(|gh| gh.repo_mut(crate::collect::REPO).analyses = vec![a]);
    deployed(&sb, &base);
    let p = crate::collect::pipeline(&sb, &m);
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    sb.set_job(&p.workflow_id, "request_change", "success");

    let jira_proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let ci_proxy = Prism::proxy("circleci", &sb.stand_ins.url());
    let gh_proxy = Prism::proxy("github", &sb.stand_ins.url());
    let jira_url = split_attachments(&sb.stand_ins.url(), &jira_proxy.url);
    let private = sb.keys.0.clone();
    let run = sb.job(&p, ["reconcile", "--hold-wait", "5"]);
    let out = run
        .env("JIRA_BASE_URL", &jira_url)
        .env("JIRA_USER_EMAIL", "bot@acme.test")
        .env("JIRA_API_TOKEN", "bot-token")
        .env("CIRCLECI_API_URL", &format!("{}/api/v2", ci_proxy.url))
        .env("GITHUB_API_URL", &gh_proxy.url)
        .env("GITHUB_GRAPHQL_URL", &format!("{}/graphql", sb.stand_ins.url()))
        .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
        .env("CHANGEGATE_RECEIPT_KEY", &private)
        .env("CIRCLE_TOKEN", changegate::standins::circleci::BOT_TOKEN)
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("resumed hold_change"), "{}", out.stdout);
    assert_eq!(sb.issue(&key)["status"], "Approved");
    for proxy in [&jira_proxy, &ci_proxy, &gh_proxy] {
        let v = proxy.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

/// The whole request flow through `prism proxy --errors` in front of the
/// stand-ins: any request or answer that breaks the description fails.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn request_flow_passes_the_official_descriptions_both_ways() {
    let sb = Sandbox::new();
    let jira_proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let ci_proxy = Prism::proxy("circleci", &sb.stand_ins.url());
    let p = sb.pipeline("gh/acme/web", "main", &sha(300));
    let mut sb = sb;
    sb.env.extend([
        ("JIRA_BASE_URL".into(), jira_proxy.url.clone()),
        ("CIRCLECI_API_URL".into(), format!("{}/api/v2", split_artifacts(&sb, &ci_proxy))),
        ("CHANGEGATE_HTTP_TIMEOUT".into(), "20".into()),
    ]);
    let first = sb.request(&p, &[]);
    assert_eq!(first.code, 0, "first run: {}{}", first.stdout, first.stderr);
    let again = sb.request(&p, &[]);
    assert_eq!(again.code, 0, "retry: {}{}", again.stdout, again.stderr);
    jira(&jira_proxy.url, ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let approved = sb.request(&p, &[]);
    assert_eq!(approved.code, 0, "{}{}", approved.stdout, approved.stderr);
    assert!(approved.stdout.contains("(Approved)"));
    let check = sb.job(&p, ["config", "check", "--probe-ticket", "PRODCM-1"]).run();
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    // Validate, record a risky plan, approve it, validate before apply, close.
    let job = |args: &[&str]| sb.job(&p, args).run();
    let v = job(&["validate", "--environment", "production"]);
    assert_eq!(v.code, 1, "fields are missing: {}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("required_field_missing"), "{}", v.stdout);
    let plan = crate::support::repo().join("examples/plan.json").display().to_string();
    let bin = sb.path().join("plan.tfplan");
    std::fs::write(&bin, "binary").unwrap();
    let bin = bin.display().to_string();
    let pc =
        job(&["plan-check", &plan, "--plan-file", &bin, "--state", "changegate.json", "--hold", "hold_plan_review"]);
    assert_eq!(pc.code, 1, "risky: a person must decide: {}{}", pc.stdout, pc.stderr);
    jira(&jira_proxy.url, ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    let v = job(&["validate", "--environment", "production", "--plan-json", &plan, "--plan-file", &bin]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    let c = job(&["close", "--outcome", "failure"]);
    assert_eq!(c.code, 0, "close: {}{}", c.stdout, c.stderr);
    let j = jira(&jira_proxy.url, ("ci@acme.test", "ci-token"));
    j.changelog("PRODCM-1").unwrap();
    j.comments("PRODCM-1").unwrap();
    // The CircleCI stand-in's approve, rerun and cancel answers too.
    let ci = |path: &str, body: Option<Value>| {
        let req = ureq::post(&format!("{}/api/v2{path}", ci_proxy.url))
            .header("Circle-Token", changegate::standins::circleci::TOKEN)
            .config()
            .http_status_as_error(false)
            .build();
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.send_empty(),
        };
        r.unwrap().status().as_u16()
    };
    sb.set_job(&p.workflow_id, "request_change", "success");
    let hold = sb.stand_ins.with_circleci(|c| c.dump())["workflows"][0]["jobs"][2]["id"].as_str().unwrap().to_owned();
    assert_eq!(ci(&format!("/workflow/{}/approve/{hold}", p.workflow_id), None), 202);
    assert_eq!(ci(&format!("/workflow/{}/rerun", p.workflow_id), Some(json!({"from_failed": false}))), 202);
    assert_eq!(ci(&format!("/workflow/{}/cancel", p.workflow_id), None), 202);
    for proxy in [&jira_proxy, &ci_proxy] {
        let v = proxy.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

/// Every ADF document changegate sent (descriptions, comments, text areas)
/// validates against Atlassian's ADF JSON schema.
#[test]
#[ignore = "external: needs ../shared and Python's jsonschema; run with cargo test -- --include-ignored"]
fn every_adf_document_sent_is_valid() {
    let sb = Sandbox::new();
    let p = sb.pipeline("gh/acme/web", "main", &sha(301));
    assert_eq!(sb.request(&p, &[]).code, 0);
    let p2 = sb.pipeline("gh/acme/web", "main", &sha(302));
    assert_eq!(
        sb.request(&p2, &["--justification", "Why | with * markup `and` <tags>", "--rollback-plan", "Redeploy"]).code,
        0
    );
    let mut docs: Vec<Value> = Vec::new();
    let log = sb.stand_ins.with_jira(|j| j.dump());
    for issue in log["issues"].as_array().unwrap() {
        for (_, v) in issue["fields"].as_object().unwrap() {
            if v.get("type") == Some(&json!("doc")) {
                docs.push(v.clone());
            }
        }
    }
    // Comments are stored as text in the dump: read them back as ADF.
    let j = sb.jira_as(("ci@acme.test", "ci-token"));
    for key in ["PRODCM-1", "PRODCM-2"] {
        docs.extend(j.comments(key).unwrap().into_iter().map(|c| c.body));
    }
    assert!(docs.len() >= 5, "descriptions, text areas and comments: {}", docs.len());
    validate_adf(&docs);
}

/// Validates documents with Python's jsonschema (draft 4) and the ADF schema.
pub(crate) fn validate_adf(docs: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.json");
    std::fs::write(&path, serde_json::to_string(docs).unwrap()).unwrap();
    let script = r##"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
schema = dict(schema, **{"$ref": "#/definitions/doc_node"})
validator = jsonschema.Draft4Validator(schema)
bad = 0
for i, doc in enumerate(json.load(open(sys.argv[2]))):
    for e in validator.iter_errors(doc):
        bad += 1
        print(f"document {i}: {e.message} at {list(e.absolute_path)}")
sys.exit(1 if bad else 0)
"##;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(shared("contracts").join("jira/adf/adf-schema-v1-full.json"))
        .arg(&path)
        .output()
        .expect("python3 runs (with the jsonschema package)");
    assert!(
        out.status.success(),
        "ADF validation failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A document that breaks the schema is caught (the validator works).
#[test]
#[ignore = "external: needs ../shared and Python's jsonschema; run with cargo test -- --include-ignored"]
fn the_adf_validator_rejects_a_broken_document() {
    let broken = json!({"type": "doc", "version": 1, "content": [{"type": "text", "text": "top-level text"}]});
    let panic = std::panic::catch_unwind(|| validate_adf(&[broken])).expect_err("the broken document is refused");
    // Refused by the schema, not by a missing tool or file.
    let message = panic.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
    assert!(message.contains("ADF validation failed") && message.contains("document 0"), "{message}");
}

/// The whole process end to end — `changegate demo`: request, the bot's
/// analysis with its evidence attachment, a person's approval, the hold
/// resumed with a receipt, the risky plan recorded and escalated, validate
/// refusing and then passing, close — with every Jira, CircleCI and GitHub
/// REST call through `prism proxy --errors` in front of the stand-ins, so
/// any request or answer that breaks the official descriptions fails.
/// (Attachment uploads go around the Jira proxy: see [`split_attachments`];
/// artifact downloads around the CircleCI proxy: [`split_artifacts`];
/// GraphQL queries are checked against the schema in `github`.)
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn the_whole_process_passes_the_official_descriptions_both_ways() {
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}");
    let jira_proxy = Prism::proxy("jira", &target);
    let ci_proxy = Prism::proxy("circleci", &target);
    let gh_proxy = Prism::proxy("github", &target);
    let jira_url = split_attachments(&target, &jira_proxy.url);
    // The demo hands out artifact URLs at this forwarder's host.
    let ci_url = split("/circleci-artifacts/", &target, &ci_proxy.url);
    let out = crate::support::Run::new([
        "demo",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--via-jira",
        &jira_url,
        "--via-circleci",
        &format!("{ci_url}/api/v2"),
        "--via-github",
        &gh_proxy.url,
    ])
    .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("The demo went as the process says it must."), "{}", out.stdout);
    // Every step's calls went through the proxies (numbers: a lower bound
    // of what the story needs from each service).
    for (proxy, at_least) in [(&jira_proxy, 40), (&ci_proxy, 10), (&gh_proxy, 3)] {
        assert!(proxy.requests() >= at_least, "{} saw only {} requests", proxy.url, proxy.requests());
    }
    for proxy in [&jira_proxy, &ci_proxy, &gh_proxy] {
        let v = proxy.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

/// The three proxies in front of a sandbox's stand-ins, and the sandbox
/// with every later run's Jira, CircleCI and GitHub REST calls sent through
/// them (attachment uploads around the Jira proxy, GraphQL to the stand-in).
fn through_prism(sb: Sandbox) -> (Sandbox, [Prism; 3]) {
    let jira_proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let ci_proxy = Prism::proxy("circleci", &sb.stand_ins.url());
    let gh_proxy = Prism::proxy("github", &sb.stand_ins.url());
    let mut sb = sb;
    sb.env.extend([
        ("JIRA_BASE_URL".into(), split_attachments(&sb.stand_ins.url(), &jira_proxy.url)),
        ("CIRCLECI_API_URL".into(), format!("{}/api/v2", split_artifacts(&sb, &ci_proxy))),
        ("GITHUB_API_URL".into(), gh_proxy.url.clone()),
        ("GITHUB_GRAPHQL_URL".into(), format!("{}/graphql", sb.stand_ins.url())),
        ("GITHUB_TOKEN".into(), changegate::standins::github::TOKEN.into()),
        ("CHANGEGATE_HTTP_TIMEOUT".into(), "20".into()),
    ]);
    (sb, [jira_proxy, ci_proxy, gh_proxy])
}

/// Each proxy carried traffic and logged no violation.
fn assert_no_violations(proxies: &[Prism]) {
    for proxy in proxies {
        assert!(proxy.requests() > 0, "{} carried nothing", proxy.url);
        let v = proxy.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

/// A deploy workflow of `project` at `commit`: build, request, hold,
/// plan, plan hold, apply, close.
fn deploy_pipeline(sb: &Sandbox, project: &str, commit: &str) -> crate::support::sandbox::Pipeline {
    sb.deploy_pipeline(project, commit, "blocked")
}

/// Runs changegate as a job of `p`, or as the bot (its Jira user and
/// receipt key).
fn run_as(sb: &Sandbox, p: &crate::support::sandbox::Pipeline, args: &[&str], bot: bool) -> crate::support::Output {
    let mut r = sb.job(p, args.iter().copied());
    if bot {
        r = r
            .env("JIRA_USER_EMAIL", "bot@acme.test")
            .env("JIRA_API_TOKEN", "bot-token")
            .env("CHANGEGATE_RECEIPT_KEY", &sb.keys.0)
            .env("CIRCLE_TOKEN", changegate::standins::circleci::BOT_TOKEN);
    }
    r.run()
}

/// Requests a ticket for each pipeline (state in the named file) and
/// ends its request job; the ticket keys, in order.
fn request_all(sb: &Sandbox, pipelines: &[(&crate::support::sandbox::Pipeline, &str)]) -> Vec<String> {
    pipelines
        .iter()
        .map(|(p, state)| {
            let out = sb.request(p, &["--justification", "j", "--rollback-plan", "r", "--output", state]);
            assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
            sb.set_job(&p.workflow_id, "request_change", "success");
            out.stdout.split_whitespace().find(|w| w.starts_with("PRODCM-")).unwrap().to_owned()
        })
        .collect()
}

/// More of the process through `prism proxy --errors`, three deploys of
/// three services at once: the bot's reconcile analyses every live ticket
/// (first deploys: a person must approve), cancels the workflow of a
/// declined ticket; an approval clicked on the CircleCI hold alone does not
/// let `validate` pass; a failed deploy is recorded as Failed. Every REST
/// call of CI and bot passes the official descriptions both ways.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn decline_failure_and_a_bare_hold_approval_pass_the_official_descriptions() {
    use crate::collect::Git;
    let sb = Sandbox::new();
    let g = Git::new();
    let commit = g.head();
    sb.stand_ins.with_github(|gh| {
        for repo in ["acme/web", "acme/api", "acme/ops"] {
            gh.add_repo(repo, &g.path);
        }
    });
    let (sb, proxies) = through_prism(sb);
    let web = deploy_pipeline(&sb, "gh/acme/web", &commit);
    let api = deploy_pipeline(&sb, "gh/acme/api", &commit);
    let ops = deploy_pipeline(&sb, "gh/acme/ops", &commit);
    let keys = request_all(&sb, &[(&web, "web.json"), (&api, "api.json"), (&ops, "ops.json")]);
    let alice = jira(&sb.stand_ins.url(), ALICE);
    alice.transition(&keys[0], "Decline", None).unwrap();

    // The bot: analyses the two live tickets (first deploys: manual), and
    // cancels the declined one's workflow.
    let out = run_as(&sb, &web, &["reconcile", "--hold-wait", "2"], true);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let wf_status = |p: &crate::support::sandbox::Pipeline| -> String {
        let d = sb.stand_ins.with_circleci(|c| c.dump());
        d["workflows"].as_array().unwrap().iter().find(|w| w["id"] == p.workflow_id.as_str()).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(wf_status(&web), "canceled", "{}", out.stdout);
    for key in &keys[1..] {
        assert_eq!(sb.issue(key)["status"], "Manual review", "{key}: {}", out.stdout);
    }

    // Someone approves the CircleCI hold of ops, not the ticket: validate refuses.
    sb.set_job(&ops.workflow_id, "hold_change", "success");
    let out = run_as(&sb, &ops, &["validate", "--environment", "production", "--state", "ops.json"], false);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("not_approved"), "{}", out.stdout);

    // api is approved, its apply fails: the ticket is Failed, not Done.
    alice.transition(&keys[1], "Approve", None).unwrap();
    sb.set_job(&api.workflow_id, "apply", "failed");
    let out = run_as(&sb, &api, &["close", "--state", "api.json", "--deploy-job", "apply"], false);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(sb.issue(&keys[1])["status"], "Failed", "{}", out.stdout);
    assert_no_violations(&proxies);
}

/// Through `prism proxy --errors` as well: two deploys of one repository at
/// once (each analysis finds the other pending: a person must approve), a
/// required scan with no evidence, and a cancelled deploy recorded as such.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn pending_tickets_a_missing_scan_and_a_cancelled_deploy_pass_the_official_descriptions() {
    use crate::collect::{Git, deployed, register};
    let config = format!(
        "{}\n[scan]\nrequired = [\"Trivy\"]\ncode_scanning = false\n[approval]\nauto_approve = true\n",
        changegate::standins::SITE_CONFIG
    );
    let sb = Sandbox::with_config(&config);
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f", "alice", 1);
    let m1 = g.merge("f", "Merge pull request #1");
    let h = g.feature("h", "carol", 1);
    let m2 = g.merge("h", "Merge pull request #2");
    register(
        &sb,
        &g.path,
        vec![
            Pull::merged(1, "alice", &f[0], &f, &m1, std::slice::from_ref(&m1)).approved_by("bob", 1),
            Pull::merged(2, "carol", &h[0], &h, &m2, std::slice::from_ref(&m2)).approved_by("bob", 2),
        ],
    );
    deployed(&sb, &base);

    let (sb, proxies) = through_prism(sb);
    let first = deploy_pipeline(&sb, "gh/acme/web", &m1);
    let second = deploy_pipeline(&sb, "gh/acme/web", &m2);
    let keys = request_all(&sb, &[(&first, "first.json"), (&second, "second.json")]);
    let out = run_as(&sb, &second, &["reconcile", "--hold-wait", "2"], true);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Every commit was reviewed, but each ticket has the other pending and
    // no scan evidence: nothing is approved automatically.
    for key in &keys {
        assert_eq!(sb.issue(key)["status"], "Manual review", "{key}: {}", out.stdout);
        let bot = sb.issue(key)["properties"]["changegate.bot"].to_string();
        assert!(bot.contains("pending_ticket") && bot.contains("scan_failed"), "{key}: {bot}");
        let comments = sb.issue(key)["comments"].to_string();
        assert!(comments.contains("scan_missing"), "{key}: {comments}");
    }

    // The first is approved by a person, its workflow cancelled before apply.
    jira(&sb.stand_ins.url(), ALICE).transition(&keys[0], "Approve", None).unwrap();
    sb.set_job(&first.workflow_id, "apply", "canceled");
    let out = run_as(&sb, &first, &["close", "--state", "first.json", "--deploy-job", "apply"], false);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let issue = sb.issue(&keys[0]);
    assert_eq!(issue["status"], "Failed", "{}", out.stdout);
    assert_ne!(issue["resolution"], "Done", "a cancelled deploy is never Done");
    assert_no_violations(&proxies);
}

/// Through `prism proxy --errors`: a commit pushed to a pull request after
/// its approval (a person must approve the deploy), a risky plan paused and
/// approved, and every job and the bot run twice: the second run of each
/// changes nothing (no second analysis, receipt, plan record or outcome).
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn a_push_after_approval_and_every_job_run_twice_pass_the_official_descriptions() {
    use crate::collect::{Git, deployed, register};
    let config = format!("{}\n[approval]\nauto_approve = true\n", changegate::standins::SITE_CONFIG);
    let sb = Sandbox::with_config(&config);
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f", "carol", 2);
    let m = g.merge("f", "Merge pull request #1");
    // Bob approved the first commit; carol pushed the second after it.
    let mut p = Pull::merged(1, "carol", &f[1], &f, &m, std::slice::from_ref(&m));
    p.reviews.push(changegate::standins::github::Review {
        id: 1,
        author: "bob".into(),
        state: "APPROVED".into(),
        submitted_at: "2026-11-20T10:00:00Z".into(),
        commit: f[0].clone(),
    });
    register(&sb, &g.path, vec![p]);
    deployed(&sb, &base);

    let (sb, proxies) = through_prism(sb);
    let pl = deploy_pipeline(&sb, "gh/acme/web", &m);
    let key = request_all(&sb, &[(&pl, "web.json")]).remove(0);
    // The request job run again finds its ticket.
    let again = sb.request(&pl, &["--justification", "j", "--rollback-plan", "r", "--output", "web.json"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(sb.live().len(), 1, "one live ticket: {}", again.stdout);

    let bot = |what: &str| {
        let out = run_as(&sb, &pl, &["reconcile", "--hold-wait", "2"], true);
        assert_eq!(out.code, 0, "{what}: {}{}", out.stdout, out.stderr);
        sb.issue(&key)
    };
    let first = bot("first reconcile");
    assert_eq!(first["status"], "Manual review");
    let analysis = first["properties"]["changegate.bot"].to_string();
    assert!(first["comments"].to_string().contains("approval_stale"), "{}", first["comments"]);
    let second = bot("second reconcile");
    assert_eq!(second["comments"], first["comments"], "no second analysis");
    assert_eq!(second["properties"]["changegate.bot"].to_string(), analysis);

    // Alice approves: the bot resumes the hold with one receipt, however often it runs.
    jira(&sb.stand_ins.url(), ALICE).transition(&key, "Approve", None).unwrap();
    bot("reconcile after the approval");
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_change"), "success");
    let after = bot("reconcile once more");
    let receipts = &after["properties"]["changegate.bot"]["payload"]["receipts"];
    assert_eq!(receipts.as_array().map(Vec::len), Some(1), "{receipts}");
    for _ in 0..2 {
        let out = run_as(&sb, &pl, &["validate", "--environment", "production", "--state", "web.json"], false);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    }

    // A risky plan: paused for review, recorded once.
    std::fs::copy(crate::support::repo().join("examples/plan.json"), sb.path().join("plan.json")).unwrap();
    std::fs::write(sb.path().join("plan.tfplan"), "binary plan").unwrap();
    let plan_check =
        ["plan-check", "plan.json", "--plan-file", "plan.tfplan", "--state", "web.json", "--hold", "hold_plan_review"];
    let out = run_as(&sb, &pl, &plan_check, false);
    assert_eq!(out.code, 1, "escalated to a person: {}{}", out.stdout, out.stderr);
    let escalated = sb.issue(&key);
    assert_eq!(escalated["status"], "Manual review", "{}", out.stdout);
    let out = run_as(&sb, &pl, &plan_check, false);
    assert_eq!(out.code, 1, "still risky: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("already recorded"), "{}", out.stdout);
    assert_eq!(sb.issue(&key)["comments"], escalated["comments"], "the plan is recorded once");
    sb.set_job(&pl.workflow_id, "plan", "success");
    let apply = [
        "validate",
        "--environment",
        "production",
        "--state",
        "web.json",
        "--plan-json",
        "plan.json",
        "--plan-file",
        "plan.tfplan",
    ];
    assert_eq!(run_as(&sb, &pl, &apply, false).code, 1, "not applied before the plan's approval");
    jira(&sb.stand_ins.url(), ALICE).transition(&key, "Approve", None).unwrap();
    bot("reconcile after the plan's approval");
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_plan_review"), "success");
    for _ in 0..2 {
        let out = run_as(&sb, &pl, &apply, false);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    }

    // The deploy succeeds; close records it once.
    sb.set_job(&pl.workflow_id, "apply", "success");
    let close = ["close", "--state", "web.json", "--deploy-job", "apply"];
    let out = run_as(&sb, &pl, &close, false);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let done = sb.issue(&key);
    assert_eq!((done["status"].as_str(), done["resolution"].as_str()), (Some("Done"), Some("Done")));
    let out = run_as(&sb, &pl, &close, false);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("nothing to record"), "{}", out.stdout);
    let closed = sb.issue(&key);
    assert_eq!((&closed["comments"], &closed["changelog"]), (&done["comments"], &done["changelog"]));
    // The bot after the close: nothing more to do.
    let last = bot("reconcile after the close");
    assert_eq!(last["comments"], done["comments"]);
    assert_no_violations(&proxies);
}

/// The same through the proxies with git objects (`--features
/// git-objects`): in `verified-squash` mode a squash landing whose tree is
/// the approved head's content is approved by the bot without a person.
#[cfg(feature = "git-objects")]
mod content {
    use super::*;
    use crate::collect::{Git, REPO, deployed, register};

    #[test]
    #[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
    fn a_verified_squash_is_approved_automatically_through_the_official_descriptions() {
        let config = format!(
            "{}\n[review]\nmode = \"verified-squash\"\n[scan]\njobs = [\"build\"]\n[approval]\nauto_approve = true\n",
            changegate::standins::SITE_CONFIG
        );
        let sb = Sandbox::with_config(&config);
        let g = Git::new();
        let base = g.head();
        let f = g.feature("f", "carol", 2);
        let s = g.squash("f", "Feature (#2)");
        register(
            &sb,
            &g.path,
            vec![Pull::merged(2, "carol", &f[1], &f, &s, std::slice::from_ref(&s)).approved_by("bob", 2)],
        );
        deployed(&sb, &base);
        let git_dir = sb.stand_ins.with_github(|gh| gh.repo_mut(REPO).git_dir.clone());

        let (mut sb, proxies) = through_prism(sb);
        sb.env.push(("CHANGEGATE_GIT_URL".into(), git_dir.display().to_string()));
        let pl = deploy_pipeline(&sb, "gh/acme/web", &s);
        sb.add_trivy(&pl);
        let key = request_all(&sb, &[(&pl, "web.json")]).remove(0);
        let out = run_as(&sb, &pl, &["reconcile", "--hold-wait", "2"], true);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let issue = sb.issue(&key);
        assert_eq!(issue["status"], "Approved", "{}\n{:#}", out.stdout, issue["comments"]);
        assert_eq!(sb.job_status(&pl.workflow_id, "hold_change"), "success");
        let out = run_as(&sb, &pl, &["validate", "--environment", "production", "--state", "web.json"], false);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert_no_violations(&proxies);
    }
}

/// The emergency path through `prism proxy --errors`: asked for by CI,
/// granted by the break-glass group (its membership read from Jira),
/// validated without a receipt, its retrospective opened and escalated by
/// the bot, and reported by the audit.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn an_emergency_passes_the_official_descriptions_both_ways() {
    let (sb, proxies) = through_prism(Sandbox::new());
    let pl = deploy_pipeline(&sb, "gh/acme/web", &sha(700));
    let out = sb
        .request(&pl, &["--rollback-plan", "r", "--emergency", "--reason", "Checkout is down", "--output", "web.json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    sb.set_job(&pl.workflow_id, "request_change", "success");
    let key = out.stdout.split_whitespace().find(|w| w.starts_with("PRODCM-")).unwrap().to_owned();
    jira(&sb.stand_ins.url(), ("carol@acme.test", "carol-token")).transition(&key, "Emergency approve", None).unwrap();
    let out = run_as(&sb, &pl, &["validate", "--environment", "production", "--state", "web.json"], false);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let retro = out.stdout.lines().find_map(|l| l.strip_prefix("retrospective: ")).unwrap().to_owned();
    let out = run_as(&sb, &pl, &["reconcile", "--hold-wait", "2"], true);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(sb.job_status(&pl.workflow_id, "hold_change"), "success", "{}", out.stdout);
    let mut due = Map::new();
    due.insert("duedate".into(), json!("2026-01-01"));
    jira(&sb.stand_ins.url(), ("carol@acme.test", "carol-token")).edit(&retro, due).unwrap();
    let out = run_as(&sb, &pl, &["reconcile", "--hold-wait", "2"], true);
    assert!(out.stdout.contains("ESCALATION to break-glass"), "{}", out.stdout);
    let today = changegate::Date::today_utc();
    let since = format!("{:04}-{:02}-{:02}", today.year, today.month, today.day);
    // Posted on the period's inspection ticket, made for it.
    let out = run_as(
        &sb,
        &pl,
        &["audit", "--since", &since, "--sample", "1", "--format", "json", "--post", "--period", "contract"],
        true,
    );
    assert_eq!(out.code, 1, "the retrospective is overdue: {}{}", out.stdout, out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["emergencies"][0]["finding"], "overdue", "{r:#}");
    assert!(r["recorded_on"].as_str().is_some_and(|k| k.starts_with("PRODCM-")), "{r:#}");
    assert_no_violations(&proxies);
}

/// Through `prism proxy --errors`: a request that waits is reminded (a
/// comment with mentions), an approval that lapsed is sent back for review,
/// and a request that waited too long is cancelled with its workflow — the
/// bot's calls pass the official descriptions both ways.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn reminders_lapses_and_expiry_pass_the_official_descriptions_both_ways() {
    let (sb, proxies) = through_prism(Sandbox::new());
    let waiting = deploy_pipeline(&sb, "gh/acme/web", &sha(710));
    let lapsing = deploy_pipeline(&sb, "gh/acme/api", &sha(711));
    let keys = request_all(&sb, &[(&waiting, "waiting.json"), (&lapsing, "lapsing.json")]);
    jira(&sb.stand_ins.url(), ALICE).transition(&keys[1], "Approve", None).unwrap();
    let hours = |h: u64| std::time::Duration::from_secs(h * 3600);
    for key in &keys {
        sb.stand_ins.with_jira(|j| j.backdate(key, hours(30))).unwrap();
    }
    let out = run_as(&sb, &waiting, &["reconcile", "--hold-wait", "2"], true);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("reminded the approvers (30 h waiting)"), "{}", out.stdout);
    assert_eq!(sb.issue(&keys[1])["status"], "Manual review", "{}", out.stdout);
    sb.stand_ins.with_jira(|j| j.backdate(&keys[0], hours(7 * 24))).unwrap();
    let out = run_as(&sb, &waiting, &["reconcile", "--hold-wait", "2"], true);
    let issue = sb.issue(&keys[0]);
    assert_eq!(
        (issue["status"].as_str(), issue["resolution"].as_str()),
        (Some("Cancelled"), Some("Expired")),
        "{}",
        out.stdout
    );
    assert_no_violations(&proxies);
}

/// The lock through the official descriptions, both ways: `config check
/// --probe` (the contexts and their restrictions), and the bot's reconcile
/// publishing a changed policy (the project property), writing its record
/// (the sequence label) and reporting what got past the lock: a hold
/// approved by a developer (`GET /me`, `GET /user/{id}`) and a pipeline
/// triggered by a member of the security group (the GitHub team's members).
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn the_lock_passes_the_official_descriptions_both_ways() {
    use crate::trust::{LOCK, pipeline_of, restricted_context};
    let cfg = format!("{}\n[scan]\njobs = [\"build\"]\n{LOCK}", changegate::standins::SITE_CONFIG);
    let (sb, _g, _p, _k) = crate::trust::reviewed_change(&cfg);
    restricted_context(&sb);
    let by_carol = pipeline_of(
        &sb,
        &crate::support::sandbox::sha(90),
        "carol",
        json!([{"name": "build"}, {"name": "request_change", "requires": ["build"]},
               {"name": "hold_change", "type": "approval", "requires": ["request_change"]},
               {"name": "deploy", "context": "production-aws", "requires": ["hold_change"]}]),
    );
    assert_eq!(sb.request(&by_carol, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    sb.set_job(&by_carol.workflow_id, "request_change", "success");
    sb.stand_ins
        .with_circleci(|c| {
            c.set_job(&json!({"workflow_id": by_carol.workflow_id, "job": "hold_change", "status": "success", "approved_by": "dana"}))
        })
        .unwrap();
    // The bot's policy changes: it publishes anew.
    std::fs::write(
        sb.path().join("changegate.toml"),
        format!("{cfg}\n[[freezes]]\nfrom = 2020-01-01T00:00:00Z\nuntil = 2020-01-02T00:00:00Z\nreason = \"Past\"\n"),
    )
    .unwrap();

    let jira_proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let ci_proxy = Prism::proxy("circleci", &sb.stand_ins.url());
    let gh_proxy = Prism::proxy("github", &sb.stand_ins.url());
    let bot = crate::setup_hook::HealthyBot::start();
    let probe = sb
        .job(&by_carol, ["config", "check", "--offline", "--probe"])
        .env("CHANGEGATE_BOT_URL", &bot.url)
        .env("CIRCLECI_API_URL", &format!("{}/api/v2", ci_proxy.url))
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run();
    assert_eq!(probe.code, 0, "{}{}", probe.stdout, probe.stderr);
    assert!(probe.stdout.contains("lock: production-aws: restricted to a security group"), "{}", probe.stdout);
    let out = sb
        .bot(&by_carol, ["reconcile", "--hold-wait", "1"])
        .env("JIRA_BASE_URL", &split_attachments(&sb.stand_ins.url(), &jira_proxy.url))
        .env("CIRCLECI_API_URL", &format!("{}/api/v2", split_artifacts(&sb, &ci_proxy)))
        .env("GITHUB_API_URL", &gh_proxy.url)
        .env("GITHUB_GRAPHQL_URL", &format!("{}/graphql", sb.stand_ins.url()))
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run();
    assert!(out.stdout.contains("published the policy"), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("approved in CircleCI by dana"), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("triggered by carol, a member of the production security group"), "{}", out.stdout);
    assert!(sb.issue(&key)["properties"]["changegate.bot"]["payload"]["reported"].as_array().unwrap().len() >= 2);
    for proxy in [&jira_proxy, &ci_proxy, &gh_proxy] {
        let v = proxy.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

/// `changegate setup jira --apply` on an empty site through `prism proxy
/// --errors`: every administration request changegate sends (fields and
/// their contexts, issue types and schemes, workflows, workflow schemes,
/// screens, groups) and every answer of the stand-in pass the official
/// description; then the plan of a second run reads it all back as present.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn setup_jira_requests_and_answers_pass_the_official_description() {
    let sb = crate::setup_jira::empty_sandbox();
    let proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let run = |args: &[&str]| {
        let mut all = vec!["setup", "jira"];
        all.extend_from_slice(args);
        crate::support::Run::new(all)
            .cwd(sb.path())
            .env("JIRA_BASE_URL", &proxy.url)
            .env("JIRA_USER_EMAIL", crate::setup_jira::ADMIN.0)
            .env("JIRA_API_TOKEN", crate::setup_jira::ADMIN.1)
            .env("CHANGEGATE_HTTP_TIMEOUT", "20")
            .run()
    };
    let out = run(&["--apply"]);
    assert_eq!(out.code, 1, "only the groups' members are left: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("applied: created workflow changegate change"), "{}", out.stdout);
    assert!(out.stdout.contains("check: site"), "{}", out.stdout);
    let plan = run(&[]);
    assert!(plan.stdout.contains("0 to create, 0 to change"), "{}", plan.stdout);
    assert!(proxy.requests() >= 60, "the calls went through the proxy: {}", proxy.requests());
    let v = proxy.violations();
    assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
}

/// Every CircleCI operation of `setup circleci`, against the official v2
/// description: the project, contexts of an organization by id, their
/// restrictions, the organization's groups, a context and each kind of
/// restriction created, the project's webhooks listed, created and changed.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn setup_circleci_requests_pass_the_official_description() {
    let prism = Prism::mock("circleci");
    let s = CircleCiSettings { api_url: format!("{}/api/v2", prism.url), token: Secret::new("circle-token") };
    let c = CircleCi::new(&s, None, RetryPolicy { attempts: 1, ..RetryPolicy::default() }).unwrap();
    let id = "5034460f-c7c4-4c43-9457-de07e2029e7b";
    let project = c.project("gh/acme/web").unwrap();
    assert!(!project.vcs_info.default_branch.is_empty());
    c.contexts_of_owner(id).unwrap();
    c.context_restrictions(id).unwrap();
    c.groups(id).unwrap();
    c.create_context("production-aws", id).unwrap();
    c.add_restriction(id, "group", id).unwrap();
    c.add_restriction(id, "project", id).unwrap();
    c.add_restriction(id, "expression", "pipeline.git.branch == \"main\" and not job.ssh.enabled").unwrap();
    c.webhooks(id).unwrap();
    let spec = changegate::WebhookSpec {
        name: "changegate",
        url: "https://bot.acme.test/webhooks/circleci",
        events: &["workflow-completed", "job-completed"],
        verify_tls: true,
    };
    c.create_webhook(id, &spec, &Secret::new("s3cret")).unwrap();
    c.update_webhook(id, &spec, Some(&Secret::new("s3cret"))).unwrap();
    c.update_webhook(id, &spec, None).unwrap();
}

/// `setup circleci --apply` through `prism proxy --errors` in front of the
/// CircleCI stand-in, both directions, on an organization that has part of
/// what it needs (so contexts, restrictions and the webhook are created,
/// added and changed), then again with nothing left to do.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn setup_circleci_passes_the_official_descriptions_both_ways() {
    use crate::setup_ci::{LOCK, admin_client, circleci_org, setup_circleci};
    let stand_ins = changegate::standins::StandIns::start("127.0.0.1:0").unwrap();
    circleci_org(&stand_ins);
    stand_ins.with_circleci(|c| c.create_context(&json!({"name": "production-aws", "owner_slug": "gh/acme"}))).unwrap();
    let direct = admin_client(&stand_ins.circleci_url());
    let project = direct.project("gh/acme/web").unwrap();
    let spec = changegate::WebhookSpec {
        name: "bot",
        url: "https://bot.acme.test/webhooks/circleci",
        events: &["job-completed"],
        verify_tls: true,
    };
    direct.create_webhook(&project.id, &spec, &Secret::new("old")).unwrap();

    let proxy = Prism::proxy("circleci", &stand_ins.url());
    let api = format!("{}/api/v2", proxy.url);
    let admin = changegate::standins::circleci::ADMIN_TOKEN;
    let out = setup_circleci(&api, admin, LOCK, &["--bot-url", "https://bot.acme.test", "--apply"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for line in
        ["restricted context production-aws by group", "created context change-management-ci", "changed webhook"]
    {
        assert!(out.stdout.contains(line), "{line:?} in\n{}", out.stdout);
    }
    let again = setup_circleci(&api, admin, LOCK, &["--bot-url", "https://bot.acme.test", "--apply"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(proxy.requests() >= 15, "{} requests", proxy.requests());
    assert_no_violations(&[proxy]);
}

/// Every GitHub operation of `setup github`, against the official
/// description: each read is answered, none refused.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn setup_github_requests_pass_the_official_description() {
    use changegate::setup::github::{Needs, Read, read};
    let prism = Prism::mock("github");
    let gh = github(&prism.url);
    let snap = read(&gh, &Needs { repo: "acme/web".into(), branch: Some("main".into()), min_approvals: 1 }).unwrap();
    assert!(matches!(snap.repo, Read::Ok(_)), "{:?}", snap.repo);
    assert_eq!(snap.contents, Some(Read::Ok(())));
    assert_eq!(snap.pulls, Some(Read::Ok(())));
    assert!(matches!(snap.code_scanning, Some(Read::Ok(_))), "{:?}", snap.code_scanning);
    assert!(matches!(snap.protection, Some(Read::Ok(Some(_)))), "{:?}", snap.protection);
    assert!(matches!(snap.rules, Some(Read::Ok(_))), "{:?}", snap.rules);
    // The ruleset read, whether or not the example rules name one.
    let r = gh.get_answer("/repos/acme/web/rulesets/42", &[]).unwrap();
    assert_eq!(r.status, 200);
}

/// `setup github` through `prism proxy --errors` in front of the GitHub
/// stand-in, both directions: an administrator's token (the protection and
/// a ruleset's bypass list read) and a reader's (the protection refused,
/// the ruleset without its bypass list).
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn setup_github_passes_the_official_descriptions_both_ways() {
    use crate::setup_ci::{github_repo, setup_github};
    use changegate::standins::github::{Grant, Ruleset, TOKEN};
    let stand_ins = changegate::standins::StandIns::start("127.0.0.1:0").unwrap();
    let _g = github_repo(&stand_ins);
    stand_ins.with_github(|gh| {
        let repo = gh.repo_mut(crate::collect::REPO);
        repo.rulesets.push(Ruleset {
            id: 42,
            name: "protect main".into(),
            branches: vec!["main".into()],
            required_approvals: 1,
            dismiss_stale: true,
            bypass: vec![("Team".into(), Some(12)), ("OrganizationAdmin".into(), None)],
        });
        repo.pulls.push(changegate::standins::github::Pull::merged(1, "alice", &sha(1), &[sha(1)], &sha(2), &[sha(2)]));
        repo.analyses.push(crate::collect::analysis(9, &sha(2), "CodeQL"));
        gh.tokens.insert("reader".into(), Grant { administration: false, ..Grant::ALL });
    });
    let proxy = Prism::proxy("github", &stand_ins.url());
    let out = setup_github(&proxy.url, TOKEN, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = setup_github(&proxy.url, "reader", &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("not shown to this token"), "{}", out.stdout);
    assert!(proxy.requests() >= 14, "{} requests", proxy.requests());
    assert_no_violations(&[proxy]);
}

/// `setup jira --approver` checks the GitHub id with `GET /user/{account_id}`
/// through `prism proxy --errors`: the request and the stand-in's answer pass
/// the official GitHub description.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn setup_jira_approver_check_passes_the_official_github_description() {
    let sb = crate::setup_jira::empty_sandbox();
    let proxy = Prism::proxy("github", &sb.stand_ins.url());
    let out = crate::support::Run::new(["setup", "jira", "--approver", "712020:alice=1001"])
        .cwd(sb.path())
        .env("JIRA_BASE_URL", &sb.stand_ins.url())
        .env("JIRA_USER_EMAIL", crate::setup_jira::ADMIN.0)
        .env("JIRA_API_TOKEN", crate::setup_jira::ADMIN.1)
        .env("GITHUB_API_URL", &proxy.url)
        .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
        .env("CHANGEGATE_HTTP_TIMEOUT", "20")
        .run();
    assert!(out.stdout.contains("approver: 712020:alice = GitHub alice (id 1001)"), "{}{}", out.stdout, out.stderr);
    assert!(proxy.requests() >= 1, "the check went through the proxy");
    let v = proxy.violations();
    assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
}

/// `changegate drift --record` through `prism proxy --errors`: opening,
/// updating and closing a drift ticket (search, create with a property,
/// links, comments, property writes, edits, transitions) pass the official
/// Jira description both ways.
#[test]
#[ignore = "external: needs ../shared, Node.js (Prism) and Python; run with cargo test -- --include-ignored"]
fn drift_tickets_pass_the_official_description() {
    let sb = Sandbox::new();
    // The last deploy of the stream, for the link.
    let p = sb.pipeline("gh/acme/web", "main", &sha(78));
    assert_eq!(sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]).code, 0);
    jira(&sb.stand_ins.url(), ALICE).transition("PRODCM-1", "Approve", None).unwrap();
    jira(&sb.stand_ins.url(), ALICE).transition("PRODCM-1", "Complete", None).unwrap();
    let proxy = Prism::proxy("jira", &sb.stand_ins.url());
    let opened = crate::drift::record_at(&sb, &proxy.url, crate::drift::opened_sg(), "default");
    assert!(opened.stdout.contains("opened drift ticket PRODCM-2"), "{}{}", opened.stdout, opened.stderr);
    assert!(opened.stdout.contains("linked PRODCM-2 to PRODCM-1"), "{}", opened.stdout);
    let mut more = crate::drift::opened_sg().as_array().unwrap().clone();
    more.push(json!({"address": "aws_instance.app", "mode": "managed", "type": "aws_instance", "name": "app",
        "change": {"actions": ["update"], "before": {"tags": {"v": "1"}}, "after": {"tags": {"v": "2"}}}}));
    let updated = crate::drift::record_at(&sb, &proxy.url, Value::Array(more), "default");
    assert!(updated.stdout.contains("updated drift ticket PRODCM-2"), "{}{}", updated.stdout, updated.stderr);
    let closed = crate::drift::record_at(&sb, &proxy.url, json!([]), "default");
    assert!(closed.stdout.contains("closed drift ticket PRODCM-2"), "{}{}", closed.stdout, closed.stderr);
    assert!(proxy.requests() >= 10, "{} requests", proxy.requests());
    let v = proxy.violations();
    assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
}
