//! The configuration of the stand-in Jira site: projects, custom fields and
//! their contexts, statuses, issue types and issue type schemes, workflows
//! with group conditions, workflow schemes, screens, screen schemes, issue
//! type screen schemes and groups. The administration operations of the
//! official description (`/field`, `/statuses/search`, `/workflows/create`,
//! `/workflowscheme`, `/issuetype`, `/screens`, `/group`, ...) read and
//! change it, under Jira's permission rules: *Administer Jira* (the
//! `jira-admins` group here) for site configuration, site administration
//! (`site-admins`) for groups, *Administer Projects* (`project-admins`) for
//! a project's schemes. The issue operations of the stand-in consult it:
//! which transitions a user is offered, which fields a screen lets them set,
//! which status a new issue starts in.
//!
//! Two sites: [`Site::configured`], the site `docs/jira-setup.md` describes
//! (what every flow test runs against), and [`Site::empty`], a fresh
//! company-managed project with Jira's default workflow and no custom fields
//! (what `changegate setup jira` starts from).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::exchange::{Req, Resp};

/// The kind of a custom field, as changegate's configuration names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Single line of text.
    Text,
    /// Paragraph (ADF).
    Textarea,
    /// Single select list.
    Select,
    /// Number.
    Number,
    /// URL.
    Url,
}

impl FieldKind {
    /// The custom field type key Jira uses.
    pub fn type_key(self) -> &'static str {
        match self {
            FieldKind::Text => "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
            FieldKind::Textarea => "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
            FieldKind::Select => "com.atlassian.jira.plugin.system.customfieldtypes:select",
            FieldKind::Number => "com.atlassian.jira.plugin.system.customfieldtypes:float",
            FieldKind::Url => "com.atlassian.jira.plugin.system.customfieldtypes:url",
        }
    }

    /// The kind of a type key.
    pub fn of_type_key(key: &str) -> Option<FieldKind> {
        [FieldKind::Text, FieldKind::Textarea, FieldKind::Select, FieldKind::Number, FieldKind::Url]
            .into_iter()
            .find(|k| k.type_key() == key)
    }

    fn schema_type(self) -> &'static str {
        match self {
            FieldKind::Text | FieldKind::Textarea | FieldKind::Url => "string",
            FieldKind::Select => "option",
            FieldKind::Number => "number",
        }
    }
}

#[derive(Debug, Clone)]
struct Context {
    id: String,
    name: String,
    project_ids: Vec<String>,
    issue_type_ids: Vec<String>,
    options: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Field {
    id: String,
    name: String,
    kind: FieldKind,
    contexts: Vec<Context>,
}

#[derive(Debug, Clone)]
struct Status {
    id: String,
    name: String,
    category: &'static str,
}

#[derive(Debug, Clone)]
struct Transition {
    id: String,
    name: String,
    /// `INITIAL`, `GLOBAL` or `DIRECTED`.
    kind: String,
    /// Status ids it starts from (directed transitions).
    from: Vec<String>,
    to: String,
    /// `system:restrict-issue-transition`: groups and accounts allowed
    /// (both empty: no restriction).
    group_ids: Vec<String>,
    account_ids: Vec<String>,
}

#[derive(Debug, Clone)]
struct Workflow {
    id: String,
    name: String,
    statuses: Vec<String>,
    transitions: Vec<Transition>,
    version: u64,
}

#[derive(Debug, Clone)]
struct WorkflowScheme {
    id: u64,
    name: String,
    default_workflow: String,
    mappings: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Tab {
    id: u64,
    name: String,
    fields: Vec<String>,
}

#[derive(Debug, Clone)]
struct Screen {
    id: u64,
    name: String,
    tabs: Vec<Tab>,
}

#[derive(Debug, Clone)]
struct ScreenScheme {
    id: u64,
    name: String,
    default_screen: u64,
}

#[derive(Debug, Clone)]
struct IssueTypeScreenScheme {
    id: String,
    name: String,
    /// Issue type id (or `default`) -> screen scheme id.
    mappings: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct IssueTypeScheme {
    id: String,
    name: String,
    default: bool,
    issue_types: Vec<String>,
}

/// A project of the site.
#[derive(Debug, Clone)]
pub struct Project {
    /// Numeric id.
    pub(crate) id: String,
    /// Key.
    pub(crate) key: String,
    /// `classic` (company-managed) or `next-gen` (team-managed).
    pub style: &'static str,
    workflow_scheme: Option<u64>,
    issue_type_scheme: String,
    screen_scheme: String,
}

/// The site's configuration.
#[derive(Debug, Clone)]
pub struct Site {
    /// Projects.
    pub projects: Vec<Project>,
    fields: Vec<Field>,
    statuses: Vec<Status>,
    issue_types: Vec<(String, String)>,
    issue_type_schemes: Vec<IssueTypeScheme>,
    workflows: Vec<Workflow>,
    workflow_schemes: Vec<WorkflowScheme>,
    screens: Vec<Screen>,
    screen_schemes: Vec<ScreenScheme>,
    itss: Vec<IssueTypeScreenScheme>,
    groups: Vec<(String, String)>,
    next: u64,
}

/// Who is asking: account id and group names.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// Account id.
    pub(crate) account_id: &'a str,
    /// Group names.
    pub(crate) groups: &'a [String],
}

impl Caller<'_> {
    fn in_group(&self, g: &str) -> bool {
        self.groups.iter().any(|x| x == g)
    }

    /// Administer Jira.
    fn administer(&self) -> bool {
        self.in_group("jira-admins")
    }

    /// Site administration (groups).
    fn site_admin(&self) -> bool {
        self.in_group("site-admins")
    }

    /// Administer Projects.
    fn project_admin(&self) -> bool {
        self.in_group("project-admins") || self.administer()
    }
}

/// An offered transition, for the issue operations.
#[derive(Debug, Clone)]
pub struct Offered {
    /// Transition id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Target status name.
    pub(crate) to: String,
    /// Whether a condition restricts it.
    pub(crate) conditional: bool,
}

fn group_id(name: &str) -> String {
    // Stable, UUID-shaped ids, as Jira Cloud's group ids are.
    let h = crate::base::digest::Sha256Digest::of(name.as_bytes()).hex();
    format!("{}-{}-4{}-8{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(status, json!({"errorMessages": [message], "errors": {}}))
}

fn forbidden(what: &str) -> Resp {
    error(403, &format!("You do not have permission to {what}."))
}

fn page(values: Vec<Value>) -> Value {
    let n = values.len();
    json!({"isLast": true, "maxResults": n.max(50), "startAt": 0, "total": n, "values": values})
}

/// How Jira answers a search by name: the objects whose name contains
/// `queryString` (ignoring case), as one page of `{id, name, description}`.
fn named_page<'a, I: serde::Serialize>(req: &Req, named: impl Iterator<Item = (I, &'a str)>) -> Resp {
    let q = req.query("queryString").unwrap_or_default().to_lowercase();
    let values = named
        .filter(|(_, name)| name.to_lowercase().contains(&q))
        .map(|(id, name)| json!({"id": id, "name": name, "description": ""}))
        .collect();
    Resp::json(200, page(values))
}

