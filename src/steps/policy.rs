//! The bot's policy, signed, for CI jobs (docs/trust-model.md, "The signed
//! policy").
//!
//! What a deploy must satisfy — which environments are controlled, the
//! statuses and transitions that mean approved, who may approve and how
//! many, the approval TTL, change windows and freezes, the break-glass
//! group, whether a plan is required, the field map — is the bot's to say,
//! never the deployed commit's. The bot publishes it as a [`PolicyDoc`]
//! signed with its key, with a serial number and an expiry, in the Jira
//! project property `changegate.policy`: CI jobs read it with the rights
//! they already have (Browse Projects), and only a project administrator
//! can write it, whose write the signature refuses anyway. The bot needs
//! *Administer Projects* on the change project to publish it; that is the
//! cost of this choice (a bot endpoint would need the bot up for every
//! deploy, emergencies included).
//!
//! A CI job verifies it with the public keys and uses it; the checkout's
//! `changegate.toml` may only tighten it ([`apply`]): more controlled
//! environments, a shorter TTL, more approvers, fewer approvers mapped,
//! more required fields, more freezes and windows, plans required. A setting
//! that would loosen it is refused, naming the setting.
//!
//! Everything here is pure; publishing and fetching are in [`publish`] and
//! [`fetch`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::base::digest::Sha256Digest;
use crate::base::digest::canonical_json;
use crate::base::time::Timestamp;
use crate::clients::jira::{Jira, JiraError};
use crate::config::jira::{JiraConfig, Resolutions, SiteField, Statuses, TicketField, Transitions};
use crate::config::windows::{Freeze, FreezeParts, Window, WindowParts};
use crate::config::{Config, env_key};
use crate::model::signing::{KeyRing, Kind, Signed, SigningKey};

/// The Jira project property that holds the signed policy.
pub const PROPERTY: &str = "changegate.policy";
/// Version of the policy document.
pub(crate) const SCHEMA_VERSION: u32 = 1;
/// How long a published policy is valid by default: the bot renews it when
/// half of it has passed; an older policy written back (a replay) is
/// accepted at most this long, and a bot down longer stops every deploy.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3 * 86_400);

/// The break-glass settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmergencyPolicy {
    /// The Jira group whose members may grant an emergency (none: off).
    pub(crate) group: Option<String>,
    /// The retrospective is due this long after the grant (seconds).
    pub(crate) retrospective_within_secs: u64,
    /// Issue type of the retrospective.
    pub(crate) retrospective_issue_type: Option<String>,
    /// Link type from the retrospective to the change.
    pub(crate) link_type: String,
}

/// What the policy says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyContent {
    /// The change project.
    pub(crate) project: String,
    /// The change issue type.
    pub(crate) issue_type: String,
    /// Labels on every ticket (the bot finds tickets by the first).
    pub(crate) labels: Vec<String>,
    /// Environments whose deploys need a ticket (trimmed, lower case).
    pub(crate) controlled_environments: Vec<String>,
    /// Status names.
    pub(crate) statuses: Statuses,
    /// Transition names.
    pub(crate) transitions: Transitions,
    /// Resolution names.
    pub(crate) resolutions: Resolutions,
    /// Ticket field -> site field.
    pub(crate) fields: BTreeMap<String, SiteField>,
    /// Fields that must be filled.
    pub(crate) required_fields: Vec<String>,
    /// Jira accountId -> GitHub id of the people who may approve.
    pub(crate) approvers: BTreeMap<String, u64>,
    /// Distinct approvers an approval needs.
    pub(crate) required_approvers: usize,
    /// How long an approval stays valid (seconds).
    pub(crate) approval_ttl_secs: u64,
    /// The bot's Jira accounts.
    pub(crate) bot_account_ids: Vec<String>,
    /// Recurring change windows.
    pub(crate) windows: Vec<WindowParts>,
    /// Change freezes.
    pub(crate) freezes: Vec<FreezeParts>,
    /// Break-glass.
    pub(crate) emergency: EmergencyPolicy,
    /// An apply needs a recorded plan.
    pub(crate) plan_required: bool,
    /// The hold in front of apply, by environment: there an apply always
    /// needs a recorded plan.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) plan_holds: BTreeMap<String, String>,
}

