//! Which drift tickets still count: the pure judgement behind `drift_open`.
//!
//! A drift ticket is opened by a CI job (opening only tightens the gate, so
//! anyone may), and everything on it that a user with *Edit Issues* can
//! change, the CI user can: its status, its labels, its record property.
//! So its standing is judged on what Jira's history and the bot's own
//! configuration say, never on its current fields alone (docs/drift.md,
//! "Who may settle drift"):
//!
//! - **Which stream.** The stream label it was created with (the oldest
//!   labels entry of its history, or its labels when they never changed)
//!   is a digest of its environment and stack. Its record counts only when
//!   it hashes to that label; otherwise its environment is unknown and it
//!   counts for every environment.
//! - **Whether it is settled.** Open, it counts. Closed, it is settled only
//!   when the account that closed it (Jira's history) is the bot, a
//!   configured approver or the scheduled drift check's own account, or when
//!   the deploy it names as having reviewed it is verified: a person
//!   approved that change ticket after the drift was found, on an analysis
//!   of its binding made after the drift was found, for the same
//!   environment. Any other close (the CI user cancelling it by hand, say)
//!   leaves it counting, and the analysis says why.

use crate::base::time::Timestamp;

use super::record::{DriftRecord, LABEL, stream_label};

/// The facts of one drift ticket, read from Jira (plain data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DriftFacts {
    /// Its key.
    pub(crate) key: String,
    /// When Jira created it (`None`: unknown, taken as now).
    pub(crate) created: Option<Timestamp>,
    /// Its labels now.
    pub(crate) labels: Vec<String>,
    /// Its labels when it was created, from the oldest labels entry of its
    /// history (`None`: they never changed).
    pub(crate) labels_at_creation: Option<Vec<String>>,
    /// Its record, when it reads.
    pub(crate) record: Option<DriftRecord>,
    /// Whether its status is a closed one now.
    pub(crate) closed: bool,
    /// The last move into a closed status: who (accountId) and when.
    pub(crate) closing: Option<(String, Timestamp)>,
    /// The change ticket the drift ticket says reviewed it, as read.
    pub(crate) reviewed_in: Option<ReviewFacts>,
}

/// What Jira's history says about the change ticket a drift ticket names
/// as having reviewed it (plain data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReviewFacts {
    /// Its key.
    pub(crate) key: String,
    /// The environment of its current binding (`None`: no record).
    pub(crate) environment: Option<String>,
    /// The stacks whose plans it recorded (empty: none recorded).
    pub(crate) stacks: Vec<String>,
    /// Every approval by an account that is not the bot: when, and when the
    /// latest analysis of its current binding before it was recorded
    /// (`None`: the binding had no analysis then).
    pub(crate) person_approvals: Vec<(Timestamp, Option<Timestamp>)>,
}

/// Who may settle a drift ticket by closing it (the bot's configuration).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settlers<'a> {
    /// The bot's accounts.
    pub(crate) bot: &'a [String],
    /// Configured approvers' accounts.
    pub(crate) approvers: &'a [&'a str],
    /// The scheduled drift check's accounts.
    pub(crate) drift_check: &'a [String],
    /// A bot runs (its analyses date the approvals). The caller's mode, never
    /// a record's say-so: the bot judges with it set.
    pub(crate) bot_runs: bool,
}

/// Who settled a drift ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SettledBy {
    /// The bot closed it.
    Bot,
    /// A configured approver closed it.
    Approver,
    /// The scheduled drift check closed it: it found no drift.
    DriftCheck,
    /// A deploy a person approved knowing of it (the change ticket's key).
    Review(String),
}

impl SettledBy {
    /// How the audit names it.
    pub(crate) fn as_audit(&self) -> String {
        match self {
            SettledBy::Bot => "closed by the bot".into(),
            SettledBy::Approver => "closed by an approver".into(),
            SettledBy::DriftCheck => "no drift found".into(),
            SettledBy::Review(key) => format!("reviewed in {key}"),
        }
    }
}

/// A drift ticket's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Settled: it no longer counts. By whom, and why in words.
    Settled(SettledBy, String),
    /// It counts for the next deploy.
    Counts(Counted),
}

/// A drift ticket that counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counted {
    /// Its key.
    pub(crate) key: String,
    /// Its environment (`None`: unknown, so it counts for every one).
    pub(crate) environment: Option<String>,
    /// Its stack (`None`: unknown).
    pub(crate) stack: Option<String>,
    /// How many objects drifted (as last recorded; 0 when unknown).
    pub(crate) resources: usize,
    /// When it was found: Jira's creation of the ticket.
    pub(crate) found_at: Timestamp,
    /// Why it counts although it looks settled or unreadable.
    pub(crate) note: Option<String>,
}

