//! `changegate setup jira`: what a change project needs on a Jira Cloud
//! site ([`Needs`], from the configuration), what the site has
//! ([`Snapshot`], read by [`read::read`]), and the pure comparison of the two
//! ([`plan`]): the plan to print and the operations ([`Op`]) that `--apply`
//! performs ([`apply::apply`]). The reader and the applier use what this
//! file declares; this file uses neither. The objects, in the order they are
//! made:
//!
//! 1. the groups: approvers and break-glass (creating groups needs site
//!    administration);
//! 2. the change issue type, in the project's issue type scheme;
//! 3. the custom fields, reused by name when the site has them with the
//!    right type, each select field with its options in a context;
//! 4. the change workflow: its statuses (existing ones reused by name) and
//!    transitions, Approve and Decline restricted to the approvers group and
//!    the bot's accounts, Emergency approve to the break-glass group, so the
//!    CI user is offered none of them; an existing workflow is checked, and
//!    any transition into the approved status open to others is reported;
//! 5. a workflow scheme mapping the change issue type to that workflow,
//!    assigned to the project (directly only while the project has no
//!    issues: one with issues needs Jira's asynchronous switch with status
//!    mappings, which is left to an administrator with the exact steps);
//! 6. a screen with every field (so every field can be filled while a deploy
//!    waits), its screen scheme, and the project's issue type screen scheme
//!    mapping the change issue type to it.
//!
//! Team-managed projects keep their configuration inside the project, out of
//! reach of these operations: they are refused with what to do instead.
//! Everything here needs *Administer Jira* except the groups. The plan is
//! computed by comparing the snapshot with the needs, never by asking
//! `/workflows/create/validation` (which only validates a payload; `apply`
//! calls it before creating). See `docs/setup.md`.

pub(crate) mod apply;
pub(crate) mod read;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Action, Plan, Step};
use crate::config::Config;
use crate::config::jira::{FieldType, TicketField};

/// The transition a break-glass approver runs.
pub(crate) const EMERGENCY_APPROVE: &str = "Emergency approve";

/// Who may run a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    /// Anyone who may transition issues (the CI user included).
    Anyone,
    /// The approvers group and the bot's accounts.
    Approvers,
    /// The break-glass group.
    BreakGlass,
}

/// A status the change workflow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusNeed {
    /// Name on the site.
    pub(crate) name: String,
    /// `TODO`, `IN_PROGRESS` or `DONE`.
    pub(crate) category: &'static str,
}

/// A transition the change workflow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransitionNeed {
    /// Name on the site.
    pub(crate) name: String,
    /// Status names it starts from.
    pub(crate) from: Vec<String>,
    /// Status name it leads to.
    pub(crate) to: String,
    /// Who may run it.
    pub(crate) who: Who,
}

/// A custom field a ticket needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldNeed {
    /// The ticket field.
    pub(crate) field: TicketField,
    /// Its name on the site.
    pub(crate) name: String,
    /// Its type.
    pub(crate) kind: FieldType,
    /// The values of a select field.
    pub(crate) options: Vec<String>,
    /// The site field id the configuration already maps it to.
    pub(crate) mapped: Option<String>,
}

/// What a change project needs on the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Needs {
    /// Project key.
    pub(crate) project: String,
    /// The change issue type's name.
    pub(crate) issue_type: String,
    /// The approvers group.
    pub(crate) approvers_group: String,
    /// The break-glass group, when emergencies are on.
    pub(crate) break_glass_group: Option<String>,
    /// The bot's account ids (may run Approve and Decline).
    pub(crate) bot_accounts: Vec<String>,
    /// Statuses of the change workflow, the initial one first.
    pub(crate) statuses: Vec<StatusNeed>,
    /// Its transitions.
    pub(crate) transitions: Vec<TransitionNeed>,
    /// Custom fields.
    pub(crate) fields: Vec<FieldNeed>,
    /// The approved status (no transition into it may be open to others).
    pub(crate) approved: String,
    /// The name of the change workflow.
    pub(crate) workflow: String,
    /// The name of the workflow scheme, screen and schemes made for the
    /// project.
    pub(crate) scheme: String,
    /// Jira accountId -> GitHub id, from `[jira.approvers]`.
    pub(crate) approver_ids: BTreeMap<String, u64>,
}

/// The suggested type of each ticket field.
fn field_kind(f: TicketField) -> FieldType {
    match f {
        TicketField::Justification
        | TicketField::RollbackPlan
        | TicketField::PullRequests
        | TicketField::Summary
        | TicketField::Description => FieldType::Textarea,
        TicketField::DeployAction | TicketField::ChangeType | TicketField::RiskLevel => FieldType::Select,
        TicketField::BuildJobNumber | TicketField::PipelineNumber => FieldType::Number,
        TicketField::BuildUrl => FieldType::Url,
        _ => FieldType::Text,
    }
}

/// The values of each select field.
fn field_options(f: TicketField) -> &'static [&'static str] {
    match f {
        TicketField::DeployAction => &["plan", "apply"],
        TicketField::ChangeType => &["standard", "normal", "emergency"],
        TicketField::RiskLevel => &["low", "medium", "high"],
        _ => &[],
    }
}

