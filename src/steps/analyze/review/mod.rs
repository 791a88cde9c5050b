//! Two-person review of every commit deployed: a pure function from the
//! evidence record to a verdict per landing, with stable reason codes
//! (README.md, "The decision"; docs/evidence.md, "A record that
//! contradicts itself").
//!
//! A *landing* is a commit on the first-parent chain of the deployed
//! branch: a merge commit, a squash or rebased commit, a pushed head, or a
//! direct push. Commits a merge brings in through its second parent are
//! covered by that merge's pull request. Each landing's pull request is
//! found canonically (`merge_commit_sha`, or a rebase run ending at it);
//! a `(#N)` in a message is only a hint that must link back. People are
//! compared by numeric GitHub id. A pull request landed by pushing its head
//! lands its own, reviewed commits. Squash and rebase landings fail in
//! `strict` mode; `verified-squash` accepts them when their tree equals the
//! merge of their parent with the approved head. A merge passes when its
//! tree is that merge or, unchecked, when GitHub made it as the pull
//! request's merge. A landing that fails may still pass as a version bump,
//! decided by content (`bump`).
//!
//! Verdicts: `pass`, `fail`, or `undecidable` when facts are missing.
//! Undecidable never counts as a pass. The report, its verdicts and codes
//! are plain data in [`crate::model::analysis`].

pub(crate) mod approvals;
pub(crate) mod bump;
pub(crate) mod version;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::review::{ReviewConfig, ReviewMode};
use crate::model::evidence::{Evidence, GapArea, PullFacts, TreeCheck};

use crate::model::analysis::{Code, Finding, LandingKind, LandingReview, ReviewReport, Verdict};

/// The pull request number a headline names, as GitHub writes squash
/// titles (`Title (#123)`) and merge messages (`Merge pull request #123
/// from ...`). Only a hint: the pull request must link back to the commit.
pub(crate) fn pull_hint(headline: &str) -> Option<u64> {
    let number = |s: &str| -> Option<u64> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().filter(|n| *n > 0)
    };
    if let Some(rest) = headline.strip_prefix("Merge pull request #") {
        return number(rest);
    }
    let open = headline.rfind("(#")?;
    let rest = &headline[open + 2..];
    let n = number(rest)?;
    rest[n.to_string().len()..].starts_with(')').then_some(n)
}

/// Verifies two-person review of every commit in the record.
pub fn verify(e: &Evidence, cfg: &ReviewConfig) -> ReviewReport {
    let mut report = ReviewReport {
        verdict: Verdict::Pass,
        findings: Vec::new(),
        landings: Vec::new(),
        mode: cfg.mode.as_str().to_owned(),
        min_approvals: cfg.min_approvals,
    };
    let mut range_verdict = Verdict::Pass;
    let mut range_finding = |v: Verdict, f: Finding, report: &mut ReviewReport| {
        range_verdict = range_verdict.max(v);
        report.findings.push(f);
    };

    let gaps: Vec<&str> = e.gaps.iter().filter(|g| g.area == GapArea::Review).map(|g| g.what.as_str()).collect();
    if !gaps.is_empty() {
        range_finding(
            Verdict::Undecidable,
            Finding::new(Code::EvidenceIncomplete, format!("not read: {}", gaps.join(", "))),
            &mut report,
        );
    }
    if let Some((v, f)) = branch_finding(e, cfg) {
        range_finding(v, f, &mut report);
    }
    if let Some((v, f)) = range_status_finding(e) {
        range_finding(v, f, &mut report);
    }

    if e.range.status == "ahead" {
        report.landings = landings(e, cfg);
        if e.range.landings.is_empty() && !gaps.is_empty() {
            range_verdict = range_verdict.max(Verdict::Undecidable);
        }
    }
    let worst = report.landings.iter().map(|l| l.verdict).max().unwrap_or(Verdict::Pass);
    report.verdict = range_verdict.max(worst);
    report
}

