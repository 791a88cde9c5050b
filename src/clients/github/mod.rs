//! The GitHub client: REST for the range of a deploy and code scanning,
//! GraphQL (batched with aliases) for pull requests, reviews and timelines,
//! so the number of requests does not grow with the number of commits.
//!
//! `GITHUB_API_URL` (default `https://api.github.com`; GitHub Enterprise
//! Server `https://HOST/api/v3`) and `GITHUB_TOKEN`. The GraphQL endpoint
//! is `GITHUB_API_URL/graphql`, or `https://HOST/api/graphql` when the REST
//! URL ends in `/api/v3`; `GITHUB_GRAPHQL_URL` (the variable GitHub's own
//! runners set) overrides it.

pub(crate) mod queries;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::{Value, json};
use ureq::http::Method;

use crate::base::env::Env;
use crate::clients::http::{ApiError, Auth, Http, RetryPolicy, Secret, SetupError, percent_encode};

/// The default REST base.
pub(crate) const DEFAULT_API_URL: &str = "https://api.github.com";

/// The id of GitHub's `web-flow` account: the committer of the commits
/// GitHub itself makes (merge button, squash, rebase, web edits), signed
/// with GitHub's key.
pub(crate) const WEB_FLOW_ID: u64 = 19_864_447;

/// GitHub connection settings.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// REST base.
    pub api_url: String,
    /// GraphQL endpoint, when not derived from `api_url` ([`graphql_url`]).
    pub graphql_url: Option<String>,
    /// Token.
    pub token: Secret,
    /// Where git data is fetched from, when not derived from `api_url`
    /// ([`git_url_template`]); `{owner}` and `{repo}` are replaced.
    pub git_url: Option<String>,
}

impl GitHubSettings {
    /// From `GITHUB_TOKEN`, `GITHUB_API_URL` and `GITHUB_GRAPHQL_URL`.
    pub fn from_env(env: &Env) -> Result<Self, crate::base::env::MissingVars> {
        let [token] = env.require(["GITHUB_TOKEN"])?;
        Ok(GitHubSettings {
            api_url: env.get("GITHUB_API_URL").unwrap_or(DEFAULT_API_URL).to_owned(),
            graphql_url: env.get("GITHUB_GRAPHQL_URL").map(str::to_owned),
            token: Secret::new(token),
            git_url: env.get("CHANGEGATE_GIT_URL").map(str::to_owned),
        })
    }
}

/// The GraphQL endpoint for a REST base.
pub(crate) fn graphql_url(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`, each part encoded.
fn compare_path(owner: &str, repo: &str, base: &str, head: &str) -> String {
    let e = percent_encode;
    format!("/repos/{}/{}/compare/{}...{}", e(owner), e(repo), e(base), e(head))
}

/// Where a repository's git data is fetched from, for a REST base:
/// `https://github.com/{owner}/{repo}.git` for github.com, the server's host
/// for GitHub Enterprise Server (`https://HOST/api/v3`).
pub(crate) fn git_url_template(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    if base == DEFAULT_API_URL {
        return "https://github.com/{owner}/{repo}.git".to_owned();
    }
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/{{owner}}/{{repo}}.git"),
        None => format!("{base}/{{owner}}/{{repo}}.git"),
    }
}

/// A failed GitHub call.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// The HTTP call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// GraphQL answered with errors (partial data is never used).
    #[error("GitHub: GraphQL query {name} failed: {messages}")]
    GraphQl {
        /// Which query.
        name: String,
        /// The errors.
        messages: String,
    },
    /// An answer was not what the API describes.
    #[error("GitHub: {0}")]
    Shape(String),
    /// A list GitHub cannot give in full: truncation is undecidable, never a pass.
    #[error("GitHub: {0}; the list would be incomplete")]
    Truncated(String),
}

/// A commit of a compared range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeCommit {
    /// SHA.
    pub(crate) sha: String,
    /// Parent SHAs, first parent first.
    pub(crate) parents: Vec<String>,
    /// Tree SHA.
    pub(crate) tree: String,
    /// GitHub id of the author account, when GitHub links one.
    pub(crate) author_id: Option<u64>,
    /// GitHub id of the committer account, when GitHub links one.
    pub(crate) committer_id: Option<u64>,
    /// First line of the message (display only; a `(#N)` in it is only a
    /// hint to look a pull request up, which must then link back).
    pub(crate) headline: String,
    /// GitHub verified the commit's signature.
    pub(crate) verified: bool,
}

