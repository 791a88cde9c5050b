//! `changegate setup circleci`: the CircleCI side of a gated deploy, checked
//! and (with `--apply`) made.
//!
//! What it needs, in the order it is applied:
//!
//! - each **production context** (`[lock] contexts`, default
//!   [`DEFAULT_PRODUCTION_CONTEXT`]) exists and is locked: restricted to the
//!   security group (its id, looked up by name among the organization's
//!   groups, `GET /organizations/{org_id}/groups`), or, for an organization
//!   on CircleCI's GitHub App, which has no security groups
//!   (`[lock] github_app`), to the project; and in both cases by an
//!   expression that refuses SSH reruns and other branches;
//! - the **CI context** (`[lock] ci_context`, default [`DEFAULT_CI_CONTEXT`]),
//!   which holds the CI Jira user, a CircleCI read token and the bot's public
//!   key;
//! - the project's **outbound webhook** to the bot (`--bot-url`): HTTPS,
//!   `workflow-completed` and `job-completed` (CircleCI has no event for a
//!   hold that starts waiting: the bot learns that from Jira and its
//!   reconcile), signed with the newest secret of
//!   [`SECRET_VAR`], the variable the bot verifies deliveries with;
//! - `[lock]` of the configuration naming the organization and the contexts,
//!   so `config check --probe` and the bot check the lock.
//!
//! Restrictions only ever tighten: a context without one gets it added
//! (restrictions of different types combine with AND); a context restricted
//! to another group or project is reported with the steps to change it by
//! hand, because adding ours would admit more people (several groups or
//! projects of one context admit a member of any). Whether an existing
//! context is locked is [`crate::steps::lock::judge_context`]'s verdict, the one
//! `config check --probe` gives.

use std::collections::BTreeMap;

use super::{Action, Plan, Step};
use crate::clients::circleci::{CircleCi, Context, Group, Project, Restriction, Webhook, WebhookSpec};
use crate::clients::http::{ApiError, Secret};
use crate::steps::lock::{Locked, judge_context};

/// The production context's name when `[lock] contexts` names none (the
/// orb's examples use it).
pub(crate) const DEFAULT_PRODUCTION_CONTEXT: &str = "production-aws";
/// The CI context's name when `[lock] ci_context` is not set (the orb's
/// examples use it).
pub(crate) const DEFAULT_CI_CONTEXT: &str = "change-management-ci";
/// The webhook's name.
pub(crate) const WEBHOOK_NAME: &str = "changegate";
/// The events the bot needs.
pub(crate) const WEBHOOK_EVENTS: &[&str] = &["workflow-completed", "job-completed"];
/// Where the bot receives CircleCI deliveries, below its address.
pub(crate) const WEBHOOK_PATH: &str = "/webhooks/circleci";
/// The bot's CircleCI webhook secrets (comma-separated; the newest last).
pub(crate) const SECRET_VAR: &str = "CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS";
/// What CircleCI requires to create contexts, restrict them and list groups.
pub(crate) const ADMIN: &str = "CircleCI organization admin";

/// The security group that holds the key to the production contexts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GroupRef {
    /// By name, looked up among the organization's groups.
    Named(String),
    /// By id, as given.
    Id(String),
    /// Not named anywhere.
    Unnamed,
}

/// The webhook to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WebhookNeed {
    /// No bot runs: no webhook.
    NoBot,
    /// A bot runs but its address was not given.
    NoUrl,
    /// Deliveries go to `url`; `secret_set`: [`SECRET_VAR`] holds a secret.
    Url {
        /// The full delivery URL (HTTPS, ending in [`WEBHOOK_PATH`]).
        url: String,
        /// Whether a signing secret is available.
        secret_set: bool,
    },
}

/// What the organization needs, from the configuration and the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Needs {
    /// Production contexts.
    pub(crate) production_contexts: Vec<String>,
    /// The CI context.
    pub(crate) ci_context: String,
    /// The organization is on CircleCI's GitHub App (no security groups).
    pub(crate) github_app: bool,
    /// The security group.
    pub(crate) group: GroupRef,
    /// The branch the expression restriction admits (default: the project's default branch).
    pub branch: Option<String>,
    /// The webhook.
    pub(crate) webhook: WebhookNeed,
    /// `[lock] owner_slug` as configured.
    pub(crate) lock_owner: Option<String>,
    /// `[lock] contexts` as configured.
    pub(crate) lock_contexts: Vec<String>,
}

/// The organization's groups, as far as this token could read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Groups {
    /// Not needed, so not read.
    NotRead,
    /// Every group.
    Read(Vec<Group>),
    /// CircleCI refused the listing to this token (403; its message).
    Denied(String),
    /// CircleCI has no groups listing for the organization (404; its message).
    Unlisted(String),
}

/// A needed context that exists, with its restrictions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContextFacts {
    /// The context.
    pub(crate) context: Context,
    /// Its restrictions.
    pub(crate) restrictions: Vec<Restriction>,
}

