//! Valid approvals of a pull request (README.md, "The decision"): who counts as
//! an author, which reviews still stand at merge time, and which of them
//! approve the merged head independently.

use std::collections::{BTreeMap, BTreeSet};

use crate::base::time::Timestamp;
use crate::config::review::ReviewConfig;
use crate::model::analysis::{Approver, Code, Finding};
use crate::model::evidence::{Actor, PullFacts};

/// GitHub's placeholder for deleted accounts.
pub(crate) const GHOST_ID: u64 = 10137;

/// What the reviews of one pull request amount to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PullApproval {
    /// Distinct approvers whose approval counts.
    pub(crate) approvers: Vec<Approver>,
    /// Why the approvals are not enough (empty when they are).
    pub(crate) findings: Vec<Finding>,
    /// Noted but not failing (`post_merge_concern`).
    pub(crate) flags: Vec<Finding>,
    /// The facts do not allow a verdict.
    pub(crate) undecidable: Option<String>,
}

fn at(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(Timestamp::parse)
}

fn who(a: Option<&Actor>) -> String {
    a.map_or_else(|| "a deleted account".to_owned(), |a| a.login.clone())
}

/// Evaluates the reviews of `p` under `cfg`.
pub(crate) fn evaluate(p: &PullFacts, cfg: &ReviewConfig) -> PullApproval {
    let mut out = PullApproval::default();
    let Some(merged_at) = at(p.merged_at.as_deref()) else {
        out.undecidable = Some(format!("pull request #{} has no readable merge time", p.number));
        return out;
    };
    let authorship = authorship(p, cfg);
    let (latest, late) = standing_reviews(p, merged_at, &mut out.flags);
    let refused = count_approvals(p, cfg, &latest, &authorship, &mut out.approvers);
    out.findings = shortfall(p, cfg, &out.approvers, authorship.unattributable, refused, late);
    out
}

/// Who counts as an author of a pull request, and when its head and base
/// changed: what makes an approval not independent, or stale.
struct Authorship {
    /// The accounts that authored, committed or force-pushed.
    authors: BTreeSet<u64>,
    /// Contributions GitHub cannot attribute to an account.
    unattributable: Vec<String>,
    /// The force-pushes of the head: when, and by whom.
    force_pushes: Vec<(Timestamp, Option<u64>)>,
    /// When the base branch changed.
    base_changes: Vec<Timestamp>,
}

/// Authors: the PR author, the author and committer of every commit that
/// changes something (GitHub's own web-flow commits excepted), and every
/// account that force-pushed the head. An account GitHub cannot name
/// fails closed: it could be the approver.
fn authorship(p: &PullFacts, cfg: &ReviewConfig) -> Authorship {
    let mut authors: BTreeSet<u64> = BTreeSet::new();
    let mut unattributable: Vec<String> = Vec::new();
    match p.author.as_ref().and_then(|a| a.id) {
        Some(id) => {
            authors.insert(id);
        }
        None => unattributable.push(format!("the author of #{} is not a GitHub account", p.number)),
    }
    for c in &p.commits {
        if c.is_empty() && !cfg.empty_commits_count_as_authorship {
            continue;
        }
        let short = &c.oid[..c.oid.len().min(12)];
        match c.author_id {
            Some(id) => {
                authors.insert(id);
            }
            None => unattributable.push(format!("the author of {short} is not linked to a GitHub account")),
        }
        if !(c.committed_via_web && c.signed_by_github) {
            match c.committer_id {
                Some(id) => {
                    authors.insert(id);
                }
                None => unattributable.push(format!("the committer of {short} is not linked to a GitHub account")),
            }
        }
    }
    let force_pushes: Vec<(Timestamp, Option<u64>)> = p
        .timeline
        .iter()
        .filter(|e| e.kind == "HeadRefForcePushedEvent")
        .map(|e| (Timestamp::parse(&e.created_at).unwrap_or(Timestamp(i64::MAX)), e.actor.as_ref().and_then(|a| a.id)))
        .collect();
    for (_, actor) in &force_pushes {
        match actor {
            Some(id) => {
                authors.insert(*id);
            }
            None => unattributable.push(format!("a force-push to #{} was made by an unknown account", p.number)),
        }
    }
    let base_changes: Vec<Timestamp> = p
        .timeline
        .iter()
        .filter(|e| e.kind == "BaseRefChangedEvent")
        .map(|e| Timestamp::parse(&e.created_at).unwrap_or(Timestamp(i64::MAX)))
        .collect();
    Authorship { authors, unattributable, force_pushes, base_changes }
}

/// Each reviewer's account -> when their standing review was submitted,
/// the state it leaves, and the review.
type Standing<'p> = BTreeMap<u64, (Timestamp, String, &'p crate::model::evidence::ReviewFact)>;

