//! The drift ticket of a stream (an environment and a stack): opened when a
//! drift check finds objects changed outside Terraform, updated in place
//! while the drift lasts (a comment only when the drift changed), closed
//! with a comment when a check finds none. One ticket per stream, race-safe
//! like `request`: created with its labels and record in one call, searched
//! again naming the new issue, the lowest id kept and any other cancelled as
//! a duplicate. Drift tickets carry `changegate-drift` labels and never the
//! change tickets' labels, so the change machinery never mistakes one for a
//! deploy. [`decide`] is pure; [`record`] reads and writes Jira. Which
//! drift tickets count for the next deploy is judged in [`standing`], on
//! Jira's history rather than on fields anyone may edit, and read for
//! collection, `close` and the audit in [`open`]. See docs/drift.md.

use serde_json::{Map, Value, json};

use crate::base::digest::Sha256Digest;
use crate::base::time::Timestamp;
use crate::clients::jira::adf::{Doc, Inline};
use crate::clients::jira::{Issue, Jira, JiraError};
use crate::config::Config;
use crate::model::binding::{RECORD_PROPERTY, TicketRecord};
use crate::steps::plan::drift::DriftReport;

pub(crate) mod open;
pub(crate) mod record;
pub(crate) mod standing;

pub(crate) use self::record::{DriftRecord, LABEL, PROPERTY, stream_label};

/// An open drift ticket of the stream, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenTicket {
    /// Key.
    pub(crate) key: String,
    /// Numeric id (the lowest wins a race).
    pub(crate) id: u64,
    /// The drift digest it records, when its record reads.
    pub(crate) digest: Option<Sha256Digest>,
}

/// What to do about the stream's drift ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No drift and no open ticket: nothing.
    Nothing,
    /// Drift and no open ticket: open one.
    Open,
    /// Drift, and the open ticket already records it.
    Unchanged {
        /// The ticket.
        key: String,
        /// Other open tickets of the stream, to cancel.
        duplicates: Vec<String>,
    },
    /// Drift that differs from what the open ticket records.
    Update {
        /// The ticket.
        key: String,
        /// Other open tickets of the stream, to cancel.
        duplicates: Vec<String>,
    },
    /// No drift: close every open ticket of the stream.
    Close {
        /// The tickets.
        keys: Vec<String>,
    },
}

/// Decides what to do with the open tickets of the stream (pure).
pub(crate) fn decide(report: &DriftReport, open: &[OpenTicket]) -> Decision {
    let mut open: Vec<&OpenTicket> = open.iter().collect();
    open.sort_by_key(|t| t.id);
    if !report.drifted {
        return if open.is_empty() {
            Decision::Nothing
        } else {
            Decision::Close { keys: open.iter().map(|t| t.key.clone()).collect() }
        };
    }
    let Some(first) = open.first() else { return Decision::Open };
    let duplicates = open[1..].iter().map(|t| t.key.clone()).collect();
    if first.digest == Some(report.drift_digest) {
        Decision::Unchanged { key: first.key.clone(), duplicates }
    } else {
        Decision::Update { key: first.key.clone(), duplicates }
    }
}

fn summary(report: &DriftReport) -> String {
    let s = format!(
        "Drift: {} / {}: {} object(s) changed outside Terraform",
        report.environment,
        report.stack,
        report.resources.len()
    );
    s.chars().take(250).collect()
}

/// The ADF rendering of a drift report.
fn doc(report: &DriftReport, intro: &str) -> Value {
    let rows = report
        .resources
        .iter()
        .map(|r| {
            let reasons: Vec<&str> = r.reasons.iter().map(|x| x.code()).collect();
            vec![
                vec![Inline::Text(r.severity.as_str().into())],
                vec![Inline::Code(r.address.clone())],
                vec![Inline::Text(r.actions.join(", "))],
                vec![Inline::Text(if reasons.is_empty() { "-".into() } else { reasons.join(", ") })],
                vec![Inline::Text(r.detail.clone())],
            ]
        })
        .collect();
    Doc::new()
        .text(intro)
        .table(&["severity", "resource", "drift", "rules", "detail"], rows)
        .text(&report.verdict_line())
        .build()
}

