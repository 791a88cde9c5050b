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

pub(crate) mod collect;
pub(crate) mod content;
pub(crate) mod decision;
pub(crate) mod review;
pub(crate) mod scan_gate;

use std::path::PathBuf;

use serde_json::{Map, json};

use self::collect::{CollectError, Sources};
use self::decision::{DecideError, render};
use crate::base::digest::Sha256Digest;
use crate::clients::jira::JiraError;
use crate::clients::jira::adf::plain_text;
use crate::config::Config;
use crate::config::jira::{FieldType, TicketField};
use crate::model::analysis::AnalysisRecord;
use crate::model::analysis::{Decision, Recommendation};
use crate::model::evidence::Evidence;
use crate::steps::bot_record::{Store, StoreError};
use crate::steps::ticket;

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
    pub(crate) evidence: Evidence,
    /// The decision on it.
    pub decision: Decision,
    /// The facts' fingerprint (see the module documentation).
    pub fingerprint: Sha256Digest,
    /// Lines for the log.
    pub(crate) actions: Vec<String>,
    /// A comment was posted by this run.
    pub(crate) posted: bool,
    /// The ticket was approved by this run.
    pub(crate) approved: bool,
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
    /// The analysis could not be recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the analysis is recorded, and under which policy.
#[derive(Debug)]
pub struct Recorder<'a> {
    /// The bot's record (signed by the bot; unsigned without a bot);
    /// `None`: a CI job where a bot runs, which records nothing (the bot
    /// posts the analysis).
    pub store: Option<Store<'a>>,
    /// Content digest of the policy in force.
    pub policy_digest: crate::base::digest::Sha256Digest,
}

