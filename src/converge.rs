//! `converge(ticket)`: the bot's one idempotent step (README.md, "The
//! bot"). It reads the ticket and its workflows and does what is due,
//! nothing more:
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
//! Every action is recorded in the bot's signed record (`changegate.bot`,
//! see [`crate::bot_record`]: `resumed`, `cancelled`, `receipts`), so a
//! repeat is a no-op; CircleCI's "already approved" is success too. The
//! record is verified before anything is done on it: an altered one is
//! treated as absent, re-derived from the sources (the analysis runs again,
//! even on an Approved ticket), reported once on the ticket, and nothing is
//! resumed on it. Writes re-read and merge (see [`Store::update`]).

use std::time::Duration;

use crate::analyze::{self, AnalyzeArgs, AnalyzeError};
use crate::bot_record::{self, Check, Mark, Marks, Store, StoreError};
use crate::circleci::CircleCi;
use crate::config::Config;
use crate::evidence::collect::Sources;
use crate::github::GitHub;
use crate::holds::{self, HoldError, Resumed};
use crate::jira::adf::{Doc, Inline};
use crate::jira::{Jira, JiraError};
use crate::notify::{Notice, Reason};
use crate::receipt::{self, KeyRing, PlanDigests, ReceiptPayload, SigningKey};
use crate::request::binding::TicketRecord;
use crate::ticket::{self, TicketState};
use crate::time::Timestamp;
use crate::validate::{self, Facts, PlanFiles, Trust};
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
    /// Content digest of the policy the bot publishes (analyses and
    /// receipts name it).
    pub policy_digest: crate::digest::Sha256Digest,
    /// Signs the record and receipts (`CHANGEGATE_RECEIPT_KEY`).
    pub signing_key: &'a SigningKey,
    /// Keys the bot's own record is checked with (its key, and retired
    /// ones still accepted).
    pub ring: &'a KeyRing,
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
    /// The bot's record could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Bot<'_> {
    /// The bot's record on tickets.
    pub fn store(&self) -> Store<'_> {
        Store {
            jira: self.jira,
            key: Some(self.signing_key),
            ring: Some(self.ring),
            bot_accounts: &self.config.jira.bot_accounts,
        }
    }

    /// Checks the record read with a ticket.
    fn check(&self, t: &TicketState, record: &TicketRecord) -> Check {
        let floor = bot_record::seq_floor(&t.changelog, &self.config.jira.bot_accounts);
        bot_record::check(t.bot.as_ref(), Some(self.ring), &t.key, &record.binding_digest, floor)
    }
}

