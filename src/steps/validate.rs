//! `changegate validate`, before every plan and apply: no deploy without an
//! approved ticket bound to this build (and, before apply, to the very plan
//! that was reviewed).
//!
//! [`judge`] is pure: every condition over facts already read. [`run`] reads
//! them: the ticket and its history from Jira, this build from CircleCI, the
//! plan files' digests from disk. Each failed condition has a stable code.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::base::codes::stable_codes;
use crate::base::digest::Sha256Digest;
use crate::base::time::Timestamp;
use crate::clients::Clients;
use crate::config::jira::TicketField;
use crate::config::windows::WindowCheck;
use crate::config::{Config, env_key};
use crate::model::approval::{self, ApprovalFacts, ApprovalPolicy, ApprovalProblem, ApprovalVerdict};
use crate::model::binding::{Binding, EMERGENCY_LABEL, PlanRecord, TicketRecord, mirror_text};
use crate::model::receipt::{self, KeyRing, PlanDigests};
use crate::steps::bot_record::{self, Check};
use crate::steps::emergency::{self, EmergencyFacts, Grant};
use crate::steps::request::{BuildEnv, RequestArgs, RequestError, resolve_binding};
use crate::steps::ticket::{self, TicketState};

// The codes of the window and approval checks belong to validate, which
// reports them; the checks themselves live below it (config, model).
impl WindowCheck {
    /// The stable code of a closed check.
    pub fn code(&self) -> Option<ValidateCode> {
        match self {
            WindowCheck::Open => None,
            WindowCheck::Outside(_) => Some(ValidateCode::OutsideChangeWindow),
            WindowCheck::Frozen(_) => Some(ValidateCode::ChangeFreeze),
        }
    }
}

impl ApprovalProblem {
    /// The stable code.
    pub(crate) fn code(&self) -> ValidateCode {
        match self {
            ApprovalProblem::NotApproved { .. } => ValidateCode::NotApproved,
            ApprovalProblem::BeforeChange { .. } => ValidateCode::ApprovalBeforeChange,
            ApprovalProblem::Expired { .. } => ValidateCode::ApprovalExpired,
            ApprovalProblem::Unmapped { .. } => ValidateCode::ApproverUnmapped,
            ApprovalProblem::SelfApproval { .. } => ValidateCode::SelfApproval,
            ApprovalProblem::TooFew { .. } => ValidateCode::TooFewApprovers,
        }
    }
}

/// The plan about to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlanFiles {
    /// Stack name.
    pub(crate) stack: String,
    /// SHA-256 of the plan JSON.
    pub(crate) json: Sha256Digest,
    /// SHA-256 of the binary plan, when given.
    pub(crate) file: Option<Sha256Digest>,
}

stable_codes! {
    /// Stable codes of the conditions `validate` checks (README.md, `changegate validate`).
    pub enum ValidateCode: "validate" in "## `changegate validate`" {
        RecordMissing => "record_missing", "the ticket has no changegate record (run `request`)";
        RecordTampered => "record_tampered", "the record does not match the digests mirrored in the ticket's labels and record field";
        BindingMismatch => "binding_mismatch", "project, environment, action, branch, commit, pipeline, or build job name or number differs from this build";
        RequiredFieldMissing => "required_field_missing", "a required field is empty (or not mapped to a site field)";
        PlanNotRecorded => "plan_not_recorded", "before apply: no plan is recorded for the stack, or the policy requires one and none was given";
        PlanJsonMismatch => "plan_json_mismatch", "before apply: the plan JSON is not the recorded one";
        PlanFileMismatch => "plan_file_mismatch", "before apply: the binary plan is not the recorded one";
        PlanFileMissing => "plan_file_missing", "before apply: a binary plan was recorded and none was given";
        BotRecordAltered => "bot_record_altered", "the bot's record on the ticket does not verify";
        NotApproved => "not_approved", "the ticket is not in the approved status";
        ApprovalBeforeChange => "approval_before_change", "no approval since the binding last changed, a risky plan was recorded, or the bot's analysis of this binding";
        ApprovalExpired => "approval_expired", "the approval is older than `approval_ttl`";
        ApproverUnmapped => "approver_unmapped", "the approver has no GitHub id in `[jira.approvers]`";
        SelfApproval => "self_approval", "the approver wrote, pushed or requested the change";
        TooFewApprovers => "too_few_approvers", "fewer distinct approvers than `required_approvers`";
        ApprovalInvalid => "approval_invalid", "no valid approval, and no more specific reason";
        OutsideChangeWindow => "outside_change_window", "now is outside the environment's change windows, and no second approver overrides";
        ChangeFreeze => "change_freeze", "now is inside a freeze, and no second approver overrides";
        EmergencyNotGranted => "emergency_not_granted", "an emergency was asked for and the break-glass group did not grant it";
        AnalysisMissing => "analysis_missing", "where a bot runs: the bot has not analysed this binding";
        ReceiptMissing => "receipt_missing", "where a bot runs: no receipt from the bot for this binding (and plan) under the policy in force";
        ReceiptInvalid => "receipt_invalid", "where a bot runs: the receipt does not verify";
    }
}

/// A failed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Stable code.
    pub(crate) code: ValidateCode,
    /// What is wrong and what to do.
    pub(crate) message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Which signatures a judgement trusts (docs/trust-model.md).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trust<'a> {
    /// A CI job where a bot runs: the bot's record must verify, and hold a
    /// receipt for this binding (and plan) under this policy.
    Ci {
        /// The bot's public keys.
        ring: &'a KeyRing,
        /// Content digest of the verified policy in force.
        policy: Sha256Digest,
    },
    /// The bot itself, about to issue a receipt: its record must verify.
    Bot {
        /// The bot's keys.
        ring: &'a KeyRing,
    },
    /// Without a bot: no trust root; an unsigned record is read as such.
    NoBot,
}

impl Trust<'_> {
    fn ring(&self) -> Option<&KeyRing> {
        match self {
            Trust::Ci { ring, .. } | Trust::Bot { ring } => Some(ring),
            Trust::NoBot => None,
        }
    }
}

/// Everything `validate` decides on.
#[derive(Debug)]
pub(crate) struct Facts<'a> {
    /// The ticket.
    pub(crate) ticket: &'a TicketState,
    /// The configuration.
    pub(crate) config: &'a Config,
    /// This build's binding, as CircleCI reports it.
    pub(crate) current: &'a Binding,
    /// The plan about to be applied (before apply only).
    pub(crate) plan: Option<&'a PlanFiles>,
    /// Before apply: the deploy applies a plan, so one must be recorded
    /// when the policy requires it.
    pub(crate) applying: bool,
    /// The job deploys (anything but `--stage plan`): the ticket must allow
    /// an apply, never only a plan.
    pub(crate) action_must_apply: bool,
    /// What is trusted.
    pub(crate) trust: Trust<'a>,
    /// Now.
    pub(crate) now: Timestamp,
}

/// A condition `validate` checks, with the codes its failures carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Condition {
    /// Its name (a JUnit case).
    pub(crate) name: &'static str,
    /// What must hold.
    pub(crate) what: &'static str,
    /// The codes of its failures.
    pub(crate) codes: &'static [ValidateCode],
}

