//! `changegate audit`: the security team's monthly random inspection of
//! auto-approved tickets (README.md, "The monthly inspection").
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

use crate::base::codes::stable_codes;
use crate::base::digest::Sha256Digest;
use crate::base::time::{Date, Timestamp};
use crate::clients::jira::adf::Doc;
use crate::clients::jira::{JiraError, jql};
use crate::config::Config;
use crate::model::analysis::Decision;
use crate::model::binding::BOT_PROPERTY;
use crate::model::evidence::Evidence;
use crate::steps::analyze::collect::{self, Sources};
use crate::steps::analyze::decision;
use crate::steps::lock::LockCode;

/// The largest evidence record read back.
const MAX_RECORD: u64 = 64 * 1024 * 1024;

/// What to inspect.
#[derive(Debug, Clone)]
pub(crate) struct AuditArgs {
    /// Tickets created on or after this date.
    pub(crate) since: Date,
    /// How many to sample.
    pub(crate) sample: usize,
    /// The random seed.
    pub(crate) seed: u64,
    /// Where the inspection is posted, if anywhere.
    pub(crate) record: Option<Target>,
    /// The bot's public keys: the bot's records are verified with them
    /// (without them, read as they are and said so).
    pub(crate) ring: Option<crate::model::signing::KeyRing>,
}

/// Where an inspection is posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// On this ticket.
    Ticket(String),
    /// On the inspection ticket of a period in the change project, found or
    /// created (one per period, race-safely: the lowest id wins).
    Period {
        /// The period, e.g. `2026-11` (a label: letters, digits, `.`, `_`, `-`).
        period: String,
        /// The issue type of a new inspection ticket.
        issue_type: String,
    },
}

/// The label of the inspection ticket of `period`.
pub(crate) fn inspection_label(period: &str) -> String {
    format!("changegate-audit-{period}")
}

/// The label of every inspection ticket.
pub(crate) const INSPECTION_LABEL: &str = "changegate-audit";

/// Is `period` usable in a label? Pure.
pub(crate) fn valid_period(period: &str) -> bool {
    !period.is_empty()
        && period.len() <= 64
        && period.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The first day of the month before `today`: the window of a monthly
/// inspection run early in the next month. Pure.
pub(crate) fn previous_month_start(today: Date) -> Date {
    let (year, month) = if today.month == 1 { (today.year - 1, 12) } else { (today.year, today.month - 1) };
    Date::new(year, month, 1).expect("the first of a month exists")
}

/// One inspected ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Inspected {
    /// Ticket key.
    pub(crate) ticket: String,
    /// `reproduced`, or the first problem found.
    pub(crate) outcome: AuditCode,
    /// Every difference or missing piece.
    pub(crate) details: Vec<String>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AuditReport {
    /// Version of this format.
    pub(crate) schema_version: u32,
    /// When the inspection ran.
    pub(crate) at: String,
    /// Who ran it (the Jira account).
    pub(crate) inspector: String,
    /// The window start.
    pub(crate) since: String,
    /// The seed: the same seed over the same tickets gives the same sample.
    pub(crate) seed: u64,
    /// Auto-approved tickets in the window.
    pub(crate) candidates: usize,
    /// The sample, in the order drawn.
    pub(crate) sample: Vec<String>,
    /// The result per ticket.
    pub(crate) inspected: Vec<Inspected>,
    /// Every emergency change asked for in the window, with its
    /// retrospective.
    pub(crate) emergencies: Vec<EmergencyEntry>,
    /// What got past the lock in the window, on any ticket: holds approved
    /// by someone other than the bot, pipelines triggered by the bot's user
    /// or a member of the security group (break-glass or bypass).
    pub(crate) past_the_lock: Vec<LockEntry>,
    /// Drift found or still open in the window (docs/drift.md): changes made
    /// outside Terraform, each a finding.
    #[serde(default)]
    pub(crate) drift: Vec<DriftEntry>,
    /// `pass` when every sampled decision was reproduced, every granted
    /// emergency has a retrospective that is not overdue, nothing got past
    /// the lock and nothing drifted, else `findings`.
    pub(crate) outcome: AuditOutcome,
    /// The ticket the inspection was posted on, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) recorded_on: Option<String>,
}

stable_codes! {
    /// Stable outcomes of inspecting one auto-approval (README.md, "The
    /// monthly inspection").
    pub(crate) enum AuditCode: "audit" in "### The monthly inspection: `changegate audit`" {
        Reproduced => "reproduced", "every check holds: the record, the offline decision and the live one agree";
        EvidenceMissing => "evidence_missing", "the record, the bot's analysis or its attached evidence is gone";
        RecordAltered => "record_altered", "the bot's record on the ticket does not verify";
        EvidenceTampered => "evidence_tampered", "the attached evidence record does not hash to the digest the bot recorded";
        DecisionDiffers => "decision_differs", "re-deciding the record offline does not give the recorded decision";
        LiveDiffers => "live_differs", "re-collecting live gives a commit or the scans another verdict";
        LiveIncomplete => "live_incomplete", "re-collecting live could not read a fact any more (e.g. an expired artifact)";
    }
}

/// One thing that got past the lock, as the audit reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LockEntry {
    /// The change ticket of the pipeline.
    pub(crate) ticket: String,
    /// What got past it.
    pub(crate) code: LockCode,
    /// Who and where.
    pub(crate) detail: String,
}

