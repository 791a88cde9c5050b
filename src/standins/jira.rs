//! A stateful stand-in for Jira Cloud REST v3: issues with fields, labels,
//! entity properties, ADF comments, a changelog, attachments and remote
//! links; a workflow whose transitions are restricted to groups (so the CI
//! user cannot approve); search by JQL with switchable eventual consistency
//! (a new issue is visible only after some searches unless it is named in
//! `reconcileIssues`). Answers follow the shapes of the official
//! description.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::exchange::{Req, Resp};
use super::jira_site::{Caller, Site};
use super::jql;

pub(crate) use super::jira_users::{SiteUser, default_users};
use crate::base::time::Timestamp;

#[derive(Debug, Clone)]
struct StoredIssue {
    id: u64,
    key: String,
    project: String,
    /// The issue type's id.
    issue_type: String,
    fields: Map<String, Value>,
    status: String,
    resolution: Option<String>,
    created: Timestamp,
    /// The accountId of who created it (Jira keeps it; no edit changes it).
    creator: String,
    updated: Timestamp,
    resolved: Option<Timestamp>,
    properties: BTreeMap<String, Value>,
    comments: Vec<Value>,
    changelog: Vec<Value>,
    attachments: Vec<Value>,
    /// Attachment contents, by file name (the last one of a name wins).
    files: BTreeMap<String, Vec<u8>>,
    remote_links: Vec<Value>,
    /// Issue links: `{type, direction, key}`.
    issue_links: Vec<Value>,
    /// The search count when it was created (eventual consistency: it shows
    /// up `search_lag` searches later).
    created_at_search: u64,
}

/// The stand-in's state.
#[derive(Debug)]
pub struct JiraStandIn {
    users: Vec<SiteUser>,
    /// The site's configuration (fields, workflows, screens, groups).
    pub site: Site,
    /// Project entity properties, by project key and property key.
    project_properties: BTreeMap<(String, String), Value>,
    issues: Vec<StoredIssue>,
    next_id: u64,
    next_comment: u64,
    next_change: u64,
    searches: u64,
    /// New issues stay out of search results for this many searches.
    pub search_lag: u64,
    base_url: String,
    /// Admin webhooks (`/rest/webhooks/1.0/`, outside the v3 description).
    pub admin_webhooks: super::jira_webhooks::AdminWebhooks,
}

fn jira_time(t: Timestamp) -> String {
    // Jira writes `2026-11-27T13:29:55.123+0000`.
    t.to_rfc3339().trim_end_matches('Z').to_owned() + "+0000"
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(status, json!({"errorMessages": [message], "errors": {}}))
}

impl JiraStandIn {
    /// A site with the default users and one project, `PRODCM`.
    pub fn new(base_url: &str) -> Self {
        JiraStandIn {
            users: default_users(),
            site: Site::configured(),
            project_properties: BTreeMap::new(),
            issues: Vec::new(),
            next_id: 10000,
            next_comment: 20000,
            next_change: 30000,
            searches: 0,
            search_lag: 0,
            base_url: base_url.trim_end_matches('/').to_owned(),
            admin_webhooks: super::jira_webhooks::AdminWebhooks::default(),
        }
    }

    fn user_json(&self, u: &SiteUser) -> Value {
        json!({"self": format!("{}/rest/api/3/user?accountId={}", self.base_url, u.account_id),
               "accountId": u.account_id, "displayName": u.name, "emailAddress": u.email, "active": true, "accountType": "atlassian"})
    }

    fn authenticate(&self, req: &Req) -> Option<SiteUser> {
        use base64::Engine as _;
        let h = req.header("authorization")?;
        let b64 = h.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (email, token) = text.split_once(':')?;
        self.users.iter().find(|u| u.email == email && u.token == token).cloned()
    }

    fn find(&self, key_or_id: &str) -> Option<usize> {
        self.issues.iter().position(|i| i.key.eq_ignore_ascii_case(key_or_id) || i.id.to_string() == key_or_id)
    }

    fn field_value(&self, i: &StoredIssue, name: &str) -> Value {
        match name {
            "status" => self.site.status_json(&i.status),
            "resolution" => {
                i.resolution.as_ref().map_or(Value::Null, |r| json!({"id": "10000", "name": r, "description": ""}))
            }
            "created" => json!(jira_time(i.created)),
            "updated" => json!(jira_time(i.updated)),
            "resolutiondate" => i.resolved.map_or(Value::Null, |t| json!(jira_time(t))),
            "project" => json!({"key": i.project, "id": "10000", "name": i.project}),
            "issuetype" => {
                json!({"id": i.issue_type, "name": self.site.project_issue_types(&i.project).into_iter().find(|(id, _)| *id == i.issue_type).map(|(_, n)| n).unwrap_or_default(), "subtask": false})
            }
            "labels" => i.fields.get("labels").cloned().unwrap_or_else(|| json!([])),
            "attachment" => Value::Array(
                i.attachments
                    .iter()
                    .map(|a| {
                        let mut a = a.clone();
                        a["content"] = json!(format!(
                            "{}/rest/api/3/attachment/content/{}",
                            self.base_url,
                            a["id"].as_str().unwrap_or_default()
                        ));
                        a
                    })
                    .collect(),
            ),
            other => i.fields.get(other).cloned().unwrap_or(Value::Null),
        }
    }