/// Whether the deployed commit is on a protected branch, still: `None`
/// when it is, else the verdict and finding that say why not or that it is
/// unknown.
fn branch_finding(e: &Evidence, cfg: &ReviewConfig) -> Option<(Verdict, Finding)> {
    let b = &e.binding;
    let protected: Option<Vec<String>> = if cfg.branches.is_empty() {
        e.branch.default_branch.clone().map(|d| vec![d])
    } else {
        Some(cfg.branches.clone())
    };
    match protected {
        None => Some((
            Verdict::Undecidable,
            Finding::new(Code::EvidenceIncomplete, "the repository's default branch is unknown"),
        )),
        Some(list) if !list.contains(&b.branch) => Some((
            Verdict::Fail,
            Finding::new(
                Code::DeployShaNotOnProtectedBranch,
                format!("built from {:?}; deploys come from {}", b.branch, list.join(", ")),
            ),
        )),
        Some(_) => match e.branch.tip_status.as_deref() {
            Some("identical" | "ahead") => None,
            Some(other) => Some((
                Verdict::Fail,
                Finding::new(
                    Code::DeployShaNotOnProtectedBranch,
                    format!("{} is not on {} any more (GitHub compares it as {other})", short(&b.commit), b.branch),
                ),
            )),
            None => Some((
                Verdict::Undecidable,
                Finding::new(
                    Code::EvidenceIncomplete,
                    format!("whether {} is on {} is unknown", short(&b.commit), b.branch),
                ),
            )),
        },
    }
}

