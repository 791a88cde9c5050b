//! Emergency changes: the break-glass path, decided purely.
//!
//! An emergency is *asked for* by CI (`request --emergency --reason`, which
//! marks the record) and *granted* only by Jira: the ticket was moved to
//! Approved by a member of the configured break-glass group (the workflow
//! lets only that group run "Emergency approve", and the adapter asks Jira
//! for each approver's groups). A granted emergency lets `validate` pass
//! without the bot's receipt and without the review checks — the bot may be
//! down, the fix cannot wait — and in exchange a retrospective ticket is
//! opened with a deadline, reminded and escalated until it is done, and
//! every emergency is listed by `changegate audit`.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::base::time::Timestamp;
use crate::clients::jira::adf::{Doc, Inline};
use crate::clients::jira::{Jira, JiraError, jql};
use crate::config::Config;
use crate::model::approval::Approval;
use crate::model::binding::EmergencyRequest;
use crate::steps::ticket::TicketState;

/// The label of every retrospective ticket.
pub(crate) const RETROSPECTIVE_LABEL: &str = "changegate-retrospective";

/// The label that ties a retrospective to its emergency ticket.
pub(crate) fn retrospective_label(key: &str) -> String {
    format!("changegate-retrospective-of-{}", key.to_ascii_lowercase())
}

/// The facts of one ticket for the emergency decision.
#[derive(Debug, Clone)]
pub(crate) struct EmergencyFacts<'a> {
    /// The break-glass group, when emergencies are configured.
    pub(crate) group: Option<&'a str>,
    /// The emergency asked for, when it was.
    pub(crate) requested: Option<&'a EmergencyRequest>,
    /// The ticket is in the approved status now.
    pub(crate) approved_now: bool,
    /// Every move into the approved status, oldest first.
    pub(crate) approvals: &'a [Approval],
    /// Approvals at or before this instant do not count (the last change
    /// to the binding, or a risky plan recorded).
    pub(crate) not_before: Timestamp,
    /// How long an approval stays valid.
    pub(crate) ttl: Duration,
    /// Approvers Jira says are members of the group.
    pub(crate) break_glass: &'a [String],
    /// The ordinary approvers (`[jira.approvers]`): their moves to Approved
    /// never grant an emergency, even when they are also in the group. An
    /// ordinary approval is judged against the bot's analysis (who may not
    /// approve this change); counted as an emergency it would skip that.
    pub(crate) approvers: &'a [String],
    /// Now.
    pub(crate) now: Timestamp,
}

/// An emergency granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Jira accountId of who granted it.
    pub(crate) by: String,
    /// When.
    pub(crate) at: Timestamp,
}

/// Whether an emergency approval grants the deploy: `Ok` with who and when,
/// or why not (`None` when no emergency was asked for at all).
pub(crate) fn judge(f: &EmergencyFacts<'_>) -> Result<Grant, Option<String>> {
    let Some(_) = f.requested else { return Err(None) };
    let Some(group) = f.group else {
        return Err(Some(
            "an emergency was asked for, but no break-glass group is configured ([emergency] group)".into(),
        ));
    };
    if !f.approved_now {
        return Err(Some(format!("no emergency approval yet: a member of {group} must run \"Emergency approve\"")));
    }
    let ttl_ms = i64::try_from(f.ttl.as_millis()).unwrap_or(i64::MAX);
    let in_time: Vec<&Approval> =
        f.approvals.iter().filter(|a| a.at > f.not_before && f.now.0.saturating_sub(a.at.0) <= ttl_ms).collect();
    let granted = in_time
        .iter()
        .filter(|a| f.break_glass.contains(&a.account_id) && !f.approvers.contains(&a.account_id))
        .max_by_key(|a| a.at);
    if let Some(a) = granted {
        return Ok(Grant { by: a.account_id.clone(), at: a.at });
    }
    let both: Vec<&str> =
        in_time.iter().filter(|a| f.break_glass.contains(&a.account_id)).map(|a| a.account_id.as_str()).collect();
    Err(Some(if both.is_empty() {
        format!("no emergency approval: nobody in {group} approved since the last change, within the approval TTL")
    } else {
        format!(
            "no emergency approval: {} approved, but is also an ordinary approver ([jira.approvers]); an emergency is granted only by a member of {group} who is not",
            both.join(", ")
        )
    }))
}

/// When the retrospective of an emergency granted at `at` is due.
pub(crate) fn due(at: Timestamp, within: Duration) -> Timestamp {
    Timestamp(at.0.saturating_add(i64::try_from(within.as_millis()).unwrap_or(i64::MAX)))
}