/// What exists in the organization (plain data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The project (and through it the organization's id and slug).
    pub(crate) project: Project,
    /// The needed contexts that exist.
    pub(crate) contexts: Vec<ContextFacts>,
    /// The organization's groups.
    pub(crate) groups: Groups,
    /// The project's webhooks (`None`: not needed, so not read).
    pub(crate) webhooks: Option<Vec<Webhook>>,
}

impl Snapshot {
    fn context(&self, name: &str) -> Option<&ContextFacts> {
        self.contexts.iter().find(|c| c.context.name == name)
    }
}

/// Reading the organization failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The project cannot be read.
    #[error("CircleCI project {slug} cannot be read (it does not exist, or this token cannot see it): {source}")]
    Project {
        /// The project slug.
        slug: String,
        /// Why.
        source: ApiError,
    },
    /// The project is another organization's.
    #[error("project {project} belongs to organization {slug} ({id}), not {org}")]
    OtherOrganization {
        /// The project.
        project: String,
        /// Its organization's slug.
        slug: String,
        /// Its organization's id.
        id: String,
        /// The organization named.
        org: String,
    },
    /// Another read failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The project slug for `project` in `org`: a slug (`gh/acme/web`) as is,
/// a bare name prefixed with the organization (`gh/acme` + `web`, or
/// `circleci/<org id>/<project id>` for an organization given by id).
pub(crate) fn project_slug(org: &str, project: &str) -> String {
    if project.contains('/') {
        project.to_owned()
    } else if org.contains('/') {
        format!("{}/{project}", org.trim_end_matches('/'))
    } else {
        format!("circleci/{org}/{project}")
    }
}

/// Reads what the organization of `project_slug` has of what `needs` names.
/// `org` (a slug or an id) must be the project's organization.
pub(crate) fn read(ci: &CircleCi, needs: &Needs, org: &str, project_slug: &str) -> Result<Snapshot, ReadError> {
    let project =
        ci.project(project_slug).map_err(|source| ReadError::Project { slug: project_slug.to_owned(), source })?;
    if !org.eq_ignore_ascii_case(&project.organization_slug) && !org.eq_ignore_ascii_case(&project.organization_id) {
        return Err(ReadError::OtherOrganization {
            project: project.slug,
            slug: project.organization_slug,
            id: project.organization_id,
            org: org.to_owned(),
        });
    }
    let all = ci.contexts_of_owner(&project.organization_id)?;
    let mut contexts = Vec::new();
    for name in needs.production_contexts.iter().chain(std::iter::once(&needs.ci_context)) {
        if let Some(c) = all.iter().find(|c| c.name == *name)
            && !contexts.iter().any(|f: &ContextFacts| f.context.id == c.id)
        {
            let restrictions = ci.context_restrictions(&c.id)?;
            contexts.push(ContextFacts { context: c.clone(), restrictions });
        }
    }
    let groups = if !needs.github_app && matches!(needs.group, GroupRef::Named(_)) {
        match ci.groups(&project.organization_id) {
            Ok(list) => Groups::Read(list),
            Err(e) if e.status() == Some(403) => Groups::Denied(e.to_string()),
            Err(e) if e.status() == Some(404) => Groups::Unlisted(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    } else {
        Groups::NotRead
    };
    let webhooks = match &needs.webhook {
        WebhookNeed::Url { .. } => Some(ci.webhooks(&project.id)?),
        WebhookNeed::NoBot | WebhookNeed::NoUrl => None,
    };
    Ok(Snapshot { project, contexts, groups, webhooks })
}

/// One change the plan makes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    CreateContext { name: String },
    AddRestriction { context: String, kind: &'static str, value: String },
    CreateWebhook { url: String },
    UpdateWebhook { id: String, url: String },
}

/// Group names compare without case, spaces as dashes (a team's name and
/// its slug).
fn same_group(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace(' ', "-");
    norm(a) == norm(b)
}

/// The security group, resolved.
enum Resolved {
    /// Its id and how to show it.
    Id { id: String, shown: String },
    /// This token cannot learn it.
    Blocked(String),
    /// A person must name or create it.
    Manual(String),
}

fn resolve_group(needs: &Needs, snap: &Snapshot) -> Resolved {
    match (&needs.group, &snap.groups) {
        (GroupRef::Id(id), Groups::Read(list)) => {
            let shown = list.iter().find(|g| g.id == *id).map_or_else(|| id.clone(), |g| format!("{} ({id})", g.name));
            Resolved::Id { id: id.clone(), shown }
        }
        (GroupRef::Id(id), _) => Resolved::Id { id: id.clone(), shown: id.clone() },
        (GroupRef::Named(name), Groups::Read(list)) => match list.iter().find(|g| same_group(&g.name, name)) {
            Some(g) => Resolved::Id { id: g.id.clone(), shown: format!("{} ({})", g.name, g.id) },
            None => {
                let known: Vec<&str> = list.iter().map(|g| g.name.as_str()).collect();
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                Resolved::Manual(format!(
                    "the organization has no group named {name:?} (its groups: {known}): create it (Organization \
                     Settings > Groups) with the bot's CircleCI user and the break-glass people, or name another with \
                     --group, or give its id with --group-id"
                ))
            }
        },
        (GroupRef::Named(name), Groups::Denied(why)) => Resolved::Blocked(format!(
            "the group {name:?} cannot be looked up: this token may not list the organization's groups ({why}); run \
             setup with an organization admin's token, or give the group's id with --group-id"
        )),
        (GroupRef::Named(name), Groups::Unlisted(why)) => Resolved::Manual(format!(
            "the organization's groups cannot be listed ({why}), so {name:?} has no id: give it with --group-id (the \
             restriction_value of a group restriction on any context restricted to it)"
        )),
        (GroupRef::Named(name), Groups::NotRead) => Resolved::Manual(format!(
            "the organization's groups were not read, so {name:?} has no id: give it with --group-id"
        )),
        (GroupRef::Unnamed, _) => Resolved::Manual(
            "name the security group that holds the key (the bot's CircleCI user and the break-glass people): \
             --group NAME, or [lock] team = \"org/team-slug\" (its slug is the group's name), or --group-id ID"
                .to_owned(),
        ),
    }
}

/// The expression every production context needs: the deploy branch only,
/// and never a rerun with SSH (which would expose the context in a shell).
pub(crate) fn expression(branch: &str) -> String {
    let quoted = branch.replace('\\', "\\\\").replace('"', "\\\"");
    format!("pipeline.git.branch == \"{quoted}\" and not job.ssh.enabled")
}

/// The part of the expression that refuses SSH reruns, added beside an
/// expression that lacks it (expressions combine with AND).
pub(crate) const NO_SSH: &str = "not job.ssh.enabled";

fn of_type<'a>(rs: &'a [Restriction], kind: &str) -> Vec<&'a Restriction> {
    rs.iter().filter(|r| r.restriction_type.eq_ignore_ascii_case(kind)).collect()
}

