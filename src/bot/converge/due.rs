//! What is due on a ticket, decided purely: every function here takes
//! facts already read (the ticket's status, its CI record, the bot's
//! checked record, `validate`'s verdicts, the time, the configuration) and
//! returns the [`Action`]s to take, in order. Nothing here calls a service;
//! [`super::execute`] performs the actions.
//!
//! A converge decides in rounds, because some facts exist only after an
//! action (README.md, "The bot"):
//!
//! 1. [`due`], on the ticket as read: report an altered record or a
//!    `--no-bot` request, cancel a Declined ticket's workflows, or analyse.
//!    [`Action::Analyse`] is always the last action of this round: the
//!    analysis may approve the ticket or send it to manual review, so what
//!    follows is decided on the ticket read again.
//! 2. [`after_analysis`], on the ticket read again after this run's
//!    analysis: who must be told that it waits for a person.
//! 3. [`past_the_lock`], over what the lock's CircleCI facts show slipped
//!    past it.
//! 4. [`approved`] for an Approved ticket, over `validate`'s verdicts (the
//!    same pure [`crate::steps::validate::judge`] CI runs): the receipts to write
//!    and the holds to resume, each receipt before the holds that need it;
//!    or [`waiting`] for a live unapproved one: remind or expire.
//! 5. [`ended`], for an Approved ticket, over its workflows' statuses read
//!    after the holds were resumed: close it when they all ended without
//!    success.
//!
//! What is done once is decided on the bot's record as checked
//! ([`Check`]): a mark or receipt in a record that does not count (absent,
//! altered, of an earlier binding) is not there, so the thing is done
//! again; on an altered record the analysis runs again even on an Approved
//! ticket, and nothing is resumed.

use std::collections::BTreeMap;

use crate::base::digest::Sha256Digest;
use crate::base::time::Timestamp;
use crate::clients::notify::Reason;
use crate::config::{Config, env_key};
use crate::model::analysis::AnalysisRecord;
use crate::model::analysis::PolicyCode;
use crate::model::binding::{DeployAction, TicketRecord};
use crate::model::receipt::PlanDigests;
use crate::steps::bot_record::{Check, Marks};
use crate::steps::close::DeployOutcome;
use crate::steps::emergency::Grant;
use crate::steps::lock::Slipped;
use crate::steps::validate::{ValidateCode, Verdict};
use crate::steps::waiting;

/// Where a ticket is in its life, by its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Declined: its workflows are cancelled.
    Declined,
    /// Over otherwise (Done, Failed, Cancelled): nothing to do.
    Closed,
    /// Approved: its holds are resumed when their conditions hold.
    Approved,
    /// Live and not approved: analysed, reminded, expired.
    Live,
}

/// What converge knows of a ticket when it decides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    /// The ticket's key.
    pub(crate) key: &'a str,
    /// Its status name.
    pub(crate) status: &'a str,
    /// Its CI record.
    pub(crate) record: &'a TicketRecord,
    /// The bot's record on it, checked ([`crate::steps::bot_record::check`]).
    pub(crate) check: &'a Check,
    /// The bot's own account dated an analysis of this binding (its label
    /// in the history): without it, no approval of the binding counts.
    pub(crate) labelled: bool,
    /// Content digest of the policy the bot runs under.
    pub(crate) policy_digest: Sha256Digest,
    /// The bot's configuration.
    pub(crate) config: &'a Config,
}

impl Facts<'_> {
    /// The phase of the ticket.
    pub(crate) fn phase(&self) -> Phase {
        let s = &self.config.jira.statuses;
        if self.status.eq_ignore_ascii_case(&s.declined) {
            Phase::Declined
        } else if s.is_closed(self.status) {
            Phase::Closed
        } else if self.status.eq_ignore_ascii_case(&s.approved) {
            Phase::Approved
        } else {
            Phase::Live
        }
    }

    fn has_receipt(&self, plan: Option<(&str, &PlanDigests)>) -> bool {
        self.check.has_receipt(self.key, &self.record.binding, plan, &self.policy_digest)
    }
}

/// A change hold (opened by the change's approval) or a plan hold (opened
/// by a reviewed plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HoldKind {
    /// The change's hold.
    Change,
    /// A plan's hold.
    Plan,
}