/// The signed document: the content, its serial number and validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// [`SCHEMA_VERSION`].
    pub(crate) schema_version: u32,
    /// Raised by every publication.
    pub(crate) serial: u64,
    /// When it was signed (RFC 3339).
    pub(crate) issued_at: String,
    /// After this it is refused (RFC 3339).
    pub(crate) expires_at: String,
    /// What it says.
    pub content: PolicyContent,
}

/// A signed policy.
pub type SignedPolicy = Signed<PolicyDoc>;

impl PolicyContent {
    /// The governed part of a configuration.
    pub fn of(c: &Config) -> PolicyContent {
        let j = &c.jira;
        PolicyContent {
            project: j.project.clone(),
            issue_type: j.issue_type.clone(),
            labels: j.labels.clone(),
            controlled_environments: c.controlled_environments.clone(),
            statuses: j.statuses.clone(),
            transitions: j.transitions.clone(),
            resolutions: j.resolutions.clone(),
            fields: j.fields.iter().map(|(f, s)| (f.name().to_owned(), s.clone())).collect(),
            required_fields: j.required.iter().map(|f| f.name().to_owned()).collect(),
            approvers: j.approvers.clone(),
            required_approvers: j.required_approvers,
            approval_ttl_secs: j.approval_ttl.as_secs(),
            bot_account_ids: j.bot_accounts.clone(),
            windows: c.windows.iter().map(Window::parts).collect(),
            freezes: c.freezes.iter().map(Freeze::parts).collect(),
            emergency: EmergencyPolicy {
                group: c.emergency.group.clone(),
                retrospective_within_secs: c.emergency.retrospective_within.as_secs(),
                retrospective_issue_type: c.emergency.retrospective_issue_type.clone(),
                link_type: c.emergency.link_type.clone(),
            },
            plan_required: c.plan.required,
            plan_holds: c.lock.plan_holds.clone(),
        }
    }

    /// SHA-256 of its canonical JSON: what analyses and receipts name.
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(canonical_json(&serde_json::to_value(self).expect("serialises")).as_bytes())
    }

    /// `config` with every governed setting taken from this policy.
    pub fn govern(&self, config: &Config) -> Result<Config, String> {
        let mut c = config.clone();
        c.controlled_environments = self.controlled_environments.iter().map(|e| env_key(e)).collect();
        let j = &mut c.jira;
        j.project = self.project.clone();
        j.issue_type = self.issue_type.clone();
        j.labels = self.labels.clone();
        j.statuses = self.statuses.clone();
        j.transitions = self.transitions.clone();
        j.resolutions = self.resolutions.clone();
        j.fields = BTreeMap::new();
        for (name, site) in &self.fields {
            let f = TicketField::from_name(name).ok_or_else(|| format!("unknown ticket field {name:?}"))?;
            j.fields.insert(f, site.clone());
        }
        j.required = self
            .required_fields
            .iter()
            .map(|n| TicketField::from_name(n).ok_or_else(|| format!("unknown ticket field {n:?}")))
            .collect::<Result<_, _>>()?;
        j.approvers = self.approvers.clone();
        j.required_approvers = self.required_approvers;
        j.approval_ttl = Duration::from_secs(self.approval_ttl_secs);
        j.bot_accounts = self.bot_account_ids.clone();
        c.windows = self.windows.iter().map(Window::from_parts).collect::<Result<_, _>>()?;
        c.freezes = self.freezes.iter().map(Freeze::from_parts).collect::<Result<_, _>>()?;
        c.checkout_windows = Vec::new();
        c.emergency.group = self.emergency.group.clone();
        c.emergency.retrospective_within = Duration::from_secs(self.emergency.retrospective_within_secs);
        c.emergency.retrospective_issue_type = self.emergency.retrospective_issue_type.clone();
        c.emergency.link_type = self.emergency.link_type.clone();
        c.plan.required = self.plan_required;
        // The checkout may name more plan holds (more plans required), never fewer.
        for (env, hold) in &self.plan_holds {
            c.lock.plan_holds.insert(env_key(env), hold.clone());
        }
        Ok(c)
    }
}

