//! The binding of a ticket to one deploy, and the records built on it.
//!
//! A binding names exactly what may be deployed under a ticket: project,
//! environment, action, branch, commit, pipeline and the artifact build job
//! (name, number, id). Its digest is mirrored in a label (and, when mapped,
//! a text field) so the ticket's history shows every change to it: an
//! approval counts only if it came after the last change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::base::codes::stable_codes;
use crate::base::digest::{Sha256Digest, canonical_json};

stable_codes! {
    /// What the deploy does.
    pub enum DeployAction: "deploy action" {
        Plan => "plan", "a plan only (nothing changes)";
        Apply => "apply", "the change is applied";
    }
}

/// The job that built the artifact being deployed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildJob {
    /// Job name in the workflow.
    pub name: String,
    /// Job number (changes when the job is re-run).
    pub number: u64,
    /// Job id (UUID).
    pub id: String,
}

/// A ticket's binding to one deploy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Binding {
    /// CircleCI project slug, `gh/org/repo`.
    pub project_slug: String,
    /// Target environment.
    pub environment: String,
    /// Plan or apply.
    pub action: DeployAction,
    /// Branch built (empty for a tag).
    pub branch: String,
    /// Commit SHA built.
    pub commit: String,
    /// Pipeline id.
    pub pipeline_id: String,
    /// Pipeline number.
    pub pipeline_number: u64,
    /// The artifact build job.
    pub build_job: BuildJob,
}

/// A label made of a prefix and hex: safe in JQL and stable.
fn label(prefix: &str, parts: &[&str], hex_len: usize) -> String {
    let digest = Sha256Digest::of(parts.join("\n").as_bytes()).hex();
    format!("{prefix}-{}", &digest[..hex_len])
}

impl Binding {
    /// SHA-256 of the canonical JSON of the binding (sorted keys).
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(canonical_json(&serde_json::to_value(self).expect("serialises")).as_bytes())
    }

    /// The idempotency key: one ticket per pipeline, environment and action.
    pub fn idempotency_key(&self) -> String {
        Sha256Digest::of(format!("{}\n{}\n{}", self.pipeline_id, self.environment, self.action).as_bytes()).hex()
    }

    /// Label of every ticket with this idempotency key.
    pub fn key_label(&self) -> String {
        key_label(&self.pipeline_id, &self.environment, self.action)
    }

    /// Label of every ticket of this repository and environment.
    pub fn stream_label(&self) -> String {
        stream_label(&self.project_slug, &self.environment)
    }

    /// Label carrying the binding digest (history shows its changes).
    pub fn binding_label(&self) -> String {
        format!("changegate-binding-{}", &self.digest().hex()[..32])
    }

    /// The fields that must match for a ticket to be this deploy's: a
    /// different pipeline or build job number is a rebind, not another deploy.
    pub fn same_deploy(&self, other: &Binding) -> bool {
        self.project_slug == other.project_slug
            && self.environment == other.environment
            && self.action == other.action
            && self.branch == other.branch
            && self.commit == other.commit
    }

    /// What differs from `other`, for messages.
    pub fn differences(&self, other: &Binding) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{name} {b} (this build: {a})"));
            }
        };
        cmp("project", self.project_slug.clone(), other.project_slug.clone());
        cmp("environment", self.environment.clone(), other.environment.clone());
        cmp("action", self.action.to_string(), other.action.to_string());
        cmp("branch", self.branch.clone(), other.branch.clone());
        cmp("commit", self.commit.clone(), other.commit.clone());
        cmp("pipeline", self.pipeline_id.clone(), other.pipeline_id.clone());
        cmp(
            "build job",
            format!("{} #{}", self.build_job.name, self.build_job.number),
            format!("{} #{}", other.build_job.name, other.build_job.number),
        );
        d
    }
}

/// Label of every ticket of one pipeline, environment and action.
pub(crate) fn key_label(pipeline_id: &str, environment: &str, action: DeployAction) -> String {
    label("changegate-key", &[pipeline_id, environment, action.as_str()], 24)
}

/// Label of every ticket of a repository and environment.
pub(crate) fn stream_label(project_slug: &str, environment: &str) -> String {
    label("changegate-stream", &[project_slug, environment], 24)
}

/// `gh/owner/name` (or `github/owner/name`) -> `(owner, name)`.
pub(crate) fn github_repo(project_slug: &str) -> Option<(String, String)> {
    let mut parts = project_slug.splitn(3, '/');
    let vcs = parts.next()?;
    let (owner, name) = (parts.next()?, parts.next()?);
    (matches!(vcs, "gh" | "github") && !owner.is_empty() && !name.is_empty())
        .then(|| (owner.to_owned(), name.to_owned()))
}

