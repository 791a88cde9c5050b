//! Collects the evidence record of a change ticket from Jira, GitHub and
//! CircleCI. Facts come from the APIs only (never from a CI checkout,
//! commit dates or messages). Requests are batched: one compare (pages of
//! 100 commits), one GraphQL query for the repository with the pull
//! requests of the first 250 landings (one more per further 250), one per
//! 100 pull requests, follow-up pages only for long connections; requests
//! that do not wait on each other go two at a time. A failed call becomes
//! a gap in the record, never a dropped fact.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::base::digest::Sha256Digest;
use crate::base::time::Timestamp;
use crate::clients::circleci::CircleCi;
use crate::clients::github::queries::{self, Connection};
use crate::clients::github::{self, GitHub, GitHubError};
use crate::clients::jira::{Jira, JiraError, jql};
use crate::config::Config;
use crate::config::review::VersionBumpConfig;
use crate::model::binding::{Binding, RECORD_PROPERTY, TicketRecord, github_repo};
use crate::model::evidence::consistency::first_parent_chain;
use crate::model::evidence::{
    Actor, AssociatedPull, Base, BranchFacts, ChangedFile, CodeScanningAnalysis, ContentChecks, Evidence, FileChange,
    Gap, GapArea, JobFact, LandingFiles, ObjectChange, OpenDrift, PendingTicket, PipelineFiles, PolicyFiles,
    PolicySource, PullCommit, PullFacts, PullFile, Range, RangeCommit, RequestCounts, ReviewFact, SCHEMA_VERSION,
    SarifArtifact, Scans, TimelineEvent,
};
use crate::steps::ticket;

/// Policy files whose change in the range needs manual review.
pub(crate) const POLICY_FILES: &[&str] = &["changegate.toml", ".circleci/changegate.toml"];

/// The services evidence is read from.
#[derive(Debug)]
pub struct Sources<'a> {
    /// Jira, CircleCI and GitHub (which collection needs).
    pub clients: &'a crate::clients::Clients,
    /// The bot's public keys: the base of the change set is the last deploy
    /// the bot signed a receipt for. `None` without a bot.
    pub ring: Option<&'a crate::model::signing::KeyRing>,
    /// Where to say how far the work got (quiet for the bot).
    pub progress: &'a crate::base::progress::Progress,
}

/// Collection could not start.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The ticket could not be read.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// The ticket is not a changegate ticket.
    #[error("{key} has no changegate record")]
    NoRecord {
        /// The ticket.
        key: String,
    },
    /// The command or the bot was built without a GitHub client.
    #[error("no GitHub client: collecting evidence reads GitHub")]
    NoGitHub,
    /// The ticket's repository is not on GitHub.
    #[error("{slug} is not a GitHub project: only GitHub repositories can be analysed")]
    NotGitHub {
        /// The CircleCI project slug of the binding.
        slug: String,
    },
}

/// The first 12 characters of a commit id, for a person.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Collects the evidence of ticket `key`. `policy` is the effective policy
/// (source, content).
pub fn collect(key: &str, config: &Config, policy: (&str, &str), src: &Sources<'_>) -> Result<Evidence, CollectError> {
    collect_from(key, config, policy, src, None)
}

/// Like [`collect`], with the base of the range given (`Some(None)`: a
/// first deploy) instead of looked up: an audit re-collects a past
/// decision's range as it was, though later deploys have moved the base on.
pub(crate) fn collect_from(
    key: &str,
    config: &Config,
    policy: (&str, &str),
    src: &Sources<'_>,
    pinned_base: Option<Option<Base>>,
) -> Result<Evidence, CollectError> {
    let gh = src.clients.github().ok_or(CollectError::NoGitHub)?;
    let t = ticket::load(&src.clients.jira, key, &config.jira)?;
    let record = t.record.clone().ok_or_else(|| CollectError::NoRecord { key: key.to_owned() })?;
    let b = record.binding.clone();
    let (owner, name) =
        github_repo(&b.project_slug).ok_or_else(|| CollectError::NotGitHub { slug: b.project_slug.clone() })?;
    let repo = format!("{owner}/{name}");
    let vars = json!({"owner": owner, "name": name});
    let cx = Target { key, config, src, gh, b: &b, owner: &owner, name: &name, repo: &repo, vars: &vars };
    let mut gaps: Vec<Gap> = Vec::new();

    let base = base_of(&cx, pinned_base)?;
    cx.say(&format_args!(
        "{repo} {} since {}",
        short(&b.commit),
        base.as_ref().map_or_else(|| "its first deploy".to_owned(), |x| format!("{} ({})", x.ticket, short(&x.commit)))
    ));

    // The default branch and the policy files at both ends, in one query.
    let mut branch =
        BranchFacts { name: b.branch.clone(), source: "github: GraphQL Repository".into(), ..Default::default() };
    let watched = watched_files(config, &record);
    let ends: Vec<&str> = base.iter().map(|x| x.commit.as_str()).chain([b.commit.as_str()]).collect();
    let answers = ask_github(&cx, base.as_ref(), &watched, &ends);
    let (policy_files, pipeline_files) =
        read_repository(&answers.graph[0], &watched, base.is_some(), &ends, &mut branch, &mut gaps);
    read_tip(&cx, answers.tip, &mut branch, &mut gaps);
    let range = read_range(&cx, base.as_ref(), answers.compare, answers.chain, &mut gaps);
    cx.say(&format_args!(
        "{} commit(s), {} landing(s) in the range ({} GitHub request(s))",
        range.commits.len(),
        range.landings.len(),
        gh.requests()
    ));

    // Pull requests of each landing (asked above with the repository),
    // then their details.
    let associated = read_associated(&cx, &range.landings, &answers.graph, &mut gaps);
    let numbers = pull_numbers(&b, &repo, &associated, &range);
    let pulls = read_pulls(&cx, &numbers, &mut gaps);
    let landing_files = read_landing_files(&cx, &range, &associated, &pulls, &mut gaps);
    // Scans: the jobs of the deploy's workflows, and code scanning of the commit.
    let mut scans = read_scans(&cx, &mut gaps);
    read_code_scanning(answers.code_scanning, &mut scans, &mut gaps);
    let (pending, open_drift) = read_live_tickets(&cx, &mut gaps);

    let mut evidence = Evidence {
        schema_version: SCHEMA_VERSION,
        collected_at: Timestamp::now().to_rfc3339(),
        ticket: key.to_owned(),
        binding: b,
        repository: repo,
        base,
        range,
        associated,
        pulls,
        landing_files,
        branch,
        content: ContentChecks {
            available: false,
            checks: BTreeMap::new(),
            source: "not collected: built without the git-objects feature".into(),
        },
        policy_files,
        pipeline_files,
        scans,
        pending,
        open_drift,
        policy: PolicySource {
            source: policy.0.to_owned(),
            digest: Sha256Digest::of(policy.1.as_bytes()),
            content: policy.1.to_owned(),
        },
        gaps,
        requests: RequestCounts { github: gh.requests() },
    };
    fill_content(&mut evidence, config, gh, (&owner, &name));
    Ok(evidence)
}