fn value(r: &Restriction) -> &str {
    r.restriction_value.as_deref().unwrap_or("")
}

fn shown(r: &Restriction) -> String {
    match r.name.as_deref().filter(|n| !n.is_empty() && *n != value(r)) {
        Some(n) => format!("{n} ({})", value(r)),
        None => value(r).to_owned(),
    }
}

/// The steps for one production context, and the changes they make.
fn production_context(name: &str, needs: &Needs, snap: &Snapshot, out: &mut Vec<(Step, Option<Op>)>) {
    let facts = snap.context(name);
    let existing: &[Restriction] = facts.map_or(&[], |f| f.restrictions.as_slice());
    match facts {
        None => out.push((
            Step::new(
                "context",
                name,
                Action::Create,
                "holds the production credentials (AWS keys or the OIDC role): add them in Organization Settings > \
                 Contexts once it exists",
            ),
            Some(Op::CreateContext { name: name.to_owned() }),
        )),
        Some(f) => {
            let v = judge_context(&f.restrictions, needs.github_app);
            let detail = match &v.locked {
                Locked::Group => "exists; locked by a security group".to_owned(),
                Locked::ProjectAndExpression => "exists; locked by project and expression restrictions".to_owned(),
                Locked::No(why) => format!("exists; not locked yet: {why}"),
            };
            out.push((Step::new("context", name, Action::Present, detail), None));
        }
    }
    let ctx = NewRestriction { context: name, create: facts.is_none() };
    // Who holds the key: the security group, or (GitHub App) the project.
    if needs.github_app {
        out.push(project_restriction(&ctx, existing, snap));
    } else {
        out.push(group_restriction(&ctx, existing, needs, snap));
    }
    out.push(expression_restriction(&ctx, existing, needs, snap));
}

/// A production context a restriction is added to.
struct NewRestriction<'a> {
    /// The context's name.
    context: &'a str,
    /// The context is created too.
    create: bool,
}

impl NewRestriction<'_> {
    /// The step adding a restriction of `kind` with `value`.
    fn add(&self, kind: &'static str, value: String, detail: String) -> (Step, Option<Op>) {
        let name = self.context;
        let action = if self.create { Action::Create } else { Action::Change };
        (
            Step::new("restriction", format!("{name}: {kind}"), action, detail),
            Some(Op::AddRestriction { context: name.to_owned(), kind, value }),
        )
    }
}

/// The project restriction (GitHub App: no security groups): present,
/// another project's (left to a person), or added.
fn project_restriction(ctx: &NewRestriction<'_>, existing: &[Restriction], snap: &Snapshot) -> (Step, Option<Op>) {
    let name = ctx.context;
    let project = &snap.project;
    let projects = of_type(existing, "project");
    let shown_project = format!("{} ({})", project.slug, project.id);
    if projects.iter().any(|r| value(r) == project.id) {
        (Step::new("restriction", format!("{name}: project"), Action::Present, format!("to {shown_project}")), None)
    } else if let Some(other) = projects.first() {
        (
            Step::new(
                "restriction",
                format!("{name}: project"),
                Action::Manual,
                format!(
                    "restricted to project {} rather than {shown_project}; adding it would let one more project \
                     use the context, so changegate leaves that to you: Organization Settings > Contexts > {name} \
                     > Project restrictions > Add project restriction",
                    shown(other)
                ),
            ),
            None,
        )
    } else {
        ctx.add(
            "project",
            project.id.clone(),
            format!("to {shown_project}: an organization on the GitHub App has no security groups"),
        )
    }
}

