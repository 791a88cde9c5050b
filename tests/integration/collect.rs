//! Evidence collection on real git repositories served by the GitHub
//! stand-in: merge, squash and rebase landings, direct pushes, version
//! bumps, force-pushes, empty ranges, a rewritten base, long ranges and
//! connections, and faults that must become gaps.

use std::path::{Path, PathBuf};
use std::process::Command;

use changegate::standins::github::{Event, Pull, Review};
use serde_json::{Value, json};

use crate::support::sandbox::{ALICE, CI, Pipeline, Sandbox};

pub(crate) const REPO: &str = "acme/web";

/// A git repository in a temporary directory, committed to as GitHub users.
pub(crate) struct Git {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Git {
    pub(crate) fn new() -> Git {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let g = Git { _dir: dir, path };
        g.run(&["init", "-q", "-b", "main"]);
        g.write("README.md", "# web\n");
        g.write("package.json", "{\n  \"name\": \"web\",\n  \"version\": \"1.0.0\"\n}\n");
        g.commit("dana", "Initial commit");
        g
    }

    pub(crate) fn run(&self, args: &[&str]) -> String {
        let out = Command::new("git").arg("-C").arg(&self.path).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub(crate) fn write(&self, file: &str, text: &str) {
        let p = self.path.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Commits everything as `login` (author and committer).
    pub(crate) fn commit(&self, login: &str, msg: &str) -> String {
        let email = format!("{login}@acme.test");
        self.run(&["add", "-A"]);
        self.run(&[
            "-c",
            &format!("user.name={login}"),
            "-c",
            &format!("user.email={email}"),
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            msg,
        ]);
        self.head()
    }

    pub(crate) fn head(&self) -> String {
        self.run(&["rev-parse", "HEAD"])
    }

    /// A feature branch from main with `n` commits by `login`; back on main.
    pub(crate) fn feature(&self, name: &str, login: &str, n: usize) -> Vec<String> {
        self.run(&["checkout", "-q", "-b", name, "main"]);
        let shas = (0..n)
            .map(|i| {
                self.write(&format!("{name}/{i}.txt"), &format!("{name} {i}\n"));
                self.commit(login, &format!("{name}: change {i}"))
            })
            .collect();
        self.run(&["checkout", "-q", "main"]);
        shas
    }

    /// Runs git as GitHub does when it lands a pull request: authored by
    /// `login`, committed (and signed) by web-flow.
    pub(crate) fn as_github(&self, login: &str, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.path)
            .args(["-c", &format!("user.name={login}"), "-c", &format!("user.email={login}@acme.test")])
            .args(args)
            .env("GIT_COMMITTER_NAME", "GitHub")
            .env("GIT_COMMITTER_EMAIL", changegate::standins::github::WEB_FLOW_EMAIL)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// GitHub's merge button: a merge commit authored by the merger.
    pub(crate) fn merge(&self, branch: &str, msg: &str) -> String {
        self.as_github("dana", &["merge", "-q", "--no-ff", branch, "-m", msg]);
        self.head()
    }

    /// GitHub's squash: one new commit authored by the pull request's author.
    pub(crate) fn squash(&self, branch: &str, msg: &str) -> String {
        self.run(&["merge", "-q", "--squash", branch]);
        self.as_github("dana", &["commit", "-q", "--allow-empty", "-m", msg]);
        self.head()
    }

    /// GitHub's rebase: each commit replayed on main, authors kept.
    pub(crate) fn rebase(&self, commits: &[String]) -> Vec<String> {
        commits
            .iter()
            .map(|c| {
                self.as_github("dana", &["cherry-pick", c]);
                self.head()
            })
            .collect()
    }
}

/// A pipeline building `commit` of acme/web.
pub(crate) fn pipeline(sb: &Sandbox, commit: &str) -> Pipeline {
    sb.pipeline("gh/acme/web", "main", commit)
}

/// Deploys `commit` to Done: request, approve, the bot's receipt for the
/// approved binding (what the bot writes when it resumes the hold: the base
/// of the next change set is a deploy the bot signed for), complete.
pub(crate) fn deployed(sb: &Sandbox, commit: &str) -> String {
    let p = pipeline(sb, commit);
    let out = sb.request(&p, &["--justification", "j", "--rollback-plan", "r"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    sb.jira_as(ALICE).transition(&key, "Approve", None).unwrap();
    receipted(sb, &key);
    sb.jira_as(CI).transition(&key, "Complete", None).unwrap();
    key
}

/// Writes the bot's receipt for the ticket's binding into its signed record,
/// as the bot does before it resumes the hold.
pub(crate) fn receipted(sb: &Sandbox, key: &str) {
    use changegate::TicketRecord;
    use changegate::bot_record::Store;
    use changegate::receipt::{self, ReceiptPayload};
    let jira = sb.jira_as(("bot@acme.test", "bot-token"));
    let signing = changegate::signing::SigningKey::from_base64(&sb.keys.0).unwrap();
    let ring = signing.ring();
    let accounts = vec!["712020:changegate-bot".to_owned()];
    let store = Store { jira: &jira, key: Some(&signing), ring: Some(&ring), bot_accounts: &accounts };
    let record = TicketRecord::from_value(&sb.issue(key)["properties"]["changegate"]).unwrap();
    let policy = sb.stand_ins.with_jira(|j| j.project_property("PRODCM", changegate::policy::PROPERTY)).unwrap();
    let policy: changegate::policy::SignedPolicy = serde_json::from_value(policy).unwrap();
    let payload = ReceiptPayload {
        ticket: key.to_owned(),
        binding: record.binding.clone(),
        stack: None,
        plan: None,
        approver: "712020:alice".into(),
        issued_at: changegate::Timestamp::now().to_rfc3339(),
        policy_digest: policy.payload.content.digest(),
    };
    let signed = receipt::sign(&signing, payload);
    store.update(key, record.binding_digest, |r| r.add_receipt(signed.clone())).unwrap();
}

/// Requests a ticket for `commit` and collects its evidence.
pub(crate) fn collect(sb: &Sandbox, commit: &str) -> (Value, crate::support::Output) {
    collect_pipeline(sb, &pipeline(sb, commit))
}

/// Requests a ticket for pipeline `p` and collects its evidence.
pub(crate) fn collect_pipeline(sb: &Sandbox, p: &Pipeline) -> (Value, crate::support::Output) {
    let out = sb.request(p, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let key = sb.state()["ticket"].as_str().unwrap().to_owned();
    collect_key(sb, p, &key)
}

/// Collects the evidence of ticket `key`, requested for pipeline `p`.
pub(crate) fn collect_key(sb: &Sandbox, p: &Pipeline, key: &str) -> (Value, crate::support::Output) {
    let mut run = sb.job(p, ["collect", key, "-o", "evidence.json"]);
    run = run.env("GITHUB_API_URL", &sb.stand_ins.url()).env("GITHUB_TOKEN", changegate::standins::github::TOKEN);
    // Git objects (the `git-objects` feature) come from the repository itself.
    if let Some(dir) = sb.stand_ins.with_github(|g| g.has_repo(REPO).then(|| g.repo_mut(REPO).git_dir.clone())) {
        run = run.env("CHANGEGATE_GIT_URL", &dir.display().to_string());
    }
    let out = run.run();
    let evidence = std::fs::read_to_string(sb.path().join("evidence.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (evidence, out)
}

pub(crate) fn register(sb: &Sandbox, git: &Path, pulls: Vec<Pull>) {
    sb.stand_ins.with_github(|g| {
        g.add_repo(REPO, git);
        g.repo_mut(REPO).pulls = pulls;
    });
}

#[test]
fn merge_squash_rebase_direct_and_version_bump_landings() {
    let sb = Sandbox::new();
    let g = Git::new();
    let base = g.head();
    let f1 = g.feature("f1", "alice", 2);
    let m1 = g.merge("f1", "Merge pull request #1 from acme/f1");
    let f2 = g.feature("f2", "bob", 2);
    let s2 = g.squash("f2", "Feature two (#2)");
    let f3 = g.feature("f3", "carol", 2);
    let r3 = g.rebase(&f3);
    g.write("package.json", "{\n  \"name\": \"web\",\n  \"version\": \"1.1.0\"\n}\n");
    let bump = g.commit("release-bot", "chore(release): 1.1.0");
    let direct = {
        g.write("hotfix.txt", "x\n");
        g.commit("mallory", "hotfix")
    };
    let pulls = vec![
        Pull::merged(1, "alice", &f1[1], &f1, &m1, std::slice::from_ref(&m1)).approved_by("bob", 11),
        Pull::merged(2, "bob", &f2[1], &f2, &s2, std::slice::from_ref(&s2)).approved_by("alice", 21),
        Pull::merged(3, "carol", &f3[1], &f3, &r3[1], &r3).approved_by("alice", 31),
    ];
    register(&sb, &g.path, pulls);
    let first = deployed(&sb, &base);
    let (e, out) = collect(&sb, &direct);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(e["gaps"], json!([]), "{e:#}");
    assert_eq!(e["base"]["ticket"], first);
    assert_eq!(e["base"]["commit"], base);
    assert_eq!(e["range"]["status"], "ahead");
    // Landings: first-parent, newest first; the merged branch's commits are
    // in the range but are not landings.
    let landings: Vec<&str> = e["range"]["landings"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(landings, [direct.as_str(), &bump, &r3[1], &r3[0], &s2, &m1]);
    assert_eq!(e["range"]["commits"].as_array().unwrap().len(), 8, "6 landings + 2 merged branch commits");
    assert_eq!(e["associated"][&m1][0]["number"], 1);
    assert_eq!(e["associated"][&s2][0]["merge_commit"], s2);
    assert_eq!(e["associated"][&r3[0]][0]["number"], 3);
    let p1 = &e["pulls"]["1"];
    assert_eq!(p1["head"], f1[1]);
    assert_eq!(p1["author"]["id"], 1001);
    assert_eq!(p1["reviews"][0]["author"]["id"], 1002);
    assert_eq!(p1["reviews"][0]["commit"], f1[1]);
    assert_eq!(p1["commits"].as_array().unwrap().len(), 2);
    assert_eq!(p1["commits"][0]["author_id"], 1001);
    assert_eq!(p1["timeline"][0]["kind"], "MergedEvent");
    // Landings without a PR: their files, and the version file's text.
    assert_eq!(
        e["landing_files"][&direct]["files"],
        json!([{"path": "hotfix.txt", "status": "added", "previous_path": null}])
    );
    assert_eq!(e["landing_files"][&bump]["files"][0]["path"], "package.json");
    assert_eq!(e["landing_files"][&bump]["files"][0]["status"], "modified");
    let pj = &e["landing_files"][&bump]["version_files"]["package.json"];
    assert!(
        pj["before"].as_str().unwrap().contains("1.0.0") && pj["after"].as_str().unwrap().contains("1.1.0"),
        "{pj}"
    );
    assert!(e["pulls"]["1"]["source"].as_str().unwrap().starts_with("github: GraphQL"));
    assert_eq!(e["policy"]["source"], sb.path().join("changegate.toml").display().to_string());
}

#[test]
fn force_pushes_and_dismissals_are_in_the_timeline() {
    let sb = Sandbox::new();
    let g = Git::new();
    let base = g.head();
    let f = g.feature("f", "alice", 2);
    let m = g.merge("f", "Merge pull request #7");
    let mut p = Pull::merged(7, "alice", &f[1], &f, &m, std::slice::from_ref(&m)).approved_by("bob", 71);
    p.events.insert(
        0,
        Event::ForcePushed {
            at: "2026-11-20T11:30:00Z".into(),
            actor: "alice".into(),
            before: f[0].clone(),
            after: f[1].clone(),
        },
    );
    p.events.insert(
        1,
        Event::ReviewDismissed {
            at: "2026-11-20T11:40:00Z".into(),
            actor: "carol".into(),
            review: 71,
            previous_state: "APPROVED".into(),
        },
    );
    register(&sb, &g.path, vec![p]);
    deployed(&sb, &base);
    let (e, _) = collect(&sb, &m);
    let t = &e["pulls"]["7"]["timeline"];
    assert_eq!(t[0]["kind"], "HeadRefForcePushedEvent");
    assert_eq!(t[0]["created_at"], "2026-11-20T11:30:00Z");
    assert_eq!(t[0]["after"], f[1]);
    assert_eq!(t[0]["actor"]["id"], 1001);
    assert_eq!(t[1]["kind"], "ReviewDismissedEvent");
    assert_eq!(t[1]["review"], "71");
    assert_eq!(t[1]["previous_state"], "APPROVED");
}

#[test]
fn empty_range_first_deploy_and_rewritten_base() {
    let sb = Sandbox::new();
    let g = Git::new();
    let a = g.head();
    register(&sb, &g.path, Vec::new());
    // First deploy: no Done ticket of the stream.
    let (e, out) = collect(&sb, &a);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(e["range"]["status"], "first_deploy");
    assert_eq!(e["base"], Value::Null);
    // Empty range: the same commit again.
    let sb = Sandbox::new();
    register(&sb, &g.path, Vec::new());
    deployed(&sb, &a);
    let (e, _) = collect(&sb, &a);
    assert_eq!(e["range"]["status"], "identical");
    assert_eq!(e["range"]["landings"], json!([]));
    // A rewritten base: the deployed line does not contain the last deploy.
    let sb = Sandbox::new();
    let old = g.commit("dana", "to be rewritten");
    g.run(&["reset", "-q", "--hard", &a]);
    let new = g.commit("dana", "rewritten");
    register(&sb, &g.path, Vec::new());
    deployed(&sb, &old);
    let (e, _) = collect(&sb, &new);
    assert_eq!(e["range"]["status"], "diverged");
    assert_eq!(e["range"]["landings"], json!([]));
}

#[test]
fn long_ranges_and_connections_are_read_to_the_end() {
    let sb = Sandbox::new();
    let g = Git::new();
    let base = g.head();
    for i in 0..300 {
        g.commit("dana", &format!("direct {i}"));
    }
    let f = g.feature("big", "alice", 1);
    let m = g.merge("big", "Merge pull request #9");
    let mut p = Pull::merged(9, "alice", &f[0], &f, &m, std::slice::from_ref(&m));
    for i in 0..130 {
        p.reviews.push(Review {
            id: 900 + i,
            author: "bob".into(),
            state: "COMMENTED".into(),
            submitted_at: "2026-11-20T10:00:00Z".into(),
            commit: f[0].clone(),
        });
    }
    register(&sb, &g.path, vec![p]);
    deployed(&sb, &base);
    let (e, out) = collect(&sb, &m);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(e["range"]["total_commits"], 302);
    assert_eq!(e["range"]["commits"].as_array().unwrap().len(), 302, "never truncated");
    assert_eq!(e["range"]["landings"].as_array().unwrap().len(), 301);
    assert_eq!(e["pulls"]["9"]["reviews"].as_array().unwrap().len(), 130, "the second page of reviews is read");
    assert_eq!(e["gaps"], json!([]));
}

/// The GitHub requests follow the batches, not the commits or the pull
/// requests: 220 commits from 110 merged pull requests take three compare
/// pages, the branch tip, one query for the repository and the landings'
/// pull requests, two for the pull requests and one for code scanning;
/// never more than two at once.
#[test]
fn a_large_range_takes_at_most_ten_github_requests() {
    let sb = Sandbox::new();
    let g = Git::new();
    let base = g.head();
    let mut pulls = Vec::new();
    for n in 1..=110 {
        let f = g.feature(&format!("f{n}"), "alice", 1);
        let m = g.merge(&format!("f{n}"), &format!("Merge pull request #{n}"));
        pulls.push(Pull::merged(n, "alice", &f[0], &f, &m, std::slice::from_ref(&m)).approved_by("bob", n));
    }
    register(&sb, &g.path, pulls);
    deployed(&sb, &base);
    sb.stand_ins.with_github(|g| g.max_in_flight = 0);
    let (e, out) = collect(&sb, &g.head());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(sb.stand_ins.with_github(|g| g.max_in_flight) <= 2, "pairs, never more");
    // (A loaded machine can make a query outlast the jobs' 1 s HTTP timeout:
    // the gap then says so.)
    assert_eq!(e["range"]["commits"].as_array().unwrap().len(), 220, "gaps: {}", e["gaps"]);
    assert_eq!(e["pulls"].as_object().unwrap().len(), 110, "gaps: {}", e["gaps"]);
    assert_eq!(e["gaps"], json!([]));
    assert_eq!(e["requests"]["github"], 8, "3 + 1 + 1 + 2 + 1");
    assert!(e["requests"]["github"].as_u64().unwrap() <= 10);
}

/// Faults in any GitHub call become gaps in the record, never dropped facts.
#[test]
fn faults_become_gaps() {
    for (method, path, what) in
        [("GET", "/compare/", "range"), ("POST", "/graphql", "pull requests of"), ("GET", "/commits/", "files of")]
    {
        let sb = Sandbox::new();
        let g = Git::new();
        let base = g.head();
        let f = g.feature("f", "alice", 1);
        let m = g.merge("f", "Merge pull request #1");
        g.commit("dana", "direct");
        register(
            &sb,
            &g.path,
            vec![Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m)).approved_by("bob", 1)],
        );
        deployed(&sb, &base);
        sb.fault(json!({"service": "github", "method": method, "path_contains": path, "status": 500, "times": 100}));
        let (e, out) = collect(&sb, &g.head());
        assert_eq!(out.code, 0, "collection records the fault: {}", out.stderr);
        let gaps = e["gaps"].as_array().unwrap();
        assert!(gaps.iter().any(|gp| gp["what"].as_str().unwrap().starts_with(what)), "{path}: {gaps:?}");
        assert!(gaps.iter().all(|gp| gp["why"].as_str().unwrap().contains("HTTP 500")), "{gaps:?}");
        assert!(out.stdout.contains("gap:"), "{}", out.stdout);
    }
}

/// The SARIF artifacts of the configured scan jobs are read, whatever else
/// the jobs stored is not; a document that is not SARIF is recorded with
/// its error; a failed listing or download is a gap.
#[test]
#[ignore = "external: needs ../shared/contracts/sarif; run with cargo test -- --include-ignored"]
fn sarif_artifacts_of_scan_jobs_are_read() {
    let config = format!("{}\n[scan]\njobs = [\"build\"]\n", changegate::standins::SITE_CONFIG);
    let trivy =
        std::fs::read_to_string(crate::support::shared("contracts/sarif/trivy").join(first_file("trivy"))).unwrap();
    let setup = |sb: &Sandbox, g: &Git| {
        register(sb, &g.path, Vec::new());
        let p = pipeline(sb, &g.head());
        for (path, content) in [
            ("reports/trivy.sarif", Value::String(trivy.clone())),
            ("reports/empty.sarif.json", json!({"version": "2.1.0"})),
            ("reports/broken.sarif", Value::String("{\"runs\": [".into())),
            ("logs/scan.txt", Value::String("not evidence".into())),
        ] {
            sb.stand_ins
                .with_circleci(|c| {
                    c.add_artifact(
                        &json!({"workflow_id": p.workflow_id, "job": "build", "path": path, "content": content}),
                    )
                })
                .unwrap();
        }
        p
    };

    let sb = Sandbox::with_config(&config);
    let g = Git::new();
    let p = setup(&sb, &g);
    let (e, out) = collect_pipeline(&sb, &p);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let sarif = e["scans"]["sarif"].as_array().unwrap();
    let paths: Vec<&str> = sarif.iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["reports/trivy.sarif", "reports/empty.sarif.json", "reports/broken.sarif"]);
    assert_eq!(sarif[0]["runs"][0]["tool"], "Trivy", "{}", sarif[0]);
    assert_eq!(sarif[0]["error"], Value::Null);
    assert_eq!(sarif[0]["job"], "build");
    assert_eq!(sarif[0]["workflow_id"], p.workflow_id.as_str());
    assert_eq!(sarif[0]["digest"].as_str().unwrap(), changegate::Sha256Digest::of(trivy.as_bytes()).to_string());
    assert!(sarif[1]["error"].as_str().unwrap().contains("runs"), "{}", sarif[1]);
    assert!(sarif[2]["error"].as_str().unwrap().starts_with("not JSON"), "{}", sarif[2]);
    assert_eq!(sarif[1]["runs"], Value::Null);
    assert_eq!(e["gaps"], json!([]));

    // A job that is not a scan job is not read.
    let sb = Sandbox::new();
    let g = Git::new();
    let p = setup(&sb, &g);
    let (e, _) = collect_pipeline(&sb, &p);
    assert_eq!(e["scans"]["sarif"], json!([]));

    // A failed listing, a failed download: gaps.
    for (path, what) in [("/artifacts", "artifacts of job build"), ("/circleci-artifacts/", "artifact reports/")] {
        let sb = Sandbox::with_config(&config);
        let g = Git::new();
        let p = setup(&sb, &g);
        sb.fault(json!({"service": "circleci", "method": "GET", "path_contains": path, "status": 503, "times": 100}));
        let (e, out) = collect_pipeline(&sb, &p);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let gaps = e["gaps"].as_array().unwrap();
        assert!(gaps.iter().any(|gp| gp["what"].as_str().unwrap().starts_with(what)), "{path}: {gaps:?}");
        assert!(
            !out.stdout.contains(changegate::standins::circleci::TOKEN)
                && !out.stderr.contains(changegate::standins::circleci::TOKEN)
        );
    }
}

fn first_file(tool: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(crate::support::shared("contracts/sarif").join(tool))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.remove(0)
}

/// A code-scanning analysis of the deployed commit (REST shape).
pub(crate) fn analysis(id: u64, sha: &str, tool: &str) -> Value {
    json!({"id": id, "commit_sha": sha, "ref": "refs/heads/main", "tool": {"name": tool, "guid": null, "version": "2.20.0"},
           "analysis_key": ".github/workflows/codeql.yml:analyze", "environment": "{}", "category": "/language:rust",
           "error": "", "created_at": "2026-11-20T12:05:00Z", "results_count": 2, "rules_count": 40,
           "url": format!("https://api.github.com/repos/acme/web/code-scanning/analyses/{id}"),
           "sarif_id": "6c81cd8e-b078-4ac3-a3be-1dad7dbd0b53", "deletable": true, "warning": ""})
}

/// Code scanning: the analyses of the deployed commit only, read past
/// newer pushes' pages; a repository without code scanning is a fact, a
/// token without access a gap.
#[test]
fn code_scanning_analyses_of_the_deployed_commit() {
    let sb = Sandbox::new();
    let g = Git::new();
    let base = g.head();
    let head = g.commit("dana", "direct");
    register(&sb, &g.path, Vec::new());
    deployed(&sb, &base);
    // Oldest first: the base's, the deployed commit's, then 150 of later pushes.
    let mut list = vec![analysis(1, &base, "CodeQL"), analysis(2, &head, "CodeQL"), analysis(3, &head, "Trivy")];
    list.extend((0..150).map(|i| analysis(100 + i, &sha(i as u32), "CodeQL")));
    let codeql = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL", "rules": [
        {"id": "rust/sql-injection", "properties": {"security-severity": "8.8"}}]}},
        "results": [{"ruleId": "rust/sql-injection", "ruleIndex": 0, "level": "error"}, {"ruleId": "rust/other", "level": "note"}]}]});
    sb.stand_ins.with_github(|gh| {
        let r = gh.repo_mut(REPO);
        r.analyses = list;
        r.analysis_sarif.insert(2, codeql.clone());
    });
    let (e, out) = collect(&sb, &head);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Analyses with results: their SARIF is read (severities decide the gate).
    let cs = &e["scans"]["code_scanning"];
    assert_eq!(cs[1]["runs"][0]["results"][0]["security_severity"], 8.8, "{cs:#}");
    // One GitHub could not give: a gap, never a clean scan.
    assert_eq!(cs[0]["runs"], Value::Null);
    let gaps = e["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["what"], "SARIF of code-scanning analysis 3");
    sb.stand_ins.with_github(|gh| {
        gh.repo_mut(REPO).analysis_sarif.insert(3, codeql);
    });
    let (e, out) = collect(&sb, &head);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ids: Vec<u64> =
        e["scans"]["code_scanning"].as_array().unwrap().iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [3, 2], "newest first, this commit only");
    assert_eq!(e["scans"]["code_scanning"][0]["tool_name"], "Trivy");
    assert_eq!(e["scans"]["code_scanning_status"], "read");
    assert_eq!(e["gaps"], json!([]));

    for (status, message, expected, gap) in [
        (403, "Advanced Security must be enabled for this repository to use code scanning.", "not_enabled", false),
        (404, "no analysis found", "read", false),
        (403, "Resource not accessible by integration", "unknown", true),
    ] {
        let sb = Sandbox::new();
        let g = Git::new();
        register(&sb, &g.path, Vec::new());
        let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest"}).to_string();
        sb.fault(json!({"service": "github", "method": "GET", "path_contains": "/code-scanning/", "status": status,
                        "body": body, "times": 10}));
        let (e, out) = collect(&sb, &g.head());
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(e["scans"]["code_scanning_status"], expected, "{status} {message}");
        let gaps = e["gaps"].as_array().unwrap();
        assert_eq!(gaps.iter().any(|gp| gp["what"] == "code scanning"), gap, "{gaps:?}");
    }
}

