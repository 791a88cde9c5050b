//! Benchmark: GitHub requests and wall time to collect the evidence of a
//! deploy of 500 commits from 120 pull requests, against the stand-in with
//! 50 ms latency per request, beside the naive approach (REST, one request
//! per commit for its pull requests, then four per pull request) and, when
//! `CHANGEGATE_BASELINE` names another build's `changegate` binary, that
//! build's `changegate collect`, alternating with this build's, against the
//! same stand-in in the same run.
//!
//! Run: `cargo bench --bench collect` (needs git). Prints a markdown table.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use changegate::Config;
use changegate::Progress;
use changegate::analyze::collect::{Sources, collect};
use changegate::standins::github::{Event, Pull, Review};
use changegate::standins::{SITE_CONFIG, StandIns};
use changegate::{Auth, Body, Http, RetryPolicy, Secret};
use changegate::{Binding, BuildJob, DeployAction, RECORD_PROPERTY, TicketRecord};
use changegate::{CircleCi, CircleCiSettings};
use changegate::{GitHub, GitHubSettings};
use changegate::{Jira, JiraSettings};
use serde_json::{Map, Value, json};

const PRS: usize = 120;
const LATENCY: Duration = Duration::from_millis(50);
/// Timed runs of each binary, alternating.
const RUNS: usize = 5;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn commit(dir: &Path, who: &str, msg: &str) -> String {
    git(
        dir,
        &[
            "-c",
            &format!("user.name={who}"),
            "-c",
            &format!("user.email={who}@acme.test"),
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            msg,
        ],
    );
    git(dir, &["rev-parse", "HEAD"])
}

/// 120 merged pull requests: 20 with 4 commits, 100 with 3, each landed
/// by a merge commit: 500 commits in the range.
fn build_repo(dir: &Path) -> (String, String, Vec<Pull>) {
    git(dir, &["init", "-q", "-b", "main"]);
    let base = commit(dir, "dana", "base");
    let mut pulls = Vec::new();
    for n in 0..PRS {
        let branch = format!("f{n}");
        git(dir, &["checkout", "-q", "-b", &branch, "main"]);
        let k = if n < 20 { 4 } else { 3 };
        let commits: Vec<String> = (0..k).map(|i| commit(dir, "alice", &format!("{branch} {i}"))).collect();
        git(dir, &["checkout", "-q", "main"]);
        git(
            dir,
            &[
                "-c",
                "user.name=dana",
                "-c",
                "user.email=dana@acme.test",
                "merge",
                "-q",
                "--no-ff",
                &branch,
                "-m",
                &format!("Merge pull request #{}", n + 1),
            ],
        );
        let m = git(dir, &["rev-parse", "HEAD"]);
        let head = commits.last().unwrap().clone();
        pulls.push(Pull {
            number: n as u64 + 1,
            author: "alice".into(),
            base_ref: "main".into(),
            head: head.clone(),
            commits,
            merged: true,
            merged_at: Some("2026-11-20T12:00:00Z".into()),
            merge_commit: Some(m.clone()),
            landed: vec![m.clone()],
            reviews: vec![Review {
                id: n as u64 + 1,
                author: "bob".into(),
                state: "APPROVED".into(),
                submitted_at: "2026-11-20T11:00:00Z".into(),
                commit: head,
            }],
            events: vec![Event::Merged { at: "2026-11-20T12:00:00Z".into(), actor: "dana".into(), commit: m }],
            unindexed: false,
        });
    }
    (base, git(dir, &["rev-parse", "HEAD"]), pulls)
}

fn binding(commit: &str, pipeline: u64) -> Binding {
    Binding {
        project_slug: "gh/acme/web".into(),
        environment: "production".into(),
        action: DeployAction::Apply,
        branch: "main".into(),
        commit: commit.into(),
        pipeline_id: format!("pipeline-{pipeline}"),
        pipeline_number: pipeline,
        build_job: BuildJob { name: "build".into(), number: pipeline, id: format!("job-{pipeline}") },
    }
}

