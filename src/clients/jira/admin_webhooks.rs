//! Admin webhooks: `/rest/webhooks/1.0/webhook`, the resource behind
//! Jira's System > WebHooks screen.
//!
//! `/rest/api/3/webhook` registers webhooks for Connect and OAuth apps only;
//! a Jira administrator's API token registers an *admin* webhook here, with
//! a `secret` that makes Jira sign every delivery (`X-Hub-Signature:
//! sha256=<HMAC-SHA256 of the body>`), which is what `changegate serve`
//! checks. This resource is not part of the official REST v3 description:
//! its shape follows Atlassian's webhook documentation (register with `name`,
//! `url`, `events`, `filters: {"issue-related-events-section": JQL}`,
//! `excludeBody`, `secret`; list with `GET`, each webhook named by its
//! `self` URL ending in its id; change with `PUT .../webhook/{id}`), and
//! changegate tests it against its stand-in only, never against a
//! description. The secret is write-only: Jira never returns it, so a
//! listing cannot tell which secret a webhook signs with.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use ureq::http::Method;

use super::{Jira, JiraError};
use crate::clients::http::{ApiError, Secret};

/// The resource's path.
pub(crate) const PATH: &str = "/rest/webhooks/1.0/webhook";

/// The `filters` key holding a webhook's JQL.
pub(crate) const JQL_FILTER_KEY: &str = "issue-related-events-section";

/// An admin webhook as Jira lists it (the secret is never listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminWebhook {
    /// Its id (the last segment of its `self` URL), when Jira gave one.
    pub id: Option<u64>,
    /// Its name.
    pub(crate) name: String,
    /// Where Jira posts events.
    pub url: String,
    /// The events sent (`jira:issue_created`, ...).
    pub events: Vec<String>,
    /// The JQL filter of issue events; `None` when every issue matches.
    pub jql: Option<String>,
    /// Whether Jira sends it.
    pub enabled: bool,
    /// Whether deliveries leave the event body out.
    pub exclude_body: bool,
}

/// What an admin webhook should be (its secret is passed on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminWebhookSpec {
    /// Its name.
    pub name: String,
    /// Where Jira posts events.
    pub url: String,
    /// The events to send.
    pub events: Vec<String>,
    /// The JQL filter of issue events.
    pub jql: String,
}

impl AdminWebhookSpec {
    /// The request body: the registration fields, `excludeBody: false` (the
    /// bot reads the issue key from the body), `enabled: true` when asked,
    /// and the secret when one is given.
    fn body(&self, secret: Option<&Secret>, enabled: bool) -> Value {
        let mut body = json!({
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "filters": {JQL_FILTER_KEY: self.jql},
            "excludeBody": false,
        });
        if enabled {
            body["enabled"] = json!(true);
        }
        if let Some(s) = secret {
            body["secret"] = json!(s.expose());
        }
        body
    }
}

/// A webhook as the resource answers it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWebhook {
    #[serde(default, rename = "self")]
    self_url: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    filters: Map<String, Value>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    exclude_body: bool,
}

fn yes() -> bool {
    true
}

impl From<RawWebhook> for AdminWebhook {
    fn from(r: RawWebhook) -> Self {
        let id = r.self_url.trim_end_matches('/').rsplit('/').next().and_then(|s| s.parse().ok());
        let jql = r.filters.get(JQL_FILTER_KEY).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        AdminWebhook {
            id,
            name: r.name,
            url: r.url,
            events: r.events,
            jql: jql.map(str::to_owned),
            enabled: r.enabled,
            exclude_body: r.exclude_body,
        }
    }
}

/// The listing: documented as an array; a page of `values` is read as well.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Listing {
    All(Vec<RawWebhook>),
    Page { values: Vec<RawWebhook> },
}

/// 401 and 403 of this resource mean the token is not a Jira administrator's.
fn admin_only(e: ApiError) -> JiraError {
    match e {
        ApiError::Status { method, path, status: status @ (401 | 403), message, .. } => {
            JiraError::NotAdministrator { method, path, status, message }
        }
        other => JiraError::Api(other),
    }
}