/// The state each reviewer left at merge time: their latest APPROVED,
/// CHANGES_REQUESTED or DISMISSED review submitted before the merge.
/// COMMENTED never changes it; a pending review is not submitted. Also
/// whether any review came after the merge; a dismissal after the merge is
/// flagged in `flags`.
fn standing_reviews<'p>(p: &'p PullFacts, merged_at: Timestamp, flags: &mut Vec<Finding>) -> (Standing<'p>, bool) {
    // Review id -> when it was dismissed and what it was before.
    let dismissals: BTreeMap<&str, (Timestamp, Option<&str>)> = p
        .timeline
        .iter()
        .filter(|e| e.kind == "ReviewDismissedEvent")
        .filter_map(|e| {
            let id = e.review.as_deref()?;
            Some((id, (Timestamp::parse(&e.created_at).unwrap_or(Timestamp(i64::MIN)), e.previous_state.as_deref())))
        })
        .collect();
    let mut latest: Standing<'p> = BTreeMap::new();
    let mut late = false;
    for r in &p.reviews {
        let Some(submitted) = at(r.submitted_at.as_deref()) else { continue };
        if r.state == "PENDING" || r.state == "COMMENTED" {
            continue;
        }
        if submitted >= merged_at {
            late = true;
            continue;
        }
        let mut state = r.state.clone();
        if state == "DISMISSED" {
            match r.id.as_deref().and_then(|id| dismissals.get(id)) {
                // Dismissed after the merge: the state it had stands, flagged.
                Some((when, Some(prev))) if *when > merged_at => {
                    state = prev.to_string();
                    flags.push(Finding::new(
                        Code::PostMergeConcern,
                        format!("{}'s review of #{} was dismissed after the merge", who(r.author.as_ref()), p.number),
                    ));
                }
                _ => {}
            }
        }
        let Some(id) = r.author.as_ref().and_then(|a| a.id) else { continue };
        if latest.get(&id).is_none_or(|(t, ..)| submitted >= *t) {
            latest.insert(id, (submitted, state, r));
        }
    }
    (latest, late)
}

/// Why standing reviews do not count as approvals, by kind.
struct Refused {
    /// Approvals of another head, or before a force-push or base change.
    stale: Vec<String>,
    /// Approvals by an author.
    selfish: Vec<String>,
    /// Every other reason.
    other: Vec<String>,
}

/// Adds to `approvers` each standing approval that counts: by a person
/// who is no author, of the merged head, not outdated by a force-push or
/// a base change, and (when required) with write access. Says why each
/// other one does not count.
fn count_approvals(
    p: &PullFacts,
    cfg: &ReviewConfig,
    latest: &Standing<'_>,
    authorship: &Authorship,
    approvers: &mut Vec<Approver>,
) -> Refused {
    let mut stale = Vec::new();
    let mut selfish = Vec::new();
    let mut other = Vec::new();
    for (id, (submitted, state, r)) in latest {
        let name = who(r.author.as_ref());
        if state != "APPROVED" {
            other.push(match state.as_str() {
                "CHANGES_REQUESTED" => format!("{name}'s latest review requests changes"),
                "DISMISSED" => format!("{name}'s approval was dismissed before the merge"),
                s => format!("{name}'s latest review is {s}"),
            });
            continue;
        }
        let kind = r.author.as_ref().map_or("", |a| a.kind.as_str());
        if kind != "User" {
            other.push(format!("{name} is a {kind} account: its approval does not count"));
            continue;
        }
        if *id == GHOST_ID || *id == 0 {
            other.push("an approval by a deleted account does not count".into());
            continue;
        }
        if authorship.authors.contains(id) {
            selfish.push(format!("{name} authored, committed or pushed to #{}", p.number));
            continue;
        }
        if r.commit.as_deref() != Some(p.head.as_str()) {
            let on = r.commit.as_deref().map_or("no commit", |c| &c[..c.len().min(12)]);
            stale.push(format!("{name} approved {on}, not the merged head {}", &p.head[..p.head.len().min(12)]));
            continue;
        }
        if authorship.force_pushes.iter().any(|(t, _)| t > submitted) {
            stale.push(format!("#{} was force-pushed after {name} approved", p.number));
            continue;
        }
        if authorship.base_changes.iter().any(|t| t > submitted) {
            stale.push(format!("the base of #{} changed after {name} approved", p.number));
            continue;
        }
        if cfg.require_write_access && r.can_push != Some(true) {
            other.push(format!("{name} cannot push to the repository: the approval does not count"));
            continue;
        }
        approvers.push(Approver {
            id: *id,
            login: name,
            review: r.id.clone(),
            submitted_at: r.submitted_at.clone().unwrap_or_default(),
        });
    }
    Refused { stale, selfish, other }
}

/// Why the `approvers` are not enough (none when they are): unattributable
/// contributions always; with too few approvers, self-approvals, stale
/// approvals and the shortfall, or else why there is no approval at all.
fn shortfall(
    p: &PullFacts,
    cfg: &ReviewConfig,
    approvers: &[Approver],
    unattributable: Vec<String>,
    refused: Refused,
    late: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if !unattributable.is_empty() {
        findings.push(Finding::new(Code::UnattributableContributor, unattributable.join("; ")));
    }
    if approvers.len() < cfg.min_approvals as usize || !unattributable.is_empty() {
        if !refused.selfish.is_empty() {
            findings.push(Finding::new(Code::SelfApproval, refused.selfish.join("; ")));
        }
        if !refused.stale.is_empty() {
            findings.push(Finding::new(Code::ApprovalStale, refused.stale.join("; ")));
        }
        if !approvers.is_empty() && approvers.len() < cfg.min_approvals as usize {
            findings.push(Finding::new(
                Code::InsufficientApprovals,
                format!("{} of {} independent approvals", approvers.len(), cfg.min_approvals),
            ));
        }
        if findings.is_empty() {
            let mut why = refused.other;
            if late {
                why.push(format!("reviews submitted after #{} was merged do not count", p.number));
            }
            if why.is_empty() {
                why.push(format!("#{} has no approving review", p.number));
            }
            findings.push(Finding::new(Code::NoApproval, why.join("; ")));
        }
    }
    findings
}