/// One drift ticket, as the audit reports it: when, what, how long open,
/// how closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DriftEntry {
    /// The drift ticket.
    pub(crate) ticket: String,
    /// Environment.
    pub(crate) environment: String,
    /// Stack.
    pub(crate) stack: String,
    /// The objects that drifted (last recorded).
    pub(crate) resources: Vec<String>,
    /// When the drift was first found.
    pub(crate) found_at: String,
    /// When the ticket was closed; `None` while open.
    pub(crate) closed_at: Option<String>,
    /// Whole days from finding to closing (or to the audit, while open).
    pub(crate) open_days: i64,
    /// `open`; `no drift found` (the scheduled check found none),
    /// `reviewed in KEY`, `closed by an approver`, `closed by the bot` or
    /// `duplicate`; or `closed, not settled: ...` when someone who may not
    /// settle drift closed it (docs/drift.md, "Who may settle drift").
    pub(crate) closed_by: String,
}

/// The audit's view of one drift ticket (pure): how long it was open and how
/// it closed, given what was read of it and its judgement
/// (docs/drift.md, "Who may settle drift").
pub(crate) fn drift_entry(
    j: &crate::steps::drift::standing::DriftFacts,
    standing: &crate::steps::drift::standing::Standing,
    closed: Option<(&str, Option<&str>)>,
    duplicate_resolution: &str,
    now: Timestamp,
) -> DriftEntry {
    use crate::steps::drift::standing::Standing;
    let found = j.created.unwrap_or(now);
    let closed_at = closed.map(|(at, _)| at.to_owned());
    let end = closed.and_then(|(at, _)| Timestamp::parse(at)).unwrap_or(now);
    let (environment, stack) = match standing {
        Standing::Counts(c) => (c.environment.clone(), c.stack.clone()),
        Standing::Settled(..) => {
            let r = crate::steps::drift::standing::trusted_record(j);
            (r.map(|r| r.environment.clone()), r.map(|r| r.stack.clone()))
        }
    };
    let closed_by = match (closed, standing) {
        (None, _) => "open".to_owned(),
        (Some((_, Some(r))), Standing::Settled(..)) if r.eq_ignore_ascii_case(duplicate_resolution) => {
            "duplicate".to_owned()
        }
        (Some(_), Standing::Settled(by, _)) => by.as_audit(),
        (Some(_), Standing::Counts(c)) => {
            format!("closed, not settled: {}", c.note.as_deref().unwrap_or("no one who may settle drift closed it"))
        }
    };
    DriftEntry {
        ticket: j.key.clone(),
        environment: environment.unwrap_or_else(|| "unknown".into()),
        stack: stack.unwrap_or_else(|| "unknown".into()),
        resources: crate::steps::drift::standing::trusted_record(j).map(|r| r.resources.clone()).unwrap_or_default(),
        found_at: found.to_rfc3339(),
        closed_at,
        open_days: (end.0 - found.0).max(0) / 86_400_000,
        closed_by,
    }
}

/// One emergency change, as the audit reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EmergencyEntry {
    /// The change ticket.
    pub(crate) ticket: String,
    /// Its status.
    pub(crate) status: String,
    /// Why it could not wait.
    pub(crate) reason: String,
    /// Who triggered the pipeline.
    pub(crate) requested_by: Option<String>,
    /// Who last moved it to Approved, and when (the grant: `validate` checks
    /// the break-glass membership when it lets the deploy through).
    pub(crate) approved_by: Option<String>,
    /// When.
    pub(crate) approved_at: Option<String>,
    /// The retrospective ticket.
    pub(crate) retrospective: Option<String>,
    /// Its status.
    pub(crate) retrospective_status: Option<String>,
    /// When it is due (YYYY-MM-DD).
    pub(crate) retrospective_due: Option<String>,
    /// What the audit finds of its retrospective.
    pub(crate) finding: EmergencyFinding,
}

stable_codes! {
    /// What the audit finds of one emergency change's retrospective.
    pub(crate) enum EmergencyFinding: "audit emergency finding" {
        Ok => "ok", "granted, and its retrospective is done or not yet due";
        Pending => "pending", "not approved: nothing was deployed";
        Missing => "missing", "approved, with no retrospective ticket";
        Overdue => "overdue", "its retrospective is open past its due date";
    }
}

