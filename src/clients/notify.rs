//! Telling people when a ticket needs them, beyond Jira's own
//! notifications (the bot's comments mention the approvers, so Jira mails
//! them): an optional Slack incoming webhook, `CHANGEGATE_SLACK_WEBHOOK_URL`.
//!
//! The message ([`slack_message`]) is built purely; [`Notifier::send`]
//! posts it. The webhook URL carries Slack's secret, so it is kept in a
//! [`Secret`] and no error names it. A failed post never changes a decision:
//! the Jira comment it accompanies is the record; the failure is reported.

use serde_json::{Value, json};

use crate::base::env::Env;
use crate::clients::http::{Auth, Body, Http, RetryPolicy, Secret, SetupError};

/// Why a person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The ticket needs a person's approval (manual review).
    NeedsApproval,
    /// A request has waited long: reminder.
    Waiting,
    /// An approval lapsed (expired, or the change moved after it).
    ApprovalLapsed,
    /// The request expired unapproved.
    Expired,
    /// An emergency was asked for: the break-glass group must decide.
    EmergencyRequested,
    /// An emergency was granted: its retrospective is due.
    RetrospectiveDue,
    /// An emergency's retrospective is overdue.
    RetrospectiveOverdue,
    /// Something got past the lock (a hold approved by someone else than
    /// the bot, a pipeline triggered by the bot's user or a group member).
    PastTheLock,
}

impl Notice {
    /// The reason, in words (for logs).
    pub(crate) fn reason_name(&self) -> &'static str {
        self.reason.headline()
    }
}

impl Reason {
    fn headline(self) -> &'static str {
        match self {
            Reason::NeedsApproval => "needs an approval",
            Reason::Waiting => "is still waiting for an approval",
            Reason::ApprovalLapsed => "lost its approval",
            Reason::Expired => "expired without an approval",
            Reason::EmergencyRequested => "asks for an EMERGENCY approval",
            Reason::RetrospectiveDue => "was deployed as an emergency: retrospective due",
            Reason::RetrospectiveOverdue => "has an OVERDUE emergency retrospective",
            Reason::PastTheLock => "had something get PAST THE LOCK (break-glass or bypass)",
        }
    }
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// Why.
    pub(crate) reason: Reason,
    /// The ticket key.
    pub(crate) ticket: String,
    /// Its web address.
    pub(crate) ticket_url: String,
    /// The workflow waiting at its hold, when there is one.
    pub(crate) workflow_id: Option<String>,
    /// One line of detail.
    pub(crate) detail: String,
}

/// The CircleCI web address of a workflow (where its hold is).
pub(crate) fn workflow_url(workflow_id: &str) -> String {
    format!("https://app.circleci.com/pipelines/workflows/{workflow_id}")
}

/// The Slack message of a notice (incoming-webhook JSON, `mrkdwn` text).
pub(crate) fn slack_message(n: &Notice) -> Value {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut text = format!("<{}|{}> {}: {}", n.ticket_url, escape(&n.ticket), n.reason.headline(), escape(&n.detail));
    if let Some(w) = &n.workflow_id {
        text.push_str(&format!(" (<{}|the waiting workflow>)", workflow_url(w)));
    }
    json!({"text": text})
}

/// Sends notices to the configured channels.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notifier {
    slack: Option<Http>,
}

/// A notice could not be sent (never names the webhook URL).
#[derive(Debug, thiserror::Error)]
#[error("Slack: the incoming webhook {0}")]
pub(crate) struct NotifyError(String);

impl Notifier {
    /// No channel beyond Jira.
    pub(crate) fn none() -> Self {
        Notifier::default()
    }

    /// From `CHANGEGATE_SLACK_WEBHOOK_URL`, when set.
    pub(crate) fn from_env(env: &Env, ca: Option<&std::path::Path>, retry: RetryPolicy) -> Result<Self, SetupError> {
        let Some(url) = env.get("CHANGEGATE_SLACK_WEBHOOK_URL").filter(|u| !u.trim().is_empty()) else {
            return Ok(Notifier::none());
        };
        let url = Secret::new(url.trim());
        // The whole URL is the secret: the client's base is it, and no
        // error message repeats it (`SetupError` is checked here too).
        let http = Http::new("Slack", "CHANGEGATE_SLACK_WEBHOOK_URL", url.expose(), Auth::None, ca, retry)
            .map_err(|_| SetupError::BaseUrl { name: "CHANGEGATE_SLACK_WEBHOOK_URL", value: "(hidden)".into() })?;
        Ok(Notifier { slack: Some(http) })
    }

    /// Whether any channel is configured.
    pub(crate) fn is_configured(&self) -> bool {
        self.slack.is_some()
    }

    /// Sends a notice to every configured channel.
    pub(crate) fn send(&self, n: &Notice) -> Result<(), NotifyError> {
        let Some(slack) = &self.slack else { return Ok(()) };
        let body = Body::Json(serde_json::to_vec(&slack_message(n)).expect("serialises"));
        slack.call(ureq::http::Method::POST, "", &[], &body).map(|_| ()).map_err(|e| {
            NotifyError(match e.status() {
                Some(s) => format!("answered HTTP {s}"),
                None => "could not be reached".to_owned(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_links_the_ticket_and_the_waiting_workflow() {
        let n = Notice {
            reason: Reason::NeedsApproval,
            ticket: "PRODCM-7".into(),
            ticket_url: "https://acme.atlassian.net/browse/PRODCM-7".into(),
            workflow_id: Some("wf-1".into()),
            detail: "review_failed <b> & more".into(),
        };
        let m = slack_message(&n);
        assert_eq!(
            m["text"],
            "<https://acme.atlassian.net/browse/PRODCM-7|PRODCM-7> needs an approval: review_failed &lt;b&gt; &amp; more \
             (<https://app.circleci.com/pipelines/workflows/wf-1|the waiting workflow>)"
        );
    }

    #[test]
    fn no_webhook_no_channel_and_a_bad_one_is_refused_without_showing_it() {
        let env = Env::from_pairs([("X", "y")]);
        assert!(!Notifier::from_env(&env, None, RetryPolicy::default()).unwrap().is_configured());
        let env = Env::from_pairs([("CHANGEGATE_SLACK_WEBHOOK_URL", "hooks.slack.com/services/T0/B0/secret")]);
        let e = Notifier::from_env(&env, None, RetryPolicy::default()).unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }
}