/// What an open retrospective needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Nudge {
    /// Nothing yet.
    None,
    /// Less than a quarter of the time is left: remind once (`marker`).
    Remind {
        /// Marks the comment, so it is posted once.
        marker: String,
    },
    /// Overdue: escalate, once per calendar day (UTC) (`marker`).
    Escalate {
        /// Marks the comment, so it is posted once a day.
        marker: String,
        /// Whole hours overdue.
        hours_over: i64,
    },
}

/// The reminder or escalation an open retrospective due at `due` needs at
/// `now`, given the markers of the comments already posted.
pub(crate) fn nudge(retro: &str, opened: Timestamp, due: Timestamp, now: Timestamp, posted: &[String]) -> Nudge {
    if now > due {
        let marker = format!("changegate:retrospective-overdue:{retro}:{}", now.to_rfc3339().get(..10).unwrap_or(""));
        if posted.contains(&marker) {
            return Nudge::None;
        }
        return Nudge::Escalate { marker, hours_over: (now.0 - due.0) / 3_600_000 };
    }
    let quarter = (due.0 - opened.0) / 4;
    let marker = format!("changegate:retrospective-reminder:{retro}");
    if due.0 - now.0 <= quarter && !posted.contains(&marker) {
        return Nudge::Remind { marker };
    }
    Nudge::None
}

/// Records a granted emergency on its ticket (who, why, when) and opens
/// its retrospective ticket, both once; returns the retrospective's key and
/// what was done. Run by `validate` when it passes an emergency (the bot may
/// be down) and by the bot when it resumes one.
pub(crate) fn record_grant(
    jira: &Jira,
    config: &Config,
    t: &TicketState,
    grant: &Grant,
) -> Result<(String, Vec<String>), JiraError> {
    let mut done = Vec::new();
    let jc = &config.jira;
    let asked = t.record.as_ref().and_then(|r| r.emergency.as_ref());
    let reason = asked.map_or("(no reason recorded)", |e| e.reason.as_str());
    let by_ci = asked.and_then(|e| e.requested_by.as_deref()).unwrap_or("unknown");
    let group = config.emergency.group.as_deref().unwrap_or("the break-glass group");
    let due_at = due(grant.at, config.emergency.retrospective_within);
    let label = retrospective_label(&t.key);

    let q = format!("project = {} AND labels = {} ORDER BY created ASC", jql::string(&jc.project), jql::string(&label));
    let retro = match jira.search(&q, &["status"], &[], &[])?.into_iter().next() {
        Some(i) => i.key,
        None => {
            let mut fields = Map::new();
            fields.insert("project".into(), json!({"key": jc.project}));
            let kind = config.emergency.retrospective_issue_type.as_deref().unwrap_or(&jc.issue_type);
            fields.insert("issuetype".into(), json!({"name": kind}));
            fields.insert("summary".into(), json!(format!("Retrospective of emergency change {}", t.key)));
            fields.insert("labels".into(), json!([RETROSPECTIVE_LABEL, label]));
            fields.insert("duedate".into(), json!(due_at.to_rfc3339().get(..10).unwrap_or_default()));
            fields.insert(
                "description".into(),
                Doc::new()
                    .text(&format!(
                        "{} was deployed as an emergency change: approved by {} ({group}) at {}, without the usual review.",
                        t.key, grant.by, grant.at
                    ))
                    .text(&format!("Reason given by {by_ci}: {reason}"))
                    .text(&format!(
                        "Review what was deployed, why it could not wait, and what follows; resolve this ticket by {due_at}. \
                         changegate reminds and escalates until it is resolved."
                    ))
                    .build(),
            );
            let created = jira.create(fields, &[])?;
            // Settle a race with another run (search is eventually
            // consistent): search again naming the new issue; the lowest id
            // wins, the other is cancelled as a duplicate.
            let id: u64 = created.id.parse().unwrap_or(u64::MAX);
            let found = jira.search(&q, &["status"], &[], &[id])?;
            let winner = found.iter().min_by_key(|i| i.numeric_id()).map_or(created.key.clone(), |i| i.key.clone());
            if winner != created.key {
                let mut resolution = Map::new();
                resolution.insert("resolution".into(), json!({"name": jc.resolutions.duplicate}));
                jira.comment(&created.key, Doc::new().text(&format!("A duplicate of {winner}.")).build())?;
                if let Err(JiraError::Api(_)) = jira.transition(&created.key, &jc.transitions.cancel, Some(resolution))
                {
                    // The transition's screen may not take a resolution.
                    jira.transition(&created.key, &jc.transitions.cancel, None)?;
                }
                done.push(format!("cancelled {} as a duplicate of the retrospective {winner}", created.key));
                return Ok((winner.clone(), grant_comment(jira, config, t, grant, &winner, done)?));
            }
            done.push(format!("opened the retrospective {} (due {due_at})", created.key));
            // The link is for people; the label ties them for changegate,
            // so a site without the link type still records the emergency.
            match jira.link_issues(&config.emergency.link_type, &created.key, &t.key) {
                Ok(()) => done.push(format!("linked {} to {} ({})", created.key, t.key, config.emergency.link_type)),
                Err(e) => done.push(format!("could not link {} to {}: {e}", created.key, t.key)),
            }
            created.key
        }
    };
    let done = grant_comment(jira, config, t, grant, &retro, done)?;
    Ok((retro, done))
}

