//! The Jira webhook that wakes the bot: an *admin* webhook posting issue
//! created and updated events of the change project to
//! `https://BOT/webhooks/jira`, signed with a secret the bot holds in
//! `CHANGEGATE_JIRA_WEBHOOK_SECRETS`.
//!
//! `/rest/api/3/webhook` is for Connect and OAuth apps only; a Jira
//! administrator registers an admin webhook through
//! `/rest/webhooks/1.0/webhook` ([`crate::clients::jira::admin_webhooks`]), or on the
//! admin screen with the settings [`admin_screen`] lists. That resource is
//! outside the official REST v3 description, so this part of the setup is
//! tested against changegate's Jira stand-in only.
//!
//! Like every setup target: [`read`] takes a snapshot, [`plan`] (pure)
//! compares it with what the bot needs, [`apply`] performs the create or
//! change step. The secret is write-only on Jira's side: a listing never
//! shows it, so the plan cannot tell which secret an existing webhook signs
//! with. Rotating it is the admin screen, or a plan with `rotate` set, which
//! re-sends the secret with `PUT`.

use crate::clients::http::Secret;
use crate::clients::jira::admin_webhooks::{AdminWebhook, AdminWebhookSpec};
use crate::clients::jira::{Jira, JiraError};

use super::{Action, Step};

/// The events the bot acts on.
pub(crate) const EVENTS: [&str; 2] = ["jira:issue_created", "jira:issue_updated"];

/// Where the bot reads the secrets Jira deliveries are checked with.
pub(crate) const SECRETS_VAR: &str = "CHANGEGATE_JIRA_WEBHOOK_SECRETS";

/// The global permission admin webhooks need.
pub(crate) const PERMISSION: &str = "Administer Jira";

/// The kind of the plan's step.
pub(crate) const KIND: &str = "webhook";

/// The bot's Jira endpoint under its base URL.
pub(crate) const ENDPOINT: &str = "/webhooks/jira";

/// What the bot needs of the site.
#[derive(Debug, Clone)]
pub struct Needed {
    /// The change project key (`PRODCM`).
    pub(crate) project: String,
    /// The bot's Jira endpoint, `https://bot.example.com/webhooks/jira`.
    pub(crate) url: String,
    /// The secret deliveries are signed with: one of the values of the
    /// bot's `CHANGEGATE_JIRA_WEBHOOK_SECRETS`. Without it nothing can be
    /// registered (the plan leaves it to a person).
    pub(crate) secret: Option<Secret>,
    /// Re-send the secret to an existing webhook (rotation); it cannot be
    /// read back, so it is never re-sent otherwise.
    pub(crate) rotate: bool,
}

impl Needed {
    /// The webhook for `project` posting to the bot at `bot_url` (its base
    /// URL, or its Jira endpoint already ending in `/webhooks/jira`).
    pub fn new(project: &str, bot_url: &str, secret: Option<Secret>, rotate: bool) -> Needed {
        let base = bot_url.trim().trim_end_matches('/');
        let url = if base.ends_with(ENDPOINT) { base.to_owned() } else { format!("{base}{ENDPOINT}") };
        Needed { project: project.trim().to_owned(), url, secret, rotate }
    }

    /// `project = KEY`.
    pub fn jql(&self) -> String {
        format!("project = {}", self.project)
    }

    /// The webhook's name on the site.
    pub fn name(&self) -> String {
        format!("changegate bot ({})", self.project)
    }

    /// The webhook as registered.
    pub fn spec(&self) -> AdminWebhookSpec {
        AdminWebhookSpec {
            name: self.name(),
            url: self.url.clone(),
            events: EVENTS.iter().map(|e| (*e).to_owned()).collect(),
            jql: self.jql(),
        }
    }
}

/// The site's admin webhooks, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// Every admin webhook of the site.
    Listed(Vec<AdminWebhook>),
    /// Listing answered 401 or 403: the token is not a Jira administrator's.
    NotAdministrator {
        /// The status.
        status: u16,
    },
}

/// Reads the site's admin webhooks. A token that may not list them is a
/// snapshot ([`Existing::NotAdministrator`]), not an error: the plan says
/// what is missing.
pub fn read(jira: &Jira) -> Result<Existing, JiraError> {
    match jira.admin_webhooks() {
        Ok(list) => Ok(Existing::Listed(list)),
        Err(JiraError::NotAdministrator { status, .. }) => Ok(Existing::NotAdministrator { status }),
        Err(e) => Err(e),
    }
}

