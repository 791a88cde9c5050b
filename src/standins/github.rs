//! A stateful stand-in for GitHub, fed by real git repositories: REST
//! `compare`, commit details and code-scanning analyses are computed with
//! `git` from the repository on disk; pull requests, reviews and timeline
//! events are registered by the test (or the demo) and served through the
//! GraphQL queries changegate sends. Answers follow the shapes of GitHub's
//! recorded responses. Optional latency per request makes request counts
//! visible in benchmarks.
//!
//! Tokens carry fine-grained permissions ([`Grant`]; [`TOKEN`] has them
//! all): a REST read the token's grant lacks is answered 403 `Resource not
//! accessible by personal access token` with `X-Accepted-GitHub-Permissions`,
//! as GitHub answers fine-grained tokens. A repository has branch protection
//! rules and rulesets ([`BranchProtection`], [`Ruleset`]) for `setup
//! github`: the protection is read with the administration permission only
//! (GitHub's 404 otherwise), a ruleset's bypass list likewise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::exchange::{Req, Resp};
use super::graphql::{self, Resolved, Resolver};

/// The token the stand-in accepts with every permission.
pub const TOKEN: &str = "gh-token";

/// What a token may read (fine-grained repository permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Contents: read.
    pub contents: bool,
    /// Pull requests: read.
    pub pull_requests: bool,
    /// Code scanning alerts: read.
    pub code_scanning: bool,
    /// Administration: read (branch protection, rulesets' bypass lists);
    /// its user is an administrator of the repositories.
    pub administration: bool,
}

impl Grant {
    /// Every permission.
    pub const ALL: Grant = Grant { contents: true, pull_requests: true, code_scanning: true, administration: true };
}

/// A branch protection rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchProtection {
    /// Approvals a pull request needs (`None`: no pull request required).
    pub required_approvals: Option<u32>,
    /// Approvals are dismissed when commits are pushed.
    pub dismiss_stale: bool,
    /// Administrators are held to it.
    pub enforce_admins: bool,
    /// Logins that may skip the pull request requirement.
    pub bypass_users: Vec<String>,
}

/// A repository ruleset with a pull request rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Branches it applies to (exact names).
    pub branches: Vec<String>,
    /// Approvals a pull request needs.
    pub required_approvals: u32,
    /// Approvals are dismissed when commits are pushed.
    pub dismiss_stale: bool,
    /// Who may bypass it: (actor type, actor id).
    pub bypass: Vec<(String, Option<u64>)>,
}

/// A GitHub account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Numeric id.
    pub id: u64,
    /// Login.
    pub(crate) login: String,
    /// Commit email.
    pub(crate) email: String,
    /// A bot account.
    pub(crate) bot: bool,
    /// May push to the repositories (`authorCanPushToRepository`).
    pub(crate) can_push: bool,
}

/// The committer email of commits GitHub makes (merge button, squash,
/// rebase, web edits): the `web-flow` account, signed by GitHub.
pub const WEB_FLOW_EMAIL: &str = "noreply@github.com";
/// The `web-flow` account id.
pub const WEB_FLOW_ID: u64 = crate::clients::github::WEB_FLOW_ID;

/// A review.
#[derive(Debug, Clone)]
pub struct Review {
    /// Id.
    pub id: u64,
    /// Reviewer login.
    pub author: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    /// When (RFC 3339).
    pub submitted_at: String,
    /// The commit reviewed.
    pub commit: String,
}

/// A timeline event.
#[derive(Debug, Clone)]
pub enum Event {
    /// The head was force-pushed.
    ForcePushed {
        /// When.
        at: String,
        /// Who.
        actor: String,
        /// Old head.
        before: String,
        /// New head.
        after: String,
    },
    /// A review was dismissed.
    ReviewDismissed {
        /// When.
        at: String,
        /// Who.
        actor: String,
        /// The review.
        review: u64,
        /// Its state before.
        previous_state: String,
    },
    /// The base branch changed.
    BaseRefChanged {
        /// When.
        at: String,
        /// Old base.
        previous: String,
        /// New base.
        current: String,
    },
    /// Merged.
    Merged {
        /// When.
        at: String,
        /// Who.
        actor: String,
        /// The merge (or landed) commit.
        commit: String,
    },
}

impl Event {
    fn typename(&self) -> &'static str {
        match self {
            Event::ForcePushed { .. } => "HeadRefForcePushedEvent",
            Event::ReviewDismissed { .. } => "ReviewDismissedEvent",
            Event::BaseRefChanged { .. } => "BaseRefChangedEvent",
            Event::Merged { .. } => "MergedEvent",
        }
    }
    fn item_type(&self) -> &'static str {
        match self {
            Event::ForcePushed { .. } => "HEAD_REF_FORCE_PUSHED_EVENT",
            Event::ReviewDismissed { .. } => "REVIEW_DISMISSED_EVENT",
            Event::BaseRefChanged { .. } => "BASE_REF_CHANGED_EVENT",
            Event::Merged { .. } => "MERGED_EVENT",
        }
    }
}

/// A pull request.
#[derive(Debug, Clone)]
pub struct Pull {
    /// Number.
    pub number: u64,
    /// Author login.
    pub author: String,
    /// Base branch.
    pub base_ref: String,
    /// Head commit.
    pub head: String,
    /// The commits of the PR, oldest first.
    pub commits: Vec<String>,
    /// Merged.
    pub merged: bool,
    /// When.
    pub merged_at: Option<String>,
    /// `merge_commit_sha`: the merge commit, the squash commit, or the last
    /// rebased commit.
    pub merge_commit: Option<String>,
    /// Commits GitHub created on the base (squash: one; rebase: several).
    pub landed: Vec<String>,
    /// Reviews.
    pub reviews: Vec<Review>,
    /// Timeline events.
    pub events: Vec<Event>,
    /// Left out of `associatedPullRequests` (GitHub's reverse index is
    /// best-effort): found only through a `(#N)` hint.
    pub unindexed: bool,
}

impl Pull {
    /// A pull request into main, merged on 2026-11-20 by dana: `merge_commit`
    /// is GitHub's `merge_commit_sha`, `landed` the commits it created on main.
    pub fn merged(
        number: u64,
        author: &str,
        head: &str,
        commits: &[String],
        merge_commit: &str,
        landed: &[String],
    ) -> Pull {
        Pull {
            number,
            author: author.into(),
            base_ref: "main".into(),
            head: head.into(),
            commits: commits.to_vec(),
            merged: true,
            merged_at: Some("2026-11-20T12:00:00Z".into()),
            merge_commit: Some(merge_commit.into()),
            landed: landed.to_vec(),
            reviews: Vec::new(),
            events: vec![Event::Merged {
                at: "2026-11-20T12:00:00Z".into(),
                actor: "dana".into(),
                commit: merge_commit.into(),
            }],
            unindexed: false,
        }
    }

    /// The same with an approving review (id `id`) by `reviewer` of its head.
    pub fn approved_by(mut self, reviewer: &str, id: u64) -> Pull {
        self.reviews.push(Review {
            id,
            author: reviewer.into(),
            state: "APPROVED".into(),
            submitted_at: "2026-11-20T11:00:00Z".into(),
            commit: self.head.clone(),
        });
        self
    }
}

