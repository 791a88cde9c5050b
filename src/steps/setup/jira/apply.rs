//! Performs a plan's operations. Each round re-reads the site, plans again
//! and performs the operations that are ready (their inputs exist): groups
//! and fields first, then the workflow that names the groups, the schemes
//! that name the workflow and the issue type, the screen that lists the
//! fields. Nothing is decided on a stale read, and a second run finds
//! everything present and performs nothing.

use serde_json::{Value, json};
use ureq::http::Method;

use super::read::read;
use super::{JiraPlan, Needs, Op, Snapshot, plan, searcher_key, type_key};
use crate::clients::jira::{Jira, JiraError};
use crate::config::jira::FieldType;

/// Most rounds of read, plan and perform (the dependency chain is six deep).
const ROUNDS: usize = 8;

/// What applying did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Applied {
    /// One line per operation performed, in order.
    pub(crate) performed: Vec<String>,
    /// The plan of the last read: what is left (manual steps, blockers).
    pub(crate) last: JiraPlan,
    /// The last snapshot.
    pub(crate) snapshot: Snapshot,
}

/// Applies the plan for `needs` until nothing more can be done.
pub(crate) fn apply(jira: &Jira, needs: &Needs) -> Result<Applied, JiraError> {
    let mut performed = Vec::new();
    for _ in 0..ROUNDS {
        let snapshot = read(jira, needs)?;
        let planned = plan(needs, &snapshot);
        if planned.ops.is_empty() {
            return Ok(Applied { performed, last: planned, snapshot });
        }
        for op in &planned.ops {
            performed.push(perform(jira, op)?);
        }
    }
    let snapshot = read(jira, needs)?;
    Ok(Applied { performed, last: plan(needs, &snapshot), snapshot })
}

fn post(jira: &Jira, path: &str, body: &Value) -> Result<Value, JiraError> {
    Ok(jira.http().send_json(Method::POST, path, body)?)
}

fn put(jira: &Jira, path: &str, body: &Value) -> Result<(), JiraError> {
    Ok(jira.http().send_json_no_content(Method::PUT, path, body)?)
}

/// Performs one operation; returns what it did, in words.
fn perform(jira: &Jira, op: &Op) -> Result<String, JiraError> {
    Ok(match op {
        Op::CreateGroup(name) => {
            let g = post(jira, "/rest/api/3/group", &json!({"name": name}))?;
            format!("created group {name} ({})", g["groupId"].as_str().unwrap_or_default())
        }
        Op::CreateIssueType(name) => create_issue_type(jira, name)?,
        Op::AddIssueTypeToScheme { scheme, issue_type } => {
            put(
                jira,
                &format!("/rest/api/3/issuetypescheme/{scheme}/issuetype"),
                &json!({"issueTypeIds": [issue_type]}),
            )?;
            format!("added issue type {issue_type} to issue type scheme {scheme}")
        }
        Op::CreateField { name, kind } => create_field(jira, name, *kind)?,
        Op::CreateContext { field } => create_context(jira, field)?,
        Op::AddOptions { field, context, values } => {
            let options: Vec<Value> = values.iter().map(|v| json!({"value": v, "disabled": false})).collect();
            post(jira, &format!("/rest/api/3/field/{field}/context/{context}/option"), &json!({"options": options}))?;
            format!("added options {} to {field}", values.join(", "))
        }
        Op::CreateWorkflow(payload) => create_workflow(jira, payload)?,
        Op::CreateWorkflowScheme(payload) => {
            let s = post(jira, "/rest/api/3/workflowscheme", payload)?;
            format!("created workflow scheme {} ({})", payload["name"].as_str().unwrap_or_default(), s["id"])
        }
        Op::AssignWorkflowScheme { project, scheme } => {
            put(
                jira,
                "/rest/api/3/workflowscheme/project",
                &json!({"projectId": project, "workflowSchemeId": scheme}),
            )?;
            format!("assigned workflow scheme {scheme} to project {project}")
        }
        Op::CreateScreen(name) => {
            let s = post(
                jira,
                "/rest/api/3/screens",
                &json!({"name": name, "description": "Every field of a change ticket"}),
            )?;
            format!("created screen {name} ({})", s["id"])
        }
        Op::CreateTab(screen) => {
            post(jira, &format!("/rest/api/3/screens/{screen}/tabs"), &json!({"name": "Change"}))?;
            format!("created a tab on screen {screen}")
        }
        Op::AddScreenField { screen, tab, field } => {
            post(jira, &format!("/rest/api/3/screens/{screen}/tabs/{tab}/fields"), &json!({"fieldId": field}))?;
            format!("put {field} on screen {screen}")
        }
        Op::CreateScreenScheme { name, screen } => {
            let s = post(
                jira,
                "/rest/api/3/screenscheme",
                &json!({"name": name, "description": "Change tickets", "screens": {"default": screen}}),
            )?;
            format!("created screen scheme {name} ({})", s["id"])
        }
        Op::CreateItss(payload) => {
            let s = post(jira, "/rest/api/3/issuetypescreenscheme", payload)?;
            format!(
                "created issue type screen scheme {} ({})",
                payload["name"].as_str().unwrap_or_default(),
                s["id"].as_str().unwrap_or_default()
            )
        }
        Op::AddItssMapping { itss, issue_type, screen_scheme } => {
            put(
                jira,
                &format!("/rest/api/3/issuetypescreenscheme/{itss}/mapping"),
                &json!({"issueTypeMappings": [{"issueTypeId": issue_type, "screenSchemeId": screen_scheme}]}),
            )?;
            format!("mapped issue type {issue_type} to screen scheme {screen_scheme} in {itss}")
        }
        Op::AssignItss { project, itss } => {
            put(
                jira,
                "/rest/api/3/issuetypescreenscheme/project",
                &json!({"issueTypeScreenSchemeId": itss, "projectId": project}),
            )?;
            format!("assigned issue type screen scheme {itss} to project {project}")
        }
    })
}

