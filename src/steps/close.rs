//! `changegate close`: records how the deploy ended (step 3).
//!
//! The outcome comes from `--outcome` or from the deploy job's status in the
//! workflow. A success closes the ticket as Done with a deploy summary (who,
//! what, when, the build, the plan digests); a failure or a cancelled deploy
//! is recorded and the ticket moves to Failed, never Done: Done tickets are
//! the base of the next change set. A second close changes nothing.

use serde_json::{Map, json};

use crate::base::codes::stable_codes;
use crate::base::time::Timestamp;
use crate::clients::Clients;
use crate::clients::jira::adf::{Doc, Inline};
use crate::config::Config;
use crate::config::jira::Statuses;
use crate::model::binding::RECORD_PROPERTY;
use crate::steps::lock::LockCode;
use crate::steps::request::RequestError;
use crate::steps::ticket;

stable_codes! {
    /// How the deploy ended.
    pub(crate) enum DeployOutcome: "deploy outcome" {
        Success => "success", "the deploy job succeeded";
        Failure => "failure", "it failed";
        Canceled => "canceled", "it was cancelled or never ran";
    }
}

/// The outcome of a finished job status; `None` while it is not finished.
pub(crate) fn outcome_of(job_status: &str) -> Option<DeployOutcome> {
    match job_status {
        "success" => Some(DeployOutcome::Success),
        "failed" | "unauthorized" | "infrastructure_fail" | "timedout" => Some(DeployOutcome::Failure),
        "canceled" | "not_run" => Some(DeployOutcome::Canceled),
        _ => None,
    }
}

/// What to do with the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloseAction {
    /// Resolve as Done.
    Complete,
    /// Move to Failed with this resolution.
    Fail {
        /// Resolution name.
        resolution: String,
    },
    /// The outcome is already recorded.
    AlreadyRecorded,
    /// The deploy succeeded on a ticket that did not allow it: recorded as
    /// Failed (never Done), and the command exits 1.
    Unauthorized {
        /// The status the ticket was in.
        status: String,
    },
}

/// Decides what closing means for a ticket in `status` (pure).
pub(crate) fn decide(
    status: &str,
    outcome: DeployOutcome,
    statuses: &Statuses,
    resolutions: &crate::config::jira::Resolutions,
) -> CloseAction {
    let is = |s: &str| status.eq_ignore_ascii_case(s);
    match outcome {
        DeployOutcome::Success if is(&statuses.approved) => CloseAction::Complete,
        DeployOutcome::Success if is(&statuses.done) => CloseAction::AlreadyRecorded,
        DeployOutcome::Success => CloseAction::Unauthorized { status: status.to_owned() },
        _ if is(&statuses.failed) || is(&statuses.done) || is(&statuses.cancelled) || is(&statuses.declined) => {
            CloseAction::AlreadyRecorded
        }
        DeployOutcome::Failure => CloseAction::Fail { resolution: resolutions.failed.clone() },
        DeployOutcome::Canceled => CloseAction::Fail { resolution: resolutions.cancelled.clone() },
    }
}

/// Why a deploy that `succeeded` applied without a reviewed plan where the
/// policy needs one (`applied_without_plan`): an apply of an environment
/// with a plan hold or `[plan] required`, and no plan recorded. Pure.
pub(crate) fn applied_without_plan(
    config: &Config,
    record: &crate::model::binding::TicketRecord,
    succeeded: bool,
) -> Option<String> {
    let b = &record.binding;
    let needed = b.action == crate::model::binding::DeployAction::Apply && config.plan_required_for(&b.environment);
    (succeeded && needed && record.plans.is_empty()).then(|| {
        format!(
            "{} deployed {} to {} without a recorded plan, though the policy requires one",
            b.project_slug, b.commit, b.environment
        )
    })
}

