//! Step 1, `changegate request`: find the ticket bound to this build, or
//! create and fill one, race-safely.
//!
//! The pure parts are [`binding`] (what a ticket allows), [`decide`] (use,
//! create or refuse) and [`fill`] (what the ticket says). [`run`] is the
//! adapter: it reads the build from CircleCI, searches and writes Jira, and
//! returns the [`State`] written to `changegate.json` for later jobs.
//!
//! Race safety: a ticket is created with its labels and its record in one
//! call; the search that follows names the new issue in `reconcileIssues`
//! (search is eventually consistent, so "found nothing" is never trusted
//! alone); when two live tickets share an idempotency key, the lowest id
//! wins and the other is cancelled as a duplicate.

pub(crate) mod decide;
pub(crate) mod fill;
mod git;

use std::path::Path;

use serde_json::{Map, json};

use self::decide::{Candidate, Decision};
use self::fill::{TicketInputs, field_help};
use crate::base::env::Env;
use crate::base::time::Timestamp;
use crate::clients::Clients;
use crate::clients::circleci::CircleCi;
use crate::clients::http::ApiError;
use crate::clients::jira::adf::{Doc, Inline};
use crate::clients::jira::{Issue, JiraError, jql};
use crate::config::Config;
use crate::config::jira::{JiraConfig, TicketField};
use crate::model::binding::{Binding, BuildJob, DeployAction, RECORD_PROPERTY, State, TicketRecord, WorkflowRef};

/// What the pipeline passes to `request`.
#[derive(Debug, Clone)]
pub(crate) struct RequestArgs {
    /// Target environment.
    pub(crate) environment: String,
    /// Plan or apply.
    pub(crate) action: DeployAction,
    /// Name of the job that built the artifact.
    pub(crate) build_job: String,
    /// Approval job that waits for the ticket.
    pub(crate) hold: Option<String>,
    /// `<< pipeline.id >>` (cross-checked with the API).
    pub(crate) pipeline_id: Option<String>,
    /// `<< pipeline.number >>` (cross-checked with the API).
    pub(crate) pipeline_number: Option<u64>,
    /// Adopt this ticket instead of finding or creating one.
    pub(crate) ticket: Option<String>,
    /// Ticket summary.
    pub(crate) summary: Option<String>,
    /// Why the change is made.
    pub(crate) justification: Option<String>,
    /// How to undo it.
    pub(crate) rollback_plan: Option<String>,
    /// Component or service.
    pub(crate) service: Option<String>,
    /// Ask for an emergency, with this reason.
    pub(crate) emergency: Option<String>,
    /// Requested without a bot (`--no-bot`): recorded on the ticket.
    pub(crate) no_bot: bool,
}

/// What CircleCI tells the job about itself (`CIRCLE_*`).
#[derive(Debug, Clone)]
pub(crate) struct BuildEnv {
    /// `CIRCLE_WORKFLOW_ID`.
    pub(crate) workflow_id: String,
    /// `CIRCLE_SHA1`.
    pub(crate) commit: Option<String>,
    /// `CIRCLE_BRANCH`.
    pub(crate) branch: Option<String>,
    /// `CIRCLE_BUILD_URL`.
    pub(crate) build_url: Option<String>,
    /// `CIRCLE_USERNAME`.
    pub(crate) username: Option<String>,
    /// `CIRCLE_PULL_REQUESTS` / `CIRCLE_PULL_REQUEST`.
    pub(crate) pull_requests: Vec<String>,
    /// The configuration file this job read, as a repository path (`None`:
    /// the built-in defaults, or a file outside the checkout).
    pub(crate) config_path: Option<String>,
}

impl BuildEnv {
    /// From the job's environment.
    pub(crate) fn from_env(env: &Env) -> Result<Self, crate::base::env::MissingVars> {
        let [workflow_id] = env.require(["CIRCLE_WORKFLOW_ID"])?;
        let prs = env
            .get("CIRCLE_PULL_REQUESTS")
            .or(env.get("CIRCLE_PULL_REQUEST"))
            .map(|s| s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        Ok(BuildEnv {
            workflow_id,
            commit: env.get("CIRCLE_SHA1").map(str::to_owned),
            branch: env.get("CIRCLE_BRANCH").map(str::to_owned),
            build_url: env.get("CIRCLE_BUILD_URL").map(str::to_owned),
            username: env.get("CIRCLE_USERNAME").map(str::to_owned),
            pull_requests: prs,
            config_path: None,
        })
    }
}

/// The URL of the build job (the artifact deployed) from this job's own
/// `CIRCLE_BUILD_URL`: job numbers are the project's, so the last path
/// segment is the job. A URL of another shape is left as it is.
pub(crate) fn build_job_url(own: &str, build_job: u64) -> String {
    let trimmed = own.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((prefix, last)) if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{prefix}/{build_job}")
        }
        _ => own.to_owned(),
    }
}