/// A file a commit changed, against its first parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// Path after the change.
    pub(crate) path: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` (mode), `unchanged`.
    pub(crate) status: String,
    /// Path before a rename or copy.
    pub(crate) previous_path: Option<String>,
}

/// `compare/BASE...HEAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    /// `ahead`, `behind`, `diverged` or `identical`.
    pub status: String,
    /// Commits in HEAD not in BASE.
    pub(crate) total_commits: u64,
    /// The commits (all of them, every page).
    pub(crate) commits: Vec<RangeCommit>,
}

/// A code-scanning analysis, as the REST API lists it (the tool named).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Id.
    pub(crate) id: u64,
    /// The commit analysed.
    pub(crate) commit_sha: String,
    /// The ref.
    pub(crate) reference: String,
    /// Tool name.
    pub(crate) tool_name: String,
    /// Analysis category.
    pub(crate) category: Option<String>,
    /// Error text; empty when the analysis succeeded.
    pub(crate) error: String,
    /// Alerts found.
    pub(crate) results_count: u64,
    /// When it was created.
    pub(crate) created_at: String,
}

/// A code-scanning analysis as the REST API answers it (the tool is an
/// object there).
#[derive(Deserialize)]
struct RawAnalysis {
    id: u64,
    commit_sha: String,
    #[serde(rename = "ref")]
    reference: String,
    tool: RawTool,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    results_count: u64,
    #[serde(default)]
    created_at: String,
}

#[derive(Deserialize)]
struct RawTool {
    #[serde(default)]
    name: Option<String>,
}

impl From<RawAnalysis> for Analysis {
    fn from(r: RawAnalysis) -> Self {
        Analysis {
            id: r.id,
            commit_sha: r.commit_sha,
            reference: r.reference,
            tool_name: r.tool.name.unwrap_or_default(),
            category: r.category,
            error: r.error,
            results_count: r.results_count,
            created_at: r.created_at,
        }
    }
}

/// The most pages of code-scanning analyses read for one commit.
pub(crate) const MAX_ANALYSIS_PAGES: u32 = 10;

/// The most commits read from one compare (pages of 100).
pub(crate) const MAX_RANGE: u64 = 10_000;

/// The most GitHub requests under way at once. GitHub asks integrators to
/// avoid concurrent requests (its secondary rate limits); the collector
/// runs independent requests in pairs, never more.
pub(crate) const MAX_CONCURRENT: usize = 2;

/// A request (or a few, one after another) to run beside another.
pub(crate) type Job<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Runs `jobs` with at most [`MAX_CONCURRENT`] of them at a time (each on
/// its own scoped thread, taking the next job when one ends), and returns
/// their results in the jobs' order. A single job runs on the caller's
/// thread.
pub(crate) fn at_most_two<'a, T: Send>(jobs: Vec<Job<'a, T>>) -> Vec<T> {
    if jobs.len() <= 1 {
        return jobs.into_iter().map(|j| j()).collect();
    }
    let n = jobs.len();
    let queue: Vec<Mutex<Option<Job<'a, T>>>> = jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    let results: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..MAX_CONCURRENT.min(n) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let job = queue[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                    if let Some(job) = job {
                        let r = job();
                        *results[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).expect("every job ran to its end"))
        .collect()
}

/// Runs `a` and `b` at once (`b` on the caller's thread): two requests
/// under way, never more.
pub(crate) fn pair<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = b();
        (a.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), b)
    })
}

/// One page of `compare/BASE...HEAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparePage {
    /// `ahead`, `behind`, `diverged` or `identical`.
    pub(crate) status: String,
    /// Commits in HEAD not in BASE.
    pub(crate) total_commits: u64,
    /// This page's commits.
    pub(crate) commits: Vec<RangeCommit>,
}

/// Commits per page of a compare.
pub(crate) const COMPARE_PAGE: u64 = 100;