/// What to do, with what `apply` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Present {
        id: Option<u64>,
    },
    Create,
    Change {
        id: u64,
        why: Vec<String>,
    },
    /// Differs, but Jira gave no id to change it by.
    ChangeByHand {
        why: Vec<String>,
    },
    /// Nothing can be registered without the secret.
    NoSecret {
        why: Vec<String>,
    },
    Blocked {
        status: u16,
    },
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/').eq_ignore_ascii_case(b.trim().trim_end_matches('/'))
}

/// A JQL filter as compared: lower case, quotes dropped, spaces collapsed
/// (`Project = "PRODCM"` is `project = PRODCM`).
fn normal_jql(jql: &str) -> String {
    let s: String = jql.chars().filter(|c| !matches!(c, '"' | '\'')).collect::<String>().to_lowercase();
    let s = s.replace('=', " = ");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s.replace("in ( ", "in (").replace(" )", ")")
}

/// Whether `jql` selects exactly the change project.
fn selects_project(jql: Option<&str>, project: &str) -> bool {
    let Some(jql) = jql else { return false };
    let n = normal_jql(jql);
    let key = project.to_lowercase();
    n == format!("project = {key}") || n == format!("project in ({key})")
}

/// What differs between a webhook at the bot's URL and what the bot needs.
fn differences(w: &AdminWebhook, needed: &Needed) -> Vec<String> {
    let mut why = Vec::new();
    if !selects_project(w.jql.as_deref(), &needed.project) {
        why.push(match &w.jql {
            Some(j) => format!("its JQL filter is {j:?}, not {:?}", needed.jql()),
            None => format!("it has no JQL filter (every project's issues), not {:?}", needed.jql()),
        });
    }
    let missing: Vec<&str> = EVENTS.iter().copied().filter(|e| !w.events.iter().any(|x| x == e)).collect();
    if !missing.is_empty() {
        why.push(format!("it does not send {}", missing.join(", ")));
    }
    if !w.enabled {
        why.push("it is disabled".to_owned());
    }
    if w.exclude_body {
        why.push("it excludes the body (the bot reads the issue key from it)".to_owned());
    }
    why
}

fn decide(needed: &Needed, existing: &Existing) -> Decision {
    let list = match existing {
        Existing::NotAdministrator { status } => return Decision::Blocked { status: *status },
        Existing::Listed(list) => list,
    };
    let ours: Vec<&AdminWebhook> = list.iter().filter(|w| same_url(&w.url, &needed.url)).collect();
    if let Some(w) = ours.iter().find(|w| differences(w, needed).is_empty()) {
        return match (needed.rotate, w.id, &needed.secret) {
            (false, id, _) => Decision::Present { id },
            (true, Some(id), Some(_)) => Decision::Change { id, why: vec!["the secret is re-sent (rotation)".into()] },
            (true, None, _) => Decision::ChangeByHand { why: vec!["the secret is to be rotated".into()] },
            (true, Some(_), None) => Decision::NoSecret { why: vec!["the secret is to be rotated".into()] },
        };
    }
    match ours.first() {
        None if needed.secret.is_none() => Decision::NoSecret { why: Vec::new() },
        None => Decision::Create,
        Some(w) => {
            let mut why = differences(w, needed);
            if needed.rotate {
                why.push("the secret is re-sent (rotation)".into());
            }
            match w.id {
                Some(id) if !needed.rotate || needed.secret.is_some() => Decision::Change { id, why },
                Some(_) => Decision::NoSecret { why },
                None => Decision::ChangeByHand { why },
            }
        }
    }
}

/// What an existing webhook's secret is, in words: it cannot be known.
const SECRET_UNREADABLE: &str = "Jira never shows a webhook's secret, so which one it signs with cannot be read back: \
     if the bot refuses its deliveries (bad_signature in its /metrics), set the secret on the admin screen or run setup \
     jira --apply --rotate-secret to re-send it";