/// How the request ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RequestOutcome {
    /// The ticket is in place (approved or waiting): exit 0.
    InPlace {
        /// For `changegate.json`.
        state: State,
        /// What was done, for the log.
        actions: Vec<String>,
    },
    /// Exit 1: the named ticket is another build's, or this one's was declined.
    Refused {
        /// The ticket.
        key: String,
        /// Why.
        reason: String,
    },
    /// The environment needs no ticket: exit 0.
    NotControlled(State),
}

/// Why a request could not be completed (exit 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// A Jira call failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// A CircleCI call failed.
    #[error(transparent)]
    CircleCi(#[from] ApiError),
    /// The build is not what the pipeline says it is.
    #[error("{0}")]
    Build(String),
}

/// Fields read from tickets.
fn ticket_fields(config: &JiraConfig) -> Vec<String> {
    let mut f: Vec<String> = vec!["status".into(), "labels".into(), "summary".into(), "resolution".into()];
    for t in TicketField::ALL {
        if let Some(site) = config.fields.get(&t) {
            f.push(site.id.clone());
        }
    }
    f
}

fn candidate(issue: &Issue) -> Candidate {
    Candidate {
        key: issue.key.clone(),
        id: issue.numeric_id(),
        status: issue.status().unwrap_or_default().to_owned(),
        record: issue.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value),
    }
}

/// Resolves this build's binding through the CircleCI API.
pub(crate) fn resolve_binding(args: &RequestArgs, build: &BuildEnv, ci: &CircleCi) -> Result<Binding, RequestError> {
    let wf = ci.workflow(&build.workflow_id)?;
    if let Some(id) = &args.pipeline_id
        && *id != wf.pipeline_id
    {
        return Err(RequestError::Build(format!(
            "--pipeline-id {id} is not the pipeline of this workflow ({}); pass << pipeline.id >>",
            wf.pipeline_id
        )));
    }
    if let Some(n) = args.pipeline_number
        && n != wf.pipeline_number
    {
        return Err(RequestError::Build(format!(
            "--pipeline-number {n} is not the number of this workflow's pipeline ({})",
            wf.pipeline_number
        )));
    }
    let jobs = ci.workflow_jobs(&wf.id)?;
    let Some(job) = jobs.iter().find(|j| j.name == args.build_job && j.kind != "approval") else {
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        return Err(RequestError::Build(format!(
            "the build job {:?} is not in workflow {} (jobs: {})",
            args.build_job,
            wf.id,
            names.join(", ")
        )));
    };
    if job.status != "success" {
        return Err(RequestError::Build(format!(
            "the build job {:?} has status {}; only a successful build can be deployed",
            job.name, job.status
        )));
    }
    let number =
        job.job_number.ok_or_else(|| RequestError::Build(format!("the build job {:?} has no job number", job.name)))?;
    if let Some(hold) = &args.hold
        && !jobs.iter().any(|j| j.name == *hold && j.kind == "approval")
    {
        return Err(RequestError::Build(format!("the hold {hold:?} is not an approval job of workflow {}", wf.id)));
    }
    let pipeline = ci.pipeline(&wf.pipeline_id)?;
    let vcs = pipeline.vcs.unwrap_or(crate::clients::circleci::Vcs { revision: None, branch: None });
    let commit = vcs
        .revision
        .or(build.commit.clone())
        .ok_or_else(|| RequestError::Build("the pipeline has no commit".into()))?;
    if let Some(env_commit) = &build.commit
        && *env_commit != commit
    {
        return Err(RequestError::Build(format!("CIRCLE_SHA1 {env_commit} is not the pipeline's commit {commit}")));
    }
    let branch = vcs.branch.or(build.branch.clone()).unwrap_or_default();
    Ok(Binding {
        project_slug: wf.project_slug,
        environment: args.environment.clone(),
        action: args.action,
        branch,
        commit,
        pipeline_id: wf.pipeline_id,
        pipeline_number: wf.pipeline_number,
        build_job: BuildJob { name: job.name.clone(), number, id: job.id.clone() },
    })
}

