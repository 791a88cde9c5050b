//! Admin webhooks of the Jira stand-in: `/rest/webhooks/1.0/webhook`, the
//! resource behind Jira's System > WebHooks screen, and their deliveries.
//!
//! This resource is outside the official Jira Cloud REST v3 description, so
//! nothing checks the stand-in against a description here: it is modelled on
//! Atlassian's webhook documentation (register with `name`, `url`, `events`,
//! `filters: {"issue-related-events-section": JQL}`, `excludeBody` and a
//! write-only `secret`; a webhook is named by its `self` URL ending in its
//! id; `PUT .../webhook/{id}` changes it; only Jira administrators may use
//! it), and changegate's use of it is tested against this stand-in only.
//! Where the documentation is silent the stand-in chooses, and says so: a
//! `PUT` without `secret` keeps the secret the webhook had; unknown request
//! fields are refused (400), so a client sending more than the documented
//! fields is caught.
//!
//! Deliveries: when an issue is created, edited, transitioned or commented
//! on, every enabled webhook sending that event whose JQL selects the issue
//! gets the event as JSON, signed `X-Hub-Signature: sha256=<HMAC-SHA256 of
//! the body>` with its secret (unsigned when it has none), as Jira Cloud
//! does.

use serde_json::{Map, Value, json};

use super::exchange::{Req, Resp};
use super::jira_users::SiteUser;
use super::jql;
use crate::base::time::Timestamp;

/// The group whose members the stand-in treats as Jira administrators
/// (the global permission *Administer Jira*).
pub(crate) const ADMIN_GROUP: &str = "jira-admins";

/// The resource's path.
const PATH: &str = "/rest/webhooks/1.0/webhook";

/// The fields a registration may carry.
const FIELDS: &[&str] = &["name", "description", "url", "events", "filters", "excludeBody", "enabled", "secret"];

#[derive(Debug, Clone)]
struct Stored {
    id: u64,
    name: String,
    description: String,
    url: String,
    events: Vec<String>,
    jql: Option<String>,
    exclude_body: bool,
    enabled: bool,
    secret: Option<String>,
    updated: Timestamp,
    updated_by: (String, String),
}

/// The registered admin webhooks.
#[derive(Debug, Default)]
pub struct AdminWebhooks {
    hooks: Vec<Stored>,
    next_id: u64,
}

/// One delivery to make: where, the body, and its signature header value.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The webhook's URL.
    pub(crate) url: String,
    /// The event, as JSON bytes.
    pub(crate) body: Vec<u8>,
    /// `sha256=<hex>`, when the webhook has a secret.
    pub(crate) signature: Option<String>,
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(status, json!({"errorMessages": [message], "errors": {}}))
}

/// A registration's fields, checked; `Err` is the 400 answer.
struct Registration {
    name: String,
    description: String,
    url: String,
    events: Vec<String>,
    jql: Option<String>,
    exclude_body: bool,
    enabled: bool,
    secret: Option<String>,
}

fn registration(body: &[u8]) -> Result<Registration, Resp> {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return Err(error(400, "The request body must be a JSON object."));
    };
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(error(400, &format!("Unrecognized field \"{k}\".")));
    }
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let mut errors = Map::new();
    let name = text("name");
    if name.is_empty() {
        errors.insert("name".into(), json!("A webhook needs a name."));
    }
    let url = text("url");
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        errors.insert("url".into(), json!("The URL must be an http or https URL."));
    }
    let events: Vec<String> = match o.get("events") {
        None => Vec::new(),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            a.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        Some(_) => {
            errors.insert("events".into(), json!("events is a list of event names."));
            Vec::new()
        }
    };
    let jql = match o.get("filters") {
        None => None,
        Some(Value::Object(f)) => match f.get("issue-related-events-section") {
            None | Some(Value::Null) => None,
            Some(Value::String(q)) if q.trim().is_empty() => None,
            Some(Value::String(q)) => {
                if let Err(e) = jql::parse(q) {
                    errors.insert("filters".into(), json!(format!("The JQL filter is not valid: {e}")));
                }
                Some(q.trim().to_owned())
            }
            Some(_) => {
                errors.insert("filters".into(), json!("issue-related-events-section is a JQL string."));
                None
            }
        },
        Some(_) => {
            errors.insert("filters".into(), json!("filters is an object."));
            None
        }
    };
    let flag = |k: &str, default: bool, errors: &mut Map<String, Value>| match o.get(k) {
        None => default,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.insert(k.into(), json!(format!("{k} is true or false.")));
            default
        }
    };
    let exclude_body = flag("excludeBody", false, &mut errors);
    let enabled = flag("enabled", true, &mut errors);
    let secret = match o.get("secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.insert("secret".into(), json!("The secret is a non-empty string."));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Resp::json(400, json!({"errorMessages": [], "errors": errors})));
    }
    Ok(Registration { name, description: text("description"), url, events, jql, exclude_body, enabled, secret })
}