impl Needs {
    /// What `config` needs, with `approvers_group` as the approvers group.
    pub(crate) fn from_config(config: &Config, approvers_group: &str) -> Needs {
        let jc = &config.jira;
        let s = &jc.statuses;
        let t = &jc.transitions;
        let status = |name: &str, category| StatusNeed { name: name.to_owned(), category };
        let names = |list: &[&String]| list.iter().map(|x| (*x).clone()).collect::<Vec<_>>();
        let open = [&s.open, &s.waiting_for_input, &s.manual_review];
        let live = [&s.open, &s.waiting_for_input, &s.manual_review, &s.approved];
        let tr = |name: &str, from: Vec<String>, to: &str, who| TransitionNeed {
            name: name.to_owned(),
            from,
            to: to.to_owned(),
            who,
        };
        let mut transitions = vec![
            tr(&t.waiting_for_input, names(&[&s.open, &s.manual_review]), &s.waiting_for_input, Who::Anyone),
            tr(&t.manual_review, names(&[&s.open, &s.waiting_for_input]), &s.manual_review, Who::Anyone),
            tr(&t.send_back, names(&[&s.approved]), &s.manual_review, Who::Anyone),
            tr(&t.approve, names(&open), &s.approved, Who::Approvers),
            tr(&t.decline, names(&live), &s.declined, Who::Approvers),
            tr(&t.done, names(&[&s.approved]), &s.done, Who::Anyone),
            tr(&t.failed, names(&live), &s.failed, Who::Anyone),
            tr(&t.cancel, names(&live), &s.cancelled, Who::Anyone),
        ];
        if config.emergency.group.is_some() {
            transitions.insert(4, tr(EMERGENCY_APPROVE, names(&open), &s.approved, Who::BreakGlass));
        }
        let fields = TicketField::ALL
            .into_iter()
            .filter(|f| !matches!(f, TicketField::Summary | TicketField::Description))
            .map(|f| {
                let mapped = jc.fields.get(&f);
                FieldNeed {
                    field: f,
                    name: f.label().to_owned(),
                    kind: mapped.map_or_else(|| field_kind(f), |m| m.kind),
                    options: field_options(f).iter().map(|o| (*o).to_owned()).collect(),
                    mapped: mapped.map(|m| m.id.clone()),
                }
            })
            .collect();
        Needs {
            project: jc.project.clone(),
            issue_type: jc.issue_type.clone(),
            approvers_group: approvers_group.to_owned(),
            break_glass_group: config.emergency.group.clone(),
            bot_accounts: jc.bot_accounts.clone(),
            statuses: vec![
                status(&s.open, "TODO"),
                status(&s.waiting_for_input, "IN_PROGRESS"),
                status(&s.manual_review, "IN_PROGRESS"),
                status(&s.approved, "IN_PROGRESS"),
                status(&s.declined, "DONE"),
                status(&s.done, "DONE"),
                status(&s.failed, "DONE"),
                status(&s.cancelled, "DONE"),
            ],
            transitions,
            fields,
            approved: s.approved.clone(),
            workflow: "changegate change".to_owned(),
            scheme: format!("changegate {}", jc.project),
            approver_ids: jc.approvers.clone(),
        }
    }
}

/// The custom field type key Jira uses for a field type.
pub(crate) fn type_key(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text => "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        FieldType::Textarea => "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
        FieldType::Select => "com.atlassian.jira.plugin.system.customfieldtypes:select",
        FieldType::Number => "com.atlassian.jira.plugin.system.customfieldtypes:float",
        FieldType::Url => "com.atlassian.jira.plugin.system.customfieldtypes:url",
    }
}

/// The searcher key that makes a new field searchable.
fn searcher_key(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text | FieldType::Url => "com.atlassian.jira.plugin.system.customfieldtypes:textsearcher",
        FieldType::Textarea => "com.atlassian.jira.plugin.system.customfieldtypes:textsearcher",
        FieldType::Select => "com.atlassian.jira.plugin.system.customfieldtypes:multiselectsearcher",
        FieldType::Number => "com.atlassian.jira.plugin.system.customfieldtypes:exactnumber",
    }
}

/// What the token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Rights {
    /// *Administer Jira*: fields, issue types, workflows, schemes, screens.
    pub(crate) administer: bool,
    /// Site administration: groups.
    pub(crate) site_admin: bool,
}

/// A custom field of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteField {
    /// `customfield_...`.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Custom field type key, when custom.
    pub(crate) type_key: Option<String>,
    /// The first context's id, and its option values (select fields).
    pub(crate) context: Option<(String, Vec<String>)>,
}

/// A status of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteStatus {
    /// Id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// `TODO`, `IN_PROGRESS`, `DONE`.
    pub(crate) category: String,
}

/// A transition of an existing workflow (status ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteTransition {
    /// Name.
    pub(crate) name: String,
    /// `INITIAL`, `GLOBAL`, `DIRECTED`.
    pub(crate) kind: String,
    /// Status ids it starts from.
    pub(crate) from: Vec<String>,
    /// Status id it leads to.
    pub(crate) to: String,
    /// Groups allowed by a `system:restrict-issue-transition` condition.
    pub(crate) group_ids: Vec<String>,
    /// Accounts allowed by it.
    pub(crate) account_ids: Vec<String>,
    /// Whether some other condition the planner does not read applies.
    pub(crate) other_conditions: bool,
}

/// A workflow of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteWorkflow {
    /// Name.
    pub(crate) name: String,
    /// Status ids.
    pub(crate) statuses: Vec<String>,
    /// Transitions.
    pub(crate) transitions: Vec<SiteTransition>,
}

/// A workflow scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteWorkflowScheme {
    /// Id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Workflow of unmapped issue types.
    pub(crate) default_workflow: String,
    /// Issue type id -> workflow name.
    pub(crate) mappings: BTreeMap<String, String>,
}

/// A screen and its tabs' fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteScreen {
    /// Id.
    pub(crate) id: u64,
    /// First tab: id and its field ids.
    pub(crate) tab: Option<(u64, Vec<String>)>,
}

/// An issue type screen scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteItss {
    /// Id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Issue type id (or `default`) -> screen scheme id.
    pub(crate) mappings: Vec<(String, String)>,
}

