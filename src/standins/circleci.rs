//! A stateful stand-in for the CircleCI API v2: pipelines, workflows and
//! their jobs (approval jobs with an `approval_request_id`), approve, cancel
//! and rerun; users (one token each), contexts and their restrictions. A
//! pipeline is set up through the control API with its jobs and their
//! `requires`; an approval job is `blocked` until what it requires has
//! ended, then `on_hold`, as on CircleCI.
//!
//! **Restricted contexts, as a model** (docs/trust-model.md): a job that
//! names a context starts when every job it requires succeeded, and runs
//! only if the actor may use the context: for a job after an approval job,
//! the user who approved it; else the user who triggered the pipeline. A
//! context with a `group` restriction admits the group's members only;
//! otherwise the job is `unauthorized` (and so is its workflow). Project and
//! expression restrictions are listed, not evaluated. Jobs that name no
//! context keep the status they are given, as before.
//!
//! **Organizations, projects, groups and webhooks** (for `setup circleci`):
//! an organization exists once a project, group or context names it (its
//! id is the `<id>` of a `circleci/<id>` slug); its admin is `org-admin`
//! ([`ADMIN_TOKEN`]). Only an admin may create contexts, restrict them,
//! list the organization's groups and create or change webhooks: others
//! get 403 `Permission denied.` (the answer the description gives for its
//! group operations; it lists none for context writes, which CircleCI
//! refuses non-admins too). Organizations on CircleCI's GitHub App
//! (`circleci/...` slugs) have no security groups: a group restriction
//! there is refused (400) as the description's example says. A group
//! restriction admits the group's members, as above. Webhooks are HTTPS
//! only and their signing secret is answered masked.

use serde_json::{Value, json};

use super::exchange::{Req, Resp};
use crate::base::time::Timestamp;

/// The CI user's token (`ci-user`).
pub const TOKEN: &str = "circle-token";
/// The bot's token (`changegate-bot`).
pub const BOT_TOKEN: &str = "bot-circle-token";

/// The organization admin's token (`org-admin`).
pub const ADMIN_TOKEN: &str = "admin-circle-token";

/// A user of the stand-in: (token, id, login, name).
pub const USERS: &[(&str, &str, &str, &str)] = &[
    (TOKEN, "00000000-0000-4000-8000-0000000000aa", "ci-user", "CI user"),
    (ADMIN_TOKEN, "00000000-0000-4000-8000-0000000000ee", "org-admin", "Org Admin"),
    (BOT_TOKEN, "00000000-0000-4000-8000-0000000000bb", "changegate-bot", "changegate bot"),
    ("carol-circle-token", "00000000-0000-4000-8000-0000000000cc", "carol", "Carol On-call"),
    ("dana-circle-token", "00000000-0000-4000-8000-0000000000dd", "dana", "Dana Developer"),
];

/// A user of the stand-in, as `USERS` lists them: (token, id, login, name).
type User = (&'static str, &'static str, &'static str, &'static str);

fn user_json(u: &(&str, &str, &str, &str)) -> Value {
    json!({"id": u.1, "login": u.2, "name": u.3, "avatar_url": null})
}

/// A context and its restrictions.
#[derive(Debug, Clone)]
struct Context {
    id: String,
    name: String,
    owner_slug: String,
    created: Timestamp,
    /// (id, type, value, name).
    restrictions: Vec<(String, String, String, String)>,
    /// Logins of the members of the group of its `group` restriction.
    members: Vec<String>,
}

/// An organization.
#[derive(Debug, Clone)]
struct Org {
    id: String,
    slug: String,
    /// Logins of its admins.
    admins: Vec<String>,
    groups: Vec<Group>,
}

/// A group of an organization.
#[derive(Debug, Clone)]
struct Group {
    id: String,
    name: String,
    members: Vec<String>,
}

/// A project.
#[derive(Debug, Clone)]
struct Project {
    id: String,
    slug: String,
    org_id: String,
    default_branch: String,
}

/// An outbound webhook.
#[derive(Debug, Clone)]
struct Webhook {
    id: String,
    name: String,
    url: String,
    events: Vec<String>,
    verify_tls: bool,
    secret: String,
    scope_id: String,
    created: Timestamp,
    updated: Timestamp,
}

#[derive(Debug, Clone)]
struct Job {
    id: String,
    name: String,
    kind: String,
    status: String,
    number: Option<u64>,
    requires: Vec<String>,
    approved_by: Option<String>,
    /// Stored artifacts: (path, content).
    artifacts: Vec<(String, Vec<u8>)>,
    /// The context the job uses.
    context: Option<String>,
}

#[derive(Debug, Clone)]
struct Workflow {
    id: String,
    name: String,
    pipeline_id: String,
    status: String,
    created: Timestamp,
    jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
struct Pipeline {
    id: String,
    number: u64,
    project_slug: String,
    branch: String,
    revision: String,
    created: Timestamp,
    /// Login of who triggered it.
    triggered_by: String,
}

/// The stand-in's state.
#[derive(Debug, Default)]
pub struct CircleCiStandIn {
    pipelines: Vec<Pipeline>,
    workflows: Vec<Workflow>,
    contexts: Vec<Context>,
    orgs: Vec<Org>,
    projects: Vec<Project>,
    webhooks: Vec<Webhook>,
    next_job: u64,
    seq: u64,
    /// Where artifacts are served (the stand-in's own address).
    artifact_base: String,
}

fn artifact(spec: &Value) -> Result<(String, Vec<u8>), String> {
    let path = spec.get("path").and_then(Value::as_str).ok_or("an artifact needs a path")?.to_owned();
    let content = match spec.get("content") {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(v) => v.to_string().into_bytes(),
        None => return Err("an artifact needs content".into()),
    };
    Ok((path, content))
}

/// A UUID-shaped id that is unique in this stand-in (the API validates the
/// `uuid` format of ids).
fn uuid(prefix: u32, n: u64) -> String {
    format!("{prefix:08x}-0000-4000-8000-{n:012x}")
}

fn message(status: u16, text: &str) -> Resp {
    Resp::json(status, json!({"message": text}))
}

impl CircleCiStandIn {
    /// An empty stand-in serving artifacts at `base_url/circleci-artifacts/`.
    pub fn new(base_url: &str) -> Self {
        CircleCiStandIn {
            next_job: 1000,
            artifact_base: format!("{base_url}/circleci-artifacts"),
            ..Default::default()
        }
    }

