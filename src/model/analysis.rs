//! What an analysis concludes, as plain data: the verdicts and stable codes
//! of two-person review ([`Code`]), of the scan gate ([`ScanCode`]) and of
//! the approval policy ([`PolicyCode`]), the reports they give, and the
//! [`Decision`] that combines them with a [`Recommendation`] and a [`Risk`].
//! `steps::analyze::review`, `steps::analyze::scan_gate` and
//! `steps::analyze::decision` compute them; the bot's record (which keeps
//! an [`AnalysisRecord`]), the ticket's classification and the checks
//! before a deploy read them.

use serde::{Deserialize, Serialize};

use crate::base::codes::stable_codes;
use crate::base::digest::Sha256Digest;

stable_codes! {
    /// A verdict: undecidable never counts as a pass.
    pub enum Verdict: "verdict" {
        Pass => "pass", "every check passed";
        Undecidable => "undecidable", "the facts do not allow a verdict: never a pass";
        Fail => "fail", "a check failed";
    }
}

stable_codes! {
    /// Stable reason codes of the review verdicts (listed in README.md).
    pub enum Code: "two-person review" in "### The decision" {
        Approved => "approved", "a pull request merged into the branch, approved independently on its head";
        VersionBumpExempt => "version_bump_exempt", "exempt: only version fields moved up in allow-listed version files";
        NoChanges => "no_changes", "nothing to review: the deployed commit is the last approved one";
        HistoryRewritten => "history_rewritten", "the base of the range is not an ancestor of the deployed commit";
        DeployShaNotOnProtectedBranch => "deploy_sha_not_on_protected_branch", "the deployed commit is not on a protected branch";
        FirstDeploy => "first_deploy", "no earlier approved deploy: nothing to compare with";
        EvidenceIncomplete => "evidence_incomplete", "facts are missing (a call failed or a list could not be read in full)";
        NoPullRequest => "no_pull_request", "no pull request merged into the branch links this commit";
        ApprovalWrongContext => "approval_wrong_context", "the commit's pull request was merged into another branch or repository";
        NoApproval => "no_approval", "no approval stands at merge time";
        ApprovalStale => "approval_stale", "approvals exist, on an older head or before a force-push or base change";
        SelfApproval => "self_approval", "the only approvals come from the pull request's authors or pushers";
        InsufficientApprovals => "insufficient_approvals", "fewer independent approvals than `review.min_approvals`";
        UnattributableContributor => "unattributable_contributor", "a commit or push of the pull request is not attributable to a GitHub account";
        MergeContentMismatch => "merge_content_mismatch", "a merge commit's content is not the merge of its parents";
        MergeContentUnchecked => "merge_content_unchecked", "a merge commit whose content was not compared with its parents and that GitHub did not make as its pull request's merge";
        SquashLandingNotReviewedSha => "squash_landing_not_reviewed_sha", "a squash landing: the landed commit is not the reviewed one (strict)";
        RebaseLandingNotReviewedSha => "rebase_landing_not_reviewed_sha", "a rebase landing: the landed commits are not the reviewed ones (strict)";
        SquashContentMismatch => "squash_content_mismatch", "a squash or rebase landing whose tree is not the merge of its parent with the approved head";
        ContentUnchecked => "content_unchecked", "the landing's content could not be checked (no git objects)";
        OctopusMerge => "octopus_merge", "a merge of three or more parents";
        PostMergeConcern => "post_merge_concern", "a review was dismissed after the merge (flag)";
    }
}

/// A reason with its explanation.
pub(crate) type Finding = crate::base::codes::Finding<Code>;

/// An approval that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approver {
    /// GitHub id.
    pub id: u64,
    /// Login (display).
    pub login: String,
    /// Review id.
    pub(crate) review: Option<String>,
    /// When.
    pub(crate) submitted_at: String,
}

/// How a commit landed on the branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandingKind {
    /// A merge commit whose second parent is the pull request's head.
    Merge,
    /// A merge commit of a pull request whose second parent is not its head.
    MergeOther,
    /// One new commit for a pull request.
    Squash,
    /// One of several new commits for a pull request.
    Rebase,
    /// The pull request's own commits, its approved head last
    /// (fast-forward).
    HeadPush,
    /// No pull request links it.
    Direct,
    /// Three or more parents.
    Octopus,
}

/// The verdict on one landing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandingReview {
    /// The landing.
    pub sha: String,
    /// First line of its message (display only).
    pub(crate) headline: String,
    /// How it landed.
    pub kind: LandingKind,
    /// Its pull request.
    pub pull: Option<u64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why: the first finding is the main reason.
    pub findings: Vec<Finding>,
    /// Noted, not failing.
    pub flags: Vec<Finding>,
    /// Approvals that count.
    pub approvers: Vec<Approver>,
    /// Other commits of the range it brought in (a merge's second-parent side).
    pub covers: Vec<String>,
}