/// Removes the webhook secret from anything an error could show.
fn scrub(e: JiraError, secret: Option<&Secret>) -> JiraError {
    let Some(secret) = secret.map(Secret::expose).filter(|s| !s.is_empty()) else {
        return e;
    };
    let clean = |s: String| s.replace(secret, "***");
    match e {
        JiraError::Api(ApiError::Status { service, method, path, status, message }) => {
            JiraError::Api(ApiError::Status { service, method, path, status, message: clean(message) })
        }
        JiraError::Api(ApiError::Decode { service, method, path, detail }) => {
            JiraError::Api(ApiError::Decode { service, method, path, detail: clean(detail) })
        }
        JiraError::Api(ApiError::Network { service, method, path, detail }) => {
            JiraError::Api(ApiError::Network { service, method, path, detail: clean(detail) })
        }
        JiraError::NotAdministrator { method, path, status, message } => {
            JiraError::NotAdministrator { method, path, status, message: clean(message) }
        }
        other => other,
    }
}

impl Jira {
    /// Every admin webhook of the site (`GET /rest/webhooks/1.0/webhook`;
    /// needs the global permission *Administer Jira*:
    /// [`JiraError::NotAdministrator`] otherwise).
    pub fn admin_webhooks(&self) -> Result<Vec<AdminWebhook>, JiraError> {
        let listing: Listing = self.http.get_json(PATH, &[]).map_err(admin_only)?;
        let raw = match listing {
            Listing::All(v) | Listing::Page { values: v } => v,
        };
        Ok(raw.into_iter().map(AdminWebhook::from).collect())
    }

    /// Registers an admin webhook signed with `secret`
    /// (`POST /rest/webhooks/1.0/webhook`). The secret is sent once and
    /// never shown, not even in an error.
    pub fn create_admin_webhook(&self, spec: &AdminWebhookSpec, secret: &Secret) -> Result<AdminWebhook, JiraError> {
        let body = spec.body(Some(secret), false);
        let r = self.http.send_json::<Value, _>(Method::POST, PATH, &body).map_err(admin_only);
        let created = r.map_err(|e| scrub(e, Some(secret)))?;
        Ok(self.answered(created, spec, None))
    }

    /// Changes admin webhook `id` to `spec`, enabled
    /// (`PUT /rest/webhooks/1.0/webhook/{id}`). The secret is sent only
    /// when given (rotating it); without one the request carries no
    /// `secret` field.
    pub fn update_admin_webhook(
        &self,
        id: u64,
        spec: &AdminWebhookSpec,
        secret: Option<&Secret>,
    ) -> Result<AdminWebhook, JiraError> {
        let body = spec.body(secret, true);
        let path = format!("{PATH}/{id}");
        let r = self.http.send_json::<Value, _>(Method::PUT, &path, &body).map_err(admin_only);
        let changed = r.map_err(|e| scrub(e, secret))?;
        Ok(self.answered(changed, spec, Some(id)))
    }

