//! A ticket as the later steps see it: status, fields, labels, the CI
//! record (`changegate` property), the bot's property (`changegate.bot`) and
//! the history. Reading is the adapter ([`load`]); what the history says
//! (who approved when, when the binding or a plan changed) is derived by
//! pure functions on [`TicketState`].

use std::path::Path;

use serde_json::{Map, Value};

use crate::base::time::Timestamp;
use crate::clients::jira::{ChangelogEntry, Jira, JiraError};
use crate::config::jira::{JiraConfig, TicketField};
use crate::model::approval::Approval;
use crate::model::binding::State;
use crate::model::binding::{BOT_PROPERTY, RECORD_PROPERTY, TicketRecord, mirrored_binding};

/// Everything read about one ticket.
#[derive(Debug, Clone)]
pub(crate) struct TicketState {
    /// Key.
    pub(crate) key: String,
    /// Status name.
    pub(crate) status: String,
    /// When it was created.
    pub(crate) created: Timestamp,
    /// Fields (by site field id).
    pub(crate) fields: Map<String, Value>,
    /// Labels.
    pub(crate) labels: Vec<String>,
    /// The CI record, when present and readable.
    pub(crate) record: Option<TicketRecord>,
    /// The bot's record as stored (`changegate.bot`), unchecked: see
    /// [`crate::steps::bot_record::check`].
    pub(crate) bot: Option<Value>,
    /// The history, oldest first.
    pub(crate) changelog: Vec<ChangelogEntry>,
    /// Approvers Jira says are in the break-glass group (read only for a
    /// ticket that asked for an emergency: [`load_judged`]).
    pub(crate) break_glass: Vec<String>,
}

/// Where a command finds its ticket.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FindError {
    /// No `--ticket` and no readable state file.
    #[error("no ticket: pass --ticket KEY, or run `changegate request` first to write {path} ({why})")]
    NoState {
        /// The state file.
        path: String,
        /// Why it could not be used.
        why: String,
    },
}

/// The ticket from `--ticket`, else from the state file.
pub(crate) fn find(ticket: Option<&str>, state_file: &Path) -> Result<(String, Option<State>), FindError> {
    let state = std::fs::read_to_string(state_file)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<State>(&t).map_err(|e| format!("not a changegate state file: {e}")));
    match (ticket, state) {
        (Some(k), s) => Ok((k.to_owned(), s.ok())),
        (None, Ok(s)) => match &s.ticket {
            Some(k) => Ok((k.clone(), Some(s))),
            None => Ok((String::new(), Some(s))),
        },
        (None, Err(why)) => Err(FindError::NoState { path: state_file.display().to_string(), why }),
    }
}

/// The ticket named by `--ticket` or the state file, if any: the state
/// file is written by a CI job and decides nothing else (whether the
/// environment is controlled comes from the policy).
pub(crate) fn named(ticket: Option<&str>, state_file: &Path) -> Option<String> {
    match find(ticket, state_file) {
        Ok((k, _)) if !k.is_empty() => Some(k),
        _ => None,
    }
}

/// The live tickets bound to a pipeline and environment (either action),
/// lowest id first: for a controlled environment whose state file names no
/// ticket.
pub(crate) fn bound_to_pipeline(
    jira: &Jira,
    config: &JiraConfig,
    pipeline_id: &str,
    environment: &str,
) -> Result<Vec<String>, JiraError> {
    use crate::clients::jira::jql;
    use crate::model::binding::{DeployAction, key_label};
    let labels: Vec<String> = [DeployAction::Apply, DeployAction::Plan]
        .iter()
        .map(|a| jql::string(&key_label(pipeline_id, environment, *a)))
        .collect();
    let q = format!(
        "project = {} AND labels in ({}) ORDER BY created ASC",
        jql::string(&config.project),
        labels.join(", ")
    );
    let found = jira.search(&q, &["status"], &[RECORD_PROPERTY], &[])?;
    Ok(found
        .into_iter()
        .filter(|i| !config.statuses.is_closed(i.status().unwrap_or_default()))
        .filter(|i| {
            i.properties
                .get(RECORD_PROPERTY)
                .and_then(TicketRecord::from_value)
                .is_some_and(|r| r.binding.pipeline_id == pipeline_id)
        })
        .map(|i| i.key)
        .collect())
}