/// The review verdict of a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReport {
    /// Overall verdict.
    pub verdict: Verdict,
    /// Findings about the range as a whole.
    pub findings: Vec<Finding>,
    /// One verdict per landing, oldest first.
    pub landings: Vec<LandingReview>,
    /// The mode used.
    pub(crate) mode: String,
    /// Approvals required per pull request.
    pub(crate) min_approvals: u32,
}

stable_codes! {
    /// Stable reason codes of the scan gate.
    pub enum ScanCode: "scan gate" in "### The decision" {
        ScanPassed => "scan_passed", "every required scanner scanned the commit; nothing blocks";
        ScanMissing => "scan_missing", "a required scanner (or any scanner) has no run bound to the commit";
        ScanNotForDeploySha => "scan_not_for_deploy_sha", "a run names another commit than the deployed one";
        ScanIncomplete => "scan_incomplete", "a run did not finish: tool errors, unsuccessful invocation, analysis error";
        ScanJobNotSuccessful => "scan_job_not_successful", "a scan job of the deploy did not succeed";
        ScanUnreadable => "scan_unreadable", "a SARIF document could not be read";
        ScanBlockingFinding => "scan_blocking_finding", "a result at or above the blocking threshold";
        EvidenceIncomplete => "evidence_incomplete", "scan facts could not be read";
    }
}

/// A reason with its explanation.
pub(crate) type ScanFinding = crate::base::codes::Finding<ScanCode>;

/// A result that blocks the deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocking {
    /// Rule id.
    pub(crate) rule: String,
    /// Effective level.
    pub(crate) level: String,
    /// The rule's security severity.
    pub(crate) security_severity: Option<f64>,
    /// Where (display only).
    pub(crate) location: Option<String>,
}

/// What one scanner showed for the commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScannerReport {
    /// Tool name as the scanner wrote it.
    pub(crate) tool: String,
    /// Its verdict.
    pub(crate) verdict: Verdict,
    /// The evidence counted: artifact paths with digests, analysis ids.
    pub(crate) evidence: Vec<String>,
    /// Findings (non-blocking results included) in the counted runs.
    pub results: usize,
    /// Results that block.
    pub blocking: Vec<Blocking>,
    /// Why it does not pass.
    pub(crate) findings: Vec<ScanFinding>,
    /// The `[scan] required` entries one of its runs satisfies, as written.
    #[serde(default)]
    pub(crate) satisfies: Vec<String>,
}

/// How one `[scan] required` entry was met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredReport {
    /// The entry as written.
    pub entry: String,
    /// The scanner, named as its run names itself, whose run satisfies it.
    pub satisfied_by: Option<String>,
    /// That run: its job and artifact, file or analysis.
    pub(crate) run: Option<String>,
    /// For people: `required "Semgrep" satisfied by Semgrep OSS (job ...)`,
    /// or why it is not satisfied.
    pub detail: String,
}

/// The scan verdict of a deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// Overall verdict.
    pub verdict: Verdict,
    /// Every reason, the main one first (`scan_passed` alone on a pass).
    pub findings: Vec<ScanFinding>,
    /// One entry per scanner seen.
    pub scanners: Vec<ScannerReport>,
    /// One entry per `[scan] required` entry, in the configured order.
    #[serde(default)]
    pub required: Vec<RequiredReport>,
    /// The blocking threshold applied.
    pub(crate) blocking_severity: f64,
    /// The blocking level without a security severity.
    pub(crate) blocking_level: String,
}

/// Version of the decision format (`decide --format json`, the bot's property).
pub(crate) const DECISION_VERSION: u32 = 1;

stable_codes! {
    /// Stable reason codes of the approval policy.
    pub enum PolicyCode: "approval policy" in "### The decision" {
        ReviewFailed => "review_failed", "a commit failed two-person review";
        ReviewUndecidable => "review_undecidable", "two-person review could not be decided";
        ScanFailed => "scan_failed", "the scan gate failed";
        ScanUndecidable => "scan_undecidable", "the scan gate could not be decided";
        PolicyConfigChanged => "policy_config_changed", "a configuration file of changegate changed since the last approved deploy";
        PipelineConfigChanged => "pipeline_config_changed", "the pipeline's configuration (anything under `.circleci/`, the orb version pinned there included) changed since the last approved deploy";
        FirstDeploy => "first_deploy", "no earlier approved deploy of this repository and environment";
        RunningDeploy => "running_deploy", "a deploy of the same repository and environment is still running";
        PendingTicket => "pending_ticket", "another ticket of the same repository and environment is open";
        DriftOpen => "drift_open", "a drift ticket of the environment is open: the deploy would overwrite or re-apply changes made outside Terraform (docs/drift.md)";
        EvidenceIncomplete => "evidence_incomplete", "facts the policy needs could not be read";
        EvidenceInconsistent => "evidence_inconsistent", "the record contradicts itself (altered, or badly collected)";
        OutsideChangeWindow => "outside_change_window", "collected outside every change window of the environment";
        ChangeFreeze => "change_freeze", "collected inside a change freeze of the environment";
    }
}