    fn issue_json(&self, i: &StoredIssue, fields: &[String], props: &[String]) -> Value {
        let mut f = Map::new();
        let all = fields.iter().any(|x| x == "*all" || x == "*navigable");
        let mut names: Vec<String> = if all {
            let mut n: Vec<String> = i.fields.keys().cloned().collect();
            n.extend(
                ["status", "resolution", "created", "updated", "resolutiondate", "project", "labels"].map(String::from),
            );
            n
        } else {
            fields.to_vec()
        };
        names.dedup();
        for name in names.iter().filter(|n| !n.is_empty()) {
            f.insert(name.clone(), self.field_value(i, name));
        }
        let mut p = Map::new();
        for name in props {
            if let Some(v) = i.properties.get(name) {
                p.insert(name.clone(), v.clone());
            }
        }
        let mut out = json!({"id": i.id.to_string(), "key": i.key, "self": format!("{}/rest/api/3/issue/{}", self.base_url, i.id), "fields": f});
        if !props.is_empty() {
            out["properties"] = Value::Object(p);
        }
        out
    }

    fn values_for_jql(&self, i: &StoredIssue, field: &str) -> Vec<String> {
        match field {
            "project" => vec![i.project.clone()],
            "labels" => i
                .fields
                .get("labels")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            "status" => vec![i.status.clone()],
            "key" | "issuekey" => vec![i.key.clone()],
            "creator" => vec![i.creator.clone()],
            // By name or id, as JQL takes either.
            "issuetype" => {
                let name = self
                    .site
                    .project_issue_types(&i.project)
                    .into_iter()
                    .find(|(id, _)| *id == i.issue_type)
                    .map(|(_, n)| n.to_owned());
                std::iter::once(i.issue_type.clone()).chain(name).collect()
            }
            "resolution" => i.resolution.clone().into_iter().collect(),
            // Dates as milliseconds since the epoch (`Expr::Since`).
            "created" => vec![i.created.0.to_string()],
            "updated" => vec![i.updated.0.to_string()],
            _ => Vec::new(),
        }
    }

    fn record_change(&mut self, idx: usize, user: &SiteUser, items: Vec<Value>) {
        if items.is_empty() {
            return;
        }
        // The description has no nullable item values: absent ones are left out.
        let items: Vec<Value> = items
            .into_iter()
            .map(|mut i| {
                if let Some(o) = i.as_object_mut() {
                    o.retain(|_, v| !v.is_null());
                }
                i
            })
            .collect();
        self.next_change += 1;
        let author = self.user_json(user);
        let now = Timestamp::now();
        let i = &mut self.issues[idx];
        i.updated = now;
        i.changelog.push(
            json!({"id": self.next_change.to_string(), "author": author, "created": jira_time(now), "items": items}),
        );
    }