/// What every section of a collection reads: the ticket, its binding, its
/// repository on GitHub and the services.
struct Target<'a> {
    /// The ticket's key.
    key: &'a str,
    /// The configuration.
    config: &'a Config,
    /// The services.
    src: &'a Sources<'a>,
    /// GitHub, of the services.
    gh: &'a GitHub,
    /// The ticket's binding.
    b: &'a Binding,
    /// The repository's owner on GitHub.
    owner: &'a str,
    /// The repository's name on GitHub.
    name: &'a str,
    /// `owner/name`.
    repo: &'a str,
    /// The GraphQL variables naming the repository.
    vars: &'a Value,
}

impl Target<'_> {
    /// Says how far the collection got.
    fn say(&self, what: &dyn std::fmt::Display) {
        self.src.progress.say(format_args!("collect {}: {what}", self.key));
    }
}

/// Records that `what` of `area` could not be read, and why.
fn gap(gaps: &mut Vec<Gap>, area: GapArea, what: &str, why: &dyn std::fmt::Display) {
    gaps.push(Gap { area, what: what.to_owned(), why: why.to_string() });
}

/// The base: `pinned` when given, else the last deploy of this repository
/// and environment that reached Done.
fn base_of(cx: &Target<'_>, pinned: Option<Option<Base>>) -> Result<Option<Base>, JiraError> {
    let src = cx.src;
    Ok(match pinned {
        Some(b) => b,
        None => crate::steps::bot_record::last_done_signed(&src.clients.jira, cx.b, &cx.config.jira, src.ring)?.map(
            |(ticket, commit)| Base {
                ticket,
                commit,
                source: if src.ring.is_some() {
                    "jira: the latest Done ticket of the stream with the bot's signed receipt".into()
                } else {
                    "jira: search of Done tickets of the stream (no bot: unsigned)".into()
                },
            },
        ),
    })
}

/// The policy files watched: those at their default places, those the
/// bot's policy names, and those the deploy's requests used (CI-written:
/// only ever more files). Everything under `.circleci/` is watched too.
fn watched_files(config: &Config, record: &TicketRecord) -> Vec<String> {
    let mut watched: Vec<String> = POLICY_FILES.iter().map(|f| (*f).to_owned()).collect();
    for path in config.approval.policy_paths.iter().chain(&record.config_paths) {
        if let Some(clean) = crate::config::approval::repo_path(path)
            && !watched.contains(&clean)
        {
            watched.push(clean);
        }
    }
    watched
}

/// GitHub's answers to the requests that do not wait on the reading of
/// others.
struct GitHubAnswers {
    /// The deployed commit against its branch; `None` without a branch.
    tip: Option<Result<String, GitHubError>>,
    /// The range; `None` on a first deploy.
    compare: Option<Result<Compared, GitHubError>>,
    /// The range's first-parent chain, when the range is `ahead`.
    chain: Option<Result<Vec<String>, String>>,
    /// The repository with the pull requests of the first batch of
    /// landings, then those of the other batches.
    graph: Vec<Result<Value, GitHubError>>,
    /// Code scanning of the commit.
    code_scanning: CodeScanning,
}

/// Asks GitHub what does not depend on other answers first, two requests
/// at a time (GitHub's secondary rate limits ask integrators not to send
/// more at once); the caller reads the answers in a fixed order, so the
/// record is the same whichever came first.
fn ask_github(cx: &Target<'_>, base: Option<&Base>, watched: &[String], ends: &[&str]) -> GitHubAnswers {
    let (gh, b, owner, name, vars) = (cx.gh, cx.b, cx.owner, cx.name, cx.vars);
    let exprs: Vec<(String, String)> =
        watched.iter().flat_map(|f| ends.iter().map(|c| ((*c).to_owned(), f.clone()))).collect();
    let trees: Vec<(String, String)> = ends.iter().map(|c| ((*c).to_owned(), ".circleci".to_owned())).collect();
    let tip_ref = format!("refs/heads/{}", b.branch);
    // The range's first page, and the deployed commit against its branch.
    let (first_page, tip) = github::pair(
        || base.map(|base| gh.compare_page(owner, name, &base.commit, &b.commit, 1)),
        || (!b.branch.is_empty()).then(|| gh.compare_status(owner, name, &b.commit, &tip_ref)),
    );
    // The rest of the range, its pages two at a time.
    let compare = base.zip(first_page).map(|(base, first)| {
        first.and_then(|f| gh.compare_rest(owner, name, &base.commit, &b.commit, f)).map(Compared::from)
    });
    let chain = match &compare {
        Some(Ok(c)) if c.status == "ahead" => {
            Some(first_parent_chain(&c.commits, &b.commit, base.map_or("", |x| x.commit.as_str())))
        }
        _ => None,
    };
    let landings: &[String] = match &chain {
        Some(Ok(chain)) => chain,
        _ => &[],
    };
    // The repository (default branch, policy and pipeline files) with the
    // pull requests of the first batch of landings, in one query, then the
    // other batches; beside them, code scanning of the commit.
    let (graph, code_scanning) = github::pair(
        || {
            let mut batches = landings.chunks(queries::LANDINGS_PER_QUERY);
            let first: Vec<&str> = batches.next().unwrap_or_default().iter().map(String::as_str).collect();
            let mut answers =
                vec![gh.graphql("Repository", &queries::repository(&exprs, &trees, &first), vars.clone())];
            for chunk in batches {
                let oids: Vec<&str> = chunk.iter().map(String::as_str).collect();
                answers.push(gh.graphql("Landings", &queries::landings(&oids), vars.clone()));
            }
            answers
        },
        || code_scanning_of(gh, (owner, name), &tip_ref, &b.commit),
    );
    GitHubAnswers { tip, compare, chain, graph, code_scanning }
}