impl EmergencyFinding {
    /// Whether the audit passes with it.
    pub(crate) fn is_fine(self) -> bool {
        matches!(self, EmergencyFinding::Ok | EmergencyFinding::Pending)
    }
}

stable_codes! {
    /// The outcome of a whole inspection.
    pub(crate) enum AuditOutcome: "audit outcome" {
        Pass => "pass", "every sampled decision was reproduced, every granted emergency has a retrospective that is not overdue, nothing got past the lock and nothing drifted";
        Findings => "findings", "at least one of those does not hold";
    }
}

impl AuditReport {
    /// The report in markdown: the sample, the emergencies, the lock.
    pub(crate) fn to_markdown(&self) -> String {
        use std::fmt::Write as _;
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut o = String::new();
        let _ = writeln!(o, "### changegate audit of auto-approvals since {}: {}\n", self.since, self.outcome);
        let _ = writeln!(
            o,
            "{} of {} auto-approved ticket(s) inspected by {} at {}; seed {} (`--seed {}` draws the same sample).\n",
            self.sample.len(),
            self.candidates,
            self.inspector,
            self.at,
            self.seed,
            self.seed
        );
        let _ = writeln!(o, "| Ticket | Outcome | Details |\n|---|---|---|");
        for i in &self.inspected {
            let _ = writeln!(o, "| {} | {} | {} |", i.ticket, i.outcome, cell(&i.details.join("; ")));
        }
        let _ = writeln!(o, "\n#### Emergency changes: {}\n", self.emergencies.len());
        if !self.emergencies.is_empty() {
            let _ = writeln!(
                o,
                "| Ticket | Status | Reason | Requested by | Approved by | Retrospective | Due | Finding |\n|---|---|---|---|---|---|---|---|"
            );
        }
        for e in &self.emergencies {
            let opt = |s: Option<&str>| cell(s.unwrap_or("-"));
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                e.ticket,
                e.status,
                cell(&e.reason),
                opt(e.requested_by.as_deref()),
                opt(e.approved_by.as_deref()),
                match (&e.retrospective, &e.retrospective_status) {
                    (Some(k), Some(s)) => format!("{k} ({s})"),
                    (Some(k), None) => k.clone(),
                    _ => "-".into(),
                },
                opt(e.retrospective_due.as_deref()),
                e.finding
            );
        }
        let _ = writeln!(o, "\n#### Past the lock: {}\n", self.past_the_lock.len());
        if !self.past_the_lock.is_empty() {
            let _ = writeln!(o, "| Ticket | Finding | Details |\n|---|---|---|");
        }
        for l in &self.past_the_lock {
            let _ = writeln!(o, "| {} | {} | {} |", l.ticket, l.code, cell(&l.detail));
        }
        let _ = writeln!(o, "\n#### Drift (changes outside Terraform): {}\n", self.drift.len());
        if !self.drift.is_empty() {
            let _ = writeln!(
                o,
                "| Ticket | Environment / stack | Found | Open (days) | Closed | How | Objects |\n|---|---|---|---|---|---|---|"
            );
        }
        for d in &self.drift {
            let _ = writeln!(
                o,
                "| {} | {} / {} | {} | {} | {} | {} | {} |",
                d.ticket,
                cell(&d.environment),
                cell(&d.stack),
                d.found_at,
                d.open_days,
                d.closed_at.as_deref().unwrap_or("-"),
                d.closed_by,
                cell(&d.resources.join(", "))
            );
        }
        if let Some(k) = &self.recorded_on {
            let _ = writeln!(o, "\nPosted on {k}.");
        }
        o
    }

    /// The JUnit suite: a case per inspected ticket (a failure unless its
    /// decision was reproduced), per emergency change (a failure when its
    /// retrospective is missing or overdue), and for the lock (a failure per
    /// thing that got past it).
    pub(crate) fn to_junit(&self) -> crate::base::junit::Suite {
        use crate::base::junit::{Case, Suite};
        let mut cases: Vec<Case> = self
            .inspected
            .iter()
            .map(|i| {
                let detail = i.details.join("\n");
                if i.outcome == AuditCode::Reproduced {
                    Case::passed("audit.sample", &i.ticket).with_output(detail)
                } else {
                    let first = i.details.first().map_or(String::new(), |d| format!(": {d}"));
                    Case::failed("audit.sample", &i.ticket, i.outcome.as_str(), format!("{}{first}", i.outcome), detail)
                }
            })
            .collect();
        for e in &self.emergencies {
            let text = format!(
                "{} ({}): {}; requested by {}, approved by {}; retrospective {} ({}), due {}",
                e.ticket,
                e.status,
                e.reason,
                e.requested_by.as_deref().unwrap_or("-"),
                e.approved_by.as_deref().unwrap_or("-"),
                e.retrospective.as_deref().unwrap_or("none"),
                e.retrospective_status.as_deref().unwrap_or("-"),
                e.retrospective_due.as_deref().unwrap_or("-")
            );
            let f = e.finding;
            cases.push(if f.is_fine() {
                Case::passed("audit.emergency", &e.ticket).with_output(format!("{f}: {text}"))
            } else {
                Case::failed("audit.emergency", &e.ticket, f.as_str(), format!("retrospective {f}"), text)
            });
        }
        if self.past_the_lock.is_empty() {
            cases.push(Case::passed("audit.lock", "nothing got past the lock"));
        }
        for l in &self.past_the_lock {
            cases.push(Case::failed(
                "audit.lock",
                format!("{} {}", l.ticket, l.code),
                l.code.as_str(),
                &l.detail,
                &l.detail,
            ));
        }
        for d in &self.drift {
            let text = format!(
                "{} / {}: {} object(s) changed outside Terraform, found {}, {} ({} day(s) open): {}",
                d.environment,
                d.stack,
                d.resources.len(),
                d.found_at,
                d.closed_by,
                d.open_days,
                d.resources.join(", ")
            );
            cases.push(Case::failed("audit.drift", &d.ticket, "drift", &text, &text));
        }
        Suite::new(
            format!(
                "changegate audit of auto-approvals since {}: {} (seed {}, {} of {} inspected)",
                self.since,
                self.outcome,
                self.seed,
                self.sample.len(),
                self.candidates
            ),
            cases,
        )
    }
}

