//! The drift tickets that count against a deploy: read from Jira, judged on
//! their history ([`super::standing`]), and closed once a change ticket's
//! review of them is verified. What `request`'s analysis, `close` and the
//! audit read; recording a drift report is the parent module's. See
//! docs/drift.md.

use serde_json::{Map, Value, json};

use super::record::{DriftRecord, LABEL, PROPERTY};
use super::standing;
use crate::base::time::Timestamp;
use crate::clients::jira::adf::Doc;
use crate::clients::jira::{Issue, Jira, JiraError};
use crate::config::Config;

/// The property in which `close` names the change ticket that reviewed a
/// drift ticket: only a pointer, verified against that ticket's history
/// before it settles anything ([`standing::judge`]).
pub const REVIEWED_PROPERTY: &str = "changegate.drift.reviewed";

/// How far back closed drift tickets are re-judged: a close no one may make
/// that is older than this has been followed by scheduled checks, which open
/// a new ticket while the drift lasts (docs/drift.md).
pub(crate) const CLOSED_LOOKBACK_DAYS: u32 = 30;

/// The drift tickets that count for `environment`, for the analysis of a
/// change ticket (`drift_open`): open ones, and closed ones no one trusted
/// settled ([`standing`]). Tickets whose environment is unknown count for
/// every environment.
///
/// `bot_runs`: the caller is the bot, or works where one runs (its analyses
/// date the approvals of a review); false only without a bot.
pub(crate) fn open_for_environment(
    jira: &Jira,
    config: &Config,
    environment: &str,
    bot_runs: bool,
) -> Result<Vec<crate::model::evidence::OpenDrift>, JiraError> {
    let want = crate::config::env_key(environment);
    let mut out = Vec::new();
    for j in counting(jira, config, bot_runs)? {
        let standing::Standing::Counts(c) = j.standing else { continue };
        if c.environment.as_deref().is_some_and(|e| crate::config::env_key(e) != want) {
            continue;
        }
        out.push(crate::model::evidence::OpenDrift {
            key: c.key,
            stream_unknown: c.stack.is_none(),
            stack: c.stack.unwrap_or_else(|| "unknown".into()),
            resources: c.resources,
            found_at: c.found_at.to_rfc3339(),
            note: c.note,
        });
    }
    Ok(out)
}

/// The drift tickets that are open or were closed within the look-back,
/// judged (whether each still counts is in its standing).
pub(crate) fn counting(jira: &Jira, config: &Config, bot_runs: bool) -> Result<Vec<Judged>, JiraError> {
    let closed: Vec<String> =
        config.jira.statuses.closed().iter().map(|s| crate::clients::jira::jql::string(s)).collect();
    let recent = format!("status not in ({}) OR updated >= -{CLOSED_LOOKBACK_DAYS}d", closed.join(", "));
    judged(jira, config, Some(&recent), &|_| true, bot_runs)
}

/// One drift ticket as read and judged.
#[derive(Debug, Clone)]
pub(crate) struct Judged {
    /// The ticket as searched (status, created, labels, resolution).
    pub(crate) issue: Issue,
    /// What the judgement read.
    pub(crate) facts: standing::DriftFacts,
    /// The judgement.
    pub(crate) standing: standing::Standing,
}