impl AdminWebhooks {
    fn json(&self, w: &Stored, base_url: &str) -> Value {
        let mut filters = Map::new();
        if let Some(q) = &w.jql {
            filters.insert("issue-related-events-section".into(), json!(q));
        }
        json!({"self": format!("{base_url}{PATH}/{}", w.id), "name": w.name, "description": w.description,
               "url": w.url, "events": w.events, "filters": filters, "excludeBody": w.exclude_body,
               "enabled": w.enabled, "lastUpdated": w.updated.0, "lastUpdatedUser": w.updated_by.0,
               "lastUpdatedDisplayName": w.updated_by.1})
    }

    /// Handles one request under `/rest/webhooks/1.0/` by an authenticated user.
    pub fn handle(&mut self, req: &Req, user: &SiteUser, base_url: &str) -> Resp {
        if !user.groups.iter().any(|g| g == ADMIN_GROUP) {
            return error(403, "Only Jira administrators may manage webhooks.");
        }
        let path = req.path.trim_end_matches('/');
        let Some(rest) = path.strip_prefix(PATH) else {
            return error(404, &format!("No stand-in route for {} {path}", req.method));
        };
        let id: Option<u64> = match rest.strip_prefix('/') {
            None if rest.is_empty() => None,
            Some(id) => match id.parse() {
                Ok(n) => Some(n),
                Err(_) => return error(404, "No webhook with that id."),
            },
            None => return error(404, &format!("No stand-in route for {} {path}", req.method)),
        };
        let by = (user.account_id.clone(), user.name.clone());
        match (req.method.as_str(), id) {
            ("GET", None) => Resp::json(200, Value::Array(self.hooks.iter().map(|w| self.json(w, base_url)).collect())),
            ("POST", None) => match registration(&req.body) {
                Err(r) => r,
                Ok(r) => {
                    self.next_id += 1;
                    let w = Stored {
                        id: self.next_id,
                        name: r.name,
                        description: r.description,
                        url: r.url,
                        events: r.events,
                        jql: r.jql,
                        exclude_body: r.exclude_body,
                        enabled: r.enabled,
                        secret: r.secret,
                        updated: Timestamp::now(),
                        updated_by: by,
                    };
                    let out = self.json(&w, base_url);
                    self.hooks.push(w);
                    Resp::json(201, out)
                }
            },
            (m, Some(id)) => {
                let Some(idx) = self.hooks.iter().position(|w| w.id == id) else {
                    return error(404, "No webhook with that id.");
                };
                match m {
                    "GET" => Resp::json(200, self.json(&self.hooks[idx], base_url)),
                    "DELETE" => {
                        self.hooks.remove(idx);
                        Resp::empty(204)
                    }
                    "PUT" => match registration(&req.body) {
                        Err(r) => r,
                        Ok(r) => {
                            let w = &mut self.hooks[idx];
                            w.name = r.name;
                            w.description = r.description;
                            w.url = r.url;
                            w.events = r.events;
                            w.jql = r.jql;
                            w.exclude_body = r.exclude_body;
                            w.enabled = r.enabled;
                            // Not documented: a change without a secret keeps the one it had.
                            if r.secret.is_some() {
                                w.secret = r.secret;
                            }
                            w.updated = Timestamp::now();
                            w.updated_by = by;
                            Resp::json(200, self.json(&self.hooks[idx], base_url))
                        }
                    },
                    _ => error(405, "Method not allowed."),
                }
            }
            _ => error(405, "Method not allowed."),
        }
    }

    /// How many webhooks are registered.
    pub fn count(&self) -> usize {
        self.hooks.len()
    }

    /// Whether any webhook is registered (nothing to deliver otherwise).
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// The secret a webhook signs with (tests: the secret was stored, and
    /// kept by a change without one).
    pub fn secret_of(&self, id: u64) -> Option<&str> {
        self.hooks.iter().find(|w| w.id == id)?.secret.as_deref()
    }

    /// The deliveries of an issue event (`jira:issue_created`,
    /// `jira:issue_updated`) of issue `key` in `project`: one for each
    /// enabled webhook sending it whose JQL selects the issue.
    pub fn deliveries(&self, event: &str, event_type: &str, id: Option<&str>, key: &str) -> Vec<Delivery> {
        let project = key.rsplit_once('-').map_or(key, |(p, _)| p);
        let values = |field: &str| -> Vec<String> {
            match field {
                "project" => vec![project.to_owned()],
                "key" | "issuekey" => vec![key.to_owned()],
                _ => Vec::new(),
            }
        };
        let mut issue = json!({"key": key, "fields": {"project": {"key": project}}});
        if let Some(id) = id {
            issue["id"] = json!(id);
        }
        self.hooks
            .iter()
            .filter(|w| w.enabled && w.events.iter().any(|e| e == event))
            .filter(|w| match &w.jql {
                None => true,
                Some(q) => jql::parse(q).ok().is_some_and(|q| q.filter.is_none_or(|f| f.matches(&values))),
            })
            .map(|w| {
                let mut body = json!({"timestamp": Timestamp::now().0, "webhookEvent": event,
                                      "issue_event_type_name": event_type, "matchedWebhookIds": [w.id]});
                if !w.exclude_body {
                    body["issue"] = issue.clone();
                }
                let body = body.to_string().into_bytes();
                let signature = w.secret.as_ref().map(|s| format!("sha256={}", crate::bot::webhook::sign(&body, s)));
                Delivery { url: w.url.clone(), body, signature }
            })
            .collect()
    }
}