/// Every condition, in the order they are checked.
pub(crate) const CONDITIONS: &[Condition] = &[
    Condition {
        name: "record",
        what: "the ticket has a changegate record that matches the digests mirrored in its labels and record field",
        codes: &[ValidateCode::RecordMissing, ValidateCode::RecordTampered],
    },
    Condition {
        name: "binding",
        what: "project, environment, action, branch, commit, pipeline and build job are this build's",
        codes: &[ValidateCode::BindingMismatch],
    },
    Condition {
        name: "required_fields",
        what: "every required field is filled",
        codes: &[ValidateCode::RequiredFieldMissing],
    },
    Condition {
        name: "plan",
        what: "the plan about to be applied is the recorded, reviewed one",
        codes: &[
            ValidateCode::PlanNotRecorded,
            ValidateCode::PlanJsonMismatch,
            ValidateCode::PlanFileMismatch,
            ValidateCode::PlanFileMissing,
        ],
    },
    Condition {
        name: "bot_record",
        what: "the bot's record on the ticket verifies",
        codes: &[ValidateCode::BotRecordAltered],
    },
    Condition {
        name: "approval",
        what: "a valid approval given after the last change, within the TTL, by enough independent, mapped approvers",
        codes: &[
            ValidateCode::NotApproved,
            ValidateCode::ApprovalBeforeChange,
            ValidateCode::ApprovalExpired,
            ValidateCode::ApproverUnmapped,
            ValidateCode::SelfApproval,
            ValidateCode::TooFewApprovers,
            ValidateCode::ApprovalInvalid,
        ],
    },
    Condition {
        name: "change_window",
        what: "inside a change window and outside any freeze, or approved by one more person",
        codes: &[ValidateCode::OutsideChangeWindow, ValidateCode::ChangeFreeze],
    },
    Condition {
        name: "emergency",
        what: "an emergency asked for was granted by the break-glass group",
        codes: &[ValidateCode::EmergencyNotGranted],
    },
    Condition {
        name: "analysis",
        what: "the bot has analysed this binding (who may not approve is known)",
        codes: &[ValidateCode::AnalysisMissing],
    },
    Condition {
        name: "receipt",
        what: "the bot's signed receipt for this binding (and plan) under the policy in force",
        codes: &[ValidateCode::ReceiptMissing, ValidateCode::ReceiptInvalid],
    },
];

/// The verdict.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// Every condition holds.
    pub(crate) pass: bool,
    /// The names of the [`CONDITIONS`] checked, in order: which ones
    /// apply depends on the facts (a plan, a bot, an emergency).
    pub(crate) checked: Vec<&'static str>,
    /// The conditions that do not.
    pub(crate) failures: Vec<Failure>,
    /// The approval judgement, when it was reached.
    pub(crate) approval: Option<ApprovalVerdict>,
    /// The emergency granted, when the deploy passes as one.
    pub(crate) emergency: Option<Grant>,
}

fn fail(code: ValidateCode, message: impl Into<String>) -> Failure {
    Failure { code, message: message.into() }
}

/// Judges whether the deploy may proceed.
pub(crate) fn judge(f: &Facts<'_>) -> Verdict {
    let mut failures = Vec::new();
    let t = f.ticket;
    let Some(record) = &t.record else {
        failures.push(fail(
            ValidateCode::RecordMissing,
            format!("{} has no changegate record: run `changegate request` for this build", t.key),
        ));
        return Verdict { pass: false, checked: vec!["record"], failures, approval: None, emergency: None };
    };
    check_record(f, record, &mut failures);
    check_binding(f, &record.binding, &mut failures);
    check_required_fields(f, &mut failures);
    let binding_changed = t.binding_changed_at(&f.config.jira);
    let since = check_plan(f, record, binding_changed, &mut failures);
    let bot = read_bot_record(f, record, &mut failures);
    let approval = judge_approval(f, record, &bot, &since, &mut failures);
    check_analysis(f, &record.binding.commit, &bot, &approval, &mut failures);
    check_receipt(f, record, &bot.check, binding_changed, &approval, &mut failures);
    Verdict {
        pass: failures.is_empty(),
        checked: checked(f, record),
        failures,
        approval: Some(approval.verdict),
        emergency: approval.grant,
    }
}

/// The property keeps no history: trust it only where the mirrored digests
/// (label and record field, which the history records) agree with it.
fn check_record(f: &Facts<'_>, record: &TicketRecord, failures: &mut Vec<Failure>) {
    let t = f.ticket;
    let binding_labels = t.labels.iter().filter(|l| l.starts_with("changegate-binding-")).count();
    if record.binding_digest != record.binding.digest()
        || !t.labels.contains(&record.binding.binding_label())
        || binding_labels != 1
    {
        failures.push(fail(
            ValidateCode::RecordTampered,
            "the ticket's record does not match the one binding digest mirrored in its labels",
        ));
    }
    if let Some(site) = f.config.jira.site_field(TicketField::Record) {
        let mirrored = t.fields.get(&site.id).and_then(Value::as_str).unwrap_or_default();
        if mirrored.trim() != mirror_text(record) {
            failures.push(fail(
                ValidateCode::RecordTampered,
                format!(
                    "the record field {} does not hold the digests of the record ({})",
                    site.id,
                    mirror_text(record)
                ),
            ));
        }
    }
}

/// The binding must be this build's.
fn check_binding(f: &Facts<'_>, b: &Binding, failures: &mut Vec<Failure>) {
    let c = f.current;
    if env_key(&b.environment) != env_key(&c.environment) {
        failures.push(fail(
            ValidateCode::BindingMismatch,
            format!("environment: the ticket allows {:?}, this job deploys to {:?}", b.environment, c.environment),
        ));
    }
    let fields = [
        ("project", b.project_slug.as_str(), c.project_slug.as_str()),
        ("branch", &b.branch, &c.branch),
        ("commit", &b.commit, &c.commit),
        ("pipeline", &b.pipeline_id, &c.pipeline_id),
        ("build job", &b.build_job.name, &c.build_job.name),
    ];
    for (name, want, have) in fields {
        if want != have {
            failures.push(fail(
                ValidateCode::BindingMismatch,
                format!("{name}: the ticket allows {want:?}, this build is {have:?}"),
            ));
        }
    }
    if (f.applying || f.action_must_apply) && b.action != crate::model::binding::DeployAction::Apply {
        failures.push(fail(
            ValidateCode::BindingMismatch,
            format!("action: the ticket allows a {} only, this job applies", b.action),
        ));
    }
    if b.build_job.number != c.build_job.number {
        failures.push(fail(
            ValidateCode::BindingMismatch,
            format!("build job number: the ticket allows #{}, this build is #{} (a rebuilt artifact needs `changegate request` and a new approval)", b.build_job.number, c.build_job.number),
        ));
    }
}

/// Every required field is filled.
fn check_required_fields(f: &Facts<'_>, failures: &mut Vec<Failure>) {
    let jc = &f.config.jira;
    for req in &jc.required {
        match jc.site_field(*req) {
            Some(site) if f.ticket.field_filled(&site.id) => {}
            Some(site) => {
                failures
                    .push(fail(ValidateCode::RequiredFieldMissing, format!("{} ({}) is empty", req.label(), site.id)));
            }
            None => failures.push(fail(
                ValidateCode::RequiredFieldMissing,
                format!(
                    "{} is required but not mapped to a field of the site ([jira.fields] {})",
                    req.label(),
                    req.name()
                ),
            )),
        }
    }
}

/// Since when an approval counts, and why then.
struct Since {
    /// The last change an approval must come after.
    at: Timestamp,
    /// What that change was, for messages.
    reason: String,
}