/// The security group restriction: present, other groups' (left to a
/// person: adding one opens the context to more people), or added when
/// the group resolves.
fn group_restriction(
    ctx: &NewRestriction<'_>,
    existing: &[Restriction],
    needs: &Needs,
    snap: &Snapshot,
) -> (Step, Option<Op>) {
    let name = ctx.context;
    let groups = of_type(existing, "group");
    let resolved = resolve_group(needs, snap);
    let wanted_name = match &needs.group {
        GroupRef::Named(n) => Some(n.as_str()),
        _ => None,
    };
    let matches = |r: &&&Restriction| match &resolved {
        Resolved::Id { id, .. } => value(r) == id,
        _ => wanted_name.is_some_and(|w| r.name.as_deref().is_some_and(|n| same_group(n, w))),
    };
    let step = |action: Action, detail: String| Step::new("restriction", format!("{name}: group"), action, detail);
    if let Some(r) = groups.iter().find(matches) {
        (step(Action::Present, format!("to group {}", shown(r))), None)
    } else if !groups.is_empty() {
        let others: Vec<String> = groups.iter().map(|r| shown(r)).collect();
        let wanted = match &resolved {
            Resolved::Id { shown, .. } => shown.clone(),
            _ => wanted_name.unwrap_or("the security group").to_owned(),
        };
        (
            step(
                Action::Manual,
                format!(
                    "restricted to group {} rather than {wanted}; a member of any group of a context may use it, \
                     so adding {wanted} would open it to more people and changegate does not: if {wanted} should \
                     hold the key, add it in Organization Settings > Contexts > {name} > Security and remove {}",
                    others.join(", "),
                    others.join(", ")
                ),
            ),
            None,
        )
    } else {
        match resolved {
            Resolved::Id { id, shown } => ctx.add(
                "group",
                id,
                format!("to group {shown}: only its members (the bot's user, break-glass people) unlock the context"),
            ),
            Resolved::Blocked(why) => (step(Action::Blocked { permission: ADMIN.to_owned() }, why), None),
            Resolved::Manual(why) => (step(Action::Manual, why), None),
        }
    }
}

/// An expression refusing SSH reruns and other branches: present, added,
/// or added beside the expressions there.
fn expression_restriction(
    ctx: &NewRestriction<'_>,
    existing: &[Restriction],
    needs: &Needs,
    snap: &Snapshot,
) -> (Step, Option<Op>) {
    let name = ctx.context;
    let expressions = of_type(existing, "expression");
    let branch = needs.branch.clone().unwrap_or_else(|| snap.project.vcs_info.default_branch.clone());
    if let Some(r) = expressions.iter().find(|r| value(r).contains("job.ssh.enabled")) {
        (Step::new("restriction", format!("{name}: expression"), Action::Present, format!("`{}`", value(r))), None)
    } else if expressions.is_empty() {
        let e = expression(&branch);
        ctx.add("expression", e.clone(), format!("`{e}`: no other branch, no rerun with SSH"))
    } else {
        let have: Vec<String> = expressions.iter().map(|r| format!("`{}`", value(r))).collect();
        ctx.add(
            "expression",
            NO_SSH.to_owned(),
            format!(
                "`{NO_SSH}` beside {} (expressions combine with AND): a rerun with SSH would expose the context in a shell",
                have.join(", ")
            ),
        )
    }
}

