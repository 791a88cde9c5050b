//! `changegate analyze KEY`: step 2 in one shot. Collects the evidence,
//! decides with the pure approval policy, and puts the result on the ticket:
//! an ADF comment for people, the full record attached, and a summary with
//! the record's digest in the bot's property (`changegate.bot`).
//!
//! It approves (the Approve transition) only when asked to (`--approve`,
//! which the bot passes and the orb never does), auto-approval is enabled,
//! every check passed, and no other ticket or deploy of the same stream is
//! pending when it looks again just before approving. A ticket that needs a
//! person moves to manual review.
//!
//! Idempotent: the facts' fingerprint (the record without its collection
//! time and request count) is kept in the property and written as a marker
//! in the comment; a run on unchanged facts posts nothing new.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::config::jira::{FieldType, TicketField};
use crate::decision::{self, DecideError, Decision, Recommendation, render};
use crate::digest::Sha256Digest;
use crate::evidence::Evidence;
use crate::evidence::collect::{self, CollectError, Sources};
use crate::jira::JiraError;
use crate::jira::adf::plain_text;
use crate::ticket::{self, BOT_PROPERTY};

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeArgs {
    /// The ticket.
    pub ticket: String,
    /// Collect and decide, write nothing.
    pub dry_run: bool,
    /// Approve when the policy allows it (the bot).
    pub approve: bool,
    /// SARIF files from the deploy's own job.
    pub sarif_files: Vec<PathBuf>,
}

/// What was found and done.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The record.
    pub evidence: Evidence,
    /// The decision on it.
    pub decision: Decision,
    /// The facts' fingerprint (see the module documentation).
    pub fingerprint: Sha256Digest,
    /// Lines for the log.
    pub actions: Vec<String>,
    /// A comment was posted by this run.
    pub posted: bool,
    /// The ticket was approved by this run.
    pub approved: bool,
}

/// Why the analysis could not be done (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// Collection could not start.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// The record could not be decided on.
    #[error(transparent)]
    Decide(#[from] DecideError),
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// A SARIF file could not be read.
    #[error("{0}")]
    File(String),
}

/// The fingerprint of a record's facts and its decision's reasons: its
/// JSON without the collection time and the request count, which change on
/// every run, with the reason codes (which may change with the time alone:
/// a change window opening), so a new decision is always posted anew.
pub fn fingerprint(e: &Evidence, d: &decision::Decision) -> Sha256Digest {
    let mut facts = e.clone();
    facts.collected_at = String::new();
    facts.requests = Default::default();
    let mut text = facts.to_json();
    for r in &d.reasons {
        text.push('\n');
        text.push_str(r.code.as_str());
    }
    Sha256Digest::of(text.as_bytes())
}

/// The marker that ends the comment of one analysis.
pub fn marker(fp: &Sha256Digest) -> String {
    format!("[changegate:analysis:{}]", &fp.hex()[..16])
}