/// The project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteProject {
    /// Id.
    pub(crate) id: String,
    /// Key.
    pub(crate) key: String,
    /// `classic` or `next-gen`.
    pub(crate) style: String,
    /// Issues in it.
    pub(crate) issues: u64,
}

/// What the site has, as far as this token can read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Snapshot {
    /// The site URL.
    pub(crate) site: String,
    /// The project, `None` when it does not exist (or cannot be seen).
    pub(crate) project: Option<SiteProject>,
    /// What the token may do.
    pub(crate) rights: Rights,
    /// Groups: name -> id.
    pub(crate) groups: BTreeMap<String, String>,
    /// Members of the needed groups: group name -> (account id, display name).
    pub(crate) members: BTreeMap<String, Vec<(String, String)>>,
    /// Custom fields.
    pub(crate) fields: Vec<SiteField>,
    /// Issue types: (id, name).
    pub(crate) issue_types: Vec<(String, String)>,
    /// The project's issue type scheme: id, whether it is the default one,
    /// and its issue type ids.
    pub(crate) issue_type_scheme: Option<(String, bool, Vec<String>)>,
    /// Statuses (only read with Administer Jira).
    pub(crate) statuses: Vec<SiteStatus>,
    /// The change workflow, when it exists.
    pub(crate) workflow: Option<SiteWorkflow>,
    /// The project's workflow scheme.
    pub(crate) workflow_scheme: Option<SiteWorkflowScheme>,
    /// The workflow scheme made for the project, when it exists.
    pub(crate) our_workflow_scheme: Option<SiteWorkflowScheme>,
    /// The screen made for the project.
    pub(crate) screen: Option<SiteScreen>,
    /// The screen scheme made for the project: id and its default screen.
    pub(crate) screen_scheme: Option<(String, u64)>,
    /// The project's issue type screen scheme.
    pub(crate) itss: Option<SiteItss>,
    /// The issue type screen scheme made for the project, when it exists.
    pub(crate) our_itss: Option<SiteItss>,
}

/// One operation `--apply` performs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// `POST /rest/api/3/group`.
    CreateGroup(String),
    /// `POST /rest/api/3/issuetype`.
    CreateIssueType(String),
    /// `PUT /rest/api/3/issuetypescheme/{id}/issuetype`.
    AddIssueTypeToScheme {
        /// Scheme id.
        scheme: String,
        /// Issue type id.
        issue_type: String,
    },
    /// `POST /rest/api/3/field`.
    CreateField {
        /// Name.
        name: String,
        /// Type.
        kind: FieldType,
    },
    /// `POST /rest/api/3/field/{id}/context`: a global context.
    CreateContext {
        /// Field id.
        field: String,
    },
    /// `POST /rest/api/3/field/{id}/context/{ctx}/option`.
    AddOptions {
        /// Field id.
        field: String,
        /// Context id.
        context: String,
        /// Values.
        values: Vec<String>,
    },
    /// `POST /rest/api/3/workflows/create` (after `/validation`).
    CreateWorkflow(Value),
    /// `POST /rest/api/3/workflowscheme`.
    CreateWorkflowScheme(Value),
    /// `PUT /rest/api/3/workflowscheme/project`.
    AssignWorkflowScheme {
        /// Project id.
        project: String,
        /// Scheme id.
        scheme: String,
    },
    /// `POST /rest/api/3/screens` then a tab.
    CreateScreen(String),
    /// `POST /rest/api/3/screens/{id}/tabs`.
    CreateTab(u64),
    /// `POST /rest/api/3/screens/{id}/tabs/{tab}/fields`.
    AddScreenField {
        /// Screen.
        screen: u64,
        /// Tab.
        tab: u64,
        /// Field id.
        field: String,
    },
    /// `POST /rest/api/3/screenscheme`.
    CreateScreenScheme {
        /// Name.
        name: String,
        /// Default screen.
        screen: u64,
    },
    /// `POST /rest/api/3/issuetypescreenscheme`.
    CreateItss(Value),
    /// `PUT /rest/api/3/issuetypescreenscheme/{id}/mapping`.
    AddItssMapping {
        /// Scheme id.
        itss: String,
        /// Issue type id.
        issue_type: String,
        /// Screen scheme id.
        screen_scheme: String,
    },
    /// `PUT /rest/api/3/issuetypescreenscheme/project`.
    AssignItss {
        /// Project id.
        project: String,
        /// Scheme id.
        itss: String,
    },
}

/// A plan and the operations ready to perform now (operations whose inputs
/// exist; the rest follow once earlier ones have made them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JiraPlan {
    /// What is printed.
    pub(crate) plan: Plan,
    /// What `--apply` performs next.
    pub(crate) ops: Vec<Op>,
    /// The ids found, for the configuration: ticket field -> (id, type).
    pub(crate) field_ids: BTreeMap<TicketField, (String, FieldType)>,
}

const ADMINISTER: &str = "Administer Jira";
const SITE_ADMIN: &str = "site administration (the site-admins group)";

fn blocked(permission: &str) -> Action {
    Action::Blocked { permission: permission.to_owned() }
}

/// Compares what the site has with what the change project needs.
pub(crate) fn plan(needs: &Needs, snap: &Snapshot) -> JiraPlan {
    let mut p = Planner {
        needs,
        snap,
        plan: Plan::new(format!("Jira project {} at {}", needs.project, snap.site)),
        ops: Vec::new(),
        field_ids: BTreeMap::new(),
    };
    p.run();
    JiraPlan { plan: p.plan, ops: p.ops, field_ids: p.field_ids }
}