/// What the range from the last approved deploy says: `None` when the
/// deploy is ahead of it; a finding that changes nothing (a pass) when it
/// is the same commit; else the verdict and finding of a first deploy, a
/// rewritten history or an unknown range.
fn range_status_finding(e: &Evidence) -> Option<(Verdict, Finding)> {
    match e.range.status.as_str() {
        "first_deploy" => Some((
            Verdict::Undecidable,
            Finding::new(Code::FirstDeploy, "no earlier approved deploy of this repository and environment"),
        )),
        "identical" => Some((Verdict::Pass, Finding::new(Code::NoChanges, "the last approved deploy is this commit"))),
        "ahead" => None,
        "behind" | "diverged" => {
            let base = e.base.as_ref().map_or_else(String::new, |x| short(&x.commit).to_owned());
            Some((
                Verdict::Fail,
                Finding::new(
                    Code::HistoryRewritten,
                    format!(
                        "the last approved commit {base} is not an ancestor of {} ({})",
                        short(&e.binding.commit),
                        e.range.status
                    ),
                ),
            ))
        }
        other => {
            Some((Verdict::Undecidable, Finding::new(Code::EvidenceIncomplete, format!("the range is {other:?}"))))
        }
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The facts of one landing the classification needs.
struct Ctx<'a> {
    e: &'a Evidence,
    cfg: &'a ReviewConfig,
    /// Landings oldest first.
    order: Vec<&'a str>,
    parents: BTreeMap<&'a str, &'a [String]>,
    headlines: BTreeMap<&'a str, &'a str>,
}

impl<'a> Ctx<'a> {
    fn merged_here(&self, p: &PullFacts) -> bool {
        p.merged && p.base_ref == self.e.binding.branch && p.base_repository.eq_ignore_ascii_case(&self.e.repository)
    }

    fn associated_with(&self, sha: &str, number: u64) -> bool {
        self.e.associated.get(sha).is_some_and(|a| a.iter().any(|p| p.number == number))
    }

    /// Pull requests that may link `sha`: associated or hinted, with facts,
    /// merged into this branch of this repository.
    fn candidates(&self, sha: &str) -> Vec<&'a PullFacts> {
        let mut numbers: BTreeSet<u64> = self.e.associated.get(sha).into_iter().flatten().map(|p| p.number).collect();
        numbers.extend(self.headlines.get(sha).and_then(|h| pull_hint(h)));
        numbers.iter().filter_map(|n| self.e.pulls.get(&n.to_string())).filter(|p| self.merged_here(p)).collect()
    }

    /// Consecutive single-parent landings ending at `last` (index in
    /// `order`) associated with pull request `n`: the rebase run.
    fn run_start(&self, last: usize, n: u64) -> usize {
        let mut i = last;
        while i > 0 {
            let prev = self.order[i - 1];
            if self.parents.get(prev).map_or(0, |p| p.len()) == 1
                && self.associated_with(prev, n)
                && self.pull_of(prev).is_none()
            {
                i -= 1;
            } else {
                break;
            }
        }
        i
    }

    /// The pull request whose `merge_commit_sha` is `sha`.
    fn pull_of(&self, sha: &str) -> Option<&'a PullFacts> {
        self.candidates(sha).into_iter().find(|p| p.merge_commit.as_deref() == Some(sha))
    }

    /// The landings `i..=j` are commits of `p` itself, the last its approved
    /// head: the pull request was landed by pushing its head (fast-forward),
    /// so the landed commits are the reviewed ones.
    fn own_commits_up_to_head(&self, i: usize, j: usize, p: &PullFacts) -> bool {
        self.order[j] == p.head && self.order[i..=j].iter().all(|sha| p.commits.iter().any(|c| c.oid == *sha))
    }

    /// The first parent of landing `i` as the chain says it must be: the
    /// landing before it, or the base for the first.
    fn previous(&self, i: usize) -> Option<&'a str> {
        if i > 0 { Some(self.order[i - 1]) } else { self.e.base.as_ref().map(|b| b.commit.as_str()) }
    }

    /// Landing `i` is the merge GitHub made for `p`: committed by web-flow
    /// with a signature GitHub verified, `p`'s `merge_commit_sha`, its
    /// parents the previous landing and `p`'s approved head. Such a merge's
    /// tree is GitHub's merge of the two; only GitHub holds web-flow's key.
    fn made_by_github(&self, i: usize, p: &PullFacts) -> Result<(), String> {
        let sha = self.order[i];
        let c = self.e.range.commits.iter().find(|c| c.sha == sha).ok_or("it is not in the range's commits")?;
        if c.committer_id != Some(crate::clients::github::WEB_FLOW_ID) {
            return Err("it was not committed by GitHub (web-flow)".into());
        }
        if !c.verified {
            return Err("its signature was not verified by GitHub".into());
        }
        if p.merge_commit.as_deref() != Some(sha) {
            return Err(format!("it is not the merge commit of #{}", p.number));
        }
        if c.parents.len() != 2 || c.parents[1] != p.head || self.previous(i) != Some(c.parents[0].as_str()) {
            return Err(format!("its parents are not the previous landing and the head of #{}", p.number));
        }
        Ok(())
    }
}

fn landings(e: &Evidence, cfg: &ReviewConfig) -> Vec<LandingReview> {
    let ctx = Ctx {
        e,
        cfg,
        order: e.range.landings.iter().rev().map(String::as_str).collect(),
        parents: e.range.commits.iter().map(|c| (c.sha.as_str(), c.parents.as_slice())).collect(),
        headlines: e.range.commits.iter().map(|c| (c.sha.as_str(), c.headline.as_str())).collect(),
    };
    let covers = second_parent_sides(e, &ctx.order);
    let mut approvals: BTreeMap<u64, approvals::PullApproval> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, sha) in ctx.order.iter().enumerate() {
        let mut l = judge(&ctx, i, &mut approvals);
        l.covers = covers.get(*sha).cloned().unwrap_or_default();
        out.push(l);
    }
    out
}