/// The custom fields of the configured site: (id, name, kind).
pub const CUSTOM_FIELDS: &[(&str, &str, FieldKind)] = &[
    ("customfield_10050", "Environment", FieldKind::Text),
    ("customfield_10051", "Justification", FieldKind::Textarea),
    ("customfield_10052", "Rollback plan", FieldKind::Textarea),
    ("customfield_10053", "Change type", FieldKind::Select),
    ("customfield_10054", "Risk level", FieldKind::Select),
    ("customfield_10055", "Repository", FieldKind::Text),
    ("customfield_10056", "Branch", FieldKind::Text),
    ("customfield_10057", "Commit", FieldKind::Text),
    ("customfield_10058", "Build job", FieldKind::Text),
    ("customfield_10059", "Build job number", FieldKind::Number),
    ("customfield_10060", "Build URL", FieldKind::Url),
    ("customfield_10061", "Pipeline id", FieldKind::Text),
    ("customfield_10062", "Pipeline number", FieldKind::Number),
    ("customfield_10063", "Workflows", FieldKind::Text),
    ("customfield_10064", "Pull requests", FieldKind::Textarea),
    ("customfield_10065", "Security scan status", FieldKind::Text),
    ("customfield_10066", "changegate record", FieldKind::Text),
    ("customfield_10067", "Service", FieldKind::Text),
    ("customfield_10068", "Deploy action", FieldKind::Select),
];

/// The options of the configured site's select fields.
fn select_options(name: &str) -> &'static [&'static str] {
    match name {
        "Change type" => &["standard", "normal", "emergency"],
        "Risk level" => &["low", "medium", "high"],
        "Deploy action" => &["plan", "apply"],
        _ => &[],
    }
}

const SYSTEM_FIELDS: &[(&str, &str)] = &[
    ("summary", "Summary"),
    ("description", "Description"),
    ("labels", "Labels"),
    ("duedate", "Due date"),
    ("resolution", "Resolution"),
];

impl Site {
    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// A fresh company-managed project `key` on a site with Jira's defaults:
    /// the `jira` workflow (To Do, In Progress, Done), the default schemes,
    /// the issue types Task and Bug, no custom fields and no groups but the
    /// administrators'.
    pub fn empty(key: &str) -> Site {
        let mut site = Site {
            projects: vec![Project {
                id: "10000".into(),
                key: key.into(),
                style: "classic",
                workflow_scheme: None,
                issue_type_scheme: "10000".into(),
                screen_scheme: "1".into(),
            }],
            fields: Vec::new(),
            statuses: vec![
                Status { id: "10001".into(), name: "To Do".into(), category: "TODO" },
                Status { id: "3".into(), name: "In Progress".into(), category: "IN_PROGRESS" },
                Status { id: "10002".into(), name: "Done".into(), category: "DONE" },
            ],
            issue_types: vec![("10002".into(), "Task".into()), ("10003".into(), "Bug".into())],
            issue_type_schemes: vec![IssueTypeScheme {
                id: "10000".into(),
                name: "Default Issue Type Scheme".into(),
                default: true,
                issue_types: vec!["10002".into(), "10003".into()],
            }],
            workflows: Vec::new(),
            workflow_schemes: vec![WorkflowScheme {
                id: 10000,
                name: "Default Workflow Scheme".into(),
                default_workflow: "jira".into(),
                mappings: BTreeMap::new(),
            }],
            screens: vec![Screen {
                id: 1,
                name: "Default Screen".into(),
                tabs: vec![Tab {
                    id: 10000,
                    name: "Field Tab".into(),
                    fields: vec!["summary".into(), "description".into(), "labels".into(), "duedate".into()],
                }],
            }],
            screen_schemes: vec![ScreenScheme { id: 1, name: "Default Screen Scheme".into(), default_screen: 1 }],
            itss: vec![IssueTypeScreenScheme {
                id: "1".into(),
                name: "Default Issue Type Screen Scheme".into(),
                mappings: vec![("default".into(), "1".into())],
            }],
            groups: ["jira-admins", "site-admins", "project-admins"]
                .iter()
                .map(|g| (group_id(g), (*g).to_owned()))
                .collect(),
            next: 20000,
        };
        site.workflows.push(Workflow {
            id: "jira".into(),
            name: "jira".into(),
            statuses: vec!["10001".into(), "3".into(), "10002".into()],
            transitions: vec![
                site.plain("1", "Create", "INITIAL", &[], "10001"),
                site.plain("11", "To Do", "GLOBAL", &[], "10001"),
                site.plain("21", "In Progress", "GLOBAL", &[], "3"),
                site.plain("31", "Done", "GLOBAL", &[], "10002"),
            ],
            version: 1,
        });
        site
    }

    fn plain(&self, id: &str, name: &str, kind: &str, from: &[&str], to: &str) -> Transition {
        Transition {
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
            from: from.iter().map(|s| (*s).to_owned()).collect(),
            to: to.into(),
            group_ids: Vec::new(),
            account_ids: Vec::new(),
        }
    }