/// Before apply: the very plan that was recorded (and reviewed). A risky
/// plan recorded after the binding's last change moves the time an
/// approval must follow.
fn check_plan(f: &Facts<'_>, record: &TicketRecord, binding_changed: Timestamp, failures: &mut Vec<Failure>) -> Since {
    let t = f.ticket;
    let mut since = Since { at: binding_changed, reason: "the last change to the binding".to_owned() };
    if f.applying && f.plan.is_none() && f.config.plan_required_for(&f.current.environment) {
        failures.push(fail(
            ValidateCode::PlanNotRecorded,
            "the policy requires a reviewed plan before every apply: pass --plan-json and --plan-file of the plan that `changegate plan-check --ticket` recorded",
        ));
    }
    let Some(p) = f.plan else { return since };
    let Some(r) = record.plans.get(&p.stack) else {
        failures.push(fail(
            ValidateCode::PlanNotRecorded,
            format!("no plan is recorded for stack {:?}: run `changegate plan-check --ticket` after the plan", p.stack),
        ));
        return since;
    };
    if r.json_digest != p.json {
        failures.push(fail(
            ValidateCode::PlanJsonMismatch,
            format!("the plan JSON is {}, the reviewed one {}", p.json, r.json_digest),
        ));
    }
    match (&r.file_digest, &p.file) {
        (Some(want), Some(have)) if want != have => {
            failures.push(fail(
                ValidateCode::PlanFileMismatch,
                format!("the plan file is {have}, the reviewed one {want}"),
            ));
        }
        (Some(_), None) => {
            failures.push(fail(ValidateCode::PlanFileMissing, "a plan file digest was recorded: pass --plan-file"));
        }
        (None, Some(_)) => {
            failures.push(fail(ValidateCode::PlanFileMismatch, "no plan file digest was recorded for this stack"));
        }
        _ => {}
    }
    if r.label != PlanRecord::label_with(&p.stack, &r.json_digest, r.file_digest.as_ref(), r.canonical_digest.as_ref())
        || !t.labels.contains(&r.label)
    {
        failures.push(fail(ValidateCode::RecordTampered, "the recorded plan digests do not match the plan label"));
    }
    if let Some(at) = t.label_added_at(&r.label).filter(|at| r.risky && *at > since.at) {
        since = Since { at, reason: format!("the risky plan for stack {:?} was recorded", p.stack) };
    }
    since
}

/// What the bot's record says, as far as it is trusted.
struct BotView {
    /// The record, checked.
    check: Check,
    /// The bot's analyses of the ticket, dated by Jira's history.
    analyses: Vec<(Timestamp, String)>,
    /// One of them is of this binding.
    analysed: bool,
}

impl BotView {
    /// The bot's analysis of this commit.
    fn analysis(&self, commit: &str) -> Option<&crate::model::analysis::AnalysisRecord> {
        self.check.analysis().filter(|a| a.commit == commit)
    }
}

/// The bot's record: what the analysis found (who may not approve) and
/// the receipts. Where a bot runs, only what it signed counts.
fn read_bot_record(f: &Facts<'_>, record: &TicketRecord, failures: &mut Vec<Failure>) -> BotView {
    let t = f.ticket;
    let jc = &f.config.jira;
    let floor = bot_record::seq_floor(&t.changelog, &jc.bot_accounts);
    let check = bot_record::check(t.bot.as_ref(), f.trust.ring(), &t.key, &record.binding_digest, floor);
    if let Check::Altered { why, .. } = &check {
        failures.push(fail(
            ValidateCode::BotRecordAltered,
            format!("{why}: the bot's record was changed by someone else; the bot re-derives it"),
        ));
    }
    let analyses = bot_record::analyses(&t.changelog, &jc.bot_accounts);
    let ours = bot_record::binding_prefix(&record.binding_digest);
    let analysed = analyses.iter().any(|(_, d)| *d == ours);
    BotView { check, analyses, analysed }
}

/// The approval judged, and the emergency granted in its stead.
struct ApprovalOutcome {
    /// The approval judgement.
    verdict: ApprovalVerdict,
    /// The emergency granted, when the deploy passes as one.
    grant: Option<Grant>,
}

/// The approval, the emergency that stands in for it, and the change
/// window.
fn judge_approval(
    f: &Facts<'_>,
    record: &TicketRecord,
    bot: &BotView,
    since: &Since,
    failures: &mut Vec<Failure>,
) -> ApprovalOutcome {
    let t = f.ticket;
    let jc = &f.config.jira;
    let b = &record.binding;
    let analysis = bot.analysis(&b.commit);
    // Where a bot runs, an approval counts only when the bot's latest
    // analysis at that moment (its labels, dated by Jira's history) was of
    // this binding: an approval given to another binding swapped into the
    // record, or before anyone knew who may not approve, never carries over.
    // (Without any analysis of it, `analysis_missing` says so.)
    let counts = |a: &crate::model::approval::Approval| {
        f.trust.ring().is_none()
            || !bot.analysed
            || bot_record::analysed_before(&bot.analyses, &record.binding_digest, a.at)
    };
    let mut approval_not_before_reason = since.reason.clone();
    let all_approvals = t.approvals(&jc.statuses.approved);
    let approvals: Vec<crate::model::approval::Approval> =
        all_approvals.iter().filter(|a| counts(a)).cloned().collect();
    if approvals.len() < all_approvals.len() {
        approval_not_before_reason =
            format!("{} and after the changegate bot's analysis of this binding", since.reason);
    }
    let excluded: Vec<u64> = analysis.map(|a| a.excluded_github_ids.clone()).unwrap_or_default();
    let facts = ApprovalFacts {
        approved_now: t.status.eq_ignore_ascii_case(&jc.statuses.approved),
        status: &t.status,
        approvals: &approvals,
        not_before: since.at,
        not_before_reason: &approval_not_before_reason,
        now: f.now,
        excluded_github_ids: &excluded,
    };
    // Outside a change window or inside a freeze, a second approver
    // overrides: one more distinct person than usual, never the bot alone.
    // A deploy is judged when it starts: before apply, at the time its plan
    // was recorded, so a plan made inside the window is not refused at
    // apply because the window closed meanwhile.
    let window_at =
        f.plan.and_then(|p| record.plans.get(&p.stack)).and_then(|r| t.label_added_at(&r.label)).unwrap_or(f.now);
    let window = f.config.window_check(&b.environment, window_at);
    let closed = window != WindowCheck::Open;
    let policy = ApprovalPolicy {
        required: jc.required_approvers.max(1) + usize::from(closed),
        ttl: jc.approval_ttl,
        approvers: &jc.approvers,
        bot_accounts: &jc.bot_accounts,
        // The bot's own approval counts only where its analysis of this
        // binding says it may approve on its own: moved onto another
        // binding in a race, it never stands for that one's review.
        allow_bot: !closed
            && analysis
                .is_some_and(|a| a.auto_approve && a.recommendation == crate::model::analysis::Recommendation::Approve),
    };
    let verdict = approval::judge(&facts, &policy);
    let grant = grant_emergency(f, record, &verdict, &all_approvals, since.at, failures);
    if let (false, Some(code), None) = (verdict.valid, window.code(), &grant) {
        let why = match &window {
            WindowCheck::Outside(w) | WindowCheck::Frozen(w) => w.clone(),
            WindowCheck::Open => String::new(),
        };
        failures.push(fail(
            code,
            format!("{why}: a deploy now needs {} distinct approvers (a second approver overrides)", policy.required),
        ));
    }
    if !verdict.valid && grant.is_none() {
        for p in &verdict.problems {
            failures.push(fail(p.code(), p.to_string()));
        }
        if verdict.problems.is_empty() {
            failures.push(fail(ValidateCode::ApprovalInvalid, "no valid approval"));
        }
    }
    ApprovalOutcome { verdict, grant }
}