/// What was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closed {
    /// The outcome.
    pub(crate) outcome: DeployOutcome,
    /// The action taken.
    pub(crate) action: CloseAction,
    /// Lines for the log.
    pub(crate) lines: Vec<String>,
}

/// The deploy being closed.
#[derive(Debug, Clone)]
pub(crate) struct CloseArgs<'a> {
    /// Ticket.
    pub(crate) key: &'a str,
    /// How it ended.
    pub(crate) outcome: DeployOutcome,
    /// The workflow that deployed.
    pub(crate) workflow_id: &'a str,
    /// The deploy job's name.
    pub(crate) deploy_job: &'a str,
    /// Who triggered the pipeline.
    pub(crate) who: Option<&'a str>,
    /// URL of the closing job.
    pub(crate) build_url: Option<&'a str>,
}

/// Closes the ticket with the outcome.
pub(crate) fn run(args: &CloseArgs<'_>, config: &Config, svc: &Clients) -> Result<Closed, RequestError> {
    let CloseArgs { key, outcome, workflow_id, deploy_job, .. } = *args;
    let jc = &config.jira;
    let t = ticket::load(&svc.jira, key, jc)?;
    let action = decide(&t.status, outcome, &jc.statuses, &jc.resolutions);
    let mut lines = Vec::new();
    let Some((transition, resolution, text)) = closing(&action, outcome, config) else {
        lines.push(format!("{key} is already {}: nothing to record", t.status));
        // A rerun settles the drift a first run may have left open.
        if outcome == DeployOutcome::Success && t.status.eq_ignore_ascii_case(&jc.statuses.done) {
            lines.extend(reviewed_drift(config, svc, &t)?);
        }
        return Ok(Closed { outcome, action, lines });
    };
    let now = Timestamp::now();
    let mut rows = summary_rows(args, &t, &jc.statuses.approved, now);
    // Applied, where a reviewed plan was required, with none recorded.
    let without_plan =
        t.record.as_ref().and_then(|r| applied_without_plan(config, r, outcome == DeployOutcome::Success));
    if let Some(why) = &without_plan {
        rows.push(vec![
            vec![Inline::Text("Finding".into())],
            vec![Inline::Code(format!("{}: {why}", LockCode::AppliedWithoutPlan))],
        ]);
        lines.push(format!("{key}: {}: {why}", LockCode::AppliedWithoutPlan));
    }
    let marker = format!("[changegate:close:{workflow_id}:{deploy_job}]");
    let present =
        svc.jira.comments(key)?.iter().any(|c| crate::clients::jira::adf::plain_text(&c.body).contains(&marker));
    if !present {
        let doc = Doc::new()
            .heading(4, &format!("Deploy {}", outcome.as_str()))
            .text(&text)
            .table(&["", ""], rows)
            .text(&marker)
            .build();
        svc.jira.comment(key, doc)?;
    }
    if let Some(mut record) = t.record.clone() {
        let mut o = json!({"result": outcome.as_str(), "at": now.to_rfc3339(), "workflow_id": workflow_id, "deploy_job": deploy_job});
        if without_plan.is_some() {
            o["applied_without_plan"] = json!(true);
        }
        record.rest.insert("outcome".into(), o);
        svc.jira.set_property(key, RECORD_PROPERTY, &record.to_value())?;
    }
    transition_resolved(svc, key, transition, resolution)?;
    let status = svc.jira.issue(key, &["status"], &[])?.status().map(str::to_owned).unwrap_or_default();
    lines.push(format!("{key}: deploy {} recorded; the ticket is {status}", outcome.as_str()));
    if action == CloseAction::Complete {
        lines.extend(reviewed_drift(config, svc, &t)?);
    }
    Ok(Closed { outcome, action, lines })
}