/// Reads the repository's answer: the default branch into `branch`, and
/// the watched policy files and the pipeline files at both `ends` of the
/// range (only the head on a first deploy).
fn read_repository(
    answer: &Result<Value, GitHubError>,
    watched: &[String],
    has_base: bool,
    ends: &[&str],
    branch: &mut BranchFacts,
    gaps: &mut Vec<Gap>,
) -> (PolicyFiles, PipelineFiles) {
    let mut policy_files = PolicyFiles { files: BTreeMap::new(), source: "github: GraphQL Repository".into() };
    let mut pipeline_files = PipelineFiles { files: BTreeMap::new(), source: "github: GraphQL Repository".into() };
    match answer {
        Ok(data) => {
            let r = &data["repository"];
            branch.default_branch = r["defaultBranchRef"]["name"].as_str().map(str::to_owned);
            let at_base = |i: usize| if has_base { Some(i * ends.len()) } else { None };
            let at_head = |i: usize| i * ends.len() + ends.len() - 1;
            for (i, f) in watched.iter().enumerate() {
                // A file that is there but not readable as text (binary, too
                // large, a folder) cannot be compared: a gap, never "unchanged".
                let unreadable = |k: usize| {
                    let b = &r[format!("b{k}")];
                    !b.is_null()
                        && (b["isBinary"].as_bool() != Some(false)
                            || b["isTruncated"].as_bool() != Some(false)
                            || b["text"].as_str().is_none())
                };
                if at_base(i).is_some_and(unreadable) || unreadable(at_head(i)) {
                    gap(gaps, GapArea::Policy, &format!("policy file {f}"), &"not readable as text");
                }
                let text = |k: usize| r[format!("b{k}")]["text"].as_str().map(str::to_owned);
                let before = at_base(i).and_then(text);
                policy_files.files.insert(f.clone(), FileChange { before, after: text(at_head(i)) });
            }
            let entries = |k: usize| -> BTreeMap<String, String> {
                r[format!("t{k}")]["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        let name = e["name"].as_str()?;
                        let slash = if e["type"] == "tree" { "/" } else { "" };
                        Some((format!(".circleci/{name}{slash}"), e["oid"].as_str()?.to_owned()))
                    })
                    .collect()
            };
            let before = at_base(0).map(entries).unwrap_or_default();
            let after = entries(at_head(0));
            for path in before.keys().chain(after.keys()) {
                pipeline_files.files.insert(
                    path.clone(),
                    ObjectChange { before: before.get(path).cloned(), after: after.get(path).cloned() },
                );
            }
        }
        Err(e) => {
            gap(gaps, GapArea::Review, "default branch", &e);
            gap(gaps, GapArea::Policy, "policy files", &e);
        }
    }
    (policy_files, pipeline_files)
}

/// Reads whether the deployed commit is still on the branch it was built
/// from.
fn read_tip(cx: &Target<'_>, tip: Option<Result<String, GitHubError>>, branch: &mut BranchFacts, gaps: &mut Vec<Gap>) {
    let (b, repo) = (cx.b, cx.repo);
    if let Some(tip) = tip {
        branch.source = format!("{}; github: GET /repos/{repo}/compare/{}...{}", branch.source, b.commit, b.branch);
        match tip {
            Ok(status) => branch.tip_status = Some(status),
            // The branch is gone.
            Err(GitHubError::Api(e)) if e.status() == Some(404) => branch.tip_status = Some("missing".into()),
            Err(e) => gap(gaps, GapArea::Review, "branch tip", &e),
        }
    }
}

/// The range and its first-parent chain; a first deploy has none.
fn read_range(
    cx: &Target<'_>,
    base: Option<&Base>,
    compare: Option<Result<Compared, GitHubError>>,
    chain: Option<Result<Vec<String>, String>>,
    gaps: &mut Vec<Gap>,
) -> Range {
    let (b, repo) = (cx.b, cx.repo);
    let mut range = Range {
        status: "first_deploy".into(),
        total_commits: 0,
        commits: Vec::new(),
        landings: Vec::new(),
        source: String::new(),
    };
    if let (Some(base), Some(compare)) = (base, compare) {
        range.source = format!("github: GET /repos/{repo}/compare/{}...{}", base.commit, b.commit);
        match compare {
            Ok(c) => {
                range.status = c.status;
                range.total_commits = c.total_commits;
                range.commits = c.commits;
                if (range.commits.len() as u64) < range.total_commits {
                    let read = format!("{} of {} commits read", range.commits.len(), range.total_commits);
                    gap(gaps, GapArea::Review, "range", &read);
                }
                match chain {
                    Some(Ok(chain)) => range.landings = chain,
                    Some(Err(e)) => gap(gaps, GapArea::Review, "landings", &e),
                    None => {}
                }
            }
            Err(e) => gap(gaps, GapArea::Review, "range", &e),
        }
    }
    range
}