    /// The site `docs/jira-setup.md` describes: project `PRODCM` with the
    /// change workflow (Approve and Decline for the approvers group and the
    /// bot's group, Emergency approve for break-glass), the custom fields of
    /// [`CUSTOM_FIELDS`] on the project's screen, and the groups of the
    /// stand-in's users.
    pub fn configured() -> Site {
        let mut site = Site::empty("PRODCM");
        for g in ["ci", "bots", "approvers", "break-glass"] {
            site.groups.push((group_id(g), g.to_owned()));
        }
        for (id, name, kind) in CUSTOM_FIELDS {
            let options = select_options(name)
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}", 11000 + i), (*v).to_owned()))
                .collect();
            site.fields.push(Field {
                id: (*id).into(),
                name: (*name).into(),
                kind: *kind,
                contexts: vec![Context {
                    id: format!("1{}", &id[12..]),
                    name: format!("Default Configuration Scheme for {name}"),
                    project_ids: Vec::new(),
                    issue_type_ids: Vec::new(),
                    options,
                }],
            });
        }
        let statuses: &[(&str, &str, &str)] = &[
            ("1", "Open", "TODO"),
            ("2", "Waiting for input", "IN_PROGRESS"),
            ("4", "Manual review", "IN_PROGRESS"),
            ("5", "Approved", "IN_PROGRESS"),
            ("6", "Declined", "DONE"),
            ("8", "Failed", "DONE"),
            ("9", "Cancelled", "DONE"),
        ];
        // The change workflow's Done is the site's own Done status (10002).
        for (id, name, cat) in statuses {
            site.statuses.push(Status { id: (*id).into(), name: (*name).into(), category: cat });
        }
        let open: &[&str] = &["1", "2", "4"];
        let live: &[&str] = &["1", "2", "4", "5"];
        let g = |n: &str| vec![group_id(n)];
        let t = |id: &str, name: &str, from: &[&str], to: &str, groups: Vec<String>| Transition {
            group_ids: groups,
            ..site.plain(id, name, "DIRECTED", from, to)
        };
        let transitions = vec![
            t("1", "Create", &[], "1", Vec::new()),
            t("11", "Request input", &["1", "4"], "2", Vec::new()),
            t("21", "Send to review", &["1", "2"], "4", Vec::new()),
            t("22", "Send back", &["5"], "4", Vec::new()),
            t("31", "Approve", open, "5", [g("approvers"), g("bots")].concat()),
            t("32", "Emergency approve", open, "5", g("break-glass")),
            t("41", "Decline", live, "6", [g("approvers"), g("bots")].concat()),
            t("51", "Complete", &["5"], "10002", Vec::new()),
            t("61", "Fail", live, "8", Vec::new()),
            t("71", "Cancel", live, "9", Vec::new()),
        ];
        let mut transitions = transitions;
        transitions[0].kind = "INITIAL".into();
        site.workflows.push(Workflow {
            id: "b2a5c0de-0000-4000-8000-00000000cafe".into(),
            name: "changegate change".into(),
            statuses: statuses.iter().map(|(id, ..)| (*id).to_owned()).chain(["10002".to_owned()]).collect(),
            transitions,
            version: 1,
        });
        site.issue_types.push(("10001".into(), "Change".into()));
        site.issue_type_schemes[0].issue_types.push("10001".into());
        site.workflow_schemes.push(WorkflowScheme {
            id: 10100,
            name: "changegate".into(),
            default_workflow: "jira".into(),
            mappings: [("10001".to_owned(), "changegate change".to_owned())].into_iter().collect(),
        });
        let mut fields: Vec<String> = SYSTEM_FIELDS.iter().map(|(id, _)| (*id).to_owned()).collect();
        fields.retain(|f| f != "resolution");
        fields.extend(CUSTOM_FIELDS.iter().map(|(id, ..)| (*id).to_owned()));
        site.screens.push(Screen {
            id: 10100,
            name: "changegate change".into(),
            tabs: vec![Tab { id: 10101, name: "Change".into(), fields }],
        });
        site.screen_schemes.push(ScreenScheme { id: 10100, name: "changegate change".into(), default_screen: 10100 });
        site.itss.push(IssueTypeScreenScheme {
            id: "10100".into(),
            name: "changegate".into(),
            mappings: vec![("default".into(), "1".into()), ("10001".into(), "10100".into())],
        });
        let p = &mut site.projects[0];
        p.workflow_scheme = Some(10100);
        p.screen_scheme = "10100".into();
        site
    }

    /// Adds a group (an administrator's act outside the API under test).
    pub fn add_group(&mut self, name: &str) {
        if !self.groups.iter().any(|(_, n)| n == name) {
            self.groups.push((group_id(name), name.to_owned()));
        }
    }

    /// The name of a group id.
    pub fn group_name(&self, id: &str) -> Option<String> {
        self.groups.iter().find(|(i, _)| i == id).map(|(_, n)| n.clone())
    }

    /// Whether the site has a group of that name.
    pub fn has_group(&self, name: &str) -> bool {
        self.groups.iter().any(|(_, n)| n == name)
    }

    fn project(&self, key_or_id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.key == key_or_id || p.id == key_or_id)
    }

    /// Whether the project exists.
    pub fn has_project(&self, key: &str) -> bool {
        self.project(key).is_some()
    }

    fn status(&self, id: &str) -> Option<&Status> {
        self.statuses.iter().find(|s| s.id == id)
    }

    fn status_by_name(&self, name: &str) -> Option<&Status> {
        self.statuses.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The status JSON of issue answers (`status` field).
    pub fn status_json(&self, name: &str) -> Value {
        let (id, cat) = self.status_by_name(name).map_or(("0", "undefined"), |s| {
            (
                s.id.as_str(),
                match s.category {
                    "TODO" => "new",
                    "IN_PROGRESS" => "indeterminate",
                    _ => "done",
                },
            )
        });
        json!({"self": format!("/rest/api/3/status/{id}"), "id": id, "name": name, "description": "",
               "statusCategory": {"key": cat, "name": cat, "id": 1, "colorName": "blue-gray"}})
    }

    /// Whether a status is in the Done category.
    pub fn is_done(&self, name: &str) -> bool {
        self.status_by_name(name).is_some_and(|s| s.category == "DONE")
    }

    /// The issue type id of a name or id in `project`, if the project has it.
    pub fn issue_type(&self, project: &str, name_or_id: &str) -> Option<String> {
        let p = self.project(project)?;
        let scheme = self.issue_type_schemes.iter().find(|s| s.id == p.issue_type_scheme)?;
        self.issue_types
            .iter()
            .find(|(id, name)| (id == name_or_id || name == name_or_id) && scheme.issue_types.contains(id))
            .map(|(id, _)| id.clone())
    }

    fn workflow_for(&self, project: &str, issue_type: &str) -> Option<&Workflow> {
        let p = self.project(project)?;
        let scheme = match p.workflow_scheme {
            Some(id) => self.workflow_schemes.iter().find(|s| s.id == id)?,
            None => self.workflow_schemes.iter().find(|s| s.id == 10000)?,
        };
        let name = scheme.mappings.get(issue_type).unwrap_or(&scheme.default_workflow);
        self.workflows.iter().find(|w| &w.name == name)
    }

    /// The status a new issue of `issue_type` in `project` starts in.
    pub fn initial_status(&self, project: &str, issue_type: &str) -> Option<String> {
        let w = self.workflow_for(project, issue_type)?;
        let t = w.transitions.iter().find(|t| t.kind == "INITIAL")?;
        self.status(&t.to).map(|s| s.name.clone())
    }

    fn allowed(&self, t: &Transition, caller: Caller<'_>) -> bool {
        if t.group_ids.is_empty() && t.account_ids.is_empty() {
            return true;
        }
        t.account_ids.iter().any(|a| a == caller.account_id)
            || self.groups.iter().any(|(id, name)| t.group_ids.contains(id) && caller.in_group(name))
    }

    /// The transitions `caller` is offered on an issue in `status`.
    pub fn offered(&self, project: &str, issue_type: &str, status: &str, caller: Caller<'_>) -> Vec<Offered> {
        let Some(w) = self.workflow_for(project, issue_type) else { return Vec::new() };
        let Some(from) = self.status_by_name(status).map(|s| s.id.clone()) else { return Vec::new() };
        w.transitions
            .iter()
            .filter(|t| match t.kind.as_str() {
                "GLOBAL" => t.to != from,
                "DIRECTED" => t.from.contains(&from),
                _ => false,
            })
            .filter(|t| self.allowed(t, caller))
            .filter_map(|t| {
                Some(Offered {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    to: self.status(&t.to)?.name.clone(),
                    conditional: !t.group_ids.is_empty() || !t.account_ids.is_empty(),
                })
            })
            .collect()
    }

    /// The kind of a custom field.
    pub fn field_kind(&self, id: &str) -> Option<FieldKind> {
        self.fields.iter().find(|f| f.id == id).map(|f| f.kind)
    }

    /// The name of a field.
    pub fn field_name(&self, id: &str) -> Option<String> {
        SYSTEM_FIELDS
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| (*n).to_owned())
            .or_else(|| self.fields.iter().find(|f| f.id == id).map(|f| f.name.clone()))
    }

    /// The options a select field offers in a project.
    pub fn field_options(&self, id: &str) -> Vec<String> {
        let Some(f) = self.fields.iter().find(|f| f.id == id) else { return Vec::new() };
        f.contexts.iter().flat_map(|c| c.options.iter().map(|(_, v)| v.clone())).collect()
    }

    /// The fields on the screen of `issue_type` in `project` (create, edit
    /// and view use one screen here).
    pub fn screen_fields(&self, project: &str, issue_type: &str) -> Vec<String> {
        let Some(p) = self.project(project) else { return Vec::new() };
        let Some(itss) = self.itss.iter().find(|s| s.id == p.screen_scheme) else { return Vec::new() };
        let scheme = itss
            .mappings
            .iter()
            .find(|(t, _)| t == issue_type)
            .or_else(|| itss.mappings.iter().find(|(t, _)| t == "default"))
            .map(|(_, s)| s.clone());
        let Some(ss) = scheme.and_then(|id| self.screen_schemes.iter().find(|s| s.id.to_string() == id)) else {
            return Vec::new();
        };
        self.screens
            .iter()
            .find(|s| s.id == ss.default_screen)
            .map(|s| s.tabs.iter().flat_map(|t| t.fields.iter().cloned()).collect())
            .unwrap_or_default()
    }

    /// The `GET /field` answer.
    pub fn fields_json(&self) -> Value {
        let mut list: Vec<Value> = SYSTEM_FIELDS
            .iter()
            .map(|(id, name)| json!({"id": id, "key": id, "name": name, "custom": false, "orderable": true, "navigable": true, "searchable": true, "clauseNames": [id]}))
            .collect();
        list.extend(self.fields.iter().map(|f| self.field_json(f)));
        Value::Array(list)
    }

    fn field_json(&self, f: &Field) -> Value {
        let n: u64 = f.id.trim_start_matches("customfield_").parse().unwrap_or(0);
        json!({"id": f.id, "key": f.id, "name": f.name, "custom": true, "orderable": true,
               "navigable": true, "searchable": true, "clauseNames": [format!("cf[{n}]"), f.name],
               "schema": {"type": f.kind.schema_type(), "custom": f.kind.type_key(), "customId": n}})
    }

    /// The `GET /project/{key}/statuses` answer: the statuses of each issue
    /// type's workflow.
    pub fn project_statuses_json(&self, project: &str) -> Value {
        let Some(p) = self.project(project) else { return json!([]) };
        let Some(scheme) = self.issue_type_schemes.iter().find(|s| s.id == p.issue_type_scheme) else {
            return json!([]);
        };
        let mut out = Vec::new();
        for t in &scheme.issue_types {
            let name = self.issue_types.iter().find(|(id, _)| id == t).map_or("", |(_, n)| n.as_str());
            let statuses: Vec<Value> = self
                .workflow_for(project, t)
                .map(|w| w.statuses.iter().filter_map(|s| self.status(s)).map(|s| self.status_json(&s.name)).collect())
                .unwrap_or_default();
            out.push(json!({"id": t, "name": name, "self": "", "subtask": false, "statuses": statuses}));
        }
        Value::Array(out)
    }

    /// The issue types of a project, for create metadata.
    pub fn project_issue_types(&self, project: &str) -> Vec<(String, String)> {
        let Some(p) = self.project(project) else { return Vec::new() };
        let Some(scheme) = self.issue_type_schemes.iter().find(|s| s.id == p.issue_type_scheme) else {
            return Vec::new();
        };
        self.issue_types.iter().filter(|(id, _)| scheme.issue_types.contains(id)).cloned().collect()
    }

    /// Handles an administration operation; `None` when the route is not
    /// one of them.
    pub fn handle(
        &mut self,
        m: &str,
        parts: &[&str],
        req: &Req,
        caller: Caller<'_>,
        issues_in: &dyn Fn(&str) -> usize,
    ) -> Option<Resp> {
        // Jira shows workflows, schemes, screens, statuses and field
        // contexts only to administrators.
        let admin_read = matches!(
            parts.first().copied(),
            Some(
                "workflows"
                    | "workflowscheme"
                    | "screens"
                    | "screenscheme"
                    | "issuetypescreenscheme"
                    | "issuetypescheme"
                    | "statuses"
            )
        ) || matches!(parts, ["field", _, "context", ..]);
        if m == "GET" && admin_read && !caller.administer() {
            return Some(forbidden("view this configuration (Administer Jira is needed)"));
        }
        Some(match (m, parts) {
            ("GET", ["project", key]) => self.project_get(key),
            ("GET", ["mypermissions"]) => Self::my_permissions(req, caller),
            ("GET", ["group", "bulk"]) => self.groups_get(req),
            ("POST", ["group"]) => self.group_create(req, caller),
            ("POST", ["field"]) => self.field_create(req, caller),
            ("GET", ["field", id, "context"]) => self.field_contexts(id),
            ("POST", ["field", id, "context"]) => self.field_context_create(id, req, caller),
            ("GET", ["field", id, "context", ctx, "option"]) => self.field_options_get(id, ctx),
            ("POST", ["field", id, "context", ctx, "option"]) => self.field_options_create(id, ctx, req, caller),
            ("GET", ["issuetype"]) => self.issue_types_get(),
            ("POST", ["issuetype"]) => self.issue_type_create(req, caller),
            ("GET", ["issuetypescheme", "project"]) => self.issue_type_scheme_of_project(req),
            ("GET", ["issuetypescheme", "mapping"]) => self.issue_type_scheme_mappings(req),
            ("PUT", ["issuetypescheme", id, "issuetype"]) => self.issue_type_scheme_add(id, req, caller),
            ("GET", ["statuses", "search"]) => self.statuses_search(req),
            ("GET", ["workflows", "search"]) => self.workflows_search(req),
            ("POST", ["workflows", "create", "validation"]) => self.workflows_validate(req, caller),
            ("POST", ["workflows", "create"]) => self.workflows_create(req, caller),
            ("GET", ["workflowscheme"]) => self.workflow_schemes_get(caller),
            ("GET", ["issuetypescreenscheme"]) => self.issue_type_screen_schemes_get(req),
            ("GET", ["workflowscheme", "project"]) => self.workflow_scheme_of_project(req),
            ("POST", ["workflowscheme"]) => self.workflow_scheme_create(req, caller),
            ("PUT", ["workflowscheme", "project"]) => self.workflow_scheme_assign(req, caller, issues_in),
            ("GET", ["screens"]) => self.screens_get(req),
            ("POST", ["screens"]) => self.screen_create(req, caller),
            ("GET", ["screens", id, "tabs"]) => self.screen_tabs(id),
            ("POST", ["screens", id, "tabs"]) => self.screen_tab_create(id, req, caller),
            ("GET", ["screens", id, "tabs", tab, "fields"]) => self.screen_tab_fields(id, tab),
            ("POST", ["screens", id, "tabs", tab, "fields"]) => self.screen_tab_field_add(id, tab, req, caller),
            ("GET", ["screenscheme"]) => self.screen_schemes_get(req),
            ("POST", ["screenscheme"]) => self.screen_scheme_create(req, caller),
            ("GET", ["issuetypescreenscheme", "project"]) => self.issue_type_screen_scheme_of_project(req),
            ("GET", ["issuetypescreenscheme", "mapping"]) => self.issue_type_screen_scheme_mappings(req),
            ("POST", ["issuetypescreenscheme"]) => self.issue_type_screen_scheme_create(req, caller),
            ("PUT", ["issuetypescreenscheme", id, "mapping"]) => self.issue_type_screen_scheme_map(id, req, caller),
            ("PUT", ["issuetypescreenscheme", "project"]) => self.issue_type_screen_scheme_assign(req, caller),
            _ => return None,
        })
    }

    /// `GET /project/{key}`: the project and its issue types.
    fn project_get(&self, key: &str) -> Resp {
        match self.project(key) {
            None => error(404, "No project could be found with key."),
            Some(p) => {
                let types: Vec<Value> = self
                    .project_issue_types(&p.key)
                    .iter()
                    .map(|(id, name)| json!({"id": id, "name": name, "subtask": false, "hierarchyLevel": 0}))
                    .collect();
                Resp::json(
                    200,
                    json!({"id": p.id, "key": p.key, "name": p.key, "style": p.style,
                           "simplified": p.style == "next-gen", "projectTypeKey": "software", "issueTypes": types}),
                )
            }
        }
    }

    /// `GET /mypermissions`: whether the caller has each permission asked
    /// about; an unknown key is refused.
    fn my_permissions(req: &Req, caller: Caller<'_>) -> Resp {
        let mut perms = serde_json::Map::new();
        for key in req.query("permissions").unwrap_or_default().split(',').filter(|k| !k.is_empty()) {
            let (have, kind, name) = match key {
                "ADMINISTER" => (caller.administer(), "GLOBAL", "Administer Jira"),
                "ADMINISTER_PROJECTS" => (caller.project_admin(), "PROJECT", "Administer Projects"),
                "BROWSE_PROJECTS" | "CREATE_ISSUES" | "EDIT_ISSUES" | "TRANSITION_ISSUES" => (true, "PROJECT", key),
                _ => return error(400, &format!("Unknown permission key: {key}")),
            };
            perms.insert(
                key.to_owned(),
                json!({"key": key, "name": name, "type": kind, "havePermission": have, "description": name}),
            );
        }
        Resp::json(200, json!({"permissions": perms}))
    }

    /// `GET /group/bulk`: the groups, or those named.
    fn groups_get(&self, req: &Req) -> Resp {
        let names: Vec<&str> = req.queries("groupName");
        let values: Vec<Value> = self
            .groups
            .iter()
            .filter(|(_, n)| names.is_empty() || names.contains(&n.as_str()))
            .map(|(id, n)| json!({"groupId": id, "name": n}))
            .collect();
        Resp::json(200, page(values))
    }

    /// `POST /group`: a new group (site administrators only).
    fn group_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.site_admin() {
            return forbidden("create groups (site administration is needed)");
        }
        let Some(name) = body(req)["name"].as_str().map(str::to_owned) else {
            return error(400, "A group name is required.");
        };
        if self.has_group(&name) {
            return error(400, "A group with this name already exists.");
        }
        self.add_group(&name);
        let id = group_id(&name);
        Resp::json(
            201,
            json!({"groupId": id, "name": name, "expand": "users",
            "users": {"size": 0, "items": [], "max-results": 50, "start-index": 0, "end-index": 0}}),
        )
    }

    /// `POST /field`: a new custom field of a supported type.
    fn field_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create custom fields (Administer Jira is needed)");
        }
        let b = body(req);
        let (Some(name), Some(kind)) = (b["name"].as_str(), b["type"].as_str().and_then(FieldKind::of_type_key)) else {
            return error(400, "A name and a supported custom field type are required.");
        };
        let id = format!("customfield_{}", self.id());
        let f = Field { id, name: name.to_owned(), kind, contexts: Vec::new() };
        let answer = self.field_json(&f);
        self.fields.push(f);
        Resp::json(201, answer)
    }

    /// `GET /field/{id}/context`: the contexts of a custom field.
    fn field_contexts(&self, id: &str) -> Resp {
        match self.fields.iter().find(|f| f.id == *id) {
            None => error(404, "The custom field was not found."),
            Some(f) => Resp::json(
                200,
                page(
                    f.contexts
                        .iter()
                        .map(|c| {
                            json!({"id": c.id, "name": c.name, "description": "",
                            "isGlobalContext": c.project_ids.is_empty(), "isAnyIssueType": c.issue_type_ids.is_empty()})
                        })
                        .collect(),
                ),
            ),
        }
    }

    /// `POST /field/{id}/context`: a new context of a custom field.
    fn field_context_create(&mut self, id: &str, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create field contexts (Administer Jira is needed)");
        }
        let b = body(req);
        let ctx_id = self.id().to_string();
        let Some(f) = self.fields.iter_mut().find(|f| f.id == *id) else {
            return error(404, "The custom field was not found.");
        };
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        let c = Context {
            id: ctx_id,
            name: b["name"].as_str().unwrap_or("context").to_owned(),
            project_ids: strings(&b["projectIds"]),
            issue_type_ids: strings(&b["issueTypeIds"]),
            options: Vec::new(),
        };
        let answer = json!({"id": c.id, "name": c.name, "description": "", "projectIds": c.project_ids, "issueTypeIds": c.issue_type_ids});
        f.contexts.push(c);
        Resp::json(201, answer)
    }

    /// `GET /field/{id}/context/{ctx}/option`: the options of a context.
    fn field_options_get(&self, id: &str, ctx: &str) -> Resp {
        match self.fields.iter().find(|f| f.id == *id).and_then(|f| f.contexts.iter().find(|c| c.id == *ctx)) {
            None => error(404, "The custom field or context was not found."),
            Some(c) => Resp::json(
                200,
                page(c.options.iter().map(|(id, v)| json!({"id": id, "value": v, "disabled": false})).collect()),
            ),
        }
    }

    /// `POST /field/{id}/context/{ctx}/option`: new options of a context;
    /// an option that exists is refused.
    fn field_options_create(&mut self, id: &str, ctx: &str, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create field options (Administer Jira is needed)");
        }
        let b = body(req);
        let mut next = self.next;
        let Some(c) =
            self.fields.iter_mut().find(|f| f.id == *id).and_then(|f| f.contexts.iter_mut().find(|c| c.id == *ctx))
        else {
            return error(404, "The custom field or context was not found.");
        };
        let mut created = Vec::new();
        for o in b["options"].as_array().into_iter().flatten() {
            let Some(v) = o["value"].as_str() else { continue };
            if c.options.iter().any(|(_, x)| x == v) {
                return error(400, &format!("The option '{v}' already exists."));
            }
            next += 1;
            c.options.push((next.to_string(), v.to_owned()));
            created.push(json!({"id": next.to_string(), "value": v, "disabled": false}));
        }
        self.next = next;
        Resp::json(200, json!({"options": created}))
    }

    /// `GET /issuetype`: every issue type.
    fn issue_types_get(&self) -> Resp {
        Resp::json(
            200,
            Value::Array(
                self.issue_types
                    .iter()
                    .map(|(id, n)| json!({"id": id, "name": n, "description": "", "subtask": false, "hierarchyLevel": 0}))
                    .collect(),
            ),
        )
    }

    /// `POST /issuetype`: a new issue type, added to the default scheme as
    /// Jira does.
    fn issue_type_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create issue types (Administer Jira is needed)");
        }
        let Some(name) = body(req)["name"].as_str().map(str::to_owned) else {
            return error(400, "An issue type name is required.");
        };
        if self.issue_types.iter().any(|(_, n)| n.eq_ignore_ascii_case(&name)) {
            return error(409, "An issue type with this name already exists.");
        }
        let id = self.id().to_string();
        self.issue_types.push((id.clone(), name.clone()));
        // Jira adds every new issue type to the default scheme.
        for s in self.issue_type_schemes.iter_mut().filter(|s| s.default) {
            s.issue_types.push(id.clone());
        }
        Resp::json(201, json!({"id": id, "name": name, "description": "", "subtask": false, "hierarchyLevel": 0}))
    }

    /// `GET /issuetypescheme/project`: the issue type scheme of a project.
    fn issue_type_scheme_of_project(&self, req: &Req) -> Resp {
        let pid = req.query("projectId").unwrap_or_default();
        let values: Vec<Value> = self
            .projects
            .iter()
            .filter(|p| p.id == pid)
            .filter_map(|p| {
                let s = self.issue_type_schemes.iter().find(|s| s.id == p.issue_type_scheme)?;
                Some(json!({"issueTypeScheme": {"id": s.id, "name": s.name, "isDefault": s.default, "description": ""},
                            "projectIds": [p.id]}))
            })
            .collect();
        Resp::json(200, page(values))
    }

    /// `GET /issuetypescheme/mapping`: the issue types of each scheme asked
    /// about.
    fn issue_type_scheme_mappings(&self, req: &Req) -> Resp {
        let ids = req.queries("issueTypeSchemeId");
        let values: Vec<Value> = self
            .issue_type_schemes
            .iter()
            .filter(|s| ids.is_empty() || ids.contains(&s.id.as_str()))
            .flat_map(|s| s.issue_types.iter().map(move |t| json!({"issueTypeSchemeId": s.id, "issueTypeId": t})))
            .collect();
        Resp::json(200, page(values))
    }

    /// `PUT /issuetypescheme/{id}/issuetype`: known issue types added to a
    /// scheme.
    fn issue_type_scheme_add(&mut self, id: &str, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("change issue type schemes (Administer Jira is needed)");
        }
        let b = body(req);
        let known: Vec<String> = self.issue_types.iter().map(|(id, _)| id.clone()).collect();
        let Some(s) = self.issue_type_schemes.iter_mut().find(|s| s.id == *id) else {
            return error(404, "The issue type scheme was not found.");
        };
        for t in b["issueTypeIds"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !known.iter().any(|k| k == t) {
                return error(404, &format!("The issue type {t} was not found."));
            }
            if !s.issue_types.iter().any(|x| x == t) {
                s.issue_types.push(t.to_owned());
            }
        }
        Resp::empty(204)
    }

    /// `GET /statuses/search`: the statuses whose name contains the search.
    fn statuses_search(&self, req: &Req) -> Resp {
        let q = req.query("searchString").unwrap_or_default().to_lowercase();
        let values: Vec<Value> = self
            .statuses
            .iter()
            .filter(|s| s.name.to_lowercase().contains(&q))
            .map(|s| json!({"id": s.id, "name": s.name, "description": "", "statusCategory": s.category, "scope": {"type": "GLOBAL"}}))
            .collect();
        Resp::json(200, page(values))
    }

    /// `GET /workflows/search`: the workflows whose name contains the query,
    /// with every status.
    fn workflows_search(&self, req: &Req) -> Resp {
        let q = req.query("queryString").unwrap_or_default().to_lowercase();
        let values: Vec<Value> = self
            .workflows
            .iter()
            .filter(|w| w.name.to_lowercase().contains(&q))
            .map(|w| self.workflow_json(w))
            .collect();
        let statuses: Vec<Value> = self
            .statuses
            .iter()
            .map(|s| json!({"id": s.id, "name": s.name, "description": "", "statusCategory": s.category, "statusReference": s.id, "scope": {"type": "GLOBAL"}}))
            .collect();
        let n = values.len();
        Resp::json(
            200,
            json!({"isLast": true, "maxResults": 50, "startAt": 0, "total": n, "values": values, "statuses": statuses}),
        )
    }

    /// `POST /workflows/create/validation`: what is wrong with workflows to
    /// create.
    fn workflows_validate(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create workflows (Administer Jira is needed)");
        }
        let errors = self.validate_workflows(&body(req)["payload"]);
        Resp::json(200, json!({"errors": errors}))
    }

    /// `POST /workflows/create`: valid workflows created; invalid ones refused
    /// with their errors.
    fn workflows_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create workflows (Administer Jira is needed)");
        }
        let b = body(req);
        let errors = self.validate_workflows(&b);
        if !errors.is_empty() {
            return Resp::json(
                400,
                json!({"errorMessages": errors.iter().filter_map(|e| e["message"].as_str()).collect::<Vec<_>>(), "errors": {}}),
            );
        }
        Resp::json(200, self.create_workflows(&b))
    }

    /// `GET /workflowscheme`: every workflow scheme (administrators only).
    fn workflow_schemes_get(&self, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("browse workflow schemes (Administer Jira is needed)");
        }
        Resp::json(200, page(self.workflow_schemes.iter().map(|s| self.scheme_json(s)).collect()))
    }

    /// `GET /issuetypescreenscheme`: the issue type screen schemes whose name
    /// contains the query.
    fn issue_type_screen_schemes_get(&self, req: &Req) -> Resp {
        named_page(req, self.itss.iter().map(|s| (&s.id, s.name.as_str())))
    }

    /// `GET /workflowscheme/project`: the workflow scheme of a project.
    fn workflow_scheme_of_project(&self, req: &Req) -> Resp {
        let pid = req.query("projectId").unwrap_or_default();
        let values: Vec<Value> = self
            .projects
            .iter()
            .filter(|p| p.id == pid)
            .filter_map(|p| {
                let s = self.workflow_schemes.iter().find(|s| s.id == p.workflow_scheme.unwrap_or(10000))?;
                Some(json!({"projectIds": [p.id], "workflowScheme": self.scheme_json(s)}))
            })
            .collect();
        Resp::json(200, json!({"values": values}))
    }

    /// `POST /workflowscheme`: a new workflow scheme whose mappings name
    /// existing workflows.
    fn workflow_scheme_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create workflow schemes (Administer Jira is needed)");
        }
        let b = body(req);
        let Some(name) = b["name"].as_str() else { return error(400, "A name is required.") };
        if self.workflow_schemes.iter().any(|s| s.name == name) {
            return error(400, "A workflow scheme with this name already exists.");
        }
        let mappings: BTreeMap<String, String> = b["issueTypeMappings"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect();
        for w in mappings.values() {
            if !self.workflows.iter().any(|x| &x.name == w) {
                return error(400, &format!("The workflow '{w}' does not exist."));
            }
        }
        let s = WorkflowScheme {
            id: self.id(),
            name: name.to_owned(),
            default_workflow: b["defaultWorkflow"].as_str().unwrap_or("jira").to_owned(),
            mappings,
        };
        let answer = self.scheme_json(&s);
        self.workflow_schemes.push(s);
        Resp::json(201, answer)
    }

    /// `PUT /workflowscheme/project`: a workflow scheme assigned to a project
    /// without issues (one with issues needs the asynchronous switch).
    fn workflow_scheme_assign(&mut self, req: &Req, caller: Caller<'_>, issues_in: &dyn Fn(&str) -> usize) -> Resp {
        if !caller.administer() {
            return forbidden("assign workflow schemes (Administer Jira is needed)");
        }
        let b = body(req);
        let pid = b["projectId"].as_str().unwrap_or_default().to_owned();
        let sid: Option<u64> = b["workflowSchemeId"].as_str().and_then(|s| s.parse().ok());
        let Some(key) = self.project(&pid).map(|p| p.key.clone()) else {
            return error(404, "The project was not found.");
        };
        if issues_in(&key) > 0 {
            return error(
                400,
                "The workflow scheme cannot be assigned: the project has issues. Use the asynchronous switch with status mappings.",
            );
        }
        if sid.is_some_and(|id| !self.workflow_schemes.iter().any(|s| s.id == id)) {
            return error(404, "The workflow scheme was not found.");
        }
        if let Some(p) = self.projects.iter_mut().find(|p| p.id == pid) {
            p.workflow_scheme = sid;
        }
        Resp::empty(204)
    }

    /// `GET /screens`: the screens whose name contains the query.
    fn screens_get(&self, req: &Req) -> Resp {
        named_page(req, self.screens.iter().map(|s| (s.id, s.name.as_str())))
    }

    /// `POST /screens`: a new screen with a name of its own.
    fn screen_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create screens (Administer Jira is needed)");
        }
        let Some(name) = body(req)["name"].as_str().map(str::to_owned) else {
            return error(400, "A screen name is required.");
        };
        if self.screens.iter().any(|s| s.name == name) {
            return error(400, "A screen with this name already exists.");
        }
        let id = self.id();
        self.screens.push(Screen { id, name: name.clone(), tabs: Vec::new() });
        Resp::json(201, json!({"id": id, "name": name, "description": ""}))
    }

    /// `GET /screens/{id}/tabs`: the tabs of a screen.
    fn screen_tabs(&self, id: &str) -> Resp {
        match self.screens.iter().find(|s| s.id.to_string() == *id) {
            None => error(404, "The screen was not found."),
            Some(s) => {
                Resp::json(200, Value::Array(s.tabs.iter().map(|t| json!({"id": t.id, "name": t.name})).collect()))
            }
        }
    }

    /// `POST /screens/{id}/tabs`: a new tab of a screen.
    fn screen_tab_create(&mut self, id: &str, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("change screens (Administer Jira is needed)");
        }
        let name = body(req)["name"].as_str().unwrap_or("Tab").to_owned();
        let tab = self.id();
        let Some(s) = self.screens.iter_mut().find(|s| s.id.to_string() == *id) else {
            return error(404, "The screen was not found.");
        };
        s.tabs.push(Tab { id: tab, name: name.clone(), fields: Vec::new() });
        Resp::json(200, json!({"id": tab, "name": name}))
    }

    /// `GET /screens/{id}/tabs/{tab}/fields`: the fields on a tab.
    fn screen_tab_fields(&self, id: &str, tab: &str) -> Resp {
        match self
            .screens
            .iter()
            .find(|s| s.id.to_string() == *id)
            .and_then(|s| s.tabs.iter().find(|t| t.id.to_string() == *tab))
        {
            None => error(404, "The screen or tab was not found."),
            Some(t) => Resp::json(
                200,
                Value::Array(
                    t.fields.iter().map(|f| json!({"id": f, "name": self.field_name(f).unwrap_or_default()})).collect(),
                ),
            ),
        }
    }

    /// `POST /screens/{id}/tabs/{tab}/fields`: an existing field added to a
    /// tab, once.
    fn screen_tab_field_add(&mut self, id: &str, tab: &str, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("change screens (Administer Jira is needed)");
        }
        let Some(field) = body(req)["fieldId"].as_str().map(str::to_owned) else {
            return error(400, "A field id is required.");
        };
        let Some(name) = self.field_name(&field) else {
            return error(400, &format!("The field {field} does not exist."));
        };
        let Some(t) = self
            .screens
            .iter_mut()
            .find(|s| s.id.to_string() == *id)
            .and_then(|s| s.tabs.iter_mut().find(|t| t.id.to_string() == *tab))
        else {
            return error(404, "The screen or tab was not found.");
        };
        if t.fields.contains(&field) {
            return error(400, "The field is already on the screen.");
        }
        t.fields.push(field.clone());
        Resp::json(200, json!({"id": field, "name": name}))
    }

    /// `GET /screenscheme`: the screen schemes whose name contains the query.
    fn screen_schemes_get(&self, req: &Req) -> Resp {
        // The description marks `screens` write-only, so answers that
        // follow it leave it out.
        named_page(req, self.screen_schemes.iter().map(|s| (s.id, s.name.as_str())))
    }

    /// `POST /screenscheme`: a new screen scheme with an existing default
    /// screen.
    fn screen_scheme_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create screen schemes (Administer Jira is needed)");
        }
        let b = body(req);
        let (Some(name), Some(screen)) = (b["name"].as_str(), b["screens"]["default"].as_u64()) else {
            return error(400, "A name and a default screen are required.");
        };
        if !self.screens.iter().any(|s| s.id == screen) {
            return error(400, "The screen does not exist.");
        }
        let id = self.id();
        self.screen_schemes.push(ScreenScheme { id, name: name.to_owned(), default_screen: screen });
        Resp::json(201, json!({"id": id}))
    }

    /// `GET /issuetypescreenscheme/project`: the issue type screen scheme of
    /// a project.
    fn issue_type_screen_scheme_of_project(&self, req: &Req) -> Resp {
        let pid = req.query("projectId").unwrap_or_default();
        let values: Vec<Value> = self
            .projects
            .iter()
            .filter(|p| p.id == pid)
            .filter_map(|p| {
                let s = self.itss.iter().find(|s| s.id == p.screen_scheme)?;
                Some(json!({"issueTypeScreenScheme": {"id": s.id, "name": s.name, "description": ""}, "projectIds": [p.id]}))
            })
            .collect();
        Resp::json(200, page(values))
    }

    /// `GET /issuetypescreenscheme/mapping`: the mappings of each scheme asked
    /// about.
    fn issue_type_screen_scheme_mappings(&self, req: &Req) -> Resp {
        let ids = req.queries("issueTypeScreenSchemeId");
        let values: Vec<Value> = self
            .itss
            .iter()
            .filter(|s| ids.is_empty() || ids.contains(&s.id.as_str()))
            .flat_map(|s| {
                s.mappings.iter().map(
                    move |(t, ss)| json!({"issueTypeScreenSchemeId": s.id, "issueTypeId": t, "screenSchemeId": ss}),
                )
            })
            .collect();
        Resp::json(200, page(values))
    }

    /// `POST /issuetypescreenscheme`: a new issue type screen scheme with a
    /// default mapping.
    fn issue_type_screen_scheme_create(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("create issue type screen schemes (Administer Jira is needed)");
        }
        let b = body(req);
        let Some(name) = b["name"].as_str().map(str::to_owned) else {
            return error(400, "A name is required.");
        };
        let mappings = match self.screen_mappings(&b) {
            Ok(m) => m,
            Err(r) => return r,
        };
        if !mappings.iter().any(|(t, _)| t == "default") {
            return error(400, "A default mapping is required.");
        }
        let id = self.id().to_string();
        self.itss.push(IssueTypeScreenScheme { id: id.clone(), name, mappings });
        Resp::json(201, json!({"id": id}))
    }

    /// `PUT /issuetypescreenscheme/{id}/mapping`: mappings added for issue
    /// types not yet mapped.
    fn issue_type_screen_scheme_map(&mut self, id: &str, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.administer() {
            return forbidden("change issue type screen schemes (Administer Jira is needed)");
        }
        let mappings = match self.screen_mappings(&body(req)) {
            Ok(m) => m,
            Err(r) => return r,
        };
        let Some(s) = self.itss.iter_mut().find(|s| s.id == *id) else {
            return error(404, "The issue type screen scheme was not found.");
        };
        for (t, ss) in mappings {
            if s.mappings.iter().any(|(x, _)| *x == t) {
                return error(400, &format!("The issue type {t} is already mapped."));
            }
            s.mappings.push((t, ss));
        }
        Resp::empty(204)
    }

    /// `PUT /issuetypescreenscheme/project`: an issue type screen scheme
    /// assigned to a project (project administrators).
    fn issue_type_screen_scheme_assign(&mut self, req: &Req, caller: Caller<'_>) -> Resp {
        if !caller.project_admin() {
            return forbidden("assign issue type screen schemes (Administer Jira is needed)");
        }
        let b = body(req);
        let (Some(sid), Some(pid)) = (b["issueTypeScreenSchemeId"].as_str(), b["projectId"].as_str()) else {
            return error(400, "issueTypeScreenSchemeId and projectId are required.");
        };
        if !self.itss.iter().any(|s| s.id == sid) {
            return error(404, "The issue type screen scheme was not found.");
        }
        let Some(p) = self.projects.iter_mut().find(|p| p.id == pid) else {
            return error(404, "The project was not found.");
        };
        p.screen_scheme = sid.to_owned();
        Resp::empty(204)
    }

    fn screen_mappings(&self, b: &Value) -> Result<Vec<(String, String)>, Resp> {
        let mut out = Vec::new();
        for m in b["issueTypeMappings"].as_array().into_iter().flatten() {
            let (Some(t), Some(ss)) = (m["issueTypeId"].as_str(), m["screenSchemeId"].as_str()) else {
                return Err(error(400, "Each mapping needs issueTypeId and screenSchemeId."));
            };
            if !self.screen_schemes.iter().any(|s| s.id.to_string() == ss) {
                return Err(error(404, &format!("The screen scheme {ss} was not found.")));
            }
            out.push((t.to_owned(), ss.to_owned()));
        }
        Ok(out)
    }

    fn scheme_json(&self, s: &WorkflowScheme) -> Value {
        json!({"id": s.id, "name": s.name, "description": "", "defaultWorkflow": s.default_workflow,
               "issueTypeMappings": s.mappings, "draft": false})
    }

    fn workflow_json(&self, w: &Workflow) -> Value {
        let transitions: Vec<Value> = w
            .transitions
            .iter()
            .map(|t| {
                let mut conditions = Vec::new();
                if !t.group_ids.is_empty() || !t.account_ids.is_empty() {
                    let mut p = serde_json::Map::new();
                    if !t.group_ids.is_empty() {
                        p.insert("groupIds".into(), json!(t.group_ids.join(",")));
                    }
                    if !t.account_ids.is_empty() {
                        p.insert("accountIds".into(), json!(t.account_ids.join(",")));
                    }
                    conditions.push(json!({"ruleKey": "system:restrict-issue-transition", "parameters": p}));
                }
                json!({"id": t.id, "name": t.name, "type": t.kind, "description": "", "toStatusReference": t.to,
                       "links": t.from.iter().map(|f| json!({"fromStatusReference": f})).collect::<Vec<_>>(),
                       "conditions": {"operation": "ALL", "conditions": conditions, "conditionGroups": []},
                       "actions": [], "validators": [], "triggers": [], "properties": {}})
            })
            .collect();
        json!({"id": w.id, "name": w.name, "description": "", "isEditable": true, "scope": {"type": "GLOBAL"},
               "version": {"id": format!("{}-v", w.id), "versionNumber": w.version},
               "statuses": w.statuses.iter().map(|s| json!({"statusReference": s, "deprecated": false, "properties": {}})).collect::<Vec<_>>(),
               "transitions": transitions})
    }

    /// Errors of a `/workflows/create` payload, as the validation answer
    /// lists them.
    fn validate_workflows(&self, payload: &Value) -> Vec<Value> {
        let mut errors = Vec::new();
        let mut err = |code: &str, message: String| {
            errors.push(
                json!({"code": code, "level": "ERROR", "message": message, "type": "WORKFLOW", "elementReference": {}}),
            );
        };
        let refs: Vec<&str> = payload["statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["statusReference"].as_str())
            .collect();
        for s in payload["statuses"].as_array().into_iter().flatten() {
            let name = s["name"].as_str().unwrap_or_default();
            match s["id"].as_str() {
                Some(id) if self.status(id).is_none() => {
                    err("STATUS_NOT_FOUND", format!("The status {id} does not exist."));
                }
                None if self.status_by_name(name).is_some() => {
                    err("NON_UNIQUE_STATUS_NAME", format!("You must use a unique status name: {name}."));
                }
                _ => {}
            }
        }
        for w in payload["workflows"].as_array().into_iter().flatten() {
            let name = w["name"].as_str().unwrap_or_default();
            if self.workflows.iter().any(|x| x.name == name) {
                err("NON_UNIQUE_WORKFLOW_NAME", format!("A workflow named {name} already exists."));
            }
            let transitions = w["transitions"].as_array().cloned().unwrap_or_default();
            if transitions.iter().filter(|t| t["type"] == "INITIAL").count() != 1 {
                err("INITIAL_TRANSITION", format!("The workflow {name} needs exactly one initial transition."));
            }
            for t in &transitions {
                let to = t["toStatusReference"].as_str().unwrap_or_default();
                let from =
                    t["links"].as_array().into_iter().flatten().filter_map(|l| l["fromStatusReference"].as_str());
                for r in std::iter::once(to).chain(from) {
                    if !refs.contains(&r) {
                        err("STATUS_REFERENCE", format!("The transition {} refers to an unknown status.", t["name"]));
                    }
                }
                for c in t["conditions"]["conditions"].as_array().into_iter().flatten() {
                    for g in
                        c["parameters"]["groupIds"].as_str().unwrap_or_default().split(',').filter(|g| !g.is_empty())
                    {
                        if !self.groups.iter().any(|(id, _)| id == g) {
                            err("GROUP_NOT_FOUND", format!("The group {g} does not exist."));
                        }
                    }
                }
            }
        }
        errors
    }

    fn create_workflows(&mut self, b: &Value) -> Value {
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        let mut created_statuses = Vec::new();
        for s in b["statuses"].as_array().into_iter().flatten() {
            let reference = s["statusReference"].as_str().unwrap_or_default().to_owned();
            let id = match s["id"].as_str() {
                Some(id) => id.to_owned(),
                None => {
                    let id = self.id().to_string();
                    let category = match s["statusCategory"].as_str() {
                        Some("DONE") => "DONE",
                        Some("IN_PROGRESS") => "IN_PROGRESS",
                        _ => "TODO",
                    };
                    let name = s["name"].as_str().unwrap_or_default().to_owned();
                    self.statuses.push(Status { id: id.clone(), name, category });
                    id
                }
            };
            if let Some(st) = self.status(&id) {
                created_statuses
                    .push(json!({"id": st.id, "name": st.name, "description": "", "statusCategory": st.category,
                                             "statusReference": st.id, "scope": {"type": "GLOBAL"}}));
            }
            refs.insert(reference, id);
        }
        let mut created = Vec::new();
        for w in b["workflows"].as_array().into_iter().flatten() {
            let r = |v: &Value| refs.get(v.as_str().unwrap_or_default()).cloned().unwrap_or_default();
            let transitions = w["transitions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let (mut groups, mut accounts) = (Vec::new(), Vec::new());
                    for c in t["conditions"]["conditions"].as_array().into_iter().flatten() {
                        if c["ruleKey"] == "system:restrict-issue-transition" {
                            let split = |k: &str| -> Vec<String> {
                                c["parameters"][k]
                                    .as_str()
                                    .unwrap_or_default()
                                    .split(',')
                                    .filter(|s| !s.is_empty())
                                    .map(str::to_owned)
                                    .collect()
                            };
                            groups.extend(split("groupIds"));
                            accounts.extend(split("accountIds"));
                        }
                    }
                    Transition {
                        id: t["id"].as_str().unwrap_or_default().to_owned(),
                        name: t["name"].as_str().unwrap_or_default().to_owned(),
                        kind: t["type"].as_str().unwrap_or("DIRECTED").to_owned(),
                        from: t["links"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|l| r(&l["fromStatusReference"]))
                            .collect(),
                        to: r(&t["toStatusReference"]),
                        group_ids: groups,
                        account_ids: accounts,
                    }
                })
                .collect();
            let n = self.id();
            let wf = Workflow {
                id: format!("{n:08x}-0000-4000-8000-{n:012x}"),
                name: w["name"].as_str().unwrap_or_default().to_owned(),
                statuses: w["statuses"].as_array().into_iter().flatten().map(|s| r(&s["statusReference"])).collect(),
                transitions,
                version: 1,
            };
            created.push(self.workflow_json(&wf));
            self.workflows.push(wf);
        }
        json!({"statuses": created_statuses, "workflows": created})
    }
}

/// A request's JSON body, or null when it has none or it does not parse.
fn body(req: &Req) -> Value {
    serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null)
}