struct Planner<'a> {
    needs: &'a Needs,
    snap: &'a Snapshot,
    plan: Plan,
    ops: Vec<Op>,
    field_ids: BTreeMap<TicketField, (String, FieldType)>,
}

impl Planner<'_> {
    fn step(&mut self, kind: &'static str, name: impl Into<String>, action: Action, detail: impl Into<String>) {
        self.plan.push(Step::new(kind, name, action, detail));
    }

    /// Create when the token may, blocked otherwise.
    fn create(&mut self, kind: &'static str, name: impl Into<String>, detail: impl Into<String>, op: Option<Op>) {
        if self.snap.rights.administer {
            self.step(kind, name, Action::Create, detail);
            self.ops.extend(op);
        } else {
            self.step(kind, name, blocked(ADMINISTER), detail);
        }
    }

    fn run(&mut self) {
        let Some(project) = self.snap.project.clone() else {
            self.step(
                "project",
                &self.needs.project,
                Action::Manual,
                "no such project, or this token cannot browse it: create a company-managed project with this key (Projects > Create project > company-managed), or set [jira] project",
            );
            return;
        };
        if project.style == "next-gen" {
            self.step(
                "project",
                &project.key,
                Action::Refused,
                "a team-managed project keeps its workflow, fields and screens inside the project, where these operations \
                 and group-restricted transitions do not reach: create a company-managed project for change tickets and \
                 name it in [jira] project",
            );
            return;
        }
        self.step("project", &project.key, Action::Present, format!("company-managed, {} issue(s)", project.issues));
        self.groups();
        let issue_type = self.issue_type();
        self.fields(issue_type.as_deref());
        if !self.snap.rights.administer {
            // Workflows, schemes and screens cannot even be read.
            for (kind, name) in [
                ("workflow", self.needs.workflow.clone()),
                ("scheme", format!("workflow scheme {}", self.needs.scheme)),
                ("screen", self.needs.scheme.clone()),
            ] {
                self.step(kind, name, blocked(ADMINISTER), "cannot be read or made without Administer Jira");
            }
            return;
        }
        self.workflow();
        self.workflow_scheme(&project, issue_type.as_deref());
        self.screens(&project, issue_type.as_deref());
        self.identities();
    }

    fn groups(&mut self) {
        let mut wanted = vec![(self.needs.approvers_group.clone(), "approvers: may Approve and Decline")];
        if let Some(g) = &self.needs.break_glass_group {
            wanted.push((g.clone(), "break-glass: may run Emergency approve"));
        }
        for (name, role) in wanted {
            if self.snap.groups.contains_key(&name) {
                let members = self.snap.members.get(&name).map_or(0, Vec::len);
                if members == 0 {
                    self.step(
                        "group",
                        &name,
                        Action::Manual,
                        format!("{role}; it has no members: add the people (admin.atlassian.com > Groups)"),
                    );
                } else {
                    self.step("group", &name, Action::Present, format!("{role}; {members} member(s)"));
                }
            } else if self.snap.rights.site_admin {
                self.step("group", &name, Action::Create, format!("{role}; then add its members"));
                self.ops.push(Op::CreateGroup(name));
            } else {
                self.step("group", &name, blocked(SITE_ADMIN), role);
            }
        }
        if self.needs.bot_accounts.is_empty() {
            self.step(
                "bot",
                "[jira] bot_account_ids",
                Action::Manual,
                "name the bot's Jira account id in [jira] bot_account_ids: Approve and Decline are restricted to it and the approvers group",
            );
        }
    }

    /// The change issue type's id, when it exists and is in the project.
    fn issue_type(&mut self) -> Option<String> {
        let name = self.needs.issue_type.clone();
        let found = self.snap.issue_types.iter().find(|(_, n)| n.eq_ignore_ascii_case(&name)).map(|(id, _)| id.clone());
        let Some(id) = found else {
            self.create("issue type", &name, "the change tickets' type", Some(Op::CreateIssueType(name.clone())));
            return None;
        };
        match &self.snap.issue_type_scheme {
            Some((_, _, types)) if types.contains(&id) => {
                self.step("issue type", &name, Action::Present, format!("id {id}, in the project's issue type scheme"));
            }
            Some((scheme, _, _)) => {
                let op = Op::AddIssueTypeToScheme { scheme: scheme.clone(), issue_type: id.clone() };
                if self.snap.rights.administer {
                    self.step(
                        "issue type",
                        &name,
                        Action::Change,
                        format!("add id {id} to issue type scheme {scheme}"),
                    );
                    self.ops.push(op);
                } else {
                    self.step(
                        "issue type",
                        &name,
                        blocked(ADMINISTER),
                        format!("add id {id} to issue type scheme {scheme}"),
                    );
                }
            }
            None => self.step("issue type", &name, Action::Present, format!("id {id}")),
        }
        Some(id)
    }

    /// The ticket fields: each the one mapped, or one of the site's by name
    /// with the type asked, or made; a select field with its options.
    fn fields(&mut self, _issue_type: Option<&str>) {
        for need in &self.needs.fields {
            let Some(found) = self.site_field(need) else { continue };
            if found.type_key.as_deref() != Some(type_key(need.kind)) {
                self.plan.push(Step::new(
                    "field",
                    &need.name,
                    Action::Manual,
                    format!(
                        "{} has type {} but [jira.fields] {} says {:?}: fix the mapping's type",
                        found.id,
                        found.type_key.as_deref().unwrap_or("system"),
                        need.field,
                        need.kind
                    ),
                ));
                continue;
            }
            self.field_ids.insert(need.field, (found.id.clone(), need.kind));
            if need.options.is_empty() {
                let how = if need.mapped.is_some() { "mapped" } else { "reused by name" };
                self.step("field", &need.name, Action::Present, format!("{} ({how})", found.id));
                continue;
            }
            self.field_options(need, found);
        }
    }

    /// The options of select field `found` for `need`: its context, and
    /// the options it lacks.
    fn field_options(&mut self, need: &FieldNeed, found: &SiteField) {
        match &found.context {
            None => self.create(
                "field",
                need.name.clone(),
                format!("{}: a global context with options {}", found.id, need.options.join(", ")),
                Some(Op::CreateContext { field: found.id.clone() }),
            ),
            Some((ctx, have)) => {
                let missing: Vec<String> =
                    need.options.iter().filter(|o| !have.iter().any(|h| h.eq_ignore_ascii_case(o))).cloned().collect();
                if missing.is_empty() {
                    self.step("field", &need.name, Action::Present, format!("{} with its options", found.id));
                } else if self.snap.rights.administer {
                    self.step(
                        "field",
                        &need.name,
                        Action::Change,
                        format!("{}: add options {}", found.id, missing.join(", ")),
                    );
                    self.ops.push(Op::AddOptions { field: found.id.clone(), context: ctx.clone(), values: missing });
                } else {
                    self.step(
                        "field",
                        &need.name,
                        blocked(ADMINISTER),
                        format!("{}: add options {}", found.id, missing.join(", ")),
                    );
                }
            }
        }
    }

    fn status_id(&self, name: &str) -> Option<&SiteStatus> {
        self.snap.statuses.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The groups and accounts a transition is restricted to.
    fn allowed(&self, who: Who) -> Option<(Vec<String>, Vec<String>)> {
        match who {
            Who::Anyone => Some((Vec::new(), Vec::new())),
            Who::Approvers => {
                let g = self.snap.groups.get(&self.needs.approvers_group)?;
                Some((vec![g.clone()], self.needs.bot_accounts.clone()))
            }
            Who::BreakGlass => {
                let g = self.snap.groups.get(self.needs.break_glass_group.as_ref()?)?;
                Some((vec![g.clone()], Vec::new()))
            }
        }
    }

    /// The change workflow: its statuses, then the workflow made anew, or
    /// what a person must edit in the live one.
    fn workflow(&mut self) {
        let name = self.needs.workflow.clone();
        self.statuses();
        let Some(w) = self.snap.workflow.clone() else {
            self.new_workflow(name);
            return;
        };
        let mut problems = self.transition_problems(&w);
        problems.extend(self.approval_problems(&w));
        problems.dedup();
        if problems.is_empty() {
            self.step("workflow", name, Action::Present, "every transition and condition as needed");
        } else {
            self.step(
                "workflow",
                name,
                Action::Manual,
                format!(
                    "edit it in the workflow editor (changegate does not rewrite a live workflow): {}",
                    problems.join("; ")
                ),
            );
        }
    }

    /// The workflow's statuses: reused when their category fits, else made
    /// with the workflow.
    fn statuses(&mut self) {
        for s in &self.needs.statuses {
            match self.status_id(&s.name) {
                Some(x) if x.category != s.category => self.step(
                    "status",
                    &s.name,
                    Action::Manual,
                    format!("exists with category {} but changegate needs {}: change its category or name another status in [jira.statuses]", x.category, s.category),
                ),
                Some(x) => self.step("status", &s.name, Action::Present, format!("id {}, reused", x.id)),
                None => self.step("status", &s.name, if self.snap.rights.administer { Action::Create } else { blocked(ADMINISTER) }, format!("category {}, made with the workflow", s.category)),
            }
        }
    }

    /// The workflow `name` to make, with its transitions restricted.
    fn new_workflow(&mut self, name: String) {
        let restrictions: Option<Vec<(Vec<String>, Vec<String>)>> =
            self.needs.transitions.iter().map(|t| self.allowed(t.who)).collect();
        let detail = format!(
            "{} transitions; {} and {} only for group {} and the bot{}",
            self.needs.transitions.len(),
            self.transition_name(Who::Approvers, 0),
            self.transition_name(Who::Approvers, 1),
            self.needs.approvers_group,
            self.needs
                .break_glass_group
                .as_ref()
                .map_or(String::new(), |g| format!(", {EMERGENCY_APPROVE} only for group {g}"))
        );
        // Conditions name groups by id: the payload is made once they exist.
        let op = restrictions.map(|r| Op::CreateWorkflow(self.workflow_payload(&r)));
        self.create("workflow", name, detail, op);
    }

    /// The name of the status with id `id` (the id when unknown).
    fn status_name(&self, id: &str) -> String {
        self.snap.statuses.iter().find(|s| s.id == id).map_or_else(|| id.to_owned(), |s| s.name.clone())
    }

    /// What the live workflow `w` lacks of the transitions changegate
    /// needs: the transition, its target, or a status it starts from.
    fn transition_problems(&self, w: &SiteWorkflow) -> Vec<String> {
        let mut problems = Vec::new();
        for need in &self.needs.transitions {
            let Some(t) = w.transitions.iter().find(|t| t.name.eq_ignore_ascii_case(&need.name)) else {
                problems.push(format!("add transition {:?} from {} to {}", need.name, need.from.join(", "), need.to));
                continue;
            };
            if !self.status_name(&t.to).eq_ignore_ascii_case(&need.to) {
                problems.push(format!("{:?} leads to {}, not {}", need.name, self.status_name(&t.to), need.to));
            }
            let from: Vec<String> = t.from.iter().map(|f| self.status_name(f)).collect();
            let missing: Vec<&String> = need
                .from
                .iter()
                .filter(|f| t.kind == "DIRECTED" && !from.iter().any(|x| x.eq_ignore_ascii_case(f)))
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "{:?} must also start from {}",
                    need.name,
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        problems
    }

    /// Ways into the approved status of the live workflow `w` open to
    /// more than the approvers (or break-glass group) and the bot, and
    /// approvers' transitions not restricted to them.
    fn approval_problems(&self, w: &SiteWorkflow) -> Vec<String> {
        let mut problems = Vec::new();
        // No way into the approved status may be open to anyone else.
        for t in &w.transitions {
            if !self.status_name(&t.to).eq_ignore_ascii_case(&self.needs.approved) || t.kind == "INITIAL" {
                continue;
            }
            let who = if t.name.eq_ignore_ascii_case(EMERGENCY_APPROVE) { Who::BreakGlass } else { Who::Approvers };
            let Some((groups, accounts)) = self.allowed(who) else {
                problems
                    .push(format!("{:?} leads to {} but its group does not exist yet", t.name, self.needs.approved));
                continue;
            };
            if t.other_conditions {
                problems.push(format!(
                    "{:?} leads to {} and has conditions other than \"Restrict issue transition\", which changegate cannot verify: \
                     make sure none of them widens who may run it",
                    t.name, self.needs.approved
                ));
            }
            let extra_groups = t.group_ids.iter().any(|g| !groups.contains(g));
            let extra_accounts = t.account_ids.iter().any(|a| !accounts.contains(a));
            if t.group_ids.is_empty() && t.account_ids.is_empty() || extra_groups || extra_accounts {
                problems.push(format!(
                    "{:?} leads to {} and is open to more than {}: restrict it with the condition \"Restrict issue transition\" to that group{}",
                    t.name,
                    self.needs.approved,
                    if who == Who::BreakGlass { self.needs.break_glass_group.clone().unwrap_or_default() } else { self.needs.approvers_group.clone() },
                    if who == Who::Approvers { " and the bot's account" } else { "" }
                ));
            }
        }
        for need in self.needs.transitions.iter().filter(|t| t.who == Who::Approvers) {
            if let (Some(t), Some((groups, _))) =
                (w.transitions.iter().find(|t| t.name.eq_ignore_ascii_case(&need.name)), self.allowed(Who::Approvers))
                && (t.group_ids.is_empty() && t.account_ids.is_empty()
                    || t.group_ids.iter().any(|g| !groups.contains(g)))
            {
                problems.push(format!(
                    "{:?} must be restricted to group {} and the bot",
                    need.name, self.needs.approvers_group
                ));
            }
        }
        problems
    }

    fn transition_name(&self, who: Who, nth: usize) -> String {
        self.needs.transitions.iter().filter(|t| t.who == who).nth(nth).map_or_else(String::new, |t| t.name.clone())
    }

    /// The `/workflows/create` payload: existing statuses by id, new ones by
    /// a reference; the transitions with their restrictions.
    fn workflow_payload(&self, restrictions: &[(Vec<String>, Vec<String>)]) -> Value {
        let reference = |name: &str| match self.status_id(name) {
            Some(s) => s.id.clone(),
            None => format!("new-{}", name.to_lowercase().replace(' ', "-")),
        };
        let statuses: Vec<Value> = self
            .needs
            .statuses
            .iter()
            .map(|s| {
                let mut v = json!({"name": s.name, "statusCategory": s.category, "statusReference": reference(&s.name), "description": ""});
                if let Some(x) = self.status_id(&s.name) {
                    v["id"] = json!(x.id);
                }
                v
            })
            .collect();
        let mut transitions = vec![
            json!({"id": "1", "name": "Create", "type": "INITIAL", "toStatusReference": reference(&self.needs.statuses[0].name), "links": [], "actions": [], "validators": [], "triggers": [], "properties": {}, "description": ""}),
        ];
        for (i, (t, (groups, accounts))) in self.needs.transitions.iter().zip(restrictions).enumerate() {
            let mut v = json!({
                "id": format!("{}", 11 + i * 10),
                "name": t.name,
                "type": "DIRECTED",
                "description": "",
                "toStatusReference": reference(&t.to),
                "links": t.from.iter().map(|f| json!({"fromStatusReference": reference(f)})).collect::<Vec<_>>(),
                "actions": [], "validators": [], "triggers": [], "properties": {},
            });
            if !groups.is_empty() || !accounts.is_empty() {
                let mut params = serde_json::Map::new();
                if !groups.is_empty() {
                    params.insert("groupIds".into(), json!(groups.join(",")));
                }
                if !accounts.is_empty() {
                    params.insert("accountIds".into(), json!(accounts.join(",")));
                }
                v["conditions"] = json!({"operation": "ALL", "conditions": [{"ruleKey": "system:restrict-issue-transition", "parameters": params}]});
            }
            transitions.push(v);
        }
        json!({
            "scope": {"type": "GLOBAL"},
            "statuses": statuses,
            "workflows": [{
                "name": self.needs.workflow,
                "description": "Change tickets gated by changegate (made by changegate setup jira)",
                "statuses": self.needs.statuses.iter().map(|s| json!({"statusReference": reference(&s.name), "properties": {}})).collect::<Vec<_>>(),
                "transitions": transitions,
            }],
        })
    }

    fn workflow_scheme(&mut self, project: &SiteProject, issue_type: Option<&str>) {
        let label = format!("workflow scheme {}", self.needs.scheme);
        let current = self.snap.workflow_scheme.clone();
        let maps_ours =
            |s: &SiteWorkflowScheme| issue_type.is_some_and(|t| s.mappings.get(t) == Some(&self.needs.workflow));
        if current.as_ref().is_some_and(maps_ours) {
            let name = current.map(|c| c.name).unwrap_or_default();
            self.step(
                "scheme",
                label,
                Action::Present,
                format!("project uses {name:?}, which maps {} to {}", self.needs.issue_type, self.needs.workflow),
            );
            return;
        }
        let ours = self.snap.our_workflow_scheme.clone();
        match (&ours, issue_type, &self.snap.workflow) {
            (None, Some(t), Some(_)) => {
                // A copy of the project's scheme with the change type mapped.
                let mut mappings = current.as_ref().map(|c| c.mappings.clone()).unwrap_or_default();
                mappings.insert(t.to_owned(), self.needs.workflow.clone());
                let payload = json!({"name": self.needs.scheme, "description": format!("Project {}: change tickets use {} (made by changegate setup jira)", project.key, self.needs.workflow),
                                     "defaultWorkflow": current.as_ref().map_or("jira", |c| c.default_workflow.as_str()), "issueTypeMappings": mappings});
                self.create(
                    "scheme",
                    label.clone(),
                    format!("maps {} to {}, other types as today", self.needs.issue_type, self.needs.workflow),
                    Some(Op::CreateWorkflowScheme(payload)),
                );
            }
            (None, _, _) => self.create(
                "scheme",
                label.clone(),
                format!("maps {} to {} (once both exist)", self.needs.issue_type, self.needs.workflow),
                None,
            ),
            (Some(s), _, _) if !maps_ours(s) => {
                self.step(
                    "scheme",
                    label.clone(),
                    Action::Manual,
                    format!(
                        "{:?} exists but does not map {} to {}: edit its mappings",
                        s.name, self.needs.issue_type, self.needs.workflow
                    ),
                );
                return;
            }
            (Some(_), _, _) => {}
        }
        let assign = format!("project {}: use {}", project.key, self.needs.scheme);
        if project.issues > 0 {
            self.step(
                "scheme",
                assign,
                Action::Manual,
                format!(
                    "the project has {} issue(s), so the scheme cannot simply be assigned: Project settings > Workflows > Switch scheme \
                     (or POST /rest/api/3/workflowscheme/project/switch) and map each current status to one of the change workflow's",
                    project.issues
                ),
            );
        } else {
            let op = ours.map(|s| Op::AssignWorkflowScheme { project: project.id.clone(), scheme: s.id });
            self.create("scheme", assign, "the project has no issues yet: assigned directly", op);
        }
    }

    /// The screen, its screen scheme, and the issue type screen scheme by
    /// which the project's change tickets use them.
    fn screens(&mut self, project: &SiteProject, issue_type: Option<&str>) {
        let name = self.needs.scheme.clone();
        self.screen(&name);
        let screen_scheme = self.screen_scheme(&name);
        let label = format!("project {}: use {name}", project.key);
        let current = self.snap.itss.clone();
        if let (Some(c), Some(t), Some(ss)) = (&current, issue_type, &screen_scheme)
            && self.project_itss(c, t, ss, &name, &label)
        {
            return;
        }
        self.our_itss(project, issue_type, screen_scheme.as_ref(), current.as_ref(), &name, label);
    }

    /// The screen `name`, its tab, and every ticket field on it.
    fn screen(&mut self, name: &str) {
        let mut wanted: Vec<String> = ["summary", "description", "labels", "duedate"].map(String::from).to_vec();
        wanted.extend(self.field_ids.values().map(|(id, _)| id.clone()));
        match &self.snap.screen {
            None => self.create(
                "screen",
                name.to_owned(),
                "every ticket field on one screen (create, edit, view)",
                Some(Op::CreateScreen(name.to_owned())),
            ),
            Some(SiteScreen { id, tab: None }) => {
                self.create("screen", name.to_owned(), "a tab for the fields", Some(Op::CreateTab(*id)));
            }
            Some(SiteScreen { id, tab: Some((tab, have)) }) => {
                let missing: Vec<String> = wanted.iter().filter(|f| !have.contains(f)).cloned().collect();
                let pending = self.needs.fields.len() - self.field_ids.len();
                if missing.is_empty() && pending == 0 {
                    self.step("screen", name.to_owned(), Action::Present, format!("id {id}, every field on it"));
                } else if missing.is_empty() {
                    self.create(
                        "screen",
                        name.to_owned(),
                        format!("id {id}: add the {pending} field(s) still to be made"),
                        None,
                    );
                } else {
                    let detail = format!("id {id}: add {}", missing.join(", "));
                    if self.snap.rights.administer {
                        self.step("screen", name.to_owned(), Action::Change, detail);
                        for f in missing {
                            self.ops.push(Op::AddScreenField { screen: *id, tab: *tab, field: f });
                        }
                    } else {
                        self.step("screen", name.to_owned(), blocked(ADMINISTER), detail);
                    }
                }
            }
        }
    }

    /// The screen scheme `name` (its screen for create, edit and view);
    /// its id when it exists.
    fn screen_scheme(&mut self, name: &str) -> Option<String> {
        match (&self.snap.screen_scheme, &self.snap.screen) {
            (Some((id, _)), _) => {
                self.step("screen scheme", name.to_owned(), Action::Present, format!("id {id}"));
                Some(id.clone())
            }
            (None, Some(s)) => {
                self.create(
                    "screen scheme",
                    name.to_owned(),
                    "its screen for create, edit and view",
                    Some(Op::CreateScreenScheme { name: name.to_owned(), screen: s.id }),
                );
                None
            }
            (None, None) => {
                self.create(
                    "screen scheme",
                    name.to_owned(),
                    "its screen for create, edit and view (once the screen exists)",
                    None,
                );
                None
            }
        }
    }

    /// The project's own issue type screen scheme `c` for issue type `t`:
    /// it maps `t` to screen scheme `ss` already, gets the mapping added,
    /// or needs a person. Whether that settled it (else changegate's own
    /// scheme is used).
    fn project_itss(&mut self, c: &SiteItss, t: &str, ss: &str, name: &str, label: &str) -> bool {
        if c.mappings.iter().any(|(a, b)| a == t && b == ss) {
            self.step(
                "screen scheme",
                label.to_owned(),
                Action::Present,
                format!("project uses {:?}, which maps {} to it", c.name, self.needs.issue_type),
            );
            return true;
        }
        if c.id != "1" && !c.mappings.iter().any(|(a, _)| a == t) {
            // The project has its own scheme: add the change type to it.
            let op = Op::AddItssMapping { itss: c.id.clone(), issue_type: t.to_owned(), screen_scheme: ss.to_owned() };
            if self.snap.rights.administer {
                self.step(
                    "screen scheme",
                    label.to_owned(),
                    Action::Change,
                    format!("{:?}: map {} to {name}", c.name, self.needs.issue_type),
                );
                self.ops.push(op);
            } else {
                self.step(
                    "screen scheme",
                    label.to_owned(),
                    blocked(ADMINISTER),
                    format!("{:?}: map {} to {name}", c.name, self.needs.issue_type),
                );
            }
            return true;
        }
        if c.id != "1" {
            self.step(
                "screen scheme",
                label.to_owned(),
                Action::Manual,
                format!("{:?} maps {} to another screen scheme: map it to {name}", c.name, self.needs.issue_type),
            );
            return true;
        }
        false
    }

    /// Changegate's issue type screen scheme for the project: assigned when
    /// it exists, else made from the project's `current` one with issue
    /// type `issue_type` mapped to screen scheme `screen_scheme`.
    fn our_itss(
        &mut self,
        project: &SiteProject,
        issue_type: Option<&str>,
        screen_scheme: Option<&String>,
        current: Option<&SiteItss>,
        name: &str,
        label: String,
    ) {
        match (&self.snap.our_itss, issue_type, screen_scheme) {
            (Some(o), _, _) => {
                let op = Op::AssignItss { project: project.id.clone(), itss: o.id.clone() };
                self.create("screen scheme", label, format!("project {}: use it", project.key), Some(op));
            }
            (None, Some(t), Some(ss)) => {
                let default = current
                    .and_then(|c| c.mappings.iter().find(|(a, _)| a == "default"))
                    .map_or("1".to_owned(), |(_, b)| b.clone());
                let payload = json!({"name": name, "description": format!("Project {}: change tickets use the {name} screen (made by changegate setup jira)", project.key),
                                     "issueTypeMappings": [{"issueTypeId": "default", "screenSchemeId": default}, {"issueTypeId": t, "screenSchemeId": ss}]});
                self.create(
                    "screen scheme",
                    label,
                    format!(
                        "maps {} to {name}, other types as today, for project {}",
                        self.needs.issue_type, project.key
                    ),
                    Some(Op::CreateItss(payload)),
                );
            }
            (None, _, _) => self.create(
                "screen scheme",
                label,
                format!("maps {} to {name} (once both exist)", self.needs.issue_type),
                None,
            ),
        }
    }

    /// Approvers without a GitHub id in `[jira.approvers]`.
    fn identities(&mut self) {
        let Some(members) = self.snap.members.get(&self.needs.approvers_group).cloned() else { return };
        for (account, display) in members {
            match self.needs.approver_ids.get(&account) {
                Some(gh) => self.step("approver", &display, Action::Present, format!("{account} = GitHub user {gh}")),
                None => self.step(
                    "approver",
                    &display,
                    Action::Manual,
                    format!(
                        "map {account} to the person's numeric GitHub id in [jira.approvers] (https://api.github.com/users/<login> shows it as \"id\"; \
                         `changegate setup jira --approver {account}=<id>` checks it against GitHub and writes it)"
                    ),
                ),
            }
        }
    }
}

impl<'a> Planner<'a> {
    /// The site's field for `need`: the one mapped, or the one of its name
    /// and type. `None` when there is none to use: the field is made, or a
    /// person must fix the mapping or the name (each a step).
    fn site_field(&mut self, need: &FieldNeed) -> Option<&'a SiteField> {
        let snap = self.snap;
        let want = type_key(need.kind);
        let by_id = need.mapped.as_ref().map(|id| (id, snap.fields.iter().find(|f| &f.id == id)));
        match by_id {
            Some((id, None)) => {
                self.plan.push(Step::new(
                    "field",
                    &need.name,
                    Action::Manual,
                    format!("[jira.fields] {} = {id:?}, which the site does not have: remove the mapping to let setup find or make it", need.field),
                ));
                None
            }
            Some((_, Some(f))) => Some(f),
            None => {
                let same_name: Vec<&SiteField> =
                    snap.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(&need.name)).collect();
                match same_name.iter().copied().find(|f| f.type_key.as_deref() == Some(want)) {
                    Some(f) => Some(f),
                    None if same_name.is_empty() => {
                        let op = Op::CreateField { name: need.name.clone(), kind: need.kind };
                        let detail = format!("{:?}{}", need.kind, options_text(&need.options)).to_lowercase();
                        self.create("field", need.name.clone(), detail, Some(op));
                        None
                    }
                    None => {
                        self.plan.push(Step::new(
                            "field",
                            &need.name,
                            Action::Manual,
                            format!(
                                "the site has a field named {:?} of another type ({}): rename it, or map another field in [jira.fields] {}",
                                need.name,
                                same_name[0].type_key.as_deref().unwrap_or("system"),
                                need.field
                            ),
                        ));
                        None
                    }
                }
            }
        }
    }
}

fn options_text(options: &[String]) -> String {
    if options.is_empty() { String::new() } else { format!(" ({})", options.join(", ")) }
}

#[cfg(test)]
mod tests;