/// For each merge landing, the range commits only its second parent brings
/// (oldest landing first claims a commit).
fn second_parent_sides(e: &Evidence, order: &[&str]) -> BTreeMap<String, Vec<String>> {
    let parents: BTreeMap<&str, &[String]> =
        e.range.commits.iter().map(|c| (c.sha.as_str(), c.parents.as_slice())).collect();
    let mut claimed: BTreeSet<&str> = order.iter().copied().collect();
    let mut out = BTreeMap::new();
    for sha in order {
        let Some(ps) = parents.get(sha) else { continue };
        let mut stack: Vec<&str> = ps.iter().skip(1).map(String::as_str).collect();
        let mut mine = Vec::new();
        while let Some(c) = stack.pop() {
            if claimed.contains(c) || !parents.contains_key(c) {
                continue;
            }
            claimed.insert(c);
            mine.push(c.to_owned());
            stack.extend(parents[c].iter().map(String::as_str));
        }
        if !mine.is_empty() {
            out.insert((*sha).to_owned(), mine);
        }
    }
    out
}

/// Judges landing `i` of the order: the pull request that links it, how it
/// landed, whether that pull request was approved on its head, and whether
/// what landed is what was approved.
fn judge(ctx: &Ctx<'_>, i: usize, cache: &mut BTreeMap<u64, approvals::PullApproval>) -> LandingReview {
    let e = ctx.e;
    let sha = ctx.order[i];
    let mut l = LandingReview {
        sha: sha.to_owned(),
        headline: ctx.headlines.get(sha).map(|h| (*h).to_owned()).unwrap_or_default(),
        kind: LandingKind::Direct,
        pull: None,
        verdict: Verdict::Pass,
        findings: Vec::new(),
        flags: Vec::new(),
        approvers: Vec::new(),
        covers: Vec::new(),
    };
    let parents = ctx.parents.get(sha).copied().unwrap_or_default();
    if let Some(why) = unread_pulls(e, sha) {
        return undecidable(l, &why);
    }

    let (pull, rebase_run_last) = linking_pull(ctx, i, parents);
    let Some(p) = pull else {
        // No pull request of this branch links it.
        l.findings.push(unlinked(e, sha, parents));
        l.verdict = Verdict::Fail;
        return with_bump(ctx, l);
    };
    l.pull = Some(p.number);
    l.kind = landing_kind(ctx, i, parents, p, rebase_run_last);

    let approval = cache.entry(p.number).or_insert_with(|| approvals::evaluate(p, ctx.cfg)).clone();
    l.flags = approval.flags.clone();
    if let Some(why) = &approval.undecidable {
        return undecidable(l, why);
    }
    for page in ["commits", "reviews", "timelineItems"] {
        if e.gaps.iter().any(|g| g.what == format!("pull {} {page}", p.number)) {
            return undecidable(l, &format!("the {page} of #{} were not read in full", p.number));
        }
    }
    let approved = approval.findings.is_empty();
    l.approvers = approval.approvers.clone();
    l.findings = approval.findings.clone();

    check_content(ctx, i, p, parents, rebase_run_last, &mut l);
    conclude(ctx, l, p, approved)
}

/// Why the pull requests of landing `sha` cannot be judged: they were not
/// looked up, or one GitHub associates with it was not (all) read.
fn unread_pulls(e: &Evidence, sha: &str) -> Option<String> {
    let Some(associated) = e.associated.get(sha) else {
        return Some("its pull requests were not read".to_owned());
    };
    // Pull requests GitHub associates but that are not (all) read: a gap.
    for a in associated {
        let here = a.merged && a.base_ref == e.binding.branch && a.base_repository.eq_ignore_ascii_case(&e.repository);
        if here && !e.pulls.contains_key(&a.number.to_string()) {
            return Some(format!("pull request #{} was not read", a.number));
        }
    }
    None
}

