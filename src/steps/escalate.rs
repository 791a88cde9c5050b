//! `plan-check --ticket`: records a plan on its ticket and escalates a risky
//! one (step 3).
//!
//! The plan's digests and findings go into the record (per stack) and are
//! mirrored in a label so the history shows when they were recorded; the
//! findings are posted as a comment (a long table goes into an attachment).
//! A risky plan moves the ticket to manual review: the plan hold then waits
//! for a person, and `validate` before apply needs an approval given after
//! the plan was recorded. A plan already recorded is not recorded again, so
//! a repeated job changes nothing.

use serde_json::{Map, json};

use crate::base::time::Timestamp;
use crate::clients::Clients;
use crate::clients::jira::adf::{Doc, Inline};
use crate::config::Config;
use crate::config::jira::{FieldType, JiraConfig, TicketField};
use crate::model::binding::{PlanRecord, RECORD_PROPERTY, TicketRecord, mirror_text};
use crate::steps::classify::Class;
use crate::steps::plan::report::Report;
use crate::steps::request::RequestError;
use crate::steps::ticket;

/// Findings shown in the comment; the rest go to the attachment.
const COMMENT_ROWS: usize = 40;

/// What to record.
#[derive(Debug, Clone)]
pub(crate) struct EscalateArgs {
    /// The ticket.
    pub(crate) ticket: String,
    /// Stack name (several plans per deploy).
    pub(crate) stack: String,
    /// The approval job after the plan.
    pub(crate) hold: Option<String>,
    /// The workflow that planned.
    pub(crate) workflow_id: String,
}

/// What was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Escalation {
    /// The plan is risky.
    pub(crate) risky: bool,
    /// Lines for the log.
    pub(crate) actions: Vec<String>,
}

/// The risk level of a report: the highest severity, or `low`.
pub(crate) fn risk_level(report: &Report) -> &'static str {
    report.findings.iter().map(|f| f.severity).max().map_or("low", |s| s.as_str())
}

/// Records the plan and escalates it when risky.
pub(crate) fn run(
    report: &Report,
    args: &EscalateArgs,
    config: &Config,
    svc: &Clients,
) -> Result<Escalation, RequestError> {
    let jc = &config.jira;
    let t = ticket::load(&svc.jira, &args.ticket, jc)?;
    let Some(mut record) = t.record.clone() else {
        return Err(RequestError::Build(format!("{} has no changegate record: run `changegate request` first", t.key)));
    };
    if jc.statuses.is_closed(&t.status) {
        return Err(RequestError::Build(format!(
            "{} is {}: a plan cannot be recorded on a closed ticket",
            t.key, t.status
        )));
    }
    let mut actions = Vec::new();
    let label = PlanRecord::label_with(
        &args.stack,
        &report.plan_json_digest,
        report.plan_file_digest.as_ref(),
        report.plan_json_canonical_digest.as_ref(),
    );
    let already = record.plans.get(&args.stack).is_some_and(|p| p.label == label) && t.labels.contains(&label);
    if already {
        actions.push(format!("plan for stack {:?} already recorded on {}", args.stack, t.key));
        return Ok(Escalation { risky: report.risky, actions });
    }
    let previous = record.plans.insert(args.stack.clone(), plan_record(report, args, label.clone()));
    svc.jira.set_property(&t.key, RECORD_PROPERTY, &record.to_value())?;

    let (fields, class) = mirror_fields(jc, &t, &record, previous.as_ref().map(|p| p.label.as_str()), label);
    svc.jira.edit(&t.key, fields)?;
    actions.push(format!("recorded the plan for stack {:?} on {} ({})", args.stack, t.key, report.plan_json_digest));
    actions.push(format!(
        "classified {}: {} change, risk {} ({})",
        t.key,
        class.change_type.as_str(),
        class.risk.as_str(),
        class.why
    ));

    post_findings(report, &args.stack, svc, &t.key, &mut actions)?;
    route(report, args, jc, svc, &t, &mut actions)?;
    Ok(Escalation { risky: report.risky, actions })
}

/// The record of this plan on the ticket: its digests, what was found,
/// and the hold that waits for it.
fn plan_record(report: &Report, args: &EscalateArgs, label: String) -> PlanRecord {
    let mut reasons: Vec<String> =
        report.findings.iter().flat_map(|f| f.reasons.iter().map(|r| r.code().to_owned())).collect();
    reasons.sort();
    reasons.dedup();
    PlanRecord {
        json_digest: report.plan_json_digest,
        file_digest: report.plan_file_digest,
        risky: report.risky,
        reasons,
        findings: report.findings.len(),
        severity: report.risky.then(|| risk_level(report).to_owned()),
        recorded_at: Timestamp::now().to_rfc3339(),
        workflow_id: args.workflow_id.clone(),
        hold: args.hold.clone(),
        label,
        canonical_digest: report.plan_json_canonical_digest,
        rendered_by: report.rendered_by.clone(),
    }
}