/// A granted emergency stands in for the approval and the receipt (the
/// bot may be down): Jira says a break-glass member approved. An emergency
/// counts only when it was asked for (its label, dated by the history)
/// before the break-glass approval: one written into the record after an
/// ordinary approval grants nothing.
fn grant_emergency(
    f: &Facts<'_>,
    record: &TicketRecord,
    verdict: &ApprovalVerdict,
    all_approvals: &[crate::model::approval::Approval],
    not_before: Timestamp,
    failures: &mut Vec<Failure>,
) -> Option<Grant> {
    let t = f.ticket;
    let jc = &f.config.jira;
    let asked_at = t.label_added_at(EMERGENCY_LABEL);
    let ordinary: Vec<String> = jc.approvers.keys().chain(&jc.withheld_approvers).cloned().collect();
    let emergency = emergency::judge(&EmergencyFacts {
        group: f.config.emergency.group.as_deref(),
        requested: record.emergency.as_ref().filter(|_| asked_at.is_some()),
        approved_now: t.status.eq_ignore_ascii_case(&jc.statuses.approved),
        approvals: all_approvals,
        not_before: asked_at.map_or(not_before, |a| a.max(not_before)),
        ttl: jc.approval_ttl,
        break_glass: &t.break_glass,
        approvers: &ordinary,
        now: f.now,
    });
    match emergency {
        Ok(g) if !verdict.valid => Some(g),
        Ok(_) => None,
        Err(why) => {
            if let (Some(why), false) = (why, verdict.valid) {
                failures.push(fail(ValidateCode::EmergencyNotGranted, why));
            }
            None
        }
    }
}

/// Where a bot runs, the approval counts only with the bot's analysis of
/// this commit (who may not approve), unless an emergency was granted.
fn check_analysis(f: &Facts<'_>, commit: &str, bot: &BotView, approval: &ApprovalOutcome, failures: &mut Vec<Failure>) {
    if let (Some(_), None, false) = (f.trust.ring(), &approval.grant, bot.check.is_altered()) {
        if bot.analysis(commit).is_none() {
            failures.push(fail(
                ValidateCode::AnalysisMissing,
                "the changegate bot has not analysed this commit yet, so who may not approve it is unknown",
            ));
        } else if !bot.analysed {
            failures.push(fail(
                ValidateCode::AnalysisMissing,
                "the changegate bot's analysis of this binding is not in the ticket's history (its label)",
            ));
        }
    }
}

/// The bot's signed receipt for exactly this binding (and plan), under
/// the policy in force.
fn check_receipt(
    f: &Facts<'_>,
    record: &TicketRecord,
    check: &Check,
    binding_changed: Timestamp,
    approval: &ApprovalOutcome,
    failures: &mut Vec<Failure>,
) {
    let (Trust::Ci { ring, policy }, None) = (f.trust, &approval.grant) else { return };
    let t = f.ticket;
    let b = &record.binding;
    let digests = f.plan.map(|p| (p.stack.as_str(), PlanDigests { json: p.json, file: p.file }));
    let plan = digests.as_ref().map(|(s, d)| (*s, d));
    let found: Vec<&receipt::Receipt> = check
        .current()
        .map(|r| {
            r.receipts
                .iter()
                .filter(|x| x.payload.covers(&t.key, b, plan) && x.payload.policy_digest == policy)
                .filter(|x| x.payload.issued() > binding_changed)
                .collect()
        })
        .unwrap_or_default();
    if found.is_empty() {
        let what = if f.plan.is_some() { "this binding and plan" } else { "this binding" };
        failures.push(fail(
            ValidateCode::ReceiptMissing,
            format!("no receipt from the changegate bot for {what} under the policy in force ({policy})"),
        ));
    } else if let Some(e) = found.iter().map(|r| receipt::verify(ring, r)).find_map(Result::err)
        && !found.iter().any(|r| receipt::verify(ring, r).is_ok())
    {
        failures.push(fail(ValidateCode::ReceiptInvalid, format!("the receipt for this binding: {e}")));
    }
}

/// The names of the [`CONDITIONS`] checked, in order: which ones apply
/// depends on the facts (a plan, a bot, an emergency).
fn checked(f: &Facts<'_>, record: &TicketRecord) -> Vec<&'static str> {
    let mut checked = vec!["record", "binding", "required_fields"];
    if f.plan.is_some() || f.applying && f.config.plan_required_for(&f.current.environment) {
        checked.push("plan");
    }
    checked.extend(["bot_record", "approval", "change_window"]);
    if record.emergency.is_some() {
        checked.push("emergency");
    }
    if f.trust.ring().is_some() {
        checked.push("analysis");
    }
    if let Trust::Ci { .. } = f.trust {
        checked.push("receipt");
    }
    checked
}

impl Verdict {
    /// Each condition checked with its failures, in order; a failure whose
    /// code belongs to no condition checked gets a condition of its own
    /// (named by its code), so none is lost.
    pub(crate) fn conditions(&self) -> Vec<(Condition, Vec<&Failure>)> {
        let mut out: Vec<(Condition, Vec<&Failure>)> = CONDITIONS
            .iter()
            .filter(|c| self.checked.contains(&c.name))
            .map(|c| (*c, self.failures.iter().filter(|f| c.codes.contains(&f.code)).collect()))
            .collect();
        for f in &self.failures {
            if !out.iter().any(|(c, _)| c.codes.contains(&f.code)) {
                out.push((Condition { name: f.code.as_str(), what: "", codes: &[] }, vec![f]));
            }
        }
        out
    }

    /// The JUnit suite: a case per condition checked, a failure per
    /// condition that does not hold, with every reason.
    pub(crate) fn to_junit(&self, ticket: &str, stack: &str) -> crate::base::junit::Suite {
        use crate::base::junit::{Case, Suite};
        let cases = self
            .conditions()
            .into_iter()
            .map(|(c, failures)| {
                if failures.is_empty() {
                    return Case::passed("validate", c.name).with_output(c.what);
                }
                let mut codes: Vec<&str> = failures.iter().map(|f| f.code.as_str()).collect();
                codes.dedup();
                let detail = failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
                Case::failed("validate", c.name, codes.join(","), failures[0].to_string(), detail)
            })
            .collect();
        let verdict = if self.pass { "pass" } else { "fail" };
        Suite::new(format!("changegate validate {ticket}, stack {stack}: {verdict}"), cases)
    }
}

/// What `validate` is asked.
#[derive(Debug, Clone)]
pub(crate) struct ValidateArgs {
    /// The ticket.
    pub(crate) ticket: String,
    /// The plan files (before apply).
    pub(crate) plan_json: Option<std::path::PathBuf>,
    /// The binary plan.
    pub(crate) plan_file: Option<std::path::PathBuf>,
    /// The plan JSON rendered from the binary plan (`--render-with`),
    /// instead of `plan_json`.
    pub(crate) rendered_json: Option<Vec<u8>>,
    /// Stack name.
    pub(crate) stack: String,
    /// The environment this job deploys to.
    pub(crate) environment: String,
    /// Before apply (`--stage apply`, or plan files given).
    pub(crate) applying: bool,
    /// Not `--stage plan`: the job deploys, so a plan-only ticket is refused.
    pub(crate) deploys: bool,
}

/// Why `validate` could not decide.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ValidateError {
    /// Reading the build or the ticket failed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] crate::clients::jira::JiraError),
    /// A plan file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Bad input.
    #[error("{0}")]
    Input(String),
}

