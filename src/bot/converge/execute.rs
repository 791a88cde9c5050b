//! Performs the [`Action`]s [`super::due`] decided, with the bot's clients
//! (Jira, CircleCI, the notifier), and records each in the bot's signed
//! record (`changegate.bot`) so a repeat is a no-op. What can only be known
//! at the moment of acting is checked here, right before it: the ticket not
//! moved since it was read (before sending it back or expiring it), a
//! workflow still running (before cancelling it), a hold being the
//! ticket's and the ticket still Approved for its binding (before resuming
//! it). CircleCI's "already approved" counts as success.

use crate::base::time::Timestamp;
use crate::clients::jira::adf::{Doc, Inline};
use crate::clients::notify::{Notice, Reason};
use crate::model::binding::TicketRecord;
use crate::model::receipt::{self, PlanDigests, ReceiptPayload};
use crate::steps::bot_record::{Check, Mark, Marks};
use crate::steps::holds::{self, HoldError, Resumed};
use crate::steps::ticket::{self, TicketState};

use super::bot::{Bot, ConvergeError, Converged};
use super::due::{Action, Resume};

fn now_mark(marker: String, detail: Option<String>) -> Mark {
    Mark { marker, at: Timestamp::now().to_rfc3339(), detail }
}

/// Acts on one ticket as read: its state, CI record and checked bot record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Executor<'a> {
    /// The services and settings.
    pub(crate) bot: &'a Bot<'a>,
    /// The ticket as read.
    pub(crate) t: &'a TicketState,
    /// Its CI record.
    pub(crate) record: &'a TicketRecord,
    /// The bot's record on it, checked.
    pub(crate) check: &'a Check,
}