/// A hold to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    /// Its workflow.
    pub(crate) workflow: String,
    /// The approval job.
    pub(crate) hold: String,
    /// What opens it.
    pub(crate) kind: HoldKind,
    /// The ticket's other holds: this one must not come after any of them.
    pub(crate) not_after: Vec<String>,
    /// The plan hold every deploy job of the workflow must wait for (a
    /// change hold of an environment with a plan hold, for an apply).
    pub(crate) plan_hold: Option<String>,
    /// Its mark in the bot's record ([`Marks::Resumed`]).
    pub(crate) mark: String,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// A decision that needs no call: said in the outcome.
    Say(String),
    /// Say once on the ticket that the bot's record was altered.
    ReportAltered {
        /// What is wrong.
        why: String,
        /// Digest of the value found (one report per alteration).
        digest: Sha256Digest,
    },
    /// Flag once a ticket requested with `--no-bot` in an environment the
    /// bot controls.
    ReportNoBot,
    /// Cancel a Declined ticket's workflow if it still runs, and mark it.
    Cancel {
        /// The workflow.
        workflow: String,
    },
    /// Analyse the binding, approving when the policy allows it (always
    /// the last action of [`due`]).
    Analyse,
    /// Tell people (Slack), beyond Jira's mentions.
    Notify {
        /// Why.
        reason: Reason,
        /// What.
        detail: String,
    },
    /// Report once on the ticket what got past the lock, and mark it.
    ReportSlipped(Slipped),
    /// Send an Approved ticket back to manual review, once per marker.
    AskAgain {
        /// Marks the comment (once).
        marker: String,
        /// The comment's head.
        head: &'static str,
        /// Why.
        why: String,
        /// What people are told.
        reason: Reason,
    },
    /// Record the emergency's grant (its retrospective opened), telling
    /// people once that the retrospective is due.
    RecordEmergency(Grant),
    /// Write a signed receipt for the binding, or for a plan of it.
    Receipt {
        /// The stack and plan, for a plan's receipt.
        plan: Option<(String, PlanDigests)>,
        /// Who approved.
        approver: String,
    },
    /// Resume a hold (after CircleCI confirms it is the ticket's) and mark it.
    Resume(Resume),
    /// Remind the approvers of a waiting request (a comment carrying `marker`).
    Remind {
        /// Marks the reminder of this period.
        marker: String,
        /// Whole hours waited.
        hours: u64,
    },
    /// End a request that waited too long: its workflows cancelled,
    /// Cancelled with resolution Expired.
    Expire {
        /// Whole hours waited.
        hours: u64,
    },
    /// Close an Approved ticket whose workflows all ended without success,
    /// as `changegate close` would have.
    Close {
        /// Failed or cancelled.
        outcome: DeployOutcome,
        /// The last workflow.
        workflow: String,
    },
}

/// The mark of what was done to a workflow's hold.
pub(crate) fn marker(kind: &str, workflow: &str, hold: &str) -> String {
    format!("{kind}:{workflow}:{hold}")
}

/// Round one, on the ticket as read: reports, cancellation of a Declined
/// ticket's workflows, or the analysis (last).
pub(crate) fn due(f: &Facts<'_>) -> Vec<Action> {
    let key = f.key;
    let record = f.record;
    let mut out = Vec::new();
    match f.check {
        Check::Altered { why, digest, retired: false } => {
            out.push(Action::ReportAltered { why: why.clone(), digest: *digest });
        }
        Check::Altered { why, retired: true, .. } => {
            out.push(Action::Say(format!("{key}: {why}: the record is written anew")));
        }
        _ => {}
    }
    if record.no_bot
        && !f.config.jira.statuses.is_closed(f.status)
        && f.config.is_controlled(&record.binding.environment)
    {
        out.push(Action::ReportNoBot);
    }
    match f.phase() {
        Phase::Declined => {
            for w in &record.workflows {
                if !f.check.has(Marks::Cancelled, &marker("cancel", &w.id, "")) {
                    out.push(Action::Cancel { workflow: w.id.clone() });
                }
            }
        }
        Phase::Closed => out.push(Action::Say(format!("{key} is {}: nothing to do", f.status))),
        // A live ticket not analysed for its binding under the bot's policy
        // (or whose record was altered): analyse it. An Approved ticket is
        // analysed too (never moved by it), so no hold is resumed without
        // the bot's own analysis of who may not approve.
        phase @ (Phase::Approved | Phase::Live) => {
            if analysis_due(f.check.analysis(), record, f.policy_digest, phase == Phase::Approved) || !f.labelled {
                out.push(Action::Analyse);
            }
        }
    }
    out
}

/// The last analysis is missing (or its record altered), of another
/// binding or policy, allowed an approval that did not happen, or waited
/// only on what may clear by itself (other tickets or deploys of the
/// stream, facts that could not be read). An Approved ticket is analysed
/// only when there is no trustworthy analysis of its binding under this
/// policy.
fn analysis_due(a: Option<&AnalysisRecord>, record: &TicketRecord, policy: Sha256Digest, approved: bool) -> bool {
    let Some(a) = a else { return true };
    if a.commit != record.binding.commit || a.policy_digest != policy {
        return true;
    }
    if approved {
        return false;
    }
    // It allowed approval, but the approval did not happen (a failed call):
    // analyse again, which approves after re-checking pending tickets.
    if a.auto_approve {
        return true;
    }
    // Reasons that may clear by themselves: other tickets or deploys ending,
    // facts that could not be read (a failed call) becoming readable. Any
    // other reason stands until the facts change (a new commit). A window
    // opens and a freeze ends with the time alone.
    use PolicyCode as P;
    !a.reasons.is_empty()
        && a.reasons.iter().all(|r| {
            matches!(
                r,
                P::PendingTicket
                    | P::RunningDeploy
                    | P::ReviewUndecidable
                    | P::ScanUndecidable
                    | P::EvidenceIncomplete
                    | P::EvidenceInconsistent
                    | P::OutsideChangeWindow
                    | P::ChangeFreeze
            )
        })
}