/// The pages after the first that a compare of `total` commits takes.
pub(crate) fn compare_pages_after_first(total: u64) -> std::ops::RangeInclusive<u32> {
    let pages = u32::try_from(total.min(MAX_RANGE).div_ceil(COMPARE_PAGE)).unwrap_or(u32::MAX);
    2..=pages
}

impl Compare {
    /// The range from its pages, in order: `first`, then `rest`.
    pub fn from_pages(first: ComparePage, rest: Vec<ComparePage>) -> Compare {
        let mut out = Compare { status: first.status, total_commits: first.total_commits, commits: first.commits };
        for p in rest {
            out.status = p.status;
            out.total_commits = p.total_commits;
            out.commits.extend(p.commits);
        }
        out
    }
}

/// The GitHub client. Counts its requests (the analysis reports them). It
/// may be shared by the threads of [`at_most_two`].
#[derive(Debug)]
pub struct GitHub {
    rest: Http,
    graphql: Http,
    requests: AtomicU64,
    git_url: String,
    token: Secret,
}

impl GitHub {
    /// A client for `settings`.
    pub fn new(
        settings: &GitHubSettings,
        ca_bundle: Option<&std::path::Path>,
        retry: RetryPolicy,
    ) -> Result<Self, SetupError> {
        let auth = Auth::Bearer(settings.token.clone());
        let rest = Http::new("GitHub", "GITHUB_API_URL", &settings.api_url, auth.clone(), ca_bundle, retry.clone())?
            .with_header("X-GitHub-Api-Version", "2022-11-28");
        let (graphql_var, graphql_base) = match &settings.graphql_url {
            Some(u) => ("GITHUB_GRAPHQL_URL", u.clone()),
            None => ("GITHUB_API_URL", graphql_url(&settings.api_url)),
        };
        let graphql = Http::new("GitHub", graphql_var, &graphql_base, auth, ca_bundle, retry)?;
        Ok(GitHub {
            rest: rest.with_header("Accept", "application/vnd.github+json"),
            graphql,
            requests: AtomicU64::new(0),
            git_url: settings.git_url.clone().unwrap_or_else(|| git_url_template(&settings.api_url)),
            token: settings.token.clone(),
        })
    }

    /// Where the git data of `owner/repo` is fetched from, and the token to
    /// send there (only over HTTPS).
    pub fn git_remote(&self, owner: &str, repo: &str) -> (String, Option<&Secret>) {
        let url = self.git_url.replace("{owner}", owner).replace("{repo}", repo);
        let token = url.starts_with("https://").then_some(&self.token);
        (url, token)
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, GitHubError> {
        self.count();
        Ok(self.rest.get_json(path, query)?)
    }

    /// A REST GET whose answer is returned whatever its status (after
    /// retries of 429 and 5xx), headers included: for reading what a token
    /// may do (`setup github`), where a 403 or 404 is a fact, not an error.
    pub fn get_answer(&self, path: &str, query: &[(&str, String)]) -> Result<crate::clients::http::Response, ApiError> {
        self.count();
        self.rest.send(Method::GET, path, query, &crate::clients::http::Body::Empty)
    }

    /// The REST base URL (`GITHUB_API_URL`).
    pub fn api_url(&self) -> &str {
        self.rest.base()
    }

    /// Runs a GraphQL query; any error fails the whole query.
    pub fn graphql(&self, name: &str, query: &str, variables: Value) -> Result<Value, GitHubError> {
        self.graphql_with(name, query, variables, false)
    }

    /// Like [`GitHub::graphql`], but objects that do not exist below the
    /// repository (`NOT_FOUND` errors, e.g. a pull request number named only
    /// in a commit message) are `null` in the data instead of failing the
    /// whole batch. Any other error still fails it.
    pub fn graphql_allow_missing(&self, name: &str, query: &str, variables: Value) -> Result<Value, GitHubError> {
        self.graphql_with(name, query, variables, true)
    }

    fn graphql_with(
        &self,
        name: &str,
        query: &str,
        variables: Value,
        allow_missing: bool,
    ) -> Result<Value, GitHubError> {
        self.count();
        let mut v: Value =
            self.graphql.send_json(Method::POST, "", &json!({"query": query, "variables": variables}))?;
        let missing_below_repository = |e: &Value| {
            e.get("type").and_then(Value::as_str) == Some("NOT_FOUND")
                && e.get("path").and_then(Value::as_array).is_some_and(|p| p.len() >= 2)
        };
        if let Some(errors) = v
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !(e.is_empty() || allow_missing && e.iter().all(missing_below_repository)))
        {
            let messages: Vec<String> = errors
                .iter()
                .map(|e| e.get("message").and_then(Value::as_str).unwrap_or("unknown error").to_owned())
                .collect();
            return Err(GitHubError::GraphQl { name: name.to_owned(), messages: messages.join("; ") });
        }
        match v.get_mut("data") {
            Some(d) if !d.is_null() => Ok(d.take()),
            _ => Err(GitHubError::GraphQl { name: name.to_owned(), messages: "no data".into() }),
        }
    }