/// A repository backed by a git directory.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The git directory (or work tree).
    pub git_dir: PathBuf,
    /// Every commit, read once when the repository is registered.
    commits: BTreeMap<String, GitCommit>,
    /// Pull requests.
    pub pulls: Vec<Pull>,
    /// Code-scanning analyses (REST shape).
    pub analyses: Vec<Value>,
    /// The SARIF of analyses, by analysis id
    /// (`GET .../code-scanning/analyses/{id}` as `application/sarif+json`).
    pub analysis_sarif: BTreeMap<u64, Value>,
    /// Commits whose signature GitHub verified (besides web-flow's own).
    pub verified: Vec<String>,
    /// Commits whose committer is GitHub's web-flow address but which GitHub
    /// did not make: made elsewhere and pushed, so they carry no signature.
    pub unsigned: Vec<String>,
    /// The default branch.
    pub(crate) default_branch: String,
    /// Branch protection rules, by branch.
    pub protection: BTreeMap<String, BranchProtection>,
    /// Rulesets.
    pub rulesets: Vec<Ruleset>,
}

impl Repo {
    /// GitHub verified the commit's signature: its own web-flow commits
    /// (unless made elsewhere), and those listed as verified.
    fn signed(&self, c: &GitCommit) -> bool {
        (c.committer_email == WEB_FLOW_EMAIL && !self.unsigned.contains(&c.sha)) || self.verified.contains(&c.sha)
    }
}

/// The stand-in's state.
#[derive(Debug, Default)]
pub struct GitHubStandIn {
    repos: BTreeMap<String, Repo>,
    /// Accounts (commit emails map to them).
    pub(crate) accounts: Vec<Account>,
    /// Wait this long before answering each request.
    pub latency: Duration,
    /// Requests served.
    pub requests: u64,
    /// Requests being answered now (latency included).
    pub(crate) in_flight: usize,
    /// The most requests ever being answered at once.
    pub max_in_flight: usize,
    /// `git diff` output of pull requests, by (git dir, onto, head).
    pull_files: BTreeMap<(PathBuf, String, String), String>,
    /// Team members' logins, by `org/team-slug`.
    pub teams: BTreeMap<String, Vec<String>>,
    /// Tokens and what each may read.
    pub tokens: BTreeMap<String, Grant>,
}

/// A user as GitHub's `simple-user` schema has it.
fn simple_user(login: &str, id: u64) -> Value {
    let u = format!("https://api.github.com/users/{login}");
    json!({"login": login, "id": id, "node_id": format!("U_{id}"), "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}"),
           "gravatar_id": "", "url": u, "html_url": format!("https://github.com/{login}"),
           "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
           "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
           "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
           "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
           "received_events_url": format!("{u}/received_events"), "type": "User", "site_admin": false})
}

/// GitHub's answer to a fine-grained token without `permission`.
fn not_accessible(permission: &str) -> Resp {
    let mut r = Resp::json(
        403,
        json!({"message": "Resource not accessible by personal access token",
               "documentation_url": "https://docs.github.com/rest"}),
    );
    r.headers.push(("X-Accepted-GitHub-Permissions".into(), format!("{permission}=read")));
    r
}

/// A repository as GitHub's `full-repository` schema has it.
fn repo_json(full: &str, repo: &Repo, admin: bool) -> Value {
    let (owner, name) = full.split_once('/').unwrap_or((full, ""));
    let api = format!("https://api.github.com/repos/{full}");
    let mut v = json!({
        "id": 1_296_269, "node_id": "R_kgDOAAAAAA", "name": name, "full_name": full, "owner": simple_user(owner, 9000),
        "private": true, "html_url": format!("https://github.com/{full}"), "description": null, "fork": false, "url": api,
        "git_url": format!("git://github.com/{full}.git"), "ssh_url": format!("git@github.com:{full}.git"),
        "clone_url": format!("https://github.com/{full}.git"), "mirror_url": null,
        "svn_url": format!("https://github.com/{full}"), "homepage": null, "language": null
    });
    let counts = json!({
        "forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0, "watchers": 0, "size": 1,
        "default_branch": repo.default_branch, "open_issues_count": 0, "open_issues": 0, "is_template": false,
        "topics": [], "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
        "has_downloads": true, "has_discussions": false, "archived": false, "disabled": false, "visibility": "private",
        "pushed_at": "2026-11-20T12:00:00Z", "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-11-20T12:00:00Z",
        "permissions": {"admin": admin, "maintain": admin, "push": true, "triage": true, "pull": true},
        "license": null, "network_count": 0, "subscribers_count": 1
    });
    if let (Some(m), Value::Object(more)) = (v.as_object_mut(), counts) {
        m.extend(more);
    }
    for (key, tail) in [
        ("archive_url", "{archive_format}{/ref}"),
        ("assignees_url", "assignees{/user}"),
        ("blobs_url", "git/blobs{/sha}"),
        ("branches_url", "branches{/branch}"),
        ("collaborators_url", "collaborators{/collaborator}"),
        ("comments_url", "comments{/number}"),
        ("commits_url", "commits{/sha}"),
        ("compare_url", "compare/{base}...{head}"),
        ("contents_url", "contents/{+path}"),
        ("contributors_url", "contributors"),
        ("deployments_url", "deployments"),
        ("downloads_url", "downloads"),
        ("events_url", "events"),
        ("forks_url", "forks"),
        ("git_commits_url", "git/commits{/sha}"),
        ("git_refs_url", "git/refs{/sha}"),
        ("git_tags_url", "git/tags{/sha}"),
        ("issue_comment_url", "issues/comments{/number}"),
        ("issue_events_url", "issues/events{/number}"),
        ("issues_url", "issues{/number}"),
        ("keys_url", "keys{/key_id}"),
        ("labels_url", "labels{/name}"),
        ("languages_url", "languages"),
        ("merges_url", "merges"),
        ("milestones_url", "milestones{/number}"),
        ("notifications_url", "notifications{?since,all,participating}"),
        ("pulls_url", "pulls{/number}"),
        ("releases_url", "releases{/id}"),
        ("stargazers_url", "stargazers"),
        ("statuses_url", "statuses/{sha}"),
        ("subscribers_url", "subscribers"),
        ("subscription_url", "subscription"),
        ("tags_url", "tags"),
        ("teams_url", "teams"),
        ("trees_url", "git/trees{/sha}"),
        ("hooks_url", "hooks"),
    ] {
        v[key] = Value::String(format!("{api}/{tail}"));
    }
    v
}

/// A branch protection rule as `GET .../branches/{branch}/protection` answers it.
fn protection_json(full: &str, branch: &str, p: &BranchProtection, user: impl Fn(&str) -> Value) -> Value {
    let base = format!("https://api.github.com/repos/{full}/branches/{branch}/protection");
    let mut v = json!({
        "url": base, "enabled": true,
        "enforce_admins": {"url": format!("{base}/enforce_admins"), "enabled": p.enforce_admins},
        "required_linear_history": {"enabled": false}, "allow_force_pushes": {"enabled": false},
        "allow_deletions": {"enabled": false}, "block_creations": {"enabled": false},
        "required_conversation_resolution": {"enabled": false}, "lock_branch": {"enabled": false},
        "allow_fork_syncing": {"enabled": false},
        "required_signatures": {"url": format!("{base}/required_signatures"), "enabled": false}
    });
    if let Some(n) = p.required_approvals {
        v["required_pull_request_reviews"] = json!({
            "url": format!("{base}/required_pull_request_reviews"), "dismiss_stale_reviews": p.dismiss_stale,
            "require_code_owner_reviews": false, "required_approving_review_count": n, "require_last_push_approval": false,
            "bypass_pull_request_allowances": {"users": p.bypass_users.iter().map(|l| user(l)).collect::<Vec<_>>(), "teams": [], "apps": []}
        });
    }
    v
}