/// The CI context's step.
fn ci_context(needs: &Needs, snap: &Snapshot) -> (Step, Option<Op>) {
    let name = &needs.ci_context;
    const HOLDS: &str = "holds the CI Jira user, a CircleCI read token and the bot's public key \
                         (CHANGEGATE_RECEIPT_PUBKEY), never production credentials or the bot's private key";
    match snap.context(name) {
        Some(_) => (Step::new("context", name.clone(), Action::Present, format!("exists; {HOLDS}")), None),
        None => (
            Step::new("context", name.clone(), Action::Create, format!("{HOLDS}: add them once it exists")),
            Some(Op::CreateContext { name: name.clone() }),
        ),
    }
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// The webhook's step, if a bot runs.
fn webhook(needs: &Needs, snap: &Snapshot) -> Option<(Step, Option<Op>)> {
    let step = |action, detail: String| Step::new("webhook", WEBHOOK_NAME, action, detail);
    let events = WEBHOOK_EVENTS.join(", ");
    match &needs.webhook {
        WebhookNeed::NoBot => None,
        WebhookNeed::NoUrl => Some((
            step(
                Action::Manual,
                format!(
                    "the bot's address is not known: pass --bot-url https://changegate-bot.example.com (deliveries \
                     go to its {WEBHOOK_PATH}), or --no-bot when no bot runs"
                ),
            ),
            None,
        )),
        WebhookNeed::Url { url, secret_set } => {
            let hooks = snap.webhooks.as_deref().unwrap_or_default();
            let secret_note = format!(
                "its signing secret cannot be read back (CircleCI answers it masked), so whether it is one of \
                 {SECRET_VAR} is not checked: the bot refuses deliveries signed otherwise (401 in its log)"
            );
            match hooks.iter().find(|h| same_url(&h.url, url)) {
                Some(h) => {
                    let missing: Vec<&str> =
                        WEBHOOK_EVENTS.iter().copied().filter(|e| !h.events.iter().any(|x| x == e)).collect();
                    if missing.is_empty() && h.verify_tls {
                        Some((step(Action::Present, format!("delivers {events} to {url}; {secret_note}")), None))
                    } else {
                        let mut what = Vec::new();
                        if !missing.is_empty() {
                            what.push(format!("events {} -> {events}", h.events.join(", ")));
                        }
                        if !h.verify_tls {
                            what.push("verify-tls on".to_owned());
                        }
                        let secret = if *secret_set {
                            format!("signing secret set again to the newest of {SECRET_VAR}")
                        } else {
                            format!("signing secret left as it is ({SECRET_VAR} is not set)")
                        };
                        Some((
                            step(Action::Change, format!("delivers to {url}: {}; {secret}", what.join("; "))),
                            Some(Op::UpdateWebhook { id: h.id.clone(), url: url.clone() }),
                        ))
                    }
                }
                None if *secret_set => Some((
                    step(
                        Action::Create,
                        format!(
                            "delivers {events} of project {} to {url}, signed with the newest secret of {SECRET_VAR}; \
                             CircleCI has no event for a hold that starts waiting: the bot learns that from Jira's \
                             events and its reconcile",
                            snap.project.slug
                        ),
                    ),
                    Some(Op::CreateWebhook { url: url.clone() }),
                )),
                None => Some((
                    step(
                        Action::Manual,
                        format!(
                            "no webhook delivers to {url}, and {SECRET_VAR} is not set: set it to the bot's secret(s), \
                             as the bot has it, and run again"
                        ),
                    ),
                    None,
                )),
            }
        }
    }
}

/// The `[lock]` step: the configuration names what was set up.
fn lock_config(needs: &Needs, snap: &Snapshot) -> Step {
    let p = &snap.project;
    let owner_ok = needs
        .lock_owner
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case(&p.organization_slug) || o.eq_ignore_ascii_case(&p.organization_id));
    let missing: Vec<&String> = needs.production_contexts.iter().filter(|c| !needs.lock_contexts.contains(c)).collect();
    if owner_ok && missing.is_empty() {
        return Step::new(
            "config",
            "[lock]",
            Action::Present,
            "names the organization and its production contexts: `config check --probe` and the bot check the lock",
        );
    }
    let contexts: Vec<String> = needs.production_contexts.iter().map(|c| format!("{c:?}")).collect();
    let mut lines =
        vec![format!("owner_slug = {:?}", p.organization_slug), format!("contexts = [{}]", contexts.join(", "))];
    if needs.github_app {
        lines.push("github_app = true".to_owned());
    }
    if needs.ci_context != DEFAULT_CI_CONTEXT {
        lines.push(format!("ci_context = {:?}", needs.ci_context));
    }
    Step::new(
        "config",
        "[lock]",
        Action::Manual,
        format!(
            "the configuration does not name what is set up here, so nothing checks the lock: write in the bot's \
             changegate.toml [lock] {}",
            lines.join(", ")
        ),
    )
}

fn planned(needs: &Needs, snap: &Snapshot) -> Vec<(Step, Option<Op>)> {
    let mut out = Vec::new();
    for name in &needs.production_contexts {
        production_context(name, needs, snap, &mut out);
    }
    if !needs.production_contexts.contains(&needs.ci_context) {
        out.push(ci_context(needs, snap));
    }
    out.extend(webhook(needs, snap));
    out.push((lock_config(needs, snap), None));
    out
}

/// What the plan is about.
fn target(snap: &Snapshot) -> String {
    let p = &snap.project;
    format!("CircleCI organization {} ({}), project {}", p.organization_slug, p.organization_id, p.slug)
}

/// The plan for `needs` against what exists. Pure.
pub(crate) fn plan(needs: &Needs, snap: &Snapshot) -> Plan {
    let mut plan = Plan::new(target(snap));
    for (step, _) in planned(needs, snap) {
        plan.push(step);
    }
    plan
}

/// A step CircleCI refused this token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// The step's kind.
    pub(crate) kind: &'static str,
    /// The step's name.
    pub(crate) name: String,
    /// CircleCI's answer.
    pub(crate) message: String,
}

/// What applying did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Each change made, in words.
    pub(crate) done: Vec<String>,
    /// Steps CircleCI refused (a missing permission).
    pub(crate) refused: Vec<Refused>,
    /// Steps not tried because one they depend on was refused.
    pub(crate) skipped: Vec<String>,
    /// The error that stopped applying, if one did.
    pub(crate) failed: Option<ApiError>,
}