    /// Every commit in `base...head` (all pages), with its parents: the
    /// first page, then the others it announces two at a time.
    pub fn compare(&self, owner: &str, repo: &str, base: &str, head: &str) -> Result<Compare, GitHubError> {
        let first = self.compare_page(owner, repo, base, head, 1)?;
        self.compare_rest(owner, repo, base, head, first)
    }

    /// The range from its first page: the pages it announces, two at a
    /// time, then (should the range have grown) the next ones one by one
    /// until a page is short or the range is read.
    pub fn compare_rest(
        &self,
        owner: &str,
        repo: &str,
        base: &str,
        head: &str,
        first: ComparePage,
    ) -> Result<Compare, GitHubError> {
        let jobs: Vec<Job<'_, Result<ComparePage, GitHubError>>> = compare_pages_after_first(first.total_commits)
            .map(|page| Box::new(move || self.compare_page(owner, repo, base, head, page)) as Job<'_, _>)
            .collect();
        let mut page = u32::try_from(jobs.len()).unwrap_or(u32::MAX).saturating_add(1);
        let rest = at_most_two(jobs).into_iter().collect::<Result<Vec<_>, _>>()?;
        let mut last_len = rest.last().map_or(first.commits.len(), |p| p.commits.len());
        let mut out = Compare::from_pages(first, rest);
        while last_len != 0 && (out.commits.len() as u64) < out.total_commits.min(MAX_RANGE) {
            page += 1;
            let p = self.compare_page(owner, repo, base, head, page)?;
            last_len = p.commits.len();
            out.status = p.status;
            out.total_commits = p.total_commits;
            out.commits.extend(p.commits);
        }
        Ok(out)
    }

    /// One page (of [`COMPARE_PAGE`] commits) of `base...head`.
    pub fn compare_page(
        &self,
        owner: &str,
        repo: &str,
        base: &str,
        head: &str,
        page: u32,
    ) -> Result<ComparePage, GitHubError> {
        #[derive(Deserialize)]
        struct Page {
            status: String,
            total_commits: u64,
            #[serde(default)]
            commits: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            sha: String,
            commit: Inner,
            #[serde(default)]
            author: Option<Account>,
            #[serde(default)]
            committer: Option<Account>,
            #[serde(default)]
            parents: Vec<Sha>,
        }
        #[derive(Deserialize)]
        struct Inner {
            #[serde(default)]
            message: String,
            tree: Sha,
            #[serde(default)]
            verification: Option<Verification>,
        }
        #[derive(Deserialize)]
        struct Verification {
            #[serde(default)]
            verified: bool,
        }
        #[derive(Deserialize)]
        struct Account {
            id: u64,
        }
        #[derive(Deserialize)]
        struct Sha {
            sha: String,
        }
        let path = compare_path(owner, repo, base, head);
        let p: Page = self.get(&path, &[("per_page", COMPARE_PAGE.to_string()), ("page", page.to_string())])?;
        Ok(ComparePage {
            status: p.status,
            total_commits: p.total_commits,
            commits: p
                .commits
                .into_iter()
                .map(|c| RangeCommit {
                    sha: c.sha,
                    parents: c.parents.into_iter().map(|p| p.sha).collect(),
                    tree: c.commit.tree.sha,
                    author_id: c.author.map(|a| a.id),
                    committer_id: c.committer.map(|a| a.id),
                    headline: c.commit.message.lines().next().unwrap_or_default().to_owned(),
                    verified: c.commit.verification.is_some_and(|v| v.verified),
                })
                .collect(),
        })
    }

    /// GitHub's comparison status of `base...head` only (`ahead`,
    /// `identical`, `behind`, `diverged`): one request, no commit list.
    pub fn compare_status(&self, owner: &str, repo: &str, base: &str, head: &str) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Status {
            status: String,
        }
        let path = compare_path(owner, repo, base, head);
        let s: Status = self.get(&path, &[("per_page", "1".into())])?;
        Ok(s.status)
    }