/// Round two, on the ticket read again after this run's analysis: when
/// the analysis posted and the ticket is not approved, people are told it
/// needs them (the break-glass group for an emergency).
pub(crate) fn after_analysis(f: &Facts<'_>, posted: bool) -> Vec<Action> {
    if !posted || f.status.eq_ignore_ascii_case(&f.config.jira.statuses.approved) {
        return Vec::new();
    }
    let (reason, detail) = match &f.record.emergency {
        Some(e) => (Reason::EmergencyRequested, format!("reason: {}", e.reason)),
        None => {
            let why = f
                .check
                .analysis()
                .map_or_else(String::new, |a| a.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "));
            (Reason::NeedsApproval, format!("a person must review and approve ({why})"))
        }
    };
    vec![Action::Notify { reason, detail }]
}

/// Round three: each finding of what slipped past the lock not yet
/// reported.
pub(crate) fn past_the_lock(f: &Facts<'_>, found: &[Slipped]) -> Vec<Action> {
    found
        .iter()
        .filter(|s| !f.check.has(Marks::Reported, &s.marker()))
        .map(|s| Action::ReportSlipped(s.clone()))
        .collect()
}

/// `validate`'s verdicts on an Approved ticket, as the bot judges them
/// before writing a receipt.
#[derive(Debug, Clone)]
pub(crate) struct Judged {
    /// The change: a valid approval of the binding.
    pub(crate) change: Verdict,
    /// Each recorded plan, by stack, judged as before its apply.
    pub(crate) plans: BTreeMap<String, Verdict>,
    /// When the last approval was given (epoch milliseconds, 0 for none):
    /// one request for an overriding approver per approval.
    pub(crate) last_approval_at: i64,
}

/// Round four, for an Approved ticket: on a record the bot can trust, the
/// receipts to write and the holds to resume, each receipt before the
/// holds that need it; or why not, with the approvers asked again where
/// one more approval would do.
pub(crate) fn approved(f: &Facts<'_>, j: &Judged) -> Vec<Action> {
    let key = f.key;
    let mut out = Vec::new();
    if f.check.is_altered() || f.check.analysis().is_none() {
        // Nothing is resumed on a record the bot cannot trust.
        out.push(Action::Say(format!(
            "{key}: holds not resumed: the bot's record of this binding is missing or altered"
        )));
        return out;
    }
    let verdict = &j.change;
    if !verdict.pass {
        refused(f, j, &mut out);
        return out;
    }
    let approver = verdict
        .approval
        .as_ref()
        .and_then(|a| if a.by_bot { f.config.jira.bot_accounts.first().cloned() } else { a.approvers.first().cloned() })
        .unwrap_or_default();
    if let Some(grant) = &verdict.emergency {
        out.push(Action::RecordEmergency(grant.clone()));
    }
    let approver = verdict.emergency.as_ref().map_or(approver, |g| g.by.clone());
    // The receipt for the approved binding, hold or none: `validate` checks
    // it before the plan, and the next change set starts at a deploy with it.
    if !f.has_receipt(None) {
        out.push(Action::Receipt { plan: None, approver: approver.clone() });
        out.push(Action::Say(format!("{key}: receipt for the approved binding written")));
    }
    change_holds(f, &mut out);
    plan_holds(f, j, &approver, &mut out);
    out
}

/// Why the change's verdict resumes nothing; and where one more approval
/// would do, the approvers asked again: the overriding second approver
/// outside a change window or in a freeze, or a fresh approval for one
/// that lapsed.
fn refused(f: &Facts<'_>, j: &Judged, out: &mut Vec<Action>) {
    let verdict = &j.change;
    let why: Vec<String> = verdict.failures.iter().map(ToString::to_string).collect();
    out.push(Action::Say(format!("{}: holds not resumed: {}", f.key, why.join("; "))));
    // Outside a change window or in a freeze: one approval is not
    // enough; ask for the overriding second approver, visibly.
    let windows = [ValidateCode::OutsideChangeWindow, ValidateCode::ChangeFreeze];
    let window = verdict.failures.iter().find(|f| windows.contains(&f.code));
    if let Some(w) = window {
        out.push(Action::AskAgain {
            marker: format!("changegate:override-needed:{}:{}", w.code, j.last_approval_at),
            head: "Second approver needed: ",
            why: format!("{}: {}", w.code, w.message),
            reason: Reason::NeedsApproval,
        });
    } else if let Some((marker, lapse)) = verdict.approval.as_ref().and_then(waiting::lapse) {
        out.push(Action::AskAgain {
            marker,
            head: "Approval no longer valid: ",
            why: lapse,
            reason: Reason::ApprovalLapsed,
        });
    }
}

/// The change holds of the approved binding's workflows to resume, each
/// once and only where the bot may, none opening ahead of another hold.
fn change_holds(f: &Facts<'_>, out: &mut Vec<Action>) {
    let record = f.record;
    let applies = record.binding.action == DeployAction::Apply;
    for w in &record.workflows {
        let Some(hold) = &w.hold else { continue };
        let mark = marker("change", &w.id, hold);
        if f.check.has(Marks::Resumed, &mark) {
            continue;
        }
        if let Err(why) = resumable(f, hold, HoldKind::Change) {
            out.push(Action::Say(why));
            continue;
        }
        let not_after: Vec<String> = record
            .workflows
            .iter()
            .filter_map(|x| x.hold.clone())
            .chain(record.plans.values().filter_map(|p| p.hold.clone()))
            .filter(|h| h != hold)
            .collect();
        // A change hold of an environment with a plan hold opens only a
        // workflow whose deploy jobs all wait for the plan hold. (A
        // plan-only deploy applies nothing: its workflow needs no plan hold.)
        let env = env_key(&record.binding.environment);
        let plan_hold = f.config.lock.plan_hold(&env).filter(|p| *p != hold && applies).map(str::to_owned);
        out.push(Action::Resume(Resume {
            workflow: w.id.clone(),
            hold: hold.clone(),
            kind: HoldKind::Change,
            not_after,
            plan_hold,
            mark,
        }));
    }
}

/// Each recorded plan, judged as `validate` before apply judges it: its
/// receipt (an apply checks it with or without a plan hold), and its
/// plan hold resumed when there is one.
fn plan_holds(f: &Facts<'_>, j: &Judged, approver: &str, out: &mut Vec<Action>) {
    let key = f.key;
    for (stack, p) in &f.record.plans {
        let digests = PlanDigests { json: p.json_digest, file: p.file_digest };
        let mark = p.hold.as_ref().map(|h| marker(&format!("plan-{stack}-{}", p.json_digest.hex()), &p.workflow_id, h));
        let resumed = mark.as_ref().is_none_or(|m| f.check.has(Marks::Resumed, m));
        if resumed && f.has_receipt(Some((stack, &digests))) {
            continue;
        }
        let failures = match j.plans.get(stack) {
            Some(v) if v.pass => None,
            Some(v) => Some(v.failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            None => Some("it was not judged".to_owned()),
        };
        if let Some(why) = failures {
            out.push(Action::Say(format!("{key}: the plan for stack {stack:?} waits: {why}")));
            continue;
        }
        out.push(Action::Receipt { plan: Some((stack.clone(), digests)), approver: approver.to_owned() });
        match (&p.hold, mark) {
            (Some(hold), Some(mark)) => match resumable(f, hold, HoldKind::Plan) {
                Err(why) => out.push(Action::Say(why)),
                Ok(()) => out.push(Action::Resume(Resume {
                    workflow: p.workflow_id.clone(),
                    hold: hold.clone(),
                    kind: HoldKind::Plan,
                    not_after: Vec::new(),
                    plan_hold: None,
                    mark,
                })),
            },
            _ => out.push(Action::Say(format!("{key}: receipt for the plan of stack {stack:?} written"))),
        }
    }
}

/// Whether the bot may resume `hold` of this ticket, or why not.
///
/// Which holds: those `[lock.holds]` names for its environment (the CI
/// record says which holds a ticket has, and anyone who may edit issues
/// can write it). Without an entry, any hold the record names, but only
/// for the one environment the bot controls: with several, a ticket of one
/// could otherwise resume another's hold in a workflow that deploys both,
/// and a ticket of an environment the bot does not control (any name a CI
/// job writes) could name production's.
///
/// Holds are typed by the bot's policy, not by the CI record: its plan hold
/// opens only for a reviewed plan, and nothing else opens as one.
fn resumable(f: &Facts<'_>, hold: &str, kind: HoldKind) -> Result<(), String> {
    let config = f.config;
    let env = env_key(&f.record.binding.environment);
    match config.lock.holds.iter().find(|(e, _)| env_key(e) == env) {
        Some((_, names)) if !names.iter().any(|n| n == hold) => {
            return Err(format!(
                "not resumed: {hold} is not a hold of {env} ([lock.holds] names {})",
                names.join(", ")
            ));
        }
        Some(_) => {}
        None if !config.is_controlled(&env) => {
            return Err(format!(
                "not resumed: {hold}: {env} is not an environment the bot controls, and [lock.holds] names no holds for it"
            ));
        }
        None if config.controlled_environments.len() > 1 => {
            return Err(format!(
                "not resumed: {hold}: several environments are controlled ({}) and [lock.holds] names no holds for {env}, so which holds are {env}'s is unknown",
                config.controlled_environments.join(", ")
            ));
        }
        None => {}
    }
    match (config.lock.plan_hold(&env), kind) {
        (Some(plan), HoldKind::Change) if plan == hold => Err(format!(
            "not resumed: {hold} is the plan hold of {env} ([lock.plan_holds]); it opens only for a reviewed plan"
        )),
        (Some(plan), HoldKind::Plan) if plan != hold => Err(format!(
            "not resumed: {hold} is recorded as the plan's hold, but the plan hold of {env} is {plan} ([lock.plan_holds])"
        )),
        _ => Ok(()),
    }
}

/// Round four, for a live ticket not approved: remind the approvers once
/// per period, expire it after `[approval] expire_after`, else wait.
/// `since` is the last change to the binding; `posted` the markers of the
/// reminders already on the ticket.
pub(crate) fn waiting(f: &Facts<'_>, since: Timestamp, now: Timestamp, posted: &[String]) -> Vec<Action> {
    let a = &f.config.approval;
    match waiting::step(f.key, since, now, a.remind_after, a.expire_after, posted) {
        waiting::Step::Wait => vec![Action::Say(format!("{} is {}: its holds wait", f.key, f.status))],
        waiting::Step::Remind { marker, hours } => vec![
            Action::Remind { marker, hours },
            Action::Notify { reason: Reason::Waiting, detail: format!("waiting {hours} h") },
        ],
        waiting::Step::Expire { hours } => vec![Action::Expire { hours }],
    }
}

/// Round five, for an Approved ticket: its workflows' statuses (id and
/// CircleCI status, in the record's order; `None` when one is unknown to
/// CircleCI, so nothing can be concluded). When they all ended and none
/// succeeded, the ticket is closed as failed (one failed) or cancelled.
pub(crate) fn ended(statuses: Option<&[(String, String)]>) -> Option<Action> {
    let statuses = statuses?;
    let (last, _) = statuses.last()?;
    let over = |s: &str| matches!(s, "canceled" | "failed" | "error" | "unauthorized" | "not_run");
    if !statuses.iter().all(|(_, s)| over(s)) {
        return None;
    }
    let outcome = if statuses.iter().any(|(_, s)| matches!(s.as_str(), "failed" | "error")) {
        DeployOutcome::Failure
    } else {
        DeployOutcome::Canceled
    };
    Some(Action::Close { outcome, workflow: last.clone() })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::analysis::{Recommendation, Risk};
    use crate::model::approval::{ApprovalProblem, ApprovalVerdict};
    use crate::model::binding::{Binding, BuildJob, PlanRecord, WorkflowRef};
    use crate::model::receipt::{ReceiptPayload, SigningKey, generate};
    use crate::steps::bot_record::{BotRecord, Mark};
    use crate::steps::validate::Failure;

    const KEY: &str = "PRODCM-7";
    const POLICY: &[u8] = b"policy";

    fn policy() -> Sha256Digest {
        Sha256Digest::of(POLICY)
    }

    fn binding() -> Binding {
        Binding {
            project_slug: "gh/acme/infra".into(),
            environment: "production".into(),
            action: DeployAction::Apply,
            branch: "main".into(),
            commit: "c0ffee".into(),
            pipeline_id: "p-1".into(),
            pipeline_number: 12,
            build_job: BuildJob { name: "build".into(), number: 40, id: "j-40".into() },
        }
    }

    /// A CI record with workflow `w1` waiting at `hold_change`.
    fn record() -> TicketRecord {
        let mut r = TicketRecord::new(binding(), None);
        r.workflows.push(WorkflowRef { id: "w1".into(), hold: Some("hold_change".into()), added_at: String::new() });
        r
    }

    fn with_plan(mut r: TicketRecord) -> TicketRecord {
        let json = Sha256Digest::of(b"plan.json");
        r.plans.insert(
            "net".into(),
            PlanRecord {
                json_digest: json,
                file_digest: None,
                risky: false,
                reasons: Vec::new(),
                findings: 0,
                severity: None,
                recorded_at: String::new(),
                workflow_id: "w1".into(),
                hold: Some("hold_apply".into()),
                label: String::new(),
                canonical_digest: None,
                rendered_by: None,
            },
        );
        r
    }

    fn analysis(commit: &str, reasons: Vec<PolicyCode>) -> AnalysisRecord {
        AnalysisRecord {
            fingerprint: "f".into(),
            marker: "m".into(),
            evidence_digest: Sha256Digest::of(b"evidence"),
            evidence_attachment: "evidence.json".into(),
            decided_at: "2026-12-01T10:00:00.000Z".into(),
            commit: commit.into(),
            base: None,
            verdict: crate::model::analysis::Verdict::Pass,
            recommendation: if reasons.is_empty() { Recommendation::Approve } else { Recommendation::ManualReview },
            auto_approve: false,
            risk: Risk::Low,
            only_version_bumps: false,
            reasons,
            excluded_github_ids: Vec::new(),
            policy_digest: policy(),
        }
    }

    /// The bot's verified record, with an analysis of the current commit.
    fn analysed(r: &TicketRecord) -> BotRecord {
        BotRecord { analysis: Some(analysis(&r.binding.commit, vec![])), ..BotRecord::new(KEY, r.binding_digest) }
    }

    fn receipt(r: &TicketRecord, plan: Option<(&str, PlanDigests)>) -> crate::model::receipt::Receipt {
        let (seed, _) = generate();
        let key = SigningKey::from_base64(&seed).unwrap();
        let (stack, plan) = plan.map_or((None, None), |(s, d)| (Some(s.to_owned()), Some(d)));
        crate::model::receipt::sign(
            &key,
            ReceiptPayload {
                ticket: KEY.into(),
                binding: r.binding.clone(),
                stack,
                plan,
                approver: "acc-1".into(),
                issued_at: "2026-12-01T10:00:00.000Z".into(),
                policy_digest: policy(),
            },
        )
    }

    fn mark(marker: &str) -> Mark {
        Mark { marker: marker.into(), at: "2026-12-01T10:00:00.000Z".into(), detail: None }
    }

    fn altered(retired: bool) -> Check {
        Check::Altered { why: "the record's signature: bad".into(), digest: Sha256Digest::of(b"found"), retired }
    }

    fn facts<'a>(status: &'a str, record: &'a TicketRecord, check: &'a Check, config: &'a Config) -> Facts<'a> {
        Facts { key: KEY, status, record, check, labelled: true, policy_digest: policy(), config }
    }

    fn passing(approver: &str) -> Verdict {
        Verdict {
            pass: true,
            checked: vec!["approval"],
            failures: Vec::new(),
            approval: Some(ApprovalVerdict {
                valid: true,
                approvers: vec![approver.into()],
                by_bot: false,
                latest: None,
                problems: Vec::new(),
            }),
            emergency: None,
        }
    }

    fn failing(code: ValidateCode, approval: Option<ApprovalVerdict>) -> Verdict {
        Verdict {
            pass: false,
            checked: vec!["approval"],
            failures: vec![Failure { code, message: "why".into() }],
            approval,
            emergency: None,
        }
    }

    fn judged(change: Verdict) -> Judged {
        Judged { change, plans: BTreeMap::new(), last_approval_at: 1_700 }
    }

    fn resumes(actions: &[Action]) -> Vec<(&str, &str, HoldKind)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Resume(r) => Some((r.workflow.as_str(), r.hold.as_str(), r.kind)),
                _ => None,
            })
            .collect()
    }

    fn receipts(actions: &[Action]) -> Vec<Option<&str>> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Receipt { plan, .. } => Some(plan.as_ref().map(|(s, _)| s.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_ticket_without_an_analysis_is_analysed() {
        let config = Config::default();
        let r = record();
        assert_eq!(due(&facts("Open", &r, &Check::Absent, &config)), [Action::Analyse]);
        assert_eq!(due(&facts("Approved", &r, &Check::Absent, &config)), [Action::Analyse], "even when Approved");
        // A verified analysis without the bot's dated label counts for nothing.
        let check = Check::Verified(analysed(&r));
        let unlabelled = Facts { labelled: false, ..facts("Manual review", &r, &check, &config) };
        assert_eq!(due(&unlabelled), [Action::Analyse]);
        let labelled = facts("Manual review", &r, &check, &config);
        assert_eq!(due(&labelled), [], "analysed, labelled, nothing that clears by itself");
    }

    #[test]
    fn an_analysis_of_an_old_binding_or_policy_is_redone() {
        let config = Config::default();
        let r = record();
        let mut old = analysed(&r);
        old.analysis = Some(analysis("0ld", vec![]));
        let check = Check::Verified(old);
        assert_eq!(due(&facts("Approved", &r, &check, &config)), [Action::Analyse]);
        let mut other_policy = analysed(&r);
        if let Some(a) = other_policy.analysis.as_mut() {
            a.policy_digest = Sha256Digest::of(b"another policy");
        }
        let check = Check::Verified(other_policy);
        assert_eq!(due(&facts("Approved", &r, &check, &config)), [Action::Analyse]);
        // A record of an earlier binding holds nothing for this one.
        let check = Check::OtherBinding(analysed(&r));
        assert_eq!(due(&facts("Manual review", &r, &check, &config)), [Action::Analyse]);
    }

    #[test]
    fn an_analysis_that_waited_only_on_what_clears_by_itself_is_rerun() {
        let config = Config::default();
        let r = record();
        let with = |reasons: Vec<PolicyCode>, auto: bool| {
            let mut b = analysed(&r);
            b.analysis = Some(AnalysisRecord { auto_approve: auto, ..analysis(&r.binding.commit, reasons) });
            Check::Verified(b)
        };
        let waiting = with(vec![PolicyCode::PendingTicket, PolicyCode::ChangeFreeze], false);
        assert_eq!(due(&facts("Manual review", &r, &waiting, &config)), [Action::Analyse]);
        // An Approved ticket with a trustworthy analysis is not re-analysed.
        assert_eq!(due(&facts("Approved", &r, &waiting, &config)), []);
        // A reason that stands until the facts change: no re-run.
        let standing = with(vec![PolicyCode::PendingTicket, PolicyCode::ReviewFailed], false);
        assert_eq!(due(&facts("Manual review", &r, &standing, &config)), []);
        // Allowed an approval that did not happen: analyse (and approve) again.
        let allowed = with(vec![], true);
        assert_eq!(due(&facts("Open", &r, &allowed, &config)), [Action::Analyse]);
    }

    #[test]
    fn an_approved_hold_whose_conditions_hold_gets_its_receipt_then_is_resumed() {
        let config = Config::default();
        let r = record();
        let check = Check::Verified(analysed(&r));
        let f = facts("Approved", &r, &check, &config);
        assert_eq!(due(&f), [], "nothing before the holds");
        let actions = approved(&f, &judged(passing("acc-1")));
        assert_eq!(
            actions,
            [
                Action::Receipt { plan: None, approver: "acc-1".into() },
                Action::Say(format!("{KEY}: receipt for the approved binding written")),
                Action::Resume(Resume {
                    workflow: "w1".into(),
                    hold: "hold_change".into(),
                    kind: HoldKind::Change,
                    not_after: Vec::new(),
                    plan_hold: None,
                    mark: "change:w1:hold_change".into(),
                }),
            ]
        );
    }

    #[test]
    fn an_approved_hold_whose_conditions_do_not_hold_waits_and_asks_where_it_helps() {
        let config = Config::default();
        let r = record();
        let check = Check::Verified(analysed(&r));
        let f = facts("Approved", &r, &check, &config);
        let actions = approved(&f, &judged(failing(ValidateCode::NotApproved, None)));
        assert_eq!(actions, [Action::Say(format!("{KEY}: holds not resumed: not_approved: why"))]);
        // Outside a window: a second approver is asked for, once per approval.
        let actions = approved(&f, &judged(failing(ValidateCode::OutsideChangeWindow, None)));
        assert!(resumes(&actions).is_empty() && receipts(&actions).is_empty(), "{actions:?}");
        assert!(
            matches!(&actions[1], Action::AskAgain { marker, head: "Second approver needed: ", reason: Reason::NeedsApproval, .. }
                if marker == "changegate:override-needed:outside_change_window:1700"),
            "{actions:?}"
        );
        // An approval that expired: sent back, the lapse said.
        let lapsed = ApprovalVerdict {
            valid: false,
            approvers: Vec::new(),
            by_bot: false,
            latest: None,
            problems: vec![ApprovalProblem::Expired { at: Timestamp(5), ttl: Duration::from_secs(3600) }],
        };
        let actions = approved(&f, &judged(failing(ValidateCode::ApprovalExpired, Some(lapsed))));
        assert!(
            matches!(&actions[1], Action::AskAgain { marker, reason: Reason::ApprovalLapsed, .. }
                if marker == "changegate:approval-lapsed:expired:5"),
            "{actions:?}"
        );
    }

    #[test]
    fn a_plan_hold_opens_only_for_a_plan_that_passes_and_the_change_hold_waits_for_it() {
        let mut config = Config::default();
        config.lock.plan_holds.insert("production".into(), "hold_apply".into());
        let r = with_plan(record());
        let check = Check::Verified(analysed(&r));
        let f = facts("Approved", &r, &check, &config);
        let mut j = judged(passing("acc-1"));
        j.plans.insert("net".into(), passing("acc-1"));
        let actions = approved(&f, &j);
        assert_eq!(resumes(&actions), [("w1", "hold_change", HoldKind::Change), ("w1", "hold_apply", HoldKind::Plan)]);
        assert_eq!(receipts(&actions), [None, Some("net")], "each receipt before its hold");
        let plan_receipt = actions.iter().position(|a| matches!(a, Action::Receipt { plan: Some(_), .. }));
        let plan_resume = actions.iter().position(|a| matches!(a, Action::Resume(r) if r.kind == HoldKind::Plan));
        assert!(plan_receipt < plan_resume, "{actions:?}");
        let Some(Action::Resume(change)) =
            actions.iter().find(|a| matches!(a, Action::Resume(r) if r.kind == HoldKind::Change))
        else {
            panic!("{actions:?}")
        };
        assert_eq!(change.plan_hold.as_deref(), Some("hold_apply"));
        assert_eq!(change.not_after, ["hold_apply"]);
        // The plan does not pass: no receipt for it, its hold stays shut.
        j.plans.insert("net".into(), failing(ValidateCode::PlanJsonMismatch, None));
        let actions = approved(&f, &j);
        assert_eq!(resumes(&actions), [("w1", "hold_change", HoldKind::Change)]);
        assert_eq!(receipts(&actions), [None]);
        assert!(
            actions.contains(&Action::Say(format!("{KEY}: the plan for stack \"net\" waits: plan_json_mismatch: why")))
        );
        // A change hold recorded as the plan hold never opens as one.
        let mut sneaky = record();
        sneaky.workflows[0].hold = Some("hold_apply".into());
        let f = facts("Approved", &sneaky, &check, &config);
        let actions = approved(&f, &judged(passing("acc-1")));
        assert!(resumes(&actions).is_empty(), "{actions:?}");
        assert!(actions.iter().any(|a| matches!(a, Action::Say(s) if s.contains("is the plan hold of production"))));
    }

    #[test]
    fn only_the_holds_the_policy_names_are_resumed() {
        let mut config = Config::default();
        config.lock.holds.insert("production".into(), vec!["hold_prod".into()]);
        let r = record();
        let check = Check::Verified(analysed(&r));
        let actions = approved(&facts("Approved", &r, &check, &config), &judged(passing("acc-1")));
        assert!(resumes(&actions).is_empty(), "{actions:?}");
        assert!(actions.contains(&Action::Say(
            "not resumed: hold_change is not a hold of production ([lock.holds] names hold_prod)".into()
        )));
        // Several controlled environments and no [lock.holds]: whose hold it is is unknown.
        let mut several = Config::default();
        several.controlled_environments.push("staging".into());
        let actions = approved(&facts("Approved", &r, &check, &several), &judged(passing("acc-1")));
        assert!(resumes(&actions).is_empty(), "{actions:?}");
    }

    #[test]
    fn an_emergency_grant_is_recorded_first_and_its_granter_approves() {
        let config = Config::default();
        let r = record();
        let check = Check::Verified(analysed(&r));
        let grant = Grant { by: "breakglass-1".into(), at: Timestamp(9) };
        let mut v = passing("acc-1");
        v.emergency = Some(grant.clone());
        let actions = approved(&facts("Approved", &r, &check, &config), &judged(v));
        assert_eq!(actions[0], Action::RecordEmergency(grant));
        assert_eq!(actions[1], Action::Receipt { plan: None, approver: "breakglass-1".into() });
    }

    #[test]
    fn what_was_done_is_not_done_again() {
        let config = Config::default();
        let r = with_plan(record());
        let mut b = analysed(&r);
        b.add_receipt(receipt(&r, None));
        let digests = PlanDigests { json: Sha256Digest::of(b"plan.json"), file: None };
        b.add_receipt(receipt(&r, Some(("net", digests.clone()))));
        b.mark(Marks::Resumed, mark("change:w1:hold_change"));
        b.mark(Marks::Resumed, mark(&marker(&format!("plan-net-{}", digests.json.hex()), "w1", "hold_apply")));
        let check = Check::Verified(b);
        let f = facts("Approved", &r, &check, &config);
        let mut j = judged(passing("acc-1"));
        j.plans.insert("net".into(), passing("acc-1"));
        assert_eq!(due(&f), []);
        assert_eq!(approved(&f, &j), []);
        // The same marks in a record that does not verify count for nothing.
        let mut b = analysed(&r);
        b.mark(Marks::Resumed, mark("change:w1:hold_change"));
        let unverified = Check::OtherBinding(b);
        let f = facts("Approved", &r, &unverified, &config);
        assert_eq!(
            approved(&f, &j),
            [Action::Say(format!("{KEY}: holds not resumed: the bot's record of this binding is missing or altered"))]
        );
    }

    #[test]
    fn an_altered_record_is_reported_re_analysed_even_when_approved_and_resumes_nothing() {
        let config = Config::default();
        let r = record();
        let check = altered(false);
        let f = facts("Approved", &r, &check, &config);
        assert_eq!(
            due(&f),
            [
                Action::ReportAltered { why: "the record's signature: bad".into(), digest: Sha256Digest::of(b"found") },
                Action::Analyse,
            ]
        );
        let actions = approved(&f, &judged(passing("acc-1")));
        assert!(resumes(&actions).is_empty() && receipts(&actions).is_empty(), "{actions:?}");
        assert_eq!(actions.len(), 1);
        // A key retired since: a rotation, not reported; still re-derived.
        let check = altered(true);
        let actions = due(&facts("Approved", &r, &check, &config));
        assert_eq!(
            actions,
            [Action::Say(format!("{KEY}: the record's signature: bad: the record is written anew")), Action::Analyse]
        );
        // Nothing on it counts as reported: every finding is reported again.
        let found = [Slipped::TriggeredByBot { pipeline: "p-1".into(), login: "bot".into() }];
        assert_eq!(past_the_lock(&facts("Approved", &r, &altered(false), &config), &found).len(), 1);
    }

    #[test]
    fn a_declined_ticket_gets_its_workflows_cancelled_once_and_is_not_analysed() {
        let config = Config::default();
        let mut r = record();
        r.workflows.push(WorkflowRef { id: "w2".into(), hold: None, added_at: String::new() });
        let mut b = analysed(&r);
        b.mark(Marks::Cancelled, mark(&marker("cancel", "w1", "")));
        let check = Check::Verified(b);
        assert_eq!(due(&facts("Declined", &r, &check, &config)), [Action::Cancel { workflow: "w2".into() }]);
        assert_eq!(
            due(&facts("Declined", &r, &Check::Absent, &config)),
            [Action::Cancel { workflow: "w1".into() }, Action::Cancel { workflow: "w2".into() }]
        );
        assert_eq!(
            due(&facts("Done", &r, &Check::Absent, &config)),
            [Action::Say(format!("{KEY} is Done: nothing to do"))]
        );
    }

    #[test]
    fn workflows_that_all_ended_without_success_close_the_ticket() {
        let s = |v: &[(&str, &str)]| v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect::<Vec<_>>();
        let cancelled = s(&[("w1", "canceled"), ("w2", "not_run")]);
        assert_eq!(
            ended(Some(&cancelled)),
            Some(Action::Close { outcome: DeployOutcome::Canceled, workflow: "w2".into() })
        );
        let failed = s(&[("w1", "failed"), ("w2", "canceled")]);
        assert_eq!(
            ended(Some(&failed)),
            Some(Action::Close { outcome: DeployOutcome::Failure, workflow: "w2".into() })
        );
        assert_eq!(ended(Some(&s(&[("w1", "failed"), ("w2", "on_hold")]))), None, "one still waits");
        assert_eq!(ended(Some(&s(&[("w1", "success")]))), None, "it succeeded: close does the rest");
        assert_eq!(ended(Some(&[])), None, "no workflows");
        assert_eq!(ended(None), None, "a workflow CircleCI no longer knows");
    }

    #[test]
    fn a_request_that_waits_is_reminded_then_expired() {
        let mut config = Config::default();
        config.approval.remind_after = Some(Duration::from_secs(4 * 3600));
        config.approval.expire_after = Some(Duration::from_secs(24 * 3600));
        let r = record();
        let check = Check::Verified(analysed(&r));
        let f = facts("Manual review", &r, &check, &config);
        let h = |n: i64| Timestamp(n * 3_600_000);
        assert_eq!(waiting(&f, h(0), h(1), &[]), [Action::Say(format!("{KEY} is Manual review: its holds wait"))]);
        let actions = waiting(&f, h(0), h(5), &[]);
        let [Action::Remind { marker, hours: 5 }, Action::Notify { reason: Reason::Waiting, .. }] = actions.as_slice()
        else {
            panic!("{actions:?}")
        };
        assert_eq!(waiting(&f, h(0), h(6), std::slice::from_ref(marker)).len(), 1, "reminded once a period");
        assert_eq!(waiting(&f, h(0), h(30), &[]), [Action::Expire { hours: 30 }]);
    }

    #[test]
    fn a_no_bot_request_in_a_controlled_environment_is_flagged() {
        let config = Config::default();
        let mut r = record();
        r.no_bot = true;
        assert_eq!(due(&facts("Open", &r, &Check::Absent, &config)), [Action::ReportNoBot, Action::Analyse]);
        assert_eq!(
            due(&facts("Done", &r, &Check::Absent, &config))[0],
            Action::Say(format!("{KEY} is Done: nothing to do"))
        );
        r.binding.environment = "sandbox".into();
        assert_eq!(
            due(&facts("Open", &r, &Check::Absent, &config)),
            [Action::Analyse],
            "not an environment it controls"
        );
    }

    #[test]
    fn people_are_told_after_an_analysis_that_leaves_the_ticket_to_them() {
        let config = Config::default();
        let r = record();
        let mut b = analysed(&r);
        b.analysis = Some(analysis(&r.binding.commit, vec![PolicyCode::FirstDeploy, PolicyCode::PendingTicket]));
        let check = Check::Verified(b);
        assert_eq!(
            after_analysis(&facts("Manual review", &r, &check, &config), true),
            [Action::Notify {
                reason: Reason::NeedsApproval,
                detail: "a person must review and approve (first_deploy, pending_ticket)".into()
            }]
        );
        assert_eq!(after_analysis(&facts("Manual review", &r, &check, &config), false), []);
        assert_eq!(after_analysis(&facts("Approved", &r, &check, &config), true), []);
        let mut e = record();
        e.emergency = Some(crate::model::binding::EmergencyRequest {
            reason: "outage".into(),
            requested_by: None,
            requested_at: String::new(),
        });
        let actions = after_analysis(&facts("Manual review", &e, &check, &config), true);
        assert!(
            matches!(&actions[..], [Action::Notify { reason: Reason::EmergencyRequested, detail }] if detail == "reason: outage")
        );
    }

    #[test]
    fn what_slipped_past_the_lock_is_reported_once() {
        let config = Config::default();
        let r = record();
        let found = [
            Slipped::TriggeredByBot { pipeline: "p-1".into(), login: "bot".into() },
            Slipped::HoldApprovedByOther { workflow: "w1".into(), hold: "hold_change".into(), who: "eve".into() },
        ];
        let mut b = analysed(&r);
        b.mark(Marks::Reported, mark(&found[0].marker()));
        let check = Check::Verified(b);
        assert_eq!(
            past_the_lock(&facts("Approved", &r, &check, &config), &found),
            [Action::ReportSlipped(found[1].clone())]
        );
    }
}