fn now_mark(marker: String, detail: Option<String>) -> Mark {
    Mark { marker, at: Timestamp::now().to_rfc3339(), detail }
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
    let mut check = bot.check(&t, &record);
    match &check {
        Check::Altered { why, digest, retired: false } => report_altered(bot, &t, why, digest, &mut out)?,
        Check::Altered { why, retired: true, .. } => {
            out.actions.push(format!("{key}: {why}: the record is written anew"));
        }
        _ => {}
    }
    if record.no_bot && !s.is_closed(&t.status) {
        report_no_bot(bot, &t, &record, &mut out)?;
    }

    if t.status.eq_ignore_ascii_case(&s.declined) {
        cancel_workflows(&t, &record, bot, &mut out)?;
        return Ok(out);
    }
    if s.is_closed(&t.status) {
        out.actions.push(format!("{key} is {}: nothing to do", t.status));
        return Ok(out);
    }

    // A live ticket not analysed for its binding under the bot's policy
    // (or whose record was altered): analyse it. An Approved ticket is
    // analysed too (never moved by it), so no hold is resumed without the
    // bot's own analysis of who may not approve.
    let approved = t.status.eq_ignore_ascii_case(&s.approved);
    let labelled = bot_record::analyses(&t.changelog, &bot.config.jira.bot_accounts)
        .iter()
        .any(|(_, d)| *d == bot_record::binding_prefix(&record.binding_digest));
    if analysis_due(&check, &record, bot.policy_digest, approved) || !labelled {
        let args = AnalyzeArgs { ticket: key.to_owned(), approve: true, ..AnalyzeArgs::default() };
        let quiet = crate::progress::Progress::quiet();
        let sources = Sources {
            jira: bot.jira,
            github: bot.github,
            circleci: bot.circleci,
            ring: Some(bot.ring),
            progress: &quiet,
        };
        let recorder = analyze::Recorder { store: Some(bot.store()), policy_digest: bot.policy_digest };
        let a = analyze::run(&args, bot.config, bot.policy, &sources, &recorder)?;
        out.analysed = true;
        out.approved = a.approved;
        let posted = a.posted;
        out.actions.extend(a.actions);
        // The analysis may have moved the ticket (approved it, or sent it
        // to manual review): what follows judges its status now.
        t = ticket::load_judged(bot.jira, key, bot.config)?;
        check = bot.check(&t, &record);
        if posted && !t.status.eq_ignore_ascii_case(&s.approved) {
            let (reason, detail) = match &record.emergency {
                Some(e) => (Reason::EmergencyRequested, format!("reason: {}", e.reason)),
                None => {
                    let why = check.analysis().map_or_else(String::new, |a| {
                        a.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                    });
                    (Reason::NeedsApproval, format!("a person must review and approve ({why})"))
                }
            };
            notify(bot, &t, &record, reason, detail, &mut out);
        }
    }

    // What slipped past the lock: holds approved by someone else, pipelines
    // triggered by the bot's user or a member of the security group. A report
    // that cannot be made now is said, and tried again by the next converge;
    // it never holds up the gate's own work.
    if let Err(e) = report_slipped(bot, &t, &record, &mut out) {
        out.actions.push(format!("{key}: could not check what got past the lock: {e}"));
    }

    if t.status.eq_ignore_ascii_case(&s.approved) {
        if check.is_altered() || check.analysis().is_none() {
            // Nothing is resumed on a record the bot cannot trust.
            out.actions
                .push(format!("{key}: holds not resumed: the bot's record of this binding is missing or altered"));
        } else {
            resume_holds(&t, &record, bot, &mut out)?;
        }
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

/// Says once on the ticket that the bot's record was altered: properties
/// keep no history, so when it was found, not by whom.
fn report_altered(
    bot: &Bot<'_>,
    t: &TicketState,
    why: &str,
    digest: &crate::digest::Sha256Digest,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    let marker = format!("changegate:record-altered:{}", &digest.hex()[..16]);
    let body = Doc::new().paragraph(vec![
        Inline::Strong("The changegate bot's record on this ticket was altered. ".into()),
        Inline::Text(format!(
            "Found at {}: {why}. Jira keeps no history of issue properties, so who changed it is not known. \
             The bot treats it as absent: it analyses the change again from the sources and resumes nothing on the altered record. \
             Check who can edit this project's issues.",
            Timestamp::now().to_rfc3339()
        )),
    ]);
    if ticket::comment_once(bot.jira, &t.key, &marker, body)? {
        out.actions.push(format!("{}: the bot's record was altered ({why}): reported, re-deriving it", t.key));
    }
    Ok(())
}

/// The bot's CircleCI user: its id when known (the bot asks `GET /me`),
/// else only its login (`audit`, from `[lock] bot_login`).
#[derive(Debug, Clone)]
pub struct BotUser {
    /// Id, when known.
    pub id: Option<String>,
    /// Login.
    pub login: String,
}

/// The facts of what slipped past the lock in a ticket's workflows.
pub fn slipped_of(
    circleci: &CircleCi,
    github: Option<&GitHub>,
    config: &Config,
    record: &TicketRecord,
    bot: &BotUser,
) -> Result<Vec<crate::lock::Slipped>, ConvergeError> {
    let mut holds = Vec::new();
    let names: Vec<&str> = record
        .workflows
        .iter()
        .filter_map(|w| w.hold.as_deref())
        .chain(record.plans.values().filter_map(|p| p.hold.as_deref()))
        .collect();
    for w in &record.workflows {
        let jobs = match circleci.workflow_jobs(&w.id) {
            Ok(j) => j,
            // A workflow CircleCI no longer knows: nothing to look at.
            Err(e) if e.status() == Some(404) => continue,
            Err(e) => return Err(e.into()),
        };
        for j in
            jobs.iter().filter(|j| j.kind == "approval" && j.status == "success" && names.contains(&j.name.as_str()))
        {
            // Who approved it: the bot by its id, or by its login.
            let (approved_by, who) = match &j.approved_by {
                Some(id) if bot.id.as_deref() == Some(id.as_str()) => (Some(BOT.to_owned()), None),
                Some(id) => match circleci.user(id) {
                    Ok(u) if u.login.eq_ignore_ascii_case(&bot.login) => (Some(BOT.to_owned()), None),
                    Ok(u) => (Some(id.clone()), Some(format!("{} ({})", u.login, u.name.unwrap_or_default()))),
                    Err(e) if e.status() == Some(404) => (Some(id.clone()), None),
                    Err(e) => return Err(e.into()),
                },
                None => (None, None),
            };
            holds.push(crate::lock::ApprovedHold { workflow: w.id.clone(), hold: j.name.clone(), approved_by, who });
        }
    }
    let pipeline = circleci.pipeline(&record.binding.pipeline_id)?;
    let trigger = pipeline.trigger.and_then(|t| t.actor).and_then(|a| a.login);
    let group = match (&config.lock.team, github, &trigger) {
        (Some((org, team)), Some(gh), Some(login)) if !login.eq_ignore_ascii_case(&bot.login) => gh
            .team_members(org, team)
            .map_err(|e| ConvergeError::Close(format!("the security group {org}/{team}: {e}")))?,
        _ => Vec::new(),
    };
    Ok(crate::lock::slipped((BOT, &bot.login), &group, &record.binding.pipeline_id, trigger.as_deref(), &holds))
}

/// Stands for the bot among the approvers of holds.
const BOT: &str = "(the changegate bot)";

/// Reports on the ticket, once each, what slipped past the lock.
fn report_slipped(
    bot: &Bot<'_>,
    t: &TicketState,
    record: &TicketRecord,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    if record.workflows.is_empty() {
        return Ok(());
    }
    let me = bot.circleci.me()?;
    let me = BotUser { id: Some(me.id), login: me.login };
    for finding in slipped_of(bot.circleci, Some(bot.github), bot.config, record, &me)? {
        let marker = finding.marker();
        if done(bot, t, record, Marks::Reported, &marker) {
            continue;
        }
        let body = Doc::new().paragraph(vec![
            Inline::Strong("Past the lock: ".into()),
            Inline::Text(format!("{finding} ({}, found at {}).", finding.code(), Timestamp::now().to_rfc3339())),
        ]);
        if ticket::comment_once(bot.jira, &t.key, &marker, body)? {
            out.actions.push(format!("{}: reported: {finding}", t.key));
            notify(bot, t, record, Reason::PastTheLock, finding.to_string(), out);
        }
        let m = now_mark(marker, Some(finding.code().to_owned()));
        bot.store().update(&t.key, record.binding_digest, |r| r.mark(Marks::Reported, m.clone()))?;
    }
    Ok(())
}

/// Flags once a ticket requested without a bot in an environment the bot
/// controls: its CI-side checks had no trust root.
fn report_no_bot(
    bot: &Bot<'_>,
    t: &TicketState,
    record: &TicketRecord,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    if !bot.config.is_controlled(&record.binding.environment) {
        return Ok(());
    }
    let body = Doc::new().paragraph(vec![
        Inline::Strong("Requested without the bot (--no-bot). ".into()),
        Inline::Text(format!(
            "{} is controlled by the changegate bot, but this deploy's CI jobs ran in no-bot mode: they checked nothing the bot signed. \
             The bot still analyses it and resumes its holds only on its own checks; ask why the pipeline runs without the bot.",
            record.binding.environment
        )),
    ]);
    if ticket::comment_once(bot.jira, &t.key, "changegate:no-bot-in-controlled-environment", body)? {
        out.actions.push(format!("{}: flagged: requested with --no-bot in an environment the bot controls", t.key));
    }
    Ok(())
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
    let jc = &bot.config.jira;
    // Never on a stale read: a person may have approved again since.
    if ticket::comment_markers(bot.jira, &t.key, marker)?.iter().any(|m| m == marker) {
        return Ok(());
    }
    if !ticket::transition_if_unchanged(bot.jira, t, &jc.transitions.send_back)? {
        out.actions.push(format!("{}: not sent back: it was moved since it was read", t.key));
        return Ok(());
    }
    ticket::comment_once(bot.jira, &t.key, marker, Doc::new().paragraph(inlines))?;
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
    // Never on a stale read: a person may have approved it just now.
    if ticket::moved_since(bot.jira, t)? {
        out.actions.push(format!("{}: not expired: it was moved since it was read", t.key));
        return Ok(());
    }
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

/// The last analysis is missing, altered, of another binding or policy,
/// allowed an approval that did not happen, or waited only on what may
/// clear by itself (other tickets or deploys of the stream, facts that
/// could not be read). An Approved ticket is analysed only when there is no
/// trustworthy analysis of its binding under this policy.
fn analysis_due(check: &Check, record: &TicketRecord, policy: crate::digest::Sha256Digest, approved: bool) -> bool {
    let Some(a) = check.analysis() else { return true };
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
    use crate::decision::PolicyCode as P;
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

fn marker(kind: &str, workflow: &str, hold: &str) -> String {
    format!("{kind}:{workflow}:{hold}")
}

/// True when the bot's current record holds `mark` in list `m`.
fn done(bot: &Bot<'_>, t: &TicketState, record: &TicketRecord, m: Marks, mark: &str) -> bool {
    bot.check(t, record).current().is_some_and(|r| r.has(m, mark))
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
        applying: false,
        action_must_apply: false,
        trust: Trust::Bot { ring: bot.ring },
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
        if bot.notifier.is_configured() && !done(bot, t, record, Marks::Notified, &mark) {
            notify(bot, t, record, Reason::RetrospectiveDue, format!("retrospective {retro}"), out);
            let m = now_mark(mark, None);
            bot.store().update(&t.key, record.binding_digest, |r| r.mark(Marks::Notified, m.clone()))?;
        }
    }
    let approver = verdict.emergency.as_ref().map_or(approver, |g| g.by.clone());
    // The receipt for the approved binding, hold or none: `validate` checks
    // it before the plan, and the next change set starts at a deploy with it.
    if !has_receipt(bot, t, record, None) {
        receipt(bot, t, record, None, None, &approver)?;
        out.actions.push(format!("{}: receipt for the approved binding written", t.key));
    }
    for w in &record.workflows {
        let Some(hold) = &w.hold else { continue };
        let mark = marker("change", &w.id, hold);
        if done(bot, t, record, Marks::Resumed, &mark) {
            continue;
        }
        let others: Vec<String> = record
            .workflows
            .iter()
            .filter_map(|x| x.hold.clone())
            .chain(record.plans.values().filter_map(|p| p.hold.clone()))
            .filter(|h| h != hold)
            .collect();
        resume_one(bot, t, record, (&w.id, hold, HoldKind::Change), &others, &mark, out)?;
    }
    // Each recorded plan, judged as `validate` before apply judges it: its
    // receipt (an apply checks it with or without a plan hold), and its
    // plan hold resumed when there is one.
    for (stack, p) in &record.plans {
        let digests = PlanDigests { json: p.json_digest, file: p.file_digest };
        let mark = p.hold.as_ref().map(|h| marker(&format!("plan-{stack}-{}", p.json_digest.hex()), &p.workflow_id, h));
        let resumed = mark.as_ref().is_none_or(|m| done(bot, t, record, Marks::Resumed, m));
        if resumed && has_receipt(bot, t, record, Some((stack, &digests))) {
            continue;
        }
        let files = PlanFiles { stack: stack.clone(), json: p.json_digest, file: p.file_digest };
        let v = validate::judge(&Facts {
            ticket: t,
            config: bot.config,
            current: &record.binding,
            plan: Some(&files),
            applying: true,
            action_must_apply: false,
            trust: Trust::Bot { ring: bot.ring },
            now,
        });
        if !v.pass {
            let why: Vec<String> = v.failures.iter().map(ToString::to_string).collect();
            out.actions.push(format!("{}: the plan for stack {stack:?} waits: {}", t.key, why.join("; ")));
            continue;
        }
        receipt(bot, t, record, Some(stack), Some(digests), &approver)?;
        if let (Some(hold), Some(mark)) = (&p.hold, &mark) {
            resume_one(bot, t, record, (&p.workflow_id, hold, HoldKind::Plan), &[], mark, out)?;
        } else {
            out.actions.push(format!("{}: receipt for the plan of stack {stack:?} written", t.key));
        }
    }
    Ok(())
}

/// Which holds of a ticket the bot may resume: those `[lock.holds]` names
/// for its environment (the CI record says which holds a ticket has, and
/// anyone who may edit issues can write it). Without an entry, any hold the
/// record names, but only for the one environment the bot controls: with
/// several, a ticket of one could otherwise resume another's hold in a
/// workflow that deploys both, and a ticket of an environment the bot does
/// not control (any name a CI job writes) could name production's.
fn hold_allowed(bot: &Bot<'_>, record: &TicketRecord, hold: &str, out: &mut Converged) -> bool {
    let env = crate::config::env_key(&record.binding.environment);
    match bot.config.lock.holds.iter().find(|(e, _)| crate::config::env_key(e) == env) {
        Some((_, names)) if !names.iter().any(|n| n == hold) => {
            out.actions
                .push(format!("not resumed: {hold} is not a hold of {env} ([lock.holds] names {})", names.join(", ")));
            false
        }
        Some(_) => true,
        None if !bot.config.is_controlled(&env) => {
            out.actions.push(format!(
                "not resumed: {hold}: {env} is not an environment the bot controls, and [lock.holds] names no holds for it"
            ));
            false
        }
        None if bot.config.controlled_environments.len() > 1 => {
            out.actions.push(format!(
                "not resumed: {hold}: several environments are controlled ({}) and [lock.holds] names no holds for {env}, so which holds are {env}'s is unknown",
                bot.config.controlled_environments.join(", ")
            ));
            false
        }
        None => true,
    }
}

/// A change hold (opened by the change's approval) or a plan hold (opened
/// by a reviewed plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldKind {
    Change,
    Plan,
}

fn resume_one(
    bot: &Bot<'_>,
    t: &TicketState,
    record: &TicketRecord,
    (workflow, hold, kind): (&str, &str, HoldKind),
    not_after: &[String],
    mark: &str,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    if !hold_allowed(bot, record, hold, out) {
        return Ok(());
    }
    // Holds are typed by the bot's policy, not by the CI record: its plan
    // hold opens only for a reviewed plan, and nothing else opens as one.
    let env = crate::config::env_key(&record.binding.environment);
    match (bot.config.lock.plan_hold(&env), kind) {
        (Some(plan), HoldKind::Change) if plan == hold => {
            out.actions.push(format!(
                "not resumed: {hold} is the plan hold of {env} ([lock.plan_holds]); it opens only for a reviewed plan"
            ));
            return Ok(());
        }
        (Some(plan), HoldKind::Plan) if plan != hold => {
            out.actions.push(format!(
                "not resumed: {hold} is recorded as the plan's hold, but the plan hold of {env} is {plan} ([lock.plan_holds])"
            ));
            return Ok(());
        }
        _ => {}
    }
    // Right before approving: the ticket still Approved for this binding.
    let mut still = || -> Result<bool, String> {
        let issue = bot
            .jira
            .issue(&t.key, &["status"], &[crate::request::binding::RECORD_PROPERTY])
            .map_err(|e| e.to_string())?;
        let approved = issue.status().is_some_and(|s| s.eq_ignore_ascii_case(&bot.config.jira.statuses.approved));
        let same = issue
            .properties
            .get(crate::request::binding::RECORD_PROPERTY)
            .and_then(TicketRecord::from_value)
            .is_some_and(|r| r.binding_digest == record.binding_digest);
        Ok(approved && same)
    };
    // A change hold of an environment with a plan hold opens only a
    // workflow whose deploy jobs all wait for the plan hold.
    // (A plan-only deploy applies nothing: its workflow needs no plan hold.)
    let applies = record.binding.action == crate::request::binding::DeployAction::Apply;
    let plan_hold = bot.config.lock.plan_hold(&env).filter(|p| *p != hold && kind == HoldKind::Change && applies);
    let r = match holds::resume(
        bot.circleci,
        &record.binding,
        workflow,
        hold,
        (not_after, plan_hold),
        bot.hold_wait,
        &mut still,
    ) {
        Ok(r) => r,
        // The workflow ended (cancelled, failed), or the ticket moved:
        // nothing to resume now. A hold that is not this ticket's (it comes
        // after another of its holds, or is in another build) is reported
        // and the other holds go on.
        Err(e @ (HoldError::Gone { .. } | HoldError::Mismatch { .. } | HoldError::Missing { .. })) => {
            out.actions.push(e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let m = now_mark(mark.to_owned(), Some(format!("workflow {workflow}, hold {hold}")));
    bot.store().update(&t.key, record.binding_digest, |r| r.mark(Marks::Resumed, m.clone()))?;
    out.resumed += 1;
    out.actions.push(match r {
        Resumed::Approved => format!("resumed {hold} in workflow {workflow} for {}", t.key),
        Resumed::AlreadyApproved => format!("{hold} in workflow {workflow} was already resumed"),
    });
    Ok(())
}

/// True when the bot's record holds a receipt for the binding (and plan)
/// under the policy in force.
fn has_receipt(bot: &Bot<'_>, t: &TicketState, record: &TicketRecord, plan: Option<(&String, &PlanDigests)>) -> bool {
    let plan = plan.map(|(s, d)| (s.as_str(), d));
    bot.check(t, record)
        .current()
        .is_some_and(|r| r.receipt_for(&t.key, &record.binding, plan, &bot.policy_digest).is_some())
}

/// Writes a signed receipt for the binding (and plan) under the bot's
/// policy, unless one for exactly that is there already (merged with
/// whatever another writer added).
fn receipt(
    bot: &Bot<'_>,
    t: &TicketState,
    record: &TicketRecord,
    stack: Option<&String>,
    plan: Option<PlanDigests>,
    approver: &str,
) -> Result<(), StoreError> {
    let payload = ReceiptPayload {
        ticket: t.key.clone(),
        binding: record.binding.clone(),
        stack: stack.cloned(),
        plan,
        approver: approver.to_owned(),
        issued_at: Timestamp::now().to_rfc3339(),
        policy_digest: bot.policy_digest,
    };
    let signed = receipt::sign(bot.signing_key, payload);
    bot.store().update(&t.key, record.binding_digest, |r| r.add_receipt(signed.clone()))?;
    Ok(())
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
        if done(bot, t, record, Marks::Cancelled, &mark) {
            continue;
        }
        let wf = bot.circleci.workflow(&w.id)?;
        if wf.is_active() {
            bot.circleci.cancel(&w.id)?;
            out.actions.push(format!("cancelled workflow {} of declined {}", w.id, t.key));
        }
        let m = now_mark(mark, Some(format!("workflow {}", w.id)));
        bot.store().update(&t.key, record.binding_digest, |r| r.mark(Marks::Cancelled, m.clone()))?;
    }
    Ok(())
}