/// Reads the facts and judges them.
pub(crate) fn run(
    args: &ValidateArgs,
    config: &Config,
    svc: &Clients,
    build: &BuildEnv,
    trust: Trust<'_>,
) -> Result<(TicketState, Verdict), ValidateError> {
    let digest =
        |p: &Path| Sha256Digest::of_file(p).map_err(|source| ValidateError::File { path: p.to_owned(), source });
    let mut canonical = None;
    let plan = match (&args.plan_json, &args.plan_file) {
        (None, None) => None,
        (None, Some(file)) => match &args.rendered_json {
            Some(json) => {
                canonical = crate::steps::plan::render::canonical_digest(json);
                Some(PlanFiles { stack: args.stack.clone(), json: Sha256Digest::of(json), file: Some(digest(file)?) })
            }
            None => {
                return Err(ValidateError::Input(
                    "--plan-file needs --plan-json, or --render-with to render it".into(),
                ));
            }
        },
        (Some(json), file) => Some(PlanFiles {
            stack: args.stack.clone(),
            json: digest(json)?,
            file: file.as_deref().map(digest).transpose()?,
        }),
    };
    let t = ticket::load_judged(&svc.jira, &args.ticket, config)?;
    // A rendering of the binary plan is the reviewed JSON when both are the
    // same document in canonical form (the tool may lay it out otherwise).
    let plan = plan.map(|mut p| {
        let recorded = t.record.as_ref().and_then(|r| r.plans.get(&p.stack));
        if let (Some(have), Some(r)) = (canonical, recorded)
            && r.canonical_digest == Some(have)
        {
            p.json = r.json_digest;
        }
        p
    });
    let Some(record) = &t.record else {
        let v = judge(&Facts {
            ticket: &t,
            config,
            current: &placeholder(),
            plan: plan.as_ref(),
            applying: args.applying,
            action_must_apply: args.deploys,
            trust,
            now: Timestamp::now(),
        });
        return Ok((t, v));
    };
    let b = &record.binding;
    let request = RequestArgs {
        environment: args.environment.clone(),
        action: b.action,
        build_job: b.build_job.name.clone(),
        hold: None,
        pipeline_id: None,
        pipeline_number: None,
        ticket: None,
        summary: None,
        justification: None,
        rollback_plan: None,
        service: None,
        emergency: None,
        no_bot: false,
    };
    let current = resolve_binding(&request, build, &svc.circleci)?;
    let v = judge(&Facts {
        ticket: &t,
        config,
        current: &current,
        plan: plan.as_ref(),
        applying: args.applying,
        action_must_apply: args.deploys,
        trust,
        now: Timestamp::now(),
    });
    Ok((t, v))
}

/// A binding that matches nothing (the record is missing anyway).
fn placeholder() -> Binding {
    serde_json::from_value(
        serde_json::json!({"project_slug": "", "environment": "", "action": "apply", "branch": "", "commit": "",
        "pipeline_id": "", "pipeline_number": 0, "build_job": {"name": "", "number": 0, "id": ""}}),
    )
    .expect("a binding")
}