/// Judges one emergency for the audit. Pure.
pub(crate) fn emergency_finding(
    approved: bool,
    retro: Option<(&str, bool, Option<&str>)>,
    today: &str,
) -> EmergencyFinding {
    match (approved, retro) {
        (false, None) => EmergencyFinding::Pending,
        (true, None) => EmergencyFinding::Missing,
        (_, Some((_, closed, due))) if !closed && due.is_some_and(|d| d < today) => EmergencyFinding::Overdue,
        _ => EmergencyFinding::Ok,
    }
}

/// Why the inspection could not run (exit 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuditError {
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// The bot's CircleCI user could not be read.
    #[error("the lock: {0}")]
    BotUser(#[source] crate::clients::http::ApiError),
    /// What slipped past the lock on a ticket could not be read.
    #[error("the lock: {ticket}: {source}")]
    Lock {
        /// The ticket whose pipelines were being read.
        ticket: String,
        /// Why.
        source: crate::steps::lock::ReadError,
    },
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
pub(crate) fn sample(candidates: &[String], n: usize, seed: u64) -> Vec<String> {
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
pub(crate) fn compare(
    recorded: &crate::model::analysis::AnalysisRecord,
    offline: &Decision,
    live: Option<&Decision>,
) -> (AuditCode, Vec<String>) {
    let mut details = Vec::new();
    let mut outcome: Option<AuditCode> = None;
    let codes = |d: &Decision| d.reasons.iter().map(|r| r.code.as_str().to_owned()).collect::<Vec<_>>();
    let rec_reasons: Vec<String> = recorded.reasons.iter().map(|r| r.as_str().to_owned()).collect();
    if recorded.recommendation != offline.recommendation || rec_reasons != codes(offline) {
        outcome.get_or_insert(AuditCode::DecisionDiffers);
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
            outcome.get_or_insert(AuditCode::LiveDiffers);
            for (a, b) in was.iter().zip(now.iter()).filter(|(a, b)| a != b) {
                details.push(format!(
                    "commit {}: recorded {} {:?}, live {} {:?}",
                    &a.0[..a.0.len().min(12)],
                    a.1.as_str(),
                    a.2.map(crate::model::analysis::Code::as_str),
                    b.1.as_str(),
                    b.2.map(crate::model::analysis::Code::as_str)
                ));
            }
            if was.len() != now.len() {
                details.push(format!("recorded {} landing(s), live {}", was.len(), now.len()));
            }
        }
        if l.scan.verdict != offline.scan.verdict {
            let missing = l.scan.verdict == crate::model::analysis::Verdict::Undecidable;
            outcome.get_or_insert(if missing { AuditCode::LiveIncomplete } else { AuditCode::LiveDiffers });
            details.push(format!(
                "scans: recorded {}, live {} ({})",
                offline.scan.verdict.as_str(),
                l.scan.verdict.as_str(),
                l.scan.findings.first().map(|f| f.detail.clone()).unwrap_or_default()
            ));
        }
    }
    (outcome.unwrap_or(AuditCode::Reproduced), details)
}

/// Runs the inspection.
pub(crate) fn run(
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
    let found = src.clients.jira.search(&q, &["status"], &[BOT_PROPERTY], &[])?;
    let candidates: Vec<String> = found
        .iter()
        .filter(|i| {
            i.properties
                .get(BOT_PROPERTY)
                .and_then(crate::model::analysis::unverified_analysis)
                .is_some_and(|a| a.auto_approve && a.recommendation == crate::model::analysis::Recommendation::Approve)
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
    say(&format_args!("drift since {since}"));
    let drift = drift(config, src, &since)?;
    let inspector = src.clients.jira.myself().map(|u| u.account_id).unwrap_or_else(|_| "unknown".into());
    let outcome = if inspected.iter().all(|i| i.outcome == AuditCode::Reproduced)
        && emergencies.iter().all(|e| e.finding.is_fine())
        && past_the_lock.is_empty()
        && drift.is_empty()
    {
        AuditOutcome::Pass
    } else {
        AuditOutcome::Findings
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
        drift,
        outcome,
        recorded_on: None,
    };
    let mut report = report;
    if let Some(target) = &args.record {
        let key = match target {
            Target::Ticket(k) => k.clone(),
            Target::Period { period, issue_type } => {
                inspection_ticket(config, &src.clients.jira, period, issue_type, &report)?
            }
        };
        report.recorded_on = Some(key.clone());
        post(&src.clients.jira, &key, &report)?;
    }
    Ok(report)
}

/// The inspection ticket of `period`: the one there is (the lowest id, when
/// a race made two), or a new one. Its labels are never the change
/// tickets' own, so neither the bot nor an audit takes it for a change.
fn inspection_ticket(
    config: &Config,
    jira: &crate::clients::jira::Jira,
    period: &str,
    issue_type: &str,
    report: &AuditReport,
) -> Result<String, AuditError> {
    let jc = &config.jira;
    let label = inspection_label(period);
    let q = format!("project = {} AND labels = {} ORDER BY created ASC", jql::string(&jc.project), jql::string(&label));
    let found = jira.search(&q, &["status"], &[], &[])?;
    if let Some(winner) = found.iter().min_by_key(|i| i.numeric_id()) {
        // Two runs that could not see each other's ticket made two: the
        // lowest id wins, the others are cancelled now.
        for dup in found.iter().filter(|i| i.key != winner.key) {
            if !jc.statuses.is_closed(dup.status().unwrap_or_default()) {
                cancel_duplicate(config, jira, &dup.key, &winner.key)?;
            }
        }
        return Ok(winner.key.clone());
    }
    let mut fields = serde_json::Map::new();
    fields.insert("project".into(), serde_json::json!({"key": jc.project}));
    fields.insert("issuetype".into(), serde_json::json!({"name": issue_type}));
    fields.insert(
        "summary".into(),
        serde_json::json!(format!("changegate audit {period}: inspection of auto-approved changes")),
    );
    fields.insert("labels".into(), serde_json::json!([INSPECTION_LABEL, label]));
    fields.insert(
        "description".into(),
        Doc::new()
            .text(&format!(
                "The security team's inspection of {period}: a random sample of the changes the changegate bot approved on its own since {}, each re-decided from its attached evidence and re-collected live, every emergency change with its retrospective, and what got past the lock.",
                report.since
            ))
            .text("Each run of `changegate audit --post` adds its report here (the JSON attached). Resolve this ticket once the findings are handled.")
            .build(),
    );
    let created = jira.create(fields, &[])?;
    // Settle a race with another run (search is eventually consistent):
    // search again naming the new issue; the lowest id wins, the other is
    // cancelled as a duplicate.
    let id: u64 = created.id.parse().unwrap_or(u64::MAX);
    let found = jira.search(&q, &["status"], &[], &[id])?;
    let winner = found.iter().min_by_key(|i| i.numeric_id()).map_or(created.key.clone(), |i| i.key.clone());
    if winner != created.key {
        cancel_duplicate(config, jira, &created.key, &winner)?;
    }
    Ok(winner)
}

/// Cancels a duplicate inspection ticket, pointing at the one kept. An
/// issue type whose workflow has no cancel transition keeps the comment
/// alone: the inspection itself is what matters.
fn cancel_duplicate(
    config: &Config,
    jira: &crate::clients::jira::Jira,
    key: &str,
    winner: &str,
) -> Result<(), AuditError> {
    let jc = &config.jira;
    crate::steps::ticket::comment_once(
        jira,
        key,
        &format!("changegate:audit-duplicate-of:{winner}"),
        Doc::new().text(&format!("A duplicate of {winner}, which holds the inspection.")),
    )?;
    let mut resolution = serde_json::Map::new();
    resolution.insert("resolution".into(), serde_json::json!({"name": jc.resolutions.duplicate}));
    match jira.transition(key, &jc.transitions.cancel, Some(resolution)) {
        Ok(()) => Ok(()),
        // The transition's screen may not take a resolution.
        Err(JiraError::Api(_)) => match jira.transition(key, &jc.transitions.cancel, None) {
            Ok(()) | Err(JiraError::TransitionUnavailable { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        },
        Err(JiraError::TransitionUnavailable { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Posts an inspection on `key`, once per seed and window: the JSON report
/// attached and a comment summing it up.
fn post(jira: &crate::clients::jira::Jira, key: &str, report: &AuditReport) -> Result<(), AuditError> {
    let marker = format!("changegate:audit:{}:{}", report.since, report.seed);
    if crate::steps::ticket::comment_markers(jira, key, &marker)?.contains(&marker) {
        return Ok(());
    }
    let json = serde_json::to_string_pretty(report).expect("serialises");
    let name = format!("changegate-audit-{}-{}.json", report.since, report.seed);
    jira.attach(key, &name, "application/json", json.as_bytes())?;
    let items: Vec<Vec<crate::clients::jira::adf::Inline>> = report
        .inspected
        .iter()
        .map(|i| {
            vec![
                crate::clients::jira::adf::Inline::Strong(i.ticket.clone()),
                crate::clients::jira::adf::Inline::Text(format!(": {} {}", i.outcome, i.details.join("; "))),
            ]
        })
        .collect();
    let lock = if report.past_the_lock.is_empty() {
        "Nothing got past the lock.".to_owned()
    } else {
        format!(
            "Past the lock: {}",
            report.past_the_lock.iter().map(|l| format!("{} {}", l.ticket, l.code)).collect::<Vec<_>>().join("; ")
        )
    };
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
        .text(&lock)
        .text(&format!("[{marker}]"))
        .build();
    jira.comment(key, doc)?;
    Ok(())
}

/// The emergency changes asked for since `since`, with their retrospectives.
/// Every ticket of the window, looked at for what got past the lock. The
/// bot's CircleCI user is `[lock] bot_login`, else this token's own user.
fn past_the_lock(config: &Config, src: &Sources<'_>, since: &str) -> Result<Vec<LockEntry>, AuditError> {
    use crate::model::binding::{RECORD_PROPERTY, TicketRecord};
    let jc = &config.jira;
    let bot = match &config.lock.bot_login {
        Some(login) => crate::steps::lock::BotUser { id: None, login: login.clone() },
        None => {
            let me = src.clients.circleci.me().map_err(AuditError::BotUser)?;
            crate::steps::lock::BotUser { id: Some(me.id), login: me.login }
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
    for issue in src.clients.jira.search(&q, &["status"], &[RECORD_PROPERTY], &[])? {
        let Some(record) = issue.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value) else { continue };
        if let Some(why) = applied_without_plan(config, &record, issue.status().unwrap_or_default()) {
            out.push(LockEntry { ticket: issue.key.clone(), code: LockCode::AppliedWithoutPlan, detail: why });
        }
        if record.workflows.is_empty() {
            continue;
        }
        let found = crate::steps::lock::slipped_of(&src.clients.circleci, src.clients.github(), config, &record, &bot)
            .map_err(|source| AuditError::Lock { ticket: issue.key.clone(), source })?;
        out.extend(found.into_iter().map(|f| LockEntry {
            ticket: issue.key.clone(),
            code: f.lock_code(),
            detail: f.to_string(),
        }));
    }
    Ok(out)
}

/// A Done ticket (or one `close` recorded a success for) of an environment
/// that needs a reviewed plan, with none recorded.
fn applied_without_plan(config: &Config, record: &crate::model::binding::TicketRecord, status: &str) -> Option<String> {
    let succeeded = record.rest.get("outcome").and_then(|o| o.get("result")).and_then(Value::as_str) == Some("success");
    crate::steps::close::applied_without_plan(
        config,
        record,
        succeeded || status.eq_ignore_ascii_case(&config.jira.statuses.done),
    )
}

/// The drift tickets found in the window, or still open in it, or closed
/// in it, each judged on its history (a record or a close anyone may make
/// changes nothing here either).
fn drift(config: &Config, src: &Sources<'_>, since: &str) -> Result<Vec<DriftEntry>, AuditError> {
    let jc = &config.jira;
    let now = Timestamp::now();
    let created = |i: &crate::clients::jira::Issue| i.fields.get("created").and_then(Value::as_str).map(jira_date);
    let resolved =
        |i: &crate::clients::jira::Issue| i.fields.get("resolutiondate").and_then(Value::as_str).map(jira_date);
    let closed_now = |i: &crate::clients::jira::Issue| jc.statuses.is_closed(i.status().unwrap_or_default());
    let in_window = |i: &crate::clients::jira::Issue| {
        created(i).is_none_or(|at| at.as_str() >= since)
            || !closed_now(i)
            || resolved(i).is_some_and(|at| at.as_str() >= since)
    };
    let mut out = Vec::new();
    for j in crate::steps::drift::open::judged(&src.clients.jira, config, None, &in_window, src.ring.is_some())? {
        let resolution = j.issue.fields.get("resolution").and_then(|r| r.get("name")).and_then(Value::as_str);
        let at = resolved(&j.issue).unwrap_or_default();
        let closed = closed_now(&j.issue).then_some((at.as_str(), resolution));
        out.push(drift_entry(&j.facts, &j.standing, closed, &jc.resolutions.duplicate, now));
    }
    Ok(out)
}

/// Jira's `2026-11-27T13:29:55.123+0000` as RFC 3339 (UTC), for comparing.
fn jira_date(s: &str) -> String {
    Timestamp::parse(s).map_or_else(|| s.to_owned(), Timestamp::to_rfc3339)
}

fn emergencies(config: &Config, src: &Sources<'_>, since: &str) -> Result<Vec<EmergencyEntry>, AuditError> {
    use crate::model::binding::EMERGENCY_LABEL;
    use crate::steps::emergency::retrospective_label;
    let jc = &config.jira;
    let q = format!(
        "project = {} AND labels = {} AND created >= {} ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(EMERGENCY_LABEL),
        jql::string(since)
    );
    let today = Timestamp::now().to_rfc3339().get(..10).unwrap_or_default().to_owned();
    let mut out = Vec::new();
    for issue in src.clients.jira.search(&q, &["status"], &[], &[])? {
        let t = crate::steps::ticket::load(&src.clients.jira, &issue.key, jc)?;
        let asked = t.record.as_ref().and_then(|r| r.emergency.clone());
        let last = t.approvals(&jc.statuses.approved).into_iter().last();
        let rq = format!(
            "project = {} AND labels = {} ORDER BY created ASC",
            jql::string(&jc.project),
            jql::string(&retrospective_label(&t.key))
        );
        let retro = src.clients.jira.search(&rq, &["status", "duedate"], &[], &[])?.into_iter().next();
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
            finding,
        });
    }
    Ok(out)
}

fn inspect(
    key: &str,
    config: &Config,
    policy: (&str, &str),
    src: &Sources<'_>,
    ring: Option<&crate::model::signing::KeyRing>,
) -> Result<Inspected, AuditError> {
    use crate::steps::bot_record::Check;
    let missing =
        |why: String| Inspected { ticket: key.to_owned(), outcome: AuditCode::EvidenceMissing, details: vec![why] };
    let issue = src.clients.jira.issue(key, &["status"], &[BOT_PROPERTY, crate::model::binding::RECORD_PROPERTY])?;
    let raw = issue.properties.get(BOT_PROPERTY).cloned();
    let analysis = match (ring, &raw) {
        (Some(ring), _) => {
            let Some(record) = issue
                .properties
                .get(crate::model::binding::RECORD_PROPERTY)
                .and_then(crate::model::binding::TicketRecord::from_value)
            else {
                return Ok(missing("the ticket has no changegate record".into()));
            };
            let floor =
                crate::steps::bot_record::seq_floor(&src.clients.jira.changelog(key)?, &config.jira.bot_accounts);
            match crate::steps::bot_record::check(raw.as_ref(), Some(ring), key, &record.binding_digest, floor) {
                Check::Altered { why, .. } => {
                    return Ok(Inspected {
                        ticket: key.to_owned(),
                        outcome: AuditCode::RecordAltered,
                        details: vec![why],
                    });
                }
                c => c.analysis().cloned(),
            }
        }
        (None, Some(v)) => crate::model::analysis::unverified_analysis(v),
        (None, None) => None,
    };
    let Some(analysis) = analysis else {
        return Ok(missing("the bot's record holds no analysis of this binding".into()));
    };
    let name = analysis.evidence_attachment.as_str();
    let Some((id, _)) = src.clients.jira.attachments(key)?.into_iter().rev().find(|(_, f)| f == name) else {
        return Ok(missing(format!("the attachment {name} is gone")));
    };
    let bytes = src.clients.jira.attachment_content(&id, MAX_RECORD)?;
    let digest = Sha256Digest::of(&bytes);
    if analysis.evidence_digest != digest {
        return Ok(Inspected {
            ticket: key.to_owned(),
            outcome: AuditCode::EvidenceTampered,
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
        assert_eq!(emergency_finding(false, None, "2026-11-27"), EmergencyFinding::Pending);
        assert_eq!(emergency_finding(true, None, "2026-11-27"), EmergencyFinding::Missing);
        assert_eq!(
            emergency_finding(true, Some(("R-1", false, Some("2026-11-28"))), "2026-11-27"),
            EmergencyFinding::Ok
        );
        assert_eq!(
            emergency_finding(true, Some(("R-1", false, Some("2026-11-26"))), "2026-11-27"),
            EmergencyFinding::Overdue
        );
        assert_eq!(
            emergency_finding(true, Some(("R-1", true, Some("2026-11-26"))), "2026-11-27"),
            EmergencyFinding::Ok
        );
    }

    #[test]
    fn drift_entries_say_how_long_and_how_they_closed() {
        use crate::steps::drift::standing::{Counted, DriftFacts, SettledBy, Standing};
        let record = crate::steps::drift::DriftRecord {
            schema_version: 1,
            environment: "production".into(),
            stack: "network".into(),
            drift_digest: crate::base::digest::Sha256Digest([0; 32]),
            resources: vec!["aws_security_group.web".into()],
            found_at: "2000-01-01T00:00:00Z".into(),
            seen_at: "2026-11-03T00:00:00Z".into(),
        };
        let created = Timestamp::parse("2026-11-02T00:00:00Z").unwrap();
        let facts = DriftFacts {
            key: "P-1".into(),
            created: Some(created),
            labels: Vec::new(),
            labels_at_creation: None,
            record: Some(record),
            closed: false,
            closing: None,
            reviewed_in: None,
        };
        let counts = |note: Option<&str>| {
            Standing::Counts(Counted {
                key: "P-1".into(),
                environment: Some("production".into()),
                stack: Some("network".into()),
                resources: 1,
                found_at: created,
                note: note.map(str::to_owned),
            })
        };
        let now = Timestamp::parse("2026-11-12T06:00:00Z").unwrap();
        let open = drift_entry(&facts, &counts(None), None, "Duplicate", now);
        assert_eq!((open.closed_by.as_str(), open.open_days), ("open", 10));
        assert_eq!(open.found_at, created.to_rfc3339(), "Jira's creation, not the record's found_at");
        let checked = Standing::Settled(SettledBy::DriftCheck, String::new());
        let closed = drift_entry(&facts, &checked, Some(("2026-11-05T00:00:00Z", Some("Done"))), "Duplicate", now);
        assert_eq!((closed.closed_by.as_str(), closed.open_days), ("no drift found", 3));
        let dup = drift_entry(&facts, &checked, Some(("2026-11-02T00:00:01Z", Some("Duplicate"))), "Duplicate", now);
        assert_eq!(dup.closed_by, "duplicate");
        let forged =
            drift_entry(&facts, &counts(Some("closed by ci")), Some(("2026-11-05T00:00:00Z", None)), "Duplicate", now);
        assert_eq!(forged.closed_by, "closed, not settled: closed by ci");
        let reviewed = Standing::Settled(SettledBy::Review("P-9".into()), String::new());
        assert_eq!(
            drift_entry(&facts, &reviewed, Some(("2026-11-05T00:00:00Z", None)), "Duplicate", now).closed_by,
            "reviewed in P-9"
        );
    }

    #[test]
    fn periods_are_labels() {
        assert!(valid_period("2026-11"));
        assert!(valid_period("2026.Q4_a"));
        assert!(!valid_period(""));
        assert!(!valid_period("nov 2026"));
        assert!(!valid_period("a\"b"));
        assert_eq!(inspection_label("2026-11"), "changegate-audit-2026-11");
    }

    #[test]
    fn the_junit_suite_has_a_case_per_inspected_ticket_emergency_and_the_lock() {
        let inspected =
            |t: &str, o: AuditCode| Inspected { ticket: t.into(), outcome: o, details: vec![format!("{o} detail")] };
        let mut r = AuditReport {
            schema_version: 1,
            at: "2026-11-27T10:00:00Z".into(),
            inspector: "sec".into(),
            since: "2026-11-01".into(),
            seed: 7,
            candidates: 9,
            sample: vec!["P-1".into(), "P-2".into()],
            inspected: vec![inspected("P-1", AuditCode::Reproduced), inspected("P-2", AuditCode::EvidenceTampered)],
            emergencies: vec![EmergencyEntry {
                ticket: "P-3".into(),
                status: "Done".into(),
                reason: "outage".into(),
                requested_by: None,
                approved_by: Some("bg".into()),
                approved_at: None,
                retrospective: None,
                retrospective_status: None,
                retrospective_due: None,
                finding: EmergencyFinding::Missing,
            }],
            past_the_lock: vec![],
            drift: Vec::new(),
            outcome: AuditOutcome::Findings,
            recorded_on: None,
        };
        let s = r.to_junit();
        let c = s.counts();
        assert_eq!((c.tests, c.failures), (4, 2), "{s:?}");
        assert_eq!(s.cases[1].name, "P-2");
        assert!(
            matches!(&s.cases[1].result, crate::base::junit::CaseResult::Failed(p) if p.kind == "evidence_tampered")
        );
        assert_eq!(s.cases[3].name, "nothing got past the lock");
        r.past_the_lock =
            vec![LockEntry { ticket: "P-4".into(), code: LockCode::TriggeredByBot, detail: "by bot".into() }];
        let c = r.to_junit().counts();
        assert_eq!((c.tests, c.failures), (4, 3));
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