/// The pull request that links landing `i`: its canonical link, or the
/// rebase run it is a member of, with the index of the run's last landing.
fn linking_pull<'a>(ctx: &Ctx<'a>, i: usize, parents: &[String]) -> (Option<&'a PullFacts>, Option<usize>) {
    let e = ctx.e;
    let sha = ctx.order[i];
    let mut pull = ctx.pull_of(sha);
    let mut rebase_run_last: Option<usize> = None;
    if pull.is_none() && parents.len() == 1 {
        for (j, later) in ctx.order.iter().enumerate().skip(i + 1) {
            let Some(p) = ctx.pull_of(later) else {
                if ctx.parents.get(later).map_or(0, |p| p.len()) == 1
                    && e.associated.get(*later).is_some_and(|a| !a.is_empty())
                {
                    continue;
                }
                break;
            };
            if ctx.run_start(j, p.number) <= i && ctx.associated_with(sha, p.number) {
                pull = Some(p);
                rebase_run_last = Some(j);
            }
            break;
        }
    }
    (pull, rebase_run_last)
}

/// The finding of landing `sha` that no pull request of this branch links:
/// an octopus merge, a merge through another branch or repository, or none.
fn unlinked(e: &Evidence, sha: &str, parents: &[String]) -> Finding {
    let elsewhere: Vec<String> = e.associated[sha]
        .iter()
        .filter(|a| {
            a.merged && !(a.base_ref == e.binding.branch && a.base_repository.eq_ignore_ascii_case(&e.repository))
        })
        .map(|a| format!("#{} into {}:{}", a.number, a.base_repository, a.base_ref))
        .collect();
    if parents.len() > 2 {
        Finding::new(Code::OctopusMerge, format!("{} parents", parents.len()))
    } else if !elsewhere.is_empty() {
        Finding::new(
            Code::ApprovalWrongContext,
            format!("merged through {}, not into {}", elsewhere.join(", "), e.binding.branch),
        )
    } else {
        Finding::new(Code::NoPullRequest, "no pull request merged into the branch links this commit")
    }
}

/// How landing `i` landed through pull request `p`.
fn landing_kind(
    ctx: &Ctx<'_>,
    i: usize,
    parents: &[String],
    p: &PullFacts,
    rebase_run_last: Option<usize>,
) -> LandingKind {
    let sha = ctx.order[i];
    match parents.len() {
        0 => LandingKind::Direct,
        1 | 2 if sha == p.head => LandingKind::HeadPush,
        1 if rebase_run_last.is_some_and(|j| ctx.own_commits_up_to_head(i, j, p)) => LandingKind::HeadPush,
        1 if rebase_run_last.is_some() => LandingKind::Rebase,
        1 if ctx.run_start(i, p.number) < i => LandingKind::Rebase,
        1 => LandingKind::Squash,
        2 if parents[1] == p.head => LandingKind::Merge,
        2 => LandingKind::MergeOther,
        _ => LandingKind::Octopus,
    }
}

/// The tree check of `landing`, when it counts: a tree check counts only
/// for the landing it names, its head the approved head of `p`, its parent
/// the one the landing was made on.
fn tree_check<'a>(e: &'a Evidence, p: &PullFacts, landing: &str, parent: Option<&str>) -> Option<&'a TreeCheck> {
    e.content.checks.get(landing).filter(|c| c.error.is_none() && c.head == p.head && Some(c.parent.as_str()) == parent)
}

/// Judges what landed against what was approved, by the landing's kind:
/// its findings go first, ahead of the approval's.
fn check_content(
    ctx: &Ctx<'_>,
    i: usize,
    p: &PullFacts,
    parents: &[String],
    rebase_run_last: Option<usize>,
    l: &mut LandingReview,
) {
    match l.kind {
        LandingKind::Octopus => {
            l.findings.insert(0, Finding::new(Code::OctopusMerge, format!("{} parents", parents.len())));
        }
        LandingKind::MergeOther => {
            l.findings.insert(
                0,
                Finding::new(
                    Code::MergeContentMismatch,
                    format!(
                        "its second parent {} is not the head {} of #{}",
                        short(&parents[1]),
                        short(&p.head),
                        p.number
                    ),
                ),
            );
        }
        LandingKind::Merge => check_merge(ctx, i, p, parents, l),
        LandingKind::HeadPush | LandingKind::Direct => {}
        LandingKind::Squash | LandingKind::Rebase => check_squash_or_rebase(ctx, i, p, rebase_run_last, l),
    }
}