/// The outcome for an environment that needs no ticket.
pub(crate) fn run_uncontrolled(args: &RequestArgs) -> RequestOutcome {
    RequestOutcome::NotControlled(State {
        schema_version: 1,
        controlled: false,
        environment: args.environment.clone(),
        ticket: None,
        url: None,
        status: None,
        binding: None,
        missing_fields: Vec::new(),
    })
}

/// Runs a request. `cwd` is the checkout (for the commit list).
pub(crate) fn run(
    args: &RequestArgs,
    build: &BuildEnv,
    config: &Config,
    svc: &Clients,
    cwd: &Path,
) -> Result<RequestOutcome, RequestError> {
    if !config.is_controlled(&args.environment) {
        return Ok(run_uncontrolled(args));
    }
    let jc = &config.jira;
    let binding = resolve_binding(args, build, &svc.circleci)?;
    let fields: Vec<String> = ticket_fields(jc);
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let by_key = format!(
        "project = {} AND labels = {} ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(&binding.key_label())
    );
    let rq = Request { args, build, config, svc, binding: &binding, field_refs: &field_refs, by_key: &by_key };

    let mut actions = Vec::new();
    let decision = match &args.ticket {
        Some(key) => {
            let issue = svc.jira.issue(key, &field_refs, &[RECORD_PROPERTY])?;
            decide::decide_adoption(&binding, &build.workflow_id, &candidate(&issue), &jc.statuses)
        }
        None => {
            let found = svc.jira.search(&by_key, &field_refs, &[RECORD_PROPERTY], &[])?;
            decide::decide(&binding, &build.workflow_id, &found.iter().map(candidate).collect::<Vec<_>>(), &jc.statuses)
        }
    };
    check_emergency(args, config)?;
    let inputs = TicketInputs {
        summary: args.summary.clone(),
        justification: args.justification.clone().or_else(|| args.emergency.clone()),
        rollback_plan: args.rollback_plan.clone(),
        service: args.service.clone(),
        change_type: if args.emergency.is_some() { "emergency" } else { "normal" }.into(),
        build_url: build.build_url.as_deref().map(|u| build_job_url(u, binding.build_job.number)),
        workflows: vec![build.workflow_id.clone()],
        pull_requests: build.pull_requests.clone(),
        commits: commit_list(&binding, config, svc, cwd)?,
        requested_by: build.username.clone(),
        record_text: None,
    };
    let workflow =
        WorkflowRef { id: build.workflow_id.clone(), hold: args.hold.clone(), added_at: Timestamp::now().to_rfc3339() };

    let (key, mut duplicates) = match decision {
        Decision::Refuse { key, reason } => return Ok(RequestOutcome::Refused { key, reason }),
        Decision::Create => create_settled(&rq, &inputs, &workflow, &mut actions)?,
        Decision::Use { key, rebind, add_workflow, duplicates } => {
            let note = update(&key, &binding, &inputs, &workflow, rebind, add_workflow, build, jc, svc, args.no_bot)?;
            actions.extend(note);
            (key, duplicates)
        }
    };
    duplicates.retain(|d| *d != key);
    cancel_others(&rq, &key, &duplicates, &mut actions)?;
    if let Some(reason) = &args.emergency {
        actions.extend(mark_emergency(svc, config, &key, reason, build.username.as_deref())?);
    }
    let (status, missing) = ask_for_missing(&rq, &key, &inputs, &mut actions)?;
    let state = State {
        schema_version: 1,
        controlled: true,
        environment: binding.environment.clone(),
        ticket: Some(key.clone()),
        url: Some(svc.jira.browse_url(&key)),
        status: Some(status),
        binding: Some(binding),
        missing_fields: missing.iter().map(|f| f.name().to_owned()).collect(),
    };
    Ok(RequestOutcome::InPlace { state, actions })
}