/// Reads the pull requests of each landing from the answers `graph` (one
/// per batch of landings).
fn read_associated(
    cx: &Target<'_>,
    landings: &[String],
    graph: &[Result<Value, GitHubError>],
    gaps: &mut Vec<Gap>,
) -> BTreeMap<String, Vec<AssociatedPull>> {
    let mut associated: BTreeMap<String, Vec<AssociatedPull>> = BTreeMap::new();
    for (chunk, answer) in landings.chunks(queries::LANDINGS_PER_QUERY).zip(graph) {
        match answer {
            Ok(data) => {
                for (i, oid) in chunk.iter().enumerate() {
                    let nodes = data["repository"][format!("c{i}")]["associatedPullRequests"]["nodes"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    associated.insert(oid.clone(), nodes.iter().map(associated_pull).collect());
                }
            }
            Err(e) => gap(gaps, GapArea::Review, &format!("pull requests of {} landing(s)", chunk.len()), &e),
        }
        cx.say(&format_args!(
            "pull requests of {}/{} landing(s) looked up ({} GitHub request(s))",
            associated.len(),
            landings.len(),
            cx.gh.requests()
        ));
    }
    associated
}

/// The pull requests to read: those merged into the branch, and those a
/// landing without one names as `(#N)`: only a hint, the decision checks
/// that it links back.
fn pull_numbers(
    b: &Binding,
    repo: &str,
    associated: &BTreeMap<String, Vec<AssociatedPull>>,
    range: &Range,
) -> Vec<u64> {
    let merged_here =
        |p: &AssociatedPull| p.merged && p.base_ref == b.branch && p.base_repository.eq_ignore_ascii_case(repo);
    let mut numbers: BTreeSet<u64> = BTreeSet::new();
    for pulls in associated.values() {
        numbers.extend(pulls.iter().filter(|p| merged_here(p)).map(|p| p.number));
    }
    let headlines: BTreeMap<&str, &str> = range.commits.iter().map(|c| (c.sha.as_str(), c.headline.as_str())).collect();
    for sha in &range.landings {
        if !associated.get(sha).is_some_and(|ps| ps.iter().any(merged_here)) {
            numbers.extend(headlines.get(sha.as_str()).and_then(|h| crate::steps::analyze::review::pull_hint(h)));
        }
    }
    numbers.into_iter().collect()
}

/// Reads the pull requests `numbers`, the batches two at a time; each
/// reads the further pages of its long connections itself.
fn read_pulls(cx: &Target<'_>, numbers: &[u64], gaps: &mut Vec<Gap>) -> BTreeMap<String, PullFacts> {
    let (gh, repo, vars) = (cx.gh, cx.repo, cx.vars);
    let mut pulls: BTreeMap<String, PullFacts> = BTreeMap::new();
    let batches = queries::pull_batches(numbers);
    let answers = github::at_most_two(
        batches
            .iter()
            .map(|chunk| {
                let vars = vars.clone();
                Box::new(move || pull_batch(gh, &vars, repo, chunk)) as github::Job<'_, PullBatch>
            })
            .collect(),
    );
    let mut done = 0;
    for (chunk, answer) in batches.iter().zip(answers) {
        done += chunk.len();
        match answer {
            Ok(Some(read)) => {
                for (n, facts, page_gaps) in read {
                    gaps.extend(page_gaps);
                    pulls.insert(n.to_string(), facts);
                }
            }
            Ok(None) => gap(gaps, GapArea::Review, "pull requests", &format!("{repo} was not found on GitHub")),
            Err(e) => {
                let list = chunk.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                gap(gaps, GapArea::Review, &format!("pulls {list}"), &e);
            }
        }
        cx.say(&format_args!(
            "pull requests {done}/{} read, with their commits, reviews and timelines ({} GitHub request(s))",
            numbers.len(),
            cx.gh.requests()
        ));
    }
    pulls
}

/// A version file's text to read: the landing, the file's path, the commit
/// to read it at, and whether that is the landing (else its parent).
type BlobWant = (String, String, String, bool);

/// Whether `path` is a version file of the version-bump exemption.
fn is_version_file(bump: &VersionBumpConfig, path: &str) -> bool {
    bump.files.iter().any(|g| crate::base::glob::glob_match(g, path))
        || bump.replacements.iter().any(|r| r.file == path)
}

/// Reads the files of single-parent landings a version-bump exemption may
/// apply to, then the version files' text, and that of the files with a
/// line replacement.
fn read_landing_files(
    cx: &Target<'_>,
    range: &Range,
    associated: &BTreeMap<String, Vec<AssociatedPull>>,
    pulls: &BTreeMap<String, PullFacts>,
    gaps: &mut Vec<Gap>,
) -> BTreeMap<String, LandingFiles> {
    let bump = &cx.config.review.version_bump;
    let parents: BTreeMap<&str, &[String]> =
        range.commits.iter().map(|c| (c.sha.as_str(), c.parents.as_slice())).collect();
    let single = bump_candidates(&cx.b.branch, range, associated, pulls, &parents, bump);
    let (mut landing_files, blob_wants) = read_commit_files(cx, &single, &parents, bump, gaps);
    read_version_blobs(cx, &blob_wants, &mut landing_files, gaps);
    landing_files
}

/// The single-parent landings a version-bump exemption may apply to:
/// those no merged pull request into `branch` links, and those whose pull
/// request changed only version files.
fn bump_candidates<'r>(
    branch: &str,
    range: &'r Range,
    associated: &BTreeMap<String, Vec<AssociatedPull>>,
    pulls: &BTreeMap<String, PullFacts>,
    parents: &BTreeMap<&str, &[String]>,
    bump: &VersionBumpConfig,
) -> Vec<&'r String> {
    let linked_pull = |sha: &str| -> Option<&PullFacts> {
        pulls.values().find(|p| {
            p.merged
                && p.base_ref == branch
                && (p.merge_commit.as_deref() == Some(sha)
                    || associated.get(sha).is_some_and(|a| a.iter().any(|x| x.number == p.number))
                        && p.merge_commit.as_ref().is_some_and(|m| range.landings.contains(m)))
        })
    };
    let wants_files = |sha: &str| match linked_pull(sha) {
        None => true,
        Some(p) => p.files_complete && !p.files.is_empty() && p.files.iter().all(|f| is_version_file(bump, &f.path)),
    };
    range.landings.iter().filter(|s| parents.get(s.as_str()).is_some_and(|p| p.len() == 1) && wants_files(s)).collect()
}

