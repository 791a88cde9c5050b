//! What a *valid approval* is (README.md, `changegate validate`): one pure function, used by
//! `validate` before every plan and apply and by the bot before it resumes
//! a hold.
//!
//! Approvals are read from the ticket's history: who moved it to Approved,
//! and when. An approval counts when it came after the last change to what
//! it approves (the binding, and a risky plan), is younger than the approval
//! TTL, and comes from a mapped approver who is none of the people whose
//! work is being approved (commit authors, last pushers, the requester) — or
//! from the bot. Enough distinct approvers must remain.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::base::time::Timestamp;

/// One move of the ticket into the approved status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Approval {
    /// Jira accountId of who made the move.
    pub(crate) account_id: String,
    /// When.
    pub(crate) at: Timestamp,
}

/// The approval rules of the site.
#[derive(Debug, Clone)]
pub(crate) struct ApprovalPolicy<'a> {
    /// Distinct human approvers needed.
    pub(crate) required: usize,
    /// How long an approval stays valid.
    pub(crate) ttl: Duration,
    /// Jira accountId -> GitHub numeric id of people who may approve.
    pub(crate) approvers: &'a BTreeMap<String, u64>,
    /// Jira accountIds of the bot (its approval is an auto-approval).
    pub(crate) bot_accounts: &'a [String],
    /// Whether the bot's approval suffices (not outside a change window).
    pub(crate) allow_bot: bool,
}

/// The facts of one ticket at one moment.
#[derive(Debug, Clone)]
pub(crate) struct ApprovalFacts<'a> {
    /// The ticket is in the approved status now.
    pub(crate) approved_now: bool,
    /// Its current status, for messages.
    pub(crate) status: &'a str,
    /// Every move into the approved status, oldest first.
    pub(crate) approvals: &'a [Approval],
    /// Approvals at or before this instant do not count: the last change to
    /// the binding, or the recording of a risky plan.
    pub(crate) not_before: Timestamp,
    /// What `not_before` is, for messages.
    pub(crate) not_before_reason: &'a str,
    /// Now.
    pub(crate) now: Timestamp,
    /// GitHub ids that may not approve this change (authors, pushers,
    /// requester), from the analysis.
    pub(crate) excluded_github_ids: &'a [u64],
}

/// Why an approval does not count (stable codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApprovalProblem {
    /// `not_approved`: the ticket is not in the approved status.
    NotApproved {
        /// Current status.
        status: String,
    },
    /// `approval_before_change`: no approval since the last change.
    BeforeChange {
        /// What changed.
        what: String,
        /// When.
        at: Timestamp,
    },
    /// `approval_expired`: the approval is older than the TTL.
    Expired {
        /// When it was given.
        at: Timestamp,
        /// The TTL.
        ttl: Duration,
    },
    /// `approver_unmapped`: the approver has no GitHub id in the config.
    Unmapped {
        /// Jira accountId.
        account: String,
    },
    /// `self_approval`: the approver wrote or pushed the change, or asked for it.
    SelfApproval {
        /// Jira accountId.
        account: String,
        /// Their GitHub id.
        github_id: u64,
    },
    /// `too_few_approvers`: fewer distinct approvers than required.
    TooFew {
        /// Valid approvers found.
        have: usize,
        /// Required.
        need: usize,
    },
}

impl fmt::Display for ApprovalProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApprovalProblem::NotApproved { status } => write!(f, "the ticket is {status}, not approved"),
            ApprovalProblem::BeforeChange { what, at } => write!(f, "no approval since {what} at {at}"),
            ApprovalProblem::Expired { at, ttl } => {
                write!(f, "the approval of {at} is older than the approval TTL ({} h)", ttl.as_secs() / 3600)
            }
            ApprovalProblem::Unmapped { account } => write!(
                f,
                "approver {account} has no GitHub id in [jira.approvers], so no self-approval cannot be checked; the approval does not count"
            ),
            ApprovalProblem::SelfApproval { account, github_id } => write!(
                f,
                "approver {account} (GitHub id {github_id}) wrote, pushed or requested this change and cannot approve it"
            ),
            ApprovalProblem::TooFew { have, need } => write!(f, "{have} valid approver(s), {need} required"),
        }
    }
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApprovalVerdict {
    /// The approval is valid.
    pub(crate) valid: bool,
    /// Accounts whose approval counted.
    pub(crate) approvers: Vec<String>,
    /// The bot approved (auto-approval).
    pub(crate) by_bot: bool,
    /// The approval that made the ticket approved, when valid.
    pub(crate) latest: Option<Timestamp>,
    /// Why not (empty when valid). Problems of approvals that did not count
    /// are listed even when others made the approval valid.
    pub(crate) problems: Vec<ApprovalProblem>,
}