/// Signs a policy document.
pub fn sign(key: &SigningKey, content: PolicyContent, serial: u64, now: Timestamp, ttl: Duration) -> SignedPolicy {
    key.sign(
        Kind::Policy,
        PolicyDoc {
            schema_version: SCHEMA_VERSION,
            serial,
            issued_at: now.to_rfc3339(),
            expires_at: now.plus(ttl).to_rfc3339(),
            content,
        },
    )
}

/// Why a published policy cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PolicyError {
    /// Nothing published.
    #[error(
        "no signed policy is published in project {0} (property {PROPERTY}): start the changegate bot (it publishes one), or run with --no-bot where no bot runs"
    )]
    Missing(String),
    /// Not a policy document.
    #[error("the published policy cannot be read: {0}")]
    Malformed(String),
    /// The signature does not verify.
    #[error("the published policy is not signed by the bot: {0}")]
    Unverified(String),
    /// Past its expiry.
    #[error("the published policy (serial {serial}) expired at {at}: the bot renews it while it runs; is it down?")]
    Expired {
        /// Its serial.
        serial: u64,
        /// When.
        at: String,
    },
    /// For another project.
    #[error("the published policy is for project {found}, not {expected}")]
    OtherProject {
        /// Where it was read.
        expected: String,
        /// What it says.
        found: String,
    },
    /// Unknown version or content the binary cannot use.
    #[error("the published policy cannot be used: {0}")]
    Unusable(String),
}

/// Reads and verifies a published policy. Pure.
pub(crate) fn verify(
    raw: Option<&serde_json::Value>,
    ring: &KeyRing,
    project: &str,
    now: Timestamp,
) -> Result<SignedPolicy, PolicyError> {
    let Some(v) = raw.filter(|v| !v.is_null()) else {
        return Err(PolicyError::Missing(project.to_owned()));
    };
    let signed = Signed::<PolicyDoc>::from_value(v).map_err(PolicyError::Malformed)?;
    let doc = &signed.payload;
    let issued = Timestamp::parse(&doc.issued_at).ok_or_else(|| PolicyError::Malformed("bad issued_at".into()))?;
    ring.verify(Kind::Policy, &signed, issued).map_err(|e| PolicyError::Unverified(e.to_string()))?;
    if doc.schema_version != SCHEMA_VERSION {
        return Err(PolicyError::Unusable(format!(
            "schema version {} (this changegate reads {SCHEMA_VERSION}): update changegate",
            doc.schema_version
        )));
    }
    let expires = Timestamp::parse(&doc.expires_at).ok_or_else(|| PolicyError::Malformed("bad expires_at".into()))?;
    if now >= expires {
        return Err(PolicyError::Expired { serial: doc.serial, at: doc.expires_at.clone() });
    }
    if doc.content.project != project {
        return Err(PolicyError::OtherProject { expected: project.to_owned(), found: doc.content.project.clone() });
    }
    Ok(signed)
}

/// A checkout setting that would loosen the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loosening {
    /// The setting, as written in `changegate.toml`.
    pub(crate) setting: String,
    /// Why it is refused.
    pub(crate) why: String,
}

impl std::fmt::Display for Loosening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.why)
    }
}

/// The keys the checkout's file wrote.
fn written(table: &toml::Table, path: &str) -> bool {
    let mut t = table;
    let mut parts = path.split('.').peekable();
    while let Some(p) = parts.next() {
        match (t.get(p), parts.peek()) {
            (Some(_), None) => return true,
            (Some(toml::Value::Table(sub)), Some(_)) => t = sub,
            _ => return false,
        }
    }
    false
}