/// The fingerprint of a record's facts and its decision's reasons: its
/// JSON without the collection time and the request count, which change on
/// every run, with the reason codes (which may change with the time alone:
/// a change window opening), so a new decision is always posted anew.
pub(crate) fn fingerprint(e: &Evidence, d: &Decision) -> Sha256Digest {
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
pub(crate) fn marker(fp: &Sha256Digest) -> String {
    format!("[changegate:analysis:{}]", &fp.hex()[..16])
}

/// Runs the analysis of `args.ticket`. `policy` is the effective policy
/// (where it came from, its text).
pub fn run(
    args: &AnalyzeArgs,
    config: &Config,
    policy: (&str, &str),
    src: &Sources<'_>,
    recorder: &Recorder<'_>,
) -> Result<Analysis, AnalyzeError> {
    let (evidence, decision) = collect_and_decide(args, config, policy, src)?;
    let fp = fingerprint(&evidence, &decision);
    let mark = marker(&fp);
    let mut out = Analysis { evidence, decision, fingerprint: fp, actions: Vec::new(), posted: false, approved: false };
    let d = &out.decision;
    if args.dry_run {
        out.actions.push(format!("dry run: would post the analysis of {} ({})", d.ticket, mark));
        return Ok(out);
    }
    let Some(store) = &recorder.store else {
        out.actions.push(format!(
            "not posted: the changegate bot posts and records the analysis of {} (this job has no key to sign it)",
            d.ticket
        ));
        return Ok(out);
    };

    src.progress.say(format_args!("analyze {}: putting the analysis on the ticket", args.ticket));
    let Some((t, binding_digest)) = reread_ticket(args, config, src, &mut out)? else {
        return Ok(out);
    };
    let posting =
        Posting { config, src, store, t: &t, binding_digest, fp, mark: &mark, policy_digest: recorder.policy_digest };
    post(&posting, &mut out)?;
    act(args, config, src, &t, &mut out)?;
    Ok(out)
}

/// Collects the record of `args.ticket` and decides on it, with the same
/// function `changegate decide` runs on the stored record.
fn collect_and_decide(
    args: &AnalyzeArgs,
    config: &Config,
    policy: (&str, &str),
    src: &Sources<'_>,
) -> Result<(Evidence, Decision), AnalyzeError> {
    let mut evidence = collect::collect(&args.ticket, config, policy, src)?;
    collect::add_sarif_files(&mut evidence, &args.sarif_files).map_err(|e| AnalyzeError::File(e.to_string()))?;
    // The same function `changegate decide` runs on the stored record.
    let decision = decision::decide(&evidence)?;
    let judged =
        |v: crate::model::analysis::Verdict| decision.review.landings.iter().filter(|l| l.verdict == v).count();
    src.progress.say(format_args!(
        "analyze {}: {} landing(s) judged ({} pass, {} fail, {} undecidable), scans {}: {}",
        args.ticket,
        decision.review.landings.len(),
        judged(crate::model::analysis::Verdict::Pass),
        judged(crate::model::analysis::Verdict::Fail),
        judged(crate::model::analysis::Verdict::Undecidable),
        decision.scan.verdict.as_str(),
        decision.recommendation.as_str()
    ));
    Ok((evidence, decision))
}

/// Reads the ticket again, with the digest of its record's binding; `None`
/// (with why among the actions) when it is closed, has no record, or its
/// record is no longer of the binding the facts were collected for.
fn reread_ticket(
    args: &AnalyzeArgs,
    config: &Config,
    src: &Sources<'_>,
    out: &mut Analysis,
) -> Result<Option<(ticket::TicketState, Sha256Digest)>, AnalyzeError> {
    let jc = &config.jira;
    let t = ticket::load(&src.clients.jira, &args.ticket, jc)?;
    if jc.statuses.is_closed(&t.status) {
        out.actions.push(format!("{} is {}: nothing to analyse", t.key, t.status));
        return Ok(None);
    }
    let Some(binding_digest) = t.record.as_ref().map(|r| r.binding_digest) else {
        out.actions.push(format!("{} has no changegate record: nothing to analyse", t.key));
        return Ok(None);
    };
    // The facts were collected for the binding read then; the record must
    // still be of it, and consistent with the one binding label the history
    // records, or the analysis would be recorded for another binding.
    let labels: Vec<&str> = t.labels.iter().map(String::as_str).collect();
    if !t.record.as_ref().is_some_and(|r| ticket::bound_to(r, &labels, &out.evidence.binding)) {
        out.actions.push(format!(
            "not analysed: {}'s record changed while it was analysed, or does not match its binding label; analysed again on the next event",
            t.key
        ));
        return Ok(None);
    }
    Ok(Some((t, binding_digest)))
}

/// What putting an analysis on its ticket reads.
struct Posting<'a, 's> {
    /// The configuration.
    config: &'a Config,
    /// The services.
    src: &'a Sources<'s>,
    /// The bot's record.
    store: &'a Store<'s>,
    /// The ticket as read again.
    t: &'a ticket::TicketState,
    /// The digest of its record's binding.
    binding_digest: Sha256Digest,
    /// The facts' fingerprint.
    fp: Sha256Digest,
    /// The marker that ends the analysis's comment.
    mark: &'a str,
    /// Content digest of the policy in force.
    policy_digest: Sha256Digest,
}

/// Puts the analysis on the ticket once. Of facts already commented and
/// recorded, only the label a failed run may have left out; else the
/// evidence attached, the comment (unless there already), the bot's record
/// and the ticket's fields.
fn post(p: &Posting<'_, '_>, out: &mut Analysis) -> Result<(), AnalyzeError> {
    let (src, store, t, mark) = (p.src, p.store, p.t, p.mark);
    let stem = &p.fp.hex()[..16];
    let evidence_name = format!("changegate-evidence-{stem}.json");
    let analysis_name = format!("changegate-analysis-{stem}.md");
    let (current, _) = store.read(&t.key, &p.binding_digest)?;
    let recorded =
        current.analysis().is_some_and(|a| a.fingerprint == p.fp.hex() && a.policy_digest == p.policy_digest);
    // A comment of these very facts may be there while the record is not
    // (it was altered, or a write was lost): then the record is written
    // again with the evidence it names, and the comment is not repeated.
    let commented = src.clients.jira.comments(&t.key)?.iter().any(|c| plain_text(&c.body).contains(mark));
    if recorded && commented {
        out.actions.push(format!("the analysis of these facts is already on {} ({mark})", t.key));
        // Its label may be missing when the run that recorded it failed
        // right after: the bot adds it (only its own addition counts).
        // (Judged from the history, by the bot's accounts: a look-alike
        // label someone else added does not stand in for it.)
        if store.key.is_some() {
            let ours = crate::steps::bot_record::binding_prefix(&p.binding_digest);
            if !crate::steps::bot_record::analyses(&t.changelog, store.bot_accounts).iter().any(|(_, d)| *d == ours) {
                let seq = current.current().map_or(0, |r| r.seq);
                mark_analysed(&src.clients.jira, t, &p.binding_digest, seq)?;
            }
        }
        return Ok(());
    }
    src.clients.jira.attach(&t.key, &evidence_name, "application/json", &out.evidence.to_bytes())?;
    out.actions.push(format!("attached the evidence record as {evidence_name} ({})", out.decision.evidence_digest));
    if commented {
        out.actions.push(format!("the comment of this analysis is on {} already; its record is written anew", t.key));
    } else {
        comment(p, out, &analysis_name)?;
    }
    let class = record(p, out, evidence_name)?;
    set_fields(p, class.as_ref(), out)?;
    Ok(())
}

/// Posts the analysis as a comment; a commit table too long for a comment
/// is attached as `analysis_name` beside it.
fn comment(p: &Posting<'_, '_>, out: &mut Analysis, analysis_name: &str) -> Result<(), AnalyzeError> {
    let (jira, t, d) = (&p.src.clients.jira, p.t, &out.decision);
    let (doc, truncated) = render::adf(d, &out.evidence, analysis_name, p.mark);
    if truncated {
        let md = render::markdown(d, &out.evidence);
        jira.attach(&t.key, analysis_name, "text/markdown", md.as_bytes())?;
        out.actions.push(format!("the commit table is too long for a comment: attached {analysis_name}"));
    }
    jira.comment(&t.key, doc)?;
    out.posted = true;
    out.actions.push(format!(
        "posted the analysis on {}: {} ({})",
        t.key,
        d.recommendation.as_str(),
        d.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}

/// Writes the bot's record: the summary, the digest of the evidence
/// (attached as `evidence_name`), who may not approve, and the policy it
/// was made under; the bot marks it in Jira's history. Returns the
/// ticket's classification.
fn record(
    p: &Posting<'_, '_>,
    out: &Analysis,
    evidence_name: String,
) -> Result<Option<crate::steps::classify::Class>, AnalyzeError> {
    let (store, t, d) = (p.store, p.t, &out.decision);
    let summary = crate::steps::classify::AnalysisSummary::of(d);
    let class = t.record.as_ref().map(|r| crate::steps::classify::classify(r, Some(summary)));
    let analysis = AnalysisRecord {
        fingerprint: p.fp.hex(),
        marker: p.mark.to_owned(),
        evidence_digest: d.evidence_digest,
        evidence_attachment: evidence_name,
        decided_at: d.decided_at.clone(),
        commit: d.commit.clone(),
        base: d.base.clone(),
        verdict: d.verdict,
        recommendation: d.recommendation,
        auto_approve: d.auto_approve,
        risk: d.risk,
        only_version_bumps: summary.only_version_bumps,
        reasons: d.reasons.iter().map(|r| r.code).collect(),
        excluded_github_ids: d.excluded_github_ids.clone(),
        policy_digest: p.policy_digest,
    };
    let written = store.update(&t.key, p.binding_digest, |r| r.set_analysis(analysis.clone()))?;
    // The bot marks, in Jira's history, that it analysed this binding
    // now: an approval counts only for the binding whose analysis was
    // the latest when it was given.
    if store.key.is_some() {
        mark_analysed(&p.src.clients.jira, t, &p.binding_digest, written.seq)?;
    }
    Ok(class)
}

/// Sets the ticket's risk level, change type and scan status fields, those
/// the site has.
fn set_fields(
    p: &Posting<'_, '_>,
    class: Option<&crate::steps::classify::Class>,
    out: &mut Analysis,
) -> Result<(), AnalyzeError> {
    let (jc, t, d) = (&p.config.jira, p.t, &out.decision);
    let mut fields = Map::new();
    let select = |kind: FieldType, v: &str| if kind == FieldType::Select { json!({"value": v}) } else { json!(v) };
    // The ticket's risk level and change type also count its plans
    // and an emergency (see `classify`).
    let (risk, change_type) =
        class.map_or((d.risk.as_str(), None), |c| (c.risk.as_str(), Some(c.change_type.as_str())));
    if let Some(site) = jc.site_field(TicketField::RiskLevel) {
        fields.insert(site.id, select(site.kind, risk));
    }
    if let (Some(site), Some(ct)) = (jc.site_field(TicketField::ChangeType), change_type) {
        fields.insert(site.id, select(site.kind, ct));
    }
    if let Some(c) = class {
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
        p.src.clients.jira.edit(&t.key, fields)?;
    }
    Ok(())
}

/// Acts on the decision: approves when the policy allows it and nothing
/// else of the stream became pending, else recommends approval or moves
/// the ticket to manual review.
fn act(
    args: &AnalyzeArgs,
    config: &Config,
    src: &Sources<'_>,
    t: &ticket::TicketState,
    out: &mut Analysis,
) -> Result<(), AnalyzeError> {
    let (jc, d) = (&config.jira, &out.decision);
    let approved_now = t.status.eq_ignore_ascii_case(&jc.statuses.approved);
    match d.recommendation {
        Recommendation::Approve if args.approve && d.auto_approve && !approved_now => {
            // Another ticket or deploy of the stream may have started since
            // the record was collected: look again just before approving.
            let pending = collect::pending_tickets(
                &src.clients.jira,
                &src.clients.circleci,
                config,
                &out.evidence.binding,
                &t.key,
            )?;
            if pending.is_empty() {
                // Only if no one moved the ticket or rebound it since it
                // was read.
                if !ticket::still_bound(&src.clients.jira, &t.key, &out.evidence.binding)? {
                    out.actions.push(format!("not approved: {}'s binding changed since it was read", t.key));
                } else if ticket::transition_if_unchanged(&src.clients.jira, t, &jc.transitions.approve)? {
                    out.approved = true;
                    out.actions.push(format!("approved {}: every check passed", t.key));
                } else {
                    out.actions.push(format!("not approved: {} was moved by someone since it was read", t.key));
                }
            } else {
                let keys: Vec<&str> = pending.iter().map(|p| p.key.as_str()).collect();
                out.actions.push(format!("not approved: {} became pending meanwhile", keys.join(", ")));
                move_to_manual(t, config, src, &mut out.actions)?;
            }
        }
        Recommendation::Approve if !approved_now => out.actions.push(format!(
            "recommended approval of {}{}",
            t.key,
            if d.auto_approve { "" } else { " (auto-approval is off)" }
        )),
        Recommendation::Approve => {}
        Recommendation::ManualReview => move_to_manual(t, config, src, &mut out.actions)?,
    }
    Ok(())
}

/// Adds the label of this analysis and removes the others (the history
/// keeps them).
fn mark_analysed(
    jira: &crate::clients::jira::Jira,
    t: &ticket::TicketState,
    binding_digest: &crate::base::digest::Sha256Digest,
    seq: u64,
) -> Result<(), JiraError> {
    let label = crate::steps::bot_record::analysed_label(binding_digest, seq);
    let old: Vec<String> = t
        .labels
        .iter()
        .filter(|l| l.starts_with(crate::steps::bot_record::ANALYSED_LABEL_PREFIX) && **l != label)
        .cloned()
        .collect();
    jira.update_labels(&t.key, &[label], &old)
}

/// A ticket waiting for its analysis moves to manual review; one already
/// elsewhere (waiting for input, approved, in review) stays.
fn move_to_manual(
    t: &ticket::TicketState,
    config: &Config,
    src: &Sources<'_>,
    actions: &mut Vec<String>,
) -> Result<(), JiraError> {
    let s = &config.jira.statuses;
    // Never on a stale read: a person may have moved (approved) it since.
    if t.status.eq_ignore_ascii_case(&s.open)
        && ticket::transition_if_unchanged(&src.clients.jira, t, &config.jira.transitions.manual_review)?
    {
        actions.push(format!("moved {} to {}: a person must approve", t.key, s.manual_review));
    }
    Ok(())
}