    /// Validates field values the way the site would: each field must be
    /// on the screen of the issue type in the project, and its value must
    /// fit its type (a select's value one of its options).
    fn check_fields(&self, project: &str, issue_type: &str, fields: &Map<String, Value>) -> Result<(), Resp> {
        use super::jira_site::FieldKind;
        let screen = self.site.screen_fields(project, issue_type);
        let mut errors = Map::new();
        for (k, v) in fields {
            if matches!(k.as_str(), "project" | "issuetype") {
                if !v.is_object() {
                    errors.insert(k.clone(), json!(format!("The value of field '{k}' is not valid.")));
                }
                continue;
            }
            if !screen.iter().any(|f| f == k) {
                errors.insert(
                    k.clone(),
                    json!(format!("Field '{k}' cannot be set. It is not on the appropriate screen, or unknown.")),
                );
                continue;
            }
            let kind = self.site.field_kind(k);
            let ok = match (k.as_str(), kind) {
                ("summary", _) => v.as_str().is_some_and(|s| !s.trim().is_empty() && s.chars().count() <= 255),
                ("description", _) | (_, Some(FieldKind::Textarea)) => {
                    v.is_null() || (v.get("type") == Some(&json!("doc")) && v.get("version") == Some(&json!(1)))
                }
                ("labels", _) => v
                    .as_array()
                    .is_some_and(|a| a.iter().all(|l| l.as_str().is_some_and(|s| !s.is_empty() && !s.contains(' ')))),
                ("duedate", _) => {
                    v.is_null() || v.as_str().is_some_and(|d| crate::base::time::Date::parse(d).is_some())
                }
                (_, Some(FieldKind::Text | FieldKind::Url)) => {
                    v.is_null() || v.as_str().is_some_and(|s| s.chars().count() <= 255)
                }
                (_, Some(FieldKind::Number)) => v.is_null() || v.is_number(),
                (_, Some(FieldKind::Select)) => {
                    v.is_null()
                        || v.get("value")
                            .and_then(Value::as_str)
                            .is_some_and(|o| self.site.field_options(k).iter().any(|x| x == o))
                }
                _ => false,
            };
            if !ok {
                errors.insert(k.clone(), json!(format!("The value of field '{k}' is not valid for its type.")));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(Resp::json(400, json!({"errorMessages": [], "errors": errors}))) }
    }

    /// Handles one request under `/rest/api/3` (and `/rest/webhooks/1.0`).
    pub fn handle(&mut self, req: &Req) -> Resp {
        let Some(user) = self.authenticate(req) else {
            return error(401, "You are not authenticated. Authentication required to perform this operation.");
        };
        if req.path.starts_with("/rest/webhooks/1.0/") {
            return self.admin_webhooks.handle(req, &user, &self.base_url);
        }
        let path = req.path.trim_end_matches('/');
        let parts: Vec<&str> = path.trim_start_matches("/rest/api/3/").split('/').collect();
        let m = req.method.as_str();
        match (m, parts.as_slice()) {
            ("GET", ["myself"]) => Resp::json(200, self.user_json(&user)),
            ("POST", ["issueLink"]) => self.link(req),
            ("GET", ["user", "groups"]) => self.user_groups(req),
            ("GET", ["attachment", "content", id]) => self.attachment_content(id),
            ("GET", ["serverInfo"]) => {
                Resp::json(200, json!({"baseUrl": self.base_url, "version": "1001.0.0", "deploymentType": "Cloud"}))
            }
            ("GET", ["field"]) => Resp::json(200, self.site.fields_json()),
            ("GET", ["project", p, "statuses"]) if self.site.has_project(p) => {
                Resp::json(200, self.site.project_statuses_json(p))
            }
            ("GET", ["issue", "createmeta", p, "issuetypes"]) if self.site.has_project(p) => {
                self.createmeta_issue_types(p)
            }
            ("GET", ["issue", "createmeta", p, "issuetypes", t]) if self.site.issue_type(p, t).is_some() => {
                self.createmeta_fields(p, t)
            }
            ("GET", ["project", p, "properties", key]) => self.project_property_get(p, key),
            ("PUT", ["project", p, "properties", key]) => self.project_property_set(p, key, req, &user),
            ("POST", ["search", "jql"]) => self.search(req),
            ("POST", ["search", "approximate-count"]) => self.search_count(req),
            ("GET", ["group", "member"]) => self.group_members(req),
            ("POST", ["issue"]) => self.create(req, &user),
            (_, ["issue", key, rest @ ..]) => {
                let Some(idx) = self.find(key) else {
                    return error(404, "Issue does not exist or you do not have permission to see it.");
                };
                self.issue_route(m, idx, rest, req, &user)
            }
            _ => {
                let issues = &self.issues;
                let count = |k: &str| issues.iter().filter(|i| i.project == k).count();
                let caller = Caller { account_id: &user.account_id, groups: &user.groups };
                match self.site.handle(m, &parts, req, caller, &count) {
                    Some(r) => r,
                    None => error(404, &format!("No stand-in route for {m} {path}")),
                }
            }
        }
    }

    /// `GET /user/groups`: the groups of the account asked about.
    fn user_groups(&self, req: &Req) -> Resp {
        let Some(id) = req.query("accountId") else {
            return error(400, "The accountId query parameter needs to be provided.");
        };
        match self.users.iter().find(|u| u.account_id == id) {
            None => error(404, &format!("The user with account ID '{id}' does not exist.")),
            Some(u) => Resp::json(
                200,
                Value::Array(
                    u.groups
                        .iter()
                        .map(|g| {
                            json!({"name": g, "groupId": format!("group-{g}"),
                               "self": format!("{}/rest/api/3/group?groupname={g}", self.base_url)})
                        })
                        .collect(),
                ),
            ),
        }
    }

    /// `GET /attachment/content/{id}`: the bytes of an attachment of any
    /// issue.
    fn attachment_content(&self, id: &str) -> Resp {
        for i in &self.issues {
            if let Some(a) = i.attachments.iter().find(|a| a["id"] == *id) {
                let name = a["filename"].as_str().unwrap_or_default();
                if let Some(bytes) = i.files.get(name) {
                    return Resp {
                        status: 200,
                        headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                        body: bytes.clone(),
                    };
                }
            }
        }
        error(404, "The attachment does not exist.")
    }

    /// `GET /issue/createmeta/{project}/issuetypes`: the project's issue
    /// types.
    fn createmeta_issue_types(&self, p: &str) -> Resp {
        let types: Vec<Value> = self
            .site
            .project_issue_types(p)
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name, "description": "", "subtask": false}))
            .collect();
        let n = types.len();
        Resp::json(200, json!({"issueTypes": types, "maxResults": 50, "startAt": 0, "total": n}))
    }

    /// `GET /issue/createmeta/{project}/issuetypes/{type}`: the fields on the
    /// issue type's screen.
    fn createmeta_fields(&self, p: &str, t: &str) -> Resp {
        let fields: Vec<Value> = self
            .site
            .screen_fields(p, t)
            .iter()
            .map(|id| {
                let name = self.site.field_name(id).unwrap_or_default();
                let schema = match self.site.field_kind(id) {
                    Some(kind) => json!({"type": "string", "custom": kind.type_key(), "customId": 1}),
                    None => json!({"type": "string", "system": id}),
                };
                json!({"fieldId": id, "key": id, "name": name, "required": id == "summary", "operations": ["set"], "schema": schema})
            })
            .collect();
        let n = fields.len();
        Resp::json(200, json!({"fields": fields, "maxResults": 200, "startAt": 0, "total": n}))
    }

    /// `GET /project/{key}/properties/{name}`: a project property.
    fn project_property_get(&self, p: &str, key: &str) -> Resp {
        if !self.site.has_project(p) {
            return error(404, "No project could be found with key.");
        }
        match self.project_properties.get(&((*p).to_owned(), (*key).to_owned())) {
            Some(v) => Resp::json(200, json!({"key": key, "value": v})),
            None => error(404, &format!("The property with key '{key}' does not exist.")),
        }
    }

    /// `PUT /project/{key}/properties/{name}`: a project property, set by a
    /// project administrator; 201 when new.
    fn project_property_set(&mut self, p: &str, key: &str, req: &Req, user: &SiteUser) -> Resp {
        if !self.site.has_project(p) {
            return error(404, "No project could be found with key.");
        }
        if !user.groups.iter().any(|g| g == "project-admins") {
            return error(403, "You do not have permission to edit the properties of this project.");
        }
        let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "The property value must be valid JSON.");
        };
        let existed = self.project_properties.insert(((*p).to_owned(), (*key).to_owned()), v).is_some();
        Resp::json(if existed { 200 } else { 201 }, json!({}))
    }

    /// `POST /search/approximate-count`: how many issues match the JQL.
    fn search_count(&mut self, req: &Req) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let query = match jql::parse(body["jql"].as_str().unwrap_or_default()) {
            Ok(q) => q,
            Err(e) => return error(400, &format!("Error in the JQL Query: {e}")),
        };
        let count = self
            .issues
            .iter()
            .filter(|i| query.filter.as_ref().is_none_or(|f| f.matches(&|field| self.values_for_jql(i, field))))
            .count();
        Resp::json(200, json!({"count": count}))
    }

    /// `GET /group/member`: the members of a group named or given by id.
    fn group_members(&self, req: &Req) -> Resp {
        let id = req.query("groupId").map(str::to_owned);
        let name = req.query("groupname").map(str::to_owned).or_else(|| id.and_then(|id| self.site.group_name(&id)));
        let Some(name) = name.filter(|n| self.site.has_group(n)) else {
            return error(404, "The group does not exist.");
        };
        let members: Vec<Value> = self
            .users
            .iter()
            .filter(|u| u.groups.contains(&name))
            .map(|u| {
                json!({"accountId": u.account_id, "displayName": u.name, "active": true, "accountType": "atlassian",
                       "self": format!("{}/rest/api/3/user?accountId={}", self.base_url, u.account_id)})
            })
            .collect();
        let n = members.len();
        Resp::json(200, json!({"isLast": true, "maxResults": 50, "startAt": 0, "total": n, "values": members}))
    }

    fn search(&mut self, req: &Req) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let Some(q) = body.get("jql").and_then(Value::as_str) else { return error(400, "The JQL query is required.") };
        let query = match jql::parse(q) {
            Ok(q) => q,
            Err(e) => return error(400, &format!("Error in the JQL Query: {e}")),
        };
        self.searches += 1;
        let reconcile: Vec<u64> = body
            .get("reconcileIssues")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let fields: Vec<String> = body
            .get("fields")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_else(|| vec!["id".into()]);
        let props: Vec<String> = body
            .get("properties")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let max = body.get("maxResults").and_then(Value::as_u64).unwrap_or(50).clamp(1, 5000) as usize;
        let start: usize = body
            .get("nextPageToken")
            .and_then(Value::as_str)
            .and_then(|t| t.strip_prefix("page-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut hits: Vec<&StoredIssue> = self
            .issues
            .iter()
            .filter(|i| self.searches >= i.created_at_search + self.search_lag || reconcile.contains(&i.id))
            .filter(|i| query.filter.as_ref().is_none_or(|f| f.matches(&|field| self.values_for_jql(i, field))))
            .collect();
        for (field, asc) in query.order.iter().rev() {
            hits.sort_by(|a, b| {
                let key = |i: &StoredIssue| match field.as_str() {
                    "resolutiondate" => i.resolved.map_or(i64::MIN, |t| t.0),
                    "updated" => i.updated.0,
                    _ => i.id as i64,
                };
                let o = key(a).cmp(&key(b));
                if *asc { o } else { o.reverse() }
            });
        }
        let page: Vec<Value> = hits.iter().skip(start).take(max).map(|i| self.issue_json(i, &fields, &props)).collect();
        let more = start + max < hits.len();
        let mut out = json!({"issues": page, "isLast": !more});
        if more {
            out["nextPageToken"] = json!(format!("page-{}", start + max));
        }
        Resp::json(200, out)
    }

    fn create(&mut self, req: &Req, user: &SiteUser) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let Some(fields) = body.get("fields").and_then(Value::as_object).cloned() else {
            return error(400, "fields are required");
        };
        let project =
            fields.get("project").and_then(|p| p.get("key")).and_then(Value::as_str).unwrap_or_default().to_owned();
        if !self.site.has_project(&project) {
            return Resp::json(
                400,
                json!({"errorMessages": [], "errors": {"project": "Specify a valid project ID or key"}}),
            );
        }
        let Some(issue_type) = fields
            .get("issuetype")
            .and_then(|t| t.get("name").or(t.get("id")))
            .and_then(Value::as_str)
            .and_then(|t| self.site.issue_type(&project, t))
        else {
            return Resp::json(
                400,
                json!({"errorMessages": [], "errors": {"issuetype": "Specify a valid issue type"}}),
            );
        };
        let Some(initial) = self.site.initial_status(&project, &issue_type) else {
            return error(400, "The issue type has no workflow in this project.");
        };
        if let Err(r) = self.check_fields(&project, &issue_type, &fields) {
            return r;
        }
        if fields.get("summary").is_none() {
            return Resp::json(
                400,
                json!({"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}),
            );
        }
        let mut properties = BTreeMap::new();
        for p in body.get("properties").and_then(Value::as_array).into_iter().flatten() {
            let (Some(k), Some(v)) = (p.get("key").and_then(Value::as_str), p.get("value")) else {
                return error(400, "An entity property needs a key and a value.");
            };
            if v.to_string().len() > 32_768 {
                return error(400, "The property value is too long (32768 bytes at most).");
            }
            properties.insert(k.to_owned(), v.clone());
        }
        self.next_id += 1;
        let id = self.next_id;
        let key = format!("{project}-{}", self.issues.iter().filter(|i| i.project == project).count() + 1);
        let mut stored = fields.clone();
        for k in ["project", "issuetype"] {
            stored.remove(k);
        }
        let now = Timestamp::now();
        self.issues.push(StoredIssue {
            id,
            key: key.clone(),
            project,
            issue_type,
            fields: stored,
            status: initial,
            resolution: None,
            created: now,
            creator: user.account_id.clone(),
            updated: now,
            resolved: None,
            properties,
            comments: Vec::new(),
            changelog: Vec::new(),
            attachments: Vec::new(),
            files: BTreeMap::new(),
            remote_links: Vec::new(),
            issue_links: Vec::new(),
            created_at_search: self.searches,
        });
        Resp::json(
            201,
            json!({"id": id.to_string(), "key": key, "self": format!("{}/rest/api/3/issue/{id}", self.base_url)}),
        )
    }

    fn issue_route(&mut self, m: &str, idx: usize, rest: &[&str], req: &Req, user: &SiteUser) -> Resp {
        match (m, rest) {
            ("GET", []) => self.issue_get(idx, req),
            ("PUT", []) => self.issue_edit(idx, req, user),
            ("GET", ["comment"]) => self.comments_get(idx, req),
            ("POST", ["comment"]) => self.comment_add(idx, req, user),
            ("GET", ["transitions"]) => self.transitions_get(idx, user),
            ("POST", ["transitions"]) => self.transition(idx, req, user),
            ("GET", ["properties"]) => self.properties_keys(idx),
            ("GET", ["properties", name]) => match self.issues[idx].properties.get(*name) {
                Some(v) => Resp::json(200, json!({"key": name, "value": v})),
                None => error(404, &format!("The property with key '{name}' does not exist.")),
            },
            ("PUT", ["properties", name]) => self.property_set(name, idx, req),
            ("DELETE", ["properties", name]) => match self.issues[idx].properties.remove(*name) {
                Some(_) => Resp::empty(204),
                None => error(404, "The property does not exist."),
            },
            ("GET", ["changelog"]) => self.changelog_get(idx, req),
            ("POST", ["attachments"]) => self.attachment_add(idx, req, user),
            ("GET", ["remotelink"]) => Resp::json(200, Value::Array(self.issues[idx].remote_links.clone())),
            ("POST", ["remotelink"]) => self.remote_link_set(idx, req),
            _ => error(404, "No stand-in route for this issue operation."),
        }
    }

    /// `GET /issue/{key}`: the issue with the fields and properties asked
    /// for (every field by default).
    fn issue_get(&self, idx: usize, req: &Req) -> Resp {
        let fields = comma_list(req.query("fields"));
        let fields = if fields.is_empty() { vec!["*all".into()] } else { fields };
        Resp::json(200, self.issue_json(&self.issues[idx], &fields, &comma_list(req.query("properties"))))
    }

    /// `PUT /issue/{key}`: the fields set and the labels operations applied
    /// to the labels as they are now, each change in the changelog.
    fn issue_edit(&mut self, idx: usize, req: &Req, user: &SiteUser) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let mut fields = body.get("fields").and_then(Value::as_object).cloned().unwrap_or_default();
        // `update` operations on labels apply to the labels as they
        // are now, so concurrent edits are not overwritten.
        if let Some(ops) = body.pointer("/update/labels").and_then(Value::as_array) {
            let mut labels: Vec<Value> =
                self.issues[idx].fields.get("labels").and_then(Value::as_array).cloned().unwrap_or_default();
            for op in ops {
                match (op.get("add"), op.get("remove"), op.get("set")) {
                    (Some(l), None, None) if l.is_string() => {
                        if !labels.contains(l) {
                            labels.push(l.clone());
                        }
                    }
                    (None, Some(l), None) if l.is_string() => labels.retain(|x| x != l),
                    (None, None, Some(Value::Array(all))) => labels.clone_from(all),
                    _ => return error(400, "Each labels operation is one of add, remove or set."),
                }
            }
            fields.insert("labels".into(), Value::Array(labels));
        }
        let i = &self.issues[idx];
        if let Err(r) = self.check_fields(&i.project, &i.issue_type, &fields) {
            return r;
        }
        let mut items = Vec::new();
        for (k, v) in fields {
            let old = self.issues[idx].fields.get(&k).cloned().unwrap_or(Value::Null);
            if old == v {
                continue;
            }
            let text = |v: &Value| match v {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other
                    .get("value")
                    .and_then(Value::as_str)
                    .map_or_else(|| crate::clients::jira::adf::plain_text(other), String::from),
            };
            // Jira names custom fields by their name, system ones by id.
            let name = if k.starts_with("customfield_") {
                self.site.field_name(&k).unwrap_or_else(|| k.clone())
            } else {
                k.clone()
            };
            items.push(json!({"field": name, "fieldtype": if k.starts_with("customfield_") {"custom"} else {"jira"}, "fieldId": k,
                              "from": null, "fromString": text(&old), "to": null, "toString": text(&v)}));
            self.issues[idx].fields.insert(k, v);
        }
        self.record_change(idx, user, items);
        Resp::empty(204)
    }

    /// `GET /issue/{key}/comment`: a page of the issue's comments.
    fn comments_get(&self, idx: usize, req: &Req) -> Resp {
        let start: usize = req.query("startAt").and_then(|s| s.parse().ok()).unwrap_or(0);
        let max: usize = req.query("maxResults").and_then(|s| s.parse().ok()).unwrap_or(50);
        let c = &self.issues[idx].comments;
        let page: Vec<Value> = c.iter().skip(start).take(max).cloned().collect();
        Resp::json(200, json!({"comments": page, "startAt": start, "maxResults": max, "total": c.len()}))
    }

    /// `POST /issue/{key}/comment`: an ADF comment within Jira's size limit.
    fn comment_add(&mut self, idx: usize, req: &Req, user: &SiteUser) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let Some(doc) = body.get("body").filter(|b| b.get("type") == Some(&json!("doc"))) else {
            return error(
                400,
                "Comment body is not valid! The comment body must be an Atlassian Document Format document.",
            );
        };
        if doc.to_string().len() > 32_767 {
            return error(400, "The entered text is too long. It exceeds the allowed limit of 32,767 characters.");
        }
        self.next_comment += 1;
        let now = jira_time(Timestamp::now());
        let author = self.user_json(user);
        let c = json!({"id": self.next_comment.to_string(), "self": format!("{}/rest/api/3/issue/{}/comment/{}", self.base_url, self.issues[idx].id, self.next_comment),
                       "author": author, "updateAuthor": author, "body": doc, "created": now, "updated": now, "jsdPublic": true});
        self.issues[idx].comments.push(c.clone());
        Resp::json(201, c)
    }

    /// `GET /issue/{key}/transitions`: the transitions the caller is offered
    /// from the issue's status.
    fn transitions_get(&self, idx: usize, user: &SiteUser) -> Resp {
        let i = &self.issues[idx];
        let caller = Caller { account_id: &user.account_id, groups: &user.groups };
        let offered: Vec<Value> = self
            .site
            .offered(&i.project, &i.issue_type, &i.status, caller)
            .iter()
            .map(|t| json!({"id": t.id, "name": t.name, "to": self.site.status_json(&t.to), "hasScreen": false, "isGlobal": false, "isInitial": false, "isAvailable": true, "isConditional": t.conditional, "isLooped": false}))
            .collect();
        Resp::json(200, json!({"transitions": offered}))
    }

    /// `GET /issue/{key}/properties`: the keys of the issue's properties.
    fn properties_keys(&self, idx: usize) -> Resp {
        let keys: Vec<Value> = self.issues[idx].properties.keys().map(|k| json!({"key": k, "self": ""})).collect();
        Resp::json(200, json!({"keys": keys}))
    }

    /// `PUT /issue/{key}/properties/{name}`: a JSON property within Jira's
    /// size limit; 201 when new.
    fn property_set(&mut self, name: &str, idx: usize, req: &Req) -> Resp {
        let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "The property value must be valid JSON.");
        };
        if req.body.len() > 32_768 {
            return error(400, "The property value is too long (32768 bytes at most).");
        }
        let existed = self.issues[idx].properties.insert((*name).to_owned(), v).is_some();
        Resp::json(if existed { 200 } else { 201 }, json!({}))
    }

    /// `GET /issue/{key}/changelog`: a page of the issue's changelog.
    fn changelog_get(&self, idx: usize, req: &Req) -> Resp {
        let start: usize = req.query("startAt").and_then(|s| s.parse().ok()).unwrap_or(0);
        let max: usize = req.query("maxResults").and_then(|s| s.parse().ok()).unwrap_or(100);
        let all = &self.issues[idx].changelog;
        let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
        Resp::json(
            200,
            json!({"values": page, "startAt": start, "maxResults": max, "total": all.len(), "isLast": start + max >= all.len()}),
        )
    }

    /// `POST /issue/{key}/attachments`: a multipart upload (with Jira's XSRF
    /// header), its id unique on the site.
    fn attachment_add(&mut self, idx: usize, req: &Req, user: &SiteUser) -> Resp {
        if req.header("x-atlassian-token") != Some("no-check") {
            return Resp::json(403, json!({"errorMessages": ["XSRF check failed"]}));
        }
        let ct = req.header("content-type").unwrap_or_default().to_owned();
        if !ct.starts_with("multipart/form-data; boundary=") {
            return error(415, "Attachments must be multipart/form-data.");
        }
        let body = String::from_utf8_lossy(&req.body);
        let filename = body.split("filename=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("file").to_owned();
        // Attachment ids are unique on the site, as on Jira.
        let id = 40000 + self.issues.iter().map(|i| i.attachments.len()).sum::<usize>();
        let a = json!({"id": id.to_string(), "filename": filename, "size": req.body.len(),
                       "author": self.user_json(user), "created": jira_time(Timestamp::now()), "mimeType": "application/octet-stream",
                       "self": "", "content": ""});
        self.issues[idx].attachments.push(a.clone());
        if let Some(content) = multipart_file(&req.body, &ct) {
            self.issues[idx].files.insert(filename, content);
        }
        Resp::json(200, json!([a]))
    }

    /// `POST /issue/{key}/remotelink`: a remote link, replacing the one of
    /// the same global id.
    fn remote_link_set(&mut self, idx: usize, req: &Req) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let Some(url) = body.get("object").and_then(|o| o.get("url")).and_then(Value::as_str) else {
            return error(400, "object.url is required");
        };
        let global = body.get("globalId").and_then(Value::as_str).map(String::from);
        let links = &mut self.issues[idx].remote_links;
        let existing = global
            .as_ref()
            .and_then(|g| links.iter().position(|l| l.get("globalId").and_then(Value::as_str) == Some(g.as_str())));
        let id = existing.map_or(links.len() as u64 + 50000, |p| p as u64 + 50000);
        let link =
            json!({"id": id, "globalId": global, "self": "", "object": {"url": url, "title": body["object"]["title"]}});
        match existing {
            Some(p) => links[p] = link,
            None => links.push(link),
        }
        Resp::json(if existing.is_some() { 200 } else { 201 }, json!({"id": id, "self": ""}))
    }

    fn transition(&mut self, idx: usize, req: &Req, user: &SiteUser) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let Some(id) = body.get("transition").and_then(|t| t.get("id")).and_then(Value::as_str) else {
            return error(400, "A transition id is required.");
        };
        let status = self.issues[idx].status.clone();
        let caller = Caller { account_id: &user.account_id, groups: &user.groups };
        let i = &self.issues[idx];
        // Jira reports a transition the user is not offered (wrong status,
        // a failed condition) as an invalid transition.
        let Some(t) = self.site.offered(&i.project, &i.issue_type, &status, caller).into_iter().find(|t| t.id == id)
        else {
            return error(400, &format!("Transition id '{id}' is not valid for this issue."));
        };
        let fields = body.get("fields").and_then(Value::as_object).cloned().unwrap_or_default();
        for k in fields.keys() {
            if k != "resolution" {
                return Resp::json(
                    400,
                    json!({"errorMessages": [], "errors": {k.clone(): format!("Field '{k}' cannot be set. It is not on the appropriate screen, or unknown.")}}),
                );
            }
        }
        let closing = self.site.is_done(&t.to);
        if fields.contains_key("resolution") && !closing {
            return Resp::json(
                400,
                json!({"errorMessages": [], "errors": {"resolution": "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."}}),
            );
        }
        let mut items = vec![json!({"field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": self.site.status_json(&status)["id"], "fromString": status, "to": self.site.status_json(&t.to)["id"], "toString": t.to})];
        let resolution = if closing {
            Some(
                fields
                    .get("resolution")
                    .and_then(|r| r.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or(&t.to)
                    .to_owned(),
            )
        } else {
            None
        };
        let old_resolution = self.issues[idx].resolution.clone();
        if resolution != old_resolution {
            items.push(json!({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": null,
                "fromString": old_resolution, "to": null, "toString": resolution}));
        }
        let i = &mut self.issues[idx];
        i.status = t.to.to_owned();
        i.resolution = resolution;
        i.resolved = closing.then(Timestamp::now);
        self.record_change(idx, user, items);
        Resp::empty(204)
    }

    /// `POST /issueLink`: links two issues with a link type of the site.
    fn link(&mut self, req: &Req) -> Resp {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "Invalid request payload.");
        };
        let name = body["type"]["name"].as_str().unwrap_or_default();
        if !["Relates", "Blocks", "Duplicate", "Cloners"].contains(&name) {
            return error(404, &format!("No issue link type with name '{name}' found."));
        }
        let key = |side: &str| body[side]["key"].as_str().unwrap_or_default().to_owned();
        let (inward, outward) = (key("inwardIssue"), key("outwardIssue"));
        let (Some(a), Some(b)) =
            (self.issues.iter().position(|i| i.key == inward), self.issues.iter().position(|i| i.key == outward))
        else {
            return error(404, "Issue does not exist or you do not have permission to see it.");
        };
        self.issues[a].issue_links.push(json!({"type": name, "direction": "outward", "key": outward}));
        self.issues[b].issue_links.push(json!({"type": name, "direction": "inward", "key": inward}));
        // The description declares a JSON answer (an empty schema).
        Resp::json(201, json!({}))
    }

    /// Moves an issue's past back by `by`: its creation and every history
    /// entry (the tests' clock: a request that has waited, an approval that
    /// has aged). `None` when there is no such issue.
    pub fn backdate(&mut self, key: &str, by: std::time::Duration) -> Option<()> {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let shift = |t: Timestamp| Timestamp(t.0.saturating_sub(ms));
        let i = self.issues.iter_mut().find(|i| i.key == key)?;
        i.created = shift(i.created);
        for e in &mut i.changelog {
            if let Some(t) = e["created"].as_str().and_then(Timestamp::parse) {
                e["created"] = json!(jira_time(shift(t)));
            }
        }
        Some(())
    }

    /// The content of an issue's attachment, by file name.
    pub fn attachment(&self, key: &str, filename: &str) -> Option<Vec<u8>> {
        self.issues.iter().find(|i| i.key == key)?.files.get(filename).cloned()
    }

    /// Every attachment: issue key, file name, content.
    pub fn files(&self) -> Vec<(String, String, Vec<u8>)> {
        self.issues
            .iter()
            .flat_map(|i| i.files.iter().map(|(name, bytes)| (i.key.clone(), name.clone(), bytes.clone())))
            .collect()
    }

    /// Every issue, for tests and the demo: key, status, labels, properties,
    /// comments (as text) and the changelog.
    pub fn dump(&self) -> Value {
        let issues: Vec<Value> = self
            .issues
            .iter()
            .map(|i| {
                json!({"id": i.id, "key": i.key, "status": i.status, "resolution": i.resolution,
                       "fields": i.fields, "properties": i.properties,
                       "comments": i.comments.iter().map(|c| crate::clients::jira::adf::plain_text(&c["body"])).collect::<Vec<_>>(),
                       "changelog": i.changelog, "attachments": i.attachments.len(), "remote_links": i.remote_links,
                       "issue_links": i.issue_links})
            })
            .collect();
        let props: Vec<Value> =
            self.project_properties.iter().map(|((p, k), v)| json!({"project": p, "key": k, "value": v})).collect();
        json!({"issues": issues, "project_properties": props})
    }

    /// Adds a user to a group (what an administrator does by hand).
    pub fn add_to_group(&mut self, email: &str, group: &str) {
        if let Some(u) = self.users.iter_mut().find(|u| u.email == email)
            && !u.groups.iter().any(|g| g == group)
        {
            u.groups.push(group.to_owned());
        }
    }

    /// A project property as stored (tests and the demo).
    pub fn project_property(&self, project: &str, key: &str) -> Option<Value> {
        self.project_properties.get(&(project.to_owned(), key.to_owned())).cloned()
    }

    /// Sets a project property directly (tests: a project administrator's write).
    pub fn set_project_property(&mut self, project: &str, key: &str, value: Value) {
        self.project_properties.insert((project.to_owned(), key.to_owned()), value);
    }
}

/// The content of the (single) file part of a multipart body.
fn multipart_file(body: &[u8], content_type: &str) -> Option<Vec<u8>> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let start = find(body, b"\r\n\r\n")? + 4;
    let end_marker = format!("\r\n--{boundary}");
    let end = start + find(&body[start..], end_marker.as_bytes())?;
    Some(body[start..end].to_vec())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A comma-separated query parameter's items, trimmed, without empty ones.
fn comma_list(q: Option<&str>) -> Vec<String> {
    q.map(|s| s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect()).unwrap_or_default()
}