/// Performs the create and change steps of the plan for `needs` against
/// `snap`, in order. `secret` signs a new webhook (and is set again on a
/// changed one). A step CircleCI refuses (403, 404) is recorded and the
/// steps that depend on it are skipped; any other error stops.
pub(crate) fn apply(ci: &CircleCi, needs: &Needs, snap: &Snapshot, secret: Option<&Secret>) -> Applied {
    let mut applied = Applied::default();
    let mut ids: BTreeMap<String, String> =
        snap.contexts.iter().map(|c| (c.context.name.clone(), c.context.id.clone())).collect();
    for (step, op) in planned(needs, snap) {
        let Some(op) = op else { continue };
        let result = match &op {
            Op::CreateContext { name } => ci.create_context(name, &snap.project.organization_id).map(|c| {
                ids.insert(name.clone(), c.id);
                format!("created context {name}")
            }),
            Op::AddRestriction { context, kind, value } => {
                let Some(id) = ids.get(context) else {
                    applied.skipped.push(format!("{}: context {context} was not created", step.name));
                    continue;
                };
                match ci.add_restriction(id, kind, value) {
                    Ok(_) => Ok(format!("restricted context {context} by {kind}")),
                    // It is there already (made since the plan was read).
                    Err(e) if e.status() == Some(409) => {
                        Ok(format!("context {context} already had its {kind} restriction"))
                    }
                    Err(e) => Err(e),
                }
            }
            Op::CreateWebhook { url } => {
                let Some(secret) = secret else { continue };
                let s = WebhookSpec { name: WEBHOOK_NAME, url, events: WEBHOOK_EVENTS, verify_tls: true };
                ci.create_webhook(&snap.project.id, &s, secret)
                    .map(|_| format!("created webhook {WEBHOOK_NAME} to {url}"))
            }
            Op::UpdateWebhook { id, url } => {
                let s = WebhookSpec { name: WEBHOOK_NAME, url, events: WEBHOOK_EVENTS, verify_tls: true };
                ci.update_webhook(id, &s, secret).map(|_| format!("changed webhook {WEBHOOK_NAME} to {url}"))
            }
        };
        match result {
            Ok(line) => applied.done.push(line),
            Err(e) if matches!(e.status(), Some(403 | 404)) => {
                applied.refused.push(Refused { kind: step.kind, name: step.name, message: e.to_string() });
            }
            Err(e) => {
                applied.failed = Some(e);
                break;
            }
        }
    }
    applied
}

