//! The bot's record on a ticket: everything the bot writes and later reads
//! back to decide — the analysis (with its evidence digest, decision,
//! excluded approvers and the policy it was made under), the receipts it
//! issued, the holds it resumed, the workflows it cancelled, what it told
//! people and what it reported — as one typed value, signed by the bot
//! (docs/trust-model.md, "Records the bot can trust").
//!
//! It lives in the issue property `changegate.bot`, which any user with
//! Edit Issues can overwrite and which keeps no history. So:
//!
//! - the signature covers the ticket key, the binding digest and a
//!   sequence number with the content, so another ticket's record or a
//!   record of an earlier binding never counts here;
//! - after each write the bot adds the label `changegate-bot-seq-<n>`;
//!   Jira's history records who added it, so the highest such label the
//!   bot's own account added is a floor no CI job can raise or lower, and a
//!   record older than it (a replayed earlier value) is refused;
//! - a record that fails any of this is [`Check::Altered`]: the bot treats
//!   it as absent, re-derives what it needs from the sources, says once on
//!   the ticket when it found it, and resumes nothing on it; `validate`
//!   fails on it.
//!
//! Without a bot (`--no-bot`), the `analyze` job writes the same record
//! unsigned; it then has no trust root, and says so.
//!
//! [`check`], [`seq_floor`] and the updates on [`BotRecord`] are pure;
//! [`store`] reads and writes Jira.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::base::digest::Sha256Digest;
use crate::base::time::Timestamp;
use crate::clients::jira::{ChangelogEntry, Jira, JiraError};
use crate::model::analysis::AnalysisRecord;
use crate::model::binding::BOT_PROPERTY;
use crate::model::receipt::{PlanDigests, Receipt};
use crate::model::signing::{KeyRing, Kind, Signed, SigningKey};

/// Version of the record.
pub(crate) const SCHEMA_VERSION: u32 = 1;
/// Prefix of the label that mirrors the record's sequence number.
pub(crate) const SEQ_LABEL_PREFIX: &str = "changegate-bot-seq-";
/// Prefix of the label the bot adds each time it records an analysis:
/// Jira's history dates it, so which binding the ticket's analysis was of at
/// any moment is known, and an approval counts only for that one.
pub(crate) const ANALYSED_LABEL_PREFIX: &str = "changegate-analysed-";

/// The label of one recorded analysis of a binding (its digest and the
/// record's sequence number: every analysis adds a label of its own).
pub(crate) fn analysed_label(binding_digest: &Sha256Digest, seq: u64) -> String {
    format!("{ANALYSED_LABEL_PREFIX}{}-{seq}", binding_prefix(binding_digest))
}

/// The part of an analysis label naming the binding.
pub fn binding_prefix(binding_digest: &Sha256Digest) -> String {
    binding_digest.hex()[..24].to_owned()
}