fn ticket(jira: &Jira, b: &Binding) -> String {
    let mut f = Map::new();
    f.insert("project".into(), json!({"key": "PRODCM"}));
    f.insert("issuetype".into(), json!({"name": "Change"}));
    f.insert("summary".into(), json!("deploy"));
    f.insert("labels".into(), json!([b.stream_label(), b.binding_label(), b.key_label()]));
    jira.create(f, &[(RECORD_PROPERTY, TicketRecord::new(b.clone(), None).to_value())]).unwrap().key
}

/// The naive collection: compare, then per commit its pull requests, then
/// per pull request its details, reviews, commits and timeline.
fn naive(url: &str, base: &str, head: &str) -> usize {
    let http = Http::new(
        "GitHub",
        "GITHUB_API_URL",
        url,
        Auth::Bearer(Secret::new(changegate::standins::github::TOKEN)),
        None,
        RetryPolicy::default(),
    )
    .unwrap();
    let mut requests = 0;
    let mut get = |path: &str| -> Value {
        requests += 1;
        let r = http.call(ureq::http::Method::GET, path, &[], &Body::Empty).unwrap();
        serde_json::from_slice(&r.body).unwrap()
    };
    let mut shas = Vec::new();
    let mut page = 1;
    loop {
        let c = get(&format!("/repos/acme/web/compare/{base}...{head}?per_page=100&page={page}"));
        let list = c["commits"].as_array().unwrap().clone();
        shas.extend(list.iter().map(|x| x["sha"].as_str().unwrap().to_owned()));
        if list.len() < 100 {
            break;
        }
        page += 1;
    }
    let mut numbers = std::collections::BTreeSet::new();
    for s in &shas {
        for p in get(&format!("/repos/acme/web/commits/{s}/pulls")).as_array().unwrap() {
            numbers.insert(p["number"].as_u64().unwrap());
        }
    }
    for n in numbers {
        for suffix in ["", "/reviews", "/commits"] {
            get(&format!("/repos/acme/web/pulls/{n}{suffix}"));
        }
        get(&format!("/repos/acme/web/issues/{n}/timeline"));
    }
    requests
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    eprintln!("building a repository of {PRS} merged pull requests...");
    let (base, head, pulls) = build_repo(dir.path());
    let s = StandIns::start("127.0.0.1:0").unwrap();
    s.with_github(|g| {
        g.add_repo("acme/web", dir.path());
        g.repo_mut("acme/web").pulls = pulls;
    });
    let settings =
        |email: &str, token: &str| JiraSettings { base_url: s.url(), email: email.into(), token: Secret::new(token) };
    let ci = Jira::new(&settings("ci@acme.test", "ci-token"), None, RetryPolicy::default()).unwrap();
    let alice = Jira::new(&settings("alice@acme.test", "alice-token"), None, RetryPolicy::default()).unwrap();
    let done = ticket(&ci, &binding(&base, 1));
    alice.transition(&done, "Approve", None).unwrap();
    ci.transition(&done, "Complete", None).unwrap();
    let key = ticket(&ci, &binding(&head, 2));
    let config = Config::parse(SITE_CONFIG, "site", changegate::Date::today_utc()).unwrap();
    let github = GitHub::new(
        &GitHubSettings {
            api_url: s.url(),
            graphql_url: None,
            token: Secret::new(changegate::standins::github::TOKEN),
            git_url: None,
        },
        None,
        RetryPolicy::default(),
    )
    .unwrap();
    let circleci = CircleCi::new(
        &CircleCiSettings { api_url: s.circleci_url(), token: Secret::new("circle-token") },
        None,
        RetryPolicy::default(),
    )
    .unwrap();
    let clients = changegate::Clients::new(ci, circleci, Some(github));
    // The stand-in's own preparation (the files of every pull request,
    // from `git diff`) is done before any timed run, so none pays for it.
    s.with_github(changegate::standins::github::GitHubStandIn::warm_pull_files);
    s.with_github(|g| g.latency = LATENCY);
    let served = || s.with_github(|g| g.requests);

    // In process, as the analysis calls it: the record is checked.
    let (before, started) = (served(), Instant::now());
    let evidence =
        collect(&key, &config, ("bench", ""), &Sources { clients: &clients, ring: None, progress: &Progress::quiet() })
            .unwrap();
    let library = started.elapsed();
    assert!(evidence.gaps.is_empty(), "{:?}", evidence.gaps);
    assert_eq!(evidence.range.commits.len(), 500);
    assert_eq!(evidence.pulls.len(), PRS);
    assert_eq!(evidence.requests.github, served() - before, "the client counts what the stand-in served");

    // `changegate collect` of this build and of the baseline, alternating.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("changegate.toml"), SITE_CONFIG).unwrap();
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_changegate"));
    let baseline = std::env::var_os("CHANGEGATE_BASELINE").map(PathBuf::from);
    let mut runs: Vec<(&str, &Path)> = vec![("this build", &ours)];
    if let Some(b) = &baseline {
        runs.push(("baseline", b));
    } else {
        eprintln!("CHANGEGATE_BASELINE is not set: no baseline to compare with");
    }
    let mut timed: Vec<Vec<(u64, Duration, Value)>> = vec![Vec::new(); runs.len()];
    for _ in 0..RUNS {
        for (i, (_, bin)) in runs.iter().enumerate() {
            timed[i].push(run_collect(bin, &s, &key, work.path()));
        }
    }
    // The same record, but for when it was collected and how many requests it took.
    let facts = |v: &Value| {
        let mut v = v.clone();
        for k in ["collected_at", "requests"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let reference = facts(&timed[0][0].2);
    for (i, (name, _)) in runs.iter().enumerate() {
        for (requests, _, record) in &timed[i] {
            assert_eq!(facts(record), reference, "{name}: the same evidence");
            assert_eq!(*requests, timed[i][0].0, "{name}: the same requests every run");
        }
    }

    let started = Instant::now();
    let naive_requests = naive(&s.url(), &base, &head);
    let naive_time = started.elapsed();

    let spread = |t: &[(u64, Duration, Value)]| {
        let mut secs: Vec<f64> = t.iter().map(|(_, d, _)| d.as_secs_f64()).collect();
        secs.sort_by(f64::total_cmp);
        format!("{:.2} s ({:.2}–{:.2})", secs[secs.len() / 2], secs[0], secs[secs.len() - 1])
    };
    println!("| collector | GitHub requests | wall time: median (min–max) of {RUNS} |");
    println!("|---|---:|---:|");
    for (i, (name, bin)) in runs.iter().enumerate() {
        println!("| `changegate collect`, {name} ({}) | {} | {} |", bin.display(), timed[i][0].0, spread(&timed[i]));
    }
    println!(
        "| library `collect`, this build, in process (one run) | {} | {:.2} s |",
        evidence.requests.github,
        library.as_secs_f64()
    );
    println!(
        "| naive REST (per commit, then per PR; one run) | {naive_requests} | {:.2} s |",
        naive_time.as_secs_f64()
    );
    println!(
        "\n{} commits, {} landings, {} pull requests, {} ms latency per GitHub request; the same evidence from every \
         `changegate collect` run (but for collected_at and requests); at most {} GitHub requests at once",
        evidence.range.commits.len(),
        evidence.range.landings.len(),
        evidence.pulls.len(),
        LATENCY.as_millis(),
        s.with_github(|g| g.max_in_flight),
    );
}

/// Runs `bin collect KEY` against the stand-ins in `dir` (with the site's
/// `changegate.toml`): the GitHub requests the stand-in served, the wall
/// time, the record.
fn run_collect(bin: &Path, s: &StandIns, key: &str, dir: &Path) -> (u64, Duration, Value) {
    let before = s.with_github(|g| g.requests);
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["collect", key, "-o", "evidence.json"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("JIRA_BASE_URL", s.url())
        .env("JIRA_USER_EMAIL", "ci@acme.test")
        .env("JIRA_API_TOKEN", "ci-token")
        .env("CIRCLECI_API_URL", s.circleci_url())
        .env("CIRCLE_TOKEN", changegate::standins::circleci::TOKEN)
        .env("GITHUB_API_URL", s.url())
        .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
        .output()
        .expect("the binary runs");
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
    let record: Value = serde_json::from_slice(&std::fs::read(dir.join("evidence.json")).unwrap()).unwrap();
    let requests = s.with_github(|g| g.requests) - before;
    assert_eq!(record["requests"]["github"], requests, "{}: its count is what the stand-in served", bin.display());
    (requests, elapsed, record)
}