/// A merge landing: its tree must be the merge of its first parent and the
/// approved head; without a tree check only GitHub's own merge passes.
fn check_merge(ctx: &Ctx<'_>, i: usize, p: &PullFacts, parents: &[String], l: &mut LandingReview) {
    match tree_check(ctx.e, p, ctx.order[i], parents.first().map(String::as_str)) {
        Some(c) if c.merged_tree.as_deref() == Some(c.landed_tree.as_str()) => {}
        Some(c) => l.findings.insert(
            0,
            Finding::new(
                Code::MergeContentMismatch,
                if c.conflict {
                    format!("merging {} into {} conflicts, yet it landed", short(&p.head), short(&c.parent))
                } else {
                    format!("its tree is not the merge of {} and {}", short(&c.parent), short(&p.head))
                },
            ),
        ),
        // Without a tree check only GitHub's own merge passes: a merge
        // made elsewhere may carry any content.
        None => match ctx.made_by_github(i, p) {
            Ok(()) => l.flags.push(Finding::new(
                Code::ContentUnchecked,
                format!("GitHub's merge of #{} (signed by GitHub); its trees were not compared", p.number),
            )),
            Err(why) => l.findings.insert(
                0,
                Finding::new(
                    Code::MergeContentUnchecked,
                    format!("its content was not compared with its parents and {why}: a person must check it"),
                ),
            ),
        },
    }
}

/// A squash or rebase landing: not the reviewed head (a finding in strict
/// mode), its content compared with merging the approved head onto the
/// parent of its run (undecidable uncompared in verified-squash mode).
fn check_squash_or_rebase(
    ctx: &Ctx<'_>,
    i: usize,
    p: &PullFacts,
    rebase_run_last: Option<usize>,
    l: &mut LandingReview,
) {
    let sha = ctx.order[i];
    let (code, what) = if l.kind == LandingKind::Squash {
        (Code::SquashLandingNotReviewedSha, "a squash")
    } else {
        (Code::RebaseLandingNotReviewedSha, "a rebase")
    };
    // The tree check is made at the last commit of the run, against
    // the parent of its first.
    let last_index = rebase_run_last.unwrap_or(i);
    let first = ctx.run_start(last_index, p.number);
    let parent = ctx.parents.get(ctx.order[first]).and_then(|ps| ps.first()).map(String::as_str);
    let content = match tree_check(ctx.e, p, ctx.order[last_index], parent) {
        Some(c) if c.merged_tree.as_deref() == Some(c.landed_tree.as_str()) => Some(None),
        Some(c) => Some(Some(Finding::new(
            Code::SquashContentMismatch,
            format!(
                "{what} landing of #{} holds other content than merging its head {} onto {}",
                p.number,
                short(&p.head),
                short(&c.parent)
            ),
        ))),
        None => None,
    };
    if ctx.cfg.mode == ReviewMode::Strict {
        l.findings.insert(
            0,
            Finding::new(
                code,
                format!("{what} landing of #{}: {} is not the reviewed head {}", p.number, short(sha), short(&p.head)),
            ),
        );
    }
    match content {
        // Known content that differs is the main reason in either mode.
        Some(Some(mismatch)) => l.findings.insert(0, mismatch),
        Some(None) => {}
        None if ctx.cfg.mode == ReviewMode::VerifiedSquash => {
            l.verdict = Verdict::Undecidable;
            l.findings.insert(
                0,
                Finding::new(
                    Code::ContentUnchecked,
                    format!("{what} landing's content could not be compared with the approved head"),
                ),
            );
        }
        None => {}
    }
}