    /// The files a commit changed (against its first parent), every page
    /// (GitHub pages a commit's files by 300, up to 3000).
    pub fn commit_files(&self, owner: &str, repo: &str, sha: &str) -> Result<Vec<ChangedFile>, GitHubError> {
        #[derive(Deserialize)]
        struct Detail {
            #[serde(default)]
            files: Vec<File>,
        }
        #[derive(Deserialize)]
        struct File {
            filename: String,
            #[serde(default)]
            status: String,
            #[serde(default)]
            previous_filename: Option<String>,
        }
        const PAGE: usize = 300;
        let path = format!("/repos/{}/{}/commits/{}", percent_encode(owner), percent_encode(repo), percent_encode(sha));
        let mut out = Vec::new();
        for page in 1..=10 {
            let query: Vec<(&str, String)> = if page == 1 { Vec::new() } else { vec![("page", page.to_string())] };
            let d: Detail = self.get(&path, &query)?;
            let n = d.files.len();
            out.extend(d.files.into_iter().map(|f| ChangedFile {
                path: f.filename,
                status: f.status,
                previous_path: f.previous_filename,
            }));
            if n < PAGE {
                return Ok(out);
            }
        }
        Err(GitHubError::Truncated(format!("commit {sha} changes more than 3000 files")))
    }

    /// The logins of a team's members (`GET /orgs/{org}/teams/{slug}/members`,
    /// every page): the production context's security group.
    pub fn team_members(&self, org: &str, team_slug: &str) -> Result<Vec<String>, GitHubError> {
        #[derive(Deserialize)]
        struct Member {
            login: String,
        }
        const PAGE: usize = 100;
        let path = format!("/orgs/{}/teams/{}/members", percent_encode(org), percent_encode(team_slug));
        let mut out = Vec::new();
        for page in 1..=50 {
            let query = vec![("per_page", PAGE.to_string()), ("page", page.to_string())];
            let members: Vec<Member> = self.get(&path, &query)?;
            let n = members.len();
            out.extend(members.into_iter().map(|m| m.login));
            if n < PAGE {
                return Ok(out);
            }
        }
        Err(GitHubError::Truncated(format!("team {org}/{team_slug} has more than 5000 members")))
    }

    /// The SARIF of one code-scanning analysis
    /// (`GET /repos/{o}/{r}/code-scanning/analyses/{id}`, `application/sarif+json`).
    pub fn analysis_sarif(&self, owner: &str, repo: &str, id: u64) -> Result<Value, GitHubError> {
        self.count();
        let path = format!("/repos/{}/{}/code-scanning/analyses/{id}", percent_encode(owner), percent_encode(repo));
        Ok(self.rest.accepting("application/sarif+json").get_json(&path, &[])?)
    }

