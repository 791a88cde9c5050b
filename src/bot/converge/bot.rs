//! What converge works with and what it gives back: the bot's clients,
//! configuration and keys ([`Bot`]), what a run did ([`Converged`]) and why
//! it could not finish ([`ConvergeError`]).

use std::time::Duration;

use crate::clients::Clients;
use crate::clients::jira::JiraError;
use crate::config::Config;
use crate::model::binding::TicketRecord;
use crate::model::receipt::{KeyRing, SigningKey};
use crate::steps::analyze::AnalyzeError;
use crate::steps::bot_record::{self, Check, Store, StoreError};
use crate::steps::holds::HoldError;
use crate::steps::lock;
use crate::steps::ticket::TicketState;

/// The services and settings the bot runs with.
#[derive(Debug)]
pub(crate) struct Bot<'a> {
    /// Jira as the bot's user, CircleCI with the bot's token, and GitHub.
    pub(crate) clients: &'a Clients,
    /// The bot's configuration (the trusted policy).
    pub(crate) config: &'a Config,
    /// Where the policy came from and its text (recorded in evidence).
    pub(crate) policy: (&'a str, &'a str),
    /// Content digest of the policy the bot publishes (analyses and
    /// receipts name it).
    pub(crate) policy_digest: crate::base::digest::Sha256Digest,
    /// Signs the record and receipts (`CHANGEGATE_RECEIPT_KEY`).
    pub(crate) signing_key: &'a SigningKey,
    /// Keys the bot's own record is checked with (its key, and retired
    /// ones still accepted).
    pub(crate) ring: &'a KeyRing,
    /// How long a blocked hold is waited for, and how often it is looked at.
    pub(crate) hold_wait: (Duration, Duration),
    /// Tells people when a ticket needs them (Slack), beyond Jira's mentions.
    pub(crate) notifier: &'a crate::clients::notify::Notifier,
}

/// What converge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Converged {
    /// One line per action or decision.
    pub(crate) actions: Vec<String>,
    /// Holds resumed by this run.
    pub(crate) resumed: usize,
    /// The ticket was analysed by this run.
    pub(crate) analysed: bool,
    /// The ticket was approved by this run.
    pub(crate) approved: bool,
}

/// Why converge could not finish (it is run again by the next event or
/// reconcile; nothing was approved that should not have been).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConvergeError {
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// The analysis failed.
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    /// A hold could not be resumed.
    #[error(transparent)]
    Hold(#[from] HoldError),
    /// A CircleCI call failed.
    #[error(transparent)]
    CircleCi(#[from] crate::clients::http::ApiError),
    /// Recording the outcome of an ended deploy, or closing an expired
    /// ticket, failed.
    #[error(transparent)]
    Close(crate::steps::request::RequestError),
    /// The bot's record could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What slipped past the lock could not be read.
    #[error(transparent)]
    Lock(#[from] lock::ReadError),
}

impl Bot<'_> {
    /// The bot's record on tickets.
    pub(crate) fn store(&self) -> Store<'_> {
        Store {
            jira: &self.clients.jira,
            key: Some(self.signing_key),
            ring: Some(self.ring),
            bot_accounts: &self.config.jira.bot_accounts,
        }
    }

    /// Checks the record read with a ticket.
    pub(super) fn check(&self, t: &TicketState, record: &TicketRecord) -> Check {
        let floor = bot_record::seq_floor(&t.changelog, &self.config.jira.bot_accounts);
        bot_record::check(t.bot.as_ref(), Some(self.ring), &t.key, &record.binding_digest, floor)
    }
}
