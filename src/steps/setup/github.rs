//! `changegate setup github`: whether the GitHub token can read what
//! evidence collection reads, and whether the deploy branch's protection
//! supports the review rules. Read-only: it never changes GitHub.
//!
//! The token's needs, each present or blocked by the permission it lacks:
//! the repository itself (`GET /repos/{owner}/{repo}`), its contents (the
//! branch's head commit, `GET /repos/{owner}/{repo}/commits/{ref}`: what
//! comparing a deployed range reads), pull requests
//! (`GET /repos/{owner}/{repo}/pulls`) and code scanning
//! (`GET /repos/{owner}/{repo}/code-scanning/analyses`, where a 404 means
//! no analysis yet and a 403 naming code scanning means it is off, as
//! collection reads them).
//!
//! The branch facts the review rules rely on, each present or left to a
//! person with the setting to turn on: a pull request with
//! `[review] min_approvals` approvals before merging, stale approvals
//! dismissed by a push, and nobody able to bypass that. They are read from
//! the branch protection (`GET .../branches/{branch}/protection`, which
//! needs admin) and the rulesets that apply to the branch
//! (`GET .../rules/branches/{branch}`, readable with read access, and
//! `GET .../rulesets/{id}` for who may bypass, which GitHub shows only to
//! those who may edit the ruleset). Either layer requiring review is enough.
//!
//! GitHub Enterprise Server: the same calls at `GITHUB_API_URL`
//! (`https://HOST/api/v3`).

use serde::Deserialize;

use super::{Action, Plan, Step};
use crate::clients::github::GitHub;
use crate::clients::http::{ApiError, percent_encode};

/// What the repository needs, from the configuration and the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// `owner/name`.
    pub repo: String,
    /// The deploy branch (default: the repository's default branch).
    pub branch: Option<String>,
    /// `[review] min_approvals`.
    pub min_approvals: u32,
}

/// GitHub's answer to a read it refused (or could not serve as asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub(crate) status: u16,
    /// GitHub's message.
    pub(crate) message: String,
    /// `X-Accepted-GitHub-Permissions`: what GitHub says the call needs.
    pub(crate) accepted: Option<String>,
}

/// One read: its facts, or GitHub's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read<T> {
    /// Read.
    Ok(T),
    /// Refused.
    Refused(Refusal),
}

/// The repository as the token sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFacts {
    /// Its default branch.
    pub(crate) default_branch: String,
    /// Private (or internal).
    pub(crate) private: bool,
    /// The token's user is an administrator of it.
    pub(crate) admin: bool,
    /// The token's user may push to it.
    pub(crate) push: bool,
}

/// The review a protection layer requires before merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reviews {
    /// Approvals required.
    pub(crate) approvals: u32,
    /// Approvals are dismissed when commits are pushed.
    pub(crate) dismiss_stale: bool,
}

/// A branch protection rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// Its pull request requirement, if any.
    pub(crate) reviews: Option<Reviews>,
    /// Administrators are held to it too ("Do not allow bypassing the above settings").
    pub(crate) enforce_admins: bool,
    /// Who may skip the pull request requirement (users, teams, apps).
    pub(crate) bypass: Vec<String>,
}

/// A ruleset's pull request rule that applies to the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesetReviews {
    /// The ruleset's id.
    pub(crate) id: u64,
    /// Its name (its source's, when the ruleset could not be read).
    pub(crate) name: String,
    /// What it requires.
    pub(crate) reviews: Reviews,
    /// Who may bypass it; `None` when GitHub does not show it to this token.
    pub(crate) bypass: Option<Vec<String>>,
    /// The token's own user may bypass it.
    pub(crate) token_may_bypass: bool,
}

