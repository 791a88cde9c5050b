//! What every worker owns ([`BotParts`]: its clients, configuration, keys and
//! policy), and reconcile: the pass over every live ticket at start-up and
//! every few minutes that converges each, so a lost or early webhook never
//! leaves a workflow stuck; it publishes the bot's signed policy too.

use std::time::Duration;

use crate::bot::converge::{Bot, ConvergeError, Converged, converge};
use crate::clients::Clients;
use crate::clients::jira::{JiraError, jql};
use crate::config::Config;
use crate::model::binding::{RECORD_PROPERTY, TicketRecord};
use crate::model::signing::{KeyRing, SigningKey};
use crate::steps::policy::{self, PolicyContent, Published};

/// Most live tickets one reconcile looks at.
pub(crate) const RECONCILE_LIMIT: usize = 500;

/// What a worker owns: its own API clients (they are not shared between
/// threads), the policy and the signing key.
#[derive(Debug)]
pub(crate) struct BotParts {
    /// Jira as the bot's user, CircleCI with the bot's token, and GitHub.
    pub(crate) clients: Clients,
    /// The bot's configuration.
    pub(crate) config: Config,
    /// Where the policy came from, and its text.
    pub(crate) policy: (String, String),
    /// The bot's signing key (records, receipts, the policy).
    pub(crate) signing_key: SigningKey,
    /// Keys the bot's own records are checked with: its key, and older
    /// keys still accepted (`CHANGEGATE_RECEIPT_PUBKEY`).
    pub(crate) ring: KeyRing,
    /// The policy it publishes (from its configuration).
    pub(crate) policy_content: PolicyContent,
    /// How long a published policy is valid.
    pub(crate) policy_ttl: Duration,
    /// Bounded wait for a blocked hold, and its poll interval.
    pub(crate) hold_wait: (Duration, Duration),
    /// Slack, when configured.
    pub(crate) notifier: crate::clients::notify::Notifier,
}

impl BotParts {
    /// The converge view of these parts.
    pub(crate) fn bot(&self) -> Bot<'_> {
        Bot {
            clients: &self.clients,
            config: &self.config,
            policy: (&self.policy.0, &self.policy.1),
            policy_digest: self.policy_content.digest(),
            signing_key: &self.signing_key,
            ring: &self.ring,
            hold_wait: self.hold_wait,
            notifier: &self.notifier,
        }
    }
}

/// The live changegate tickets (bounded), and those declined in the last
/// week, with their records.
pub(crate) fn live_tickets(parts: &BotParts) -> Result<Vec<(String, Option<TicketRecord>)>, JiraError> {
    let jc = &parts.config.jira;
    let closed: Vec<String> = jc.statuses.closed().iter().map(|s| jql::string(s)).collect();
    let label = jc.labels.first().map_or_else(|| "changegate".to_owned(), Clone::clone);
    // Declined tickets stay in view for a week: their workflows are cancelled
    // even when the event that declined them was lost.
    let q = format!(
        "project = {} AND labels = {} AND (status not in ({}) OR (status = {} AND updated >= -7d)) ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(&label),
        closed.join(", "),
        jql::string(&jc.statuses.declined)
    );
    let found = parts.clients.jira.search(&q, &["status"], &[RECORD_PROPERTY], &[])?;
    Ok(found
        .into_iter()
        .take(RECONCILE_LIMIT)
        .map(|i| {
            let r = i.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value);
            (i.key, r)
        })
        .collect())
}

/// The live tickets of one CircleCI pipeline.
pub(crate) fn tickets_of_pipeline(parts: &BotParts, pipeline_id: &str) -> Result<Vec<String>, JiraError> {
    Ok(live_tickets(parts)?
        .into_iter()
        .filter(|(_, r)| r.as_ref().is_some_and(|r| r.binding.pipeline_id == pipeline_id))
        .map(|(k, _)| k)
        .collect())
}

/// Each ticket's converge result.
pub(crate) type Reconciled = Vec<(String, Result<Converged, ConvergeError>)>;

/// Publishes the bot's signed policy for CI jobs when the published one is
/// not this policy or is past half its life (docs/trust-model.md).
pub(crate) fn publish_policy(parts: &BotParts) -> Result<Published, JiraError> {
    policy::publish(
        &parts.clients.jira,
        &parts.signing_key,
        &parts.ring,
        &parts.policy_content,
        parts.policy_ttl,
        crate::base::time::Timestamp::now(),
    )
}

/// One reconcile pass: converge every live ticket, then remind or escalate
/// the open retrospectives of emergency changes (under the name
/// `retrospectives`). Returns each result; one failure does not stop the
/// others.
pub(crate) fn reconcile(parts: &BotParts) -> Result<Reconciled, JiraError> {
    let bot = parts.bot();
    let published = publish_policy(parts).map(|p| Converged {
        actions: vec![match p {
            Published::Current(n) => format!("the published policy (serial {n}) is current"),
            Published::New(n) => format!("published the policy (serial {n})"),
        }],
        ..Converged::default()
    });
    let mut all: Reconciled = vec![("policy".to_owned(), published.map_err(ConvergeError::from))];
    all.extend(live_tickets(parts)?.into_iter().map(|(k, _)| {
        let r = converge(&k, &bot);
        (k, r)
    }));
    if parts.config.emergency.group.is_some() {
        let nudged = crate::steps::emergency::nudge_open(
            &parts.clients.jira,
            &parts.config,
            &parts.notifier,
            crate::base::time::Timestamp::now(),
        )
        .map(|actions| Converged { actions, ..Converged::default() })
        .map_err(ConvergeError::from);
        all.push(("retrospectives".to_owned(), nudged));
    }
    Ok(all)
}
