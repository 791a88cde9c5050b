//! `converge(ticket)`: the bot's one idempotent step (DESIGN.md §1
//! "Resuming holds"). It reads the ticket and its workflows and does what is
//! due, nothing more:
//!
//! - a live ticket without an analysis of its current binding (or whose
//!   last analysis waited only for other tickets or deploys) is analysed,
//!   with approval when the policy allows it;
//! - an Approved ticket: each recorded hold whose condition holds — decided
//!   by [`validate::judge`], the very function `validate` runs in CI — is
//!   resumed after a signed receipt for it is written (so `validate` in the
//!   resumed job finds it); the change hold needs a valid approval of the
//!   binding, a plan hold also the plan (a risky plan approved after it was
//!   recorded);
//! - a Declined ticket: its running workflows are cancelled;
//! - an Approved ticket whose workflows all ended without any succeeding
//!   (cancelled in CircleCI, or failed before the close job could run) is
//!   closed as failed or cancelled, as `changegate close` would have, so it
//!   is never the base of a later change and never stays "pending".
//!
//! Every action is recorded in the bot's property (`changegate.bot`:
//! `resumed`, `cancelled`, `receipts`), so a repeat is a no-op; CircleCI's
//! "already approved" is success too. The bot writes no other property.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::analyze::{self, AnalyzeArgs, AnalyzeError};
use crate::circleci::CircleCi;
use crate::config::Config;
use crate::evidence::collect::Sources;
use crate::github::GitHub;
use crate::holds::{self, HoldError, Resumed};
use crate::jira::adf::{Doc, Inline};
use crate::jira::{Jira, JiraError};
use crate::notify::{Notice, Reason};
use crate::receipt::{PlanDigests, ReceiptPayload, SigningKey};
use crate::request::binding::TicketRecord;
use crate::ticket::{self, BOT_PROPERTY, TicketState};
use crate::time::Timestamp;
use crate::validate::{self, Facts, PlanFiles};
use crate::waiting;

/// The services and settings the bot runs with.
#[derive(Debug)]
pub struct Bot<'a> {
    /// Jira, as the bot's user.
    pub jira: &'a Jira,
    /// CircleCI, with the bot's token.
    pub circleci: &'a CircleCi,
    /// GitHub.
    pub github: &'a GitHub,
    /// The bot's configuration (the trusted policy).
    pub config: &'a Config,
    /// Where the policy came from and its text (recorded in evidence).
    pub policy: (&'a str, &'a str),
    /// Signs receipts (`CHANGEGATE_RECEIPT_KEY`), when configured.
    pub signing_key: Option<&'a SigningKey>,
    /// How long a blocked hold is waited for, and how often it is looked at.
    pub hold_wait: (Duration, Duration),
    /// Tells people when a ticket needs them (Slack), beyond Jira's mentions.
    pub notifier: &'a crate::notify::Notifier,
}

/// What converge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converged {
    /// One line per action or decision.
    pub actions: Vec<String>,
    /// Holds resumed by this run.
    pub resumed: usize,
    /// The ticket was analysed by this run.
    pub analysed: bool,
    /// The ticket was approved by this run.
    pub approved: bool,
}

