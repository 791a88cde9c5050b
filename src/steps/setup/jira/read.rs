//! Reads a [`Snapshot`] of the site: only GETs (and one JQL count), each an
//! operation of Jira's official description. What this token may not read
//! (workflows, schemes and screens need *Administer Jira*) is left empty and
//! the planner reports it blocked.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use ureq::http::Method;

use super::{
    Needs, Rights, SiteField, SiteItss, SiteProject, SiteScreen, SiteStatus, SiteTransition, SiteWorkflow,
    SiteWorkflowScheme, Snapshot,
};
use crate::clients::http::{ApiError, percent_encode};
use crate::clients::jira::{Jira, JiraError};

const SELECT: &str = "com.atlassian.jira.plugin.system.customfieldtypes:select";

fn get(jira: &Jira, path: &str, query: &[(&str, String)]) -> Result<Value, JiraError> {
    Ok(jira.http().get_json(path, query)?)
}

/// A GET that answers 404 for what does not exist.
fn get_optional(jira: &Jira, path: &str, query: &[(&str, String)]) -> Result<Option<Value>, JiraError> {
    match jira.http().get_json(path, query) {
        Ok(v) => Ok(Some(v)),
        Err(ApiError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every `values` entry of a paginated answer.
fn paged(jira: &Jira, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>, JiraError> {
    let mut out = Vec::new();
    let mut start = 0usize;
    loop {
        let mut q = query.to_vec();
        q.push(("startAt", start.to_string()));
        q.push(("maxResults", "100".to_owned()));
        let page = get(jira, path, &q)?;
        let values = page["values"].as_array().cloned().unwrap_or_default();
        let n = values.len();
        out.extend(values);
        // A page that says it is the last, or an empty one, ends the walk.
        if page["isLast"].as_bool().unwrap_or(true) || n == 0 || out.len() > 10_000 {
            return Ok(out);
        }
        start += n;
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Reads what the site has for `needs`.
pub(crate) fn read(jira: &Jira, needs: &Needs) -> Result<Snapshot, JiraError> {
    let mut snap = Snapshot { site: jira.base_url().to_owned(), ..Snapshot::default() };
    let key = &needs.project;
    let Some(project) = get_optional(jira, &format!("/rest/api/3/project/{}", percent_encode(key)), &[])? else {
        return Ok(snap);
    };
    read_project(jira, key, &project, &mut snap)?;
    if snap.project.as_ref().is_some_and(|p| p.style == "next-gen") {
        return Ok(snap);
    }
    read_groups(jira, needs, &mut snap)?;
    read_fields(jira, needs, &mut snap)?;
    let types = get(jira, "/rest/api/3/issuetype", &[])?;
    snap.issue_types = types.as_array().into_iter().flatten().map(|t| (s(&t["id"]), s(&t["name"]))).collect();
    if !snap.rights.administer {
        return Ok(snap);
    }
    let pid = snap.project.as_ref().map(|p| p.id.clone()).unwrap_or_default();
    if let Some(scheme) = paged(jira, "/rest/api/3/issuetypescheme/project", &[("projectId", pid.clone())])?.first() {
        let id = s(&scheme["issueTypeScheme"]["id"]);
        let default = scheme["issueTypeScheme"]["isDefault"].as_bool().unwrap_or(false);
        let items = paged(jira, "/rest/api/3/issuetypescheme/mapping", &[("issueTypeSchemeId", id.clone())])?;
        snap.issue_type_scheme = Some((id, default, items.iter().map(|i| s(&i["issueTypeId"])).collect()));
    }
    read_workflows(jira, needs, &pid, &mut snap)?;
    read_screens(jira, needs, pid, &mut snap)?;
    Ok(snap)
}

/// The project (with its issue count) and this account's rights on it.
fn read_project(jira: &Jira, key: &str, project: &Value, snap: &mut Snapshot) -> Result<(), JiraError> {
    let count = jira.http().send_json::<Value, _>(
        Method::POST,
        "/rest/api/3/search/approximate-count",
        &json!({"jql": format!("project = \"{key}\"")}),
    )?;
    snap.project = Some(SiteProject {
        id: s(&project["id"]),
        key: s(&project["key"]),
        style: project["style"].as_str().unwrap_or("classic").to_owned(),
        issues: count["count"].as_u64().unwrap_or(0),
    });
    let perms = get(
        jira,
        "/rest/api/3/mypermissions",
        &[("projectKey", key.to_owned()), ("permissions", "ADMINISTER".into())],
    )?;
    let me = jira.myself()?;
    let my_groups = jira.user_groups(&me.account_id)?;
    snap.rights = Rights {
        administer: perms["permissions"]["ADMINISTER"]["havePermission"].as_bool().unwrap_or(false),
        site_admin: my_groups.iter().any(|g| g == "site-admins"),
    };
    Ok(())
}

/// The approvers' and break-glass groups, with their members.
fn read_groups(jira: &Jira, needs: &Needs, snap: &mut Snapshot) -> Result<(), JiraError> {
    let mut wanted = vec![needs.approvers_group.clone()];
    wanted.extend(needs.break_glass_group.clone());
    let query: Vec<(&str, String)> = wanted.iter().map(|g| ("groupName", g.clone())).collect();
    for g in paged(jira, "/rest/api/3/group/bulk", &query)? {
        snap.groups.insert(s(&g["name"]), s(&g["groupId"]));
    }
    for (name, id) in &snap.groups {
        let members = paged(jira, "/rest/api/3/group/member", &[("groupId", id.clone())])?;
        snap.members.insert(
            name.clone(),
            members
                .iter()
                .map(|u| (s(&u["accountId"]), u["displayName"].as_str().unwrap_or_default().to_owned()))
                .collect(),
        );
    }
    Ok(())
}

/// The custom fields and, for an administrator, the options of the select
/// fields changegate would use.
fn read_fields(jira: &Jira, needs: &Needs, snap: &mut Snapshot) -> Result<(), JiraError> {
    let fields = get(jira, "/rest/api/3/field", &[])?;
    for f in fields.as_array().into_iter().flatten().filter(|f| f["custom"] == true) {
        snap.fields.push(SiteField {
            id: s(&f["id"]),
            name: s(&f["name"]),
            type_key: f["schema"]["custom"].as_str().map(str::to_owned),
            context: None,
        });
    }
    if snap.rights.administer {
        // The options of the select fields changegate would use.
        let select_names: Vec<&str> =
            needs.fields.iter().filter(|n| !n.options.is_empty()).map(|n| n.name.as_str()).collect();
        let mapped: Vec<&str> = needs.fields.iter().filter_map(|n| n.mapped.as_deref()).collect();
        for f in snap.fields.iter_mut().filter(|f| f.type_key.as_deref() == Some(SELECT)) {
            if !mapped.contains(&f.id.as_str()) && !select_names.iter().any(|n| n.eq_ignore_ascii_case(&f.name)) {
                continue;
            }
            let contexts = paged(jira, &format!("/rest/api/3/field/{}/context", f.id), &[])?;
            if let Some(c) = contexts.first() {
                let id = s(&c["id"]);
                let options = paged(jira, &format!("/rest/api/3/field/{}/context/{id}/option", f.id), &[])?;
                f.context = Some((id, options.iter().map(|o| s(&o["value"])).collect()));
            }
        }
    }
    Ok(())
}

/// The statuses, changegate's workflow, and the project's and
/// changegate's workflow schemes.
fn read_workflows(jira: &Jira, needs: &Needs, pid: &str, snap: &mut Snapshot) -> Result<(), JiraError> {
    for st in paged(jira, "/rest/api/3/statuses/search", &[])? {
        snap.statuses.push(SiteStatus { id: s(&st["id"]), name: s(&st["name"]), category: s(&st["statusCategory"]) });
    }
    let workflows = get(
        jira,
        "/rest/api/3/workflows/search",
        &[("queryString", needs.workflow.clone()), ("expand", "values.transitions".into())],
    )?;
    snap.workflow = workflows["values"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"].as_str() == Some(needs.workflow.as_str()))
        .map(workflow);
    let assoc = get(jira, "/rest/api/3/workflowscheme/project", &[("projectId", pid.to_owned())])?;
    snap.workflow_scheme =
        assoc["values"].as_array().into_iter().flatten().next().map(|a| workflow_scheme(&a["workflowScheme"]));
    snap.our_workflow_scheme = paged(jira, "/rest/api/3/workflowscheme", &[])?
        .iter()
        .find(|w| w["name"] == needs.scheme.as_str())
        .map(workflow_scheme);
    Ok(())
}

/// A workflow scheme with its issue type mappings.
fn workflow_scheme(v: &Value) -> SiteWorkflowScheme {
    SiteWorkflowScheme {
        id: s(&v["id"]),
        name: s(&v["name"]),
        default_workflow: v["defaultWorkflow"].as_str().unwrap_or("jira").to_owned(),
        mappings: v["issueTypeMappings"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, w)| (k.clone(), s(w)))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Changegate's screen (its first tab's fields), screen scheme and issue
/// type screen scheme, and the project's issue type screen scheme.
fn read_screens(jira: &Jira, needs: &Needs, pid: String, snap: &mut Snapshot) -> Result<(), JiraError> {
    let screens = paged(jira, "/rest/api/3/screens", &[("queryString", needs.scheme.clone())])?;
    if let Some(screen) = screens.iter().find(|x| x["name"] == needs.scheme.as_str()) {
        let id = screen["id"].as_u64().unwrap_or(0);
        let tabs = get(jira, &format!("/rest/api/3/screens/{id}/tabs"), &[])?;
        let tab = match tabs.as_array().and_then(|t| t.first()) {
            Some(t) => {
                let tab = t["id"].as_u64().unwrap_or(0);
                let fields = get(jira, &format!("/rest/api/3/screens/{id}/tabs/{tab}/fields"), &[])?;
                Some((tab, fields.as_array().into_iter().flatten().map(|f| s(&f["id"])).collect()))
            }
            None => None,
        };
        snap.screen = Some(SiteScreen { id, tab });
    }
    snap.screen_scheme = paged(jira, "/rest/api/3/screenscheme", &[("queryString", needs.scheme.clone())])?
        .iter()
        .find(|x| x["name"] == needs.scheme.as_str())
        .map(|x| (s(&x["id"]), x["screens"]["default"].as_u64().unwrap_or(0)));
    if let Some(a) = paged(jira, "/rest/api/3/issuetypescreenscheme/project", &[("projectId", pid)])?.first() {
        snap.itss = Some(itss(jira, &a["issueTypeScreenScheme"])?);
    }
    if let Some(o) = paged(jira, "/rest/api/3/issuetypescreenscheme", &[("queryString", needs.scheme.clone())])?
        .iter()
        .find(|x| x["name"] == needs.scheme.as_str())
    {
        snap.our_itss = Some(itss(jira, o)?);
    }
    Ok(())
}

/// An issue type screen scheme with its mappings.
fn itss(jira: &Jira, v: &Value) -> Result<SiteItss, JiraError> {
    let id = s(&v["id"]);
    let mappings =
        paged(jira, "/rest/api/3/issuetypescreenscheme/mapping", &[("issueTypeScreenSchemeId", id.clone())])?;
    Ok(SiteItss {
        id,
        name: s(&v["name"]),
        mappings: mappings.iter().map(|m| (s(&m["issueTypeId"]), s(&m["screenSchemeId"]))).collect(),
    })
}

fn workflow(w: &Value) -> SiteWorkflow {
    let transitions = w["transitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let (mut group_ids, mut account_ids, mut other) = (Vec::new(), Vec::new(), false);
            let mut groups = vec![&t["conditions"]];
            while let Some(g) = groups.pop() {
                for c in g["conditions"].as_array().into_iter().flatten() {
                    if c["ruleKey"] == "system:restrict-issue-transition" {
                        let split = |k: &str| -> Vec<String> {
                            c["parameters"][k]
                                .as_str()
                                .unwrap_or_default()
                                .split(',')
                                .map(str::trim)
                                .filter(|x| !x.is_empty())
                                .map(str::to_owned)
                                .collect()
                        };
                        group_ids.extend(split("groupIds"));
                        account_ids.extend(split("accountIds"));
                    } else {
                        other = true;
                    }
                }
                groups.extend(g["conditionGroups"].as_array().into_iter().flatten());
            }
            SiteTransition {
                name: s(&t["name"]),
                kind: s(&t["type"]),
                from: t["links"].as_array().into_iter().flatten().map(|l| s(&l["fromStatusReference"])).collect(),
                to: s(&t["toStatusReference"]),
                group_ids,
                account_ids,
                other_conditions: other,
            }
        })
        .collect();
    SiteWorkflow {
        name: s(&w["name"]),
        statuses: w["statuses"].as_array().into_iter().flatten().map(|x| s(&x["statusReference"])).collect(),
        transitions,
    }
}