/// The plan as it stands after applying: `after` (planned again from a new
/// snapshot) with every step CircleCI refused marked blocked.
pub(crate) fn with_refusals(mut after: Plan, refused: &[Refused]) -> Plan {
    for r in refused {
        if let Some(s) = after.steps.iter_mut().find(|s| s.kind == r.kind && s.name == r.name) {
            s.action = Action::Blocked { permission: ADMIN.to_owned() };
            s.detail = format!("refused ({}); {}", r.message, s.detail);
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::circleci::VcsInfo;

    const ORG_ID: &str = "0b5e0b5e-0000-4000-8000-000000000001";
    const PROJECT_ID: &str = "9a9a9a9a-0000-4000-8000-000000000002";
    const GROUP_ID: &str = "6a6a6a6a-0000-4000-8000-000000000003";

    fn needs() -> Needs {
        Needs {
            production_contexts: vec!["production-aws".into()],
            ci_context: DEFAULT_CI_CONTEXT.into(),
            github_app: false,
            group: GroupRef::Named("prod-deployers".into()),
            branch: None,
            webhook: WebhookNeed::Url { url: "https://bot.acme.test/webhooks/circleci".into(), secret_set: true },
            lock_owner: Some("gh/acme".into()),
            lock_contexts: vec!["production-aws".into()],
        }
    }

    fn empty() -> Snapshot {
        Snapshot {
            project: Project {
                id: PROJECT_ID.into(),
                slug: "gh/acme/web".into(),
                name: "web".into(),
                organization_id: ORG_ID.into(),
                organization_slug: "gh/acme".into(),
                vcs_info: VcsInfo {
                    vcs_url: "https://github.com/acme/web".into(),
                    provider: "GitHub".into(),
                    default_branch: "main".into(),
                },
            },
            contexts: Vec::new(),
            groups: Groups::Read(vec![Group { id: GROUP_ID.into(), name: "Prod Deployers".into() }]),
            webhooks: Some(Vec::new()),
        }
    }

    fn r(kind: &str, value: &str, name: &str) -> Restriction {
        Restriction {
            id: Some("r".into()),
            restriction_type: kind.into(),
            restriction_value: Some(value.into()),
            name: Some(name.into()),
        }
    }

    fn context(name: &str, restrictions: Vec<Restriction>) -> ContextFacts {
        ContextFacts { context: Context { id: format!("id-{name}"), name: name.into() }, restrictions }
    }

    fn hook(events: &[&str]) -> Webhook {
        Webhook {
            id: "w".into(),
            name: "changegate".into(),
            url: "https://bot.acme.test/webhooks/circleci/".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            verify_tls: true,
        }
    }

    fn actions(p: &Plan) -> Vec<(String, Action)> {
        p.steps.iter().map(|s| (format!("{} {}", s.kind, s.name), s.action.clone())).collect()
    }

    #[test]
    fn an_empty_organization_gets_everything_created_in_order() {
        let (n, s) = (needs(), empty());
        let p = plan(&n, &s);
        assert_eq!(
            actions(&p),
            [
                ("context production-aws".to_owned(), Action::Create),
                ("restriction production-aws: group".to_owned(), Action::Create),
                ("restriction production-aws: expression".to_owned(), Action::Create),
                ("context change-management-ci".to_owned(), Action::Create),
                ("webhook changegate".to_owned(), Action::Create),
                ("config [lock]".to_owned(), Action::Present),
            ]
        );
        let ops: Vec<Op> = planned(&n, &s).into_iter().filter_map(|(_, o)| o).collect();
        assert_eq!(
            ops[1],
            Op::AddRestriction { context: "production-aws".into(), kind: "group", value: GROUP_ID.into() }
        );
        assert_eq!(
            ops[2],
            Op::AddRestriction {
                context: "production-aws".into(),
                kind: "expression",
                value: "pipeline.git.branch == \"main\" and not job.ssh.enabled".into()
            }
        );
        assert!(p.steps[1].detail.contains("Prod Deployers"), "{}", p.steps[1].detail);
        assert_eq!(p.outcome(), crate::base::outcome::Outcome::Deny);
    }

    #[test]
    fn everything_in_place_is_present_and_ready() {
        let mut s = empty();
        s.contexts = vec![
            context(
                "production-aws",
                vec![r("group", GROUP_ID, "Prod Deployers"), r("expression", "not job.ssh.enabled", "")],
            ),
            context(DEFAULT_CI_CONTEXT, Vec::new()),
        ];
        s.webhooks = Some(vec![hook(&["job-completed", "workflow-completed"])]);
        let p = plan(&needs(), &s);
        assert!(p.steps.iter().all(|s| s.action == Action::Present), "{p:?}");
        assert_eq!(p.outcome(), crate::base::outcome::Outcome::Pass);
        assert!(p.steps[0].detail.contains("locked by a security group"), "{}", p.steps[0].detail);
        assert!(p.steps[4].detail.contains("cannot be read back"), "{}", p.steps[4].detail);
    }

    #[test]
    fn restrictions_only_tighten_and_a_wrong_group_is_left_to_a_person() {
        let mut s = empty();
        // No restriction at all: both are added to the existing context.
        s.contexts = vec![context("production-aws", Vec::new())];
        let p = plan(&needs(), &s);
        assert_eq!(p.steps[0].action, Action::Present);
        assert!(p.steps[0].detail.contains("not locked yet"), "{}", p.steps[0].detail);
        assert_eq!(p.steps[1].action, Action::Change);
        assert_eq!(p.steps[2].action, Action::Change);
        // Another group: reported, never widened; an expression without
        // the SSH guard gets the guard beside it.
        s.contexts = vec![context(
            "production-aws",
            vec![r("group", "other-id", "Everyone"), r("expression", "pipeline.git.branch == \"main\"", "")],
        )];
        let steps = planned(&needs(), &s);
        assert_eq!(steps[1].0.action, Action::Manual);
        assert!(steps[1].0.detail.contains("rather than Prod Deployers"), "{}", steps[1].0.detail);
        assert!(steps[1].0.detail.contains("Contexts > production-aws > Security"), "{}", steps[1].0.detail);
        assert!(steps[1].1.is_none());
        assert_eq!(steps[2].0.action, Action::Change);
        assert_eq!(
            steps[2].1,
            Some(Op::AddRestriction { context: "production-aws".into(), kind: "expression", value: NO_SSH.into() })
        );
    }

    #[test]
    fn a_token_that_may_not_list_groups_is_blocked_unless_the_id_is_given() {
        let mut s = empty();
        s.groups = Groups::Denied("HTTP 403: Permission denied.".into());
        let p = plan(&needs(), &s);
        assert_eq!(p.steps[1].action, Action::Blocked { permission: ADMIN.into() });
        assert!(p.steps[1].detail.contains("--group-id"), "{}", p.steps[1].detail);
        assert_eq!(p.outcome(), crate::base::outcome::Outcome::Undecided);
        let mut n = needs();
        n.group = GroupRef::Id(GROUP_ID.into());
        s.groups = Groups::NotRead;
        let p = plan(&n, &s);
        assert_eq!(p.steps[1].action, Action::Create);
        // An existing group restriction is recognised by its name when the
        // id cannot be looked up.
        s.groups = Groups::Denied("403".into());
        s.contexts = vec![context("production-aws", vec![r("group", GROUP_ID, "prod-deployers")])];
        assert_eq!(plan(&needs(), &s).steps[1].action, Action::Present);
        let mut n = needs();
        n.group = GroupRef::Unnamed;
        s.contexts.clear();
        let p = plan(&n, &s);
        assert_eq!(p.steps[1].action, Action::Manual);
        assert!(p.steps[1].detail.contains("--group NAME"), "{}", p.steps[1].detail);
        // An organization whose groups CircleCI does not list.
        s.groups = Groups::Unlisted("HTTP 404: Organization does not exist.".into());
        let p = plan(&needs(), &s);
        assert_eq!(p.steps[1].action, Action::Manual);
        assert!(p.steps[1].detail.contains("cannot be listed"), "{}", p.steps[1].detail);
        // A name the organization does not have.
        s.groups = Groups::Read(vec![Group { id: "g".into(), name: "devs".into() }]);
        let p = plan(&needs(), &s);
        assert!(
            p.steps[1].detail.contains("no group named \"prod-deployers\" (its groups: devs)"),
            "{}",
            p.steps[1].detail
        );
    }

    #[test]
    fn github_app_organizations_restrict_by_project_and_expression() {
        let mut n = needs();
        n.github_app = true;
        n.branch = Some("release".into());
        let mut s = empty();
        s.groups = Groups::NotRead;
        let steps = planned(&n, &s);
        assert_eq!(steps[1].0.name, "production-aws: project");
        assert_eq!(
            steps[1].1,
            Some(Op::AddRestriction { context: "production-aws".into(), kind: "project", value: PROJECT_ID.into() })
        );
        assert!(steps[2].0.detail.contains("pipeline.git.branch == \"release\""), "{}", steps[2].0.detail);
        s.contexts = vec![context("production-aws", vec![r("project", "another", "api")])];
        let p = plan(&n, &s);
        assert_eq!(p.steps[1].action, Action::Manual);
        assert!(p.steps[1].detail.contains("one more project"), "{}", p.steps[1].detail);
        s.contexts =
            vec![context("production-aws", vec![r("project", PROJECT_ID, "web"), r("expression", NO_SSH, "")])];
        let p = plan(&n, &s);
        assert!(p.steps[0].detail.contains("project and expression"), "{}", p.steps[0].detail);
        assert_eq!(p.steps[1].action, Action::Present);
        n.lock_owner = None;
        assert!(plan(&n, &s).steps.last().unwrap().detail.contains("github_app = true"));
    }

    #[test]
    fn the_webhook_is_changed_when_its_events_are_wrong_and_needs_a_secret_to_be_made() {
        let mut s = empty();
        s.webhooks = Some(vec![hook(&["workflow-completed"])]);
        let steps = planned(&needs(), &s);
        let (step, op) = steps.iter().find(|(s, _)| s.kind == "webhook").unwrap();
        assert_eq!(step.action, Action::Change);
        assert!(
            step.detail.contains("events workflow-completed -> workflow-completed, job-completed"),
            "{}",
            step.detail
        );
        assert_eq!(
            op,
            &Some(Op::UpdateWebhook { id: "w".into(), url: "https://bot.acme.test/webhooks/circleci".into() })
        );
        let mut n = needs();
        n.webhook = WebhookNeed::Url { url: "https://bot.acme.test/webhooks/circleci".into(), secret_set: false };
        s.webhooks = Some(Vec::new());
        let p = plan(&n, &s);
        let w = p.steps.iter().find(|s| s.kind == "webhook").unwrap();
        assert_eq!(w.action, Action::Manual);
        assert!(w.detail.contains(SECRET_VAR), "{}", w.detail);
        n.webhook = WebhookNeed::NoUrl;
        assert!(plan(&n, &s).steps.iter().any(|s| s.kind == "webhook" && s.detail.contains("--bot-url")));
        n.webhook = WebhookNeed::NoBot;
        assert!(!plan(&n, &s).steps.iter().any(|s| s.kind == "webhook"));
    }

    #[test]
    fn an_unconfigured_lock_is_left_to_a_person_with_the_lines_to_write() {
        let mut n = needs();
        n.lock_owner = None;
        n.lock_contexts.clear();
        let p = plan(&n, &empty());
        let last = p.steps.last().unwrap();
        assert_eq!(last.action, Action::Manual);
        assert!(
            last.detail.contains("[lock] owner_slug = \"gh/acme\", contexts = [\"production-aws\"]"),
            "{}",
            last.detail
        );
        n.lock_owner = Some(ORG_ID.into());
        n.lock_contexts = vec!["production-aws".into()];
        assert_eq!(plan(&n, &empty()).steps.last().unwrap().action, Action::Present);
    }

    #[test]
    fn refused_steps_are_marked_blocked_after_applying() {
        let p = plan(&needs(), &empty());
        let p = with_refusals(
            p,
            &[Refused {
                kind: "context",
                name: "production-aws".into(),
                message: "HTTP 403: Permission denied.".into(),
            }],
        );
        assert_eq!(p.steps[0].action, Action::Blocked { permission: ADMIN.into() });
        assert!(p.steps[0].detail.starts_with("refused (HTTP 403"), "{}", p.steps[0].detail);
        assert_eq!(p.outcome(), crate::base::outcome::Outcome::Undecided);
    }

    #[test]
    fn project_slugs_and_expressions() {
        assert_eq!(project_slug("gh/acme", "web"), "gh/acme/web");
        assert_eq!(project_slug("gh/acme", "gh/acme/web"), "gh/acme/web");
        assert_eq!(project_slug(ORG_ID, "p"), format!("circleci/{ORG_ID}/p"));
        assert_eq!(expression("a\"b"), "pipeline.git.branch == \"a\\\"b\" and not job.ssh.enabled");
    }
}
