//! `changegate audit`: the security team's monthly random inspection of
//! auto-approved tickets (DESIGN.md §4.4).
//!
//! A reproducible random sample (seeded; the seed is in the report) of the
//! tickets the bot approved on its own since a date. Each is checked three
//! ways: its attached evidence record must be the one whose digest the bot
//! recorded; re-deciding that record offline must give the recorded
//! decision; and re-collecting it live, over the same range (the recorded
//! base: later deploys have moved the stream on), must still give every
//! commit and the scans the same verdicts. The report (markdown and JSON)
//! names every difference and every missing piece; with `--record KEY` the
//! inspection itself (who, when, seed, sample, outcome) is posted on a
//! ticket, the JSON report attached.

use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::decision::{self, Decision};
use crate::digest::Sha256Digest;
use crate::evidence::Evidence;
use crate::evidence::collect::{self, Sources};
use crate::jira::adf::Doc;
use crate::jira::{JiraError, jql};
use crate::ticket::BOT_PROPERTY;
use crate::time::{Date, Timestamp};

/// The largest evidence record read back.
const MAX_RECORD: u64 = 64 * 1024 * 1024;

/// What to inspect.
#[derive(Debug, Clone)]
pub struct AuditArgs {
    /// Tickets created on or after this date.
    pub since: Date,
    /// How many to sample.
    pub sample: usize,
    /// The random seed.
    pub seed: u64,
    /// Post the inspection on this ticket.
    pub record: Option<String>,
    /// The bot's public keys: the bot's records are verified with them
    /// (without them, read as they are and said so).
    pub ring: Option<crate::signing::KeyRing>,
}

/// One inspected ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspected {
    /// Ticket key.
    pub ticket: String,
    /// `reproduced`, or the first problem: `record_altered`, `evidence_missing`,
    /// `evidence_tampered`, `decision_differs`, `live_differs`, `live_incomplete`.
    pub outcome: String,
    /// Every difference or missing piece.
    pub details: Vec<String>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Version of this format.
    pub schema_version: u32,
    /// When the inspection ran.
    pub at: String,
    /// Who ran it (the Jira account).
    pub inspector: String,
    /// The window start.
    pub since: String,
    /// The seed: the same seed over the same tickets gives the same sample.
    pub seed: u64,
    /// Auto-approved tickets in the window.
    pub candidates: usize,
    /// The sample, in the order drawn.
    pub sample: Vec<String>,
    /// The result per ticket.
    pub inspected: Vec<Inspected>,
    /// Every emergency change asked for in the window, with its
    /// retrospective.
    pub emergencies: Vec<EmergencyEntry>,
    /// What got past the lock in the window, on any ticket: holds approved
    /// by someone other than the bot, pipelines triggered by the bot's user
    /// or a member of the security group (break-glass or bypass).
    pub past_the_lock: Vec<LockEntry>,
    /// `pass` when every sampled decision was reproduced, every granted
    /// emergency has a retrospective that is not overdue and nothing got past
    /// the lock, else `findings`.
    pub outcome: String,
}

/// One thing that got past the lock, as the audit reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockEntry {
    /// The change ticket of the pipeline.
    pub ticket: String,
    /// `hold_approved_by_other`, `triggered_by_bot`, `triggered_by_group_member`,
    /// `applied_without_plan`.
    pub code: String,
    /// Who and where.
    pub detail: String,
}

/// One emergency change, as the audit reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmergencyEntry {
    /// The change ticket.
    pub ticket: String,
    /// Its status.
    pub status: String,
    /// Why it could not wait.
    pub reason: String,
    /// Who triggered the pipeline.
    pub requested_by: Option<String>,
    /// Who last moved it to Approved, and when (the grant: `validate` checks
    /// the break-glass membership when it lets the deploy through).
    pub approved_by: Option<String>,
    /// When.
    pub approved_at: Option<String>,
    /// The retrospective ticket.
    pub retrospective: Option<String>,
    /// Its status.
    pub retrospective_status: Option<String>,
    /// When it is due (YYYY-MM-DD).
    pub retrospective_due: Option<String>,
    /// `ok`, `pending` (not approved: nothing deployed), `missing` (approved,
    /// no retrospective), `overdue` (open past its due date).
    pub finding: String,
}