/// The last approved deploy of a repository and environment as the CI
/// records say: the latest ticket of its stream that reached Done, and the
/// commit it deployed. Without a bot, and for what is only shown (the
/// ticket's commit list); where a bot runs, [`crate::steps::bot_record::last_done_signed`].
pub(crate) fn last_done(
    jira: &Jira,
    binding: &crate::model::binding::Binding,
    config: &JiraConfig,
) -> Result<Option<(String, String)>, JiraError> {
    use crate::clients::jira::jql;
    let q = format!(
        "project = {} AND labels = {} AND status = {} ORDER BY resolutiondate DESC",
        jql::string(&config.project),
        jql::string(&binding.stream_label()),
        jql::string(&config.statuses.done)
    );
    let done = jira.search(&q, &["status"], &[RECORD_PROPERTY], &[])?;
    Ok(done.iter().find_map(|i| {
        let r = i.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value)?;
        (r.binding.project_slug == binding.project_slug && r.binding.environment == binding.environment)
            .then(|| (i.key.clone(), r.binding.commit))
    }))
}

/// Reads a ticket with what the later steps need.
pub(crate) fn load(jira: &Jira, key: &str, config: &JiraConfig) -> Result<TicketState, JiraError> {
    let mut fields: Vec<String> =
        vec!["status".into(), "labels".into(), "created".into(), "summary".into(), "issuetype".into()];
    fields.extend(config.fields.values().map(|f| f.id.clone()));
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let issue = jira.issue(key, &refs, &[RECORD_PROPERTY, BOT_PROPERTY])?;
    let changelog = jira.changelog(key)?;
    let created =
        issue.fields.get("created").and_then(Value::as_str).and_then(Timestamp::parse).unwrap_or(Timestamp(0));
    Ok(TicketState {
        key: issue.key.clone(),
        status: issue.status().unwrap_or_default().to_owned(),
        created,
        labels: issue.labels().into_iter().map(str::to_owned).collect(),
        record: issue.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value),
        bot: issue.properties.get(BOT_PROPERTY).cloned().filter(|v| !v.is_null()),
        fields: issue.fields,
        changelog,
        break_glass: Vec::new(),
    })
}

/// The id of the last history entry that changed the status.
fn last_status_change(changelog: &[ChangelogEntry]) -> Option<&str> {
    changelog
        .iter()
        .rev()
        .find(|e| e.items.iter().any(|i| i.field.eq_ignore_ascii_case("status")))
        .map(|e| e.id.as_str())
}

/// Runs `transition` on a ticket only if no one moved it since `seen` was
/// read: its status is the same and no status change was added to its
/// history. Returns whether it ran. (Jira has no compare-and-set; the
/// window left is the one between this read and the transition, and the
/// workflow keeps the bot's send-back transitions away from Approved and
/// Declined: docs/trust-model.md.)
pub(crate) fn transition_if_unchanged(jira: &Jira, seen: &TicketState, transition: &str) -> Result<bool, JiraError> {
    if moved_since(jira, seen)? {
        return Ok(false);
    }
    jira.transition(&seen.key, transition, None)?;
    Ok(true)
}

/// True when someone moved the ticket since `seen` was read: another
/// status, or another status change in its history.
pub(crate) fn moved_since(jira: &Jira, seen: &TicketState) -> Result<bool, JiraError> {
    let now = jira.issue(&seen.key, &["status"], &[])?;
    if !now.status().unwrap_or_default().eq_ignore_ascii_case(&seen.status) {
        return Ok(true);
    }
    let history = jira.changelog(&seen.key)?;
    Ok(last_status_change(&history) != last_status_change(&seen.changelog))
}

/// True when the ticket, read now, is still bound to exactly this binding:
/// its record names it (digest and binding agree) and its labels carry its
/// binding label and no other. Whatever the bot does for a binding (approve
/// it) it does only then, never on a stale read.
pub(crate) fn still_bound(jira: &Jira, key: &str, binding: &crate::model::binding::Binding) -> Result<bool, JiraError> {
    let now = jira.issue(key, &["labels"], &[crate::model::binding::RECORD_PROPERTY])?;
    let record = now.properties.get(crate::model::binding::RECORD_PROPERTY).and_then(TicketRecord::from_value);
    Ok(record.is_some_and(|r| bound_to(&r, &now.labels(), binding)))
}

/// True when `record` is consistent (its digest is its binding's), is of
/// `binding`, and `labels` carry that binding's label and no other. Pure.
pub(crate) fn bound_to(record: &TicketRecord, labels: &[&str], binding: &crate::model::binding::Binding) -> bool {
    let want = binding.binding_label();
    let mut bindings = labels.iter().filter(|l| l.starts_with("changegate-binding-"));
    record.binding == *binding
        && record.binding_digest == binding.digest()
        && bindings.next() == Some(&want.as_str())
        && bindings.next().is_none()
}