/// Reads the files of the landings `single`, two landings at a time, and
/// says which version files' text to read: before at the parent, after at
/// the landing.
fn read_commit_files(
    cx: &Target<'_>,
    single: &[&String],
    parents: &BTreeMap<&str, &[String]>,
    bump: &VersionBumpConfig,
    gaps: &mut Vec<Gap>,
) -> (BTreeMap<String, LandingFiles>, Vec<BlobWant>) {
    let (gh, owner, name, repo) = (cx.gh, cx.owner, cx.name, cx.repo);
    let mut landing_files: BTreeMap<String, LandingFiles> = BTreeMap::new();
    let mut blob_wants: Vec<BlobWant> = Vec::new();
    let files_of = github::at_most_two(
        single
            .iter()
            .map(|sha| {
                Box::new(move || gh.commit_files(owner, name, sha))
                    as github::Job<'_, Result<Vec<crate::clients::github::ChangedFile>, GitHubError>>
            })
            .collect(),
    );
    for (i, (sha, answer)) in single.iter().copied().zip(files_of).enumerate() {
        cx.say(&format_args!("files of landing {}/{} ({})", i + 1, single.len(), short(sha)));
        match answer {
            Ok(files) => {
                let parent = &parents[sha.as_str()][0];
                for f in files.iter().filter(|f| is_version_file(bump, &f.path)) {
                    if f.status != "added" {
                        let before = f.previous_path.clone().unwrap_or_else(|| f.path.clone());
                        blob_wants.push((sha.clone(), before, parent.clone(), false));
                    }
                    if f.status != "removed" {
                        blob_wants.push((sha.clone(), f.path.clone(), sha.clone(), true));
                    }
                }
                let source = format!("github: GET /repos/{repo}/commits/{sha}");
                let files = files.into_iter().map(ChangedFile::from).collect();
                landing_files.insert(sha.clone(), LandingFiles { files, version_files: BTreeMap::new(), source });
            }
            Err(e) => gap(gaps, GapArea::Review, &format!("files of {sha}"), &e),
        }
    }
    (landing_files, blob_wants)
}

/// Reads the version files' text, two batches at a time, into the
/// landings' files.
fn read_version_blobs(
    cx: &Target<'_>,
    blob_wants: &[BlobWant],
    landing_files: &mut BTreeMap<String, LandingFiles>,
    gaps: &mut Vec<Gap>,
) {
    let (gh, vars) = (cx.gh, cx.vars);
    let blob_answers = github::at_most_two(
        blob_wants
            .chunks(queries::BLOBS_PER_QUERY)
            .map(|chunk| {
                let exprs: Vec<(String, String)> = chunk.iter().map(|(_, f, at, _)| (at.clone(), f.clone())).collect();
                let vars = vars.clone();
                Box::new(move || gh.graphql("Blobs", &queries::blobs(&exprs), vars))
                    as github::Job<'_, Result<Value, GitHubError>>
            })
            .collect(),
    );
    for (chunk, answer) in blob_wants.chunks(queries::BLOBS_PER_QUERY).zip(blob_answers) {
        match answer {
            Ok(data) => {
                for (i, (sha, f, _, after)) in chunk.iter().enumerate() {
                    let blob = &data["repository"][format!("b{i}")];
                    let lf = landing_files.get_mut(sha).expect("inserted above");
                    if blob["isTruncated"].as_bool() == Some(true) || blob["isBinary"].as_bool() == Some(true) {
                        gap(
                            gaps,
                            GapArea::Review,
                            &format!("version file {f} of {sha}"),
                            &"binary or too large to read",
                        );
                        continue;
                    }
                    let text = blob["text"].as_str().map(str::to_owned);
                    // A rename is keyed by its new path; its old text is read from the old path.
                    let key = lf
                        .files
                        .iter()
                        .find(|x| x.previous_path.as_deref() == Some(f.as_str()))
                        .map_or_else(|| f.clone(), |x| x.path.clone());
                    let entry = lf.version_files.entry(key).or_insert(FileChange { before: None, after: None });
                    if *after {
                        entry.after = text;
                    } else {
                        entry.before = text;
                    }
                }
            }
            Err(e) => gap(gaps, GapArea::Review, "version files", &e),
        }
    }
}

/// Scans: the jobs of the deploy's workflows and their SARIF artifacts.
fn read_scans(cx: &Target<'_>, gaps: &mut Vec<Gap>) -> Scans {
    let (src, b) = (cx.src, cx.b);
    let mut scans = Scans {
        source:
            "circleci: GET /pipeline/{id}/workflow, GET /workflow/{id}/job, GET /project/{slug}/{job}/artifacts; github: GET code-scanning/analyses[/{id}]"
                .into(),
        ..Scans::default()
    };
    // The workflows are the deploy's pipeline's, every one of them, as
    // CircleCI lists them (the CI record's list is anyone's who may edit
    // issues: it could add another pipeline's clean run or leave out a
    // rerun that failed), oldest first, so the newest run of a job is the
    // last one seen.
    let mut ours: Vec<(String, String)> = Vec::new();
    match src.clients.circleci.pipeline_workflows(&b.pipeline_id) {
        Ok(ws) => ours.extend(ws.into_iter().map(|w| (w.created_at.unwrap_or_default(), w.id))),
        Err(e) => gap(gaps, GapArea::Scan, &format!("workflows of pipeline {}", b.pipeline_id), &e),
    }
    ours.sort();
    ours.dedup_by(|a, b| a.1 == b.1);
    for (_, id) in &ours {
        match src.clients.circleci.workflow_jobs(id) {
            Ok(jobs) => scans.jobs.extend(jobs.into_iter().map(|j| JobFact {
                workflow_id: id.clone(),
                name: j.name,
                status: j.status,
                number: j.job_number,
            })),
            Err(e) => gap(gaps, GapArea::Scan, &format!("jobs of workflow {id}"), &e),
        }
    }
    collect_sarif(&src.clients.circleci, &b.project_slug, &cx.config.scan.jobs, &mut scans, gaps);
    cx.say(&format_args!(
        "scans: {} workflow(s), {} job(s), {} SARIF file(s); reading code scanning",
        ours.len(),
        scans.jobs.len(),
        scans.sarif.len()
    ));
    scans
}