/// Every drift ticket of the change project that `also` (a JQL condition)
/// and `keep` (on the searched issue, before its history is read) select,
/// judged. Drift tickets are found by their label, among tickets of the
/// change type without the change labels, and by their creator (the drift
/// check's account), so one whose labels were edited away or swapped for
/// the change labels is still found; history says which were created as one.
pub(crate) fn judged(
    jira: &Jira,
    config: &Config,
    also: Option<&str>,
    keep: &dyn Fn(&Issue) -> bool,
    bot_runs: bool,
) -> Result<Vec<Judged>, JiraError> {
    let jc = &config.jira;
    let q = crate::clients::jira::jql::string;
    let change_labels: Vec<String> = jc.labels.iter().map(|l| q(l)).collect();
    let unlabelled = if change_labels.is_empty() {
        String::new()
    } else {
        format!(" OR labels is EMPTY OR labels not in ({})", change_labels.join(", "))
    };
    let mut found = format!(
        "project = {} AND issuetype = {} AND (labels = {}{unlabelled})",
        q(&jc.project),
        q(&jc.issue_type),
        q(LABEL)
    );
    // Whatever the drift check's account created, however relabelled,
    // retyped or moved: Jira keeps the creator, and no edit changes it.
    if !jc.drift_check_accounts.is_empty() {
        let accounts: Vec<String> = jc.drift_check_accounts.iter().map(|a| q(a)).collect();
        found = format!("({found}) OR creator in ({})", accounts.join(", "));
    }
    let jql = match also {
        Some(c) => format!("({found}) AND ({c}) ORDER BY created ASC"),
        None => format!("{found} ORDER BY created ASC"),
    };
    let approvers: Vec<&str> = jc.approvers.keys().map(String::as_str).collect();
    let who = standing::Settlers {
        bot: &jc.bot_accounts,
        approvers: &approvers,
        drift_check: &jc.drift_check_accounts,
        bot_runs,
    };
    let now = Timestamp::now();
    let fields = ["status", "created", "labels", "resolution", "resolutiondate"];
    let mut out = Vec::new();
    for issue in jira.search(&jql, &fields, &[PROPERTY, REVIEWED_PROPERTY], &[])? {
        if !keep(&issue) {
            continue;
        }
        let changelog = jira.changelog(&issue.key)?;
        let facts = facts_of(jira, config, &issue, &changelog)?;
        if !standing::is_drift_ticket(&facts) {
            continue;
        }
        let standing = standing::judge(&facts, who, now);
        out.push(Judged { issue, facts, standing });
    }
    Ok(out)
}

/// Reads what [`standing::judge`] decides on for one ticket.
fn facts_of(
    jira: &Jira,
    config: &Config,
    issue: &Issue,
    changelog: &[crate::clients::jira::ChangelogEntry],
) -> Result<standing::DriftFacts, JiraError> {
    let jc = &config.jira;
    let split =
        |s: Option<&str>| -> Vec<String> { s.unwrap_or_default().split_whitespace().map(str::to_owned).collect() };
    let labels_at_creation = changelog
        .iter()
        .flat_map(|e| e.items.iter())
        .find(|i| i.field.eq_ignore_ascii_case("labels"))
        .map(|i| split(i.from_string.as_deref()));
    let closing = changelog
        .iter()
        .filter(|e| {
            e.items.iter().any(|i| {
                i.field.eq_ignore_ascii_case("status")
                    && i.to_string.as_deref().is_some_and(|s| jc.statuses.is_closed(s))
            })
        })
        .filter_map(|e| {
            // An entry without an author is no one's close: it settles nothing.
            let who = e.author.as_ref().map_or_else(String::new, |a| a.account_id.clone());
            Some((who, Timestamp::parse(&e.created)?))
        })
        .next_back();
    let closed = jc.statuses.is_closed(issue.status().unwrap_or_default());
    let reviewed_in = match issue.properties.get(REVIEWED_PROPERTY).and_then(|v| v.get("ticket")?.as_str()) {
        Some(key) if closed => Some(review_facts(jira, config, key)),
        _ => None,
    };
    Ok(standing::DriftFacts {
        key: issue.key.clone(),
        created: issue.fields.get("created").and_then(Value::as_str).and_then(Timestamp::parse),
        labels: issue.labels().into_iter().map(str::to_owned).collect(),
        labels_at_creation,
        record: issue.properties.get(PROPERTY).and_then(|v| serde_json::from_value::<DriftRecord>(v.clone()).ok()),
        closed,
        closing,
        reviewed_in,
    })
}