/// The comment recording a granted emergency on its ticket, once.
fn grant_comment(
    jira: &Jira,
    config: &Config,
    t: &TicketState,
    grant: &Grant,
    retro: &str,
    mut done: Vec<String>,
) -> Result<Vec<String>, JiraError> {
    let asked = t.record.as_ref().and_then(|r| r.emergency.as_ref());
    let reason = asked.map_or("(no reason recorded)", |e| e.reason.as_str());
    let by_ci = asked.and_then(|e| e.requested_by.as_deref()).unwrap_or("unknown");
    let group = config.emergency.group.as_deref().unwrap_or("the break-glass group");
    let due_at = due(grant.at, config.emergency.retrospective_within);
    let body = Doc::new()
        .paragraph(vec![
            Inline::Strong("EMERGENCY change granted.".into()),
            Inline::Text(format!(" Approved by {} ({group}) at {}.", grant.by, grant.at)),
        ])
        .text(&format!("Reason given by {by_ci}: {reason}"))
        .text(&format!(
            "The deploy passes without the bot's review. Retrospective: {retro}, due {due_at}; it is reminded and escalated until resolved."
        ));
    if crate::steps::ticket::comment_once(jira, &t.key, &format!("changegate:emergency-granted:{}", grant.at.0), body)?
    {
        done.push(format!("recorded the emergency on {}", t.key));
    }
    Ok(done)
}