/// Reads code scanning of the commit (asked beside the pull requests of
/// the landings) into `scans`: read, not enabled, or unknown with a gap.
fn read_code_scanning(code_scanning: CodeScanning, scans: &mut Scans, gaps: &mut Vec<Gap>) {
    scans.code_scanning_status = "unknown".into();
    let (code_scanning, sarif_gaps) = code_scanning;
    gaps.extend(sarif_gaps);
    match code_scanning {
        Ok((list, exhaustive)) => {
            scans.code_scanning = list;
            if exhaustive {
                scans.code_scanning_status = "read".into();
            } else {
                let pages = crate::clients::github::MAX_ANALYSIS_PAGES;
                gap(
                    gaps,
                    GapArea::Scan,
                    "code scanning",
                    &format!("the newest {pages} pages of analyses did not reach the commit's"),
                );
            }
        }
        // 404: code scanning is set up but holds no analysis for the ref.
        Err(GitHubError::Api(e)) if e.status() == Some(404) => scans.code_scanning_status = "read".into(),
        // 403 naming code scanning or Advanced Security: it is off for the
        // repository. Any other 403 (a token without the scope) is a gap.
        Err(GitHubError::Api(e)) if e.status() == Some(403) && code_scanning_off(&e.to_string()) => {
            scans.code_scanning_status = "not_enabled".into();
        }
        Err(e) => gap(gaps, GapArea::Scan, "code scanning", &e),
    }
}

/// The other live tickets of the stream, and the open drift of the
/// environment.
fn read_live_tickets(cx: &Target<'_>, gaps: &mut Vec<Gap>) -> (Vec<PendingTicket>, Vec<OpenDrift>) {
    let (src, config, b) = (cx.src, cx.config, cx.b);
    // Other live tickets of the stream.
    cx.say(&"looking for other pending tickets and running deploys of the stream");
    let pending = match pending_tickets(&src.clients.jira, &src.clients.circleci, config, b, cx.key) {
        Ok(p) => p,
        Err(e) => {
            gap(gaps, GapArea::Policy, "pending tickets", &e);
            Vec::new()
        }
    };
    // Open drift of the environment.
    let open_drift = match crate::steps::drift::open::open_for_environment(
        &src.clients.jira,
        config,
        &b.environment,
        src.ring.is_some(),
    ) {
        Ok(d) => d,
        Err(e) => {
            gap(gaps, GapArea::Policy, "open drift tickets", &e);
            Vec::new()
        }
    };
    (pending, open_drift)
}

/// A batch of pull requests read: each number with its facts and the gaps
/// of its further pages; `None` when the repository is not found.
type PullBatch = Result<Option<Vec<(u64, PullFacts, Vec<Gap>)>>, GitHubError>;

/// Reads the pull requests `numbers` in one query, then the further pages
/// of their long connections. A number named only in a message may be no
/// pull request at all: that is no link, not a failed batch.
fn pull_batch(gh: &GitHub, vars: &Value, repo: &str, numbers: &[u64]) -> PullBatch {
    let data = gh.graphql_allow_missing("Pulls", &queries::pulls(numbers), vars.clone())?;
    if data["repository"].is_null() {
        return Ok(None);
    }
    let mut read = Vec::new();
    for (i, n) in numbers.iter().enumerate() {
        let node = &data["repository"][format!("p{i}")];
        if let Some(mut facts) = pull_facts(node, repo) {
            let mut gaps = Vec::new();
            complete_pages(gh, vars, node, &mut facts, &mut gaps);
            read.push((*n, facts, gaps));
        }
    }
    Ok(Some(read))
}

/// The compared range, its commits as the record keeps them.
struct Compared {
    /// `ahead`, `behind`, `diverged` or `identical`.
    status: String,
    /// Commits in HEAD not in BASE.
    total_commits: u64,
    /// The commits read.
    commits: Vec<RangeCommit>,
}

impl From<github::Compare> for Compared {
    fn from(c: github::Compare) -> Self {
        Compared {
            status: c.status,
            total_commits: c.total_commits,
            commits: c.commits.into_iter().map(RangeCommit::from).collect(),
        }
    }
}

impl From<github::RangeCommit> for RangeCommit {
    fn from(c: github::RangeCommit) -> Self {
        RangeCommit {
            sha: c.sha,
            parents: c.parents,
            tree: c.tree,
            author_id: c.author_id,
            committer_id: c.committer_id,
            headline: c.headline,
            verified: c.verified,
        }
    }
}

impl From<github::ChangedFile> for ChangedFile {
    fn from(f: github::ChangedFile) -> Self {
        ChangedFile { path: f.path, status: f.status, previous_path: f.previous_path }
    }
}

/// An analysis as GitHub lists it; the collector adds its SARIF's runs.
impl From<github::Analysis> for CodeScanningAnalysis {
    fn from(a: github::Analysis) -> Self {
        CodeScanningAnalysis {
            id: a.id,
            commit_sha: a.commit_sha,
            reference: a.reference,
            tool_name: a.tool_name,
            category: a.category,
            error: a.error,
            results_count: a.results_count,
            created_at: a.created_at,
            runs: None,
            sarif_error: None,
        }
    }
}

/// Code scanning's analyses (and whether the list is whole), and the gaps
/// of the SARIF that could not be read.
type CodeScanning = (Result<(Vec<CodeScanningAnalysis>, bool), GitHubError>, Vec<Gap>);

/// The code-scanning analyses of commit `sha` on `reference`, each with
/// results read with its SARIF; the gaps are SARIF that could not be read.
fn code_scanning_of(gh: &GitHub, (owner, name): (&str, &str), reference: &str, sha: &str) -> CodeScanning {
    let mut gaps = Vec::new();
    let answer = gh.analyses_of_commit(owner, name, reference, sha).map(|(list, exhaustive)| {
        let mut list: Vec<CodeScanningAnalysis> = list.into_iter().map(CodeScanningAnalysis::from).collect();
        // An analysis with results: its SARIF says how severe they are.
        for a in list.iter_mut().filter(|a| a.results_count > 0 && a.error.is_empty()) {
            match gh.analysis_sarif(owner, name, a.id) {
                Ok(doc) => match crate::base::sarif::read(&doc) {
                    Ok(runs) => a.runs = Some(runs),
                    Err(e) => a.sarif_error = Some(e.to_string()),
                },
                Err(e) => gaps.push(Gap {
                    area: GapArea::Scan,
                    what: format!("SARIF of code-scanning analysis {}", a.id),
                    why: e.to_string(),
                }),
            }
        }
        (list, exhaustive)
    });
    (answer, gaps)
}