fn sha(n: u32) -> String {
    crate::support::sandbox::sha(n)
}

/// Every record collected validates against `docs/evidence.schema.json`,
/// reads back as the same record, and the schema rejects a record that
/// lost a field.
#[test]
#[ignore = "external: needs ../shared and Python's jsonschema; run with cargo test -- --include-ignored"]
fn records_match_the_published_schema() {
    let config = format!("{}\n[scan]\njobs = [\"build\"]\n", changegate::standins::SITE_CONFIG);
    let sb = Sandbox::with_config(&config);
    let g = Git::new();
    let base = g.head();
    let f1 = g.feature("f1", "alice", 2);
    let m1 = g.merge("f1", "Merge pull request #1 from acme/f1");
    g.write("package.json", "{\n  \"name\": \"web\",\n  \"version\": \"1.1.0\"\n}\n");
    g.write("changegate.toml", "[plan]\n");
    let bump = g.commit("release-bot", "chore(release): 1.1.0");
    let mut p = Pull::merged(1, "alice", &f1[1], &f1, &m1, std::slice::from_ref(&m1)).approved_by("bob", 11);
    p.events.insert(
        0,
        Event::ForcePushed {
            at: "2026-11-20T11:30:00Z".into(),
            actor: "alice".into(),
            before: f1[0].clone(),
            after: f1[1].clone(),
        },
    );
    register(&sb, &g.path, vec![p]);
    sb.stand_ins.with_github(|gh| gh.repo_mut(REPO).analyses = vec![analysis(5, &bump, "CodeQL")]);
    deployed(&sb, &base);
    // Another live ticket of the stream.
    let other = pipeline(&sb, &m1);
    assert_eq!(sb.request(&other, &[]).code, 0);
    let p = pipeline(&sb, &bump);
    let trivy = std::fs::read_to_string(crate::support::shared("contracts/sarif/grype").join("image.sarif")).unwrap();
    for (path, content) in [("grype.sarif", Value::String(trivy)), ("bad.sarif", json!({"runs": 1}))] {
        sb.stand_ins
            .with_circleci(|c| {
                c.add_artifact(&json!({"workflow_id": p.workflow_id, "job": "build", "path": path, "content": content}))
            })
            .unwrap();
    }
    sb.fault(json!({"service": "github", "method": "GET", "path_contains": "/commits/", "status": 502, "times": 10}));
    let (e, out) = collect_pipeline(&sb, &p);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The record exercises every section.
    assert!(!e["pulls"].as_object().unwrap().is_empty());
    assert!(!e["pending"].as_array().unwrap().is_empty(), "{}", e["pending"]);
    assert_eq!(e["scans"]["sarif"].as_array().unwrap().len(), 2);
    assert_eq!(e["scans"]["code_scanning"].as_array().unwrap().len(), 1);
    assert!(!e["gaps"].as_array().unwrap().is_empty());
    assert_eq!(e["policy_files"]["files"]["changegate.toml"]["after"], "[plan]\n");
    validate_evidence(&e).unwrap();

    // A first deploy's record.
    let (first, _) = collect(&Sandbox::new(), &g.head());
    assert_eq!(first["range"]["status"], "first_deploy");
    validate_evidence(&first).unwrap();

    // The record reads back unchanged.
    let back = changegate::Evidence::from_json(&e.to_string()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), e);

    // The validator catches drift.
    let mut broken = e.clone();
    broken["scans"].as_object_mut().unwrap().remove("code_scanning_status");
    assert!(validate_evidence(&broken).unwrap_err().contains("code_scanning_status"));
    let mut broken = e;
    broken["range"]["status"] = json!("sideways");
    assert!(validate_evidence(&broken).is_err());
}

/// Validates a record with Python's jsonschema against the published schema.
pub(crate) fn validate_evidence(record: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.json");
    std::fs::write(&path, record.to_string()).unwrap();
    let script = r##"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errors:
    print(f"{e.message} at {list(e.absolute_path)}")
sys.exit(1 if errors else 0)
"##;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/evidence.schema.json");
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(schema)
        .arg(&path)
        .output()
        .expect("python3 runs (with the jsonschema package)");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}