/// The effective configuration of a CI job: the checkout's, with every
/// governed setting from the policy, tightened where the checkout asks for
/// it. `table` is the checkout file as written (which keys it sets).
/// Every setting that would loosen the policy is listed. Pure.
pub(crate) fn apply(checkout: &Config, table: &toml::Table, policy: &PolicyContent) -> Result<Config, Vec<Loosening>> {
    let mut c = match policy.govern(checkout) {
        Ok(c) => c,
        Err(e) => {
            return Err(vec![Loosening {
                setting: "(policy)".to_owned(),
                why: format!("the published policy cannot be used: {e}"),
            }]);
        }
    };
    let mut out = Vec::new();
    let pj = c.jira.clone();
    tighten_environments(checkout, table, policy, &mut c, &mut out);
    refuse_fixed(checkout, table, &c, &pj, &mut out);
    tighten_jira_lists(&checkout.jira, table, &pj, &mut c.jira, &mut out);
    tighten_jira_approvals(&checkout.jira, table, &pj, &mut c.jira, &mut out);
    tighten_emergency_and_plan(checkout, table, policy, &mut c, &mut out);
    // Windows and freezes only add: a deploy must be inside the policy's
    // windows and the checkout's, and outside every freeze of either.
    c.checkout_windows = checkout.windows.clone();
    for f in &checkout.freezes {
        if !c.freezes.contains(f) {
            c.freezes.push(f.clone());
        }
    }
    if out.is_empty() { Ok(c) } else { Err(out) }
}

/// The checkout's controlled environments add to the policy's; leaving one
/// of the policy's out is refused.
fn tighten_environments(
    checkout: &Config,
    table: &toml::Table,
    policy: &PolicyContent,
    c: &mut Config,
    out: &mut Vec<Loosening>,
) {
    if written(table, "controlled_environments") {
        let have: Vec<String> = checkout.controlled_environments.iter().map(|e| env_key(e)).collect();
        let dropped: Vec<&String> = policy.controlled_environments.iter().filter(|e| !have.contains(e)).collect();
        if dropped.is_empty() {
            for e in have {
                if !c.controlled_environments.contains(&e) {
                    c.controlled_environments.push(e);
                }
            }
        } else {
            let names: Vec<&str> = dropped.iter().map(|s| s.as_str()).collect();
            out.push(Loosening {
                setting: "controlled_environments".to_owned(),
                why: format!("leaves out {}, which the bot's policy controls", names.join(", ")),
            });
        }
    }
}

/// Refuses each setting that is the bot's policy alone (`c`, with its Jira
/// settings `pj`) when the checkout writes it otherwise.
fn refuse_fixed(checkout: &Config, table: &toml::Table, c: &Config, pj: &JiraConfig, out: &mut Vec<Loosening>) {
    let cj = &checkout.jira;
    let same = |setting: &str, written_here: bool, equal: bool, what: String| -> Option<Loosening> {
        (written_here && !equal).then(|| Loosening { setting: setting.to_owned(), why: what })
    };
    let fixed = [
        ("jira.project", cj.project == pj.project, format!("the bot's policy says {:?}", pj.project)),
        ("jira.issue_type", cj.issue_type == pj.issue_type, format!("the bot's policy says {:?}", pj.issue_type)),
        (
            "jira.statuses",
            cj.statuses == pj.statuses,
            "status names are the bot's policy; they cannot be redefined".into(),
        ),
        (
            "jira.transitions",
            cj.transitions == pj.transitions,
            "transition names are the bot's policy; they cannot be redefined".into(),
        ),
        (
            "jira.resolutions",
            cj.resolutions == pj.resolutions,
            "resolution names are the bot's policy; they cannot be redefined".into(),
        ),
        ("jira.fields", cj.fields == pj.fields, "the field map is the bot's policy; it cannot be redefined".into()),
        (
            "jira.bot_account_ids",
            cj.bot_accounts == pj.bot_accounts,
            "the bot's accounts are the bot's policy; they cannot be redefined".into(),
        ),
        (
            "emergency.group",
            checkout.emergency.group == c.emergency.group,
            format!("the break-glass group is the bot's policy ({:?})", c.emergency.group),
        ),
        (
            "emergency.retrospective_issue_type",
            checkout.emergency.retrospective_issue_type == c.emergency.retrospective_issue_type,
            "the retrospective's issue type is the bot's policy".into(),
        ),
        (
            "emergency.link_type",
            checkout.emergency.link_type == c.emergency.link_type,
            "the retrospective's link type is the bot's policy".into(),
        ),
    ];
    for (setting, equal, why) in fixed {
        if let Some(l) = same(setting, written(table, setting), equal, why) {
            out.push(l);
        }
    }
}