fn open_tickets(issues: &[Issue], jira_closed: &dyn Fn(&str) -> bool) -> Vec<OpenTicket> {
    issues
        .iter()
        .filter(|i| !jira_closed(i.status().unwrap_or_default()))
        .map(|i| OpenTicket {
            key: i.key.clone(),
            id: i.numeric_id(),
            digest: i
                .properties
                .get(PROPERTY)
                .and_then(|v| serde_json::from_value::<DriftRecord>(v.clone()).ok())
                .map(|r| r.drift_digest),
        })
        .collect()
}

/// Keeps the stream's drift ticket in step with `report`; returns what was
/// done, one line each.
pub(crate) fn record(
    jira: &Jira,
    config: &Config,
    report: &DriftReport,
    now: Timestamp,
) -> Result<Vec<String>, JiraError> {
    let label = stream_label(&report.environment, &report.stack);
    let k = Keeping { jira, config, report, now, jql: stream_query(&config.jira, &label) };
    let open = k.search(&[])?;
    let mut done = Vec::new();
    let mut decision = decide(report, &open);
    if decision == Decision::Open {
        decision = k.open(&label, &mut done)?;
    }
    match &decision {
        Decision::Nothing => {
            done.push(format!("no drift ticket is open for {} / {}", report.environment, report.stack));
        }
        Decision::Open => {}
        Decision::Unchanged { key, duplicates } | Decision::Update { key, duplicates } => {
            if matches!(decision, Decision::Update { .. }) {
                k.update(key, &mut done)?;
            } else if !done.iter().any(|d| d.contains(key.as_str())) {
                done.push(format!("drift ticket {key} already records this drift"));
            }
            for dup in duplicates {
                open::close(
                    jira,
                    config,
                    dup,
                    &format!("Cancelled by changegate: a duplicate of {key} for the same stream."),
                )?;
                done.push(format!("cancelled {dup} as a duplicate of {key}"));
            }
        }
        Decision::Close { keys } => k.close_all(keys, &mut done)?,
    }
    Ok(done)
}

/// The stream's drift tickets: its label and the drift label, and, where
/// the drift check has accounts of its own, created by one of them, so an
/// issue anyone relabels is never taken for the stream's ticket (nor
/// cancels the real one as its duplicate).
fn stream_query(jc: &crate::config::jira::JiraConfig, label: &str) -> String {
    let q = crate::clients::jira::jql::string;
    let mut jql = format!("project = {} AND labels = {} AND labels = {}", q(&jc.project), q(label), q(LABEL));
    if !jc.drift_check_accounts.is_empty() {
        let accounts: Vec<String> = jc.drift_check_accounts.iter().map(|a| q(a)).collect();
        jql.push_str(&format!(" AND creator in ({})", accounts.join(", ")));
    }
    jql.push_str(" ORDER BY created ASC");
    jql
}

/// A drift stream's ticket being kept in step with a report.
struct Keeping<'a> {
    /// Jira.
    jira: &'a Jira,
    /// The configuration.
    config: &'a Config,
    /// The drift check's report.
    report: &'a DriftReport,
    /// When the check ran.
    now: Timestamp,
    /// The search for the stream's drift tickets.
    jql: String,
}