/// The tree comparisons of merge, squash and rebase landings (see
/// [`super::content`]), when built with the `git-objects` feature.
#[cfg(feature = "git-objects")]
fn fill_content(e: &mut Evidence, config: &Config, github: &GitHub, (owner, name): (&str, &str)) {
    let review = crate::steps::analyze::review::verify(e, &config.review);
    let wanted = super::content::wanted(e, &review);
    let (url, token) = github.git_remote(owner, name);
    e.content.source = format!("git: {url}, fetched into a temporary bare repository; merged with libgit2");
    if wanted.is_empty() {
        e.content.available = true;
        return;
    }
    match super::content::compare(&url, token, &wanted) {
        Ok(checks) => {
            e.content.available = true;
            e.content.checks = checks;
        }
        Err(why) => e.gaps.push(Gap { area: GapArea::Review, what: "git objects".into(), why }),
    }
}

#[cfg(not(feature = "git-objects"))]
fn fill_content(_: &mut Evidence, _: &Config, _: &GitHub, _: (&str, &str)) {}

/// The other live tickets of the binding's repository and environment
/// (stream), and whether their workflows still run. Read again just before
/// the bot approves.
pub(crate) fn pending_tickets(
    jira: &Jira,
    circleci: &CircleCi,
    config: &Config,
    b: &crate::model::binding::Binding,
    key: &str,
) -> Result<Vec<PendingTicket>, JiraError> {
    let jc = &config.jira;
    let closed: Vec<String> = jc.statuses.closed().iter().map(|s| jql::string(s)).collect();
    let q = format!(
        "project = {} AND labels = {} AND status not in ({}) ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(&b.stream_label()),
        closed.join(", ")
    );
    let mut pending = Vec::new();
    for i in jira.search(&q, &["status"], &[RECORD_PROPERTY], &[])?.iter().filter(|i| i.key != key) {
        let r = i.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value);
        let mut active = Some(false);
        for w in r.iter().flat_map(|r| r.workflows.iter()) {
            match circleci.workflow(&w.id) {
                Ok(wf) => active = active.map(|a| a || wf.is_active()),
                Err(e) if e.status() == Some(404) => {}
                Err(_) => active = None,
            }
        }
        pending.push(PendingTicket {
            key: i.key.clone(),
            status: i.status().unwrap_or_default().to_owned(),
            pipeline_number: r.as_ref().map(|r| r.binding.pipeline_number),
            workflows_active: active,
        });
    }
    Ok(pending)
}

/// The largest SARIF artifact read; a larger one is a gap, not a pass.
pub(crate) const MAX_SARIF_BYTES: u64 = 100 * 1024 * 1024;

/// Reads the SARIF artifacts (`*.sarif`, `*.sarif.json`) of the scan jobs
/// among `scans.jobs`. A document that is not SARIF is recorded with its
/// error (the scan gate refuses it); a call that fails is a gap.
fn collect_sarif(ci: &CircleCi, slug: &str, scan_jobs: &[String], scans: &mut Scans, gaps: &mut Vec<Gap>) {
    let wanted: Vec<JobFact> = scans.jobs.iter().filter(|j| scan_jobs.contains(&j.name)).cloned().collect();
    for job in wanted {
        let Some(number) = job.number else {
            // A job that never started has no number and no artifacts; its
            // status is in `scans.jobs` for the gate.
            continue;
        };
        let artifacts = match ci.artifacts(slug, number) {
            Ok(a) => a,
            Err(e) => {
                gaps.push(Gap {
                    area: GapArea::Scan,
                    what: format!("artifacts of job {} ({number})", job.name),
                    why: e.to_string(),
                });
                continue;
            }
        };
        for a in artifacts.into_iter().filter(|a| is_sarif_path(&a.path)) {
            match ci.download(&a.url, MAX_SARIF_BYTES) {
                Ok(bytes) => {
                    let (runs, error) = read_sarif_bytes(&bytes);
                    scans.sarif.push(SarifArtifact {
                        kind: "artifact".into(),
                        workflow_id: job.workflow_id.clone(),
                        job: job.name.clone(),
                        job_number: number,
                        digest: Sha256Digest::of(&bytes),
                        source: format!("circleci: artifact {} of job {number}", a.path),
                        path: a.path,
                        runs,
                        error,
                    });
                }
                Err(e) => gaps.push(Gap {
                    area: GapArea::Scan,
                    what: format!("artifact {} of job {} ({number})", a.path, job.name),
                    why: e.to_string(),
                }),
            }
        }
    }
}

/// Reads SARIF bytes: its runs, or why they cannot be read.
pub fn read_sarif_bytes(bytes: &[u8]) -> (Option<Vec<crate::base::sarif::RunFacts>>, Option<String>) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(doc) => match crate::base::sarif::read(&doc) {
            Ok(runs) => (Some(runs), None),
            Err(e) => (None, Some(e.to_string())),
        },
        Err(e) => (None, Some(format!("not JSON: {e}"))),
    }
}

/// Adds SARIF files given by path (a scan run in the deploy's own job) to
/// the record. They carry no job binding: only runs whose
/// `versionControlProvenance` names the deployed commit count as evidence.
pub(crate) fn add_sarif_files(evidence: &mut Evidence, files: &[std::path::PathBuf]) -> Result<(), std::io::Error> {
    for path in files {
        let bytes = std::fs::read(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read SARIF file {}: {e}", path.display())))?;
        let (runs, error) = read_sarif_bytes(&bytes);
        evidence.scans.sarif.push(SarifArtifact {
            kind: "file".into(),
            workflow_id: String::new(),
            job: String::new(),
            job_number: 0,
            path: path.display().to_string(),
            digest: Sha256Digest::of(&bytes),
            runs,
            error,
            source: format!("file: {}", path.display()),
        });
    }
    Ok(())
}

/// GitHub's 403 answers when code scanning is off for a repository:
/// "Code scanning is not enabled for this repository", "Advanced Security
/// must be enabled for this repository to use code scanning".
pub(crate) fn code_scanning_off(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("code scanning is not enabled") || m.contains("advanced security must be enabled")
}

fn is_sarif_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.ends_with(".sarif") || p.ends_with(".sarif.json")
}