/// Every analysis the bot's accounts recorded on a ticket, oldest first:
/// when (Jira's history) and of which binding (digest prefix).
pub(crate) fn analyses(changelog: &[ChangelogEntry], bot_accounts: &[String]) -> Vec<(Timestamp, String)> {
    let mut out = Vec::new();
    for e in changelog {
        if !e.author.as_ref().is_some_and(|a| bot_accounts.contains(&a.account_id)) {
            continue;
        }
        let Some(at) = Timestamp::parse(&e.created) else { continue };
        for i in e.items.iter().filter(|i| i.field.eq_ignore_ascii_case("labels")) {
            let before: Vec<&str> = i.from_string.as_deref().unwrap_or_default().split_whitespace().collect();
            for l in i.to_string.as_deref().unwrap_or_default().split_whitespace() {
                if before.contains(&l) {
                    continue;
                }
                // `<digest>-<seq>`; labels of earlier versions had no `-<seq>`.
                if let Some(digest) = l.strip_prefix(ANALYSED_LABEL_PREFIX).and_then(|r| r.split('-').next()) {
                    out.push((at, digest.to_owned()));
                }
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// True when, at `at`, the latest analysis the bot had recorded was of this
/// binding: what an approval given then approved. Pure.
pub(crate) fn analysed_before(analyses: &[(Timestamp, String)], binding_digest: &Sha256Digest, at: Timestamp) -> bool {
    let ours = binding_prefix(binding_digest);
    analyses.iter().rev().find(|(t, _)| *t < at).is_some_and(|(_, d)| *d == ours)
}

/// One thing done, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// What was done to what (unique within its list).
    pub marker: String,
    /// When.
    pub at: String,
    /// Anything worth keeping (who approved a hold, a workflow id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The lists of marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marks {
    /// Holds resumed.
    Resumed,
    /// Workflows cancelled.
    Cancelled,
    /// Notices sent.
    Notified,
    /// Findings reported on the ticket (bypasses, an altered record).
    Reported,
}

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotRecord {
    /// [`SCHEMA_VERSION`].
    pub(crate) schema_version: u32,
    /// The ticket it belongs to.
    pub(crate) ticket: String,
    /// The binding it was written for.
    pub(crate) binding_digest: Sha256Digest,
    /// Raised by every write.
    pub seq: u64,
    /// When it was written (RFC 3339); also the signing time.
    pub written_at: String,
    /// The latest analysis.
    #[serde(default)]
    pub(crate) analysis: Option<AnalysisRecord>,
    /// Receipts issued.
    #[serde(default)]
    pub receipts: Vec<Receipt>,
    /// Holds resumed.
    #[serde(default)]
    pub(crate) resumed: Vec<Mark>,
    /// Workflows cancelled.
    #[serde(default)]
    pub(crate) cancelled: Vec<Mark>,
    /// Notices sent.
    #[serde(default)]
    pub(crate) notified: Vec<Mark>,
    /// Findings reported.
    #[serde(default)]
    pub(crate) reported: Vec<Mark>,
}

impl BotRecord {
    /// An empty record for a ticket and binding.
    pub fn new(ticket: &str, binding_digest: Sha256Digest) -> Self {
        BotRecord {
            schema_version: SCHEMA_VERSION,
            ticket: ticket.to_owned(),
            binding_digest,
            seq: 0,
            written_at: String::new(),
            analysis: None,
            receipts: Vec::new(),
            resumed: Vec::new(),
            cancelled: Vec::new(),
            notified: Vec::new(),
            reported: Vec::new(),
        }
    }

    fn list(&self, m: Marks) -> &Vec<Mark> {
        match m {
            Marks::Resumed => &self.resumed,
            Marks::Cancelled => &self.cancelled,
            Marks::Notified => &self.notified,
            Marks::Reported => &self.reported,
        }
    }

    fn list_mut(&mut self, m: Marks) -> &mut Vec<Mark> {
        match m {
            Marks::Resumed => &mut self.resumed,
            Marks::Cancelled => &mut self.cancelled,
            Marks::Notified => &mut self.notified,
            Marks::Reported => &mut self.reported,
        }
    }

    /// True when `marker` is in list `m`.
    pub fn has(&self, m: Marks, marker: &str) -> bool {
        self.list(m).iter().any(|x| x.marker == marker)
    }

    /// Adds a mark unless one with its marker is there; whether it added.
    pub fn mark(&mut self, m: Marks, mark: Mark) -> bool {
        if self.has(m, &mark.marker) {
            return false;
        }
        self.list_mut(m).push(mark);
        true
    }

    /// The receipt for exactly this binding, stack and plan, if issued.
    pub fn receipt_for(
        &self,
        ticket: &str,
        binding: &crate::model::binding::Binding,
        plan: Option<(&str, &PlanDigests)>,
        policy: &Sha256Digest,
    ) -> Option<&Receipt> {
        self.receipts.iter().find(|r| r.payload.covers(ticket, binding, plan) && r.payload.policy_digest == *policy)
    }

    /// Adds a receipt unless one for the same binding, plan and policy is
    /// there; whether it added.
    pub fn add_receipt(&mut self, r: Receipt) -> bool {
        let p = &r.payload;
        let plan = p.stack.as_deref().zip(p.plan.as_ref());
        if self.receipt_for(&p.ticket, &p.binding, plan, &p.policy_digest).is_some() {
            return false;
        }
        self.receipts.push(r);
        true
    }

    /// Sets the analysis unless the same one (by fingerprint and policy) is
    /// there; whether it changed.
    pub fn set_analysis(&mut self, a: AnalysisRecord) -> bool {
        if self.analysis.as_ref().is_some_and(|x| x.fingerprint == a.fingerprint && x.policy_digest == a.policy_digest)
        {
            return false;
        }
        self.analysis = Some(a);
        true
    }
}

/// What the property says, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Nothing written yet.
    Absent,
    /// Signed by the bot for this ticket and binding, and current.
    Verified(BotRecord),
    /// Signed by the bot for this ticket, for an earlier binding (a rebind):
    /// nothing in it counts for the current one.
    OtherBinding(BotRecord),
    /// Written without a signature: only meaningful without a bot.
    Unsigned(BotRecord),
    /// Changed by someone other than the bot (or signed by a key retired
    /// since): treated as absent.
    Altered {
        /// What is wrong.
        why: String,
        /// Digest of the value found (for one report per alteration).
        digest: Sha256Digest,
        /// The signature is the bot's, by a key retired since: a rotation,
        /// not an alteration (nothing to report, the record is re-derived).
        retired: bool,
    },
}

impl Check {
    /// The record, where it counts for the current binding.
    pub fn current(&self) -> Option<&BotRecord> {
        match self {
            Check::Verified(r) | Check::Unsigned(r) => Some(r),
            _ => None,
        }
    }

    /// The analysis of the current binding.
    pub fn analysis(&self) -> Option<&AnalysisRecord> {
        self.current().and_then(|r| r.analysis.as_ref())
    }

    /// True when the record was altered.
    pub fn is_altered(&self) -> bool {
        matches!(self, Check::Altered { .. })
    }

    /// True when the record that counts for the current binding holds
    /// `marker` in list `m` (nothing counts in an altered, absent or
    /// earlier binding's record: the thing is done again).
    pub fn has(&self, m: Marks, marker: &str) -> bool {
        self.current().is_some_and(|r| r.has(m, marker))
    }

    /// True when the record that counts for the current binding holds a
    /// receipt for exactly this binding, stack and plan under `policy`.
    pub fn has_receipt(
        &self,
        ticket: &str,
        binding: &crate::model::binding::Binding,
        plan: Option<(&str, &PlanDigests)>,
        policy: &Sha256Digest,
    ) -> bool {
        self.current().is_some_and(|r| r.receipt_for(ticket, binding, plan, policy).is_some())
    }
}

/// The highest sequence number the bot's own accounts mirrored into a
/// label (from the history, which no one else can write in their name).
pub(crate) fn seq_floor(changelog: &[ChangelogEntry], bot_accounts: &[String]) -> u64 {
    let mut floor = 0;
    for e in changelog {
        let by_bot = e.author.as_ref().is_some_and(|a| bot_accounts.contains(&a.account_id));
        if !by_bot {
            continue;
        }
        for i in e.items.iter().filter(|i| i.field.eq_ignore_ascii_case("labels")) {
            let before: Vec<&str> = i.from_string.as_deref().unwrap_or_default().split_whitespace().collect();
            for l in i.to_string.as_deref().unwrap_or_default().split_whitespace() {
                if before.contains(&l) {
                    continue;
                }
                if let Some(n) = l.strip_prefix(SEQ_LABEL_PREFIX).and_then(|n| n.parse::<u64>().ok()) {
                    floor = floor.max(n);
                }
            }
        }
    }
    floor
}

/// Checks the property's value. `ring` is `None` without a bot (then an
/// unsigned record is accepted as what it is). Pure.
pub(crate) fn check(
    raw: Option<&Value>,
    ring: Option<&KeyRing>,
    ticket: &str,
    binding_digest: &Sha256Digest,
    floor: u64,
) -> Check {
    let altered = |why: String, v: &Value| Check::Altered {
        why,
        digest: Sha256Digest::of(v.to_string().as_bytes()),
        retired: false,
    };
    let Some(v) = raw.filter(|v| !v.is_null()) else {
        return match (ring, floor) {
            (Some(_), 1..) => Check::Altered {
                why: format!("the bot's record is gone although the bot wrote record {floor}"),
                digest: Sha256Digest::of(b"removed"),
                retired: false,
            },
            _ => Check::Absent,
        };
    };
    if let Some(u) = v.get("unsigned") {
        return match (ring, serde_json::from_value::<BotRecord>(u.clone())) {
            (None, Ok(r)) if r.ticket == ticket && r.binding_digest == *binding_digest => Check::Unsigned(r),
            (None, Ok(_)) => Check::Absent,
            (None, Err(e)) => altered(format!("the record cannot be read: {e}"), v),
            (Some(_), _) => altered("the record is not signed by the bot".into(), v),
        };
    }
    let signed = match Signed::<BotRecord>::from_value(v) {
        Ok(s) => s,
        Err(e) => return altered(format!("the record cannot be read: {e}"), v),
    };
    let r = &signed.payload;
    let Some(ring) = ring else {
        // Without a bot there is no key to check a signature with.
        return if r.ticket == ticket && r.binding_digest == *binding_digest {
            Check::Unsigned(signed.payload)
        } else {
            Check::Absent
        };
    };
    let made = Timestamp::parse(&r.written_at).unwrap_or(Timestamp(0));
    if let Err(e) = ring.verify(Kind::Record, &signed, made) {
        let retired = matches!(e, crate::model::signing::Unverified::Retired { .. });
        return Check::Altered {
            why: format!("the record's signature: {e}"),
            digest: Sha256Digest::of(v.to_string().as_bytes()),
            retired,
        };
    }
    if r.schema_version != SCHEMA_VERSION {
        return altered(format!("the record has schema version {}, not {SCHEMA_VERSION}", r.schema_version), v);
    }
    if r.ticket != ticket {
        return altered(format!("the record was written for {}, not {ticket}", r.ticket), v);
    }
    if r.seq < floor {
        return altered(format!("the record is number {}, older than the bot's last one ({floor})", r.seq), v);
    }
    if r.binding_digest != *binding_digest {
        return Check::OtherBinding(signed.payload);
    }
    Check::Verified(signed.payload)
}

/// The record in `raw` when the bot signed it for `ticket` and it is not
/// older than the floor, whatever binding it was written for (a Done
/// ticket's receipts name their bindings themselves). Pure.
pub(crate) fn verified(raw: &Value, ring: &KeyRing, ticket: &str, floor: u64) -> Option<BotRecord> {
    let signed = Signed::<BotRecord>::from_value(raw).ok()?;
    let digest = signed.payload.binding_digest;
    match check(Some(raw), Some(ring), ticket, &digest, floor) {
        Check::Verified(r) => Some(r),
        _ => None,
    }
}

/// The base a writer builds on: the current record, or a new one.
fn base(c: &Check, ticket: &str, binding_digest: Sha256Digest) -> BotRecord {
    match c {
        Check::Verified(r) | Check::Unsigned(r) => r.clone(),
        // A rebind starts afresh; its sequence goes on.
        Check::OtherBinding(r) => BotRecord { seq: r.seq, ..BotRecord::new(ticket, binding_digest) },
        Check::Absent | Check::Altered { .. } => BotRecord::new(ticket, binding_digest),
    }
}

/// How the record is read and written.
#[derive(Debug)]
pub struct Store<'a> {
    /// Jira.
    pub jira: &'a Jira,
    /// The bot's key, or `None` without a bot (records are written unsigned).
    pub key: Option<&'a SigningKey>,
    /// Keys the record is checked with (`None` without a bot).
    pub ring: Option<&'a KeyRing>,
    /// The bot's Jira accounts (whose labels set the floor).
    pub bot_accounts: &'a [String],
}

/// Why a write did not land.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// Other writers kept replacing the record.
    #[error("the bot's record of {0} kept changing under this write; the next converge tries again")]
    Contended(String),
}