/// The tool that renders plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Tool {
    /// `terraform`.
    Terraform,
    /// `tofu` (OpenTofu).
    Tofu,
}

impl Tool {
    /// The command name.
    pub(crate) fn command(self) -> &'static str {
        match self {
            Tool::Terraform => "terraform",
            Tool::Tofu => "tofu",
        }
    }
}

/// Who rendered a plan: recorded beside its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renderer {
    /// The tool.
    pub(crate) tool: Tool,
    /// Its version (`terraform_version` of `version -json`).
    pub(crate) version: String,
    /// Provider source -> version, as the working directory selected them.
    #[serde(default)]
    pub(crate) providers: BTreeMap<String, String>,
}

/// What CI recorded when it asked for an emergency (in the `changegate`
/// property).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EmergencyRequest {
    /// Why it cannot wait.
    pub(crate) reason: String,
    /// Who triggered the pipeline (CircleCI user name), when known.
    #[serde(default)]
    pub(crate) requested_by: Option<String>,
    /// When it was asked for (RFC 3339).
    pub(crate) requested_at: String,
}

/// What later jobs read from `changegate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Version of this file.
    pub(crate) schema_version: u32,
    /// The environment needs a ticket.
    pub(crate) controlled: bool,
    /// Environment.
    pub(crate) environment: String,
    /// Ticket key (absent when not controlled).
    pub(crate) ticket: Option<String>,
    /// Browse URL.
    pub(crate) url: Option<String>,
    /// Status when written.
    pub(crate) status: Option<String>,
    /// The binding.
    pub(crate) binding: Option<Binding>,
    /// Required fields still empty.
    #[serde(default)]
    pub(crate) missing_fields: Vec<String>,
}

/// A workflow that runs under the ticket, and the hold in it to resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRef {
    /// Workflow id.
    pub id: String,
    /// Approval job to resume when the ticket is approved.
    #[serde(default)]
    pub(crate) hold: Option<String>,
    /// When it was added.
    pub(crate) added_at: String,
}

/// A plan recorded for one stack by `plan-check --ticket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRecord {
    /// SHA-256 of the plan JSON.
    pub json_digest: Sha256Digest,
    /// SHA-256 of the binary plan file.
    pub file_digest: Option<Sha256Digest>,
    /// The plan needs a person's review.
    pub risky: bool,
    /// Reason codes found.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Number of risky resource changes.
    #[serde(default)]
    pub findings: usize,
    /// Highest severity, when risky.
    #[serde(default)]
    pub severity: Option<String>,
    /// When it was recorded.
    pub recorded_at: String,
    /// The workflow that planned it.
    pub workflow_id: String,
    /// The approval job after the plan.
    #[serde(default)]
    pub hold: Option<String>,
    /// The label mirroring the digests (history records when it appeared).
    pub label: String,
    /// SHA-256 of the plan JSON in canonical form, when it was rendered from
    /// the plan file: a rendering before apply must have the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_digest: Option<Sha256Digest>,
    /// The tool (and provider versions) that rendered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered_by: Option<Renderer>,
}

impl PlanRecord {
    /// The label for a stack's plan digests.
    pub fn label_for(stack: &str, json: &Sha256Digest, file: Option<&Sha256Digest>) -> String {
        Self::label_with(stack, json, file, None)
    }

    /// The label for a stack's plan digests and, for a plan rendered from
    /// its file, the canonical digest a rendering before apply must match.
    pub fn label_with(
        stack: &str,
        json: &Sha256Digest,
        file: Option<&Sha256Digest>,
        canonical: Option<&Sha256Digest>,
    ) -> String {
        let file = file.map(ToString::to_string).unwrap_or_default();
        match canonical {
            None => label("changegate-plan", &[stack, &json.to_string(), &file], 24),
            Some(c) => label("changegate-plan", &[stack, &json.to_string(), &file, &c.to_string()], 24),
        }
    }
}

/// The text mirrored into the `record` field, one line that fits a Jira
/// text field (255 characters): the binding digest and, once plans are
/// recorded, one digest over all of them, so the history records each
/// change of either.
pub fn mirror_text(record: &TicketRecord) -> String {
    let mut s = format!("binding {}", record.binding_digest);
    if !record.plans.is_empty() {
        let plans = serde_json::to_value(&record.plans).expect("serialises");
        s.push_str(&format!(" plans {}", Sha256Digest::of(canonical_json(&plans).as_bytes())));
    }
    s
}

/// The binding digest in a mirrored text.
pub(crate) fn mirrored_binding(text: &str) -> Option<&str> {
    let mut words = text.split_whitespace();
    (words.next() == Some("binding")).then(|| words.next()).flatten()
}