/// Posts a comment ending in `[marker]` unless one carrying it is there;
/// whether it posted.
pub(crate) fn comment_once(
    jira: &Jira,
    key: &str,
    marker: &str,
    body: crate::clients::jira::adf::Doc,
) -> Result<bool, JiraError> {
    let tag = format!("[{marker}]");
    if jira.comments(key)?.iter().any(|c| crate::clients::jira::adf::plain_text(&c.body).contains(&tag)) {
        return Ok(false);
    }
    jira.comment(key, body.text(&tag).build())?;
    Ok(true)
}

/// The `[marker]` tags starting with `prefix` in the ticket's comments.
pub(crate) fn comment_markers(jira: &Jira, key: &str, prefix: &str) -> Result<Vec<String>, JiraError> {
    Ok(jira
        .comments(key)?
        .iter()
        .flat_map(|c| {
            crate::clients::jira::adf::plain_text(&c.body)
                .split('[')
                .filter_map(|p| p.split_once(']').map(|(m, _)| m.to_owned()))
                .filter(|m| m.starts_with(prefix))
                .collect::<Vec<_>>()
        })
        .collect())
}

/// [`load`], and for a ticket that asked for an emergency, which of its
/// approvers Jira says are in the break-glass group: what the approval
/// judgements (`validate`, the bot, `resume`) need.
pub(crate) fn load_judged(jira: &Jira, key: &str, config: &crate::config::Config) -> Result<TicketState, JiraError> {
    let mut t = load(jira, key, &config.jira)?;
    let asked = t.record.as_ref().is_some_and(|r| r.emergency.is_some());
    if let (true, Some(group)) = (asked, &config.emergency.group) {
        let mut seen: Vec<String> = Vec::new();
        for a in t.approvals(&config.jira.statuses.approved) {
            if seen.contains(&a.account_id) {
                continue;
            }
            seen.push(a.account_id.clone());
            if jira.user_groups(&a.account_id)?.iter().any(|g| g == group) {
                t.break_glass.push(a.account_id);
            }
        }
    }
    Ok(t)
}

fn label_set(s: Option<&str>) -> Vec<&str> {
    s.map(|t| t.split_whitespace().collect()).unwrap_or_default()
}

/// The binding labels among a space-separated label list, sorted.
fn binding_labels(s: Option<&str>) -> Vec<&str> {
    let mut v: Vec<&str> = label_set(s).into_iter().filter(|l| l.starts_with("changegate-binding-")).collect();
    v.sort_unstable();
    v
}