    /// Serves artifact downloads at `base_url/circleci-artifacts/` from
    /// now on: for a forwarder in front of the stand-in that routes
    /// downloads around an API proxy, as CircleCI serves artifacts from a
    /// host of their own.
    pub fn set_artifact_origin(&mut self, base_url: &str) {
        self.artifact_base = format!("{}/circleci-artifacts", base_url.trim_end_matches('/'));
    }

    fn next_id(&mut self, prefix: u32) -> String {
        self.seq += 1;
        uuid(prefix, self.seq)
    }

    fn job_json(&self, wf: &Workflow, j: &Job) -> Value {
        let p = self.pipelines.iter().find(|p| p.id == wf.pipeline_id).expect("workflow of a pipeline");
        let deps: Vec<String> =
            j.requires.iter().filter_map(|r| wf.jobs.iter().find(|x| &x.name == r).map(|x| x.id.clone())).collect();
        let mut v = json!({"id": j.id, "name": j.name, "type": j.kind, "status": j.status, "dependencies": deps,
                           "project_slug": p.project_slug, "started_at": wf.created.to_rfc3339()});
        if let Some(n) = j.number {
            v["job_number"] = json!(n);
        }
        if j.kind == "approval" {
            v["approval_request_id"] = json!(j.id);
            if let Some(by) = &j.approved_by {
                v["approved_by"] = json!(by);
            }
        }
        v
    }

    fn workflow_json(&self, wf: &Workflow) -> Value {
        let p = self.pipelines.iter().find(|p| p.id == wf.pipeline_id).expect("workflow of a pipeline");
        let stopped = !matches!(wf.status.as_str(), "running" | "on_hold" | "failing");
        json!({"id": wf.id, "name": wf.name, "status": wf.status, "pipeline_id": p.id, "pipeline_number": p.number,
               "project_slug": p.project_slug, "created_at": wf.created.to_rfc3339(),
               "stopped_at": if stopped { json!(Timestamp::now().to_rfc3339()) } else { Value::Null },
               "started_by": "00000000-0000-4000-8000-0000000000aa"})
    }

    /// Recomputes approval jobs and the workflow status after a change.
    fn settle(wf: &mut Workflow) {
        let ended = |name: &str, jobs: &[Job]| {
            jobs.iter()
                .find(|j| j.name == name)
                .is_some_and(|j| matches!(j.status.as_str(), "success" | "failed" | "canceled" | "not_run"))
        };
        let snapshot = wf.jobs.clone();
        for j in &mut wf.jobs {
            if j.kind == "approval" && j.status == "blocked" && j.requires.iter().all(|r| ended(r, &snapshot)) {
                j.status = "on_hold".into();
            }
        }
        if wf.status == "canceled" {
            return;
        }
        wf.status = if wf.jobs.iter().any(|j| j.status == "failed") {
            "failed"
        } else if wf.jobs.iter().any(|j| j.status == "unauthorized") {
            "unauthorized"
        } else if wf.jobs.iter().all(|j| j.status == "success") {
            "success"
        } else if wf.jobs.iter().any(|j| j.status == "on_hold") && !wf.jobs.iter().any(|j| j.status == "running") {
            "on_hold"
        } else {
            "running"
        }
        .into();
    }