/// The text a person reads.
pub(crate) fn render(t: &TicketState, v: &Verdict, plan: bool) -> String {
    let mut s = String::new();
    let what = if plan { "apply this plan" } else { "deploy this build" };
    if let (true, Some(g)) = (v.pass, &v.emergency) {
        s.push_str(&format!(
            "PASS: {} is an EMERGENCY change approved by {} (break-glass) at {} and bound to this build; ok to {what}\n",
            t.key, g.by, g.at
        ));
    } else if v.pass {
        let who = v
            .approval
            .as_ref()
            .map(|a| if a.by_bot { "the changegate bot".to_owned() } else { a.approvers.join(", ") })
            .unwrap_or_default();
        s.push_str(&format!("PASS: {} is approved (by {who}) and bound to this build; ok to {what}\n", t.key));
    } else {
        s.push_str(&format!(
            "FAIL: {} does not allow this deploy ({} condition(s) failed):\n",
            t.key,
            v.failures.len()
        ));
        for f in &v.failures {
            s.push_str(&format!("  - {f}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Date;
    use crate::clients::jira::{ChangeItem, ChangelogEntry, User};
    use crate::config::Config;
    use crate::model::binding::{TicketRecord, tests::binding};
    use crate::model::receipt::{ReceiptPayload, SigningKey, generate};
    use serde_json::{Map, json};

    const T0: &str = "2026-11-27T10:00:00.000+0000";

    fn config() -> Config {
        Config::parse(
            "[jira]\nrequired = [\"justification\"]\nbot_account_ids = [\"bot\"]\n[jira.fields]\njustification = \"cf_j\"\n[jira.approvers]\n\"alice\" = 1001\n\"bob\" = 1002\n",
            "c",
            Date::new(2026, 11, 27).unwrap(),
        )
        .unwrap()
    }

    fn status_change(at: &str, who: &str, to: &str) -> ChangelogEntry {
        ChangelogEntry {
            id: at.into(),
            author: Some(User { account_id: who.into(), ..User::default() }),
            created: at.into(),
            items: vec![ChangeItem {
                field: "status".into(),
                field_id: None,
                from_string: None,
                to_string: Some(to.into()),
            }],
        }
    }

    fn labels_change(at: &str, from: &str, to: &str) -> ChangelogEntry {
        ChangelogEntry {
            id: at.into(),
            author: None,
            created: at.into(),
            items: vec![ChangeItem {
                field: "labels".into(),
                field_id: Some("labels".into()),
                from_string: Some(from.into()),
                to_string: Some(to.into()),
            }],
        }
    }

    fn approved_ticket() -> TicketState {
        let record = TicketRecord::new(binding(), None);
        let mut fields = Map::new();
        fields.insert("cf_j".into(), json!("because"));
        TicketState {
            key: "PRODCM-1".into(),
            status: "Approved".into(),
            created: Timestamp::parse(T0).unwrap(),
            fields,
            labels: vec!["changegate".into(), binding().binding_label()],
            record: Some(record),
            bot: None,
            changelog: vec![status_change("2026-11-27T11:00:00.000+0000", "alice", "Approved")],
            break_glass: Vec::new(),
        }
    }

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-27T12:00:00.000+0000").unwrap()
    }

    fn run(t: &TicketState, current: &Binding, plan: Option<&PlanFiles>, trust: Option<Trust<'_>>) -> Verdict {
        let trust = trust.unwrap_or(Trust::NoBot);
        judge(&Facts {
            ticket: t,
            config: &config(),
            current,
            plan,
            applying: plan.is_some(),
            action_must_apply: false,
            trust,
            now: now(),
        })
    }

    fn policy() -> Sha256Digest {
        Sha256Digest::of(b"the policy in force")
    }

    fn analysis(excluded: &[u64]) -> crate::model::analysis::AnalysisRecord {
        crate::model::analysis::AnalysisRecord {
            fingerprint: "f".into(),
            marker: "m".into(),
            evidence_digest: Sha256Digest::of(b"e"),
            evidence_attachment: "e.json".into(),
            decided_at: "2026-11-27T10:30:00.000Z".into(),
            commit: binding().commit,
            base: None,
            verdict: crate::model::analysis::Verdict::Pass,
            recommendation: crate::model::analysis::Recommendation::ManualReview,
            auto_approve: false,
            risk: crate::model::analysis::Risk::Medium,
            only_version_bumps: false,
            reasons: vec![],
            excluded_github_ids: excluded.to_vec(),
            policy_digest: policy(),
        }
    }

    /// The bot's analysis label added to the ticket's history at 10:30, by
    /// the bot's account, before the approvals of the tests.
    fn analysed(t: &mut TicketState) {
        let label = crate::steps::bot_record::analysed_label(&binding().digest(), 1);
        let mut e = labels_change("2026-11-27T10:30:00.000+0000", "changegate", &format!("changegate {label}"));
        e.author = Some(User { account_id: "bot".into(), ..User::default() });
        t.changelog.insert(0, e);
    }

    /// The bot's record on the ticket, signed with `seed`.
    fn bot_record(seed: &str, excluded: &[u64], receipts: Vec<receipt::Receipt>) -> Value {
        let mut r = crate::steps::bot_record::BotRecord::new("PRODCM-1", binding().digest());
        r.seq = 1;
        r.written_at = "2026-11-27T11:00:02.000Z".into();
        r.analysis = Some(analysis(excluded));
        r.receipts = receipts;
        serde_json::to_value(SigningKey::from_base64(seed).unwrap().sign(crate::model::signing::Kind::Record, r))
            .unwrap()
    }

    fn codes(v: &Verdict) -> Vec<&'static str> {
        // Every failure belongs to a condition that was checked, so the
        // JUnit report shows it under its condition.
        for f in &v.failures {
            assert!(
                CONDITIONS.iter().any(|c| v.checked.contains(&c.name) && c.codes.contains(&f.code)),
                "{} belongs to no condition checked ({:?})",
                f.code,
                v.checked
            );
        }
        v.failures.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn an_approved_bound_ticket_passes() {
        let v = run(&approved_ticket(), &binding(), None, None);
        assert!(v.pass, "{:?}", v.failures);
    }

    #[test]
    fn the_junit_suite_has_a_case_per_condition_checked() {
        use crate::base::junit::CaseResult;
        let names = |s: &crate::base::junit::Suite| s.cases.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let v = run(&approved_ticket(), &binding(), None, None);
        let suite = v.to_junit("PRODCM-1", "default");
        assert_eq!(names(&suite), ["record", "binding", "required_fields", "bot_record", "approval", "change_window"]);
        assert_eq!(suite.counts().failures, 0);

        // Two binding fields and the status: two conditions fail, each once.
        let mut t = approved_ticket();
        t.status = "Manual review".into();
        let mut current = binding();
        current.branch = "feature".into();
        current.commit = "f".repeat(40);
        let v = run(&t, &current, None, None);
        let suite = v.to_junit("PRODCM-1", "default");
        assert_eq!(suite.counts().failures, 2);
        let CaseResult::Failed(p) = &suite.cases[1].result else { panic!("{:?}", suite.cases[1]) };
        assert_eq!(p.kind, "binding_mismatch");
        assert_eq!(p.detail.lines().count(), 2, "{p:?}");
        let CaseResult::Failed(p) = &suite.cases[4].result else { panic!("{:?}", suite.cases[4]) };
        assert_eq!(p.kind, "not_approved");

        // Before apply, the plan is a condition; without a record, only the record is.
        let (t, p) = with_plan(false, "2026-11-27T10:00:00.000+0000");
        assert!(names(&run(&t, &binding(), Some(&p), None).to_junit("K", "default")).contains(&"plan".to_owned()));
        let mut t = approved_ticket();
        t.record = None;
        let suite = run(&t, &binding(), None, None).to_junit("K", "default");
        assert_eq!(names(&suite), ["record"]);
        assert_eq!(suite.counts().failures, 1);
    }

    #[test]
    fn the_readme_names_every_condition_and_code() {
        let readme = include_str!("../../README.md");
        let row = readme
            .lines()
            .find(|l| l.starts_with("| `validate_change` |") && l.contains("condition checked"))
            .expect("the reports table");
        for c in CONDITIONS {
            assert!(row.contains(&format!("`{}`", c.name)), "README's reports table lacks {}", c.name);
        }
        // The codes themselves: `codes::tests`.
    }

    #[test]
    fn every_code_belongs_to_one_condition() {
        for code in ValidateCode::ALL {
            let of: Vec<&str> = CONDITIONS.iter().filter(|c| c.codes.contains(&code)).map(|c| c.name).collect();
            assert_eq!(of.len(), 1, "{code} belongs to {of:?}");
        }
    }

    #[test]
    fn waiting_or_declined_fails() {
        let mut t = approved_ticket();
        t.status = "Manual review".into();
        assert_eq!(codes(&run(&t, &binding(), None, None)), ["not_approved"]);
        t.status = "Declined".into();
        assert_eq!(codes(&run(&t, &binding(), None, None)), ["not_approved"]);
    }

    #[test]
    fn each_binding_field_mismatch_is_named() {
        let t = approved_ticket();
        type Edit = fn(&mut Binding);
        let edits: [(&str, Edit); 7] = [
            ("project", |b| b.project_slug = "gh/evil/web".into()),
            ("environment", |b| b.environment = "staging".into()),
            ("branch", |b| b.branch = "feature".into()),
            ("commit", |b| b.commit = "f".repeat(40)),
            ("pipeline", |b| b.pipeline_id = "other".into()),
            ("build job:", |b| b.build_job.name = "compile".into()),
            ("build job number", |b| b.build_job.number += 1),
        ];
        for (name, edit) in edits {
            let mut current = binding();
            edit(&mut current);
            let v = run(&t, &current, None, None);
            assert_eq!(codes(&v), ["binding_mismatch"], "{name}");
            assert!(v.failures[0].message.starts_with(name), "{name}: {}", v.failures[0].message);
        }
    }

    #[test]
    fn an_approval_before_the_binding_changed_does_not_count() {
        let mut t = approved_ticket();
        let new_label = binding().binding_label();
        t.changelog.push(labels_change(
            "2026-11-27T11:30:00.000+0000",
            "changegate changegate-binding-old",
            &format!("changegate {new_label}"),
        ));
        assert_eq!(codes(&run(&t, &binding(), None, None)), ["approval_before_change"]);
    }

    #[test]
    fn a_tampered_record_or_missing_required_field_fails() {
        let mut t = approved_ticket();
        t.labels.retain(|l| !l.starts_with("changegate-binding-"));
        assert!(codes(&run(&t, &binding(), None, None)).contains(&"record_tampered"));
        let mut t = approved_ticket();
        t.fields.insert("cf_j".into(), json!(" "));
        assert_eq!(codes(&run(&t, &binding(), None, None)), ["required_field_missing"]);
        let mut t = approved_ticket();
        t.record = None;
        assert_eq!(codes(&run(&t, &binding(), None, None)), ["record_missing"]);
    }

    fn with_plan(risky: bool, recorded_at: &str) -> (TicketState, PlanFiles) {
        let mut t = approved_ticket();
        let json = Sha256Digest::of(b"plan json");
        let file = Sha256Digest::of(b"plan file");
        let label = PlanRecord::label_for("default", &json, Some(&file));
        let r = t.record.as_mut().unwrap();
        r.plans.insert(
            "default".into(),
            PlanRecord {
                json_digest: json,
                file_digest: Some(file),
                risky,
                reasons: vec![],
                findings: 0,
                severity: None,
                recorded_at: recorded_at.into(),
                workflow_id: "wf".into(),
                hold: None,
                label: label.clone(),
                canonical_digest: None,
                rendered_by: None,
            },
        );
        let old = t.labels.join(" ");
        t.labels.push(label.clone());
        t.changelog.push(labels_change(recorded_at, &old, &t.labels.join(" ")));
        (t, PlanFiles { stack: "default".into(), json, file: Some(file) })
    }

    #[test]
    fn the_reviewed_plan_and_only_it_may_be_applied() {
        let (t, files) = with_plan(false, "2026-11-27T11:10:00.000+0000");
        assert!(run(&t, &binding(), Some(&files), None).pass);
        let swapped = PlanFiles { json: Sha256Digest::of(b"other"), ..files.clone() };
        assert_eq!(codes(&run(&t, &binding(), Some(&swapped), None)), ["plan_json_mismatch"]);
        let swapped = PlanFiles { file: Some(Sha256Digest::of(b"other")), ..files.clone() };
        assert_eq!(codes(&run(&t, &binding(), Some(&swapped), None)), ["plan_file_mismatch"]);
        let other_stack = PlanFiles { stack: "network".into(), ..files };
        assert_eq!(codes(&run(&t, &binding(), Some(&other_stack), None)), ["plan_not_recorded"]);
    }

    #[test]
    fn a_risky_plan_needs_an_approval_after_it_was_recorded() {
        let (t, files) = with_plan(true, "2026-11-27T11:10:00.000+0000");
        assert_eq!(codes(&run(&t, &binding(), Some(&files), None)), ["approval_before_change"]);
        let mut t = t;
        t.changelog.push(status_change("2026-11-27T11:20:00.000+0000", "bob", "Approved"));
        assert!(run(&t, &binding(), Some(&files), None).pass);
    }

    #[test]
    fn a_freeze_needs_a_second_approver_and_a_plan_made_before_it_applies() {
        let mut config = config();
        config.freezes = Config::parse(
            "[[freezes]]\nfrom = 2026-11-27T11:30:00Z\nuntil = 2026-11-27T13:00:00Z\nreason = \"Incident review\"\n",
            "c",
            Date::new(2026, 11, 27).unwrap(),
        )
        .unwrap()
        .freezes;
        let judge_with = |t: &TicketState, plan: Option<&PlanFiles>| {
            judge(&Facts {
                ticket: t,
                config: &config,
                current: &binding(),
                plan,
                applying: plan.is_some(),
                action_must_apply: false,
                trust: Trust::NoBot,
                now: now(),
            })
        };
        let (t, files) = with_plan(false, "2026-11-27T11:10:00.000+0000");
        // Before plan, now (12:00) is frozen: alice alone is not enough.
        let v = judge_with(&t, None);
        assert_eq!(codes(&v), ["change_freeze", "too_few_approvers"], "{:?}", v.failures);
        assert!(v.failures[0].message.contains("Incident review"), "{:?}", v.failures);
        // Before apply, the plan was recorded at 11:10, before the freeze.
        assert!(judge_with(&t, Some(&files)).pass);
        // A second approver overrides.
        let mut t = t;
        t.changelog.push(status_change("2026-11-27T11:50:00.000+0000", "bob", "Approved"));
        assert!(judge_with(&t, None).pass);
    }

    #[test]
    fn receipts_missing_forged_or_valid() {
        let (seed, public) = generate();
        let ring = KeyRing::parse(&public).unwrap();
        let ci = Some(Trust::Ci { ring: &ring, policy: policy() });
        let mut t = approved_ticket();
        assert_eq!(codes(&run(&t, &binding(), None, ci)), ["analysis_missing", "receipt_missing"]);
        analysed(&mut t);
        let payload = ReceiptPayload {
            ticket: "PRODCM-1".into(),
            binding: binding(),
            stack: None,
            plan: None,
            approver: "alice".into(),
            issued_at: "2026-11-27T11:00:01.000Z".into(),
            policy_digest: policy(),
        };
        let key = SigningKey::from_base64(&seed).unwrap();
        let good = receipt::sign(&key, payload.clone());
        t.bot = Some(bot_record(&seed, &[], vec![]));
        assert_eq!(codes(&run(&t, &binding(), None, ci)), ["receipt_missing"]);
        // A receipt signed by another key, inside a record the bot signed
        // (a retired key, say): refused.
        let (other_seed, _) = generate();
        let forged = receipt::sign(&SigningKey::from_base64(&other_seed).unwrap(), payload.clone());
        t.bot = Some(bot_record(&seed, &[], vec![forged.clone()]));
        assert_eq!(codes(&run(&t, &binding(), None, ci)), ["receipt_invalid"]);
        t.bot = Some(bot_record(&seed, &[], vec![forged, good.clone()]));
        assert!(run(&t, &binding(), None, ci).pass);
        // Under another policy (an older, looser one replayed): missing.
        let other_policy = Some(Trust::Ci { ring: &ring, policy: Sha256Digest::of(b"another policy") });
        assert_eq!(codes(&run(&t, &binding(), None, other_policy)), ["receipt_missing"]);
        // A record not signed by the bot counts for nothing.
        let (evil_seed, _) = generate();
        t.bot = Some(bot_record(&evil_seed, &[], vec![good.clone()]));
        assert!(codes(&run(&t, &binding(), None, ci)).contains(&"bot_record_altered"));
        // A receipt for the build is not one for a plan.
        let (mut tp, files) = with_plan(false, "2026-11-27T11:10:00.000+0000");
        analysed(&mut tp);
        tp.bot = Some(bot_record(&seed, &[], vec![good]));
        assert_eq!(codes(&run(&tp, &binding(), Some(&files), ci)), ["receipt_missing"]);
        let plan_receipt = receipt::sign(
            &key,
            ReceiptPayload {
                stack: Some("default".into()),
                plan: Some(PlanDigests { json: files.json, file: files.file }),
                ..payload
            },
        );
        tp.bot = Some(bot_record(&seed, &[], vec![plan_receipt]));
        assert!(run(&tp, &binding(), Some(&files), ci).pass);
    }

    #[test]
    fn a_self_approval_fails_when_the_analysis_excludes_the_approver() {
        let (seed, public) = generate();
        let ring = KeyRing::parse(&public).unwrap();
        let mut t = approved_ticket();
        analysed(&mut t);
        t.bot = Some(bot_record(&seed, &[1001], vec![]));
        assert_eq!(codes(&run(&t, &binding(), None, Some(Trust::Bot { ring: &ring }))), ["self_approval"]);
        // Emptied by someone else: the record does not verify, and the
        // approval does not pass on it.
        let mut v = t.bot.take().unwrap();
        v["payload"]["analysis"]["excluded_github_ids"] = json!([]);
        t.bot = Some(v);
        let got = codes(&run(&t, &binding(), None, Some(Trust::Bot { ring: &ring })));
        assert_eq!(got, ["bot_record_altered"]);
        // Without a bot, an unsigned analysis is read as it is.
        let mut r = crate::steps::bot_record::BotRecord::new("PRODCM-1", binding().digest());
        r.analysis = Some(analysis(&[1001]));
        t.bot = Some(json!({"unsigned": r}));
        assert_eq!(codes(&run(&t, &binding(), None, None)), ["self_approval"]);
    }

    #[test]
    fn the_bots_approval_counts_only_where_its_analysis_of_this_binding_allows_it() {
        // The bot's account approved; its analysis of the binding now in the
        // record says a person must review (the record was swapped between
        // its check and its transition): the approval does not stand in.
        let mut t = approved_ticket();
        t.changelog = vec![status_change("2026-11-27T11:00:00.000+0000", "bot", "Approved")];
        let mut r = crate::steps::bot_record::BotRecord::new("PRODCM-1", binding().digest());
        r.analysis = Some(analysis(&[]));
        t.bot = Some(json!({"unsigned": r.clone()}));
        let v = run(&t, &binding(), None, None);
        assert!(!v.pass, "{:?}", v.failures);
        // Its analysis of this binding recommends approval on its own: it counts.
        let mut a = analysis(&[]);
        a.recommendation = crate::model::analysis::Recommendation::Approve;
        a.auto_approve = true;
        r.analysis = Some(a);
        t.bot = Some(json!({"unsigned": r}));
        let v = run(&t, &binding(), None, None);
        assert!(v.pass, "{:?}", v.failures);
    }

    #[test]
    fn with_a_bot_an_approval_counts_only_after_its_analysis_of_this_binding() {
        let (seed, public) = generate();
        let ring = KeyRing::parse(&public).unwrap();
        let bot = Some(Trust::Bot { ring: &ring });
        let mut t = approved_ticket();
        t.bot = Some(bot_record(&seed, &[], vec![]));
        // The record is there, but the bot's label is not in the history.
        assert_eq!(codes(&run(&t, &binding(), None, bot)), ["analysis_missing"]);
        // Added by someone else: it does not count.
        let label = crate::steps::bot_record::analysed_label(&binding().digest(), 1);
        t.changelog
            .insert(0, labels_change("2026-11-27T10:30:00.000+0000", "changegate", &format!("changegate {label}")));
        assert_eq!(codes(&run(&t, &binding(), None, bot)), ["analysis_missing"]);
        // Added by the bot after alice approved (11:00): her approval predates it.
        let mut late = labels_change("2026-11-27T11:30:00.000+0000", "changegate", &format!("changegate {label}"));
        late.author = Some(User { account_id: "bot".into(), ..User::default() });
        t.changelog.push(late);
        let v = run(&t, &binding(), None, bot);
        assert_eq!(codes(&v), ["approval_before_change"], "{:?}", v.failures);
        assert!(v.failures[0].message.contains("the changegate bot's analysis of this binding"), "{:?}", v.failures);
        // Approved again after it: counts.
        t.changelog.push(status_change("2026-11-27T11:40:00.000+0000", "bob", "Approved"));
        assert!(run(&t, &binding(), None, bot).pass);
        // Another binding's analysis came after (the record was swapped to it
        // and back): an approval given while it was the latest does not count
        // for this one; one given after this binding's next analysis does.
        let other = crate::steps::bot_record::analysed_label(&Sha256Digest::of(b"another binding"), 2);
        let mut swap = labels_change(
            "2026-11-27T11:45:00.000+0000",
            &format!("changegate {label}"),
            &format!("changegate {other}"),
        );
        swap.author = Some(User { account_id: "bot".into(), ..User::default() });
        t.changelog.push(swap);
        t.changelog.push(status_change("2026-11-27T11:50:00.000+0000", "bob", "Approved"));
        let back_label = crate::steps::bot_record::analysed_label(&binding().digest(), 3);
        let mut back = labels_change(
            "2026-11-27T11:55:00.000+0000",
            &format!("changegate {other}"),
            &format!("changegate {back_label}"),
        );
        back.author = Some(User { account_id: "bot".into(), ..User::default() });
        t.changelog.push(back);
        // The 11:40 approval (of this binding) still counts...
        assert!(run(&t, &binding(), None, bot).pass);
        // ...but with only the 11:50 one, there is none.
        t.changelog
            .retain(|e| e.created != "2026-11-27T11:00:00.000+0000" && e.created != "2026-11-27T11:40:00.000+0000");
        let v = run(&t, &binding(), None, bot);
        assert!(codes(&v).contains(&"approval_before_change"), "{:?}", v.failures);
    }

    #[test]
    fn two_binding_labels_a_plan_ticket_at_apply_and_a_late_emergency_are_refused() {
        let mut t = approved_ticket();
        t.labels.push("changegate-binding-ffffffffffffffffffffffffffffffff".into());
        assert_eq!(codes(&run(&t, &binding(), None, None)), ["record_tampered"]);
        // A plan-only ticket does not allow an apply.
        let mut plan_only = binding();
        plan_only.action = crate::model::binding::DeployAction::Plan;
        let mut t = approved_ticket();
        t.record = Some(TicketRecord::new(plan_only.clone(), None));
        t.labels = vec!["changegate".into(), plan_only.binding_label()];
        let v = judge(&Facts {
            ticket: &t,
            config: &config(),
            current: &plan_only,
            plan: None,
            applying: true,
            action_must_apply: false,
            trust: Trust::NoBot,
            now: now(),
        });
        assert!(
            v.failures.iter().any(|f| f.code == "binding_mismatch" && f.message.starts_with("action")),
            "{:?}",
            v.failures
        );
        // An emergency written into the record after a break-glass member's
        // ordinary approval: no grant.
        let mut config = config();
        config.emergency.group = Some("break-glass".into());
        let mut t = approved_ticket();
        t.changelog = vec![status_change("2026-11-27T11:00:00.000+0000", "carol", "Approved")];
        t.break_glass = vec!["carol".into()];
        t.record.as_mut().unwrap().emergency = Some(crate::model::binding::EmergencyRequest {
            reason: "down".into(),
            requested_by: None,
            requested_at: "2026-11-27T10:00:00.000Z".into(),
        });
        let with = |t: &TicketState| {
            judge(&Facts {
                ticket: t,
                config: &config,
                current: &binding(),
                plan: None,
                applying: false,
                action_must_apply: false,
                trust: Trust::NoBot,
                now: now(),
            })
        };
        assert!(with(&t).emergency.is_none(), "no label in the history: not asked for");
        t.labels.push(crate::model::binding::EMERGENCY_LABEL.into());
        let old = "changegate ".to_owned() + &binding().binding_label();
        let added = format!("{old} {}", crate::model::binding::EMERGENCY_LABEL);
        t.changelog.push(labels_change("2026-11-27T11:30:00.000+0000", &old, &added));
        assert!(with(&t).emergency.is_none(), "asked for after the approval");
        t.changelog.push(status_change("2026-11-27T11:45:00.000+0000", "carol", "Approved"));
        assert!(with(&t).emergency.is_some(), "granted after it was asked for");
    }

    #[test]
    fn an_environment_with_a_plan_hold_needs_a_plan_before_apply() {
        let mut config = config();
        assert!(!config.plan_required_for("production"));
        config.lock.plan_holds.insert("production".into(), "hold_plan_review".into());
        assert!(config.plan_required_for(" Production "));
        let t = approved_ticket();
        let v = judge(&Facts {
            ticket: &t,
            config: &config,
            current: &binding(),
            plan: None,
            applying: true,
            action_must_apply: false,
            trust: Trust::NoBot,
            now: now(),
        });
        assert_eq!(codes(&v), ["plan_not_recorded"]);
    }

    #[test]
    fn where_a_plan_is_required_an_apply_without_one_fails() {
        let mut config = config();
        config.plan.required = true;
        let t = approved_ticket();
        let v = judge(&Facts {
            ticket: &t,
            config: &config,
            current: &binding(),
            plan: None,
            applying: true,
            action_must_apply: false,
            trust: Trust::NoBot,
            now: now(),
        });
        assert_eq!(codes(&v), ["plan_not_recorded"]);
        let before_plan = judge(&Facts {
            applying: false,
            action_must_apply: false,
            ..Facts {
                ticket: &t,
                config: &config,
                current: &binding(),
                plan: None,
                applying: true,
                action_must_apply: false,
                trust: Trust::NoBot,
                now: now(),
            }
        });
        assert!(before_plan.pass);
    }

    #[test]
    fn environments_compare_without_case_or_spaces() {
        let t = approved_ticket();
        let mut current = binding();
        current.environment = " Production".into();
        assert!(run(&t, &current, None, None).pass);
        current.environment = "staging".into();
        assert_eq!(codes(&run(&t, &current, None, None)), ["binding_mismatch"]);
    }
}