/// Creates the change issue type `name`.
fn create_issue_type(jira: &Jira, name: &str) -> Result<String, JiraError> {
    let t = post(
        jira,
        "/rest/api/3/issuetype",
        &json!({"name": name, "type": "standard", "description": "A production change gated by changegate"}),
    )?;
    Ok(format!("created issue type {name} ({})", t["id"].as_str().unwrap_or_default()))
}

/// Creates the custom field `name` of type `kind`.
fn create_field(jira: &Jira, name: &str, kind: FieldType) -> Result<String, JiraError> {
    let f = post(
        jira,
        "/rest/api/3/field",
        &json!({"name": name, "type": type_key(kind), "searcherKey": searcher_key(kind),
                "description": "Filled by changegate on change tickets"}),
    )?;
    Ok(format!("created field {name} ({})", f["id"].as_str().unwrap_or_default()))
}

/// Creates a global context for select field `field`, for its options.
fn create_context(jira: &Jira, field: &str) -> Result<String, JiraError> {
    let c = post(
        jira,
        &format!("/rest/api/3/field/{field}/context"),
        &json!({"name": "changegate", "description": "Options changegate writes", "projectIds": [], "issueTypeIds": []}),
    )?;
    Ok(format!("created a global context for {field} ({})", c["id"].as_str().unwrap_or_default()))
}

/// Creates the change workflow from `payload`, once the site has checked
/// it: its errors stop the run.
fn create_workflow(jira: &Jira, payload: &Value) -> Result<String, JiraError> {
    // The site checks the payload first; its errors stop the run.
    let v = post(
        jira,
        "/rest/api/3/workflows/create/validation",
        &json!({"payload": payload, "validationOptions": {"levels": ["ERROR"]}}),
    )?;
    let errors: Vec<String> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] != "WARNING")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    if !errors.is_empty() {
        return Err(JiraError::Setup(format!("the site refused the change workflow: {}", errors.join("; "))));
    }
    let w = post(jira, "/rest/api/3/workflows/create", payload)?;
    let name = payload["workflows"][0]["name"].as_str().unwrap_or_default();
    Ok(format!("created workflow {name} ({})", w["workflows"][0]["id"].as_str().unwrap_or_default()))
}