/// The checkout's ticket labels and required fields add to the policy's
/// (`pj`); leaving one of the policy's out is refused.
fn tighten_jira_lists(
    cj: &JiraConfig,
    table: &toml::Table,
    pj: &JiraConfig,
    c: &mut JiraConfig,
    out: &mut Vec<Loosening>,
) {
    if written(table, "jira.labels") {
        let missing: Vec<&String> = pj.labels.iter().filter(|l| !cj.labels.contains(l)).collect();
        if missing.is_empty() {
            for l in &cj.labels {
                if !c.labels.contains(l) {
                    c.labels.push(l.clone());
                }
            }
        } else {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            out.push(Loosening {
                setting: "jira.labels".into(),
                why: format!("leaves out {}, by which the bot finds tickets", names.join(", ")),
            });
        }
    }
    if written(table, "jira.required") {
        let missing: Vec<&str> = pj.required.iter().filter(|f| !cj.required.contains(f)).map(|f| f.name()).collect();
        if missing.is_empty() {
            for f in &cj.required {
                if !c.required.contains(f) {
                    c.required.push(*f);
                }
            }
        } else {
            out.push(Loosening {
                setting: "jira.required".into(),
                why: format!("leaves out {}, which the bot's policy requires", missing.join(", ")),
            });
        }
    }
}

/// The checkout may shorten the approval TTL, require more approvers and
/// leave approvers out, never the other way round (from the policy's `pj`).
fn tighten_jira_approvals(
    cj: &JiraConfig,
    table: &toml::Table,
    pj: &JiraConfig,
    c: &mut JiraConfig,
    out: &mut Vec<Loosening>,
) {
    if written(table, "jira.approval_ttl") {
        if cj.approval_ttl <= pj.approval_ttl {
            c.approval_ttl = cj.approval_ttl;
        } else {
            out.push(Loosening {
                setting: "jira.approval_ttl".into(),
                why: format!(
                    "{} s is longer than the bot's policy ({} s); only a shorter TTL may be set here",
                    cj.approval_ttl.as_secs(),
                    pj.approval_ttl.as_secs()
                ),
            });
        }
    }
    if written(table, "jira.required_approvers") {
        if cj.required_approvers >= pj.required_approvers {
            c.required_approvers = cj.required_approvers;
        } else {
            out.push(Loosening {
                setting: "jira.required_approvers".into(),
                why: format!(
                    "{} is fewer than the bot's policy ({}); only more may be required here",
                    cj.required_approvers, pj.required_approvers
                ),
            });
        }
    }
    if written(table, "jira.approvers") {
        let extra: Vec<String> = cj
            .approvers
            .iter()
            .filter(|(a, g)| pj.approvers.get(*a) != Some(g))
            .map(|(a, g)| format!("{a} = {g}"))
            .collect();
        if extra.is_empty() {
            c.approvers = cj.approvers.clone();
            c.withheld_approvers = pj.approvers.keys().filter(|a| !cj.approvers.contains_key(*a)).cloned().collect();
        } else {
            out.push(Loosening {
                setting: "jira.approvers".into(),
                why: format!(
                    "{} is not an approver in the bot's policy; here approvers may only be left out",
                    extra.join(", ")
                ),
            });
        }
    }
}

/// The checkout may shorten the time to a retrospective and require a
/// plan, never the other way round.
fn tighten_emergency_and_plan(
    checkout: &Config,
    table: &toml::Table,
    policy: &PolicyContent,
    c: &mut Config,
    out: &mut Vec<Loosening>,
) {
    if written(table, "emergency.retrospective_within") {
        if checkout.emergency.retrospective_within <= c.emergency.retrospective_within {
            c.emergency.retrospective_within = checkout.emergency.retrospective_within;
        } else {
            out.push(Loosening {
                setting: "emergency.retrospective_within".into(),
                why: "longer than the bot's policy; only a shorter time may be set here".into(),
            });
        }
    }
    if written(table, "plan.required") {
        if checkout.plan.required {
            c.plan.required = true;
        } else if policy.plan_required {
            out.push(Loosening {
                setting: "plan.required".into(),
                why: "the bot's policy requires a plan before every apply".into(),
            });
        }
    }
}