/// The machine record CI keeps in the `changegate` issue property. A PUT
/// replaces the whole value, so fields this version does not know are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// Version of this record.
    pub(crate) schema_version: u32,
    /// The binding.
    pub binding: Binding,
    /// Its digest.
    pub binding_digest: Sha256Digest,
    /// The idempotency key.
    pub idempotency_key: String,
    /// Workflows under this ticket, oldest first.
    #[serde(default)]
    pub workflows: Vec<WorkflowRef>,
    /// Who triggered the pipeline (CircleCI user name), when known.
    #[serde(default)]
    pub(crate) requested_by: Option<String>,
    /// Plans recorded, by stack.
    #[serde(default)]
    pub plans: BTreeMap<String, PlanRecord>,
    /// The emergency asked for (`request --emergency`), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) emergency: Option<EmergencyRequest>,
    /// Requested with `--no-bot`: no CI-side check had a trust root (the
    /// bot flags such a ticket in an environment it controls).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) no_bot: bool,
    /// The configuration files (repository paths) the deploy's requests
    /// used. CI writes them, so the bot only adds them to the files it
    /// watches for changes, never takes one away.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) config_paths: Vec<String>,
    /// Everything else (written by later steps or newer versions).
    #[serde(flatten)]
    pub(crate) rest: Map<String, Value>,
}

/// The issue property CI writes.
pub const RECORD_PROPERTY: &str = "changegate";
/// The issue property the bot writes, signed (`steps::bot_record`).
pub(crate) const BOT_PROPERTY: &str = "changegate.bot";
/// The label of every emergency change ticket.
pub(crate) const EMERGENCY_LABEL: &str = "changegate-emergency";

impl TicketRecord {
    /// A new record for a binding.
    pub fn new(binding: Binding, requested_by: Option<String>) -> Self {
        TicketRecord {
            schema_version: 1,
            binding_digest: binding.digest(),
            idempotency_key: binding.idempotency_key(),
            binding,
            workflows: Vec::new(),
            requested_by,
            plans: BTreeMap::new(),
            emergency: None,
            no_bot: false,
            config_paths: Vec::new(),
            rest: Map::new(),
        }
    }

    /// Reads a record from the property value; `None` when it is not one.
    pub fn from_value(v: &Value) -> Option<Self> {
        let r: TicketRecord = serde_json::from_value(v.clone()).ok()?;
        (r.schema_version == 1).then_some(r)
    }

    /// The JSON value to store.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("serialises")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn binding() -> Binding {
        Binding {
            project_slug: "gh/acme/web".into(),
            environment: "production".into(),
            action: DeployAction::Apply,
            branch: "main".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            pipeline_id: "5034460f-c7c4-4c43-9457-de07e2029e7b".into(),
            pipeline_number: 42,
            build_job: BuildJob {
                name: "build".into(),
                number: 1001,
                id: "2ab4c4f8-4b9b-4e57-9a5d-9d3b2f1f9c11".into(),
            },
        }
    }

    #[test]
    fn digest_is_stable_and_covers_every_field() {
        let b = binding();
        assert_eq!(b.digest(), binding().digest());
        let mut rerun = b.clone();
        rerun.build_job.number = 1002;
        assert_ne!(rerun.digest(), b.digest(), "a rerun from start changes the binding");
        assert!(rerun.same_deploy(&b));
        assert_eq!(rerun.idempotency_key(), b.idempotency_key(), "same pipeline, environment and action");
        let mut other = b.clone();
        other.commit = "f".repeat(40);
        assert!(!other.same_deploy(&b));
        assert_eq!(other.differences(&b), [format!("commit {} (this build: {})", b.commit, other.commit)]);
    }

    #[test]
    fn labels_are_jql_safe_and_distinct() {
        let b = binding();
        for l in [b.key_label(), b.stream_label(), b.binding_label()] {
            assert!(l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{l}");
        }
        let mut plan = b.clone();
        plan.action = DeployAction::Plan;
        assert_ne!(plan.key_label(), b.key_label());
        assert_eq!(plan.stream_label(), b.stream_label());
    }

    #[test]
    fn record_keeps_fields_it_does_not_know() {
        let mut v = TicketRecord::new(binding(), Some("alice".into())).to_value();
        v["outcome"] = serde_json::json!({"result": "success"});
        let r = TicketRecord::from_value(&v).unwrap();
        assert_eq!(r.to_value()["outcome"], v["outcome"]);
        assert_eq!(TicketRecord::from_value(&serde_json::json!({"schema_version": 2})), None);
    }

    #[test]
    fn github_slugs() {
        assert_eq!(github_repo("gh/acme/web"), Some(("acme".into(), "web".into())));
        assert_eq!(github_repo("github/acme/web"), Some(("acme".into(), "web".into())));
        assert_eq!(github_repo("bb/acme/web"), None);
        assert_eq!(github_repo("gh/acme"), None);
    }
}
