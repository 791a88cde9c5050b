//! The Jira Cloud REST v3 client: the operations changegate uses, each one
//! of the official description (`/rest/api/3/...`), over [`Http`].
//!
//! Credentials come from `JIRA_BASE_URL`, `JIRA_USER_EMAIL` and
//! `JIRA_API_TOKEN` (basic auth with an API token). Search is
//! `POST /rest/api/3/search/jql` with `nextPageToken` paging and
//! `reconcileIssues` (the old `/rest/api/3/search` is gone).

pub(crate) mod adf;
pub(crate) mod admin_webhooks;
pub(crate) mod jql;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use ureq::http::Method;

use crate::base::env::Env;
use crate::clients::http::{ApiError, Auth, Body, Http, RetryPolicy, Secret, SetupError, percent_encode};

/// A failed Jira operation.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    /// The API call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The site refused a configuration changegate setup made.
    #[error("Jira: {0}")]
    Setup(String),
    /// The transition is not offered on the ticket to this user.
    #[error("Jira: transition {name:?} is not available on {key} for this user (available: {})", if available.is_empty() { "none".to_owned() } else { available.join(", ") })]
    TransitionUnavailable {
        /// Ticket.
        key: String,
        /// The transition asked for.
        name: String,
        /// What is offered.
        available: Vec<String>,
    },
    /// An attachment is larger than changegate reads.
    #[error("Jira: attachment {id} is larger than {max} bytes")]
    TooLarge {
        /// Attachment id.
        id: String,
        /// The bound.
        max: u64,
    },
    /// An issue's history is longer than changegate reads: nothing is
    /// decided on a part of it.
    #[error("Jira: {key} has more than {limit} history entries; changegate does not decide on part of a history")]
    HistoryTooLong {
        /// The issue.
        key: String,
        /// The bound.
        limit: usize,
    },
    /// An admin-only resource (admin webhooks) answered 401 or 403: the
    /// token is not a Jira administrator's.
    #[error("Jira: {method} {path} returned HTTP {status}{}: only a Jira administrator (global permission Administer Jira) may do this", if message.is_empty() { String::new() } else { format!(" ({message})") })]
    NotAdministrator {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// 401 or 403.
        status: u16,
        /// Jira's explanation, scrubbed of secrets.
        message: String,
    },
    /// A search matched more issues than changegate reads.
    #[error("Jira: the search matched more than {limit} issues: {jql}")]
    TooManyResults {
        /// The bound.
        limit: usize,
        /// The query.
        jql: String,
    },
}

/// Jira connection settings.
#[derive(Debug, Clone)]
pub struct JiraSettings {
    /// Site, e.g. `https://acme.atlassian.net`.
    pub base_url: String,
    /// Account email of the API token.
    pub email: String,
    /// API token.
    pub token: Secret,
}

impl JiraSettings {
    /// From `JIRA_BASE_URL`, `JIRA_USER_EMAIL`, `JIRA_API_TOKEN`.
    pub fn from_env(env: &Env) -> Result<Self, crate::base::env::MissingVars> {
        let [base_url, email, token] = env.require(["JIRA_BASE_URL", "JIRA_USER_EMAIL", "JIRA_API_TOKEN"])?;
        Ok(JiraSettings { base_url, email, token: Secret::new(token) })
    }
}

/// A user as Jira shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Stable account id (the identity changegate uses).
    #[serde(default)]
    pub(crate) account_id: String,
    /// Display name (never used for decisions).
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    /// Email, when visible.
    #[serde(default)]
    pub(crate) email_address: Option<String>,
}

/// An issue with the fields and properties asked for.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    /// Numeric id, as a string.
    pub(crate) id: String,
    /// Key, e.g. `PRODCM-12`.
    pub(crate) key: String,
    /// Fields asked for.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Entity properties asked for.
    #[serde(default)]
    pub(crate) properties: Map<String, Value>,
}

impl Issue {
    /// The numeric id.
    pub fn numeric_id(&self) -> u64 {
        self.id.parse().unwrap_or(u64::MAX)
    }

    /// The status name.
    pub fn status(&self) -> Option<&str> {
        self.fields.get("status")?.get("name")?.as_str()
    }

