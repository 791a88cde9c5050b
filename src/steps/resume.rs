//! `changegate resume`: the no-bot path (README.md, `changegate resume`;
//! docs/trust-model.md, "Without a bot").
//! A job beside a hold waits a bounded time for a person to approve the
//! ticket in Jira, then resumes the hold through the CircleCI API. It never
//! approves a ticket: it only acts on an approval that `validate` itself
//! would accept, judged by the same [`validate::judge`].
//!
//! Each look at the ticket is judged purely by [`next_step`]; [`run`] does
//! the reading, the waiting and the calls.

use std::time::{Duration, Instant};

use crate::base::time::Timestamp;
use crate::clients::circleci::CircleCi;
use crate::clients::jira::{Jira, JiraError};
use crate::config::Config;
use crate::steps::holds::{self, HoldError, Resumed};
use crate::steps::ticket::{self, TicketState};
use crate::steps::validate::{self, Facts, PlanFiles, Trust};

/// What to resume, and how long to wait for it.
#[derive(Debug, Clone)]
pub(crate) struct ResumeArgs {
    /// The ticket.
    pub(crate) ticket: String,
    /// The approval job to resume.
    pub(crate) hold: String,
    /// The workflow it waits in (`CIRCLE_WORKFLOW_ID`).
    pub(crate) workflow_id: String,
    /// A plan hold: the stack whose recorded plan must be approved too.
    pub(crate) stack: Option<String>,
    /// How long to wait for the approval.
    pub(crate) timeout: Duration,
    /// How often the ticket is read again.
    pub(crate) interval: Duration,
}

/// What one look at the ticket says to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The ticket allows the hold to go on.
    Resume,
    /// Not yet: why.
    Wait(String),
    /// The ticket was declined: cancel the workflow.
    Declined(String),
    /// Never: why (the deploy must not go on).
    Stop(String),
}

/// Judges the ticket for this hold. Pure.
pub(crate) fn next_step(t: &TicketState, args: &ResumeArgs, config: &Config, trust: Trust<'_>, now: Timestamp) -> Step {
    let s = &config.jira.statuses;
    let Some(record) = &t.record else {
        return Step::Stop(format!("{} is not a changegate ticket (no record)", t.key));
    };
    if t.status.eq_ignore_ascii_case(&s.declined) {
        return Step::Declined(format!("{} was declined", t.key));
    }
    if s.is_closed(&t.status) {
        return Step::Stop(format!("{} is {}", t.key, t.status));
    }
    // Only a hold the ticket records is resumed: the change hold of this
    // workflow, or the plan hold of this workflow's plan.
    let plan = match &args.stack {
        None => {
            let recorded =
                record.workflows.iter().any(|w| w.id == args.workflow_id && w.hold.as_deref() == Some(&args.hold));
            if !recorded {
                return Step::Stop(format!(
                    "{} records no hold {:?} in workflow {}",
                    t.key, args.hold, args.workflow_id
                ));
            }
            None
        }
        Some(stack) => match record.plans.get(stack) {
            Some(p) if p.workflow_id == args.workflow_id => {
                Some(PlanFiles { stack: stack.clone(), json: p.json_digest, file: p.file_digest })
            }
            Some(_) => {
                return Step::Wait(format!(
                    "the plan of stack {stack:?} on {} is from another workflow; waiting for this one's",
                    t.key
                ));
            }
            None => return Step::Wait(format!("no plan of stack {stack:?} is recorded on {} yet", t.key)),
        },
    };
    if !t.status.eq_ignore_ascii_case(&s.approved) {
        return Step::Wait(format!("{} is {}", t.key, t.status));
    }
    let verdict = validate::judge(&Facts {
        ticket: t,
        config,
        current: &record.binding,
        plan: plan.as_ref(),
        applying: false,
        action_must_apply: false,
        trust,
        now,
    });
    if verdict.pass {
        Step::Resume
    } else {
        let why: Vec<String> = verdict.failures.iter().map(ToString::to_string).collect();
        Step::Wait(why.join("; "))
    }
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The hold was resumed (or had been).
    Resumed(String),
    /// The ticket will never allow it; the workflow was cancelled when it
    /// was declined.
    Stopped(String),
    /// The time ran out; the last reason it waited.
    TimedOut(String),
}

/// Why the wait could not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResumeError {
    /// Reading the ticket failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// Resuming or cancelling failed.
    #[error(transparent)]
    Hold(#[from] HoldError),
    /// Cancelling failed.
    #[error(transparent)]
    CircleCi(#[from] crate::clients::http::ApiError),
}

/// Waits for the ticket to allow the hold, then resumes it; prints a line
/// per look through `progress` (a job that prints nothing is killed by
/// CircleCI's no-output timeout).
pub(crate) fn run(
    args: &ResumeArgs,
    config: &Config,
    jira: &Jira,
    circleci: &CircleCi,
    trust: Trust<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Ended, ResumeError> {
    let started = Instant::now();
    loop {
        let t = ticket::load_judged(jira, &args.ticket, config)?;
        match next_step(&t, args, config, trust, Timestamp::now()) {
            Step::Resume => {
                let binding = &t.record.as_ref().expect("judged with a record").binding;
                // The hold may still be blocked behind this very job's
                // siblings: wait for it within what is left of the time.
                let left = args.timeout.saturating_sub(started.elapsed()).max(args.interval);
                // A change hold after another hold of the ticket is not its
                // change hold; and the ticket must still be approved when
                // the hold is finally approved.
                let others: Vec<String> = if args.stack.is_none() {
                    let r = t.record.as_ref().expect("judged with a record");
                    r.workflows
                        .iter()
                        .filter_map(|w| w.hold.clone())
                        .chain(r.plans.values().filter_map(|p| p.hold.clone()))
                        .filter(|h| *h != args.hold)
                        .collect()
                } else {
                    Vec::new()
                };
                let digest = t.record.as_ref().expect("judged with a record").binding_digest;
                let mut still = || -> Result<bool, String> {
                    let now = ticket::load(jira, &args.ticket, &config.jira).map_err(|e| e.to_string())?;
                    Ok(now.status.eq_ignore_ascii_case(&config.jira.statuses.approved)
                        && now.record.is_some_and(|r| r.binding_digest == digest))
                };
                let r = holds::resume(
                    circleci,
                    binding,
                    &args.workflow_id,
                    &args.hold,
                    (&others, None),
                    (left, args.interval),
                    &mut still,
                )?;
                return Ok(Ended::Resumed(match r {
                    Resumed::Approved => format!("{} is approved: resumed {}", t.key, args.hold),
                    Resumed::AlreadyApproved => format!("{} is approved: {} was already resumed", t.key, args.hold),
                }));
            }
            Step::Declined(why) => {
                circleci.cancel(&args.workflow_id)?;
                return Ok(Ended::Stopped(format!("{why}: cancelled workflow {}", args.workflow_id)));
            }
            Step::Stop(why) => return Ok(Ended::Stopped(why)),
            Step::Wait(why) => {
                if started.elapsed() + args.interval > args.timeout {
                    return Ok(Ended::TimedOut(why));
                }
                progress(&format!("waiting: {why}"));
                std::thread::sleep(args.interval);
            }
        }
    }
}