/// The delivery an answered Jira request makes, if any: issue created
/// (`POST /rest/api/3/issue`), edited (`PUT .../issue/{key}`), transitioned
/// or commented on; `None` for everything else and for failed requests.
pub(crate) fn event_of(req: &Req, resp: &Resp) -> Option<(&'static str, &'static str, Option<String>, String)> {
    if !(200..300).contains(&resp.status) {
        return None;
    }
    let path = req.path.trim_end_matches('/');
    let rest = path.strip_prefix("/rest/api/3/issue")?;
    if req.method == "POST" && rest.is_empty() {
        let v: Value = serde_json::from_slice(&resp.body).ok()?;
        return Some((
            "jira:issue_created",
            "issue_created",
            v["id"].as_str().map(str::to_owned),
            v["key"].as_str()?.to_owned(),
        ));
    }
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let kind = match (req.method.as_str(), parts.as_slice()) {
        ("PUT", [_]) => "issue_updated",
        ("POST", [_, "transitions"]) => "issue_generic",
        ("POST", [_, "comment"]) => "issue_commented",
        _ => return None,
    };
    Some(("jira:issue_updated", kind, None, parts[0].to_owned()))
}

/// Sends deliveries in the background (a slow receiver never holds the
/// stand-in up); failures are dropped, as a real site retries on its own.
pub(crate) fn deliver(deliveries: Vec<Delivery>) {
    if deliveries.is_empty() {
        return;
    }
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .build()
            .into();
        for d in deliveries {
            let mut req = agent.post(&d.url).header("Content-Type", "application/json");
            if let Some(s) = &d.signature {
                req = req.header("X-Hub-Signature", s);
            }
            let _ = req.send(&d.body[..]);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> SiteUser {
        super::super::jira_users::default_users()
            .into_iter()
            .find(|u| u.groups.iter().any(|g| g == ADMIN_GROUP))
            .unwrap()
    }

    fn req(method: &str, path: &str, body: Value) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: if body.is_null() { Vec::new() } else { body.to_string().into_bytes() },
        }
    }

    fn hook(events: &[&str], jql: &str) -> Value {
        json!({"name": "bot", "url": "http://127.0.0.1:1/webhooks/jira", "events": events,
               "filters": {"issue-related-events-section": jql}, "excludeBody": false, "secret": "s3cret"})
    }

    #[test]
    fn only_administrators_register_and_the_secret_is_never_listed() {
        let mut w = AdminWebhooks::default();
        let ci = super::super::jira_users::default_users().into_iter().find(|u| u.email == "ci@acme.test").unwrap();
        assert_eq!(w.handle(&req("GET", PATH, Value::Null), &ci, "http://j").status, 403);
        let r = w.handle(&req("POST", PATH, hook(&["jira:issue_created"], "project = PRODCM")), &admin(), "http://j");
        assert_eq!(r.status, 201);
        let listed = w.handle(&req("GET", PATH, Value::Null), &admin(), "http://j");
        let text = String::from_utf8(listed.body).unwrap();
        assert!(
            text.contains("\"self\":\"http://j/rest/webhooks/1.0/webhook/1\"") && !text.contains("s3cret"),
            "{text}"
        );
        // A change without a secret keeps it.
        let mut change = hook(&["jira:issue_created", "jira:issue_updated"], "project = PRODCM");
        change.as_object_mut().unwrap().remove("secret");
        assert_eq!(w.handle(&req("PUT", &format!("{PATH}/1"), change), &admin(), "http://j").status, 200);
        assert_eq!(w.secret_of(1), Some("s3cret"));
        let bad = json!({"name": "x", "url": "http://x", "jqlFilter": "project = X"});
        assert_eq!(w.handle(&req("POST", PATH, bad), &admin(), "http://j").status, 400);
    }

    #[test]
    fn deliveries_go_to_matching_webhooks_signed() {
        let mut w = AdminWebhooks::default();
        w.handle(&req("POST", PATH, hook(&["jira:issue_created"], "project = PRODCM")), &admin(), "http://j");
        w.handle(&req("POST", PATH, hook(&["jira:issue_created"], "project = OPS")), &admin(), "http://j");
        let d = w.deliveries("jira:issue_created", "issue_created", Some("10001"), "PRODCM-1");
        assert_eq!(d.len(), 1);
        let sig = d[0].signature.as_deref().unwrap();
        assert_eq!(sig, format!("sha256={}", crate::bot::webhook::sign(&d[0].body, "s3cret")));
        let v: Value = serde_json::from_slice(&d[0].body).unwrap();
        assert_eq!(v["issue"]["fields"]["project"]["key"], "PRODCM");
        assert!(w.deliveries("jira:issue_updated", "issue_updated", None, "PRODCM-1").is_empty());
    }
}