    /// The labels.
    pub fn labels(&self) -> Vec<&str> {
        self.fields
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

/// An issue just created.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    /// Numeric id, as a string.
    pub(crate) id: String,
    /// Key.
    pub key: String,
}

/// A workflow transition offered on an issue.
#[derive(Debug, Clone, Deserialize)]
pub struct Transition {
    /// Id to post.
    pub(crate) id: String,
    /// Name (configured per site).
    pub name: String,
    /// Target status.
    #[serde(default)]
    pub to: Option<StatusRef>,
}

/// A status reference.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusRef {
    /// Status name.
    #[serde(default)]
    pub name: String,
}

/// A comment.
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    /// Id.
    pub(crate) id: String,
    /// ADF body.
    #[serde(default)]
    pub body: Value,
    /// Author.
    #[serde(default)]
    pub author: Option<User>,
}

/// One entry of an issue's history.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangelogEntry {
    /// Id.
    pub(crate) id: String,
    /// Who made the change.
    #[serde(default)]
    pub(crate) author: Option<User>,
    /// When (Jira's timestamp format).
    pub(crate) created: String,
    /// What changed.
    #[serde(default)]
    pub(crate) items: Vec<ChangeItem>,
}

/// One changed field.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangeItem {
    /// Field name (`status`, `resolution`, a custom field name).
    #[serde(default)]
    pub(crate) field: String,
    /// Field id, when Jira gives it.
    #[serde(default)]
    pub(crate) field_id: Option<String>,
    /// Old value (display).
    #[serde(default)]
    pub(crate) from_string: Option<String>,
    /// New value (display).
    #[serde(default)]
    pub(crate) to_string: Option<String>,
}

/// A field of the site.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldInfo {
    /// Id (`summary`, `customfield_10050`).
    pub(crate) id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// A custom field.
    #[serde(default)]
    pub custom: bool,
}

/// The most issues a search reads (a bound, never an unbounded loop).
const SEARCH_LIMIT: usize = 1000;
/// Most history entries of one issue changegate reads.
const HISTORY_LIMIT: usize = 50_000;

/// The Jira client.
#[derive(Debug, Clone)]
pub struct Jira {
    http: Http,
}

impl Jira {
    /// A client for the site in `settings`.
    pub fn new(
        settings: &JiraSettings,
        ca_bundle: Option<&std::path::Path>,
        retry: RetryPolicy,
    ) -> Result<Self, SetupError> {
        let auth = Auth::Basic { user: settings.email.clone(), password: settings.token.clone() };
        Ok(Jira { http: Http::new("Jira", "JIRA_BASE_URL", &settings.base_url, auth, ca_bundle, retry)? })
    }

    /// The HTTP layer, for the administration calls of `changegate setup`.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The site URL.
    pub fn base_url(&self) -> &str {
        self.http.base()
    }