/// What Jira's history says about the change ticket named as having
/// reviewed a drift ticket. A ticket that cannot be read, is not a change
/// ticket of the project, is not Done, or whose record's binding does not
/// match its digest reviews nothing.
pub(crate) fn review_facts(jira: &Jira, config: &Config, key: &str) -> standing::ReviewFacts {
    let jc = &config.jira;
    let none = || standing::ReviewFacts {
        key: key.to_owned(),
        environment: None,
        stacks: Vec::new(),
        person_approvals: Vec::new(),
    };
    let in_project =
        key.strip_prefix(&format!("{}-", jc.project)).is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    if !in_project {
        return none();
    }
    // (Jira answers a moved issue's old key with the issue under its new one.)
    let Some(t) = crate::steps::ticket::load(jira, key, jc).ok().filter(|t| t.key == key) else { return none() };
    let change_type =
        t.fields.get("issuetype").and_then(|v| v.get("name")).and_then(Value::as_str) == Some(jc.issue_type.as_str());
    let Some(record) = t.record.as_ref().filter(|r| r.binding.digest() == r.binding_digest) else { return none() };
    if !change_type || !t.status.eq_ignore_ascii_case(&jc.statuses.done) {
        return none();
    }
    let analyses = crate::steps::bot_record::analyses(&t.changelog, &jc.bot_accounts);
    let ours = crate::steps::bot_record::binding_prefix(&record.binding_digest);
    let person_approvals = t
        .approvals(&jc.statuses.approved)
        .into_iter()
        // A person who may approve: never the bot, and a configured approver
        // when approvers are configured (as `validate` counts them).
        .filter(|a| {
            !a.account_id.is_empty()
                && !jc.bot_accounts.contains(&a.account_id)
                && (jc.approvers.is_empty() || jc.approvers.contains_key(&a.account_id))
        })
        .map(|a| {
            // The latest analysis before the approval, if it was of this binding.
            let analysed =
                analyses.iter().rev().find(|(at, _)| *at < a.at).filter(|(_, d)| *d == ours).map(|(at, _)| *at);
            (a.at, analysed)
        })
        .collect();
    standing::ReviewFacts {
        key: key.to_owned(),
        environment: Some(record.binding.environment.clone()),
        stacks: record.plans.keys().cloned().collect(),
        person_approvals,
    }
}

/// Settles a drift ticket a deploy reviewed (`close` of that deploy): names
/// the deploy's ticket on it, then closes it with a comment when it is
/// still open. The name is only a pointer: the bot checks that ticket's
/// history before the drift stops counting.
/// Returns whether it closed it (false: it was closed already, and the
/// comment says it is now reviewed).
pub(crate) fn close_reviewed(
    jira: &Jira,
    config: &Config,
    key: &str,
    reviewed_in: &str,
    why: &str,
) -> Result<bool, JiraError> {
    jira.set_property(key, REVIEWED_PROPERTY, &json!({"ticket": reviewed_in}))?;
    let status = jira.issue(key, &["status"], &[])?;
    if config.jira.statuses.is_closed(status.status().unwrap_or_default()) {
        jira.comment(key, Doc::new().text(why).build())?;
        return Ok(false);
    }
    close(jira, config, key, why)?;
    Ok(true)
}

/// Closes a drift ticket with a comment; a concurrent close is no error.
pub(super) fn close(jira: &Jira, config: &Config, key: &str, why: &str) -> Result<(), JiraError> {
    let jc = &config.jira;
    let closed_now = || -> Result<bool, JiraError> {
        Ok(jc.statuses.is_closed(jira.issue(key, &["status"], &[])?.status().unwrap_or_default()))
    };
    if closed_now()? {
        return Ok(());
    }
    jira.comment(key, Doc::new().text(why).build())?;
    let mut f = Map::new();
    f.insert("resolution".into(), json!({"name": jc.resolutions.done}));
    match jira.transition(key, &jc.transitions.cancel, Some(f)) {
        Ok(()) => Ok(()),
        Err(_) if closed_now()? => Ok(()),
        // The screen takes no resolution: close without it.
        Err(JiraError::Api(e)) if e.status() == Some(400) => match jira.transition(key, &jc.transitions.cancel, None) {
            Err(_) if closed_now()? => Ok(()),
            other => other,
        },
        Err(e) => Err(e),
    }
}