impl TicketState {
    /// Every move into `approved`, oldest first.
    pub(crate) fn approvals(&self, approved: &str) -> Vec<Approval> {
        let mut out = Vec::new();
        for e in &self.changelog {
            let to_approved = e.items.iter().any(|i| {
                i.field.eq_ignore_ascii_case("status")
                    && i.to_string.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(approved))
            });
            if to_approved && let Some(at) = Timestamp::parse(&e.created) {
                out.push(Approval {
                    account_id: e.author.as_ref().map(|a| a.account_id.clone()).unwrap_or_default(),
                    at,
                });
            }
        }
        out.sort_by_key(|a| a.at);
        out
    }

    /// When the binding last changed: the creation, or the latest history
    /// entry that changed the binding label or the record field.
    pub(crate) fn binding_changed_at(&self, config: &JiraConfig) -> Timestamp {
        let record_field = config.site_field(TicketField::Record).map(|f| f.id);
        let mut at = self.created;
        for e in &self.changelog {
            let changed = e.items.iter().any(|i| {
                let label_change = i.field.eq_ignore_ascii_case("labels")
                    && binding_labels(i.from_string.as_deref()) != binding_labels(i.to_string.as_deref());
                let field_change = record_field.as_deref().is_some_and(|id| i.field_id.as_deref() == Some(id))
                    && i.from_string.as_deref().and_then(mirrored_binding)
                        != i.to_string.as_deref().and_then(mirrored_binding);
                label_change || field_change
            });
            if changed && let Some(t) = Timestamp::parse(&e.created) {
                at = at.max(t);
            }
        }
        at
    }

    /// When `label` was last added (its latest appearance in the history);
    /// the creation time if it was there from the start.
    pub(crate) fn label_added_at(&self, label: &str) -> Option<Timestamp> {
        let mut at = None;
        for e in &self.changelog {
            for i in e.items.iter().filter(|i| i.field.eq_ignore_ascii_case("labels")) {
                let before = label_set(i.from_string.as_deref()).contains(&label);
                let after = label_set(i.to_string.as_deref()).contains(&label);
                if after && !before {
                    at = Timestamp::parse(&e.created).or(at);
                }
            }
        }
        match at {
            Some(t) => Some(t),
            None if self.labels.iter().any(|l| l == label) => Some(self.created),
            None => None,
        }
    }

    /// True when the ticket's field holds something.
    pub(crate) fn field_filled(&self, id: &str) -> bool {
        match self.fields.get(id) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(Value::Object(o)) if o.get("type") == Some(&Value::String("doc".into())) => {
                !crate::clients::jira::adf::plain_text(&Value::Object(o.clone())).trim().is_empty()
            }
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::jira::{ChangeItem, User};

    fn entry(at: &str, who: &str, items: Vec<ChangeItem>) -> ChangelogEntry {
        ChangelogEntry {
            id: at.into(),
            author: Some(User { account_id: who.into(), ..User::default() }),
            created: at.into(),
            items,
        }
    }

    fn item(field: &str, from: &str, to: &str) -> ChangeItem {
        ChangeItem {
            field: field.into(),
            field_id: Some(field.into()),
            from_string: Some(from.into()),
            to_string: Some(to.into()),
        }
    }

    fn state(changelog: Vec<ChangelogEntry>) -> TicketState {
        TicketState {
            key: "P-1".into(),
            status: "Approved".into(),
            created: Timestamp::parse("2026-11-27T10:00:00.000+0000").unwrap(),
            fields: Map::new(),
            labels: vec!["changegate".into(), "changegate-binding-bbb".into(), "changegate-plan-ppp".into()],
            record: None,
            bot: None,
            changelog,
            break_glass: Vec::new(),
        }
    }

    #[test]
    fn approvals_binding_changes_and_label_times_come_from_history() {
        let s = state(vec![
            entry("2026-11-27T11:00:00.000+0000", "alice", vec![item("status", "Open", "Approved")]),
            entry(
                "2026-11-27T12:00:00.000+0000",
                "ci",
                vec![item("labels", "changegate changegate-binding-aaa", "changegate changegate-binding-bbb")],
            ),
            entry(
                "2026-11-27T12:30:00.000+0000",
                "ci",
                vec![item(
                    "labels",
                    "changegate changegate-binding-bbb",
                    "changegate changegate-binding-bbb changegate-plan-ppp",
                )],
            ),
            entry("2026-11-27T13:00:00.000+0000", "ci", vec![item("status", "Approved", "Manual review")]),
            entry("2026-11-27T14:00:00.000+0000", "bob", vec![item("status", "Manual review", "Approved")]),
        ]);
        let a = s.approvals("approved");
        assert_eq!(a.iter().map(|x| x.account_id.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
        let config = crate::config::jira::JiraConfig::default();
        assert_eq!(s.binding_changed_at(&config).to_rfc3339(), "2026-11-27T12:00:00.000Z");
        assert_eq!(s.label_added_at("changegate-plan-ppp").unwrap().to_rfc3339(), "2026-11-27T12:30:00.000Z");
        assert_eq!(s.label_added_at("changegate").unwrap(), s.created, "present from the start");
        assert_eq!(s.label_added_at("changegate-plan-zzz"), None);
    }

    #[test]
    fn other_label_changes_do_not_move_the_binding() {
        let s = state(vec![entry(
            "2026-11-27T12:00:00.000+0000",
            "ci",
            vec![item("labels", "changegate-binding-bbb", "changegate-binding-bbb team-web")],
        )]);
        assert_eq!(s.binding_changed_at(&crate::config::jira::JiraConfig::default()), s.created);
    }

    #[test]
    fn bound_only_to_a_consistent_record_of_the_binding_with_its_one_label() {
        let b = crate::model::binding::tests::binding();
        let r = TicketRecord::new(b.clone(), None);
        let label = b.binding_label();
        assert!(bound_to(&r, &[label.as_str(), "team-web"], &b));
        // No label, two binding labels, another binding's label.
        assert!(!bound_to(&r, &["team-web"], &b));
        assert!(!bound_to(&r, &[label.as_str(), "changegate-binding-0000"], &b));
        let mut other = b.clone();
        other.commit = "f".repeat(40);
        assert!(!bound_to(&r, &[other.binding_label().as_str()], &b));
        // The record of another binding, or one whose digest is not its
        // binding's.
        assert!(!bound_to(&TicketRecord::new(other.clone(), None), &[label.as_str()], &b));
        let mut forged = TicketRecord::new(other, None);
        forged.binding_digest = b.digest();
        assert!(!bound_to(&forged, &[label.as_str()], &b));
    }
}
