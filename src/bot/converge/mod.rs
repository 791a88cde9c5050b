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
//! Deciding and acting are apart: [`converge`] reads the facts, the pure
//! functions of [`due`] decide the [`due::Action`]s from them (in rounds,
//! where a decision needs what an earlier action changed: the analysis may
//! approve the ticket, so what follows it is decided on the ticket read
//! again; see [`due`]), and [`execute`] performs them with the clients.
//!
//! Every action is recorded in the bot's signed record (`changegate.bot`,
//! see [`crate::steps::bot_record`]: `resumed`, `cancelled`, `receipts`), so a
//! repeat is a no-op; CircleCI's "already approved" is success too. The
//! record is verified before anything is done on it: an altered one is
//! treated as absent, re-derived from the sources (the analysis runs again,
//! even on an Approved ticket), reported once on the ticket, and nothing is
//! resumed on it. Writes re-read and merge (see [`crate::steps::bot_record::Store::update`]).

mod bot;
pub(crate) mod due;
pub(crate) mod execute;

pub(crate) use self::bot::{Bot, ConvergeError, Converged};

use std::collections::BTreeMap;

use crate::base::time::Timestamp;
use crate::model::binding::TicketRecord;
use crate::steps::bot_record::{self, Check};
use crate::steps::lock;
use crate::steps::ticket::{self, TicketState};
use crate::steps::validate::{self, PlanFiles, Trust};

use due::{Action, Facts, Judged, Phase};
use execute::Executor;

/// Does what is due for ticket `key`.
pub(crate) fn converge(key: &str, bot: &Bot<'_>) -> Result<Converged, ConvergeError> {
    let mut out = Converged::default();
    let t = ticket::load_judged(&bot.clients.jira, key, bot.config)?;
    let Some(record) = t.record.clone() else {
        out.actions.push(format!("{key} is not a changegate ticket"));
        return Ok(out);
    };
    let check = bot.check(&t, &record);
    let facts = bot.facts(&t, &record, &check);
    let act = Executor { bot, t: &t, record: &record, check: &check };
    let mut posted = None;
    for a in due::due(&facts) {
        match a {
            Action::Analyse => posted = Some(act.analyse(&mut out)?),
            a => act.run(a, &mut out)?,
        }
    }
    if matches!(facts.phase(), Phase::Declined | Phase::Closed) {
        return Ok(out);
    }
    // The analysis may have moved the ticket (approved it, or sent it to
    // manual review): what follows judges its status now.
    let (t, check) = match posted {
        None => (t, check),
        Some(posted) => {
            let t = ticket::load_judged(&bot.clients.jira, key, bot.config)?;
            let check = bot.check(&t, &record);
            let facts = bot.facts(&t, &record, &check);
            let act = Executor { bot, t: &t, record: &record, check: &check };
            for a in due::after_analysis(&facts, posted) {
                act.run(a, &mut out)?;
            }
            (t, check)
        }
    };
    let facts = bot.facts(&t, &record, &check);
    let act = Executor { bot, t: &t, record: &record, check: &check };

    // What slipped past the lock: holds approved by someone else, pipelines
    // triggered by the bot's user or a member of the security group. A report
    // that cannot be made now is said, and tried again by the next converge;
    // it never holds up the gate's own work.
    if let Err(e) = report_slipped(bot, &facts, &act, &mut out) {
        out.actions.push(format!("{key}: could not check what got past the lock: {e}"));
    }

    if facts.phase() == Phase::Approved {
        for a in due::approved(&facts, &bot.judge(&t, &record)) {
            act.run(a, &mut out)?;
        }
        // Read after the holds were resumed: what they ran into counts.
        let statuses = workflow_statuses(bot, &record)?;
        if let Some(a) = due::ended(statuses.as_deref()) {
            act.run(a, &mut out)?;
        }
    } else {
        let since = t.binding_changed_at(&bot.config.jira);
        let posted = ticket::comment_markers(&bot.clients.jira, key, "changegate:waiting-reminder:")?;
        for a in due::waiting(&facts, since, Timestamp::now(), &posted) {
            act.run(a, &mut out)?;
        }
    }
    Ok(out)
}

impl<'a> Bot<'a> {
    /// The facts converge decides on, for a ticket as read.
    fn facts<'f>(&'f self, t: &'f TicketState, record: &'f TicketRecord, check: &'f Check) -> Facts<'f> {
        let prefix = bot_record::binding_prefix(&record.binding_digest);
        let labelled =
            bot_record::analyses(&t.changelog, &self.config.jira.bot_accounts).iter().any(|(_, d)| *d == prefix);
        Facts {
            key: &t.key,
            status: &t.status,
            record,
            check,
            labelled,
            policy_digest: self.policy_digest,
            config: self.config,
        }
    }

    /// `validate`'s verdicts on an Approved ticket, as the bot judges them
    /// before it writes a receipt: the change, and each recorded plan.
    fn judge(&self, t: &TicketState, record: &TicketRecord) -> Judged {
        let now = Timestamp::now();
        let judge = |plan: Option<&PlanFiles>| {
            validate::judge(&validate::Facts {
                ticket: t,
                config: self.config,
                current: &record.binding,
                plan,
                applying: plan.is_some(),
                action_must_apply: false,
                trust: Trust::Bot { ring: self.ring },
                now,
            })
        };
        let plans: BTreeMap<String, validate::Verdict> = record
            .plans
            .iter()
            .map(|(stack, p)| {
                let files = PlanFiles { stack: stack.clone(), json: p.json_digest, file: p.file_digest };
                (stack.clone(), judge(Some(&files)))
            })
            .collect();
        let approvals = t.approvals(&self.config.jira.statuses.approved);
        Judged { change: judge(None), plans, last_approval_at: approvals.last().map_or(0, |a| a.at.0) }
    }
}

/// The statuses of the ticket's workflows, in the record's order; `None`
/// when CircleCI no longer knows one (nothing can be concluded).
fn workflow_statuses(bot: &Bot<'_>, record: &TicketRecord) -> Result<Option<Vec<(String, String)>>, ConvergeError> {
    let mut statuses = Vec::new();
    for w in &record.workflows {
        match bot.clients.circleci.workflow(&w.id) {
            Ok(wf) => statuses.push((w.id.clone(), wf.status)),
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(statuses))
}

/// Reports on the ticket, once each, what slipped past the lock.
fn report_slipped(
    bot: &Bot<'_>,
    facts: &Facts<'_>,
    act: &Executor<'_>,
    out: &mut Converged,
) -> Result<(), ConvergeError> {
    if facts.record.workflows.is_empty() {
        return Ok(());
    }
    let me = bot.clients.circleci.me()?;
    let me = lock::BotUser { id: Some(me.id), login: me.login };
    let found = lock::slipped_of(&bot.clients.circleci, bot.clients.github(), bot.config, facts.record, &me)?;
    for a in due::past_the_lock(facts, &found) {
        act.run(a, out)?;
    }
    Ok(())
}