/// What every step of a request reads.
struct Request<'a> {
    /// The request's arguments.
    args: &'a RequestArgs,
    /// The build job's environment.
    build: &'a BuildEnv,
    /// The configuration.
    config: &'a Config,
    /// The services.
    svc: &'a Clients,
    /// The deploy the ticket is for.
    binding: &'a Binding,
    /// The ticket fields read.
    field_refs: &'a [&'a str],
    /// The search for the tickets of this deploy.
    by_key: &'a str,
}

/// An emergency needs a break-glass group on the site and a reason.
fn check_emergency(args: &RequestArgs, config: &Config) -> Result<(), RequestError> {
    if let Some(reason) = &args.emergency {
        if config.emergency.group.is_none() {
            return Err(RequestError::Build(
                "--emergency: this site has no break-glass group ([emergency] group in the configuration)".into(),
            ));
        }
        if reason.trim().is_empty() {
            return Err(RequestError::Build("--emergency needs a --reason that says why it cannot wait".into()));
        }
    }
    Ok(())
}

/// Creates the ticket, then settles a race with a concurrent request: the
/// ticket to use (the other request's when it won, with this workflow
/// recorded there) and the duplicates to cancel.
fn create_settled(
    rq: &Request<'_>,
    inputs: &TicketInputs,
    workflow: &WorkflowRef,
    actions: &mut Vec<String>,
) -> Result<(String, Vec<String>), RequestError> {
    let (args, build, svc, binding, jc) = (rq.args, rq.build, rq.svc, rq.binding, &rq.config.jira);
    let created = create(binding, inputs, workflow, build, jc, svc, args.no_bot)?;
    actions.push(format!("created {}", created.key));
    // Settle a race: search again, naming the new issue so an index
    // that has not caught up still returns it.
    let id: u64 = created.id.parse().unwrap_or(0);
    let found = svc.jira.search(rq.by_key, rq.field_refs, &[RECORD_PROPERTY], &[id])?;
    let all: Vec<Candidate> = found.iter().map(candidate).collect();
    Ok(match decide::decide(binding, &build.workflow_id, &all, &jc.statuses) {
        Decision::Use { key, rebind, add_workflow, duplicates } => {
            // Another request won the race: record this workflow there.
            if key != created.key {
                actions.extend(update(
                    &key,
                    binding,
                    inputs,
                    workflow,
                    rebind,
                    add_workflow,
                    build,
                    jc,
                    svc,
                    args.no_bot,
                )?);
            }
            (key, duplicates)
        }
        // The new ticket is not visible even when reconciled: use it.
        _ => (created.key, Vec::new()),
    })
}

/// Cancels the `duplicates` of ticket `key` for the same deploy, then the
/// stream's tickets it supersedes.
fn cancel_others(
    rq: &Request<'_>,
    key: &str,
    duplicates: &[String],
    actions: &mut Vec<String>,
) -> Result<(), RequestError> {
    let (svc, jc) = (rq.svc, &rq.config.jira);
    for dup in duplicates {
        close_as(
            svc,
            jc,
            dup,
            &jc.transitions.cancel,
            &jc.resolutions.duplicate,
            &format!("Cancelled by changegate: a duplicate of {key} for the same deploy."),
            "duplicate",
        )?;
        actions.push(format!("cancelled {dup} as a duplicate of {key}"));
    }
    for old in supersede(rq.binding, key, rq.config, svc)? {
        actions.push(format!("cancelled {old}: superseded by {key}"));
    }
    Ok(())
}

/// Asks for what is missing on ticket `key`, once, and moves an open
/// ticket to wait for it. Returns the ticket's status and the fields
/// missing.
fn ask_for_missing(
    rq: &Request<'_>,
    key: &str,
    inputs: &TicketInputs,
    actions: &mut Vec<String>,
) -> Result<(String, Vec<TicketField>), RequestError> {
    let (svc, jc) = (rq.svc, &rq.config.jira);
    let issue = svc.jira.issue(key, rq.field_refs, &[RECORD_PROPERTY])?;
    let missing = fill::fill(rq.binding, inputs, jc, Some(&issue.fields)).missing;
    let mut status = issue.status().unwrap_or_default().to_owned();
    if !missing.is_empty() {
        let lines: Vec<Vec<Inline>> = missing.iter().map(|f| vec![Inline::Text(field_help(*f, jc))]).collect();
        let marker =
            format!("changegate:missing-fields:{}", missing.iter().map(|f| f.name()).collect::<Vec<_>>().join(","));
        let body = Doc::new()
            .text("This change request needs input before it can be approved. Please complete:")
            .bullets(lines)
            .text("The deploy waits at its hold in CircleCI until the ticket is approved.");
        if comment_once(svc, key, &marker, body)? {
            actions.push(format!("asked for {} missing field(s)", missing.len()));
        }
        if status.eq_ignore_ascii_case(&jc.statuses.open) {
            wait_for_input(svc, jc, key)?;
            status = svc.jira.issue(key, &["status"], &[])?.status().unwrap_or_default().to_owned();
        }
    }
    Ok((status, missing))
}