    /// The code-scanning analyses of commit `sha` on `reference`. The API
    /// lists a ref's analyses newest first and cannot filter by commit, so
    /// pages are read until the list ends, or until a full page after the
    /// commit's analyses holds none of them (older pages are older pushes).
    /// `Ok((analyses, false))` when [`MAX_ANALYSIS_PAGES`] were read without
    /// reaching either: the list may be incomplete.
    pub fn analyses_of_commit(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
        sha: &str,
    ) -> Result<(Vec<Analysis>, bool), GitHubError> {
        let path = format!("/repos/{}/{}/code-scanning/analyses", percent_encode(owner), percent_encode(repo));
        let mut out = Vec::new();
        for page in 1..=MAX_ANALYSIS_PAGES {
            let list: Vec<RawAnalysis> = self.get(
                &path,
                &[
                    ("ref", reference.to_owned()),
                    ("sort", "created".into()),
                    ("direction", "desc".into()),
                    ("per_page", "100".into()),
                    ("page", page.to_string()),
                ],
            )?;
            let n = list.len();
            let before = out.len();
            out.extend(list.into_iter().map(Analysis::from).filter(|a| a.commit_sha == sha));
            if n < 100 || (before > 0 && out.len() == before) {
                return Ok((out, true));
            }
        }
        Ok((out, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fake::{FakeServer, Reply};

    #[test]
    fn graphql_url_for_github_com_and_enterprise_server() {
        assert_eq!(graphql_url("https://api.github.com"), "https://api.github.com/graphql");
        assert_eq!(graphql_url("https://ghe.acme.test/api/v3"), "https://ghe.acme.test/api/graphql");
        assert_eq!(graphql_url("https://ghe.acme.test/api/v3/"), "https://ghe.acme.test/api/graphql");
        assert_eq!(git_url_template("https://api.github.com"), "https://github.com/{owner}/{repo}.git");
        assert_eq!(git_url_template("https://ghe.acme.test/api/v3"), "https://ghe.acme.test/{owner}/{repo}.git");
        assert_eq!(graphql_url("http://127.0.0.1:9"), "http://127.0.0.1:9/graphql");
    }

    fn client(url: &str) -> GitHub {
        GitHub::new(
            &GitHubSettings { api_url: url.into(), graphql_url: None, token: Secret::new("ghp_secret"), git_url: None },
            None,
            RetryPolicy { attempts: 1, ..RetryPolicy::default() },
        )
        .unwrap()
    }

    #[test]
    fn graphql_errors_fail_the_query_even_with_partial_data() {
        let server = FakeServer::start(vec![Reply::json(
            200,
            r#"{"data":{"a":1},"errors":[{"message":"Field 'x' doesn't exist"}]}"#,
        )]);
        let e = client(&server.url()).graphql("prs", "{a}", json!({})).unwrap_err().to_string();
        assert!(e.contains("GraphQL query prs failed: Field 'x' doesn't exist"), "{e}");
        let r = &server.requests()[0];
        assert_eq!(r.url, "/graphql");
        assert_eq!(r.header("authorization"), Some("Bearer ghp_secret"));
    }

    #[test]
    fn jobs_run_two_at_a_time_and_answer_in_order() {
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let jobs: Vec<Job<'_, usize>> = (0..7usize)
            .map(|i| {
                let (now, most) = (&now, &most);
                Box::new(move || {
                    most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    now.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                }) as Job<'_, usize>
            })
            .collect();
        assert_eq!(at_most_two(jobs), [0, 10, 20, 30, 40, 50, 60]);
        assert!(most.load(Ordering::SeqCst) <= MAX_CONCURRENT);
        assert_eq!(pair(|| 1, || "b"), (1, "b"));
        let pages = |total| compare_pages_after_first(total).collect::<Vec<_>>();
        assert!(pages(0).is_empty());
        assert!(pages(100).is_empty());
        assert_eq!(pages(500), [2, 3, 4, 5]);
        assert_eq!(pages(501), [2, 3, 4, 5, 6]);
        assert_eq!(pages(u64::MAX).last(), Some(&100), "never past MAX_RANGE");
    }

    #[test]
    fn compare_reads_every_page() {
        let page = |n: usize, start: usize| {
            let commits: Vec<Value> = (start..start + n)
                .map(|i| json!({"sha": format!("{i:040x}"), "commit": {"message": format!("c{i}\n\nbody"), "tree": {"sha": "t"}}, "author": {"id": 7}, "committer": null, "parents": [{"sha": "p"}]}))
                .collect();
            json!({"status": "ahead", "ahead_by": 150, "behind_by": 0, "total_commits": 150, "commits": commits})
                .to_string()
        };
        let server = FakeServer::start(vec![Reply::json(200, &page(100, 0)), Reply::json(200, &page(50, 100))]);
        let c = client(&server.url()).compare("acme", "web", "aaa", "bbb").unwrap();
        assert_eq!(c.commits.len(), 150);
        assert_eq!(c.commits[0].headline, "c0");
        assert_eq!(c.commits[0].author_id, Some(7));
        assert_eq!(c.commits[0].committer_id, None);
        assert_eq!(server.requests()[1].url, "/repos/acme/web/compare/aaa...bbb?per_page=100&page=2");
    }
}