/// Runs the analysis of `args.ticket`. `policy` is the effective policy
/// (where it came from, its text).
pub fn run(
    args: &AnalyzeArgs,
    config: &Config,
    policy: (&str, &str),
    src: &Sources<'_>,
) -> Result<Analysis, AnalyzeError> {
    let mut evidence = collect::collect(&args.ticket, config, policy, src)?;
    collect::add_sarif_files(&mut evidence, &args.sarif_files).map_err(|e| AnalyzeError::File(e.to_string()))?;
    // The same function `changegate decide` runs on the stored record.
    let decision = decision::decide(&evidence)?;
    let fp = fingerprint(&evidence, &decision);
    let mark = marker(&fp);
    let mut out = Analysis { evidence, decision, fingerprint: fp, actions: Vec::new(), posted: false, approved: false };
    let d = &out.decision;
    let jc = &config.jira;
    if args.dry_run {
        out.actions.push(format!("dry run: would post the analysis of {} ({})", d.ticket, mark));
        return Ok(out);
    }

    let t = ticket::load(src.jira, &args.ticket, jc)?;
    if jc.statuses.is_closed(&t.status) {
        out.actions.push(format!("{} is {}: nothing to analyse", t.key, t.status));
        return Ok(out);
    }
    let stem = &fp.hex()[..16];
    let evidence_name = format!("changegate-evidence-{stem}.json");
    let analysis_name = format!("changegate-analysis-{stem}.md");
    let recorded =
        t.bot.get("analysis").and_then(|a| a.get("fingerprint")).and_then(Value::as_str) == Some(fp.hex().as_str());
    let commented = recorded && src.jira.comments(&t.key)?.iter().any(|c| plain_text(&c.body).contains(&mark));
    if commented {
        out.actions.push(format!("the analysis of these facts is already on {} ({mark})", t.key));
    } else {
        src.jira.attach(&t.key, &evidence_name, "application/json", &out.evidence.to_bytes())?;
        out.actions.push(format!("attached the evidence record as {evidence_name} ({})", d.evidence_digest));
        let (doc, truncated) = render::adf(d, &out.evidence, &analysis_name, &mark);
        if truncated {
            src.jira.attach(&t.key, &analysis_name, "text/markdown", render::markdown(d, &out.evidence).as_bytes())?;
            out.actions.push(format!("the commit table is too long for a comment: attached {analysis_name}"));
        }
        src.jira.comment(&t.key, doc)?;
        out.posted = true;
        out.actions.push(format!(
            "posted the analysis on {}: {} ({})",
            t.key,
            d.recommendation.as_str(),
            d.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", ")
        ));

        // The bot's property: the summary and the digest of the record.
        // Other keys (receipts) are kept: a PUT replaces the whole value.
        let summary = crate::classify::AnalysisSummary::of(d);
        let class = t.record.as_ref().map(|r| crate::classify::classify(r, Some(summary)));
        let mut bot = t.bot.as_object().cloned().unwrap_or_default();
        bot.insert(
            "analysis".into(),
            json!({
                "fingerprint": fp.hex(),
                "marker": mark,
                "evidence_digest": d.evidence_digest.to_string(),
                "evidence_attachment": evidence_name,
                "decided_at": d.decided_at,
                "commit": d.commit,
                "base": d.base,
                "verdict": d.verdict,
                "recommendation": d.recommendation,
                "auto_approve": d.auto_approve,
                "risk": d.risk,
                "only_version_bumps": summary.only_version_bumps,
                "reasons": d.reasons.iter().map(|r| r.code).collect::<Vec<_>>(),
                "policy_digest": d.policy.digest.to_string(),
            }),
        );
        bot.insert("excluded_github_ids".into(), json!(d.excluded_github_ids));
        src.jira.set_property(&t.key, BOT_PROPERTY, &Value::Object(bot))?;

        let mut fields = Map::new();
        let select = |kind: FieldType, v: &str| if kind == FieldType::Select { json!({"value": v}) } else { json!(v) };
        // The ticket's risk level and change type also count its plans
        // and an emergency (see `classify`).
        let (risk, change_type) =
            class.as_ref().map_or((d.risk.as_str(), None), |c| (c.risk.as_str(), Some(c.change_type.as_str())));
        if let Some(site) = jc.site_field(TicketField::RiskLevel) {
            fields.insert(site.id, select(site.kind, risk));
        }
        if let (Some(site), Some(ct)) = (jc.site_field(TicketField::ChangeType), change_type) {
            fields.insert(site.id, select(site.kind, ct));
        }
        if let Some(c) = &class {
            out.actions.push(format!(
                "classified {}: {} change, risk {} ({})",
                t.key,
                c.change_type.as_str(),
                c.risk.as_str(),
                c.why
            ));
        }
        if let Some(site) = jc.site_field(TicketField::ScanStatus) {
            fields.insert(site.id, select(site.kind, d.scan.verdict.as_str()));
        }
        if !fields.is_empty() {
            src.jira.edit(&t.key, fields)?;
        }
    }

    // Act on the decision.
    let approved_now = t.status.eq_ignore_ascii_case(&jc.statuses.approved);
    match d.recommendation {
        Recommendation::Approve if args.approve && d.auto_approve && !approved_now => {
            // Another ticket or deploy of the stream may have started since
            // the record was collected: look again just before approving.
            let pending = collect::pending_tickets(src.jira, src.circleci, config, &out.evidence.binding, &t.key)?;
            if pending.is_empty() {
                src.jira.transition(&t.key, &jc.transitions.approve, None)?;
                out.approved = true;
                out.actions.push(format!("approved {}: every check passed", t.key));
            } else {
                let keys: Vec<&str> = pending.iter().map(|p| p.key.as_str()).collect();
                out.actions.push(format!("not approved: {} became pending meanwhile", keys.join(", ")));
                move_to_manual(&t.status, &t.key, config, src, &mut out.actions)?;
            }
        }
        Recommendation::Approve if !approved_now => out.actions.push(format!(
            "recommended approval of {}{}",
            t.key,
            if d.auto_approve { "" } else { " (auto-approval is off)" }
        )),
        Recommendation::Approve => {}
        Recommendation::ManualReview => move_to_manual(&t.status, &t.key, config, src, &mut out.actions)?,
    }
    Ok(out)
}

/// A ticket waiting for its analysis moves to manual review; one already
/// elsewhere (waiting for input, approved, in review) stays.
fn move_to_manual(
    status: &str,
    key: &str,
    config: &Config,
    src: &Sources<'_>,
    actions: &mut Vec<String>,
) -> Result<(), JiraError> {
    let s = &config.jira.statuses;
    if status.eq_ignore_ascii_case(&s.open) {
        src.jira.transition(key, &config.jira.transitions.manual_review, None)?;
        actions.push(format!("moved {key} to {}: a person must approve", s.manual_review));
    }
    Ok(())
}