impl Keeping<'_> {
    /// The stream's open drift tickets, `reconcile` naming issues an index
    /// may not return yet.
    fn search(&self, reconcile: &[u64]) -> Result<Vec<OpenTicket>, JiraError> {
        let jc = &self.config.jira;
        let closed = |s: &str| jc.statuses.is_closed(s);
        let issues = self.jira.search(&self.jql, &["status", "labels"], &[PROPERTY], reconcile)?;
        Ok(open_tickets(&issues, &closed))
    }

    /// The ticket's record of the report, the drift found at `found_at`.
    fn record_of(&self, found_at: &str) -> DriftRecord {
        let report = self.report;
        DriftRecord {
            schema_version: 1,
            environment: report.environment.clone(),
            stack: report.stack.clone(),
            drift_digest: report.drift_digest,
            resources: report.resources.iter().map(|r| r.address.clone()).collect(),
            found_at: found_at.to_owned(),
            seen_at: self.now.to_rfc3339(),
        }
    }

    /// Opens the stream's drift ticket (labelled `label`), then settles a
    /// race with a concurrent check: the ticket to keep and the duplicates
    /// to cancel. A ticket that stays is linked to the stream's last deploy.
    fn open(&self, label: &str, done: &mut Vec<String>) -> Result<Decision, JiraError> {
        let (jira, jc, report) = (self.jira, &self.config.jira, self.report);
        let mut fields = Map::new();
        fields.insert("project".into(), json!({"key": jc.project}));
        fields.insert("issuetype".into(), json!({"name": jc.issue_type}));
        fields.insert("summary".into(), json!(summary(report)));
        fields.insert(
            "description".into(),
            doc(
                report,
                "changegate found objects that changed outside Terraform since the last apply: a console edit, a \
                 change with personal credentials, a provider upgrade. The next deploy of this stream would overwrite \
                 or re-apply them, so it goes to a person while this ticket is open.",
            ),
        );
        fields.insert("labels".into(), json!([LABEL, label]));
        let value = serde_json::to_value(self.record_of(&self.now.to_rfc3339())).expect("the record serialises");
        let created = jira.create(fields, &[(PROPERTY, value)])?;
        done.push(format!("opened drift ticket {}", created.key));
        // Settle a race: search again naming the new issue.
        let id: u64 = created.id.parse().unwrap_or(0);
        let all = self.search(&[id])?;
        let mut ids: Vec<&OpenTicket> = all.iter().collect();
        ids.sort_by_key(|t| t.id);
        Ok(match ids.first() {
            Some(first) if first.key != created.key => {
                let duplicates = ids[1..].iter().map(|t| t.key.clone()).collect();
                // The winner's record may be older than this report.
                if first.digest != Some(report.drift_digest) {
                    Decision::Update { key: first.key.clone(), duplicates }
                } else {
                    Decision::Unchanged { key: first.key.clone(), duplicates }
                }
            }
            _ => {
                let decision = Decision::Unchanged {
                    key: created.key.clone(),
                    duplicates: ids.iter().skip(1).map(|t| t.key.clone()).collect(),
                };
                if let Some(base) = last_deploy(jira, self.config, report)? {
                    jira.link_issues("Relates", &created.key, &base)?;
                    done.push(format!("linked {} to {base}, the last deploy of this stream", created.key));
                }
                decision
            }
        })
    }

    /// Records the changed drift on ticket `key`: a comment, the record
    /// (keeping when the drift was first found) and the summary.
    fn update(&self, key: &str, done: &mut Vec<String>) -> Result<(), JiraError> {
        let (jira, report, now) = (self.jira, self.report, self.now);
        let current = jira.property(key, PROPERTY)?.and_then(|v| serde_json::from_value::<DriftRecord>(v).ok());
        let found_at = current.map_or_else(|| now.to_rfc3339(), |r| r.found_at);
        jira.comment(key, doc(report, "The drift changed since this ticket last recorded it:"))?;
        let value = serde_json::to_value(self.record_of(&found_at)).expect("the record serialises");
        jira.set_property(key, PROPERTY, &value)?;
        jira.edit(key, {
            let mut f = Map::new();
            f.insert("summary".into(), json!(summary(report)));
            f
        })?;
        done.push(format!("updated drift ticket {key}: the drift changed"));
        Ok(())
    }

    /// Closes the stream's drift tickets `keys`: the check found no drift.
    /// Notes when this run's account is not one whose closes settle drift.
    fn close_all(&self, keys: &[String], done: &mut Vec<String>) -> Result<(), JiraError> {
        let (jira, config, report) = (self.jira, self.config, self.report);
        for key in keys {
            open::close(
                jira,
                config,
                key,
                &format!(
                    "Closed by changegate: the drift check at {} found no object of {} / {} changed outside Terraform.",
                    self.now.to_rfc3339(),
                    report.environment,
                    report.stack
                ),
            )?;
            done.push(format!("closed drift ticket {key}: no drift"));
        }
        // Only the drift check's own account settles drift by closing it.
        if !keys.is_empty() {
            let me = jira.myself()?.account_id;
            if !config.jira.drift_check_accounts.contains(&me) {
                done.push(format!(
                    "note: this run's Jira account ({me}) is not in [jira] drift_check_account_ids, so the bot \
                     still counts the drift as open until a person approves a deploy of the stream (docs/drift.md)"
                ));
            }
        }
        Ok(())
    }
}