/// Why a person must approve.
pub(crate) type Reason = crate::base::codes::Finding<PolicyCode>;

stable_codes! {
    /// What the analysis recommends.
    pub enum Recommendation: "recommendation" {
        Approve => "approve", "every check passed: approve";
        ManualReview => "manual_review", "a person must review and approve";
    }
}

stable_codes! {
    /// The risk level written to the ticket.
    pub(crate) enum Risk: "risk level" {
        Low => "low", "every check passed";
        Medium => "medium", "nothing failed, but a person must look (first deploy, pending, undecidable)";
        High => "high", "a check failed, or the policy itself changed";
    }
}

/// The policy a decision applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyRef {
    /// Where it came from.
    pub(crate) source: String,
    /// SHA-256 of its content.
    pub(crate) digest: Sha256Digest,
}

/// The decision on one change ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// [`DECISION_VERSION`].
    pub(crate) schema_version: u32,
    /// The ticket.
    pub(crate) ticket: String,
    /// `owner/name`.
    pub(crate) repository: String,
    /// Target environment.
    pub(crate) environment: String,
    /// The deployed commit.
    pub(crate) commit: String,
    /// The last approved deploy's commit (`None`: first deploy).
    pub(crate) base: Option<String>,
    /// The record's decision time.
    pub(crate) decided_at: String,
    /// The checks together: pass, fail, or undecidable.
    pub verdict: Verdict,
    /// What the analysis recommends.
    pub recommendation: Recommendation,
    /// The bot may approve on its own (recommendation approve and
    /// `[approval] auto_approve`).
    pub(crate) auto_approve: bool,
    /// Why a person must approve; empty on a recommendation to approve.
    pub reasons: Vec<Reason>,
    /// Risk level.
    pub(crate) risk: Risk,
    /// Two-person review of every commit.
    pub review: ReviewReport,
    /// The scan gate.
    pub(crate) scan: ScanReport,
    /// Distinct people who must approve when a person approves.
    pub(crate) required_approvers: u32,
    /// GitHub ids whose approval does not count: commit authors and
    /// committers, pull request authors, pushers of the deployed work.
    pub(crate) excluded_github_ids: Vec<u64>,
    /// SHA-256 of the record decided on (as stored: `sha256sum evidence.json`).
    pub(crate) evidence_digest: Sha256Digest,
    /// The policy applied.
    pub(crate) policy: PolicyRef,
}

impl Decision {
    /// The JSON of the decision.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serialises")
    }
}

/// The analysis as the bot recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRecord {
    /// The facts' fingerprint (hex).
    pub(crate) fingerprint: String,
    /// The marker that ends its comment.
    pub(crate) marker: String,
    /// SHA-256 of the attached evidence record.
    pub(crate) evidence_digest: Sha256Digest,
    /// The attachment's file name.
    pub(crate) evidence_attachment: String,
    /// The decision time of the record.
    pub(crate) decided_at: String,
    /// The commit analysed.
    pub(crate) commit: String,
    /// The last approved deploy's commit.
    pub(crate) base: Option<String>,
    /// The checks together.
    pub(crate) verdict: Verdict,
    /// What it recommends.
    pub(crate) recommendation: Recommendation,
    /// The bot may approve on its own.
    pub(crate) auto_approve: bool,
    /// Risk level.
    pub(crate) risk: Risk,
    /// Every commit deployed is an exempt version bump.
    pub(crate) only_version_bumps: bool,
    /// Why a person must approve.
    pub(crate) reasons: Vec<PolicyCode>,
    /// GitHub ids that may not approve (authors, committers, pushers).
    pub(crate) excluded_github_ids: Vec<u64>,
    /// Content digest of the policy it was made under.
    pub(crate) policy_digest: Sha256Digest,
}

/// The analysis in a stored bot record (`steps::bot_record`), without
/// checking it: for what is only shown to people (the ticket's risk field)
/// and for finding candidates.
pub(crate) fn unverified_analysis(raw: &serde_json::Value) -> Option<AnalysisRecord> {
    let a = raw.pointer("/payload/analysis").or_else(|| raw.pointer("/unsigned/analysis"))?;
    serde_json::from_value(a.clone()).ok()
}