/// The plan's steps for the bot's webhook (pure: a snapshot in, steps out).
pub fn plan(needed: &Needed, existing: &Existing) -> Vec<Step> {
    let name = needed.name();
    let target = format!("{} (JQL {:?}; {})", needed.url, needed.jql(), EVENTS.join(", "));
    let step = match decide(needed, existing) {
        Decision::Present { id } => Step::new(
            KIND,
            name,
            Action::Present,
            format!(
                "admin webhook{} posts to {target}. {SECRET_UNREADABLE}",
                id.map_or_else(String::new, |i| format!(" {i}"))
            ),
        ),
        Decision::Create => Step::new(
            KIND,
            name,
            Action::Create,
            format!(
                "register an admin webhook posting to {target}, signed with the secret given (one of the bot's \
                 {SECRETS_VAR}); it is sent once and cannot be read back"
            ),
        ),
        Decision::Change { id, why } => {
            let secret = if needed.rotate {
                "the secret given is sent with it (rotation)".to_owned()
            } else {
                "its secret is kept, not re-sent (it cannot be read back; rotate re-sends it)".to_owned()
            };
            Step::new(
                KIND,
                name,
                Action::Change,
                format!(
                    "admin webhook {id} at {}: {}; it is changed to post {target}; {secret}",
                    needed.url,
                    why.join("; ")
                ),
            )
        }
        Decision::ChangeByHand { why } => Step::new(
            KIND,
            name,
            Action::Manual,
            format!(
                "the admin webhook at {} ({}) has no id Jira gave: change it on the admin screen: {}",
                needed.url,
                why.join("; "),
                admin_screen(needed).join("; ")
            ),
        ),
        Decision::NoSecret { why } => {
            let found = if why.is_empty() {
                String::new()
            } else {
                format!("the webhook at the bot's URL: {}; ", why.join("; "))
            };
            Step::new(
                KIND,
                name,
                Action::Manual,
                format!(
                    "{found}no secret was given: pass the bot's secret (a value of {SECRETS_VAR}) to register it, or \
                     create it on the admin screen: {}",
                    admin_screen(needed).join("; ")
                ),
            )
        }
        Decision::Blocked { status } => Step::new(
            KIND,
            name,
            Action::Blocked { permission: PERMISSION.to_owned() },
            format!(
                "listing admin webhooks answered HTTP {status}: only a Jira administrator registers one; \
                 an administrator runs this setup, or creates it on the admin screen: {}",
                admin_screen(needed).join("; ")
            ),
        ),
    };
    vec![step]
}

/// Performs the create or change step of [`plan`] (nothing else) and
/// returns what was done, as steps. Run again, the plan is [`Action::Present`].
pub fn apply(jira: &Jira, needed: &Needed, existing: &Existing) -> Result<Vec<Step>, JiraError> {
    let spec = needed.spec();
    let done = match (decide(needed, existing), &needed.secret) {
        (Decision::Create, Some(secret)) => {
            let w = jira.create_admin_webhook(&spec, secret)?;
            Some(Step::new(
                KIND,
                needed.name(),
                Action::Create,
                format!(
                    "registered admin webhook{} posting to {} (JQL {:?}), signed with the secret given",
                    w.id.map_or_else(String::new, |i| format!(" {i}")),
                    needed.url,
                    needed.jql()
                ),
            ))
        }
        (Decision::Change { id, why }, secret) => {
            let secret = if needed.rotate { secret.as_ref() } else { None };
            jira.update_admin_webhook(id, &spec, secret)?;
            Some(Step::new(
                KIND,
                needed.name(),
                Action::Change,
                format!(
                    "changed admin webhook {id} ({}){}",
                    why.join("; "),
                    if secret.is_some() { "; secret re-sent" } else { "" }
                ),
            ))
        }
        _ => None,
    };
    Ok(done.into_iter().collect())
}