/// Judges one emergency for the audit. Pure.
pub fn emergency_finding(approved: bool, retro: Option<(&str, bool, Option<&str>)>, today: &str) -> &'static str {
    match (approved, retro) {
        (false, None) => "pending",
        (true, None) => "missing",
        (_, Some((_, closed, due))) if !closed && due.is_some_and(|d| d < today) => "overdue",
        _ => "ok",
    }
}

/// Why the inspection could not run (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// What slipped past the lock could not be read.
    #[error("the lock: {0}")]
    Lock(String),
}

/// SplitMix64: a small, well-known generator; enough for sampling.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A reproducible sample of `n` of `candidates` (sorted first, so the order
/// the search returned them in does not matter).
pub fn sample(candidates: &[String], n: usize, seed: u64) -> Vec<String> {
    let mut pool: Vec<String> = candidates.to_vec();
    pool.sort_by_key(|k| {
        let (p, num) = k.rsplit_once('-').unwrap_or((k, "0"));
        (p.to_owned(), num.parse::<u64>().unwrap_or(0))
    });
    pool.dedup();
    let mut state = seed;
    let n = n.min(pool.len());
    for i in 0..n {
        let j = i + (next(&mut state) % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(n);
    pool
}

/// Compares a recorded analysis, the offline re-decision of its record, and
/// (when collected) the live re-decision. Pure.
pub fn compare(
    recorded: &crate::bot_record::AnalysisRecord,
    offline: &Decision,
    live: Option<&Decision>,
) -> (String, Vec<String>) {
    let mut details = Vec::new();
    let mut outcome: Option<&str> = None;
    let codes = |d: &Decision| d.reasons.iter().map(|r| r.code.as_str().to_owned()).collect::<Vec<_>>();
    let rec_reasons: Vec<String> = recorded.reasons.iter().map(|r| r.as_str().to_owned()).collect();
    if recorded.recommendation != offline.recommendation || rec_reasons != codes(offline) {
        outcome.get_or_insert("decision_differs");
        details.push(format!(
            "recorded {} {:?}, the record re-decides to {} {:?}",
            recorded.recommendation.as_str(),
            rec_reasons,
            offline.recommendation.as_str(),
            codes(offline)
        ));
    }
    if let Some(l) = live {
        let verdicts = |d: &Decision| {
            d.review
                .landings
                .iter()
                .map(|x| (x.sha.clone(), x.verdict, x.findings.first().map(|f| f.code)))
                .collect::<Vec<_>>()
        };
        let (was, now) = (verdicts(offline), verdicts(l));
        if was != now {
            outcome.get_or_insert("live_differs");
            for (a, b) in was.iter().zip(now.iter()).filter(|(a, b)| a != b) {
                details.push(format!(
                    "commit {}: recorded {} {:?}, live {} {:?}",
                    &a.0[..a.0.len().min(12)],
                    a.1.as_str(),
                    a.2.map(crate::review::Code::as_str),
                    b.1.as_str(),
                    b.2.map(crate::review::Code::as_str)
                ));
            }
            if was.len() != now.len() {
                details.push(format!("recorded {} landing(s), live {}", was.len(), now.len()));
            }
        }
        if l.scan.verdict != offline.scan.verdict {
            let missing = l.scan.verdict == crate::review::Verdict::Undecidable;
            outcome.get_or_insert(if missing { "live_incomplete" } else { "live_differs" });
            details.push(format!(
                "scans: recorded {}, live {} ({})",
                offline.scan.verdict.as_str(),
                l.scan.verdict.as_str(),
                l.scan.findings.first().map(|f| f.detail.clone()).unwrap_or_default()
            ));
        }
    }
    (outcome.unwrap_or("reproduced").to_owned(), details)
}

/// Runs the inspection.
pub fn run(
    args: &AuditArgs,
    config: &Config,
    policy: (&str, &str),
    src: &Sources<'_>,
) -> Result<AuditReport, AuditError> {
    let jc = &config.jira;
    let label = jc.labels.first().map_or_else(|| "changegate".to_owned(), Clone::clone);
    let since = format!("{:04}-{:02}-{:02}", args.since.year, args.since.month, args.since.day);
    let q = format!(
        "project = {} AND labels = {} AND created >= {} ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(&label),
        jql::string(&since)
    );
    // Auto-approved: the bot's analysis let it approve, and it did.
    let found = src.jira.search(&q, &["status"], &[BOT_PROPERTY], &[])?;
    let candidates: Vec<String> = found
        .iter()
        .filter(|i| {
            i.properties
                .get(BOT_PROPERTY)
                .and_then(crate::bot_record::unverified_analysis)
                .is_some_and(|a| a.auto_approve && a.recommendation == crate::decision::Recommendation::Approve)
        })
        .filter(|i| {
            let s = i.status().unwrap_or_default();
            [&jc.statuses.approved, &jc.statuses.done, &jc.statuses.failed].iter().any(|x| x.eq_ignore_ascii_case(s))
        })
        .map(|i| i.key.clone())
        .collect();
    let drawn = sample(&candidates, args.sample, args.seed);
    let say = |what: &dyn std::fmt::Display| src.progress.say(format_args!("audit: {what}"));
    say(&format_args!("{} auto-approved ticket(s) since {since}; inspecting {}", candidates.len(), drawn.len()));
    let mut inspected = Vec::new();
    for (i, key) in drawn.iter().enumerate() {
        say(&format_args!("{}/{}: {key}: re-deciding its record and collecting it again", i + 1, drawn.len()));
        let done = inspect(key, config, policy, src, args.ring.as_ref())?;
        say(&format_args!("{}/{}: {key}: {}", i + 1, drawn.len(), done.outcome));
        inspected.push(done);
    }
    say(&format_args!("emergency changes since {since}"));
    let emergencies = emergencies(config, src, &since)?;
    say(&format_args!("what got past the lock since {since}"));
    let past_the_lock = past_the_lock(config, src, &since)?;
    let inspector = src.jira.myself().map(|u| u.account_id).unwrap_or_else(|_| "unknown".into());
    let fine = |e: &EmergencyEntry| e.finding == "ok" || e.finding == "pending";
    let outcome = if inspected.iter().all(|i| i.outcome == "reproduced")
        && emergencies.iter().all(fine)
        && past_the_lock.is_empty()
    {
        "pass"
    } else {
        "findings"
    };
    let report = AuditReport {
        schema_version: 1,
        at: Timestamp::now().to_rfc3339(),
        inspector,
        since,
        seed: args.seed,
        candidates: candidates.len(),
        sample: drawn,
        inspected,
        emergencies,
        past_the_lock,
        outcome: outcome.to_owned(),
    };
    if let Some(record) = &args.record {
        let json = serde_json::to_string_pretty(&report).expect("serialises");
        let name = format!("changegate-audit-{}-{}.json", report.since, report.seed);
        src.jira.attach(record, &name, "application/json", json.as_bytes())?;
        let items: Vec<Vec<crate::jira::adf::Inline>> = report
            .inspected
            .iter()
            .map(|i| {
                vec![
                    crate::jira::adf::Inline::Strong(i.ticket.clone()),
                    crate::jira::adf::Inline::Text(format!(": {} {}", i.outcome, i.details.join("; "))),
                ]
            })
            .collect();
        let doc = Doc::new()
            .heading(4, &format!("changegate audit of auto-approvals since {}: {}", report.since, report.outcome))
            .text(&format!(
                "Inspected by {} at {}: {} of {} auto-approved ticket(s), seed {} (re-run with the same seed to draw the same sample). Report attached as {name}.",
                report.inspector,
                report.at,
                report.sample.len(),
                report.candidates,
                report.seed
            ))
            .bullets(items)
            .text(&format!(
                "Emergency changes in the window: {}{}",
                report.emergencies.len(),
                report
                    .emergencies
                    .iter()
                    .map(|e| format!(
                        "; {} {} (retrospective {}: {})",
                        e.ticket,
                        e.status,
                        e.retrospective.as_deref().unwrap_or("none"),
                        e.finding
                    ))
                    .collect::<String>()
            ))
            .build();
        src.jira.comment(record, doc)?;
    }
    Ok(report)
}

/// The emergency changes asked for since `since`, with their retrospectives.
/// Every ticket of the window, looked at for what got past the lock. The
/// bot's CircleCI user is `[lock] bot_login`, else this token's own user.
fn past_the_lock(config: &Config, src: &Sources<'_>, since: &str) -> Result<Vec<LockEntry>, AuditError> {
    use crate::request::binding::{RECORD_PROPERTY, TicketRecord};
    let jc = &config.jira;
    let bot = match &config.lock.bot_login {
        Some(login) => crate::converge::BotUser { id: None, login: login.clone() },
        None => {
            let me = src.circleci.me().map_err(|e| AuditError::Lock(e.to_string()))?;
            crate::converge::BotUser { id: Some(me.id), login: me.login }
        }
    };
    let label = jc.labels.first().map_or_else(|| "changegate".to_owned(), Clone::clone);
    let q = format!(
        "project = {} AND labels = {} AND created >= {} ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(&label),
        jql::string(since)
    );
    let mut out = Vec::new();
    for issue in src.jira.search(&q, &["status"], &[RECORD_PROPERTY], &[])? {
        let Some(record) = issue.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value) else { continue };
        if let Some(why) = applied_without_plan(config, &record, issue.status().unwrap_or_default()) {
            out.push(LockEntry { ticket: issue.key.clone(), code: "applied_without_plan".into(), detail: why });
        }
        if record.workflows.is_empty() {
            continue;
        }
        let found = crate::converge::slipped_of(src.circleci, Some(src.github), config, &record, &bot)
            .map_err(|e| AuditError::Lock(format!("{}: {e}", issue.key)))?;
        out.extend(found.into_iter().map(|f| LockEntry {
            ticket: issue.key.clone(),
            code: f.code().to_owned(),
            detail: f.to_string(),
        }));
    }
    Ok(out)
}

/// A Done ticket (or one `close` recorded a success for) of an environment
/// that needs a reviewed plan, with none recorded.
fn applied_without_plan(
    config: &Config,
    record: &crate::request::binding::TicketRecord,
    status: &str,
) -> Option<String> {
    let succeeded = record.rest.get("outcome").and_then(|o| o.get("result")).and_then(Value::as_str) == Some("success");
    crate::close::applied_without_plan(
        config,
        record,
        succeeded || status.eq_ignore_ascii_case(&config.jira.statuses.done),
    )
}

fn emergencies(config: &Config, src: &Sources<'_>, since: &str) -> Result<Vec<EmergencyEntry>, AuditError> {
    use crate::emergency::{EMERGENCY_LABEL, retrospective_label};
    let jc = &config.jira;
    let q = format!(
        "project = {} AND labels = {} AND created >= {} ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(EMERGENCY_LABEL),
        jql::string(since)
    );
    let today = Timestamp::now().to_rfc3339().get(..10).unwrap_or_default().to_owned();
    let mut out = Vec::new();
    for issue in src.jira.search(&q, &["status"], &[], &[])? {
        let t = crate::ticket::load(src.jira, &issue.key, jc)?;
        let asked = t.record.as_ref().and_then(|r| r.emergency.clone());
        let last = t.approvals(&jc.statuses.approved).into_iter().last();
        let rq = format!(
            "project = {} AND labels = {} ORDER BY created ASC",
            jql::string(&jc.project),
            jql::string(&retrospective_label(&t.key))
        );
        let retro = src.jira.search(&rq, &["status", "duedate"], &[], &[])?.into_iter().next();
        let retro_status = retro.as_ref().and_then(|r| r.status().map(str::to_owned));
        let retro_due = retro.as_ref().and_then(|r| r.fields.get("duedate").and_then(Value::as_str).map(str::to_owned));
        let ever_approved = last.is_some();
        let finding = emergency_finding(
            ever_approved,
            retro.as_ref().map(|r| {
                (
                    r.key.as_str(),
                    retro_status.as_deref().is_some_and(|s| jc.statuses.is_closed(s)),
                    retro_due.as_deref(),
                )
            }),
            &today,
        );
        out.push(EmergencyEntry {
            ticket: t.key.clone(),
            status: t.status.clone(),
            reason: asked.as_ref().map(|e| e.reason.clone()).unwrap_or_default(),
            requested_by: asked.and_then(|e| e.requested_by),
            approved_by: last.as_ref().map(|a| a.account_id.clone()),
            approved_at: last.map(|a| a.at.to_rfc3339()),
            retrospective: retro.map(|r| r.key),
            retrospective_status: retro_status,
            retrospective_due: retro_due,
            finding: finding.to_owned(),
        });
    }
    Ok(out)
}

fn inspect(
    key: &str,
    config: &Config,
    policy: (&str, &str),
    src: &Sources<'_>,
    ring: Option<&crate::signing::KeyRing>,
) -> Result<Inspected, AuditError> {
    use crate::bot_record::Check;
    let missing =
        |why: String| Inspected { ticket: key.to_owned(), outcome: "evidence_missing".into(), details: vec![why] };
    let issue = src.jira.issue(key, &["status"], &[BOT_PROPERTY, crate::request::binding::RECORD_PROPERTY])?;
    let raw = issue.properties.get(BOT_PROPERTY).cloned();
    let analysis = match (ring, &raw) {
        (Some(ring), _) => {
            let Some(record) = issue
                .properties
                .get(crate::request::binding::RECORD_PROPERTY)
                .and_then(crate::request::binding::TicketRecord::from_value)
            else {
                return Ok(missing("the ticket has no changegate record".into()));
            };
            let floor = crate::bot_record::seq_floor(&src.jira.changelog(key)?, &config.jira.bot_accounts);
            match crate::bot_record::check(raw.as_ref(), Some(ring), key, &record.binding_digest, floor) {
                Check::Altered { why, .. } => {
                    return Ok(Inspected {
                        ticket: key.to_owned(),
                        outcome: "record_altered".into(),
                        details: vec![why],
                    });
                }
                c => c.analysis().cloned(),
            }
        }
        (None, Some(v)) => crate::bot_record::unverified_analysis(v),
        (None, None) => None,
    };
    let Some(analysis) = analysis else {
        return Ok(missing("the bot's record holds no analysis of this binding".into()));
    };
    let name = analysis.evidence_attachment.as_str();
    let Some((id, _)) = src.jira.attachments(key)?.into_iter().rev().find(|(_, f)| f == name) else {
        return Ok(missing(format!("the attachment {name} is gone")));
    };
    let bytes = src.jira.attachment_content(&id, MAX_RECORD)?;
    let digest = Sha256Digest::of(&bytes);
    if analysis.evidence_digest != digest {
        return Ok(Inspected {
            ticket: key.to_owned(),
            outcome: "evidence_tampered".into(),
            details: vec![format!("{name} hashes to {digest}, the bot recorded {}", analysis.evidence_digest)],
        });
    }
    let evidence = match std::str::from_utf8(&bytes).map_err(|e| e.to_string()).and_then(Evidence::from_json) {
        Ok(e) => e,
        Err(e) => return Ok(missing(format!("{name} is not a readable record: {e}"))),
    };
    let offline = match decision::decide(&evidence) {
        Ok(d) => d,
        Err(e) => return Ok(missing(format!("{name} cannot be decided: {e}"))),
    };
    // Live, over the recorded range and with the recorded policy.
    let live = collect::collect_from(key, config, policy, src, Some(evidence.base.clone())).ok().and_then(|mut e| {
        e.policy = evidence.policy.clone();
        decision::decide(&e).ok()
    });
    let (outcome, mut details) = compare(&analysis, &offline, live.as_ref());
    if live.is_none() {
        details.push("the live re-collection failed".into());
    }
    Ok(Inspected { ticket: key.to_owned(), outcome, details })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emergency_needs_its_retrospective_on_time() {
        assert_eq!(emergency_finding(false, None, "2026-11-27"), "pending");
        assert_eq!(emergency_finding(true, None, "2026-11-27"), "missing");
        assert_eq!(emergency_finding(true, Some(("R-1", false, Some("2026-11-28"))), "2026-11-27"), "ok");
        assert_eq!(emergency_finding(true, Some(("R-1", false, Some("2026-11-26"))), "2026-11-27"), "overdue");
        assert_eq!(emergency_finding(true, Some(("R-1", true, Some("2026-11-26"))), "2026-11-27"), "ok");
    }

    #[test]
    fn the_sample_is_reproducible_and_independent_of_search_order() {
        let keys: Vec<String> = (1..=40).map(|n| format!("PRODCM-{n}")).collect();
        let mut shuffled = keys.clone();
        shuffled.reverse();
        let a = sample(&keys, 5, 42);
        assert_eq!(a, sample(&shuffled, 5, 42));
        assert_eq!(a.len(), 5);
        assert_ne!(a, sample(&keys, 5, 43), "another seed, another sample");
        let unique: std::collections::BTreeSet<&String> = a.iter().collect();
        assert_eq!(unique.len(), 5);
        assert_eq!(sample(&keys[..3], 10, 1).len(), 3, "never more than there are");
        // Over many seeds every ticket gets drawn: no part of the window is skipped.
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            seen.extend(sample(&keys, 3, seed));
        }
        assert_eq!(seen.len(), 40);
    }
}