impl Executor<'_> {
    /// Performs `action`, adding what was done to `out`.
    /// [`Action::Analyse`] is run by [`Self::analyse`], which says whether
    /// the analysis posted.
    pub(crate) fn run(&self, action: Action, out: &mut Converged) -> Result<(), ConvergeError> {
        match action {
            Action::Say(line) => out.actions.push(line),
            Action::ReportAltered { why, digest } => self.report_altered(&why, &digest, out)?,
            Action::ReportNoBot => self.report_no_bot(out)?,
            Action::Cancel { workflow } => self.cancel(&workflow, out)?,
            Action::Analyse => {
                self.analyse(out)?;
            }
            Action::Notify { reason, detail } => self.notify(reason, detail, out),
            Action::ReportSlipped(finding) => self.report_slipped(&finding, out)?,
            Action::AskAgain { marker, head, why, reason } => self.ask_again(&marker, head, &why, reason, out)?,
            Action::RecordEmergency(grant) => {
                let bot = self.bot;
                let (retro, recorded) =
                    crate::steps::emergency::record_grant(&bot.clients.jira, bot.config, self.t, &grant)?;
                out.actions.extend(recorded.into_iter().map(|d| format!("{}: {d}", self.t.key)));
                // Told once, whoever opened the retrospective (`validate` may have).
                let mark = format!("retrospective:{retro}");
                if bot.notifier.is_configured() && !self.check.has(Marks::Notified, &mark) {
                    self.notify(Reason::RetrospectiveDue, format!("retrospective {retro}"), out);
                    let m = now_mark(mark, None);
                    bot.store()
                        .update(&self.t.key, self.record.binding_digest, |r| r.mark(Marks::Notified, m.clone()))?;
                }
            }
            Action::Receipt { plan, approver } => self.receipt(plan, &approver)?,
            Action::Resume(r) => self.resume(&r, out)?,
            Action::Remind { marker, hours } => {
                let text = format!(
                    "This change request has waited {hours} h ({}) and is not approved; its deploy waits at the hold in CircleCI.",
                    self.t.status
                );
                let mut inlines: Vec<Inline> = vec![Inline::Text("Reminder for ".into())];
                for id in self.bot.config.jira.approvers.keys() {
                    inlines.push(Inline::Mention(id.clone()));
                    inlines.push(Inline::Text(" ".into()));
                }
                inlines.push(Inline::Text(format!(": {text}")));
                self.bot
                    .clients
                    .jira
                    .comment(&self.t.key, Doc::new().paragraph(inlines).text(&format!("[{marker}]")).build())?;
                out.actions.push(format!("{}: reminded the approvers ({hours} h waiting)", self.t.key));
            }
            Action::Expire { hours } => self.expire(hours, out)?,
            Action::Close { outcome, workflow } => {
                let bot = self.bot;
                let args = crate::steps::close::CloseArgs {
                    key: &self.t.key,
                    outcome,
                    workflow_id: &workflow,
                    deploy_job: "(no deploy job ran: the workflow ended)",
                    who: None,
                    build_url: None,
                };
                let closed = crate::steps::close::run(&args, bot.config, bot.clients).map_err(ConvergeError::Close)?;
                out.actions.extend(closed.lines);
            }
        }
        Ok(())
    }

    /// Runs the analysis (`analyze --approve`); whether it posted.
    pub(crate) fn analyse(&self, out: &mut Converged) -> Result<bool, ConvergeError> {
        let bot = self.bot;
        let args = crate::steps::analyze::AnalyzeArgs {
            ticket: self.t.key.clone(),
            approve: true,
            ..crate::steps::analyze::AnalyzeArgs::default()
        };
        let quiet = crate::base::progress::Progress::quiet();
        let sources =
            crate::steps::analyze::collect::Sources { clients: bot.clients, ring: Some(bot.ring), progress: &quiet };
        let recorder = crate::steps::analyze::Recorder { store: Some(bot.store()), policy_digest: bot.policy_digest };
        let a = crate::steps::analyze::run(&args, bot.config, bot.policy, &sources, &recorder)?;
        out.analysed = true;
        out.approved = a.approved;
        out.actions.extend(a.actions);
        Ok(a.posted)
    }

    /// Says once on the ticket that the bot's record was altered:
    /// properties keep no history, so when it was found, not by whom.
    fn report_altered(
        &self,
        why: &str,
        digest: &crate::base::digest::Sha256Digest,
        out: &mut Converged,
    ) -> Result<(), ConvergeError> {
        let t = self.t;
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
        if ticket::comment_once(&self.bot.clients.jira, &t.key, &marker, body)? {
            out.actions.push(format!("{}: the bot's record was altered ({why}): reported, re-deriving it", t.key));
        }
        Ok(())
    }

    /// Flags once a ticket requested without a bot in an environment the
    /// bot controls: its CI-side checks had no trust root.
    fn report_no_bot(&self, out: &mut Converged) -> Result<(), ConvergeError> {
        let body = Doc::new().paragraph(vec![
            Inline::Strong("Requested without the bot (--no-bot). ".into()),
            Inline::Text(format!(
                "{} is controlled by the changegate bot, but this deploy's CI jobs ran in no-bot mode: they checked nothing the bot signed. \
                 The bot still analyses it and resumes its holds only on its own checks; ask why the pipeline runs without the bot.",
                self.record.binding.environment
            )),
        ]);
        if ticket::comment_once(
            &self.bot.clients.jira,
            &self.t.key,
            "changegate:no-bot-in-controlled-environment",
            body,
        )? {
            out.actions
                .push(format!("{}: flagged: requested with --no-bot in an environment the bot controls", self.t.key));
        }
        Ok(())
    }

    /// Cancels a Declined ticket's workflow if it still runs, and marks it.
    fn cancel(&self, workflow: &str, out: &mut Converged) -> Result<(), ConvergeError> {
        let bot = self.bot;
        let wf = bot.clients.circleci.workflow(workflow)?;
        if wf.is_active() {
            bot.clients.circleci.cancel(workflow)?;
            out.actions.push(format!("cancelled workflow {workflow} of declined {}", self.t.key));
        }
        let m = now_mark(super::due::marker("cancel", workflow, ""), Some(format!("workflow {workflow}")));
        bot.store().update(&self.t.key, self.record.binding_digest, |r| r.mark(Marks::Cancelled, m.clone()))?;
        Ok(())
    }

    /// Reports once on the ticket what slipped past the lock, and marks it.
    fn report_slipped(&self, finding: &crate::steps::lock::Slipped, out: &mut Converged) -> Result<(), ConvergeError> {
        let t = self.t;
        let marker = finding.marker();
        let body = Doc::new().paragraph(vec![
            Inline::Strong("Past the lock: ".into()),
            Inline::Text(format!("{finding} ({}, found at {}).", finding.code(), Timestamp::now().to_rfc3339())),
        ]);
        if ticket::comment_once(&self.bot.clients.jira, &t.key, &marker, body)? {
            out.actions.push(format!("{}: reported: {finding}", t.key));
            self.notify(Reason::PastTheLock, finding.to_string(), out);
        }
        let m = now_mark(marker, Some(finding.code().to_owned()));
        self.bot.store().update(&t.key, self.record.binding_digest, |r| r.mark(Marks::Reported, m.clone()))?;
        Ok(())
    }

    /// Sends an Approved ticket back to manual review with a comment saying
    /// why and mentioning the approvers, once per `marker`.
    fn ask_again(
        &self,
        marker: &str,
        head: &str,
        why: &str,
        reason: Reason,
        out: &mut Converged,
    ) -> Result<(), ConvergeError> {
        let (bot, t) = (self.bot, self.t);
        let mut inlines = vec![Inline::Strong(head.into()), Inline::Text(format!("{why}. "))];
        for id in bot.config.jira.approvers.keys() {
            inlines.push(Inline::Mention(id.clone()));
            inlines.push(Inline::Text(" ".into()));
        }
        inlines.push(Inline::Text("please review and approve again.".into()));
        let jc = &bot.config.jira;
        // Never on a stale read: a person may have approved again since.
        if ticket::comment_markers(&bot.clients.jira, &t.key, marker)?.iter().any(|m| m == marker) {
            return Ok(());
        }
        if !ticket::transition_if_unchanged(&bot.clients.jira, t, &jc.transitions.send_back)? {
            out.actions.push(format!("{}: not sent back: it was moved since it was read", t.key));
            return Ok(());
        }
        ticket::comment_once(&bot.clients.jira, &t.key, marker, Doc::new().paragraph(inlines))?;
        out.actions.push(format!("{}: {why}: moved to {}", t.key, jc.statuses.manual_review));
        self.notify(reason, why.to_owned(), out);
        Ok(())
    }

    /// Sends a notice; a failure is reported, never fatal (the Jira record
    /// stands on its own).
    pub(crate) fn notify(&self, reason: Reason, detail: String, out: &mut Converged) {
        let bot = self.bot;
        if !bot.notifier.is_configured() {
            return;
        }
        let n = Notice {
            reason,
            ticket: self.t.key.clone(),
            ticket_url: bot.clients.jira.browse_url(&self.t.key),
            workflow_id: self.record.workflows.iter().rev().find(|w| w.hold.is_some()).map(|w| w.id.clone()),
            detail,
        };
        match bot.notifier.send(&n) {
            Ok(()) => out.actions.push(format!("{}: notified ({detail})", self.t.key, detail = n.reason_name())),
            Err(e) => out.actions.push(format!("{}: could not notify: {e}", self.t.key)),
        }
    }

    /// Writes a signed receipt for the binding (and plan) under the bot's
    /// policy, unless one for exactly that is there already (merged with
    /// whatever another writer added).
    fn receipt(&self, plan: Option<(String, PlanDigests)>, approver: &str) -> Result<(), ConvergeError> {
        let bot = self.bot;
        let (stack, plan) = plan.map_or((None, None), |(s, d)| (Some(s), Some(d)));
        let payload = ReceiptPayload {
            ticket: self.t.key.clone(),
            binding: self.record.binding.clone(),
            stack,
            plan,
            approver: approver.to_owned(),
            issued_at: Timestamp::now().to_rfc3339(),
            policy_digest: bot.policy_digest,
        };
        let signed = receipt::sign(bot.signing_key, payload);
        bot.store().update(&self.t.key, self.record.binding_digest, |r| r.add_receipt(signed.clone()))?;
        Ok(())
    }

    /// Resumes a hold once CircleCI confirms it is the ticket's and the
    /// ticket is still Approved for its binding, and marks it.
    fn resume(&self, r: &Resume, out: &mut Converged) -> Result<(), ConvergeError> {
        let (bot, t, record) = (self.bot, self.t, self.record);
        // Right before approving: the ticket still Approved for this binding.
        let mut still = || -> Result<bool, String> {
            let issue = bot
                .clients
                .jira
                .issue(&t.key, &["status"], &[crate::model::binding::RECORD_PROPERTY])
                .map_err(|e| e.to_string())?;
            let approved = issue.status().is_some_and(|s| s.eq_ignore_ascii_case(&bot.config.jira.statuses.approved));
            let same = issue
                .properties
                .get(crate::model::binding::RECORD_PROPERTY)
                .and_then(TicketRecord::from_value)
                .is_some_and(|x| x.binding_digest == record.binding_digest);
            Ok(approved && same)
        };
        let (workflow, hold) = (r.workflow.as_str(), r.hold.as_str());
        let resumed = match holds::resume(
            &bot.clients.circleci,
            &record.binding,
            workflow,
            hold,
            (&r.not_after, r.plan_hold.as_deref()),
            bot.hold_wait,
            &mut still,
        ) {
            Ok(x) => x,
            // The workflow ended (cancelled, failed), or the ticket moved:
            // nothing to resume now. A hold that is not this ticket's (it
            // comes after another of its holds, or is in another build) is
            // reported and the other holds go on.
            Err(e @ (HoldError::Gone { .. } | HoldError::Mismatch { .. } | HoldError::Missing { .. })) => {
                out.actions.push(e.to_string());
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let m = now_mark(r.mark.clone(), Some(format!("workflow {workflow}, hold {hold}")));
        bot.store().update(&t.key, record.binding_digest, |x| x.mark(Marks::Resumed, m.clone()))?;
        out.resumed += 1;
        out.actions.push(match resumed {
            Resumed::Approved => format!("resumed {hold} in workflow {workflow} for {}", t.key),
            Resumed::AlreadyApproved => format!("{hold} in workflow {workflow} was already resumed"),
        });
        Ok(())
    }

    /// Ends a request that waited too long: Cancelled, resolution Expired,
    /// its workflows cancelled so no deploy is left hanging at a hold.
    fn expire(&self, hours: u64, out: &mut Converged) -> Result<(), ConvergeError> {
        let (bot, t) = (self.bot, self.t);
        let jc = &bot.config.jira;
        // Never on a stale read: a person may have approved it just now.
        if ticket::moved_since(&bot.clients.jira, t)? {
            out.actions.push(format!("{}: not expired: it was moved since it was read", t.key));
            return Ok(());
        }
        for w in &self.record.workflows {
            match bot.clients.circleci.workflow(&w.id) {
                Ok(wf) if wf.is_active() => {
                    bot.clients.circleci.cancel(&w.id)?;
                    out.actions.push(format!("cancelled workflow {} of expired {}", w.id, t.key));
                }
                Ok(_) => {}
                // A workflow CircleCI no longer knows has nothing left to cancel.
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        crate::steps::request::close_as(
            bot.clients,
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
        .map_err(ConvergeError::Close)?;
        out.actions.push(format!(
            "{}: expired after {hours} h without an approval: Cancelled ({})",
            t.key, jc.resolutions.expired
        ));
        self.notify(Reason::Expired, format!("no approval after {hours} h"), out);
        Ok(())
    }
}