    /// The browse URL of an issue.
    pub fn browse_url(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.http.base())
    }

    fn issue_path(key: &str) -> String {
        format!("/rest/api/3/issue/{}", percent_encode(key))
    }

    /// Every issue matching `jql` (in pages), with `fields` and `properties`.
    /// `reconcile` lists issue ids that must be included even if the search
    /// index has not caught up with them yet.
    pub fn search(
        &self,
        jql: &str,
        fields: &[&str],
        properties: &[&str],
        reconcile: &[u64],
    ) -> Result<Vec<Issue>, JiraError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            issues: Vec<Issue>,
            #[serde(default)]
            next_page_token: Option<String>,
            #[serde(default)]
            is_last: Option<bool>,
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"jql": jql, "fields": fields, "maxResults": 100});
            if !properties.is_empty() {
                body["properties"] = json!(properties);
            }
            if !reconcile.is_empty() {
                body["reconcileIssues"] = json!(reconcile);
            }
            if let Some(t) = &token {
                body["nextPageToken"] = json!(t);
            }
            let page: Page = self.http.send_json(Method::POST, "/rest/api/3/search/jql", &body)?;
            out.extend(page.issues);
            if out.len() > SEARCH_LIMIT {
                return Err(JiraError::TooManyResults { limit: SEARCH_LIMIT, jql: jql.to_owned() });
            }
            match page.next_page_token {
                Some(t) if page.is_last != Some(true) && !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// One issue with `fields` and `properties`.
    pub fn issue(&self, key: &str, fields: &[&str], properties: &[&str]) -> Result<Issue, JiraError> {
        let mut query = vec![("fields", fields.join(","))];
        if !properties.is_empty() {
            query.push(("properties", properties.join(",")));
        }
        Ok(self.http.get_json(&Self::issue_path(key), &query)?)
    }

    /// Creates an issue with its fields and entity properties in one call.
    pub fn create(&self, fields: Map<String, Value>, properties: &[(&str, Value)]) -> Result<Created, JiraError> {
        let props: Vec<Value> = properties.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        let body = json!({"fields": fields, "properties": props});
        Ok(self.http.send_json(Method::POST, "/rest/api/3/issue", &body)?)
    }

    /// Sets fields of an issue.
    pub fn edit(&self, key: &str, fields: Map<String, Value>) -> Result<(), JiraError> {
        let query = [("notifyUsers", "false".to_owned())];
        let bytes = serde_json::to_vec(&json!({"fields": fields})).expect("serialises");
        self.http.call(Method::PUT, &Self::issue_path(key), &query, &Body::Json(bytes))?;
        Ok(())
    }

    /// Adds and removes labels with Jira's update operations, which apply
    /// to the labels as they are when Jira runs them (a concurrent edit is
    /// not overwritten, as setting the whole list would).
    pub fn update_labels(&self, key: &str, add: &[String], remove: &[String]) -> Result<(), JiraError> {
        let mut ops: Vec<Value> = remove.iter().map(|l| json!({"remove": l})).collect();
        ops.extend(add.iter().map(|l| json!({"add": l})));
        let query = [("notifyUsers", "false".to_owned())];
        let bytes = serde_json::to_vec(&json!({"update": {"labels": ops}})).expect("serialises");
        self.http.call(Method::PUT, &Self::issue_path(key), &query, &Body::Json(bytes))?;
        Ok(())
    }

    /// A project property; `None` when it is not set.
    pub fn project_property(&self, project: &str, property: &str) -> Result<Option<Value>, JiraError> {
        #[derive(Deserialize)]
        struct Prop {
            #[serde(default)]
            value: Value,
        }
        let path = format!("/rest/api/3/project/{}/properties/{}", percent_encode(project), percent_encode(property));
        let r = self.http.send(Method::GET, &path, &[], &Body::Empty)?;
        if r.status == 404 {
            return Ok(None);
        }
        let r = self.http.check(&Method::GET, &path, r)?;
        let p: Prop = self.http.decode(&Method::GET, &path, &r.body)?;
        Ok(Some(p.value))
    }

    /// Sets a project property (needs Administer Projects).
    pub fn set_project_property(&self, project: &str, property: &str, value: &Value) -> Result<(), JiraError> {
        let path = format!("/rest/api/3/project/{}/properties/{}", percent_encode(project), percent_encode(property));
        self.http.send_json_no_content(Method::PUT, &path, value)?;
        Ok(())
    }

    /// Adds a comment (ADF body); returns its id.
    pub fn comment(&self, key: &str, body: Value) -> Result<String, JiraError> {
        let c: Comment =
            self.http.send_json(Method::POST, &format!("{}/comment", Self::issue_path(key)), &json!({"body": body}))?;
        Ok(c.id)
    }

    /// Every comment of an issue.
    pub fn comments(&self, key: &str) -> Result<Vec<Comment>, JiraError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            comments: Vec<Comment>,
            #[serde(default)]
            total: usize,
        }
        let mut out = Vec::new();
        loop {
            let query = [("startAt", out.len().to_string()), ("maxResults", "100".to_owned())];
            let page: Page = self.http.get_json(&format!("{}/comment", Self::issue_path(key)), &query)?;
            let n = page.comments.len();
            out.extend(page.comments);
            if n == 0 || out.len() >= page.total || out.len() > SEARCH_LIMIT {
                return Ok(out);
            }
        }
    }

    /// The transitions offered on an issue to this user.
    pub fn transitions(&self, key: &str) -> Result<Vec<Transition>, JiraError> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            transitions: Vec<Transition>,
        }
        let l: List = self.http.get_json(&format!("{}/transitions", Self::issue_path(key)), &[])?;
        Ok(l.transitions)
    }

    /// Runs the transition named `name`, optionally setting fields (such as
    /// the resolution) on its screen.
    pub fn transition(&self, key: &str, name: &str, fields: Option<Map<String, Value>>) -> Result<(), JiraError> {
        let offered = self.transitions(key)?;
        let Some(t) = offered.iter().find(|t| t.name.eq_ignore_ascii_case(name)) else {
            return Err(JiraError::TransitionUnavailable {
                key: key.to_owned(),
                name: name.to_owned(),
                available: offered.iter().map(|t| t.name.clone()).collect(),
            });
        };
        let mut body = json!({"transition": {"id": t.id}});
        if let Some(f) = fields {
            body["fields"] = Value::Object(f);
        }
        self.http.send_json_no_content(Method::POST, &format!("{}/transitions", Self::issue_path(key)), &body)?;
        Ok(())
    }

    /// An entity property of an issue; `None` when it is not set.
    pub fn property(&self, key: &str, property: &str) -> Result<Option<Value>, JiraError> {
        #[derive(Deserialize)]
        struct Prop {
            #[serde(default)]
            value: Value,
        }
        let path = format!("{}/properties/{}", Self::issue_path(key), percent_encode(property));
        let r = self.http.send(Method::GET, &path, &[], &Body::Empty)?;
        if r.status == 404 {
            return Ok(None);
        }
        let r = self.http.check(&Method::GET, &path, r)?;
        let p: Prop = self.http.decode(&Method::GET, &path, &r.body)?;
        Ok(Some(p.value))
    }

    /// Sets an entity property (the whole value is replaced).
    pub fn set_property(&self, key: &str, property: &str, value: &Value) -> Result<(), JiraError> {
        let path = format!("{}/properties/{}", Self::issue_path(key), percent_encode(property));
        self.http.send_json_no_content(Method::PUT, &path, value)?;
        Ok(())
    }

    /// The whole history of an issue, oldest first. A history longer than
    /// changegate reads is an error, never a truncated list: every judgement
    /// on it (approvals, binding changes, the bot's sequence floor) needs the
    /// newest entries.
    pub fn changelog(&self, key: &str) -> Result<Vec<ChangelogEntry>, JiraError> {
        self.changelog_within(key, HISTORY_LIMIT)
    }

    fn changelog_within(&self, key: &str, limit: usize) -> Result<Vec<ChangelogEntry>, JiraError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            values: Vec<ChangelogEntry>,
            #[serde(default)]
            is_last: Option<bool>,
            #[serde(default)]
            total: Option<usize>,
        }
        let mut out = Vec::new();
        loop {
            let query = [("startAt", out.len().to_string()), ("maxResults", "100".to_owned())];
            let page: Page = self.http.get_json(&format!("{}/changelog", Self::issue_path(key)), &query)?;
            let n = page.values.len();
            out.extend(page.values);
            let done = n == 0 || page.is_last == Some(true) || page.total.is_some_and(|t| out.len() >= t);
            if done {
                return Ok(out);
            }
            if out.len() >= limit {
                return Err(JiraError::HistoryTooLong { key: key.to_owned(), limit });
            }
        }
    }

    /// Attaches a file.
    pub fn attach(&self, key: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Result<(), JiraError> {
        let boundary = format!("changegate-{}", crate::base::digest::Sha256Digest::of(bytes).hex());
        let safe_name: String = filename.chars().filter(|c| !matches!(c, '"' | '\r' | '\n')).collect();
        let mut body = Vec::with_capacity(bytes.len() + 256);
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let http = self.http.clone().with_header("X-Atlassian-Token", "no-check");
        http.call(
            Method::POST,
            &format!("{}/attachments", Self::issue_path(key)),
            &[],
            &Body::Raw { content_type: format!("multipart/form-data; boundary={boundary}"), bytes: body },
        )?;
        Ok(())
    }

    /// The attachments of an issue: (id, file name), oldest first.
    pub fn attachments(&self, key: &str) -> Result<Vec<(String, String)>, JiraError> {
        let issue = self.issue(key, &["attachment"], &[])?;
        Ok(issue.fields["attachment"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["id"].as_str()?.to_owned(), a["filename"].as_str()?.to_owned())))
            .collect())
    }

    /// The content of an attachment (`GET /attachment/content/{id}`), at
    /// most `max` bytes.
    pub fn attachment_content(&self, id: &str, max: u64) -> Result<Vec<u8>, JiraError> {
        let path = format!("/rest/api/3/attachment/content/{}", percent_encode(id));
        let r = self.http.call(Method::GET, &path, &[], &Body::Empty)?;
        if r.body.len() as u64 > max {
            return Err(JiraError::TooLarge { id: id.to_owned(), max });
        }
        Ok(r.body)
    }

    /// Adds (or, with the same global id, updates) a link to a web page.
    pub fn remote_link(&self, key: &str, global_id: &str, url: &str, title: &str) -> Result<(), JiraError> {
        let body = json!({"globalId": global_id, "object": {"url": url, "title": title}});
        self.http.send_json_no_content(Method::POST, &format!("{}/remotelink", Self::issue_path(key)), &body)?;
        Ok(())
    }

    /// Links two issues (`POST /rest/api/3/issueLink`) with a link type of
    /// the site, e.g. `Relates`.
    pub fn link_issues(&self, link_type: &str, inward: &str, outward: &str) -> Result<(), JiraError> {
        let body =
            json!({"type": {"name": link_type}, "inwardIssue": {"key": inward}, "outwardIssue": {"key": outward}});
        self.http.send_json_no_content(Method::POST, "/rest/api/3/issueLink", &body)?;
        Ok(())
    }

    /// The names of the groups a user belongs to
    /// (`GET /rest/api/3/user/groups`; needs *Browse users and groups*).
    pub fn user_groups(&self, account_id: &str) -> Result<Vec<String>, JiraError> {
        #[derive(Deserialize)]
        struct Group {
            name: String,
        }
        let groups: Vec<Group> =
            self.http.get_json("/rest/api/3/user/groups", &[("accountId", account_id.to_owned())])?;
        Ok(groups.into_iter().map(|g| g.name).collect())
    }

    /// The user the token belongs to.
    pub fn myself(&self) -> Result<User, JiraError> {
        Ok(self.http.get_json("/rest/api/3/myself", &[])?)
    }

    /// The fields of the site.
    pub fn fields(&self) -> Result<Vec<FieldInfo>, JiraError> {
        Ok(self.http.get_json("/rest/api/3/field", &[])?)
    }

    /// The issue types a user may create in a project, name -> id.
    pub fn create_issue_types(&self, project: &str) -> Result<BTreeMap<String, String>, JiraError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default, alias = "issueTypes")]
            issue_types: Vec<IssueType>,
        }
        #[derive(Deserialize)]
        struct IssueType {
            id: String,
            name: String,
        }
        let path = format!("/rest/api/3/issue/createmeta/{}/issuetypes", percent_encode(project));
        let p: Page = self.http.get_json(&path, &[("maxResults", "200".to_owned())])?;
        Ok(p.issue_types.into_iter().map(|t| (t.name, t.id)).collect())
    }

    /// The fields of the create screen of an issue type: id -> required.
    pub fn create_fields(&self, project: &str, issue_type_id: &str) -> Result<BTreeMap<String, bool>, JiraError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            fields: Vec<Field>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Field {
            field_id: String,
            #[serde(default)]
            required: bool,
        }
        let path = format!(
            "/rest/api/3/issue/createmeta/{}/issuetypes/{}",
            percent_encode(project),
            percent_encode(issue_type_id)
        );
        let p: Page = self.http.get_json(&path, &[("maxResults", "200".to_owned())])?;
        Ok(p.fields.into_iter().map(|f| (f.field_id, f.required)).collect())
    }

    /// The status names of a project (all issue types).
    pub fn project_statuses(&self, project: &str) -> Result<Vec<String>, JiraError> {
        #[derive(Deserialize)]
        struct IssueTypeStatuses {
            #[serde(default)]
            statuses: Vec<StatusRef>,
        }
        let path = format!("/rest/api/3/project/{}/statuses", percent_encode(project));
        let list: Vec<IssueTypeStatuses> = self.http.get_json(&path, &[])?;
        let mut names: Vec<String> = list.into_iter().flat_map(|t| t.statuses.into_iter().map(|s| s.name)).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fake::{FakeServer, Reply};
    use std::time::Duration;

    fn jira(url: &str) -> Jira {
        let s = JiraSettings { base_url: url.into(), email: "ci@acme.test".into(), token: Secret::new("tok-123") };
        let retry = RetryPolicy { attempts: 2, initial_backoff: Duration::from_millis(5), ..RetryPolicy::default() };
        Jira::new(&s, None, retry).unwrap()
    }

    #[test]
    fn search_pages_with_next_page_token_and_reconciles() {
        let server = FakeServer::start(vec![
            Reply::json(
                200,
                r#"{"issues":[{"id":"10","key":"PRODCM-1","fields":{}}],"nextPageToken":"p2","isLast":false}"#,
            ),
            Reply::json(200, r#"{"issues":[{"id":"11","key":"PRODCM-2","fields":{}}],"isLast":true}"#),
        ]);
        let issues = jira(&server.url()).search("project = \"PRODCM\"", &["status"], &["changegate"], &[11]).unwrap();
        assert_eq!(issues.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(), ["PRODCM-1", "PRODCM-2"]);
        let reqs = server.requests();
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].url, "/rest/api/3/search/jql");
        let first: Value = serde_json::from_str(&reqs[0].body).unwrap();
        assert_eq!(first["reconcileIssues"], json!([11]));
        assert_eq!(first["properties"], json!(["changegate"]));
        assert!(first.get("nextPageToken").is_none());
        let second: Value = serde_json::from_str(&reqs[1].body).unwrap();
        assert_eq!(second["nextPageToken"], "p2");
    }

    #[test]
    fn transition_by_name_and_unavailable_transition() {
        let offered = r#"{"transitions":[{"id":"31","name":"Approve","to":{"name":"Approved"}},{"id":"41","name":"Request input"}]}"#;
        let server = FakeServer::start(vec![Reply::json(200, offered), Reply::status(204), Reply::json(200, offered)]);
        let j = jira(&server.url());
        j.transition("PRODCM-1", "request input", None).unwrap();
        let body: Value = serde_json::from_str(&server.requests()[1].body).unwrap();
        assert_eq!(body, json!({"transition": {"id": "41"}}));
        let e = j.transition("PRODCM-1", "Done", None).unwrap_err().to_string();
        assert!(e.contains("\"Done\" is not available on PRODCM-1") && e.contains("Approve, Request input"), "{e}");
    }

    #[test]
    fn missing_property_is_none_other_errors_are_errors() {
        let server = FakeServer::start(vec![
            Reply::json(404, r#"{"errorMessages":["The property changegate does not exist."]}"#),
            Reply::json(200, r#"{"key":"changegate","value":{"a":1}}"#),
            Reply::json(403, r#"{"errorMessages":["no permission"]}"#),
            Reply::json(403, r#"{"errorMessages":["no permission"]}"#),
        ]);
        let j = jira(&server.url());
        assert_eq!(j.property("PRODCM-1", "changegate").unwrap(), None);
        assert_eq!(j.property("PRODCM-1", "changegate").unwrap(), Some(json!({"a": 1})));
        let e = j.property("PRODCM-1", "changegate").unwrap_err().to_string();
        assert!(e.contains("HTTP 403: no permission"), "{e}");
    }

    #[test]
    fn a_history_longer_than_read_is_an_error_never_a_part_of_it() {
        let page = |start: usize| {
            let values: Vec<String> = (start..start + 100)
                .map(|i| format!(r#"{{"id":"{i}","created":"2026-12-01T10:00:00.000+0000","items":[]}}"#))
                .collect();
            Reply::json(200, &format!(r#"{{"values":[{}],"isLast":false,"total":1000000}}"#, values.join(",")))
        };
        let server = FakeServer::start((0..3).map(|i| page(i * 100)).collect());
        let e = jira(&server.url()).changelog_within("PRODCM-1", 250).unwrap_err();
        assert!(matches!(e, JiraError::HistoryTooLong { limit: 250, .. }), "{e}");
        let done = FakeServer::start(vec![Reply::json(200, r#"{"values":[],"isLast":true}"#)]);
        assert!(jira(&done.url()).changelog_within("PRODCM-1", 250).unwrap().is_empty());
    }

    #[test]
    fn attachment_is_multipart_with_the_xsrf_header() {
        let server = FakeServer::start(vec![Reply::json(200, "[]")]);
        jira(&server.url()).attach("PRODCM-1", "evidence.json", "application/json", b"{}").unwrap();
        let r = &server.requests()[0];
        assert_eq!(r.header("x-atlassian-token"), Some("no-check"));
        assert!(r.header("content-type").unwrap().starts_with("multipart/form-data; boundary=changegate-"));
        assert!(r.body.contains("filename=\"evidence.json\""));
    }
}