/// Moves open ticket `key` to wait for input.
fn wait_for_input(svc: &Clients, jc: &JiraConfig, key: &str) -> Result<(), RequestError> {
    match svc.jira.transition(key, &jc.transitions.waiting_for_input, None) {
        Ok(()) => {}
        // The site may not have that transition from here (the
        // comment still says what is missing), or a concurrent run
        // moved the ticket first: read where it is now.
        Err(JiraError::TransitionUnavailable { .. }) => {}
        Err(JiraError::Api(e)) if e.status() == Some(400) => {
            let now = svc.jira.issue(key, &["status"], &[])?;
            if now.status().is_some_and(|s| s.eq_ignore_ascii_case(&jc.statuses.open)) {
                return Err(JiraError::Api(e).into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Marks the ticket as an emergency asked for (record, label, change type,
/// a comment naming who may grant it), each once. Only Jira grants it.
fn mark_emergency(
    svc: &Clients,
    config: &Config,
    key: &str,
    reason: &str,
    requested_by: Option<&str>,
) -> Result<Vec<String>, RequestError> {
    use crate::model::binding::EMERGENCY_LABEL;
    use crate::model::binding::EmergencyRequest;
    let jc = &config.jira;
    let mut notes = Vec::new();
    let mut wanted = vec!["labels".to_owned()];
    let change_type = jc.site_field(TicketField::ChangeType);
    wanted.extend(change_type.as_ref().map(|f| f.id.clone()));
    let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let issue = svc.jira.issue(key, &refs, &[RECORD_PROPERTY])?;
    if let Some(mut record) = issue.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value)
        && record.emergency.is_none()
    {
        record.emergency = Some(EmergencyRequest {
            reason: reason.to_owned(),
            requested_by: requested_by.map(str::to_owned),
            requested_at: Timestamp::now().to_rfc3339(),
        });
        svc.jira.set_property(key, RECORD_PROPERTY, &record.to_value())?;
        notes.push(format!("asked for an emergency on {key}"));
    }
    let mut fields = Map::new();
    let labels = issue.labels();
    if !labels.contains(&EMERGENCY_LABEL) {
        let mut l: Vec<&str> = labels;
        l.push(EMERGENCY_LABEL);
        fields.insert("labels".into(), json!(l));
    }
    if let Some(site) = change_type {
        let value = fill::encode(site.kind, "emergency");
        if issue.fields.get(&site.id) != Some(&value) {
            fields.insert(site.id.clone(), value);
        }
    }
    if !fields.is_empty() {
        svc.jira.edit(key, fields)?;
    }
    let group = config.emergency.group.as_deref().unwrap_or_default();
    let within = config.emergency.retrospective_within.as_secs() / 3600;
    let body = Doc::new()
        .paragraph(vec![
            Inline::Strong("EMERGENCY change requested".into()),
            Inline::Text(format!(" by {}: {reason}", requested_by.unwrap_or("the pipeline"))),
        ])
        .text(&format!(
            "Only a member of the Jira group {group} may grant it, with the \"Emergency approve\" transition. \
             A retrospective ticket is opened when it is granted, due within {within} h."
        ));
    if comment_once(svc, key, "changegate:emergency-requested", body)? {
        notes.push(format!("asked {group} to grant the emergency"));
    }
    Ok(notes)
}

/// Labels of a ticket for this binding: the configured ones, the key,
/// stream and binding labels, and whatever else the ticket has.
fn labels(existing: &[&str], binding: &Binding, jc: &JiraConfig) -> Vec<String> {
    let mut l: Vec<String> =
        existing.iter().filter(|l| !l.starts_with("changegate-binding-")).map(|s| (*s).to_owned()).collect();
    for add in jc.labels.iter().cloned().chain([binding.key_label(), binding.stream_label(), binding.binding_label()]) {
        if !l.contains(&add) {
            l.push(add);
        }
    }
    l
}

fn create(
    binding: &Binding,
    inputs: &TicketInputs,
    workflow: &WorkflowRef,
    build: &BuildEnv,
    jc: &JiraConfig,
    svc: &Clients,
    no_bot: bool,
) -> Result<crate::clients::jira::Created, RequestError> {
    let filled = fill::fill(binding, inputs, jc, None);
    let mut fields = filled.fields;
    fields.insert("project".into(), json!({"key": jc.project}));
    fields.insert("issuetype".into(), json!({"name": jc.issue_type}));
    fields.insert("labels".into(), json!(labels(&[], binding, jc)));
    let mut record = TicketRecord::new(binding.clone(), build.username.clone());
    record.workflows.push(workflow.clone());
    record.no_bot = no_bot;
    record.config_paths.extend(build.config_path.clone());
    Ok(svc.jira.create(fields, &[(RECORD_PROPERTY, record.to_value())])?)
}

#[allow(clippy::too_many_arguments)]
fn update(
    key: &str,
    binding: &Binding,
    inputs: &TicketInputs,
    workflow: &WorkflowRef,
    rebind: bool,
    add_workflow: bool,
    build: &BuildEnv,
    jc: &JiraConfig,
    svc: &Clients,
    no_bot: bool,
) -> Result<Vec<String>, RequestError> {
    let mut notes = Vec::new();
    let fields = ticket_fields(jc);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let issue = svc.jira.issue(key, &refs, &[RECORD_PROPERTY])?;
    let old = issue.properties.get(RECORD_PROPERTY).and_then(TicketRecord::from_value);
    let mut record = match &old {
        Some(r) => r.clone(),
        None => TicketRecord::new(binding.clone(), build.username.clone()),
    };
    if let Some(path) = &build.config_path
        && !record.config_paths.contains(path)
    {
        record.config_paths.push(path.clone());
    }
    if rebind {
        record.binding = binding.clone();
        record.binding_digest = binding.digest();
        record.idempotency_key = binding.idempotency_key();
        notes.push(if old.is_some() {
            format!(
                "rebound {key} to build job {} #{}: an earlier approval no longer counts",
                binding.build_job.name, binding.build_job.number
            )
        } else {
            format!("adopted {key}")
        });
    }
    if add_workflow && !record.workflows.iter().any(|w| w.id == workflow.id) {
        record.workflows.push(workflow.clone());
        notes.push(format!("added workflow {} to {key}", workflow.id));
    }
    // Once a run without a bot touched it, the ticket says so for good.
    record.no_bot |= no_bot;
    if old.as_ref() != Some(&record) {
        svc.jira.set_property(key, RECORD_PROPERTY, &record.to_value())?;
    }
    if rebind || add_workflow {
        let mut inputs = inputs.clone();
        inputs.workflows = record.workflows.iter().map(|w| w.id.clone()).collect();
        inputs.record_text = Some(crate::model::binding::mirror_text(&record));
        let mut f = fill::fill(binding, &inputs, jc, Some(&issue.fields)).fields;
        f.insert("labels".into(), json!(labels(&issue.labels(), binding, jc)));
        svc.jira.edit(key, f)?;
    }
    if notes.is_empty() {
        notes.push(format!("found {key}"));
    }
    Ok(notes)
}

/// Adds a comment unless one with `marker` is already there. The marker is
/// the last line of the comment, so a repeat of any step is a no-op.
fn comment_once(svc: &Clients, key: &str, marker: &str, body: Doc) -> Result<bool, RequestError> {
    Ok(crate::steps::ticket::comment_once(&svc.jira, key, marker, body)?)
}

/// Closes a ticket with a transition, setting the resolution when the
/// transition's screen takes one, after a comment saying why.
pub(crate) fn close_as(
    svc: &Clients,
    jc: &JiraConfig,
    key: &str,
    transition: &str,
    resolution: &str,
    why: &str,
    marker: &str,
) -> Result<(), RequestError> {
    // Another run may have closed it already: then there is nothing to do.
    let status = svc.jira.issue(key, &["status"], &[])?.status().unwrap_or_default().to_owned();
    if jc.statuses.is_closed(&status) {
        return Ok(());
    }
    comment_once(svc, key, &format!("changegate:{marker}"), Doc::new().text(why))?;
    let mut f = Map::new();
    f.insert("resolution".into(), json!({"name": resolution}));
    let closed_now = || -> Result<bool, RequestError> {
        let status = svc.jira.issue(key, &["status"], &[])?.status().unwrap_or_default().to_owned();
        Ok(jc.statuses.is_closed(&status))
    };
    match svc.jira.transition(key, transition, Some(f)) {
        Ok(()) => Ok(()),
        // A concurrent run closed it between our read and our transition.
        Err(_) if closed_now()? => Ok(()),
        // The screen takes no resolution: close without it.
        Err(JiraError::Api(e)) if e.status() == Some(400) => match svc.jira.transition(key, transition, None) {
            Err(_) if closed_now()? => Ok(()),
            other => Ok(other?),
        },
        Err(e) => Err(e.into()),
    }
}

/// Cancels live tickets of older pipelines of the same repository and
/// environment whose workflows have all finished. Returns their keys.
fn supersede(binding: &Binding, ours: &str, config: &Config, svc: &Clients) -> Result<Vec<String>, RequestError> {
    let jc = &config.jira;
    let closed: Vec<&str> = jc.statuses.closed().to_vec();
    let q = format!(
        "project = {} AND labels = {} AND status not in ({}) ORDER BY created ASC",
        jql::string(&jc.project),
        jql::string(&binding.stream_label()),
        closed.iter().map(|s| jql::string(s)).collect::<Vec<_>>().join(", ")
    );
    let found = svc.jira.search(&q, &["status", "labels"], &[RECORD_PROPERTY], &[])?;
    let mut stream = Vec::new();
    for issue in found.iter().filter(|i| i.key != ours) {
        let c = candidate(issue);
        let Some(r) = &c.record else { continue };
        if r.binding.pipeline_number >= binding.pipeline_number {
            continue;
        }
        let mut active = false;
        for w in &r.workflows {
            match svc.circleci.workflow(&w.id) {
                Ok(wf) => active |= wf.is_active(),
                // A workflow CircleCI no longer knows is not running.
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        stream.push((c, active));
    }
    let old = decide::superseded(binding, &stream, &jc.statuses);
    for key in &old {
        let why = format!(
            "Cancelled by changegate: superseded by {ours} (pipeline #{}); no workflow of this ticket is still running.",
            binding.pipeline_number
        );
        close_as(svc, jc, key, &jc.transitions.cancel, &jc.resolutions.cancelled, &why, "superseded")?;
        let _ = svc.jira.remote_link(
            key,
            &format!("changegate:superseded-by:{ours}"),
            &svc.jira.browse_url(ours),
            &format!("Superseded by {ours}"),
        );
    }
    Ok(old)
}

/// The commits since the last approved deploy, from the local checkout.
fn commit_list(
    binding: &Binding,
    config: &Config,
    svc: &Clients,
    cwd: &Path,
) -> Result<fill::CommitList, RequestError> {
    let base = crate::steps::ticket::last_done(&svc.jira, binding, &config.jira)?;
    let (base_ticket, base_commit) = base.map_or((None, None), |(k, c)| (Some(k), Some(c)));
    let (commits, note) = git::commits_between(cwd, base_commit.as_deref(), &binding.commit);
    Ok(fill::CommitList { base_ticket, base_commit, commits, note })
}

/// The text a person reads after `request`.
pub(crate) fn render(outcome: &RequestOutcome) -> String {
    match outcome {
        RequestOutcome::NotControlled(s) => {
            format!("{} is not a controlled environment: no change ticket is needed.\n", s.environment)
        }
        RequestOutcome::Refused { key, reason } => format!("REFUSED: {reason} ({key})\n"),
        RequestOutcome::InPlace { state, actions } => {
            let mut s = String::new();
            for a in actions {
                s.push_str(&format!("- {a}\n"));
            }
            let key = state.ticket.as_deref().unwrap_or_default();
            s.push_str(&format!(
                "{key} ({}): {}\n",
                state.status.as_deref().unwrap_or("unknown status"),
                state.url.as_deref().unwrap_or_default()
            ));
            if !state.missing_fields.is_empty() {
                s.push_str(&format!("waiting for input: {}\n", state.missing_fields.join(", ")));
            }
            s
        }
    }
}