/// A ruleset as `GET .../rulesets/{id}` answers it; the bypass list only to
/// those who may edit it.
fn ruleset_json(full: &str, r: &Ruleset, admin: bool) -> Value {
    let mut v = json!({
        "id": r.id, "name": r.name, "target": "branch", "source_type": "Repository", "source": full,
        "enforcement": "active", "node_id": format!("RRS_{}", r.id),
        "current_user_can_bypass": if admin && !r.bypass.is_empty() { "always" } else { "never" },
        "_links": {"self": {"href": format!("https://api.github.com/repos/{full}/rulesets/{}", r.id)},
                   "html": {"href": format!("https://github.com/{full}/rules/{}", r.id)}},
        "conditions": {"ref_name": {"include": r.branches.iter().map(|b| format!("refs/heads/{b}")).collect::<Vec<_>>(), "exclude": []}},
        "rules": [{"type": "pull_request", "parameters": {"dismiss_stale_reviews_on_push": r.dismiss_stale,
                   "require_code_owner_review": false, "require_last_push_approval": false,
                   "required_approving_review_count": r.required_approvals, "required_review_thread_resolution": false}}],
        "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-11-20T12:00:00Z"
    });
    if admin {
        v["bypass_actors"] = r
            .bypass
            .iter()
            .map(|(kind, id)| json!({"actor_id": id, "actor_type": kind, "bypass_mode": "always"}))
            .collect();
    }
    v
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// One commit as git knows it.
#[derive(Debug, Clone)]
struct GitCommit {
    sha: String,
    tree: String,
    parents: Vec<String>,
    author_email: String,
    committer_email: String,
    author_name: String,
    date: String,
    message: String,
    changed_files: usize,
}

const FORMAT: &str = "--format=%H%x1f%T%x1f%P%x1f%ae%x1f%ce%x1f%an%x1f%aI%x1f%B%x1e";

fn parse_log(text: &str) -> Vec<GitCommit> {
    text.split('\u{1e}')
        .filter(|r| !r.trim().is_empty())
        .filter_map(|r| {
            let f: Vec<&str> = r.trim_start_matches('\n').splitn(8, '\u{1f}').collect();
            (f.len() == 8).then(|| GitCommit {
                sha: f[0].into(),
                tree: f[1].into(),
                parents: f[2].split_whitespace().map(String::from).collect(),
                author_email: f[3].into(),
                committer_email: f[4].into(),
                author_name: f[5].into(),
                date: f[6].into(),
                message: f[7].trim_end().into(),
                changed_files: 0,
            })
        })
        .collect()
}

impl GitHubStandIn {
    /// A stand-in with a few accounts.
    pub fn new() -> Self {
        let a = |id, login: &str, bot| Account {
            id,
            login: login.into(),
            email: format!("{login}@acme.test"),
            bot,
            can_push: true,
        };
        GitHubStandIn {
            accounts: vec![
                a(1001, "alice", false),
                a(1002, "bob", false),
                a(1003, "carol", false),
                a(1004, "dana", false),
                a(1666, "mallory", false),
                a(41_898_282, "release-bot", true),
                Account { id: 1005, login: "erin".into(), email: "erin@acme.test".into(), bot: false, can_push: false },
                Account {
                    id: WEB_FLOW_ID,
                    login: "web-flow".into(),
                    email: WEB_FLOW_EMAIL.into(),
                    bot: false,
                    can_push: false,
                },
            ],
            tokens: BTreeMap::from([(TOKEN.to_owned(), Grant::ALL)]),
            ..Default::default()
        }
    }

    /// Registers a repository (`owner/name`) backed by `git_dir`; call
    /// again after adding commits to refresh the commit cache.
    pub fn add_repo(&mut self, full_name: &str, git_dir: &Path) {
        let log = git(git_dir, &["log", "--all", FORMAT]).unwrap_or_default();
        let mut commits: BTreeMap<String, GitCommit> =
            parse_log(&log).into_iter().map(|c| (c.sha.clone(), c)).collect();
        // Files changed against the first parent, for every commit at once.
        let names = git(git_dir, &["log", "--all", "--diff-merges=first-parent", "--name-only", "--format=%x1e%H"])
            .unwrap_or_default();
        for record in names.split('\u{1e}').filter(|r| !r.trim().is_empty()) {
            let mut lines = record.lines().filter(|l| !l.is_empty());
            if let Some(c) = lines.next().and_then(|sha| commits.get_mut(sha.trim())) {
                c.changed_files = lines.count();
            }
        }
        // Branch names move when commits are added: forget cached diffs.
        self.pull_files.retain(|key, _| key.0 != git_dir);
        let mut repo = self.repos.remove(full_name).unwrap_or_else(|| Repo {
            git_dir: PathBuf::new(),
            commits: BTreeMap::new(),
            pulls: Vec::new(),
            analyses: Vec::new(),
            analysis_sarif: BTreeMap::new(),
            verified: Vec::new(),
            unsigned: Vec::new(),
            default_branch: "main".into(),
            protection: BTreeMap::new(),
            rulesets: Vec::new(),
        });
        repo.git_dir = git_dir.to_owned();
        repo.commits = commits;
        self.repos.insert(full_name.to_owned(), repo);
    }

    /// Computes the files of every pull request not yet known, four `git`
    /// processes at a time (a query may ask for many; the first one asking
    /// pays for all, unless they are computed beforehand).
    pub fn warm_pull_files(&mut self) {
        let mut wanted: Vec<(PathBuf, String, String)> = Vec::new();
        for repo in self.repos.values() {
            for p in &repo.pulls {
                let key = (repo.git_dir.clone(), pull_onto(p), p.head.clone());
                if !self.pull_files.contains_key(&key) && !wanted.contains(&key) {
                    wanted.push(key);
                }
            }
        }
        for chunk in wanted.chunks(4) {
            let done: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(dir, onto, head)| {
                        s.spawn(move || {
                            // `A...B`: B against the merge base of A and B.
                            git(dir, &["diff", "--name-status", "-M", &format!("{onto}...{head}")]).unwrap_or_default()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
            });
            for (key, diff) in chunk.iter().cloned().zip(done) {
                self.pull_files.insert(key, diff);
            }
        }
    }

    /// Whether `full_name` is registered.
    pub fn has_repo(&self, full_name: &str) -> bool {
        self.repos.contains_key(full_name)
    }

    /// The repository, to add pull requests and analyses.
    pub fn repo_mut(&mut self, full_name: &str) -> &mut Repo {
        self.repos.get_mut(full_name).expect("a registered repository")
    }

    fn account_by_email(&self, email: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.email.eq_ignore_ascii_case(email))
    }

    fn account(&self, login: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.login == login)
    }

    fn user_json(&self, a: Option<&Account>) -> Value {
        match a {
            None => Value::Null,
            Some(a) => {
                json!({"login": a.login, "id": a.id, "type": if a.bot { "Bot" } else { "User" }, "node_id": format!("U_{}", a.id), "site_admin": false})
            }
        }
    }

    fn commit_json(&self, repo: &Repo, c: &GitCommit) -> Value {
        let verified = repo.signed(c);
        json!({
            "sha": c.sha, "node_id": format!("C_{}", c.sha),
            "commit": {"message": c.message, "tree": {"sha": c.tree, "url": ""},
                       "verification": {"verified": verified, "reason": if verified { "valid" } else { "unsigned" },
                                        "signature": null, "payload": null, "verified_at": null},
                       "author": {"name": c.author_name, "email": c.author_email, "date": c.date},
                       "committer": {"name": c.author_name, "email": c.committer_email, "date": c.date},
                       "url": "", "comment_count": 0},
            "author": self.user_json(self.account_by_email(&c.author_email)),
            "committer": self.user_json(self.account_by_email(&c.committer_email)),
            "parents": c.parents.iter().map(|p| json!({"sha": p, "url": ""})).collect::<Vec<_>>(),
            "url": "", "html_url": "", "comments_url": ""
        })
    }

    fn pull_json(&self, p: &Pull) -> Value {
        json!({"number": p.number, "state": if p.merged { "closed" } else { "open" }, "merged": p.merged, "merged_at": p.merged_at,
               "merge_commit_sha": p.merge_commit, "user": self.user_json(self.account(&p.author)),
               "head": {"sha": p.head, "ref": "feature"}, "base": {"ref": p.base_ref, "sha": ""}, "title": format!("PR {}", p.number)})
    }

    /// A login as a `simple-user`.
    fn simple_user_of(&self, login: &str) -> Value {
        simple_user(login, self.account(login).map_or(9999, |a| a.id))
    }

    /// A pull request as the pull request list (`pull-request-simple`) has it.
    fn pull_simple_json(&self, full: &str, repo: &Repo, p: &Pull) -> Value {
        let api = format!("https://api.github.com/repos/{full}");
        let url = format!("{api}/pulls/{}", p.number);
        let html = format!("https://github.com/{full}/pull/{}", p.number);
        let href = |h: String| json!({"href": h});
        let owner = full.split('/').next().unwrap_or_default();
        let end = |sha: &str, r: &str| {
            json!({"label": format!("{owner}:{r}"), "ref": r, "sha": sha, "user": simple_user(owner, 9000),
                   "repo": repo_json(full, repo, false)})
        };
        json!({
            "url": url, "id": 1000 + p.number, "node_id": format!("PR_{}", p.number), "html_url": html,
            "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
            "issue_url": format!("{api}/issues/{}", p.number), "commits_url": format!("{url}/commits"),
            "review_comments_url": format!("{url}/comments"), "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
            "comments_url": format!("{api}/issues/{}/comments", p.number), "statuses_url": format!("{api}/statuses/{}", p.head),
            "number": p.number, "state": if p.merged { "closed" } else { "open" }, "locked": false,
            "title": format!("PR {}", p.number), "user": self.simple_user_of(&p.author), "body": null, "labels": [],
            "milestone": null, "created_at": "2026-11-19T12:00:00Z", "updated_at": "2026-11-20T12:00:00Z",
            "closed_at": p.merged_at, "merged_at": p.merged_at, "merge_commit_sha": p.merge_commit, "assignee": null,
            "head": end(&p.head, "feature"), "base": end("", &p.base_ref),
            "_links": {"self": href(url.clone()), "html": href(html.clone()), "issue": href(format!("{api}/issues/{}", p.number)),
                       "comments": href(format!("{api}/issues/{}/comments", p.number)),
                       "review_comments": href(format!("{url}/comments")),
                       "review_comment": href(format!("{api}/pulls/comments{{/number}}")),
                       "commits": href(format!("{url}/commits")), "statuses": href(format!("{api}/statuses/{}", p.head))},
            "author_association": "MEMBER", "auto_merge": null
        })
    }

    /// Handles REST and GraphQL requests.
    pub fn handle(&mut self, req: &Req) -> Resp {
        self.requests += 1;
        let grant =
            req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).and_then(|t| self.tokens.get(t));
        let Some(&grant) = grant else {
            return Resp::json(
                401,
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
            );
        };
        if req.path == "/graphql" {
            let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                return Resp::json(400, json!({"message": "Problems parsing JSON"}));
            };
            let query = body.get("query").and_then(Value::as_str).unwrap_or_default().to_owned();
            let vars = body.get("variables").and_then(Value::as_object).cloned().unwrap_or_default();
            if query.contains("files(") {
                self.warm_pull_files();
            }
            return Resp::json(200, graphql::execute(&Graph(self), &query, &vars));
        }
        let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["user", id] if req.method == "GET" => self.user_get(id),
            ["orgs", org, "teams", slug, "members"] => self.team_members(org, slug, req),
            ["repos", owner, name, rest @ ..] => self.repo_route(owner, name, rest, req, grant),
            _ => Resp::json(404, json!({"message": "Not Found"})),
        }
    }

    /// `GET /user/{id}`: the account with that id, as GitHub describes a
    /// user.
    fn user_get(&self, id: &str) -> Resp {
        match self.accounts.iter().find(|a| id.parse::<u64>().is_ok_and(|n| n == a.id)) {
            None => {
                Resp::json(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}))
            }
            Some(a) => {
                let mut u = simple_user(&a.login, a.id);
                let extra = json!({"type": if a.bot { "Bot" } else { "User" }, "name": a.login, "company": null, "blog": "",
                    "location": null, "email": null, "hireable": null, "bio": null, "public_repos": 0, "public_gists": 0,
                    "followers": 0, "following": 0, "created_at": "2020-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                    "user_view_type": "public"});
                if let (Some(o), Some(e)) = (u.as_object_mut(), extra.as_object()) {
                    o.extend(e.clone());
                }
                Resp::json(200, u)
            }
        }
    }

    /// `/orgs/{org}/teams/{slug}/members`: a page of a team's members.
    fn team_members(&self, org: &str, slug: &str, req: &Req) -> Resp {
        let Some(members) = self.teams.get(&format!("{org}/{slug}")) else {
            return Resp::json(404, json!({"message": "Not Found"}));
        };
        let per: usize = req.query("per_page").and_then(|v| v.parse().ok()).unwrap_or(30).clamp(1, 100);
        let page: usize = req.query("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
        let list: Vec<Value> = members
            .iter()
            .skip((page - 1) * per)
            .take(per)
            .map(|login| {
                let id = self.accounts.iter().find(|a| a.login == *login).map_or(9999, |a| a.id);
                simple_user(login, id)
            })
            .collect();
        Resp::json(200, Value::Array(list))
    }

    /// `/repos/{owner}/{name}/...`: the repository's routes, each refused
    /// without the permission of the token it needs.
    fn repo_route(&self, owner: &str, name: &str, rest: &[&str], req: &Req, grant: Grant) -> Resp {
        let full = format!("{owner}/{name}");
        let Some(repo) = self.repos.get(&full).cloned() else {
            return Resp::json(404, json!({"message": "Not Found"}));
        };
        let needs = match rest.first() {
            Some(&("compare" | "commits")) => Some(("contents", grant.contents)),
            Some(&("pulls" | "issues")) => Some(("pull_requests", grant.pull_requests)),
            Some(&"code-scanning") => Some(("security_events", grant.code_scanning)),
            _ => None,
        };
        if let Some((permission, false)) = needs {
            return not_accessible(permission);
        }
        match rest {
            [] => Resp::json(200, repo_json(&full, &repo, grant.administration)),
            ["pulls"] => self.pulls_list(&full, &repo, req),
            ["branches", branch @ .., "protection"] if !branch.is_empty() => {
                self.branch_protection(branch, &full, &repo, grant)
            }
            ["rules", "branches", branch @ ..] if !branch.is_empty() => Self::branch_rules(branch, &full, &repo),
            ["rulesets", id] => match repo.rulesets.iter().find(|r| id.parse() == Ok(r.id)) {
                Some(r) => Resp::json(200, ruleset_json(&full, r, grant.administration)),
                None => Resp::json(404, json!({"message": "Not Found"})),
            },
            // A branch name may hold slashes (sent encoded as %2F).
            ["compare", basehead @ ..] if !basehead.is_empty() => self.compare(&repo, &basehead.join("/"), req),
            ["commits", sha] => self.commit_get(sha, &repo),
            ["commits", sha, "pulls"] => self.commit_pulls(sha, &repo),
            ["pulls", n, rest @ ..] => self.pull_route(n, rest, &repo),
            ["issues", n, "timeline"] => Self::timeline(n, &repo),
            ["code-scanning", "analyses"] => Self::analyses_list(&repo, req),
            ["code-scanning", "analyses", id] => Self::analysis_get(id, &repo, req),
            _ => Resp::json(404, json!({"message": "Not Found"})),
        }
    }

    /// `pulls`: a page of the pull requests in the state asked for, newest
    /// first.
    fn pulls_list(&self, full: &str, repo: &Repo, req: &Req) -> Resp {
        let state = req.query("state").unwrap_or("open");
        let per: usize = req.query("per_page").and_then(|v| v.parse().ok()).unwrap_or(30).clamp(1, 100);
        let page: usize = req.query("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
        let list: Vec<Value> = repo
            .pulls
            .iter()
            .rev()
            .filter(|p| state == "all" || (state == "closed") == p.merged)
            .skip((page - 1) * per)
            .take(per)
            .map(|p| self.pull_simple_json(full, repo, p))
            .collect();
        Resp::json(200, Value::Array(list))
    }

    /// `branches/{branch}/protection`: a branch's protection, visible only
    /// with the administration permission.
    fn branch_protection(&self, branch: &[&str], full: &str, repo: &Repo, grant: Grant) -> Resp {
        let branch = branch.join("/");
        if !grant.administration {
            return Resp::json(
                404,
                json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"}),
            );
        }
        match repo.protection.get(&branch) {
            Some(p) => Resp::json(200, protection_json(full, &branch, p, |l| self.simple_user_of(l))),
            None => Resp::json(
                404,
                json!({"message": "Branch not protected", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"}),
            ),
        }
    }

    /// `rules/branches/{branch}`: the pull request rules of the rulesets that
    /// apply to a branch.
    fn branch_rules(branch: &[&str], full: &str, repo: &Repo) -> Resp {
        let branch = branch.join("/");
        let list: Vec<Value> = repo
            .rulesets
            .iter()
            .filter(|r| r.branches.contains(&branch))
            .map(|r| {
                json!({"type": "pull_request", "ruleset_source_type": "Repository", "ruleset_source": full, "ruleset_id": r.id,
                       "parameters": {"dismiss_stale_reviews_on_push": r.dismiss_stale, "require_code_owner_review": false,
                                      "require_last_push_approval": false, "required_approving_review_count": r.required_approvals,
                                      "required_review_thread_resolution": false}})
            })
            .collect();
        Resp::json(200, Value::Array(list))
    }

    /// `commits/{sha}`: a commit and the files it changes against its first
    /// parent.
    fn commit_get(&self, sha: &str, repo: &Repo) -> Resp {
        match git(&repo.git_dir, &["show", "-s", FORMAT, sha]) {
            Ok(t) => {
                let Some(c) = parse_log(&t).pop() else {
                    return Resp::json(404, json!({"message": "No commit found"}));
                };
                let files = git(
                    &repo.git_dir,
                    &[
                        "diff-tree",
                        "--no-commit-id",
                        "--root",
                        "-r",
                        "-M",
                        "--name-status",
                        "-m",
                        "--first-parent",
                        sha,
                    ],
                )
                .unwrap_or_default();
                let mut v = self.commit_json(repo, &c);
                v["files"] = Value::Array(files.lines().filter_map(rest_file).collect());
                Resp::json(200, v)
            }
            Err(_) => Resp::json(422, json!({"message": format!("No commit found for SHA: {sha}")})),
        }
    }

    /// `commits/{sha}/pulls`: the pull requests that hold or landed a commit.
    fn commit_pulls(&self, sha: &str, repo: &Repo) -> Resp {
        let list: Vec<Value> = repo
            .pulls
            .iter()
            .filter(|p| {
                p.merge_commit.as_deref() == Some(sha)
                    || p.landed.iter().any(|l| l == sha)
                    || p.commits.iter().any(|c| c == sha)
            })
            .map(|p| self.pull_json(p))
            .collect();
        Resp::json(200, Value::Array(list))
    }

    /// `pulls/{n}/...`: a pull request, its reviews or its commits.
    fn pull_route(&self, n: &str, rest: &[&str], repo: &Repo) -> Resp {
        let Some(p) = n.parse::<u64>().ok().and_then(|n| repo.pulls.iter().find(|p| p.number == n)) else {
            return Resp::json(404, json!({"message": "Not Found"}));
        };
        match rest {
            [] => Resp::json(200, self.pull_json(p)),
            ["reviews"] => Resp::json(
                200,
                Value::Array(p.reviews.iter().map(|r| json!({"id": r.id, "node_id": "", "user": self.user_json(self.account(&r.author)), "body": "", "state": r.state, "commit_id": r.commit, "submitted_at": r.submitted_at, "html_url": "", "pull_request_url": "", "author_association": "MEMBER", "_links": {}})).collect()),
            ),
            ["commits"] => {
                let cs: Vec<Value> = p.commits.iter().filter_map(|c| repo.commits.get(c)).map(|c| self.commit_json(repo, c)).collect();
                Resp::json(200, Value::Array(cs))
            }
            _ => Resp::json(404, json!({"message": "Not Found"})),
        }
    }

    /// `issues/{n}/timeline`: a pull request's events.
    fn timeline(n: &str, repo: &Repo) -> Resp {
        let Some(p) = n.parse::<u64>().ok().and_then(|n| repo.pulls.iter().find(|p| p.number == n)) else {
            return Resp::json(404, json!({"message": "Not Found"}));
        };
        let events: Vec<Value> = p.events.iter().map(|e| json!({"event": e.item_type().to_ascii_lowercase(), "created_at": match e {
            Event::ForcePushed { at, .. } | Event::ReviewDismissed { at, .. } | Event::BaseRefChanged { at, .. } | Event::Merged { at, .. } => at.clone(),
        }})).collect();
        Resp::json(200, Value::Array(events))
    }

    /// `code-scanning/analyses`: a page of the analyses of a ref, newest first.
    fn analyses_list(repo: &Repo, req: &Req) -> Resp {
        // Newest first (analyses are added oldest first), paged.
        let r = req.query("ref").unwrap_or_default();
        let full = if r.starts_with("refs/") { r.to_owned() } else { format!("refs/heads/{r}") };
        let per_page: usize = req.query("per_page").and_then(|p| p.parse().ok()).unwrap_or(30).min(100);
        let page: usize = req.query("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
        let list: Vec<Value> = repo
            .analyses
            .iter()
            .rev()
            .filter(|a| a["ref"] == full.as_str())
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect();
        Resp::json(200, Value::Array(list))
    }

    /// `code-scanning/analyses/{id}`: an analysis, or its SARIF document when
    /// asked for.
    fn analysis_get(id: &str, repo: &Repo, req: &Req) -> Resp {
        let id: Option<u64> = id.parse().ok();
        let Some(a) = repo.analyses.iter().find(|a| a["id"].as_u64() == id) else {
            return Resp::json(404, json!({"message": "Not Found"}));
        };
        if req.header("accept").is_some_and(|h| h.contains("sarif")) {
            match id.and_then(|i| repo.analysis_sarif.get(&i)) {
                Some(doc) => {
                    let mut r = Resp::json(200, doc.clone());
                    for (k, v) in &mut r.headers {
                        if k.eq_ignore_ascii_case("content-type") {
                            *v = "application/sarif+json".into();
                        }
                    }
                    r
                }
                None => Resp::json(404, json!({"message": "Not Found"})),
            }
        } else {
            Resp::json(200, a.clone())
        }
    }

    fn compare(&self, repo: &Repo, basehead: &str, req: &Req) -> Resp {
        let Some((base, head)) = basehead.split_once("...") else {
            return Resp::json(404, json!({"message": "Not Found"}));
        };
        let dir = &repo.git_dir;
        let resolve =
            |r: &str| git(dir, &["rev-parse", "--verify", &format!("{r}^{{commit}}")]).map(|s| s.trim().to_owned());
        let (Ok(b), Ok(h)) = (resolve(base), resolve(head)) else {
            return Resp::json(404, json!({"message": "Not Found"}));
        };
        let ancestor = |a: &str, d: &str| git(dir, &["merge-base", "--is-ancestor", a, d]).is_ok();
        let status = if b == h {
            "identical"
        } else if ancestor(&b, &h) {
            "ahead"
        } else if ancestor(&h, &b) {
            "behind"
        } else {
            "diverged"
        };
        let all = parse_log(
            &git(dir, &["log", "--reverse", "--topo-order", FORMAT, &format!("{b}..{h}")]).unwrap_or_default(),
        );
        let behind = git(dir, &["rev-list", "--count", &format!("{h}..{b}")])
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let per_page: usize = req.query("per_page").and_then(|p| p.parse().ok()).unwrap_or(250).clamp(1, 250);
        let page: usize = req.query("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
        let commits: Vec<Value> =
            all.iter().skip((page - 1) * per_page).take(per_page).map(|c| self.commit_json(repo, c)).collect();
        Resp::json(
            200,
            json!({
                "url": "", "html_url": "", "permalink_url": "", "diff_url": "", "patch_url": "",
                "base_commit": {"sha": b}, "merge_base_commit": {"sha": b},
                "status": status, "ahead_by": all.len(), "behind_by": behind, "total_commits": all.len(),
                "commits": commits, "files": []
            }),
        )
    }
}

/// Where a pull request's head forked from: the branch before it landed,
/// or its base branch while open.
fn pull_onto(p: &Pull) -> String {
    match (p.landed.first(), &p.merge_commit) {
        (Some(first), _) => format!("{first}^1"),
        (None, Some(m)) if p.merged => format!("{m}^1"),
        _ => p.base_ref.clone(),
    }
}

/// A `--name-status` line as a REST file entry.
fn rest_file(line: &str) -> Option<Value> {
    let parts: Vec<&str> = line.split('\t').collect();
    let (status, path, previous) = match parts.as_slice() {
        [st, from, to] if st.starts_with('R') => ("renamed", *to, Some(*from)),
        [st, from, to] if st.starts_with('C') => ("copied", *to, Some(*from)),
        [st, path] => (
            match *st {
                "A" => "added",
                "D" => "removed",
                "T" => "changed",
                _ => "modified",
            },
            *path,
            None,
        ),
        _ => return None,
    };
    let mut v = json!({"filename": path, "status": status, "sha": "", "additions": 0, "deletions": 0, "changes": 0,
                       "blob_url": "", "raw_url": "", "contents_url": ""});
    if let Some(p) = previous {
        v["previous_filename"] = json!(p);
    }
    Some(v)
}

/// The GraphQL view of the stand-in.
struct Graph<'a>(&'a GitHubStandIn);

/// A node of the GraphQL graph.
#[derive(Debug, Clone)]
enum Node {
    Query,
    Repository(String),
    Commit(String, String),
    Blob(String),
    Pull(String, u64),
    Review(String, u64, u64),
    Event(String, u64, usize),
    Account(Option<String>),
    GitActor(String),
    Connection(Vec<Node>, usize, usize, usize),
    PullCommit(String, String),
    Tree(String),
    /// A folder at a commit: repository, tree id.
    Folder(String, String),
    /// A folder's entry: name, type, object id.
    TreeEntry(String, String, String),
    PageInfo(bool, usize),
    Signature,
    ChangedFile(String, String),
    BranchRef(String),
}

impl Graph<'_> {
    fn repo(&self, full: &str) -> Result<&Repo, String> {
        self.0.repos.get(full).ok_or_else(|| format!("Could not resolve to a Repository with the name '{full}'."))
    }

    fn commit(&self, full: &str, oid: &str) -> Result<GitCommit, String> {
        let repo = self.repo(full)?;
        if let Some(c) = repo.commits.get(oid) {
            return Ok(c.clone());
        }
        let t = git(&repo.git_dir, &["show", "-s", FORMAT, oid])
            .map_err(|e| format!("Could not resolve to a Commit: {e}"))?;
        parse_log(&t).pop().ok_or_else(|| "no such commit".into())
    }

    fn pull(&self, full: &str, n: u64) -> Result<&Pull, String> {
        self.repo(full)?
            .pulls
            .iter()
            .find(|p| p.number == n)
            .ok_or_else(|| format!("{}Could not resolve to a PullRequest with the number of {n}.", graphql::NOT_FOUND))
    }

    /// The files a pull request changes: its head against where it forked
    /// from the base (before it landed, for a merged one).
    fn pull_files(&self, r: &str, p: &Pull) -> Result<Vec<Node>, String> {
        let dir = &self.repo(r)?.git_dir;
        let onto = pull_onto(p);
        let key = (dir.clone(), onto.clone(), p.head.clone());
        let diff = match self.0.pull_files.get(&key) {
            Some(d) => d.clone(),
            None => git(dir, &["diff", "--name-status", "-M", &format!("{onto}...{}", p.head)]).unwrap_or_default(),
        };
        Ok(diff
            .lines()
            .filter_map(|l| {
                let parts: Vec<&str> = l.split('\t').collect();
                let change = match parts.first()?.chars().next()? {
                    'A' => "ADDED",
                    'D' => "DELETED",
                    'R' => "RENAMED",
                    'C' => "COPIED",
                    'T' => "CHANGED",
                    _ => "MODIFIED",
                };
                Some(Node::ChangedFile((*parts.last()?).to_owned(), change.to_owned()))
            })
            .collect())
    }

    /// A connection over `items`, honouring `first` and `after` (cursor = index).
    fn connection(items: Vec<Node>, args: &Map<String, Value>) -> Resolved<Node> {
        let first = args.get("first").and_then(Value::as_u64).unwrap_or(100).min(100) as usize;
        let after =
            args.get("after").and_then(Value::as_str).and_then(|c| c.parse::<usize>().ok()).map_or(0, |i| i + 1);
        let total = items.len();
        Resolved::Object(Node::Connection(items, after, first, total))
    }

    /// `Repository.object`: the commit of an `oid`, or the tree or blob an
    /// `expression` names; null when there is none.
    fn repository_object(&self, r: &str, args: &Map<String, Value>) -> Result<Resolved<Node>, String> {
        if let Some(oid) = args.get("oid").and_then(Value::as_str) {
            return match self.commit(r, oid) {
                Ok(c) => obj(Node::Commit(r.to_owned(), c.sha)),
                Err(_) => leaf(Value::Null),
            };
        }
        let expr = args.get("expression").and_then(Value::as_str).unwrap_or_default();
        let dir = &self.repo(r)?.git_dir;
        match git(dir, &["cat-file", "-t", expr]).as_deref().map(str::trim) {
            Ok("tree") => match git(dir, &["rev-parse", expr]) {
                Ok(oid) => obj(Node::Folder(r.to_owned(), oid.trim().to_owned())),
                Err(_) => leaf(Value::Null),
            },
            Ok(_) => match git(dir, &["show", expr]) {
                Ok(text) => obj(Node::Blob(text)),
                Err(_) => leaf(Value::Null),
            },
            Err(_) => leaf(Value::Null),
        }
    }

    /// A field of a commit.
    fn commit_field(&self, r: &str, oid: &str, f: &str, args: &Map<String, Value>) -> Result<Resolved<Node>, String> {
        let c = self.commit(r, oid)?;
        match f {
            "oid" => leaf(json!(c.sha)),
            "messageHeadline" => leaf(json!(c.message.lines().next().unwrap_or_default())),
            "tree" => obj(Node::Tree(c.tree)),
            "parents" => {
                Ok(Self::connection(c.parents.iter().map(|p| Node::Commit(r.to_owned(), p.clone())).collect(), args))
            }
            "author" => obj(Node::GitActor(c.author_email)),
            "committer" => obj(Node::GitActor(c.committer_email)),
            "committedViaWeb" => {
                leaf(json!(c.committer_email == WEB_FLOW_EMAIL && !self.repo(r)?.unsigned.contains(&c.sha)))
            }
            "signature" => {
                if self.repo(r)?.signed(&c) {
                    obj(Node::Signature)
                } else {
                    leaf(Value::Null)
                }
            }
            "changedFilesIfAvailable" => leaf(json!(c.changed_files)),
            "associatedPullRequests" => {
                let pulls: Vec<Node> = self
                    .repo(r)?
                    .pulls
                    .iter()
                    .filter(|p| !p.unindexed)
                    .filter(|p| {
                        p.merge_commit.as_deref() == Some(&c.sha)
                            || p.landed.contains(&c.sha)
                            || p.commits.contains(&c.sha)
                    })
                    .map(|p| Node::Pull(r.to_owned(), p.number))
                    .collect();
                Ok(Self::connection(pulls, args))
            }
            _ => Err(format!("Field '{f}' doesn't exist on type 'Commit'")),
        }
    }

    /// `Tree.entries` of a folder: each entry's name, kind and object id.
    fn folder_entries(&self, r: &str, oid: &str) -> Result<Resolved<Node>, String> {
        let listing = git(&self.repo(r)?.git_dir, &["ls-tree", oid]).map_err(|e| e.to_string())?;
        Ok(Resolved::List(
            listing
                .lines()
                .filter_map(|l| {
                    let (meta, name) = l.split_once('\t')?;
                    let mut m = meta.split_whitespace();
                    let (_, kind, id) = (m.next()?, m.next()?, m.next()?);
                    Some(Resolved::Object(Node::TreeEntry(name.to_owned(), kind.to_owned(), id.to_owned())))
                })
                .collect(),
        ))
    }

    /// A field of a pull request.
    fn pull_field(&self, r: &str, n: u64, f: &str, args: &Map<String, Value>) -> Result<Resolved<Node>, String> {
        let p = self.pull(r, n)?;
        match f {
            "number" => leaf(json!(p.number)),
            "merged" => leaf(json!(p.merged)),
            "mergedAt" => leaf(json!(p.merged_at)),
            "baseRefName" => leaf(json!(p.base_ref)),
            "headRefOid" => leaf(json!(p.head)),
            "mergeCommit" => match &p.merge_commit {
                Some(m) => obj(Node::Commit(r.to_owned(), m.clone())),
                None => leaf(Value::Null),
            },
            "baseRepository" => obj(Node::Repository(r.to_owned())),
            "author" => obj(Node::Account(Some(p.author.clone()))),
            "files" => Ok(Self::connection(self.pull_files(r, p)?, args)),
            "commits" => Ok(Self::connection(
                p.commits.iter().map(|c| Node::PullCommit(r.to_owned(), c.clone())).collect(),
                args,
            )),
            "reviews" => {
                Ok(Self::connection(p.reviews.iter().map(|rv| Node::Review(r.to_owned(), n, rv.id)).collect(), args))
            }
            "timelineItems" => {
                let types: Vec<String> = args
                    .get("itemTypes")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                let events: Vec<Node> = p
                    .events
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| types.is_empty() || types.iter().any(|t| t == e.item_type()))
                    .map(|(i, _)| Node::Event(r.to_owned(), n, i))
                    .collect();
                Ok(Self::connection(events, args))
            }
            _ => Err(format!("Field '{f}' doesn't exist on type 'PullRequest'")),
        }
    }

    /// A field of a pull request's review.
    fn review_field(&self, r: &str, n: u64, id: u64, f: &str) -> Result<Resolved<Node>, String> {
        let rv = self.pull(r, n)?.reviews.iter().find(|x| x.id == id).ok_or("no such review")?;
        match f {
            "fullDatabaseId" => leaf(json!(rv.id.to_string())),
            "state" => leaf(json!(rv.state)),
            // A pending review has not been submitted.
            "submittedAt" => leaf(if rv.submitted_at.is_empty() { Value::Null } else { json!(rv.submitted_at) }),
            "commit" => obj(Node::Commit(r.to_owned(), rv.commit.clone())),
            "author" => obj(Node::Account(Some(rv.author.clone()))),
            "authorCanPushToRepository" => leaf(json!(self.0.account(&rv.author).is_some_and(|a| a.can_push))),
            _ => Err(format!("Field '{f}' doesn't exist on type 'PullRequestReview'")),
        }
    }

    /// A field of a pull request's timeline event.
    fn event_field(&self, r: &str, n: u64, i: usize, f: &str) -> Result<Resolved<Node>, String> {
        let e = &self.pull(r, n)?.events[i];
        match (e, f) {
            (
                Event::ForcePushed { at, .. }
                | Event::ReviewDismissed { at, .. }
                | Event::BaseRefChanged { at, .. }
                | Event::Merged { at, .. },
                "createdAt",
            ) => leaf(json!(at)),
            (
                Event::ForcePushed { actor, .. } | Event::ReviewDismissed { actor, .. } | Event::Merged { actor, .. },
                "actor",
            ) => obj(Node::Account(Some(actor.clone()))),
            (Event::ForcePushed { before, .. }, "beforeCommit") => obj(Node::Commit(r.to_owned(), before.clone())),
            (Event::ForcePushed { after, .. }, "afterCommit") => obj(Node::Commit(r.to_owned(), after.clone())),
            (Event::ReviewDismissed { previous_state, .. }, "previousReviewState") => leaf(json!(previous_state)),
            (Event::ReviewDismissed { review, .. }, "review") => obj(Node::Review(r.to_owned(), n, *review)),
            (Event::BaseRefChanged { previous, .. }, "previousRefName") => leaf(json!(previous)),
            (Event::BaseRefChanged { current, .. }, "currentRefName") => leaf(json!(current)),
            (Event::Merged { commit, .. }, "commit") => obj(Node::Commit(r.to_owned(), commit.clone())),
            (Event::Merged { .. }, "mergeRefName") => leaf(json!("main")),
            _ => Err(format!("Field '{f}' doesn't exist on type '{}'", e.typename())),
        }
    }
}

impl Resolver for Graph<'_> {
    type Node = Node;

    fn root(&self) -> Node {
        Node::Query
    }

    fn typename(&self, n: &Node) -> String {
        match n {
            Node::Query => "Query".into(),
            Node::Repository(_) => "Repository".into(),
            Node::Commit(..) => "Commit".into(),
            Node::Blob(..) => "Blob".into(),
            Node::Pull(..) => "PullRequest".into(),
            Node::Review(..) => "PullRequestReview".into(),
            Node::Event(r, n, i) => self.pull(r, *n).map(|p| p.events[*i].typename().to_owned()).unwrap_or_default(),
            Node::Account(Some(login)) => {
                if self.0.account(login).is_some_and(|a| a.bot) {
                    "Bot".into()
                } else {
                    "User".into()
                }
            }
            Node::Account(None) => "User".into(),
            Node::GitActor(_) => "GitActor".into(),
            Node::Connection(..) => "Connection".into(),
            Node::PullCommit(..) => "PullRequestCommit".into(),
            Node::Tree(_) | Node::Folder(..) => "Tree".into(),
            Node::TreeEntry(..) => "TreeEntry".into(),
            Node::PageInfo(..) => "PageInfo".into(),
            Node::Signature => "GpgSignature".into(),
            Node::ChangedFile(..) => "PullRequestChangedFile".into(),
            Node::BranchRef(_) => "Ref".into(),
        }
    }

    fn is_a(&self, n: &Node, ty: &str) -> bool {
        let t = self.typename(n);
        t == ty
            || (ty == "Actor" && matches!(n, Node::Account(_)))
            || ty.ends_with("Connection") && matches!(n, Node::Connection(..))
    }

    fn field(&self, node: &Node, name: &str, args: &Map<String, Value>) -> Result<Resolved<Node>, String> {
        match (node, name) {
            (Node::Query, "repository") => {
                let full = format!(
                    "{}/{}",
                    args["owner"].as_str().unwrap_or_default(),
                    args["name"].as_str().unwrap_or_default()
                );
                self.repo(&full).map_err(|e| format!("{}{e}", graphql::NOT_FOUND))?;
                obj(Node::Repository(full))
            }
            (Node::Repository(r), "object") => self.repository_object(r, args),
            (Node::Repository(r), "pullRequest") => {
                let n = args.get("number").and_then(Value::as_u64).ok_or("number is required")?;
                self.pull(r, n)?;
                obj(Node::Pull(r.clone(), n))
            }
            (Node::Commit(r, oid), f) => self.commit_field(r, oid, f, args),
            (Node::Tree(oid) | Node::Folder(_, oid), "oid") => leaf(json!(oid)),
            (Node::Folder(r, oid), "entries") => self.folder_entries(r, oid),
            (Node::TreeEntry(name, kind, oid), f) => match f {
                "name" => leaf(json!(name)),
                "type" => leaf(json!(kind)),
                "oid" => leaf(json!(oid)),
                _ => Err(format!("Field '{f}' doesn't exist on type 'TreeEntry'")),
            },
            (Node::GitActor(email), "user") => match self.0.account_by_email(email) {
                Some(a) => obj(Node::Account(Some(a.login.clone()))),
                None => leaf(Value::Null),
            },
            (Node::GitActor(email), "email") => leaf(json!(email)),
            (Node::Blob(text), f) => match f {
                "text" => leaf(json!(text)),
                "byteSize" => leaf(json!(text.len())),
                "isBinary" => leaf(json!(false)),
                "isTruncated" => leaf(json!(false)),
                "oid" => leaf(json!(crate::base::digest::Sha256Digest::of(text.as_bytes()).hex()[..40])),
                _ => Err(format!("Field '{f}' doesn't exist on type 'Blob'")),
            },
            (Node::Account(login), f) => {
                let a = login.as_deref().and_then(|l| self.0.account(l));
                match f {
                    "login" => leaf(json!(login.clone().unwrap_or_else(|| "ghost".into()))),
                    "databaseId" => leaf(a.map_or(Value::Null, |a| json!(a.id))),
                    _ => Err(format!("Field '{f}' doesn't exist on type 'User'")),
                }
            }
            (Node::Pull(r, n), f) => self.pull_field(r, *n, f, args),
            (Node::Repository(r), "nameWithOwner") => leaf(json!(r)),
            (Node::Repository(r), "defaultBranchRef") => obj(Node::BranchRef(self.repo(r)?.default_branch.clone())),
            (Node::BranchRef(name), "name") => leaf(json!(name)),
            (Node::Signature, "isValid" | "wasSignedByGitHub") => leaf(json!(true)),
            (Node::ChangedFile(path, change), f) => match f {
                "path" => leaf(json!(path)),
                "changeType" => leaf(json!(change)),
                _ => Err(format!("Field '{f}' doesn't exist on type 'PullRequestChangedFile'")),
            },
            (Node::PullCommit(r, oid), "commit") => obj(Node::Commit(r.clone(), oid.clone())),
            (Node::Review(r, n, id), f) => self.review_field(r, *n, *id, f),
            (Node::Event(r, n, i), f) => self.event_field(r, *n, *i, f),
            (Node::Connection(items, start, first, total), f) => connection_field(items, *start, *first, *total, f),
            (Node::PageInfo(more, last), f) => match f {
                "hasNextPage" => leaf(json!(more)),
                "endCursor" => leaf(json!(last.to_string())),
                _ => Err(format!("Field '{f}' doesn't exist on type 'PageInfo'")),
            },
            (_, f) => Err(format!("Field '{f}' doesn't exist")),
        }
    }
}

/// A resolved leaf value.
fn leaf(v: Value) -> Result<Resolved<Node>, String> {
    Ok(Resolved::Leaf(v))
}

/// A resolved object.
fn obj(n: Node) -> Result<Resolved<Node>, String> {
    Ok(Resolved::Object(n))
}

/// A field of a connection: its page of nodes (from `start`, `first` of
/// them), its total, and its page info.
fn connection_field(
    items: &[Node],
    start: usize,
    first: usize,
    total: usize,
    f: &str,
) -> Result<Resolved<Node>, String> {
    match f {
        "nodes" => Ok(Resolved::List(items.iter().skip(start).take(first).cloned().map(Resolved::Object).collect())),
        "totalCount" => leaf(json!(total)),
        "pageInfo" => obj(Node::PageInfo(start + first < total, (start + first).min(total).saturating_sub(1))),
        _ => Err(format!("Field '{f}' doesn't exist on a connection")),
    }
}