fn actor(v: &Value) -> Option<Actor> {
    if v.is_null() {
        return None;
    }
    Some(Actor {
        kind: v["__typename"].as_str().unwrap_or("User").to_owned(),
        login: v["login"].as_str().unwrap_or_default().to_owned(),
        id: v["databaseId"].as_u64(),
    })
}

fn associated_pull(v: &Value) -> AssociatedPull {
    AssociatedPull {
        number: v["number"].as_u64().unwrap_or_default(),
        merged: v["merged"].as_bool().unwrap_or(false),
        base_ref: v["baseRefName"].as_str().unwrap_or_default().to_owned(),
        base_repository: v["baseRepository"]["nameWithOwner"].as_str().unwrap_or_default().to_owned(),
        head: v["headRefOid"].as_str().unwrap_or_default().to_owned(),
        merge_commit: v["mergeCommit"]["oid"].as_str().map(str::to_owned),
    }
}

fn pull_commit(v: &Value) -> PullCommit {
    let c = &v["commit"];
    PullCommit {
        oid: c["oid"].as_str().unwrap_or_default().to_owned(),
        parents: c["parents"]["nodes"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["oid"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        tree: c["tree"]["oid"].as_str().unwrap_or_default().to_owned(),
        parent_trees: c["parents"]["nodes"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["tree"]["oid"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        author_id: c["author"]["user"]["databaseId"].as_u64(),
        committer_id: c["committer"]["user"]["databaseId"].as_u64(),
        committed_via_web: c["committedViaWeb"].as_bool().unwrap_or(false),
        signed_by_github: c["signature"]["wasSignedByGitHub"].as_bool() == Some(true)
            && c["signature"]["isValid"].as_bool() == Some(true),
        changed_files: c["changedFilesIfAvailable"].as_u64(),
    }
}

fn review(v: &Value) -> ReviewFact {
    ReviewFact {
        id: v["fullDatabaseId"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| v["fullDatabaseId"].as_u64().map(|n| n.to_string())),
        state: v["state"].as_str().unwrap_or_default().to_owned(),
        submitted_at: v["submittedAt"].as_str().map(str::to_owned),
        commit: v["commit"]["oid"].as_str().map(str::to_owned),
        author: actor(&v["author"]),
        can_push: v["authorCanPushToRepository"].as_bool(),
    }
}

fn event(v: &Value) -> TimelineEvent {
    let s = |k: &str| v[k].as_str().map(str::to_owned);
    let kind = v["__typename"].as_str().unwrap_or_default().to_owned();
    TimelineEvent {
        created_at: s("createdAt").unwrap_or_default(),
        actor: actor(&v["actor"]),
        before: v["beforeCommit"]["oid"].as_str().map(str::to_owned),
        after: v["afterCommit"]["oid"].as_str().or(v["commit"]["oid"].as_str()).map(str::to_owned),
        review: v["review"]["fullDatabaseId"].as_str().map(str::to_owned),
        previous_state: s("previousReviewState"),
        previous_ref: s("previousRefName"),
        current_ref: s("currentRefName"),
        kind,
    }
}

fn pull_facts(v: &Value, repo: &str) -> Option<PullFacts> {
    let number = v["number"].as_u64()?;
    let list = |conn: &Value| conn["nodes"].as_array().cloned().unwrap_or_default();
    Some(PullFacts {
        number,
        merged: v["merged"].as_bool().unwrap_or(false),
        merged_at: v["mergedAt"].as_str().map(str::to_owned),
        base_ref: v["baseRefName"].as_str().unwrap_or_default().to_owned(),
        base_repository: v["baseRepository"]["nameWithOwner"].as_str().unwrap_or_default().to_owned(),
        head: v["headRefOid"].as_str().unwrap_or_default().to_owned(),
        merge_commit: v["mergeCommit"]["oid"].as_str().map(str::to_owned),
        author: actor(&v["author"]),
        files: list(&v["files"])
            .iter()
            .map(|f| PullFile {
                path: f["path"].as_str().unwrap_or_default().to_owned(),
                change_type: f["changeType"].as_str().unwrap_or_default().to_owned(),
            })
            .collect(),
        files_complete: v["files"]["pageInfo"]["hasNextPage"].as_bool() == Some(false),
        commits: list(&v["commits"]).iter().map(pull_commit).collect(),
        reviews: list(&v["reviews"]).iter().map(review).collect(),
        timeline: list(&v["timelineItems"]).iter().map(event).collect(),
        source: format!("github: GraphQL pullRequest({number}) of {repo}"),
    })
}

/// Reads the remaining pages of a pull request's long connections.
fn complete_pages(gh: &GitHub, vars: &Value, node: &Value, facts: &mut PullFacts, gaps: &mut Vec<Gap>) {
    for (conn, field) in
        [(Connection::Commits, "commits"), (Connection::Reviews, "reviews"), (Connection::Timeline, "timelineItems")]
    {
        let mut page = node[field]["pageInfo"].clone();
        let mut guard = 0;
        while page["hasNextPage"].as_bool() == Some(true) {
            guard += 1;
            let after = page["endCursor"].as_str().unwrap_or_default().to_owned();
            let mut v = vars.clone();
            v["after"] = json!(after);
            let path = match conn {
                Connection::Commits => "commits",
                Connection::Reviews => "reviews",
                Connection::Timeline => "timelineItems",
            };
            match gh.graphql("PullPage", &queries::pull_page(facts.number, conn), v) {
                Ok(data) => {
                    let c = &data["repository"]["pullRequest"][path];
                    let nodes = c["nodes"].as_array().cloned().unwrap_or_default();
                    match conn {
                        Connection::Commits => facts.commits.extend(nodes.iter().map(pull_commit)),
                        Connection::Reviews => facts.reviews.extend(nodes.iter().map(review)),
                        Connection::Timeline => facts.timeline.extend(nodes.iter().map(event)),
                    }
                    page = c["pageInfo"].clone();
                }
                Err(e) => {
                    gaps.push(Gap {
                        area: GapArea::Review,
                        what: format!("pull {} {field}", facts.number),
                        why: e.to_string(),
                    });
                    break;
                }
            }
            if guard > 100 {
                gaps.push(Gap {
                    area: GapArea::Review,
                    what: format!("pull {} {field}", facts.number),
                    why: "more than 100 pages".into(),
                });
                break;
            }
        }
    }
}