/// What the token reads of the repository (plain data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The REST base (github.com or a GitHub Enterprise Server).
    pub(crate) api_url: String,
    /// The scopes of a classic token (`X-OAuth-Scopes`), when GitHub says them.
    pub(crate) scopes: Option<String>,
    /// The repository.
    pub repo: Read<RepoFacts>,
    /// The branch looked at.
    pub(crate) branch: String,
    /// The branch's head commit (contents).
    pub contents: Option<Read<()>>,
    /// The pull request list.
    pub pulls: Option<Read<()>>,
    /// Code-scanning analyses of the branch (how many on the first page).
    pub code_scanning: Option<Read<usize>>,
    /// The branch protection rule (`Ok(None)`: the branch is not protected).
    pub protection: Option<Read<Option<Protection>>>,
    /// The rulesets' pull request rules for the branch.
    pub rules: Option<Read<Vec<RulesetReviews>>>,
}

fn refusal(r: &crate::clients::http::Response) -> Refusal {
    Refusal {
        status: r.status,
        message: crate::clients::http::error_message(&r.body),
        accepted: r
            .headers
            .get("x-accepted-github-permissions")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .filter(|v| !v.is_empty()),
    }
}

/// GET `path`: a 2xx decoded, a 4xx a refusal, anything else an error.
fn get<T: serde::de::DeserializeOwned>(
    gh: &GitHub,
    path: &str,
    query: &[(&str, String)],
) -> Result<(Read<T>, crate::clients::http::Response), ApiError> {
    let r = gh.get_answer(path, query)?;
    if (200..300).contains(&r.status) {
        let v = serde_json::from_slice(&r.body).map_err(|e| ApiError::Decode {
            service: "GitHub",
            method: "GET".into(),
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        Ok((Read::Ok(v), r))
    } else if (400..500).contains(&r.status) {
        Ok((Read::Refused(refusal(&r)), r))
    } else {
        Err(ApiError::Status {
            service: "GitHub",
            method: "GET".into(),
            path: path.to_owned(),
            status: r.status,
            message: crate::clients::http::error_message(&r.body),
        })
    }
}

/// A read whose body does not matter.
fn reached(gh: &GitHub, path: &str, query: &[(&str, String)]) -> Result<Read<()>, ApiError> {
    Ok(match get::<serde_json::Value>(gh, path, query)?.0 {
        Read::Ok(_) => Read::Ok(()),
        Read::Refused(r) => Read::Refused(r),
    })
}

#[derive(Deserialize)]
struct RawRepo {
    default_branch: String,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    permissions: Option<RawPermissions>,
}

#[derive(Deserialize)]
struct RawPermissions {
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    push: bool,
}

#[derive(Deserialize)]
struct RawProtection {
    #[serde(default)]
    required_pull_request_reviews: Option<RawReviews>,
    #[serde(default)]
    enforce_admins: Option<RawEnabled>,
}

#[derive(Deserialize)]
struct RawEnabled {
    enabled: bool,
}

#[derive(Deserialize)]
struct RawReviews {
    #[serde(default)]
    required_approving_review_count: u32,
    #[serde(default)]
    dismiss_stale_reviews: bool,
    #[serde(default)]
    bypass_pull_request_allowances: Option<RawAllowances>,
}

#[derive(Deserialize)]
struct RawAllowances {
    #[serde(default)]
    users: Vec<RawNamed>,
    #[serde(default)]
    teams: Vec<RawNamed>,
    #[serde(default)]
    apps: Vec<Option<RawNamed>>,
}

#[derive(Deserialize)]
struct RawNamed {
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    slug: Option<String>,
}

#[derive(Deserialize)]
struct RawRule {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    parameters: Option<RawRuleParameters>,
    #[serde(default)]
    ruleset_id: Option<u64>,
    #[serde(default)]
    ruleset_source: Option<String>,
}

#[derive(Deserialize)]
struct RawRuleParameters {
    #[serde(default)]
    required_approving_review_count: u32,
    #[serde(default)]
    dismiss_stale_reviews_on_push: bool,
}

#[derive(Deserialize)]
struct RawRuleset {
    name: String,
    #[serde(default)]
    bypass_actors: Option<Vec<RawActor>>,
    #[serde(default)]
    current_user_can_bypass: Option<String>,
}

#[derive(Deserialize)]
struct RawActor {
    #[serde(default)]
    actor_id: Option<u64>,
    actor_type: String,
    #[serde(default)]
    bypass_mode: Option<String>,
}

impl RawActor {
    fn shown(&self) -> String {
        let id = self.actor_id.map_or_else(String::new, |i| format!(" {i}"));
        let who = match self.actor_type.as_str() {
            "OrganizationAdmin" => "organization admins".to_owned(),
            "RepositoryRole" => match self.actor_id {
                Some(5) => "the admin role".to_owned(),
                Some(4) => "the write role".to_owned(),
                Some(2) => "the maintain role".to_owned(),
                _ => format!("repository role{id}"),
            },
            "Team" => format!("team{id}"),
            "Integration" => format!("app{id}"),
            "DeployKey" => "deploy keys".to_owned(),
            "User" => format!("user{id}"),
            other => format!("{other}{id}"),
        };
        match self.bypass_mode.as_deref() {
            Some("pull_request") => format!("{who} (through a pull request)"),
            _ => who,
        }
    }
}

fn protection_of(p: RawProtection) -> Protection {
    let mut bypass = Vec::new();
    let enforce_admins = p.enforce_admins.is_some_and(|e| e.enabled);
    let reviews = p.required_pull_request_reviews.map(|r| {
        if let Some(a) = r.bypass_pull_request_allowances {
            bypass.extend(a.users.into_iter().filter_map(|u| u.login).map(|l| format!("user {l}")));
            bypass.extend(a.teams.into_iter().filter_map(|t| t.slug).map(|s| format!("team {s}")));
            bypass.extend(a.apps.into_iter().flatten().filter_map(|a| a.slug).map(|s| format!("app {s}")));
        }
        Reviews { approvals: r.required_approving_review_count, dismiss_stale: r.dismiss_stale_reviews }
    });
    Protection { reviews, enforce_admins, bypass }
}

/// Reads what `needs` asks about with the token of `gh`. Answers 4xx are
/// facts (a refusal); 5xx and network failures are errors.
pub fn read(gh: &GitHub, needs: &Needs) -> Result<Snapshot, ApiError> {
    let (owner, name) = needs.repo.split_once('/').unwrap_or((needs.repo.as_str(), ""));
    let base = format!("/repos/{}/{}", percent_encode(owner), percent_encode(name));
    let (repo, answer) = get::<RawRepo>(gh, &base, &[])?;
    let scopes = answer.headers.get("x-oauth-scopes").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let repo = match repo {
        Read::Ok(r) => {
            let p = r.permissions.unwrap_or(RawPermissions { admin: false, push: false });
            RepoFacts { default_branch: r.default_branch, private: r.private, admin: p.admin, push: p.push }
        }
        Read::Refused(r) => {
            return Ok(Snapshot {
                api_url: gh.api_url().to_owned(),
                scopes,
                repo: Read::Refused(r),
                branch: needs.branch.clone().unwrap_or_default(),
                contents: None,
                pulls: None,
                code_scanning: None,
                protection: None,
                rules: None,
            });
        }
    };
    let branch = needs.branch.clone().unwrap_or_else(|| repo.default_branch.clone());
    let b = percent_encode(&branch);
    let contents = reached(gh, &format!("{base}/commits/{b}"), &[])?;
    let pulls = reached(gh, &format!("{base}/pulls"), &[("state", "all".into()), ("per_page", "1".into())])?;
    let code_scanning = match get::<Vec<serde_json::Value>>(
        gh,
        &format!("{base}/code-scanning/analyses"),
        &[("ref", format!("refs/heads/{branch}")), ("per_page", "1".into())],
    )?
    .0
    {
        Read::Ok(list) => Read::Ok(list.len()),
        Read::Refused(r) => Read::Refused(r),
    };
    let protection = match get::<RawProtection>(gh, &format!("{base}/branches/{b}/protection"), &[])?.0 {
        Read::Ok(p) => Read::Ok(Some(protection_of(p))),
        Read::Refused(r) if r.status == 404 && r.message.eq_ignore_ascii_case("Branch not protected") => Read::Ok(None),
        Read::Refused(r) => Read::Refused(r),
    };
    let rules = read_rules(gh, &base, &b)?;
    Ok(Snapshot {
        api_url: gh.api_url().to_owned(),
        scopes,
        repo: Read::Ok(repo),
        branch,
        contents: Some(contents),
        pulls: Some(pulls),
        code_scanning: Some(code_scanning),
        protection: Some(protection),
        rules: Some(rules),
    })
}

/// The pull request rules of the rulesets that apply to the branch, with
/// who may bypass each.
fn read_rules(gh: &GitHub, base: &str, branch: &str) -> Result<Read<Vec<RulesetReviews>>, ApiError> {
    const PAGE: usize = 100;
    let mut rules: Vec<RawRule> = Vec::new();
    for page in 1..=10 {
        let query = [("per_page", PAGE.to_string()), ("page", page.to_string())];
        match get::<Vec<RawRule>>(gh, &format!("{base}/rules/branches/{branch}"), &query)?.0 {
            Read::Ok(list) => {
                let n = list.len();
                rules.extend(list);
                if n < PAGE {
                    break;
                }
            }
            Read::Refused(r) => return Ok(Read::Refused(r)),
        }
    }
    let mut out: Vec<RulesetReviews> = Vec::new();
    for rule in rules.into_iter().filter(|r| r.kind == "pull_request") {
        let params = rule
            .parameters
            .unwrap_or(RawRuleParameters { required_approving_review_count: 0, dismiss_stale_reviews_on_push: false });
        let reviews = Reviews {
            approvals: params.required_approving_review_count,
            dismiss_stale: params.dismiss_stale_reviews_on_push,
        };
        let id = rule.ruleset_id.unwrap_or(0);
        let source = rule.ruleset_source.unwrap_or_default();
        let (name, bypass, token_may_bypass) = match get::<RawRuleset>(gh, &format!("{base}/rulesets/{id}"), &[])?.0 {
            Read::Ok(rs) => (
                rs.name,
                rs.bypass_actors.map(|a| a.iter().map(RawActor::shown).collect()),
                matches!(rs.current_user_can_bypass.as_deref(), Some("always" | "pull_requests_only" | "exempt")),
            ),
            Read::Refused(_) => (source, None, false),
        };
        out.push(RulesetReviews { id, name, reviews, bypass, token_may_bypass });
    }
    Ok(Read::Ok(out))
}

/// A layer of protection that requires review: branch protection or a ruleset.
struct Layer {
    name: String,
    reviews: Reviews,
    bypass: Option<Vec<String>>,
}

fn layers(snap: &Snapshot) -> Vec<Layer> {
    let mut out = Vec::new();
    if let Some(Read::Ok(Some(p))) = &snap.protection
        && let Some(r) = &p.reviews
    {
        let mut bypass = p.bypass.clone();
        if !p.enforce_admins {
            bypass.insert(0, "repository administrators (\"Do not allow bypassing the above settings\" is off)".into());
        }
        out.push(Layer { name: "the branch protection rule".into(), reviews: r.clone(), bypass: Some(bypass) });
    }
    if let Some(Read::Ok(rules)) = &snap.rules {
        for r in rules {
            let bypass = match (&r.bypass, r.token_may_bypass) {
                (Some(list), _) => Some(list.clone()),
                (None, true) => Some(vec!["this token's user (and whoever else the ruleset lets)".into()]),
                (None, false) => None,
            };
            out.push(Layer { name: format!("ruleset {:?} ({})", r.name, r.id), reviews: r.reviews.clone(), bypass });
        }
    }
    out
}

fn blocked(permission: &str, classic: &str, r: &Refusal) -> (Action, String) {
    let said = if r.message.is_empty() { String::new() } else { format!(": {}", r.message) };
    let accepted = r.accepted.as_deref().map_or_else(String::new, |a| format!("; GitHub says the call needs {a}"));
    (
        Action::Blocked { permission: permission.to_owned() },
        format!(
            "GitHub answered {}{said}; a fine-grained token or GitHub App needs {permission}, a classic token the \
             {classic} scope{accepted}",
            r.status
        ),
    )
}

/// The token's steps.
fn access(needs: &Needs, snap: &Snapshot, out: &mut Vec<Step>) {
    let repo = &needs.repo;
    let b = &snap.branch;
    let step = |name: &str, (action, detail): (Action, String)| Step::new("access", name, action, detail);
    match &snap.repo {
        Read::Ok(r) => {
            let role = if r.admin {
                "admin"
            } else if r.push {
                "write"
            } else {
                "read"
            };
            let scopes = snap.scopes.as_deref().map_or_else(String::new, |s| format!("; classic token scopes: {s}"));
            out.push(step(
                "repository",
                (
                    Action::Present,
                    format!("the token's user has {role} access; default branch {}{scopes}", r.default_branch),
                ),
            ));
        }
        Read::Refused(r) if r.status == 401 => {
            out.push(step("repository", blocked("a valid GITHUB_TOKEN", "any", r)));
            return;
        }
        Read::Refused(r) => {
            out.push(step("repository", blocked(&format!("access to {repo} (Metadata: read)"), "repo", r)));
            return;
        }
    }
    if let Some(c) = &snap.contents {
        out.push(step(
            "contents",
            match c {
                Read::Ok(()) => {
                    (Action::Present, format!("reads {b}'s commits: collection compares the deployed range"))
                }
                Read::Refused(r) if r.status == 422 => {
                    (Action::Manual, format!("{repo} has no branch {b}: name the deploy branch with --branch"))
                }
                Read::Refused(r) => blocked("Contents: read", "repo", r),
            },
        ));
    }
    if let Some(p) = &snap.pulls {
        out.push(step(
            "pull requests",
            match p {
                Read::Ok(()) => (
                    Action::Present,
                    "reads pull requests: collection finds each landing's pull request and its reviews".to_owned(),
                ),
                Read::Refused(r) => blocked("Pull requests: read", "repo", r),
            },
        ));
    }
    if let Some(c) = &snap.code_scanning {
        out.push(step(
            "code scanning",
            match c {
                Read::Ok(0) => (Action::Present, format!("reads code scanning; no analysis of {b} yet")),
                Read::Ok(_) => (Action::Present, format!("reads the code-scanning analyses of {b}")),
                // As collection reads it: set up, no analysis for the ref.
                Read::Refused(r) if r.status == 404 => {
                    (Action::Present, format!("reads code scanning; no analysis of {b} yet ({})", r.message))
                }
                Read::Refused(r)
                    if r.status == 403 && crate::steps::analyze::collect::code_scanning_off(&r.message) =>
                {
                    (
                        Action::Present,
                        format!(
                            "code scanning is off for {repo} ({}): collection records it as not enabled, and the scan \
                         gate relies on SARIF artifacts of the [scan] jobs",
                            r.message
                        ),
                    )
                }
                Read::Refused(r) => blocked("Code scanning alerts: read", "security_events", r),
            },
        ));
    }
}

/// The branch's steps.
fn branch_facts(needs: &Needs, snap: &Snapshot, out: &mut Vec<Step>) {
    if !matches!(snap.repo, Read::Ok(_)) {
        return;
    }
    let b = &snap.branch;
    let min = needs.min_approvals.max(1);
    let all = layers(snap);
    let enough: Vec<&Layer> = all.iter().filter(|l| l.reviews.approvals >= min).collect();
    let unread = unread_rules(b, snap);
    out.push(required_reviews(b, min, &all, &enough, &unread));
    out.push(stale_approvals(b, &all, &enough, &unread));
    if let Some(step) = bypass(b, &enough) {
        out.push(step);
    }
}

/// A step on branch `b`'s rule `what`.
fn branch_step(b: &str, what: &str, action: Action, detail: String) -> Step {
    Step::new("branch", format!("{b}: {what}"), action, detail)
}

/// "approval" or "approvals", for `n`.
fn approvals_word(n: u32) -> &'static str {
    if n == 1 { "approval" } else { "approvals" }
}

/// What of branch `b`'s rules this token could not read, as a note to
/// append to a step (empty when it read them all).
fn unread_rules(b: &str, snap: &Snapshot) -> String {
    let mut unread = Vec::new();
    if let Some(Read::Refused(r)) = &snap.protection {
        unread.push(format!(
            "this token cannot read {b}'s branch protection (GitHub answered {}; it needs admin, Administration: read): a \
             protection rule may already require it",
            r.status
        ));
    }
    if let Some(Read::Refused(r)) = &snap.rules {
        unread.push(format!(
            "the rulesets of {b} could not be read (GitHub answered {}: GitHub Enterprise Server before 3.9 has none)",
            r.status
        ));
    }
    if unread.is_empty() { String::new() } else { format!(" ({})", unread.join("; ")) }
}

/// A pull request with `min` approvals before merging: a rule of `enough`
/// requires it, or the strictest of `all` needs raising, or none asks for
/// a pull request at all.
fn required_reviews(b: &str, min: u32, all: &[Layer], enough: &[&Layer], unread: &str) -> Step {
    if let Some(l) = enough.first() {
        branch_step(
            b,
            "required reviews",
            Action::Present,
            format!(
                "{} requires a pull request with {} {} before merging",
                l.name,
                l.reviews.approvals,
                approvals_word(l.reviews.approvals)
            ),
        )
    } else if let Some(l) = all.iter().max_by_key(|l| l.reviews.approvals) {
        branch_step(
            b,
            "required reviews",
            Action::Manual,
            format!(
                "{} requires {} {}, [review] min_approvals is {min}: set \"Require approvals\" to {min} in it{unread}",
                l.name,
                l.reviews.approvals,
                approvals_word(l.reviews.approvals)
            ),
        )
    } else {
        branch_step(
            b,
            "required reviews",
            Action::Manual,
            format!(
                "nothing requires a pull request before merging into {b}: turn on \"Require a pull request before \
                 merging\" with \"Require approvals\" set to {min} (Settings > Rules > Rulesets > New branch ruleset \
                 targeting {b}, or Settings > Branches > Add branch protection rule); changegate finds unreviewed \
                 commits only after they landed (no_pull_request, no_approval){unread}"
            ),
        )
    }
}

/// Approvals dismissed by a push, by a rule that requires enough reviews
/// (or, when none does, any rule).
fn stale_approvals(b: &str, all: &[Layer], enough: &[&Layer], unread: &str) -> Step {
    let candidates: Vec<&Layer> = if enough.is_empty() { all.iter().collect() } else { enough.to_vec() };
    match candidates.iter().find(|l| l.reviews.dismiss_stale) {
        Some(l) => branch_step(
            b,
            "stale approvals",
            Action::Present,
            format!("{} dismisses approvals when commits are pushed", l.name),
        ),
        None => {
            let where_ =
                candidates.first().map_or_else(|| "the rule that requires reviews".to_owned(), |l| l.name.clone());
            branch_step(
                b,
                "stale approvals",
                Action::Manual,
                format!(
                    "turn on \"Dismiss stale pull request approvals when new commits are pushed\" in {where_}: \
                     otherwise an approval of an earlier head merges later commits, which changegate then refuses \
                     (approval_stale){unread}"
                ),
            )
        }
    }
}

/// Nobody can skip the review: a rule of `enough` no one may bypass, or
/// who may (or that the token cannot tell). None without such rules.
fn bypass(b: &str, enough: &[&Layer]) -> Option<Step> {
    if enough.is_empty() {
        return None;
    }
    if let Some(l) = enough.iter().find(|l| l.bypass.as_ref().is_some_and(Vec::is_empty)) {
        return Some(branch_step(b, "bypass", Action::Present, format!("no one may bypass {}", l.name)));
    }
    let mut known = Vec::new();
    let mut hidden = Vec::new();
    for l in enough {
        match &l.bypass {
            Some(list) => known.push(format!("{}: {}", l.name, list.join(", "))),
            None => hidden.push(l.name.clone()),
        }
    }
    let mut parts = Vec::new();
    if !known.is_empty() {
        parts.push(format!(
            "may merge without the review: {}; remove them from the bypass list (for branch protection, turn on \"Do \
             not allow bypassing the above settings\"), or accept that they can land changes unreviewed: changegate \
             reports such changes (no_pull_request, no_approval), it cannot stop them",
            known.join("; ")
        ));
    }
    if !hidden.is_empty() {
        parts.push(format!(
            "who may bypass {} is not shown to this token (GitHub shows a ruleset's bypass list only to those who may \
             edit it): check Settings > Rules > Rulesets > Bypass list",
            hidden.join(", ")
        ));
    }
    Some(branch_step(b, "bypass", Action::Manual, parts.join("; ")))
}

/// The plan (a report: nothing in it is applied) for `needs` against what
/// the token reads. Pure.
pub(crate) fn plan(needs: &Needs, snap: &Snapshot) -> Plan {
    let mut plan = Plan::new(format!("GitHub repository {} at {}, branch {}", needs.repo, snap.api_url, snap.branch));
    access(needs, snap, &mut plan.steps);
    branch_facts(needs, snap, &mut plan.steps);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::outcome::Outcome;

    fn needs() -> Needs {
        Needs { repo: "acme/web".into(), branch: None, min_approvals: 1 }
    }

    fn good() -> Snapshot {
        Snapshot {
            api_url: "https://api.github.com".into(),
            scopes: None,
            repo: Read::Ok(RepoFacts { default_branch: "main".into(), private: true, admin: true, push: true }),
            branch: "main".into(),
            contents: Some(Read::Ok(())),
            pulls: Some(Read::Ok(())),
            code_scanning: Some(Read::Ok(1)),
            protection: Some(Read::Ok(Some(Protection {
                reviews: Some(Reviews { approvals: 1, dismiss_stale: true }),
                enforce_admins: true,
                bypass: Vec::new(),
            }))),
            rules: Some(Read::Ok(Vec::new())),
        }
    }

    fn refused(status: u16, message: &str) -> Refusal {
        Refusal { status, message: message.into(), accepted: None }
    }

    fn step<'a>(p: &'a Plan, name: &str) -> &'a Step {
        p.steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no step {name}: {p:?}"))
    }

    #[test]
    fn a_token_with_everything_on_a_protected_branch_is_ready() {
        let p = plan(&needs(), &good());
        assert!(p.steps.iter().all(|s| s.action == Action::Present), "{p:?}");
        assert_eq!(p.steps.len(), 7);
        assert_eq!(p.outcome(), Outcome::Pass);
        assert!(step(&p, "main: bypass").detail.contains("no one may bypass the branch protection rule"));
        assert!(p.target.contains("at https://api.github.com, branch main"), "{}", p.target);
    }

    #[test]
    fn a_missing_permission_blocks_and_names_it() {
        let mut s = good();
        s.code_scanning = Some(Read::Refused(Refusal {
            status: 403,
            message: "Resource not accessible by personal access token".into(),
            accepted: Some("security_events=read".into()),
        }));
        let p = plan(&needs(), &s);
        let c = step(&p, "code scanning");
        assert_eq!(c.action, Action::Blocked { permission: "Code scanning alerts: read".into() });
        assert!(
            c.detail.contains("security_events scope; GitHub says the call needs security_events=read"),
            "{}",
            c.detail
        );
        assert_eq!(p.outcome(), Outcome::Undecided);
        // Code scanning that is off, or has no analysis, is readable.
        s.code_scanning = Some(Read::Refused(refused(403, "Code scanning is not enabled for this repository")));
        assert_eq!(step(&plan(&needs(), &s), "code scanning").action, Action::Present);
        s.code_scanning = Some(Read::Refused(refused(404, "no analysis found")));
        assert_eq!(step(&plan(&needs(), &s), "code scanning").action, Action::Present);
        s.pulls = Some(Read::Refused(refused(403, "Resource not accessible by integration")));
        s.contents = Some(Read::Refused(refused(404, "Not Found")));
        let p = plan(&needs(), &s);
        assert_eq!(step(&p, "pull requests").action, Action::Blocked { permission: "Pull requests: read".into() });
        assert_eq!(step(&p, "contents").action, Action::Blocked { permission: "Contents: read".into() });
        s.contents = Some(Read::Refused(refused(422, "No commit found for SHA: main")));
        assert_eq!(step(&plan(&needs(), &s), "contents").action, Action::Manual);
    }

    #[test]
    fn an_unreadable_repository_stops_at_the_first_step() {
        let s = Snapshot {
            repo: Read::Refused(refused(404, "Not Found")),
            contents: None,
            pulls: None,
            code_scanning: None,
            protection: None,
            rules: None,
            ..good()
        };
        let p = plan(&needs(), &s);
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].action, Action::Blocked { permission: "access to acme/web (Metadata: read)".into() });
    }

    #[test]
    fn a_branch_without_required_reviews_names_the_setting() {
        let mut s = good();
        s.protection = Some(Read::Ok(None));
        let p = plan(&needs(), &s);
        let r = step(&p, "main: required reviews");
        assert_eq!(r.action, Action::Manual);
        assert!(
            r.detail.contains("\"Require a pull request before merging\" with \"Require approvals\" set to 1"),
            "{}",
            r.detail
        );
        assert!(step(&p, "main: stale approvals").detail.contains("Dismiss stale pull request approvals"));
        assert!(!p.steps.iter().any(|s| s.name == "main: bypass"));
        assert_eq!(p.outcome(), Outcome::Deny);
        // Too few approvals for [review] min_approvals.
        let n = Needs { min_approvals: 2, ..needs() };
        let r = plan(&n, &good()).steps.into_iter().find(|s| s.name == "main: required reviews").unwrap();
        assert!(r.detail.contains("requires 1 approval, [review] min_approvals is 2"), "{}", r.detail);
    }

    #[test]
    fn a_ruleset_stands_in_for_unreadable_protection_and_its_bypass_list_is_reported() {
        let mut s = good();
        s.protection = Some(Read::Refused(refused(404, "Not Found")));
        s.rules = Some(Read::Ok(vec![RulesetReviews {
            id: 7,
            name: "main".into(),
            reviews: Reviews { approvals: 2, dismiss_stale: false },
            bypass: Some(vec!["team 12".into(), "organization admins".into()]),
            token_may_bypass: false,
        }]));
        let p = plan(&needs(), &s);
        assert_eq!(step(&p, "main: required reviews").action, Action::Present);
        let stale = step(&p, "main: stale approvals");
        assert_eq!(stale.action, Action::Manual);
        assert!(stale.detail.contains("in ruleset \"main\" (7)"), "{}", stale.detail);
        assert!(stale.detail.contains("cannot read main's branch protection"), "{}", stale.detail);
        let bypass = step(&p, "main: bypass");
        assert_eq!(bypass.action, Action::Manual);
        assert!(bypass.detail.contains("ruleset \"main\" (7): team 12, organization admins"), "{}", bypass.detail);
        // A bypass list hidden from the token.
        if let Some(Read::Ok(rules)) = &mut s.rules {
            rules[0].bypass = None;
        }
        assert!(step(&plan(&needs(), &s), "main: bypass").detail.contains("not shown to this token"));
        // Administrators may bypass a protection rule that does not hold them to it.
        let mut s = good();
        if let Some(Read::Ok(Some(p))) = &mut s.protection {
            p.enforce_admins = false;
        }
        let b = plan(&needs(), &s).steps.into_iter().find(|s| s.name == "main: bypass").unwrap();
        assert_eq!(b.action, Action::Manual);
        assert!(b.detail.contains("repository administrators"), "{}", b.detail);
    }
}