/// The ticket's fields that mirror the record: the plan label in place of
/// the one it replaces (so the history records when this plan was
/// recorded), the record field, and the risk level and change type over
/// the analysis and every plan recorded, with that classification.
fn mirror_fields(
    jc: &JiraConfig,
    t: &ticket::TicketState,
    record: &TicketRecord,
    previous_label: Option<&str>,
    label: String,
) -> (Map<String, serde_json::Value>, Class) {
    // Mirror: the plan label (and the record field), so the history records
    // when this plan was recorded.
    let mut labels: Vec<String> = t.labels.iter().filter(|l| Some(l.as_str()) != previous_label).cloned().collect();
    labels.push(label);
    let mut fields = Map::new();
    fields.insert("labels".into(), json!(labels));
    if let Some(site) = jc.site_field(TicketField::Record) {
        fields.insert(site.id, json!(mirror_text(record)));
    }
    // Risk level and change type over the analysis and every plan recorded.
    let class =
        crate::steps::classify::classify(record, crate::steps::classify::AnalysisSummary::from_bot(t.bot.as_ref()));
    let select = |kind: FieldType, v: &str| if kind == FieldType::Select { json!({"value": v}) } else { json!(v) };
    if let Some(site) = jc.site_field(TicketField::RiskLevel) {
        fields.insert(site.id, select(site.kind, class.risk.as_str()));
    }
    if let Some(site) = jc.site_field(TicketField::ChangeType) {
        fields.insert(site.id, select(site.kind, class.change_type.as_str()));
    }
    (fields, class)
}

/// The findings, for people: a comment, with the full report attached
/// first when it is too long for one.
fn post_findings(
    report: &Report,
    stack: &str,
    svc: &Clients,
    key: &str,
    actions: &mut Vec<String>,
) -> Result<(), RequestError> {
    let (doc, attach) = findings_comment(report, stack);
    if let Some((name, bytes)) = attach {
        svc.jira.attach(key, &name, "application/json", &bytes)?;
        actions.push(format!("attached the full plan report as {name}"));
    }
    svc.jira.comment(key, doc)?;
    Ok(())
}

/// Where the ticket goes: a risky plan sends it to manual review (back
/// from Approved too) for a reviewer before apply; otherwise the hold may
/// be resumed at once.
fn route(
    report: &Report,
    args: &EscalateArgs,
    jc: &JiraConfig,
    svc: &Clients,
    t: &ticket::TicketState,
    actions: &mut Vec<String>,
) -> Result<(), RequestError> {
    if report.risky {
        if !t.status.eq_ignore_ascii_case(&jc.statuses.manual_review) {
            let back = if t.status.eq_ignore_ascii_case(&jc.statuses.approved) {
                &jc.transitions.send_back
            } else {
                &jc.transitions.manual_review
            };
            svc.jira.transition(&t.key, back, None)?;
            actions.push(format!(
                "moved {} to {}: the plan needs a reviewer before apply",
                t.key, jc.statuses.manual_review
            ));
        }
    } else {
        actions.push(format!(
            "the plan is not risky: the hold{} may be resumed at once",
            args.hold.as_ref().map(|h| format!(" {h}")).unwrap_or_default()
        ));
    }
    Ok(())
}

/// The findings as an ADF comment; a long table also as a JSON attachment.
fn findings_comment(report: &Report, stack: &str) -> (serde_json::Value, Option<(String, Vec<u8>)>) {
    let head = if report.risky {
        format!("Plan for stack \"{stack}\": risky, {} change(s) need review", report.findings.len())
    } else {
        format!("Plan for stack \"{stack}\": not risky")
    };
    let s = &report.summary;
    let mut doc = Doc::new().heading(4, &head).paragraph(vec![
        Inline::Text(format!(
            "{} to create, {} to update, {} to replace, {} to delete. Plan JSON ",
            s.create, s.update, s.replace, s.delete
        )),
        Inline::Code(report.plan_json_digest.to_string()),
    ]);
    if let Some(f) = &report.plan_file_digest {
        doc = doc.paragraph(vec![Inline::Text("Plan file ".into()), Inline::Code(f.to_string())]);
    }
    let rows: Vec<Vec<Vec<Inline>>> = report
        .findings
        .iter()
        .take(COMMENT_ROWS)
        .map(|f| {
            vec![
                vec![Inline::Text(f.severity.as_str().into())],
                vec![Inline::Code(f.address.clone())],
                vec![Inline::Text(f.actions.join(", "))],
                vec![Inline::Text(f.reasons.iter().map(|r| r.code()).collect::<Vec<_>>().join(", "))],
                vec![Inline::Text(if f.detail.chars().count() > 200 {
                    format!("{}...", f.detail.chars().take(197).collect::<String>())
                } else {
                    f.detail.to_string()
                })],
            ]
        })
        .collect();
    if !rows.is_empty() {
        doc = doc.table(&["Severity", "Address", "Actions", "Reasons", "Detail"], rows);
    }
    let mut attach = None;
    if report.findings.len() > COMMENT_ROWS {
        let name = format!("plan-{stack}-{}.json", &report.plan_json_digest.hex()[..12]);
        doc = doc.text(&format!("... and {} more: see the attachment {name}.", report.findings.len() - COMMENT_ROWS));
        attach = Some((name, report.to_json().into_bytes()));
    }
    for e in &report.exempted {
        doc = doc.text(&format!(
            "Exempted: {} ({}) until {}: {}",
            e.address,
            e.reasons.iter().map(|r| r.code()).collect::<Vec<_>>().join(", "),
            e.expires,
            e.justification
        ));
    }
    (doc.build(), attach)
}