/// Why converge could not finish (it is run again by the next event or
/// reconcile; nothing was approved that should not have been).
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// The analysis failed.
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    /// A hold could not be resumed.
    #[error(transparent)]
    Hold(#[from] HoldError),
    /// A CircleCI call failed.
    #[error(transparent)]
    CircleCi(#[from] crate::http::ApiError),
    /// Recording the outcome of an ended deploy failed.
    #[error("{0}")]
    Close(String),
}

/// Does what is due for ticket `key`.
pub fn converge(key: &str, bot: &Bot<'_>) -> Result<Converged, ConvergeError> {
    let jc = &bot.config.jira;
    let mut out = Converged::default();
    let mut t = ticket::load_judged(bot.jira, key, bot.config)?;
    let Some(record) = t.record.clone() else {
        out.actions.push(format!("{key} is not a changegate ticket"));
        return Ok(out);
    };
    let s = &jc.statuses;

    if t.status.eq_ignore_ascii_case(&s.declined) {
        cancel_workflows(&t, &record, bot, &mut out)?;
        return Ok(out);
    }
    if s.is_closed(&t.status) {
        out.actions.push(format!("{key} is {}: nothing to do", t.status));
        return Ok(out);
    }

    // A live ticket not yet analysed for its binding: analyse it.
    if !t.status.eq_ignore_ascii_case(&s.approved) && analysis_due(&t, &record) {
        let args = AnalyzeArgs { ticket: key.to_owned(), approve: true, ..AnalyzeArgs::default() };
        let sources = Sources { jira: bot.jira, github: bot.github, circleci: bot.circleci };
        let a = analyze::run(&args, bot.config, bot.policy, &sources)?;
        out.analysed = true;
        out.approved = a.approved;
        let posted = a.posted;
        out.actions.extend(a.actions);
        // The analysis may have moved the ticket (approved it, or sent it
        // to manual review): what follows judges its status now.
        t = ticket::load_judged(bot.jira, key, bot.config)?;
        if posted && !t.status.eq_ignore_ascii_case(&s.approved) {
            let (reason, detail) = match &record.emergency {
                Some(e) => (Reason::EmergencyRequested, format!("reason: {}", e.reason)),
                None => {
                    let why = t.bot["analysis"]["reasons"].as_array().map_or_else(String::new, |r| {
                        r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
                    });
                    (Reason::NeedsApproval, format!("a person must review and approve ({why})"))
                }
            };
            notify(bot, &t, &record, reason, detail, &mut out);
        }
    }

    if t.status.eq_ignore_ascii_case(&s.approved) {
        resume_holds(&t, &record, bot, &mut out)?;
        record_ended(&t, &record, bot, &mut out)?;
    } else {
        let since = t.binding_changed_at(jc);
        let posted = ticket::comment_markers(bot.jira, key, "changegate:waiting-reminder:")?;
        let a = &bot.config.approval;
        match waiting::step(key, since, Timestamp::now(), a.remind_after, a.expire_after, &posted) {
            waiting::Step::Wait => out.actions.push(format!("{key} is {}: its holds wait", t.status)),
            waiting::Step::Remind { marker, hours } => {
                let text = format!(
                    "This change request has waited {hours} h ({}) and is not approved; its deploy waits at the hold in CircleCI.",
                    t.status
                );
                let mut inlines: Vec<Inline> = vec![Inline::Text("Reminder for ".into())];
                for id in bot.config.jira.approvers.keys() {
                    inlines.push(Inline::Mention(id.clone()));
                    inlines.push(Inline::Text(" ".into()));
                }
                inlines.push(Inline::Text(format!(": {text}")));
                bot.jira.comment(key, Doc::new().paragraph(inlines).text(&format!("[{marker}]")).build())?;
                out.actions.push(format!("{key}: reminded the approvers ({hours} h waiting)"));
                notify(bot, &t, &record, Reason::Waiting, format!("waiting {hours} h"), &mut out);
            }
            waiting::Step::Expire { hours } => expire(&t, &record, bot, hours, &mut out)?,
        }
    }
    Ok(out)
}

/// Sends an Approved ticket back to manual review with a comment saying
/// why and mentioning the approvers, once per `marker`.
#[allow(clippy::too_many_arguments)]
fn ask_again(
    bot: &Bot<'_>,
    t: &TicketState,
    record: &TicketRecord,
    marker: &str,
    head: &str,
    why: &str,
    reason: Reason,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    let mut inlines = vec![Inline::Strong(head.into()), Inline::Text(format!("{why}. "))];
    for id in bot.config.jira.approvers.keys() {
        inlines.push(Inline::Mention(id.clone()));
        inlines.push(Inline::Text(" ".into()));
    }
    inlines.push(Inline::Text("please review and approve again.".into()));
    if !ticket::comment_once(bot.jira, &t.key, marker, Doc::new().paragraph(inlines))? {
        return Ok(());
    }
    let jc = &bot.config.jira;
    bot.jira.transition(&t.key, &jc.transitions.manual_review, None)?;
    out.actions.push(format!("{}: {why}: moved to {}", t.key, jc.statuses.manual_review));
    notify(bot, t, record, reason, why.to_owned(), out);
    Ok(())
}

/// Sends a notice; a failure is reported, never fatal (the Jira record
/// stands on its own).
fn notify(bot: &Bot<'_>, t: &TicketState, record: &TicketRecord, reason: Reason, detail: String, out: &mut Converged) {
    if !bot.notifier.is_configured() {
        return;
    }
    let n = Notice {
        reason,
        ticket: t.key.clone(),
        ticket_url: bot.jira.browse_url(&t.key),
        workflow_id: record.workflows.iter().rev().find(|w| w.hold.is_some()).map(|w| w.id.clone()),
        detail,
    };
    match bot.notifier.send(&n) {
        Ok(()) => out.actions.push(format!("{}: notified ({detail})", t.key, detail = n.reason_name())),
        Err(e) => out.actions.push(format!("{}: could not notify: {e}", t.key)),
    }
}

/// Ends a request that waited too long: Cancelled, resolution Expired, its
/// workflows cancelled so no deploy is left hanging at a hold.
fn expire(
    t: &TicketState,
    record: &TicketRecord,
    bot: &Bot<'_>,
    hours: u64,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    let jc = &bot.config.jira;
    for w in &record.workflows {
        match bot.circleci.workflow(&w.id) {
            Ok(wf) if wf.is_active() => {
                bot.circleci.cancel(&w.id)?;
                out.actions.push(format!("cancelled workflow {} of expired {}", w.id, t.key));
            }
            Ok(_) => {}
            // A workflow CircleCI no longer knows has nothing left to cancel.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let svc = crate::request::Services { jira: bot.jira.clone(), circleci: bot.circleci.clone() };
    crate::request::close_as(
        &svc,
        jc,
        &t.key,
        &jc.transitions.cancel,
        &jc.resolutions.expired,
        &format!(
            "Expired by changegate: no approval after {hours} h ([approval] expire_after). The deploy was cancelled; \
             run the pipeline again to ask anew."
        ),
        "expired",
    )
    .map_err(|e| ConvergeError::Close(e.to_string()))?;
    out.actions.push(format!(
        "{}: expired after {hours} h without an approval: Cancelled ({})",
        t.key, jc.resolutions.expired
    ));
    notify(bot, t, record, Reason::Expired, format!("no approval after {hours} h"), out);
    Ok(())
}

/// The last analysis is missing, is of another commit, allowed an approval
/// that did not happen, or waited only on what may clear by itself (other
/// tickets or deploys of the stream, facts that could not be read). Called
/// for live, unapproved tickets.
fn analysis_due(t: &TicketState, record: &TicketRecord) -> bool {
    let a = &t.bot["analysis"];
    if a.is_null() || a["commit"].as_str() != Some(record.binding.commit.as_str()) {
        return true;
    }
    // It allowed approval, but the approval did not happen (a failed call):
    // analyse again, which approves after re-checking pending tickets.
    if a["auto_approve"] == true {
        return true;
    }
    let reasons: Vec<&str> = a["reasons"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    // Reasons that may clear by themselves: other tickets or deploys ending,
    // facts that could not be read (a failed call) becoming readable. Any
    // other reason stands until the facts change (a new commit). A window
    // opens and a freeze ends with the time alone.
    !reasons.is_empty()
        && reasons.iter().all(|r| {
            matches!(
                *r,
                "pending_ticket"
                    | "running_deploy"
                    | "review_undecidable"
                    | "scan_undecidable"
                    | "evidence_incomplete"
                    | "outside_change_window"
                    | "change_freeze"
            )
        })
}

/// The bot's property with `f` applied (other keys kept: a PUT replaces the
/// whole value).
fn update_bot(bot: &Bot<'_>, key: &str, f: impl FnOnce(&mut Map<String, Value>)) -> Result<(), JiraError> {
    let current = bot.jira.property(key, BOT_PROPERTY)?.unwrap_or(Value::Null);
    let mut map = current.as_object().cloned().unwrap_or_default();
    f(&mut map);
    bot.jira.set_property(key, BOT_PROPERTY, &Value::Object(map))
}

fn marker(kind: &str, workflow: &str, hold: &str) -> String {
    format!("{kind}:{workflow}:{hold}")
}

fn done(t: &TicketState, list: &str, mark: &str) -> bool {
    t.bot[list].as_array().is_some_and(|a| a.iter().any(|m| m["marker"] == mark))
}

fn resume_holds(
    t: &TicketState,
    record: &TicketRecord,
    bot: &Bot<'_>,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    let now = Timestamp::now();
    // The change holds: a valid approval of this binding.
    let verdict = validate::judge(&Facts {
        ticket: t,
        config: bot.config,
        current: &record.binding,
        plan: None,
        receipt_key: None,
        now,
    });
    let approver = verdict
        .approval
        .as_ref()
        .and_then(
            |a| if a.by_bot { bot.config.jira.bot_accounts.first().cloned() } else { a.approvers.first().cloned() },
        )
        .unwrap_or_default();
    if !verdict.pass {
        let why: Vec<String> = verdict.failures.iter().map(ToString::to_string).collect();
        out.actions.push(format!("{}: holds not resumed: {}", t.key, why.join("; ")));
        // Outside a change window or in a freeze: one approval is not
        // enough; ask for the overriding second approver, visibly.
        let window = verdict.failures.iter().find(|f| f.code == "outside_change_window" || f.code == "change_freeze");
        if let Some(w) = window {
            let approvals = t.approvals(&bot.config.jira.statuses.approved);
            let last = approvals.last().map_or(0, |a| a.at.0);
            let lapse = format!("{}: {}", w.code, w.message);
            let marker = format!("changegate:override-needed:{}:{last}", w.code);
            ask_again(bot, t, record, &marker, "Second approver needed: ", &lapse, Reason::NeedsApproval, out)?;
        } else if let Some((marker, lapse)) = verdict.approval.as_ref().and_then(waiting::lapse) {
            ask_again(bot, t, record, &marker, "Approval no longer valid: ", &lapse, Reason::ApprovalLapsed, out)?;
        }
        return Ok(());
    }
    if let Some(grant) = &verdict.emergency {
        let (retro, recorded) = crate::emergency::record_grant(bot.jira, bot.config, t, grant)?;
        out.actions.extend(recorded.into_iter().map(|d| format!("{}: {d}", t.key)));
        // Told once, whoever opened the retrospective (`validate` may have).
        let mark = format!("retrospective:{retro}");
        if bot.notifier.is_configured() && !done(t, "notified", &mark) {
            notify(bot, t, record, Reason::RetrospectiveDue, format!("retrospective {retro}"), out);
            update_bot(bot, &t.key, |m| {
                let list = m.entry("notified").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut() {
                    a.push(json!({"marker": mark, "at": Timestamp::now().to_rfc3339()}));
                }
            })?;
        }
    }
    let approver = verdict.emergency.as_ref().map_or(approver, |g| g.by.clone());
    for w in &record.workflows {
        let Some(hold) = &w.hold else { continue };
        let mark = marker("change", &w.id, hold);
        if done(t, "resumed", &mark) {
            continue;
        }
        receipt(bot, t, record, None, None, &approver)?;
        resume_one(bot, t, record, &w.id, hold, &mark, out)?;
    }
    // The plan holds: the plan too, judged as `validate` before apply judges it.
    for (stack, p) in &record.plans {
        let Some(hold) = &p.hold else { continue };
        let mark = marker(&format!("plan-{stack}-{}", p.json_digest.hex()), &p.workflow_id, hold);
        if done(t, "resumed", &mark) {
            continue;
        }
        let files = PlanFiles { stack: stack.clone(), json: p.json_digest, file: p.file_digest };
        let v = validate::judge(&Facts {
            ticket: t,
            config: bot.config,
            current: &record.binding,
            plan: Some(&files),
            receipt_key: None,
            now,
        });
        if !v.pass {
            let why: Vec<String> = v.failures.iter().map(ToString::to_string).collect();
            out.actions.push(format!("{}: plan hold {hold} for stack {stack:?} waits: {}", t.key, why.join("; ")));
            continue;
        }
        let digests = PlanDigests { json: p.json_digest, file: p.file_digest };
        receipt(bot, t, record, Some(stack), Some(digests), &approver)?;
        resume_one(bot, t, record, &p.workflow_id, hold, &mark, out)?;
    }
    Ok(())
}

fn resume_one(
    bot: &Bot<'_>,
    t: &TicketState,
    record: &TicketRecord,
    workflow: &str,
    hold: &str,
    mark: &str,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    let r = match holds::resume(bot.circleci, &record.binding, workflow, hold, bot.hold_wait.0, bot.hold_wait.1) {
        Ok(r) => r,
        // The workflow ended (cancelled, failed): nothing will wait there again.
        Err(e @ HoldError::Gone { .. }) => {
            out.actions.push(e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    update_bot(bot, &t.key, |m| {
        let list = m.entry("resumed").or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(json!({"marker": mark, "workflow": workflow, "hold": hold, "at": Timestamp::now().to_rfc3339()}));
        }
    })?;
    out.resumed += 1;
    out.actions.push(match r {
        Resumed::Approved => format!("resumed {hold} in workflow {workflow} for {}", t.key),
        Resumed::AlreadyApproved => format!("{hold} in workflow {workflow} was already resumed"),
    });
    Ok(())
}

/// Writes a signed receipt for the binding (and plan), unless one for
/// exactly that is there already.
fn receipt(
    bot: &Bot<'_>,
    t: &TicketState,
    record: &TicketRecord,
    stack: Option<&String>,
    plan: Option<PlanDigests>,
    approver: &str,
) -> Result<(), JiraError> {
    let Some(key) = bot.signing_key else { return Ok(()) };
    // One receipt per binding and plan: a resume retried (blocked hold,
    // failed call) does not add another.
    let same = |r: &Value| {
        r["payload"]["ticket"] == t.key.as_str()
            && r["payload"]["binding"] == serde_json::to_value(&record.binding).expect("serialises")
            && r["payload"]["stack"] == json!(stack)
            && r["payload"]["plan"] == serde_json::to_value(&plan).expect("serialises")
    };
    if t.bot["receipts"].as_array().is_some_and(|a| a.iter().any(same)) {
        return Ok(());
    }
    let payload = ReceiptPayload {
        ticket: t.key.clone(),
        binding: record.binding.clone(),
        stack: stack.cloned(),
        plan,
        approver: approver.to_owned(),
        issued_at: Timestamp::now().to_rfc3339(),
    };
    let signed = key.sign(payload);
    update_bot(bot, &t.key, |m| {
        let list = m.entry("receipts").or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(serde_json::to_value(&signed).expect("serialises"));
        }
    })
}

/// Closes an Approved ticket whose workflows all ended and none succeeded.
fn record_ended(
    t: &TicketState,
    record: &TicketRecord,
    bot: &Bot<'_>,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    if record.workflows.is_empty() {
        return Ok(());
    }
    let mut statuses = Vec::new();
    for w in &record.workflows {
        match bot.circleci.workflow(&w.id) {
            Ok(wf) => statuses.push((w.id.clone(), wf.status)),
            // A workflow CircleCI no longer knows: nothing to conclude.
            Err(e) if e.status() == Some(404) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    let ended = |s: &str| matches!(s, "canceled" | "failed" | "error" | "unauthorized" | "not_run");
    if !statuses.iter().all(|(_, s)| ended(s)) {
        return Ok(());
    }
    let outcome = if statuses.iter().any(|(_, s)| matches!(s.as_str(), "failed" | "error")) {
        crate::close::DeployOutcome::Failure
    } else {
        crate::close::DeployOutcome::Canceled
    };
    let (last, _) = statuses.last().expect("not empty");
    let svc = crate::request::Services { jira: bot.jira.clone(), circleci: bot.circleci.clone() };
    let args = crate::close::CloseArgs {
        key: &t.key,
        outcome,
        workflow_id: last,
        deploy_job: "(no deploy job ran: the workflow ended)",
        who: None,
        build_url: None,
    };
    let closed = crate::close::run(&args, bot.config, &svc).map_err(|e| ConvergeError::Close(e.to_string()))?;
    out.actions.extend(closed.lines);
    Ok(())
}

fn cancel_workflows(
    t: &TicketState,
    record: &TicketRecord,
    bot: &Bot<'_>,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    for w in &record.workflows {
        let mark = marker("cancel", &w.id, "");
        if done(t, "cancelled", &mark) {
            continue;
        }
        let wf = bot.circleci.workflow(&w.id)?;
        if wf.is_active() {
            bot.circleci.cancel(&w.id)?;
            out.actions.push(format!("cancelled workflow {} of declined {}", w.id, t.key));
        }
        update_bot(bot, &t.key, |m| {
            let list = m.entry("cancelled").or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut() {
                a.push(json!({"marker": mark, "workflow": w.id, "at": Timestamp::now().to_rfc3339()}));
            }
        })?;
    }
    Ok(())
}