/// Judges the approval of a ticket.
pub(crate) fn judge(facts: &ApprovalFacts<'_>, policy: &ApprovalPolicy<'_>) -> ApprovalVerdict {
    let mut problems = Vec::new();
    let mut approvers: Vec<String> = Vec::new();
    let mut by_bot = false;
    let mut latest = None;
    if !facts.approved_now {
        problems.push(ApprovalProblem::NotApproved { status: facts.status.to_owned() });
    }
    let since: Vec<&Approval> = facts.approvals.iter().filter(|a| a.at > facts.not_before).collect();
    if since.is_empty() {
        if facts.approved_now {
            problems
                .push(ApprovalProblem::BeforeChange { what: facts.not_before_reason.to_owned(), at: facts.not_before });
        }
        return ApprovalVerdict { valid: false, approvers, by_bot, latest, problems };
    }
    let ttl_ms = i64::try_from(policy.ttl.as_millis()).unwrap_or(i64::MAX);
    for a in &since {
        if facts.now.0.saturating_sub(a.at.0) > ttl_ms {
            problems.push(ApprovalProblem::Expired { at: a.at, ttl: policy.ttl });
            continue;
        }
        if policy.bot_accounts.contains(&a.account_id) {
            by_bot = true;
            latest = Some(a.at);
            continue;
        }
        match policy.approvers.get(&a.account_id) {
            None => problems.push(ApprovalProblem::Unmapped { account: a.account_id.clone() }),
            Some(gh) if facts.excluded_github_ids.contains(gh) => {
                problems.push(ApprovalProblem::SelfApproval { account: a.account_id.clone(), github_id: *gh });
            }
            Some(_) => {
                if !approvers.contains(&a.account_id) {
                    approvers.push(a.account_id.clone());
                }
                latest = Some(a.at);
            }
        }
    }
    let by_bot = by_bot && policy.allow_bot;
    let enough = by_bot || approvers.len() >= policy.required.max(1);
    if !enough && !approvers.is_empty() {
        problems.push(ApprovalProblem::TooFew { have: approvers.len(), need: policy.required.max(1) });
    }
    let valid = facts.approved_now && enough;
    if valid {
        // Problems of approvals that did not count are kept for the record,
        // but only the ones that matter when the approval fails are shown.
        problems.retain(|p| !matches!(p, ApprovalProblem::Expired { .. }));
    }
    ApprovalVerdict { valid, approvers, by_bot, latest: if valid { latest } else { None }, problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn approvers() -> BTreeMap<String, u64> {
        [("alice".to_owned(), 1001), ("bob".to_owned(), 1002)].into_iter().collect()
    }

    struct Case {
        approved_now: bool,
        approvals: Vec<Approval>,
        not_before: i64,
        now: i64,
        excluded: Vec<u64>,
        required: usize,
    }

    fn a(who: &str, hour: i64) -> Approval {
        Approval { account_id: who.into(), at: Timestamp(hour * H) }
    }

    fn run(c: &Case) -> ApprovalVerdict {
        let map = approvers();
        let bots = vec!["bot".to_owned()];
        let policy = ApprovalPolicy {
            required: c.required,
            ttl: Duration::from_secs(24 * 3600),
            approvers: &map,
            bot_accounts: &bots,
            allow_bot: true,
        };
        let facts = ApprovalFacts {
            approved_now: c.approved_now,
            status: if c.approved_now { "Approved" } else { "Manual review" },
            approvals: &c.approvals,
            not_before: Timestamp(c.not_before * H),
            not_before_reason: "the last change to the binding",
            now: Timestamp(c.now * H),
            excluded_github_ids: &c.excluded,
        };
        judge(&facts, &policy)
    }

    fn case() -> Case {
        Case {
            approved_now: true,
            approvals: vec![a("alice", 10)],
            not_before: 5,
            now: 12,
            excluded: vec![],
            required: 1,
        }
    }

    fn codes(v: &ApprovalVerdict) -> Vec<&'static str> {
        v.problems.iter().map(|p| p.code().as_str()).collect()
    }

    #[test]
    fn a_mapped_approver_after_the_change_within_the_ttl_is_valid() {
        let v = run(&case());
        assert!(v.valid, "{v:?}");
        assert_eq!(v.approvers, ["alice"]);
        assert_eq!(v.latest, Some(Timestamp(10 * H)));
    }

    #[test]
    fn not_approved_now_is_never_valid() {
        let v = run(&Case { approved_now: false, ..case() });
        assert!(!v.valid);
        assert_eq!(codes(&v), ["not_approved"]);
    }

    #[test]
    fn an_approval_before_the_change_does_not_count() {
        let v = run(&Case { not_before: 11, ..case() });
        assert!(!v.valid);
        assert_eq!(codes(&v), ["approval_before_change"]);
        let same_instant = run(&Case { not_before: 10, ..case() });
        assert!(!same_instant.valid, "an approval at the very instant of the change does not count");
    }

    #[test]
    fn an_expired_approval_does_not_count() {
        let v = run(&Case { now: 10 + 25, ..case() });
        assert!(!v.valid);
        assert_eq!(codes(&v), ["approval_expired"]);
        assert!(run(&Case { now: 10 + 24, ..case() }).valid, "exactly the TTL is still valid");
    }

    #[test]
    fn unmapped_and_self_approvals_do_not_count() {
        let v = run(&Case { approvals: vec![a("mallory", 10)], ..case() });
        assert!(!v.valid);
        assert_eq!(codes(&v), ["approver_unmapped"]);
        let v = run(&Case { excluded: vec![1001], ..case() });
        assert!(!v.valid);
        assert_eq!(codes(&v), ["self_approval"]);
        // Another, independent approver makes it valid; the problem stays listed.
        let v = run(&Case { excluded: vec![1001], approvals: vec![a("alice", 10), a("bob", 11)], ..case() });
        assert!(v.valid);
        assert_eq!(v.approvers, ["bob"]);
        assert_eq!(codes(&v), ["self_approval"]);
    }

    #[test]
    fn two_distinct_approvers_when_required() {
        let one = run(&Case { required: 2, approvals: vec![a("alice", 8), a("alice", 10)], ..case() });
        assert!(!one.valid);
        assert_eq!(codes(&one), ["too_few_approvers"]);
        let two = run(&Case { required: 2, approvals: vec![a("alice", 8), a("bob", 10)], ..case() });
        assert!(two.valid);
    }

    #[test]
    fn the_bot_approval_is_an_auto_approval() {
        let v = run(&Case { approvals: vec![a("bot", 10)], required: 2, ..case() });
        assert!(v.valid && v.by_bot);
    }
}