/// How `action` closes the ticket: the transition, the resolution and the
/// comment's text; `None` when the outcome is already recorded.
fn closing<'c>(action: &CloseAction, outcome: DeployOutcome, config: &'c Config) -> Option<(&'c str, String, String)> {
    let jc = &config.jira;
    Some(match action {
        CloseAction::AlreadyRecorded => return None,
        CloseAction::Complete => (&jc.transitions.done, jc.resolutions.done.clone(), "Deployed.".to_owned()),
        CloseAction::Fail { resolution } => (
            &jc.transitions.failed,
            resolution.clone(),
            if outcome == DeployOutcome::Failure {
                "The deploy failed.".to_owned()
            } else {
                "The deploy was cancelled or never ran.".to_owned()
            },
        ),
        CloseAction::Unauthorized { status } => (
            &jc.transitions.failed,
            jc.resolutions.failed.clone(),
            format!(
                "The deploy job succeeded while this ticket was {status}, not approved. Recorded as Failed so it is never the base of a later change; investigate how the gate was bypassed."
            ),
        ),
    })
}

/// Who approved ticket `t` (into status `approved`), by display name (from
/// the history; account ids decide elsewhere, this is for people), each
/// person once.
fn approver_names(t: &ticket::TicketState, approved: &str) -> Vec<String> {
    let mut approvers: Vec<String> = Vec::new();
    for a in t.approvals(approved) {
        let name = t
            .changelog
            .iter()
            .filter_map(|e| e.author.as_ref())
            .find(|u| u.account_id == a.account_id)
            .and_then(|u| u.display_name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(a.account_id);
        if !approvers.contains(&name) {
            approvers.push(name);
        }
    }
    approvers
}

/// The rows of the closing comment's table: the outcome, when, the deploy
/// job, who triggered and approved it, the build, what was deployed and
/// its plans.
fn summary_rows(
    args: &CloseArgs<'_>,
    t: &ticket::TicketState,
    approved: &str,
    now: Timestamp,
) -> Vec<Vec<Vec<Inline>>> {
    let CloseArgs { outcome, workflow_id, deploy_job, who, build_url, .. } = *args;
    let approvers = approver_names(t, approved);
    let mut rows: Vec<Vec<Vec<Inline>>> = vec![
        vec![vec![Inline::Text("Outcome".into())], vec![Inline::Strong(outcome.as_str().into())]],
        vec![vec![Inline::Text("When".into())], vec![Inline::Text(now.to_rfc3339())]],
        vec![
            vec![Inline::Text("Deploy job".into())],
            vec![Inline::Code(format!("{deploy_job} in workflow {workflow_id}"))],
        ],
    ];
    if let Some(w) = who {
        rows.push(vec![vec![Inline::Text("Triggered by".into())], vec![Inline::Text(w.into())]]);
    }
    if !approvers.is_empty() {
        rows.push(vec![vec![Inline::Text("Approved by".into())], vec![Inline::Text(approvers.join(", "))]]);
    }
    if let Some(u) = build_url {
        rows.push(vec![vec![Inline::Text("Build".into())], vec![Inline::Link { text: u.into(), href: u.into() }]]);
    }
    if let Some(r) = &t.record {
        let b = &r.binding;
        rows.push(vec![
            vec![Inline::Text("Deployed".into())],
            vec![Inline::Code(format!(
                "{}@{} ({} #{})",
                b.project_slug, b.commit, b.build_job.name, b.build_job.number
            ))],
        ]);
        for (stack, p) in &r.plans {
            let mut d = format!("json {}", p.json_digest);
            if let Some(f) = &p.file_digest {
                d.push_str(&format!(", file {f}"));
            }
            rows.push(vec![vec![Inline::Text(format!("Plan {stack}"))], vec![Inline::Code(d)]]);
        }
    }
    rows
}

/// Moves ticket `key` through `transition` with `resolution`, or without
/// it when the screen takes none.
fn transition_resolved(svc: &Clients, key: &str, transition: &str, resolution: String) -> Result<(), RequestError> {
    let mut f = Map::new();
    f.insert("resolution".into(), json!({"name": resolution}));
    match svc.jira.transition(key, transition, Some(f)) {
        Ok(()) => {}
        // The screen takes no resolution: close without it.
        Err(crate::clients::jira::JiraError::Api(e)) if e.status() == Some(400) => {
            svc.jira.transition(key, transition, None)?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Closes the drift tickets this deploy settled, by the same test the bot
/// applies before a drift ticket stops counting ([`crate::steps::drift::standing::reviewed`]):
/// a configured approver approved this ticket after the drift was found, on
/// an analysis made after it, and the deploy was of the drift's stream. The
/// approver decided knowing of the drift (the analysis names `drift_open`
/// while it counts) and the apply overwrote or adopted it. The times come
/// from Jira's history, which no CI job writes.
fn reviewed_drift(config: &Config, svc: &Clients, t: &ticket::TicketState) -> Result<Vec<String>, RequestError> {
    use crate::steps::drift::standing::{Standing, reviewed};
    let Some(record) = &t.record else { return Ok(Vec::new()) };
    let review = crate::steps::drift::open::review_facts(&svc.jira, config, &t.key);
    // A deploy without a bot has no analyses to date what its approver saw.
    // (The bot judges settlement on its own, with a bot running, whatever
    // this record says.)
    let bot_runs = !record.no_bot;
    let mut lines = Vec::new();
    for j in crate::steps::drift::open::counting(&svc.jira, config, bot_runs)? {
        let Standing::Counts(c) = &j.standing else { continue };
        if c.environment
            .as_deref()
            .is_some_and(|e| crate::config::env_key(e) != crate::config::env_key(&record.binding.environment))
        {
            continue;
        }
        let Ok(why) = reviewed(&j.facts, &review, c.found_at, bot_runs) else { continue };
        let why = format!("Reviewed in {}: {why}; deployed, so the apply overwrote or adopted it.", t.key);
        if crate::steps::drift::open::close_reviewed(&svc.jira, config, &c.key, &t.key, &why)? {
            lines.push(format!("closed drift ticket {}: reviewed in {}", c.key, t.key));
        } else {
            lines.push(format!(
                "settled drift ticket {} (closed before, not by a trusted account): reviewed in {}",
                c.key, t.key
            ));
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::jira::JiraConfig;

    fn d(status: &str, o: DeployOutcome) -> CloseAction {
        let c = JiraConfig::default();
        decide(status, o, &c.statuses, &c.resolutions)
    }

    #[test]
    fn job_statuses_map_to_outcomes() {
        assert_eq!(outcome_of("success"), Some(DeployOutcome::Success));
        for s in ["failed", "unauthorized"] {
            assert_eq!(outcome_of(s), Some(DeployOutcome::Failure));
        }
        for s in ["canceled", "not_run"] {
            assert_eq!(outcome_of(s), Some(DeployOutcome::Canceled));
        }
        for s in ["running", "blocked", "on_hold", "queued"] {
            assert_eq!(outcome_of(s), None, "{s} is not finished");
        }
    }

    #[test]
    fn each_outcome_on_each_status() {
        assert_eq!(d("Approved", DeployOutcome::Success), CloseAction::Complete);
        assert_eq!(d("Done", DeployOutcome::Success), CloseAction::AlreadyRecorded);
        assert_eq!(
            d("Manual review", DeployOutcome::Success),
            CloseAction::Unauthorized { status: "Manual review".into() }
        );
        assert_eq!(d("Approved", DeployOutcome::Failure), CloseAction::Fail { resolution: "Failed".into() });
        assert_eq!(d("Manual review", DeployOutcome::Canceled), CloseAction::Fail { resolution: "Cancelled".into() });
        assert_eq!(d("Failed", DeployOutcome::Failure), CloseAction::AlreadyRecorded);
        assert_eq!(d("Done", DeployOutcome::Failure), CloseAction::AlreadyRecorded);
    }
}