/// The exact settings for Jira's admin screen (System > WebHooks > Create a
/// WebHook), one line each. The secret itself is never printed: the line
/// says where it comes from.
pub fn admin_screen(needed: &Needed) -> Vec<String> {
    vec![
        "Jira settings > System > WebHooks > Create a WebHook (needs Administer Jira)".to_owned(),
        format!("Name: {}", needed.name()),
        "Status: Enabled".to_owned(),
        format!("URL: {}", needed.url),
        format!(
            "Secret: the value the bot has in {SECRETS_VAR} (one of its comma-separated values); Jira signs each \
             delivery with it (X-Hub-Signature) and never shows it again"
        ),
        format!("Issue related events, JQL: {}", needed.jql()),
        "Events: Issue: created, updated (nothing else is needed)".to_owned(),
        "Exclude body: unchecked".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needed() -> Needed {
        Needed::new("PRODCM", "https://bot.example.com/", Some(Secret::new("s3cret")), false)
    }

    fn hook(url: &str, jql: Option<&str>, events: &[&str]) -> AdminWebhook {
        AdminWebhook {
            id: Some(12),
            name: "x".into(),
            url: url.into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            jql: jql.map(str::to_owned),
            enabled: true,
            exclude_body: false,
        }
    }

    fn action(n: &Needed, e: &Existing) -> Action {
        let steps = plan(n, e);
        assert_eq!(steps.len(), 1);
        steps[0].action.clone()
    }

    #[test]
    fn the_bot_url_gets_its_endpoint() {
        assert_eq!(needed().url, "https://bot.example.com/webhooks/jira");
        assert_eq!(Needed::new("P", "https://b/webhooks/jira/", None, false).url, "https://b/webhooks/jira");
    }

    #[test]
    fn present_create_change_and_blocked() {
        let n = needed();
        let all = EVENTS.to_vec();
        assert_eq!(action(&n, &Existing::Listed(vec![])), Action::Create);
        let ok = hook("https://bot.example.com/webhooks/jira/", Some("Project = \"PRODCM\""), &all);
        assert_eq!(action(&n, &Existing::Listed(vec![ok.clone()])), Action::Present);
        // Extra events are harmless: the bot ignores them.
        let more =
            hook(&n.url, Some("project = PRODCM"), &["jira:issue_created", "jira:issue_updated", "comment_created"]);
        assert_eq!(action(&n, &Existing::Listed(vec![more])), Action::Present);
        let wrong_events = hook(&n.url, Some("project = PRODCM"), &["jira:issue_created"]);
        let steps = plan(&n, &Existing::Listed(vec![wrong_events]));
        assert_eq!(steps[0].action, Action::Change);
        assert!(steps[0].detail.contains("does not send jira:issue_updated"), "{}", steps[0].detail);
        assert!(steps[0].detail.contains("its secret is kept"), "{}", steps[0].detail);
        let wrong_jql = hook(&n.url, Some("project = OPS"), &all);
        assert_eq!(action(&n, &Existing::Listed(vec![wrong_jql])), Action::Change);
        let mut disabled = ok.clone();
        disabled.enabled = false;
        assert_eq!(action(&n, &Existing::Listed(vec![disabled])), Action::Change);
        // Another URL is someone else's webhook.
        let other = hook("https://other.example.com/hook", Some("project = PRODCM"), &all);
        assert_eq!(action(&n, &Existing::Listed(vec![other])), Action::Create);
        assert_eq!(
            action(&n, &Existing::NotAdministrator { status: 403 }),
            Action::Blocked { permission: "Administer Jira".into() }
        );
    }

    #[test]
    fn without_a_secret_or_an_id_a_person_does_it_and_rotation_is_asked_for() {
        let mut n = needed();
        n.secret = None;
        let steps = plan(&n, &Existing::Listed(vec![]));
        assert_eq!(steps[0].action, Action::Manual);
        assert!(steps[0].detail.contains("URL: https://bot.example.com/webhooks/jira"), "{}", steps[0].detail);
        let mut no_id = hook(&n.url, None, &EVENTS);
        no_id.id = None;
        assert_eq!(action(&needed(), &Existing::Listed(vec![no_id])), Action::Manual);
        let ok = hook(&n.url, Some("project = PRODCM"), &EVENTS);
        let mut rotate = needed();
        rotate.rotate = true;
        let steps = plan(&rotate, &Existing::Listed(vec![ok]));
        assert_eq!(steps[0].action, Action::Change);
        assert!(steps[0].detail.contains("rotation"), "{}", steps[0].detail);
    }

    #[test]
    fn the_secret_is_never_in_a_step_or_the_admin_screen() {
        let n = needed();
        let mut text: Vec<String> = admin_screen(&n);
        for e in [Existing::Listed(vec![]), Existing::NotAdministrator { status: 401 }] {
            text.extend(plan(&n, &e).into_iter().map(|s| format!("{s:?}")));
        }
        text.push(format!("{n:?}"));
        let all = text.join("\n");
        assert!(!all.contains("s3cret"), "{all}");
        assert!(all.contains(SECRETS_VAR) && all.contains("Issue related events, JQL: project = PRODCM"), "{all}");
    }

    #[test]
    fn jql_is_compared_as_jira_reads_it() {
        assert!(selects_project(Some("project=PRODCM"), "PRODCM"));
        assert!(selects_project(Some("project in ( \"PRODCM\" )"), "PRODCM"));
        assert!(!selects_project(Some("project = PRODCM AND type = Bug"), "PRODCM"));
        assert!(!selects_project(None, "PRODCM"));
    }
}