/// Whether no finding says what landed differs from, or was not compared
/// with, what was approved.
fn content_ok(findings: &[Finding]) -> bool {
    !findings.iter().any(|f| {
        matches!(
            f.code,
            Code::OctopusMerge
                | Code::MergeContentMismatch
                | Code::MergeContentUnchecked
                | Code::SquashLandingNotReviewedSha
                | Code::RebaseLandingNotReviewedSha
                | Code::SquashContentMismatch
                | Code::ContentUnchecked
        )
    })
}

/// The verdict of a linked landing: a pass when `approved` and its content
/// is what was approved, else a fail (unless undecidable already) that a
/// version-bump exemption may lift.
fn conclude(ctx: &Ctx<'_>, mut l: LandingReview, p: &PullFacts, approved: bool) -> LandingReview {
    if approved && content_ok(&l.findings) {
        l.verdict = Verdict::Pass;
        l.findings.insert(
            0,
            Finding::new(
                Code::Approved,
                format!(
                    "#{} approved on its head by {}",
                    p.number,
                    l.approvers.iter().map(|a| a.login.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
        );
        return l;
    }
    if l.verdict != Verdict::Undecidable {
        l.verdict = Verdict::Fail;
    }
    with_bump(ctx, l)
}

fn undecidable(mut l: LandingReview, why: &str) -> LandingReview {
    l.verdict = Verdict::Undecidable;
    l.findings.insert(0, Finding::new(Code::EvidenceIncomplete, why));
    l
}

/// A landing that did not pass may still be an exempt version bump.
fn with_bump(ctx: &Ctx<'_>, mut l: LandingReview) -> LandingReview {
    if ctx.parents.get(l.sha.as_str()).map_or(0, |p| p.len()) != 1 {
        return l;
    }
    let unread = ctx.e.gaps.iter().any(|g| {
        g.area == GapArea::Review && (g.what == format!("files of {}", l.sha) || g.what.starts_with("version file"))
    });
    match bump::check(ctx.e, &l.sha, &ctx.cfg.version_bump) {
        bump::BumpCheck::Exempt(changes) => {
            l.verdict = Verdict::Pass;
            l.findings.insert(0, Finding::new(Code::VersionBumpExempt, changes.join("; ")));
        }
        // Not a bump: the finding stands, with why it is not one.
        bump::BumpCheck::NotExempt(why) => {
            if let Some(f) = l.findings.first_mut() {
                f.detail = format!("{} (not a version bump: {why})", f.detail);
            }
        }
        bump::BumpCheck::Unknown(why) => {
            if l.verdict == Verdict::Fail && (unread || ctx.e.landing_files.contains_key(&l.sha)) {
                l.verdict = Verdict::Undecidable;
                l.findings.push(Finding::new(
                    Code::EvidenceIncomplete,
                    format!("whether it is a version bump is unknown: {why}"),
                ));
            }
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_in_squash_titles_and_merge_messages() {
        assert_eq!(pull_hint("Add caching (#123)"), Some(123));
        assert_eq!(pull_hint("Merge pull request #45 from acme/feature"), Some(45));
        assert_eq!(pull_hint("Fix (#12) and (#13)"), Some(13));
        assert_eq!(pull_hint("Fix (#12x)"), None);
        assert_eq!(pull_hint("Fix (#0)"), None);
        assert_eq!(pull_hint("Fix #12"), None);
        assert_eq!(pull_hint("Merge pull request #"), None);
    }

    #[test]
    fn verdicts_order_fail_over_undecidable_over_pass() {
        assert!(Verdict::Fail > Verdict::Undecidable && Verdict::Undecidable > Verdict::Pass);
        assert_eq!(serde_json::to_value(Code::SquashLandingNotReviewedSha).unwrap(), "squash_landing_not_reviewed_sha");
        assert_eq!(Code::ApprovalStale.as_str(), "approval_stale");
    }
}