impl Store<'_> {
    /// Reads and checks the record of `ticket` for `binding_digest`.
    pub fn read(&self, ticket: &str, binding_digest: &Sha256Digest) -> Result<(Check, u64), JiraError> {
        let raw = self.jira.property(ticket, BOT_PROPERTY)?;
        let floor = seq_floor(&self.jira.changelog(ticket)?, self.bot_accounts);
        Ok((check(raw.as_ref(), self.ring, ticket, binding_digest, floor), floor))
    }

    /// Applies `update` to the current record and writes it, merging with
    /// whatever another writer added meanwhile: the record is read again
    /// right before the write, and after it; if the write did not land
    /// (another writer replaced it), `update` is applied again on theirs.
    /// `update` must only add or set (it returns whether it changed
    /// anything), so applying it twice is harmless. Returns the record
    /// written, or the current one when nothing changed.
    pub fn update(
        &self,
        ticket: &str,
        binding_digest: Sha256Digest,
        mut update: impl FnMut(&mut BotRecord) -> bool,
    ) -> Result<BotRecord, StoreError> {
        for _ in 0..4 {
            let (c, floor) = self.read(ticket, &binding_digest)?;
            let mut r = base(&c, ticket, binding_digest);
            if !update(&mut r) && !c.is_altered() && !matches!(c, Check::OtherBinding(_)) {
                return Ok(r);
            }
            r.seq = r.seq.max(floor) + 1;
            r.written_at = Timestamp::now().to_rfc3339();
            let value = match self.key {
                Some(k) => serde_json::to_value(k.sign(Kind::Record, r.clone())).expect("serialises"),
                None => json!({"unsigned": r}),
            };
            self.jira.set_property(ticket, BOT_PROPERTY, &value)?;
            if self.key.is_some() {
                self.jira.update_labels(ticket, &[format!("{SEQ_LABEL_PREFIX}{}", r.seq)], &stale_seq_labels(r.seq))?;
            }
            // Did it land? Another writer may have replaced it meanwhile.
            let (after, _) = self.read(ticket, &binding_digest)?;
            match after.current() {
                Some(now) if now.seq >= r.seq && !update(&mut now.clone()) => return Ok(now.clone()),
                _ => continue,
            }
        }
        Err(StoreError::Contended(ticket.to_owned()))
    }
}