/// The last change ticket of the stream that was deployed (Done): the deploy
/// whose state drifted.
fn last_deploy(jira: &Jira, config: &Config, report: &DriftReport) -> Result<Option<String>, JiraError> {
    let jc = &config.jira;
    let labels: Vec<String> = jc.labels.iter().map(|l| format!("labels = \"{l}\"")).collect();
    let mut jql = format!("project = \"{}\" AND status = \"{}\"", jc.project, jc.statuses.done);
    for l in labels {
        jql.push_str(" AND ");
        jql.push_str(&l);
    }
    jql.push_str(" ORDER BY resolutiondate DESC");
    let want = crate::config::env_key(&report.environment);
    for issue in jira.search(&jql, &["status"], &[RECORD_PROPERTY], &[])? {
        let Some(record) =
            issue.properties.get(RECORD_PROPERTY).and_then(|v| serde_json::from_value::<TicketRecord>(v.clone()).ok())
        else {
            continue;
        };
        let same_env = crate::config::env_key(&record.binding.environment) == want;
        let same_stack = record.plans.is_empty() || record.plans.contains_key(&report.stack);
        if same_env && same_stack {
            return Ok(Some(issue.key));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::plan::drift::Drifted;
    use crate::steps::plan::rules::Severity;

    fn report(addresses: &[&str]) -> DriftReport {
        let resources = addresses
            .iter()
            .map(|a| Drifted {
                address: (*a).into(),
                kind: "aws_instance".into(),
                actions: vec!["update".into()],
                reasons: Vec::new(),
                severity: Severity::Low,
                detail: "changed outside Terraform".into(),
            })
            .collect();
        DriftReport::new(None, None, resources, Sha256Digest([0; 32]), "production", "network")
    }

    fn open(key: &str, id: u64, digest: Option<Sha256Digest>) -> OpenTicket {
        OpenTicket { key: key.into(), id, digest }
    }

    #[test]
    fn drift_opens_one_ticket_and_keeps_it_in_step() {
        let r = report(&["aws_instance.a"]);
        assert_eq!(decide(&r, &[]), Decision::Open);
        assert_eq!(
            decide(&r, &[open("P-2", 2, Some(r.drift_digest))]),
            Decision::Unchanged { key: "P-2".into(), duplicates: vec![] }
        );
        let changed = report(&["aws_instance.a", "aws_instance.b"]);
        assert_eq!(
            decide(&changed, &[open("P-2", 2, Some(r.drift_digest))]),
            Decision::Update { key: "P-2".into(), duplicates: vec![] }
        );
    }

    #[test]
    fn the_lowest_id_wins_and_the_others_are_duplicates() {
        let r = report(&["aws_instance.a"]);
        assert_eq!(
            decide(&r, &[open("P-9", 9, None), open("P-3", 3, Some(r.drift_digest))]),
            Decision::Unchanged { key: "P-3".into(), duplicates: vec!["P-9".into()] }
        );
    }

    #[test]
    fn no_drift_closes_every_open_ticket_of_the_stream() {
        let none = report(&[]);
        assert_eq!(decide(&none, &[]), Decision::Nothing);
        assert_eq!(
            decide(&none, &[open("P-3", 3, None), open("P-4", 4, None)]),
            Decision::Close { keys: vec!["P-3".into(), "P-4".into()] }
        );
    }

    #[test]
    fn streams_have_their_own_labels() {
        assert_eq!(stream_label("Production ", "network"), stream_label("production", "network"));
        assert_ne!(stream_label("production", "network"), stream_label("production", "app"));
        assert!(stream_label("production", "a b").starts_with("changegate-drift-"));
        assert!(!stream_label("production", "a b").contains(' '));
    }
}