    /// The webhook Jira answered with; what was asked for when the answer
    /// is not a webhook.
    fn answered(&self, v: Value, spec: &AdminWebhookSpec, id: Option<u64>) -> AdminWebhook {
        match serde_json::from_value::<RawWebhook>(v) {
            Ok(raw) if !raw.url.is_empty() => {
                let mut w = AdminWebhook::from(raw);
                w.id = w.id.or(id);
                w
            }
            _ => AdminWebhook {
                id,
                name: spec.name.clone(),
                url: spec.url.clone(),
                events: spec.events.clone(),
                jql: Some(spec.jql.clone()),
                enabled: true,
                exclude_body: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clients::http::RetryPolicy;
    use crate::clients::jira::JiraSettings;
    use crate::testing::fake::{FakeServer, Reply};

    fn jira(url: &str) -> Jira {
        let s = JiraSettings { base_url: url.into(), email: "admin@acme.test".into(), token: Secret::new("tok-123") };
        let retry = RetryPolicy { attempts: 1, initial_backoff: Duration::from_millis(5), ..RetryPolicy::default() };
        Jira::new(&s, None, retry).unwrap()
    }

    fn spec() -> AdminWebhookSpec {
        AdminWebhookSpec {
            name: "changegate bot (PRODCM)".into(),
            url: "https://bot.example.com/webhooks/jira".into(),
            events: vec!["jira:issue_created".into(), "jira:issue_updated".into()],
            jql: "project = PRODCM".into(),
        }
    }

    #[test]
    fn lists_webhooks_with_their_id_filter_and_flags() {
        let server = FakeServer::start(vec![Reply::json(
            200,
            r#"[{"self":"https://acme.atlassian.net/rest/webhooks/1.0/webhook/12","name":"bot","url":"https://bot/webhooks/jira",
                 "events":["jira:issue_created"],"filters":{"issue-related-events-section":"project = PRODCM"},
                 "enabled":false,"excludeBody":true,"lastUpdated":1700000000000},
                {"self":"https://acme.atlassian.net/rest/webhooks/1.0/webhook/13","name":"all","url":"https://x","events":[]}]"#,
        )]);
        let list = jira(&server.url()).admin_webhooks().unwrap();
        assert_eq!(list[0].id, Some(12));
        assert_eq!(list[0].jql.as_deref(), Some("project = PRODCM"));
        assert!(!list[0].enabled && list[0].exclude_body);
        assert_eq!((list[1].id, list[1].jql.as_deref(), list[1].enabled), (Some(13), None, true));
        assert_eq!(server.requests()[0].url, PATH);
    }

    #[test]
    fn registering_sends_the_documented_fields_and_the_secret_once() {
        let server = FakeServer::start(vec![
            Reply::json(
                201,
                r#"{"self":"https://acme.atlassian.net/rest/webhooks/1.0/webhook/7","name":"changegate bot (PRODCM)",
                    "url":"https://bot.example.com/webhooks/jira","events":["jira:issue_created","jira:issue_updated"],
                    "filters":{"issue-related-events-section":"project = PRODCM"},"enabled":true,"excludeBody":false}"#,
            ),
            Reply::json(200, "{}"),
        ]);
        let j = jira(&server.url());
        let w = j.create_admin_webhook(&spec(), &Secret::new("s3cret-value")).unwrap();
        assert_eq!(w.id, Some(7));
        let body: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
        assert_eq!(
            body,
            json!({"name": "changegate bot (PRODCM)", "url": "https://bot.example.com/webhooks/jira",
                   "events": ["jira:issue_created", "jira:issue_updated"],
                   "filters": {"issue-related-events-section": "project = PRODCM"},
                   "excludeBody": false, "secret": "s3cret-value"})
        );
        // A change without rotation carries no secret.
        let w = j.update_admin_webhook(7, &spec(), None).unwrap();
        assert_eq!(w.id, Some(7), "an answer that is not a webhook keeps the id asked for");
        let r = &server.requests()[1];
        assert_eq!((r.method.as_str(), r.url.as_str()), ("PUT", "/rest/webhooks/1.0/webhook/7"));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert!(body.get("secret").is_none() && body["enabled"] == json!(true), "{body}");
    }

    #[test]
    fn a_token_that_is_not_an_administrators_is_a_typed_error_and_the_secret_never_shows() {
        let server = FakeServer::start(vec![
            Reply::json(403, r#"{"errorMessages":["You are not an administrator"]}"#),
            Reply::json(400, r#"{"errorMessages":["secret s3cret-value is too short"]}"#),
        ]);
        let j = jira(&server.url());
        let e = j.admin_webhooks().unwrap_err();
        assert!(matches!(e, JiraError::NotAdministrator { status: 403, .. }), "{e}");
        assert!(e.to_string().contains("Administer Jira"), "{e}");
        let e = j.create_admin_webhook(&spec(), &Secret::new("s3cret-value")).unwrap_err().to_string();
        assert!(e.contains("HTTP 400") && !e.contains("s3cret-value") && e.contains("secret *** is too short"), "{e}");
    }
}