/// Earlier sequence labels to remove (the history keeps them).
fn stale_seq_labels(seq: u64) -> Vec<String> {
    (seq.saturating_sub(3)..seq).map(|n| format!("{SEQ_LABEL_PREFIX}{n}")).collect()
}

/// The last deploy of a repository and environment the bot approved: the
/// latest ticket of its stream that reached Done and whose bot record (its
/// signature verified, its sequence at the floor) holds a receipt for this
/// repository and environment; the commit is the receipt's, which the bot
/// signed — never the CI record's, which anyone who may edit issues can
/// rewrite. `ring` is `None` without a bot: then the CI record says it, and
/// nothing is signed.
pub(crate) fn last_done_signed(
    jira: &Jira,
    binding: &crate::model::binding::Binding,
    config: &crate::config::jira::JiraConfig,
    ring: Option<&crate::model::signing::KeyRing>,
) -> Result<Option<(String, String)>, JiraError> {
    use crate::clients::jira::jql;
    let Some(ring) = ring else { return crate::steps::ticket::last_done(jira, binding, config) };
    let q = format!(
        "project = {} AND labels = {} AND status = {} ORDER BY resolutiondate DESC",
        jql::string(&config.project),
        jql::string(&binding.stream_label()),
        jql::string(&config.statuses.done)
    );
    let env = crate::config::env_key(&binding.environment);
    for issue in jira.search(&q, &["status"], &[BOT_PROPERTY], &[])? {
        let Some(raw) = issue.properties.get(BOT_PROPERTY) else { continue };
        let floor = seq_floor(&jira.changelog(&issue.key)?, &config.bot_accounts);
        let Some(r) = verified(raw, ring, &issue.key, floor) else { continue };
        let receipt = r
            .receipts
            .iter()
            .filter(|x| {
                x.payload.binding.project_slug == binding.project_slug
                    && crate::config::env_key(&x.payload.binding.environment) == env
                    && crate::model::receipt::verify(ring, x).is_ok()
            })
            .max_by_key(|x| x.payload.issued());
        if let Some(x) = receipt {
            return Ok(Some((issue.key.clone(), x.payload.binding.commit.clone())));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::jira::{ChangeItem, User};
    use crate::model::signing::generate;

    fn keys() -> (SigningKey, KeyRing) {
        let (seed, public) = generate();
        (SigningKey::from_base64(&seed).unwrap(), KeyRing::parse(&public).unwrap())
    }

    fn record(seq: u64) -> BotRecord {
        BotRecord {
            seq,
            written_at: "2026-12-01T10:00:00.000Z".into(),
            ..BotRecord::new("PRODCM-1", Sha256Digest::of(b"binding"))
        }
    }

    fn signed(k: &SigningKey, r: BotRecord) -> Value {
        serde_json::to_value(k.sign(Kind::Record, r)).unwrap()
    }

    fn label_entry(who: &str, from: &str, to: &str) -> ChangelogEntry {
        ChangelogEntry {
            id: "1".into(),
            author: Some(User { account_id: who.into(), ..User::default() }),
            created: "2026-12-01T10:00:00.000+0000".into(),
            items: vec![ChangeItem {
                field: "labels".into(),
                field_id: Some("labels".into()),
                from_string: Some(from.into()),
                to_string: Some(to.into()),
            }],
        }
    }

    const BOT: &str = "712020:changegate-bot";

    #[test]
    fn only_the_bots_own_labels_raise_the_floor() {
        let log = vec![
            label_entry(BOT, "changegate", "changegate changegate-bot-seq-3"),
            label_entry("712020:ci-user", "changegate changegate-bot-seq-3", "changegate changegate-bot-seq-9"),
            label_entry(BOT, "changegate changegate-bot-seq-3", "changegate changegate-bot-seq-2"),
        ];
        assert_eq!(seq_floor(&log, &[BOT.to_owned()]), 3);
        assert_eq!(seq_floor(&log, &[]), 0);
    }

    #[test]
    fn a_signed_current_record_verifies() {
        let (k, ring) = keys();
        let r = record(4);
        let v = signed(&k, r.clone());
        let b = Sha256Digest::of(b"binding");
        assert_eq!(check(Some(&v), Some(&ring), "PRODCM-1", &b, 4), Check::Verified(r));
        assert_eq!(check(None, Some(&ring), "PRODCM-1", &b, 0), Check::Absent);
    }

    #[test]
    fn edits_replays_transplants_and_removals_are_altered() {
        let (k, ring) = keys();
        let b = Sha256Digest::of(b"binding");
        let mut r = record(4);
        r.analysis = None;
        let v = signed(&k, r.clone());
        // Edited: the excluded approvers emptied, say.
        let mut edited = v.clone();
        edited["payload"]["seq"] = json!(5);
        assert!(check(Some(&edited), Some(&ring), "PRODCM-1", &b, 4).is_altered());
        // Replayed: an older record than the bot's last.
        assert!(check(Some(&v), Some(&ring), "PRODCM-1", &b, 5).is_altered());
        // Transplanted from another ticket.
        assert!(check(Some(&v), Some(&ring), "PRODCM-2", &b, 0).is_altered());
        // Signed by another key.
        let (other, _) = keys();
        assert!(check(Some(&signed(&other, r.clone())), Some(&ring), "PRODCM-1", &b, 0).is_altered());
        // Removed after the bot wrote one.
        assert!(check(None, Some(&ring), "PRODCM-1", &b, 4).is_altered());
        // Unsigned, where a bot runs.
        let unsigned = json!({"unsigned": r});
        assert!(check(Some(&unsigned), Some(&ring), "PRODCM-1", &b, 0).is_altered());
        // Not a record at all.
        assert!(check(Some(&json!({"excluded_github_ids": []})), Some(&ring), "PRODCM-1", &b, 0).is_altered());
        // An earlier binding's record: not altered, but nothing counts.
        let other_binding = Sha256Digest::of(b"rebound");
        assert!(matches!(check(Some(&v), Some(&ring), "PRODCM-1", &other_binding, 4), Check::OtherBinding(_)));
    }

    #[test]
    fn without_a_bot_unsigned_records_are_read_as_such() {
        let b = Sha256Digest::of(b"binding");
        let r = record(1);
        let v = json!({"unsigned": r});
        assert_eq!(check(Some(&v), None, "PRODCM-1", &b, 0), Check::Unsigned(r));
    }

    #[test]
    fn updates_add_once() {
        let mut r = record(1);
        let m = Mark { marker: "change:w:h".into(), at: "t".into(), detail: None };
        assert!(r.mark(Marks::Resumed, m.clone()));
        assert!(!r.mark(Marks::Resumed, m));
        assert!(r.has(Marks::Resumed, "change:w:h"));
        assert!(!r.has(Marks::Cancelled, "change:w:h"));
    }
}