/// Whether a ticket is a drift ticket at all: it was created with the drift
/// label, or carries it now.
pub(crate) fn is_drift_ticket(f: &DriftFacts) -> bool {
    let has = |labels: &[String]| labels.iter().any(|l| l == LABEL);
    has(&f.labels) || f.labels_at_creation.as_deref().is_some_and(has)
}

/// Its record, when it matches the stream label the ticket was opened for
/// (the only record anything is read from).
pub(crate) fn trusted_record(f: &DriftFacts) -> Option<&DriftRecord> {
    let opened = opened_stream_label(f)?;
    f.record.as_ref().filter(|r| stream_label(&r.environment, &r.stack) == opened)
}

/// The stream label a ticket was opened for: from its labels at creation
/// when it had the drift label then, else from its labels now.
fn opened_stream_label(f: &DriftFacts) -> Option<&str> {
    let prefix = format!("{LABEL}-");
    let stream = |labels: &[String]| -> Option<usize> { labels.iter().position(|l| l.starts_with(&prefix)) };
    match f.labels_at_creation.as_deref() {
        Some(at) if at.iter().any(|l| l == LABEL) => stream(at).map(|i| at[i].as_str()),
        _ => stream(&f.labels).map(|i| f.labels[i].as_str()),
    }
}

/// Judges one drift ticket (pure). `now` stands in for an unknown creation.
pub(crate) fn judge(f: &DriftFacts, who: Settlers<'_>, now: Timestamp) -> Standing {
    let found_at = f.created.unwrap_or(now);
    // Which stream: the record, only when it matches the label it was opened with.
    let opened = opened_stream_label(f);
    let trusted = f.record.as_ref().filter(|r| opened.is_some_and(|l| stream_label(&r.environment, &r.stack) == l));
    let mut notes = Vec::new();
    if trusted.is_none() {
        notes.push(if f.record.is_none() {
            "its record is missing, so its environment is unknown".to_owned()
        } else {
            "its record does not match the stream it was opened for, so its environment is unknown".to_owned()
        });
    }
    let counted = |notes: Vec<String>| {
        Standing::Counts(Counted {
            key: f.key.clone(),
            environment: trusted.map(|r| r.environment.clone()),
            stack: trusted.map(|r| r.stack.clone()),
            resources: trusted.map_or(0, |r| r.resources.len()),
            found_at,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    };
    if !f.closed {
        return counted(notes);
    }
    if let Some((account, at)) = &f.closing {
        let by = if who.bot.contains(account) {
            Some((SettledBy::Bot, "the changegate bot"))
        } else if who.approvers.contains(&account.as_str()) {
            Some((SettledBy::Approver, "an approver"))
        } else if who.drift_check.contains(account) {
            Some((SettledBy::DriftCheck, "the scheduled drift check, which found no drift"))
        } else {
            None
        };
        if let Some((by, words)) = by {
            return Standing::Settled(by, format!("closed by {words} ({account}) at {}", at.to_rfc3339()));
        }
    }
    if let Some(r) = &f.reviewed_in {
        match reviewed(f, r, found_at, who.bot_runs) {
            Ok(why) => return Standing::Settled(SettledBy::Review(r.key.clone()), why),
            Err(why) => notes.push(why),
        }
    }
    let closer = f.closing.as_ref().map(|(a, _)| a.as_str()).filter(|a| !a.is_empty()).unwrap_or("an unknown account");
    notes.push(format!(
        "it was closed by {closer}, which is neither the bot, an approver nor the drift check, and no deploy \
         approved by a person after it was found reviewed it"
    ));
    counted(notes)
}

/// Whether the change ticket a drift ticket names settled it: a person
/// approved it after the drift was found (where a bot runs: on an analysis
/// of its binding the bot recorded after the drift was found), and it was a
/// deploy of the drift's stream. The stream is proved against the label the
/// drift ticket was created with, never its record alone: the deploy's
/// environment with one of the stacks it deployed (or, when it recorded no
/// plan, the drift record's stack) must hash to that label.
pub(crate) fn reviewed(f: &DriftFacts, r: &ReviewFacts, found_at: Timestamp, bot_runs: bool) -> Result<String, String> {
    let Some(opened) = opened_stream_label(f) else {
        return Err(format!("{} cannot be matched to a stream: the drift ticket was created without one", r.key));
    };
    let Some(environment) = r.environment.as_deref() else {
        return Err(format!("{} is not a deploy changegate recorded", r.key));
    };
    let candidates: Vec<&str> = if r.stacks.is_empty() {
        f.record.iter().map(|d| d.stack.as_str()).collect()
    } else {
        r.stacks.iter().map(String::as_str).collect()
    };
    if !candidates.iter().any(|stack| stream_label(environment, stack) == opened) {
        return Err(format!("{} did not deploy the stream this drift was found in", r.key));
    }
    let seen = |(approved, analysed): &(Timestamp, Option<Timestamp>)| {
        approved.0 > found_at.0 && (!bot_runs || analysed.is_some_and(|a| a.0 > found_at.0))
    };
    match r.person_approvals.iter().find(|a| seen(a)) {
        Some((at, _)) => {
            Ok(format!("reviewed in {}: approved by a person at {}, after the drift was found", r.key, at.to_rfc3339()))
        }
        None => Err(format!("{} was not approved by a person on an analysis made after the drift was found", r.key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::digest::Sha256Digest;

    const BOT: &str = "bot";
    const ALICE: &str = "alice";
    const CHECK: &str = "drift-check";
    const CI: &str = "ci";

    fn t(s: i64) -> Timestamp {
        Timestamp(1_800_000_000_000 + s * 1000)
    }

    fn record(env: &str, stack: &str) -> DriftRecord {
        DriftRecord {
            schema_version: 1,
            environment: env.into(),
            stack: stack.into(),
            drift_digest: Sha256Digest([0; 32]),
            resources: vec!["aws_security_group.web".into()],
            found_at: "2000-01-01T00:00:00Z".into(),
            seen_at: "2000-01-01T00:00:00Z".into(),
        }
    }

    /// An open drift ticket of production / network, created at t(100).
    fn facts() -> DriftFacts {
        DriftFacts {
            key: "P-7".into(),
            created: Some(t(100)),
            labels: vec![LABEL.into(), stream_label("production", "network")],
            labels_at_creation: None,
            record: Some(record("production", "network")),
            closed: false,
            closing: None,
            reviewed_in: None,
        }
    }

    fn closed_by(account: &str) -> DriftFacts {
        DriftFacts { closed: true, closing: Some((account.into(), t(200))), ..facts() }
    }

    fn judge_(f: &DriftFacts) -> Standing {
        let bot = [BOT.to_owned()];
        let check = [CHECK.to_owned()];
        let who = Settlers { bot: &bot, approvers: &[ALICE], drift_check: &check, bot_runs: true };
        judge(f, who, t(1000))
    }

    fn counted(s: Standing) -> Counted {
        match s {
            Standing::Counts(c) => c,
            Standing::Settled(_, why) => panic!("expected it to count, it was settled: {why}"),
        }
    }

    fn review(env: &str, approvals: Vec<(Timestamp, Option<Timestamp>)>) -> ReviewFacts {
        ReviewFacts {
            key: "P-9".into(),
            environment: Some(env.into()),
            stacks: Vec::new(),
            person_approvals: approvals,
        }
    }

    #[test]
    fn an_open_ticket_counts_for_its_environment_from_jiras_creation() {
        let c = counted(judge_(&facts()));
        assert_eq!(c.environment.as_deref(), Some("production"));
        assert_eq!(c.stack.as_deref(), Some("network"));
        assert_eq!(c.found_at, t(100), "the record's found_at is not what counts");
        assert_eq!(c.note, None);
    }

    #[test]
    fn a_rewritten_record_makes_the_environment_unknown() {
        let f = DriftFacts { record: Some(record("staging", "network")), ..facts() };
        let c = counted(judge_(&f));
        assert_eq!(c.environment, None, "it counts for every environment");
        assert!(c.note.unwrap().contains("does not match the stream"));
        let f = DriftFacts { record: None, ..facts() };
        assert_eq!(counted(judge_(&f)).environment, None);
    }

    #[test]
    fn relabelling_does_not_move_a_ticket_to_another_stream() {
        // Labels and record both rewritten to staging: history keeps the
        // labels it was created with.
        let f = DriftFacts {
            labels: vec![LABEL.into(), stream_label("staging", "network")],
            labels_at_creation: Some(vec![LABEL.into(), stream_label("production", "network")]),
            record: Some(record("staging", "network")),
            ..facts()
        };
        assert_eq!(counted(judge_(&f)).environment, None);
        // The drift label removed: still a drift ticket, still production.
        let f = DriftFacts {
            labels: vec![],
            labels_at_creation: Some(vec![LABEL.into(), stream_label("production", "network")]),
            ..facts()
        };
        assert!(is_drift_ticket(&f));
        assert_eq!(counted(judge_(&f)).environment.as_deref(), Some("production"));
    }

    #[test]
    fn closes_by_the_bot_an_approver_or_the_drift_check_settle() {
        for who in [BOT, ALICE, CHECK] {
            assert!(matches!(judge_(&closed_by(who)), Standing::Settled(..)), "{who}");
        }
    }

    #[test]
    fn a_close_by_anyone_else_leaves_it_counting() {
        let c = counted(judge_(&closed_by(CI)));
        assert_eq!(c.environment.as_deref(), Some("production"));
        assert!(c.note.unwrap().contains("closed by ci"));
        let f = DriftFacts { closing: None, ..closed_by(CI) };
        assert!(matches!(judge_(&f), Standing::Counts(_)));
    }

    #[test]
    fn a_verified_review_settles_a_close_by_the_ci_user() {
        let f = DriftFacts { reviewed_in: Some(review("production", vec![(t(300), Some(t(250)))])), ..closed_by(CI) };
        assert!(matches!(judge_(&f), Standing::Settled(SettledBy::Review(k), _) if k == "P-9"));
    }

    #[test]
    fn a_claimed_review_that_history_does_not_bear_out_settles_nothing() {
        let cases = [
            ("approved before the drift was found", review("production", vec![(t(50), Some(t(40)))])),
            ("analysed before the drift was found", review("production", vec![(t(300), Some(t(90)))])),
            ("never analysed of this binding", review("production", vec![(t(300), None)])),
            ("no person approved it", review("production", vec![])),
            ("another environment", review("staging", vec![(t(300), Some(t(250)))])),
        ];
        for (what, r) in cases {
            let f = DriftFacts { reviewed_in: Some(r), ..closed_by(CI) };
            assert!(matches!(judge_(&f), Standing::Counts(_)), "{what}");
        }
        let other_stack =
            ReviewFacts { stacks: vec!["app".into()], ..review("production", vec![(t(300), Some(t(250)))]) };
        let f = DriftFacts { reviewed_in: Some(other_stack), ..closed_by(CI) };
        assert!(matches!(judge_(&f), Standing::Counts(_)), "a deploy of another stack");
    }

    #[test]
    fn without_a_bot_an_approval_after_the_drift_was_found_reviews_it() {
        let bot = [BOT.to_owned()];
        let who = Settlers { bot: &bot, approvers: &[], drift_check: &[], bot_runs: false };
        let r = review("production", vec![(t(300), None)]);
        let f = DriftFacts { reviewed_in: Some(r.clone()), ..closed_by(CI) };
        assert!(matches!(judge(&f, who, t(1000)), Standing::Settled(..)));
        // Where a bot runs, a deploy it never analysed settles nothing.
        let f = DriftFacts { reviewed_in: Some(r), ..closed_by(CI) };
        assert!(matches!(judge_(&f), Standing::Counts(_)));
    }

    #[test]
    fn an_unknown_stream_is_settled_by_a_trusted_close_or_a_deploy_proved_against_its_label() {
        let f = DriftFacts { record: None, ..closed_by(ALICE) };
        assert!(matches!(judge_(&f), Standing::Settled(..)));
        // The record gone: a deploy that names no stack proves nothing.
        let r = review("production", vec![(t(300), Some(t(250)))]);
        let f = DriftFacts { record: None, reviewed_in: Some(r), ..closed_by(CI) };
        assert!(matches!(judge_(&f), Standing::Counts(_)));
        // A deploy of production / network hashes to the label it was opened with.
        let r = ReviewFacts { stacks: vec!["network".into()], ..review("production", vec![(t(300), Some(t(250)))]) };
        let f = DriftFacts { record: None, reviewed_in: Some(r), ..closed_by(CI) };
        assert!(matches!(judge_(&f), Standing::Settled(..)));
        // A deploy of staging does not, whatever the drift's record now says.
        let r = ReviewFacts { stacks: vec!["network".into()], ..review("staging", vec![(t(300), Some(t(250)))]) };
        let f = DriftFacts { record: Some(record("staging", "network")), reviewed_in: Some(r), ..closed_by(CI) };
        assert!(matches!(judge_(&f), Standing::Counts(_)));
    }

    #[test]
    fn a_close_without_an_author_settles_nothing() {
        assert!(matches!(judge_(&closed_by("")), Standing::Counts(_)));
    }
}