/// Reads the published policy of `project` (`None` when there is none).
pub(crate) fn fetch(jira: &Jira, project: &str) -> Result<Option<serde_json::Value>, JiraError> {
    jira.project_property(project, PROPERTY)
}

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Published {
    /// The published one says the same and is fresh: left alone.
    Current(u64),
    /// A new serial was published.
    New(u64),
}

/// Publishes the bot's policy unless the published one (verified with the
/// bot's ring) says the same and has more than half its life left.
pub(crate) fn publish(
    jira: &Jira,
    key: &SigningKey,
    ring: &KeyRing,
    content: &PolicyContent,
    ttl: Duration,
    now: Timestamp,
) -> Result<Published, JiraError> {
    let raw = fetch(jira, &content.project)?;
    let mut serial = 0;
    if let Some(v) = &raw {
        // Whatever is there, a new serial must be higher.
        serial = v.pointer("/payload/serial").and_then(serde_json::Value::as_u64).unwrap_or(0);
    }
    if let Ok(s) = verify(raw.as_ref(), ring, &content.project, now) {
        let expires = Timestamp::parse(&s.payload.expires_at).unwrap_or(now);
        let fresh = expires.0 - now.0 > (ttl.as_millis() as i64) / 2;
        // Signed by the key the bot signs with now (after a rotation the
        // policy is signed anew, so the old key can be retired).
        if s.payload.content == *content && fresh && s.key_id == key.id() {
            return Ok(Published::Current(s.payload.serial));
        }
    }
    let serial = serial.max(u64::try_from(now.0 / 1000).unwrap_or(0)).saturating_add(1);
    let signed = sign(key, content.clone(), serial, now, ttl);
    jira.set_project_property(&content.project, PROPERTY, &serde_json::to_value(&signed).expect("serialises"))?;
    Ok(Published::New(serial))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Date;
    use crate::model::signing::generate;

    fn config(text: &str) -> Config {
        Config::parse(text, "c.toml", Date::new(2026, 12, 1).unwrap()).unwrap()
    }

    const BOT: &str = "controlled_environments = [\"production\", \"staging\"]\n[jira]\nrequired = [\"justification\"]\napproval_ttl = \"24h\"\nrequired_approvers = 1\nbot_account_ids = [\"712020:changegate-bot\"]\n[jira.approvers]\n\"712020:alice\" = 1001\n\"712020:bob\" = 1002\n[emergency]\ngroup = \"break-glass\"\n";

    fn checkout(text: &str) -> Result<Config, Vec<Loosening>> {
        let policy = PolicyContent::of(&config(BOT));
        let table: toml::Table = toml::from_str(text).unwrap();
        apply(&config(text), &table, &policy)
    }

    fn refused(text: &str) -> Vec<String> {
        checkout(text).unwrap_err().into_iter().map(|l| l.setting).collect()
    }

    #[test]
    fn an_empty_checkout_gets_the_policy() {
        let c = checkout("").unwrap();
        assert_eq!(c.controlled_environments, ["production", "staging"]);
        assert_eq!(c.jira.approvers.len(), 2);
        assert_eq!(c.emergency.group.as_deref(), Some("break-glass"));
    }

    #[test]
    fn the_checkout_may_tighten() {
        let c = checkout(
            "controlled_environments = [\"Production \", \"staging\", \"dr\"]\n[jira]\napproval_ttl = \"4h\"\nrequired_approvers = 2\nrequired = [\"justification\", \"rollback_plan\"]\n[jira.approvers]\n\"712020:alice\" = 1001\n[plan]\nrequired = true\n[[freezes]]\nfrom = 2026-12-20T00:00:00Z\nuntil = 2026-12-27T00:00:00Z\nreason = \"holidays\"\n",
        )
        .unwrap();
        assert_eq!(c.controlled_environments, ["production", "staging", "dr"]);
        assert_eq!(c.jira.approval_ttl, Duration::from_secs(4 * 3600));
        assert_eq!(c.jira.required_approvers, 2);
        assert_eq!(c.jira.approvers.len(), 1);
        // bob, left out here, is still an ordinary approver of the policy
        // (so never grants an emergency).
        assert_eq!(c.jira.withheld_approvers, ["712020:bob"]);
        assert_eq!(c.jira.required.len(), 2);
        assert!(c.plan.required);
        assert_eq!(c.freezes.len(), 1);
    }

    #[test]
    fn every_loosening_is_refused_by_name() {
        assert_eq!(refused("controlled_environments = []\n"), ["controlled_environments"]);
        assert_eq!(refused("controlled_environments = [\"production\"]\n"), ["controlled_environments"]);
        assert_eq!(refused("[jira.statuses]\napproved = \"Waiting for input\"\n"), ["jira.statuses"]);
        assert_eq!(refused("[jira.transitions]\napprove = \"Request input\"\n"), ["jira.transitions"]);
        assert_eq!(refused("[jira.approvers]\n\"712020:ci-user\" = 9\n"), ["jira.approvers"]);
        assert_eq!(refused("[jira.approvers]\n\"712020:alice\" = 9\n"), ["jira.approvers"]);
        assert_eq!(refused("[jira]\napproval_ttl = \"30d\"\n"), ["jira.approval_ttl"]);
        assert_eq!(refused("[jira]\nrequired = []\n"), ["jira.required"]);
        assert_eq!(refused("[jira]\nproject = \"OTHER\"\n"), ["jira.project"]);
        assert_eq!(refused("[jira]\nbot_account_ids = [\"712020:ci-user\"]\n"), ["jira.bot_account_ids"]);
        assert_eq!(refused("[jira.fields]\njustification = \"summary\"\n"), ["jira.fields"]);
        assert_eq!(refused("[emergency]\ngroup = \"everyone\"\n"), ["emergency.group"]);
        // Several at once, all named.
        assert_eq!(
            refused("controlled_environments = []\n[jira]\nrequired_approvers = 1\napproval_ttl = \"48h\"\n"),
            ["controlled_environments", "jira.approval_ttl"]
        );
    }

    #[test]
    fn a_policy_round_trips_through_its_signature_and_expires() {
        let (seed, public) = generate();
        let key = SigningKey::from_base64(&seed).unwrap();
        let ring = KeyRing::parse(&public).unwrap();
        let content = PolicyContent::of(&config(BOT));
        let now = Timestamp::parse("2026-12-01T00:00:00Z").unwrap();
        let signed = sign(&key, content.clone(), 7, now, DEFAULT_TTL);
        let v = serde_json::to_value(&signed).unwrap();
        let got = verify(Some(&v), &ring, "PRODCM", now).unwrap();
        assert_eq!(got.payload.content.govern(&Config::default()).unwrap().jira.approvers.len(), 2);
        assert_eq!(got.payload.content.digest(), content.digest());
        let later = now.plus(DEFAULT_TTL);
        assert!(matches!(verify(Some(&v), &ring, "PRODCM", later), Err(PolicyError::Expired { .. })));
        assert!(matches!(verify(Some(&v), &ring, "OTHER", now), Err(PolicyError::OtherProject { .. })));
        assert!(matches!(verify(None, &ring, "PRODCM", now), Err(PolicyError::Missing(_))));
        let mut loosened = v.clone();
        loosened["payload"]["content"]["controlled_environments"] = serde_json::json!([]);
        assert!(matches!(verify(Some(&loosened), &ring, "PRODCM", now), Err(PolicyError::Unverified(_))));
        let (_, other) = generate();
        let wrong = KeyRing::parse(&other).unwrap();
        assert!(matches!(verify(Some(&v), &wrong, "PRODCM", now), Err(PolicyError::Unverified(_))));
    }

    #[test]
    fn windows_survive_the_round_trip() {
        let c = config(
            "[[windows]]\ndays = [\"mon\", \"fri\"]\nfrom = \"22:30\"\nuntil = \"04:00\"\ntimezone = \"Europe/Berlin\"\nenvironments = [\"production\"]\n",
        );
        let p = PolicyContent::of(&c);
        let back = p.govern(&Config::default()).unwrap();
        assert_eq!(back.windows, c.windows);
    }
}