/// One open retrospective and what it needs: run by the bot's reconcile.
/// Reminds once when the deadline nears and escalates every day after it,
/// naming the break-glass group.
pub(crate) fn nudge_open(
    jira: &Jira,
    config: &Config,
    notifier: &crate::clients::notify::Notifier,
    now: Timestamp,
) -> Result<Vec<String>, JiraError> {
    let jc = &config.jira;
    let mut closed: Vec<&str> = jc.statuses.closed().to_vec();
    closed.sort_unstable();
    let q = format!(
        "project = {} AND labels = {} AND status not in ({}) ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(RETROSPECTIVE_LABEL),
        closed.iter().map(|s| jql::string(s)).collect::<Vec<_>>().join(", ")
    );
    let group = config.emergency.group.as_deref().unwrap_or("the break-glass group");
    let mut done = Vec::new();
    for issue in jira.search(&q, &["status", "created", "duedate", "summary"], &[], &[])? {
        let get = |f: &str| issue.fields.get(f).and_then(Value::as_str).map(str::to_owned);
        let opened = get("created").as_deref().and_then(Timestamp::parse);
        let due_at = get("duedate")
            .as_deref()
            .and_then(|d| Timestamp::parse(&format!("{d}T23:59:59.000+0000")))
            .or_else(|| opened.map(|o| due(o, config.emergency.retrospective_within)));
        let (Some(opened), Some(due_at)) = (opened, due_at) else { continue };
        let posted = crate::steps::ticket::comment_markers(jira, &issue.key, "changegate:retrospective-")?;
        let (marker, text, reason) = match nudge(&issue.key, opened, due_at, now, &posted) {
            Nudge::None => continue,
            Nudge::Remind { marker } => (
                marker,
                format!("Reminder for {group}: this retrospective is due {due_at}. Please complete it."),
                crate::clients::notify::Reason::RetrospectiveDue,
            ),
            Nudge::Escalate { marker, hours_over } => (
                marker,
                format!(
                    "ESCALATION to {group}: this retrospective of an emergency change is overdue by {hours_over} h (due {due_at})."
                ),
                crate::clients::notify::Reason::RetrospectiveOverdue,
            ),
        };
        jira.comment(&issue.key, Doc::new().text(&text).text(&format!("[{marker}]")).build())?;
        done.push(format!("{}: {}", issue.key, text));
        if notifier.is_configured() {
            let n = crate::clients::notify::Notice {
                reason,
                ticket: issue.key.clone(),
                ticket_url: jira.browse_url(&issue.key),
                workflow_id: None,
                detail: text.clone(),
            };
            if let Err(e) = notifier.send(&n) {
                done.push(format!("{}: could not notify: {e}", issue.key));
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn request() -> EmergencyRequest {
        EmergencyRequest { reason: "checkout down".into(), requested_by: Some("dana".into()), requested_at: "x".into() }
    }

    fn approvals() -> Vec<Approval> {
        vec![Approval { account_id: "carol".into(), at: Timestamp(10 * H) }]
    }

    fn facts<'a>(r: &'a EmergencyRequest, a: &'a [Approval], bg: &'a [String]) -> EmergencyFacts<'a> {
        EmergencyFacts {
            group: Some("break-glass"),
            requested: Some(r),
            approved_now: true,
            approvals: a,
            not_before: Timestamp(5 * H),
            ttl: Duration::from_secs(24 * 3600),
            break_glass: bg,
            approvers: &[],
            now: Timestamp(12 * H),
        }
    }

    #[test]
    fn a_break_glass_member_after_the_change_grants_it() {
        let (r, a, bg) = (request(), approvals(), vec!["carol".to_owned()]);
        assert_eq!(judge(&facts(&r, &a, &bg)), Ok(Grant { by: "carol".into(), at: Timestamp(10 * H) }));
    }

    #[test]
    fn anyone_else_a_stale_or_expired_approval_or_no_request_does_not() {
        let (r, a, bg) = (request(), approvals(), vec!["carol".to_owned()]);
        let nobody: Vec<String> = vec![];
        assert!(judge(&facts(&r, &a, &nobody)).unwrap_err().unwrap().contains("nobody in break-glass"));
        assert!(judge(&EmergencyFacts { not_before: Timestamp(10 * H), ..facts(&r, &a, &bg) }).is_err());
        assert!(judge(&EmergencyFacts { now: Timestamp(35 * H), ..facts(&r, &a, &bg) }).is_err());
        assert!(judge(&EmergencyFacts { approved_now: false, ..facts(&r, &a, &bg) }).is_err());
        assert_eq!(judge(&EmergencyFacts { requested: None, ..facts(&r, &a, &bg) }), Err(None));
        let off = judge(&EmergencyFacts { group: None, ..facts(&r, &a, &bg) });
        assert!(off.unwrap_err().unwrap().contains("no break-glass group"));
    }

    #[test]
    fn an_ordinary_approver_in_the_group_does_not_grant_it() {
        // An approval judged against the bot's analysis (a self-approval,
        // say) never turns into an emergency grant.
        let (r, a, bg) = (request(), approvals(), vec!["carol".to_owned()]);
        let approvers = vec!["carol".to_owned()];
        let why = judge(&EmergencyFacts { approvers: &approvers, ..facts(&r, &a, &bg) }).unwrap_err().unwrap();
        assert!(why.contains("carol approved, but is also an ordinary approver"), "{why}");
        // Another member of the group, not an approver, after it: granted.
        let mut a = a;
        a.push(Approval { account_id: "erin".into(), at: Timestamp(11 * H) });
        let bg = vec!["carol".to_owned(), "erin".to_owned()];
        let g = judge(&EmergencyFacts { approvers: &approvers, ..facts(&r, &a, &bg) }).unwrap();
        assert_eq!(g.by, "erin");
    }

    #[test]
    fn reminded_once_near_the_deadline_then_escalated_daily() {
        let (opened, due) = (Timestamp(0), Timestamp(24 * H));
        assert_eq!(nudge("R-1", opened, due, Timestamp(17 * H), &[]), Nudge::None);
        let Nudge::Remind { marker } = nudge("R-1", opened, due, Timestamp(19 * H), &[]) else { panic!() };
        assert_eq!(nudge("R-1", opened, due, Timestamp(20 * H), std::slice::from_ref(&marker)), Nudge::None);
        let Nudge::Escalate { marker, hours_over } = nudge("R-1", opened, due, Timestamp(27 * H), &[marker]) else {
            panic!()
        };
        assert_eq!(hours_over, 3);
        assert_eq!(nudge("R-1", opened, due, Timestamp(28 * H), std::slice::from_ref(&marker)), Nudge::None);
        // The next day: escalated again.
        assert!(matches!(nudge("R-1", opened, due, Timestamp(49 * H), &[marker]), Nudge::Escalate { .. }));
    }
}