    /// Control API: creates a pipeline with one workflow. Body:
    /// `{"project_slug", "branch", "revision", "workflow": "deploy",
    ///   "jobs": [{"name", "type": "build"|"approval", "requires": [...], "status"}]}`,
    /// optionally with the `pipeline_id`, `pipeline_number` and
    /// `workflow_id` of a real pipeline to mirror (a CI job testing the orb
    /// against the stand-ins passes its own).
    /// Build jobs default to `success`; approval jobs are `blocked` until
    /// what they require has ended.
    pub fn create_pipeline(&mut self, spec: &Value) -> Result<Value, String> {
        let s = |k: &str| spec.get(k).and_then(Value::as_str).map(String::from);
        let project_slug = s("project_slug").ok_or("project_slug is required")?;
        let number = match spec.get("pipeline_number").and_then(Value::as_u64) {
            Some(n) => n,
            None => {
                self.pipelines.iter().filter(|p| p.project_slug == project_slug).map(|p| p.number).max().unwrap_or(0)
                    + 1
            }
        };
        let given_id = s("pipeline_id");
        if given_id.as_ref().is_some_and(|id| self.pipelines.iter().any(|p| &p.id == id)) {
            return Err("a pipeline with that id exists".into());
        }
        let pipeline = Pipeline {
            id: given_id.unwrap_or_else(|| self.next_id(0xa1)),
            number,
            project_slug,
            branch: s("branch").unwrap_or_else(|| "main".into()),
            revision: s("revision").ok_or("revision is required")?,
            created: Timestamp::now(),
            triggered_by: s("triggered_by").unwrap_or_else(|| "dana".into()),
        };
        let mut jobs = Vec::new();
        for j in spec.get("jobs").and_then(Value::as_array).ok_or("jobs are required")? {
            let name = j.get("name").and_then(Value::as_str).ok_or("a job needs a name")?.to_owned();
            let kind = j.get("type").and_then(Value::as_str).unwrap_or("build").to_owned();
            let requires = j
                .get("requires")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|r| r.as_str().map(String::from)).collect())
                .unwrap_or_default();
            let status = j
                .get("status")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| if kind == "approval" { "blocked".into() } else { "success".into() });
            let number = (kind != "approval").then(|| {
                self.next_job += 1;
                self.next_job
            });
            let mut artifacts = Vec::new();
            for a in j.get("artifacts").and_then(Value::as_array).into_iter().flatten() {
                artifacts.push(artifact(a)?);
            }
            let context = j.get("context").and_then(Value::as_str).map(String::from);
            // A job with a context starts when what it requires succeeded.
            let status = if context.is_some() && j.get("status").is_none() { "blocked".into() } else { status };
            jobs.push(Job {
                id: self.next_id(0xb2),
                name,
                kind,
                status,
                number,
                requires,
                approved_by: None,
                artifacts,
                context,
            });
        }
        let mut wf = Workflow {
            id: s("workflow_id").unwrap_or_else(|| self.next_id(0xc3)),
            name: s("workflow").unwrap_or_else(|| "deploy".into()),
            pipeline_id: pipeline.id.clone(),
            status: "running".into(),
            created: Timestamp::now(),
            jobs,
        };
        self.pipelines.push(pipeline);
        self.start_context_jobs(&mut wf);
        Self::settle(&mut wf);
        let pipeline = self.pipelines.pop().expect("just pushed");
        let out = json!({"pipeline_id": pipeline.id, "pipeline_number": pipeline.number, "workflow_id": wf.id,
                         "jobs": wf.jobs.iter().map(|j| json!({"name": j.name, "id": j.id, "job_number": j.number})).collect::<Vec<_>>()});
        self.pipelines.push(pipeline);
        self.workflows.push(wf);
        Ok(out)
    }

    /// Control API: sets a job's status (`{"workflow_id", "job", "status"}`).
    pub fn set_job(&mut self, spec: &Value) -> Result<(), String> {
        let wid = spec.get("workflow_id").and_then(Value::as_str).ok_or("workflow_id is required")?;
        let name = spec.get("job").and_then(Value::as_str).ok_or("job is required")?;
        let status = spec.get("status").and_then(Value::as_str).ok_or("status is required")?;
        let by = spec.get("approved_by").and_then(Value::as_str);
        let by = match by {
            Some(login) => Some(USERS.iter().find(|u| u.2 == login).ok_or("no such user")?.1.to_owned()),
            None => None,
        };
        let idx = self.workflows.iter().position(|w| w.id == wid).ok_or("no such workflow")?;
        let mut wf = self.workflows[idx].clone();
        let job = wf.jobs.iter_mut().find(|j| j.name == name).ok_or("no such job")?;
        job.status = status.to_owned();
        if by.is_some() {
            job.approved_by = by;
        }
        Self::settle(&mut wf);
        self.start_context_jobs(&mut wf);
        Self::settle(&mut wf);
        self.workflows[idx] = wf;
        Ok(())
    }

    /// Control API: creates a context (`{"name", "owner_slug",
    /// "restrictions": [{"type", "value", "name"}], "members": [login...]}`).
    pub fn create_context(&mut self, spec: &Value) -> Result<Value, String> {
        let name = spec.get("name").and_then(Value::as_str).ok_or("a context needs a name")?.to_owned();
        let owner_slug = spec.get("owner_slug").and_then(Value::as_str).unwrap_or("gh/acme").to_owned();
        self.org(&owner_slug);
        let mut restrictions = Vec::new();
        for r in spec.get("restrictions").and_then(Value::as_array).into_iter().flatten() {
            let kind = r.get("type").and_then(Value::as_str).ok_or("a restriction needs a type")?.to_owned();
            let value = r.get("value").and_then(Value::as_str).unwrap_or_default().to_owned();
            let rname = r.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            restrictions.push((self.next_id(0xd5), kind, value, rname));
        }
        let members = spec
            .get("members")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|m| m.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let id = self.next_id(0xd4);
        self.contexts.push(Context {
            id: id.clone(),
            name,
            owner_slug,
            created: Timestamp::now(),
            restrictions,
            members,
        });
        Ok(json!({"id": id}))
    }

    /// The organization with `slug`, made on first mention.
    fn org(&mut self, slug: &str) -> &mut Org {
        let slug = slug.trim_matches('/').to_owned();
        if let Some(i) = self.orgs.iter().position(|o| o.slug == slug) {
            return &mut self.orgs[i];
        }
        // A `circleci/<id>` slug names the organization by its id.
        let id = match slug.split_once('/') {
            Some(("circleci", id)) if id.len() == 36 => id.to_owned(),
            _ => self.next_id(0xe0),
        };
        self.orgs.push(Org { id, slug, admins: vec!["org-admin".into()], groups: Vec::new() });
        self.orgs.last_mut().expect("just pushed")
    }

    /// Control API: creates a project (`{"slug": "gh/acme/web",
    /// "default_branch": "main"}`) and its organization if new.
    pub fn create_project(&mut self, spec: &Value) -> Result<Value, String> {
        let slug = spec.get("slug").and_then(Value::as_str).ok_or("a project needs a slug")?.trim_matches('/');
        let parts: Vec<&str> = slug.split('/').collect();
        let [vcs, org, name] = parts.as_slice() else { return Err("a project slug is vcs/org/name".into()) };
        if let Some(p) = self.projects.iter().find(|p| p.slug == slug) {
            return Ok(json!({"id": p.id, "organization_id": p.org_id}));
        }
        let org_id = self.org(&format!("{vcs}/{org}")).id.clone();
        let id = if *vcs == "circleci" && name.len() == 36 { (*name).to_owned() } else { self.next_id(0xe1) };
        let default_branch = spec.get("default_branch").and_then(Value::as_str).unwrap_or("main").to_owned();
        self.projects.push(Project { id: id.clone(), slug: slug.to_owned(), org_id: org_id.clone(), default_branch });
        Ok(json!({"id": id, "organization_id": org_id}))
    }

    /// Control API: creates a group of an organization (`{"org": "gh/acme",
    /// "name", "members": [login...]}`).
    pub fn create_group(&mut self, spec: &Value) -> Result<Value, String> {
        let org = spec.get("org").and_then(Value::as_str).ok_or("a group needs its org's slug")?.to_owned();
        let name = spec.get("name").and_then(Value::as_str).ok_or("a group needs a name")?.to_owned();
        let members = spec
            .get("members")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|m| m.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let id = self.next_id(0xe2);
        self.org(&org).groups.push(Group { id: id.clone(), name, members });
        Ok(json!({"id": id}))
    }

    fn project_json(&self, p: &Project) -> Value {
        let org = self.orgs.iter().find(|o| o.id == p.org_id);
        let org_slug = org.map_or("", |o| o.slug.as_str());
        let org_name = org_slug.split('/').nth(1).unwrap_or_default();
        let name = p.slug.rsplit('/').next().unwrap_or_default();
        let (provider, vcs_url) = if p.slug.starts_with("gh/") {
            ("GitHub", format!("https://github.com/{org_name}/{name}"))
        } else if p.slug.starts_with("bb/") {
            ("Bitbucket", format!("https://bitbucket.org/{org_name}/{name}"))
        } else {
            ("CircleCI", format!("https://github.com/{org_name}/{name}"))
        };
        json!({"slug": p.slug, "name": name, "id": p.id, "organization_name": org_name, "organization_slug": org_slug,
               "organization_id": p.org_id,
               "vcs_info": {"vcs_url": vcs_url, "provider": provider, "default_branch": p.default_branch}})
    }

    fn webhook_json(w: &Webhook) -> Value {
        json!({"id": w.id, "scope": {"id": w.scope_id, "type": "project"}, "name": w.name, "events": w.events,
               "url": w.url, "verify-tls": w.verify_tls, "signing-secret": "****", "created-at": w.created.to_rfc3339(),
               "updated-at": w.updated.to_rfc3339()})
    }

    fn is_admin(&self, org_id: &str, login: &str) -> bool {
        self.orgs.iter().any(|o| o.id == org_id && o.admins.iter().any(|a| a == login))
    }

    /// `POST /context`.
    fn post_context(&mut self, login: &str, body: &[u8]) -> Resp {
        let Ok(b) = serde_json::from_slice::<Value>(body) else { return message(400, "Invalid request body.") };
        let (Some(name), Some(owner)) = (b.get("name").and_then(Value::as_str), b.get("owner")) else {
            return message(400, "Invalid request body.");
        };
        let org = match (owner.get("id").and_then(Value::as_str), owner.get("slug").and_then(Value::as_str)) {
            (Some(id), _) => self.orgs.iter().find(|o| o.id == id),
            (None, Some(slug)) => self.orgs.iter().find(|o| o.slug == slug),
            (None, None) => None,
        };
        let Some(org) = org.cloned() else { return message(404, "Organization does not exist.") };
        if !self.is_admin(&org.id, login) {
            return message(403, "Permission denied.");
        }
        let id = self.next_id(0xd4);
        let created = Timestamp::now();
        self.contexts.push(Context {
            id: id.clone(),
            name: name.to_owned(),
            owner_slug: org.slug,
            created,
            restrictions: Vec::new(),
            members: Vec::new(),
        });
        Resp::json(200, json!({"id": id, "name": name, "created_at": created.to_rfc3339()}))
    }

    /// `POST /context/{id}/restrictions`.
    fn post_restriction(&mut self, login: &str, context_id: &str, body: &[u8]) -> Resp {
        let Ok(b) = serde_json::from_slice::<Value>(body) else { return message(400, "Invalid request body.") };
        let kind = b.get("restriction_type").and_then(Value::as_str).unwrap_or_default().to_owned();
        let value = b.get("restriction_value").and_then(Value::as_str).unwrap_or_default().to_owned();
        let Some(ctx) = self.contexts.iter().find(|c| c.id == context_id).cloned() else {
            return message(404, "Context not found.");
        };
        let Some(org) = self.orgs.iter().find(|o| o.slug == ctx.owner_slug).cloned() else {
            return message(404, "Organization does not exist.");
        };
        if !self.is_admin(&org.id, login) {
            return message(403, "Permission denied.");
        }
        let cannot = || message(400, "This restriction cannot be applied to this context.");
        let (name, members) = match kind.as_str() {
            // Organizations on the GitHub App have no security groups.
            "group" if org.slug.starts_with("circleci/") => return cannot(),
            "group" => match org.groups.iter().find(|g| g.id == value) {
                Some(g) => (g.name.clone(), Some(g.members.clone())),
                None => return cannot(),
            },
            "project" => match self.projects.iter().find(|p| p.id == value && p.org_id == org.id) {
                Some(p) => (p.slug.rsplit('/').next().unwrap_or_default().to_owned(), None),
                None => return message(400, "Project does not exist, or user does not have access to this project."),
            },
            "expression" if !value.trim().is_empty() => (String::new(), None),
            _ => return cannot(),
        };
        if ctx.restrictions.iter().any(|r| r.1 == kind && r.2 == value) {
            return message(409, "The restriction you're trying to add already exists.");
        }
        let id = self.next_id(0xd5);
        let c = self.contexts.iter_mut().find(|c| c.id == context_id).expect("found above");
        c.restrictions.push((id.clone(), kind.clone(), value.clone(), name.clone()));
        if let Some(m) = members {
            c.members.extend(m.into_iter().filter(|m| !c.members.contains(m)).collect::<Vec<_>>());
        }
        Resp::json(201, json!({"id": id, "name": name, "restriction_type": kind, "restriction_value": value}))
    }

    /// `POST /webhook` and `PUT /webhook/{id}`.
    fn put_webhook(&mut self, login: &str, id: Option<&str>, body: &[u8]) -> Resp {
        let Ok(b) = serde_json::from_slice::<Value>(body) else { return message(400, "Invalid request body.") };
        let existing = match id {
            Some(id) => match self.webhooks.iter().position(|w| w.id == id) {
                Some(i) => Some(i),
                None => return message(404, "Webhook not found."),
            },
            None => None,
        };
        let scope_id = match existing {
            Some(i) => self.webhooks[i].scope_id.clone(),
            None => b.pointer("/scope/id").and_then(Value::as_str).unwrap_or_default().to_owned(),
        };
        let Some(project) = self.projects.iter().find(|p| p.id == scope_id).cloned() else {
            return message(404, "Project not found.");
        };
        if !self.is_admin(&project.org_id, login) {
            return message(403, "Permission denied.");
        }
        let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
        let events: Option<Vec<String>> = b
            .get("events")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|e| e.as_str().map(String::from)).collect());
        if events.as_ref().is_some_and(|e| e.iter().any(|x| x != "workflow-completed" && x != "job-completed")) {
            return message(400, "Invalid event.");
        }
        if s("url").is_some_and(|u| !u.starts_with("https://")) {
            return message(400, "The URL must use https.");
        }
        let now = Timestamp::now();
        match existing {
            Some(i) => {
                let w = &mut self.webhooks[i];
                if let Some(v) = s("name") {
                    w.name = v;
                }
                if let Some(v) = s("url") {
                    w.url = v;
                }
                if let Some(v) = events {
                    w.events = v;
                }
                if let Some(v) = b.get("verify-tls").and_then(Value::as_bool) {
                    w.verify_tls = v;
                }
                if let Some(v) = s("signing-secret") {
                    w.secret = v;
                }
                w.updated = now;
                Resp::json(200, Self::webhook_json(w))
            }
            None => {
                let (Some(name), Some(url), Some(events), Some(verify_tls), Some(secret)) =
                    (s("name"), s("url"), events, b.get("verify-tls").and_then(Value::as_bool), s("signing-secret"))
                else {
                    return message(400, "name, events, url, verify-tls, signing-secret and scope are required.");
                };
                let w = Webhook {
                    id: self.next_id(0xe3),
                    name,
                    url,
                    events,
                    verify_tls,
                    secret,
                    scope_id,
                    created: now,
                    updated: now,
                };
                let v = Self::webhook_json(&w);
                self.webhooks.push(w);
                Resp::json(201, v)
            }
        }
    }

    /// Starts each job with a context whose requirements succeeded: running
    /// when the actor may use the context, `unauthorized` otherwise (see the
    /// module documentation).
    fn start_context_jobs(&self, wf: &mut Workflow) {
        let trigger = self.pipelines.iter().find(|p| p.id == wf.pipeline_id).map(|p| p.triggered_by.clone());
        let snapshot = wf.jobs.clone();
        for j in wf.jobs.iter_mut().filter(|j| j.status == "blocked" && j.kind != "approval") {
            let Some(ctx) = j.context.clone() else { continue };
            let ready = j.requires.iter().all(|r| snapshot.iter().any(|x| &x.name == r && x.status == "success"));
            if !ready {
                continue;
            }
            // The actor: who approved the closest approval job upstream,
            // else who triggered the pipeline.
            let mut actor = None;
            let mut frontier: Vec<String> = j.requires.clone();
            let mut seen: Vec<String> = Vec::new();
            while actor.is_none() && !frontier.is_empty() {
                let mut next = Vec::new();
                for name in frontier {
                    if seen.contains(&name) {
                        continue;
                    }
                    seen.push(name.clone());
                    if let Some(up) = snapshot.iter().find(|x| x.name == name) {
                        if let (true, Some(by)) = (up.kind == "approval", &up.approved_by) {
                            actor = USERS.iter().find(|u| u.1 == by).map(|u| u.2.to_owned());
                        }
                        next.extend(up.requires.iter().cloned());
                    }
                }
                frontier = next;
            }
            let actor = actor.or_else(|| trigger.clone()).unwrap_or_default();
            let allowed = match self.contexts.iter().find(|c| c.name == ctx) {
                Some(c) if c.restrictions.iter().any(|r| r.1 == "group") => c.members.contains(&actor),
                _ => true,
            };
            j.status = if allowed { "running" } else { "unauthorized" }.into();
        }
    }

    /// Control API: stores an artifact of a job
    /// (`{"workflow_id", "job", "path", "content"}`; a string content is
    /// stored as is, any other JSON value serialized).
    pub fn add_artifact(&mut self, spec: &Value) -> Result<(), String> {
        let wid = spec.get("workflow_id").and_then(Value::as_str).ok_or("workflow_id is required")?;
        let name = spec.get("job").and_then(Value::as_str).ok_or("job is required")?;
        let wf = self.workflows.iter_mut().find(|w| w.id == wid).ok_or("no such workflow")?;
        let job = wf.jobs.iter_mut().find(|j| j.name == name).ok_or("no such job")?;
        job.artifacts.push(artifact(spec)?);
        Ok(())
    }

    fn job_by_number(&self, slug: &str, number: &str) -> Option<(&Workflow, &Job)> {
        let number: u64 = number.parse().ok()?;
        self.workflows.iter().rev().find_map(|w| {
            let p = self.pipelines.iter().find(|p| p.id == w.pipeline_id)?;
            if p.project_slug != slug {
                return None;
            }
            w.jobs.iter().find(|j| j.number == Some(number)).map(|j| (w, j))
        })
    }

    fn job_details(&self, wf: &Workflow, j: &Job) -> Value {
        let p = self.pipelines.iter().find(|p| p.id == wf.pipeline_id).expect("workflow of a pipeline");
        let at = wf.created.to_rfc3339();
        let org = p.project_slug.split('/').nth(1).unwrap_or_default();
        let repo = p.project_slug.split('/').nth(2).unwrap_or_default();
        json!({"number": j.number, "name": j.name, "status": j.status, "started_at": at, "created_at": at, "queued_at": at,
               "stopped_at": null, "duration": null, "parallelism": 1, "parallel_runs": [{"index": 0, "status": j.status}],
               "executor": {"resource_class": "medium", "type": "docker"},
               "project": {"id": "00000000-0000-4000-8000-0000000000bb", "slug": p.project_slug, "name": repo,
                           "external_url": format!("https://github.com/{org}/{repo}")},
               "organization": {"name": org},
               "contexts": j.context.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(), "messages": [],
               "web_url": format!("https://app.circleci.com/pipelines/{}/{}/workflows/{}/jobs/{}", p.project_slug, p.number, wf.id, j.number.unwrap_or(0)),
               "latest_workflow": {"id": wf.id, "name": wf.name}, "pipeline": {"id": p.id}})
    }

    /// Serves an artifact download (`/circleci-artifacts/{job}/{index}/...`),
    /// with the same token as the API, as CircleCI does for private projects.
    pub fn download(&self, req: &Req) -> Resp {
        if !self.authorized(req) {
            return message(401, "You must log in first.");
        }
        let mut parts = req.path.trim_start_matches("/circleci-artifacts/").splitn(3, '/');
        let (Some(number), Some(index)) =
            (parts.next().and_then(|n| n.parse::<u64>().ok()), parts.next().and_then(|i| i.parse::<usize>().ok()))
        else {
            return message(404, "Not found");
        };
        let found = self.workflows.iter().rev().flat_map(|w| w.jobs.iter()).find(|j| j.number == Some(number));
        match found.and_then(|j| j.artifacts.get(index)) {
            Some((_, content)) => Resp {
                status: 200,
                headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                body: content.clone(),
            },
            None => message(404, "Not found"),
        }
    }

    fn user(req: &Req) -> Option<&'static (&'static str, &'static str, &'static str, &'static str)> {
        let token = req.header("circle-token").map(String::from).or_else(|| {
            use base64::Engine as _;
            let b = req.header("authorization")?.strip_prefix("Basic ")?;
            let t = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).ok()?).ok()?;
            Some(t.trim_end_matches(':').to_owned())
        })?;
        USERS.iter().find(|u| u.0 == token)
    }

    fn authorized(&self, req: &Req) -> bool {
        Self::user(req).is_some()
    }

    /// The whole state, for tests and the demo.
    pub fn dump(&self) -> Value {
        let wfs: Vec<Value> = self
            .workflows
            .iter()
            .map(|w| {
                let mut v = self.workflow_json(w);
                v["jobs"] = Value::Array(w.jobs.iter().map(|j| self.job_json(w, j)).collect());
                v
            })
            .collect();
        let contexts: Vec<Value> = self
            .contexts
            .iter()
            .map(|c| {
                let rs: Vec<Value> =
                    c.restrictions.iter().map(|r| json!({"type": r.1, "value": r.2, "name": r.3})).collect();
                json!({"id": c.id, "name": c.name, "owner_slug": c.owner_slug, "restrictions": rs, "members": c.members})
            })
            .collect();
        let webhooks: Vec<Value> = self
            .webhooks
            .iter()
            .map(|w| {
                json!({"id": w.id, "name": w.name, "url": w.url, "events": w.events, "verify_tls": w.verify_tls,
                       "signing_secret": w.secret, "scope_id": w.scope_id})
            })
            .collect();
        json!({"workflows": wfs, "contexts": contexts, "webhooks": webhooks})
    }

    /// Handles one request under `/api/v2`.
    pub fn handle(&mut self, req: &Req) -> Resp {
        let Some(me) = Self::user(req) else {
            return message(401, "You must log in first.");
        };
        let path = req.path.trim_start_matches("/api/v2").trim_end_matches('/');
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (req.method.as_str(), parts.as_slice()) {
            ("GET", ["me"]) => Resp::json(200, user_json(me)),
            ("GET", ["user", id]) => match USERS.iter().find(|u| u.1 == *id) {
                Some(u) => Resp::json(200, user_json(u)),
                None => message(404, "User not found"),
            },
            ("GET", ["context"]) => self.contexts_get(req),
            ("GET", ["context", id, "restrictions"]) => self.context_restrictions(id),
            ("POST", ["context"]) => self.post_context(me.2, &req.body),
            ("POST", ["context", id, "restrictions"]) => self.post_restriction(me.2, id, &req.body),
            ("GET", ["project", vcs, org, repo]) => {
                let slug = format!("{vcs}/{org}/{repo}");
                match self.projects.iter().find(|p| p.slug == slug) {
                    Some(p) => Resp::json(200, self.project_json(p)),
                    None => message(404, "Project not found"),
                }
            }
            ("GET", ["organizations", org_id, "groups"]) => self.org_groups(org_id, me),
            ("GET", ["webhook"]) => {
                let scope = req.query("scope-id").unwrap_or_default();
                let items: Vec<Value> =
                    self.webhooks.iter().filter(|w| w.scope_id == scope).map(Self::webhook_json).collect();
                Resp::json(200, json!({"items": items, "next_page_token": null}))
            }
            ("POST", ["webhook"]) => self.put_webhook(me.2, None, &req.body),
            ("PUT", ["webhook", id]) => self.put_webhook(me.2, Some(id), &req.body),
            ("GET", ["workflow", id]) => match self.workflows.iter().find(|w| w.id == *id) {
                Some(w) => Resp::json(200, self.workflow_json(w)),
                None => message(404, "Workflow not found"),
            },
            ("GET", ["workflow", id, "job"]) => match self.workflows.iter().find(|w| w.id == *id) {
                Some(w) => Resp::json(
                    200,
                    json!({"items": w.jobs.iter().map(|j| self.job_json(w, j)).collect::<Vec<_>>(), "next_page_token": null}),
                ),
                None => message(404, "Workflow not found"),
            },
            ("POST", ["workflow", id, "approve", approval]) => self.approve(id, approval, me),
            ("POST", ["workflow", id, "cancel"]) => self.cancel(id),
            ("POST", ["workflow", id, "rerun"]) => self.rerun(id, &req.body),
            ("GET", ["pipeline", id]) => self.pipeline_get(id),
            ("GET", ["pipeline", id, "workflow"]) => {
                let items: Vec<Value> =
                    self.workflows.iter().filter(|w| w.pipeline_id == *id).map(|w| self.workflow_json(w)).collect();
                Resp::json(200, json!({"items": items, "next_page_token": null}))
            }
            ("GET", ["project", vcs, org, repo, "job", number]) => self.job_get(vcs, org, repo, number),
            ("GET", ["project", vcs, org, repo, number, "artifacts"]) => self.job_artifacts(vcs, org, repo, number),
            _ => message(404, &format!("No stand-in route for {} {path}", req.method)),
        }
    }

    /// `GET /context`: the contexts of an organization, named by slug or id.
    fn contexts_get(&self, req: &Req) -> Resp {
        let owner = match (req.query("owner-slug"), req.query("owner-id")) {
            (Some(slug), _) => slug.to_owned(),
            (None, Some(id)) => match self.orgs.iter().find(|o| o.id == id) {
                Some(o) => o.slug.clone(),
                None => return message(404, "Organization does not exist."),
            },
            (None, None) => return message(400, "owner-slug or owner-id is required."),
        };
        let items: Vec<Value> = self
            .contexts
            .iter()
            .filter(|c| c.owner_slug == owner)
            .map(|c| json!({"id": c.id, "name": c.name, "created_at": c.created.to_rfc3339()}))
            .collect();
        Resp::json(200, json!({"items": items, "next_page_token": null}))
    }

    /// `GET /context/{id}/restrictions`: who may use a context.
    fn context_restrictions(&self, id: &str) -> Resp {
        match self.contexts.iter().find(|c| c.id == *id) {
            Some(c) => {
                let items: Vec<Value> = c
                    .restrictions
                    .iter()
                    .map(|(rid, kind, value, name)| {
                        json!({"context_id": c.id, "id": rid, "name": name, "restriction_type": kind, "restriction_value": value})
                    })
                    .collect();
                Resp::json(200, json!({"items": items, "next_page_token": null}))
            }
            None => message(404, "Context not found"),
        }
    }

    /// `GET /organizations/{id}/groups`: an organization's groups, for its
    /// administrators.
    fn org_groups(&self, org_id: &str, me: &User) -> Resp {
        let Some(org) = self.orgs.iter().find(|o| o.id == *org_id) else {
            return message(404, "Organization does not exist.");
        };
        if !org.admins.iter().any(|a| a == me.2) {
            return message(403, "Permission denied.");
        }
        let items: Vec<Value> =
            org.groups.iter().map(|g| json!({"id": g.id, "name": g.name, "description": ""})).collect();
        let n = items.len();
        Resp::json(200, json!({"items": items, "next_page_token": null, "total_count": n}))
    }

    /// `POST /workflow/{id}/approve/{approval}`: an approval job on hold
    /// approved, and the jobs it lets run started.
    fn approve(&mut self, id: &str, approval: &str, me: &User) -> Resp {
        let Some(wf) = self.workflows.iter_mut().find(|w| w.id == *id) else {
            return message(404, "Workflow not found");
        };
        let Some(job) = wf.jobs.iter_mut().find(|j| j.kind == "approval" && j.id == *approval) else {
            return message(404, "Approval request not found");
        };
        match job.status.as_str() {
            "on_hold" => {
                job.status = "success".into();
                job.approved_by = Some(me.1.to_owned());
                Self::settle(wf);
                let mut wf = wf.clone();
                self.start_context_jobs(&mut wf);
                Self::settle(&mut wf);
                if let Some(w) = self.workflows.iter_mut().find(|w| w.id == wf.id) {
                    *w = wf;
                }
                Resp::json(202, json!({"message": "Accepted."}))
            }
            "success" => message(400, "Job already approved."),
            "blocked" => message(400, "Job is not ready to be approved: it is blocked by jobs it requires."),
            other => message(400, &format!("Job cannot be approved: it is {other}.")),
        }
    }

    /// `POST /workflow/{id}/cancel`: the workflow and its unfinished jobs
    /// canceled.
    fn cancel(&mut self, id: &str) -> Resp {
        let Some(wf) = self.workflows.iter_mut().find(|w| w.id == *id) else {
            return message(404, "Workflow not found");
        };
        wf.status = "canceled".into();
        for j in &mut wf.jobs {
            if matches!(j.status.as_str(), "running" | "on_hold" | "blocked" | "queued") {
                j.status = "canceled".into();
            }
        }
        Resp::json(202, json!({"message": "Accepted."}))
    }

    /// `GET /pipeline/{id}`: a pipeline and what triggered it.
    fn pipeline_get(&self, id: &str) -> Resp {
        match self.pipelines.iter().find(|p| p.id == *id) {
            Some(p) => Resp::json(
                200,
                json!({"id": p.id, "number": p.number, "project_slug": p.project_slug, "state": "created",
                "created_at": p.created.to_rfc3339(), "errors": [],
                "trigger": {"type": "webhook", "received_at": p.created.to_rfc3339(), "actor": {"login": p.triggered_by, "avatar_url": null}},
                "vcs": {"provider_name": "GitHub", "origin_repository_url": "", "target_repository_url": "", "revision": p.revision, "branch": p.branch}}),
            ),
            None => message(404, "Pipeline not found"),
        }
    }

    /// `GET /project/{slug}/job/{number}`: a job's details.
    fn job_get(&self, vcs: &str, org: &str, repo: &str, number: &str) -> Resp {
        match self.job_by_number(&format!("{vcs}/{org}/{repo}"), number) {
            Some((w, j)) => Resp::json(200, self.job_details(w, j)),
            None => message(404, "Job not found"),
        }
    }

    /// `GET /project/{slug}/{number}/artifacts`: a job's artifacts and where
    /// to fetch them.
    fn job_artifacts(&self, vcs: &str, org: &str, repo: &str, number: &str) -> Resp {
        match self.job_by_number(&format!("{vcs}/{org}/{repo}"), number) {
            Some((_, j)) => {
                let items: Vec<Value> = j
                    .artifacts
                    .iter()
                    .enumerate()
                    .map(|(i, (path, _))| {
                        json!({"path": path, "node_index": 0,
                               "url": format!("{}/{number}/{i}/{path}", self.artifact_base)})
                    })
                    .collect();
                Resp::json(200, json!({"items": items, "next_page_token": null}))
            }
            None => message(404, "Job not found"),
        }
    }

    /// Reruns a workflow: a new workflow of the same pipeline; jobs run
    /// again get new numbers (from start: all; `from_failed`: the failed
    /// ones and what requires them; the others keep their results).
    fn rerun(&mut self, id: &str, body: &[u8]) -> Resp {
        let opts: Value = serde_json::from_slice(body).unwrap_or(json!({}));
        let from_failed = opts.get("from_failed").and_then(Value::as_bool).unwrap_or(false);
        let Some(old) = self.workflows.iter().find(|w| w.id == id).cloned() else {
            return message(404, "Workflow not found");
        };
        let mut rerun: Vec<String> = if from_failed {
            old.jobs
                .iter()
                .filter(|j| matches!(j.status.as_str(), "failed" | "canceled"))
                .map(|j| j.name.clone())
                .collect()
        } else {
            old.jobs.iter().map(|j| j.name.clone()).collect()
        };
        // Jobs downstream of a rerun job run again too.
        loop {
            let more: Vec<String> = old
                .jobs
                .iter()
                .filter(|j| !rerun.contains(&j.name) && j.requires.iter().any(|r| rerun.contains(r)))
                .map(|j| j.name.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            rerun.extend(more);
        }
        let mut jobs = Vec::new();
        for j in &old.jobs {
            let again = rerun.contains(&j.name);
            let number = match (again, j.kind.as_str()) {
                (true, "build") => {
                    self.next_job += 1;
                    Some(self.next_job)
                }
                _ => j.number,
            };
            let status = match (again, j.kind.as_str()) {
                (true, "approval") => "blocked".to_owned(),
                (true, _) => "running".to_owned(),
                (false, _) => j.status.clone(),
            };
            // Jobs not run again keep their identity and result.
            let id = if again { self.next_id(0xb2) } else { j.id.clone() };
            jobs.push(Job {
                id,
                name: j.name.clone(),
                kind: j.kind.clone(),
                status,
                number,
                requires: j.requires.clone(),
                approved_by: j.approved_by.clone().filter(|_| !again),
                // A job run again stores its artifacts anew.
                artifacts: if again { Vec::new() } else { j.artifacts.clone() },
                context: j.context.clone(),
            });
        }
        let mut wf = Workflow {
            id: self.next_id(0xc3),
            name: old.name.clone(),
            pipeline_id: old.pipeline_id.clone(),
            status: "running".into(),
            created: Timestamp::now(),
            jobs,
        };
        Self::settle(&mut wf);
        let new_id = wf.id.clone();
        self.workflows.push(wf);
        Resp::json(202, json!({"workflow_id": new_id}))
    }
}
