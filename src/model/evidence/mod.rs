//! The evidence record: everything the analysis of a change ticket decides
//! on, in one versioned JSON document (`docs/evidence.md`,
//! `docs/evidence.schema.json`). Every section names its source; what could
//! not be read is listed in `gaps`, never silently left out, so a decision
//! can be reproduced from the record alone and an incomplete record can
//! only lead to "undecidable".
//!
//! Its types are its own plain data (the GitHub commits, files and
//! code-scanning analyses included): `steps::analyze::collect` converts the
//! clients' answers into them.

pub(crate) mod consistency;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::base::digest::Sha256Digest;
use crate::model::binding::Binding;

/// Version of the record format.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The evidence record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// [`SCHEMA_VERSION`].
    pub(crate) schema_version: u32,
    /// When it was collected (the decision time).
    pub(crate) collected_at: String,
    /// The ticket.
    pub(crate) ticket: String,
    /// What the ticket allows to be deployed.
    pub(crate) binding: Binding,
    /// `owner/name` on GitHub.
    pub(crate) repository: String,
    /// The last approved deploy of this repository and environment; `None`
    /// for a first deploy.
    pub(crate) base: Option<Base>,
    /// The range `(base, deployed commit]`.
    pub range: Range,
    /// The deployed branch: the repository's default branch and whether
    /// the commit is still on the branch.
    pub(crate) branch: BranchFacts,
    /// Pull requests associated with each landing commit.
    pub associated: BTreeMap<String, Vec<AssociatedPull>>,
    /// Pull requests merged into the deployed branch by the range, by number.
    pub pulls: BTreeMap<String, PullFacts>,
    /// Files changed by single-parent landings a version-bump exemption
    /// may apply to (no pull request links them, or their pull request
    /// changed only version files), and the text of version files before
    /// and after.
    pub landing_files: BTreeMap<String, LandingFiles>,
    /// Tree checks of merge, squash and rebase landings, computed from the
    /// repository's git objects.
    pub content: ContentChecks,
    /// The policy files at the base and at the deployed commit.
    pub(crate) policy_files: PolicyFiles,
    /// What is under `.circleci/` at the base and at the deployed commit.
    #[serde(default)]
    pub(crate) pipeline_files: PipelineFiles,
    /// Scan evidence for the deployed commit.
    pub scans: Scans,
    /// Other live tickets of the same repository and environment.
    pub(crate) pending: Vec<PendingTicket>,
    /// Open drift tickets of the environment (docs/drift.md): changes made
    /// outside Terraform that this deploy would overwrite or re-apply.
    #[serde(default)]
    pub(crate) open_drift: Vec<OpenDrift>,
    /// The effective policy: content, digest and where it came from.
    pub(crate) policy: PolicySource,
    /// Facts that could not be read; any gap makes the affected checks
    /// undecidable.
    pub gaps: Vec<Gap>,
    /// Requests made to collect this record.
    pub requests: RequestCounts,
}

/// The last approved deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Base {
    /// Its ticket (status Done).
    pub(crate) ticket: String,
    /// The commit it deployed.
    pub(crate) commit: String,
    /// Source of the fact.
    pub(crate) source: String,
}

/// The commit range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// `ahead`, `identical`, `behind`, `diverged` (the base is not an
    /// ancestor: history was rewritten), or `first_deploy`.
    pub(crate) status: String,
    /// Commits GitHub counts in the range.
    pub(crate) total_commits: u64,
    /// Every commit of the range (oldest first), second-parent commits included.
    pub commits: Vec<RangeCommit>,
    /// The first-parent chain from the deployed commit back to the base,
    /// newest first: the landings on the branch.
    pub landings: Vec<String>,
    /// Source of the facts.
    pub(crate) source: String,
}

/// The deployed branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BranchFacts {
    /// The branch the pipeline built (from the binding).
    pub(crate) name: String,
    /// The repository's default branch.
    pub(crate) default_branch: Option<String>,
    /// GitHub's comparison of the deployed commit with the branch's tip:
    /// `identical` or `ahead` when the commit is on the branch.
    pub(crate) tip_status: Option<String>,
    /// Source.
    pub(crate) source: String,
}

/// A pull request associated with a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociatedPull {
    /// Number.
    pub(crate) number: u64,
    /// Merged.
    pub(crate) merged: bool,
    /// Base branch.
    pub(crate) base_ref: String,
    /// `owner/name` of the base repository.
    pub(crate) base_repository: String,
    /// Head commit when merged.
    pub(crate) head: String,
    /// `merge_commit_sha`.
    pub(crate) merge_commit: Option<String>,
}

/// A GitHub account as GitHub identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Actor {
    /// `User`, `Bot`, `Mannequin`, ...
    pub(crate) kind: String,
    /// Login (display only).
    pub(crate) login: String,
    /// Numeric id: the identity decisions use.
    pub(crate) id: Option<u64>,
}

/// A commit of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullCommit {
    /// SHA.
    pub(crate) oid: String,
    /// Parents.
    pub(crate) parents: Vec<String>,
    /// Tree.
    pub(crate) tree: String,
    /// The trees of its parents, in order (a commit whose tree is its only
    /// parent's changes nothing).
    #[serde(default)]
    pub(crate) parent_trees: Vec<String>,
    /// GitHub id of the author account, when linked.
    pub(crate) author_id: Option<u64>,
    /// GitHub id of the committer account, when linked.
    pub(crate) committer_id: Option<u64>,
    /// Committed through GitHub's web interface (committer `web-flow`).
    pub(crate) committed_via_web: bool,
    /// Signed by GitHub itself (web-flow) and valid.
    pub(crate) signed_by_github: bool,
    /// Files the commit changed, when GitHub can tell (display only: an
    /// empty commit is one whose tree is its parent's).
    pub(crate) changed_files: Option<u64>,
}

impl PullCommit {
    /// It changes nothing: one parent, whose tree is its own. GitHub's
    /// changed-file count is not the proof (it is not always available).
    pub fn is_empty(&self) -> bool {
        self.parents.len() == 1 && self.parent_trees.len() == 1 && self.parent_trees[0] == self.tree
    }
}

/// A file a pull request changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PullFile {
    /// Path.
    pub(crate) path: String,
    /// `ADDED`, `DELETED`, `MODIFIED`, `RENAMED`, `COPIED`, `CHANGED`.
    pub(crate) change_type: String,
}

/// A review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReviewFact {
    /// Id.
    pub(crate) id: Option<String>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub(crate) state: String,
    /// When it was submitted.
    pub(crate) submitted_at: Option<String>,
    /// The commit it reviewed.
    pub(crate) commit: Option<String>,
    /// Who.
    pub(crate) author: Option<Actor>,
    /// The reviewer can push to the repository.
    pub(crate) can_push: Option<bool>,
}

/// A timeline event of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TimelineEvent {
    /// `HeadRefForcePushedEvent`, `ReviewDismissedEvent`,
    /// `BaseRefChangedEvent`, `MergedEvent`.
    pub(crate) kind: String,
    /// When (server time).
    pub(crate) created_at: String,
    /// Who.
    pub(crate) actor: Option<Actor>,
    /// Force-push: the old and new head.
    pub(crate) before: Option<String>,
    /// Force-push: the new head; merge: the merge commit.
    pub(crate) after: Option<String>,
    /// Dismissal: the review and its state before.
    pub(crate) review: Option<String>,
    /// Dismissal: the state before.
    pub(crate) previous_state: Option<String>,
    /// Base change: old and new base.
    pub(crate) previous_ref: Option<String>,
    /// Base change: the new base.
    pub(crate) current_ref: Option<String>,
}

/// A pull request and its review history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullFacts {
    /// Number.
    pub(crate) number: u64,
    /// Merged.
    pub(crate) merged: bool,
    /// When.
    pub(crate) merged_at: Option<String>,
    /// Base branch.
    pub(crate) base_ref: String,
    /// `owner/name` of the base repository.
    pub(crate) base_repository: String,
    /// Head when merged.
    pub(crate) head: String,
    /// `merge_commit_sha`.
    pub(crate) merge_commit: Option<String>,
    /// Author.
    pub(crate) author: Option<Actor>,
    /// Files it changes (first 100).
    pub(crate) files: Vec<PullFile>,
    /// `files` lists every file.
    pub(crate) files_complete: bool,
    /// Commits, in order.
    pub commits: Vec<PullCommit>,
    /// Reviews, in order.
    pub(crate) reviews: Vec<ReviewFact>,
    /// Timeline events (force-pushes, dismissals, base changes, merge).
    pub(crate) timeline: Vec<TimelineEvent>,
    /// Source of the facts.
    pub(crate) source: String,
}

/// A commit of the compared range, as GitHub describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeCommit {
    /// SHA.
    pub(crate) sha: String,
    /// Parent SHAs, first parent first.
    pub(crate) parents: Vec<String>,
    /// Tree SHA.
    pub(crate) tree: String,
    /// GitHub id of the author account, when GitHub links one.
    pub(crate) author_id: Option<u64>,
    /// GitHub id of the committer account, when GitHub links one.
    pub(crate) committer_id: Option<u64>,
    /// First line of the message (display only; a `(#N)` in it is only a
    /// hint to look a pull request up, which must then link back).
    pub(crate) headline: String,
    /// GitHub verified the commit's signature.
    #[serde(default)]
    pub(crate) verified: bool,
}

/// A file a commit changed, against its first parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChangedFile {
    /// Path after the change.
    pub(crate) path: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` (mode), `unchanged`.
    pub(crate) status: String,
    /// Path before a rename or copy.
    pub(crate) previous_path: Option<String>,
}

/// The files of a landing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandingFiles {
    /// Files it changed, against its parent.
    pub(crate) files: Vec<ChangedFile>,
    /// Version files: path -> (text at the parent, text at the commit).
    pub version_files: BTreeMap<String, FileChange>,
    /// Source.
    pub(crate) source: String,
}

/// A file before and after a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Text at the parent (`None` when absent).
    pub before: Option<String>,
    /// Text at the commit (`None` when removed).
    pub(crate) after: Option<String>,
}

/// Tree checks: does a landing hold exactly the merge of its parent on the
/// branch with the approved head? Computed from git objects fetched into a
/// temporary repository (the `git-objects` feature); without it `available`
/// is false and merges are reported as unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentChecks {
    /// The collector could fetch git objects.
    pub available: bool,
    /// Landing sha -> its check.
    pub checks: BTreeMap<String, TreeCheck>,
    /// Source.
    pub(crate) source: String,
}

/// One tree check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeCheck {
    /// The commit on the branch the head was merged onto (`F^1`, or the
    /// parent of the first commit of a rebase run).
    pub parent: String,
    /// The approved head.
    pub head: String,
    /// The landed commit's tree.
    pub landed_tree: String,
    /// The tree of merging `head` into `parent`; `None` when it conflicts
    /// or could not be computed.
    pub merged_tree: Option<String>,
    /// The merge conflicts.
    pub conflict: bool,
    /// Why it could not be computed.
    pub error: Option<String>,
}

/// The policy files at the base and at the deployed commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyFiles {
    /// Path -> change between the base and the deployed commit.
    pub(crate) files: BTreeMap<String, FileChange>,
    /// Source.
    pub(crate) source: String,
}

/// The entries under `.circleci/` (the pipeline's configuration, the orb
/// version pinned there, scripts it runs) by object id, at the base and at
/// the deployed commit; a folder is one entry (its tree id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PipelineFiles {
    /// Path (`.circleci/config.yml`, `.circleci/scripts/`) -> object ids.
    pub(crate) files: BTreeMap<String, ObjectChange>,
    /// Source.
    pub(crate) source: String,
}

/// An object at the base and at the deployed commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectChange {
    /// Its id at the base (`None`: absent).
    pub(crate) before: Option<String>,
    /// Its id at the deployed commit (`None`: absent).
    pub(crate) after: Option<String>,
}

/// A CircleCI job of the deploy's workflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFact {
    /// Workflow.
    pub workflow_id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Number.
    pub number: Option<u64>,
}

/// A GitHub code-scanning analysis of the deployed commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CodeScanningAnalysis {
    /// Id.
    pub(crate) id: u64,
    /// The commit analysed.
    pub(crate) commit_sha: String,
    /// The ref.
    #[serde(rename = "ref")]
    pub(crate) reference: String,
    /// Tool name.
    pub(crate) tool_name: String,
    /// Analysis category.
    #[serde(default)]
    pub(crate) category: Option<String>,
    /// Error text; empty when the analysis succeeded.
    #[serde(default)]
    pub(crate) error: String,
    /// Alerts found.
    #[serde(default)]
    pub(crate) results_count: u64,
    /// When it was created.
    #[serde(default)]
    pub(crate) created_at: String,
    /// The runs of the analysis's SARIF, read by the collector when it has
    /// results (their severities decide the scan gate).
    #[serde(default)]
    pub(crate) runs: Option<Vec<crate::base::sarif::RunFacts>>,
    /// Why that SARIF could not be read.
    #[serde(default)]
    pub(crate) sarif_error: Option<String>,
}

/// Scan evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scans {
    /// Jobs of the deploy's workflows.
    pub jobs: Vec<JobFact>,
    /// SARIF artifacts of the scan jobs (`[scan] jobs`).
    pub sarif: Vec<SarifArtifact>,
    /// GitHub code-scanning analyses of the deployed commit.
    pub(crate) code_scanning: Vec<CodeScanningAnalysis>,
    /// Whether code scanning could be read: `read`, `not_enabled` (GitHub
    /// answered that code scanning is off for the repository), or
    /// `unknown` (a gap says why).
    pub(crate) code_scanning_status: String,
    /// Source.
    pub(crate) source: String,
}

/// A SARIF artifact of a scan job, as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SarifArtifact {
    /// `artifact` (of a scan job of the deploy's workflows) or `file`
    /// (given by path to `collect --sarif`).
    #[serde(default = "artifact_kind")]
    pub kind: String,
    /// Workflow of the job (empty for a file).
    pub workflow_id: String,
    /// Job name.
    pub job: String,
    /// Job number.
    pub job_number: u64,
    /// Path the artifact was stored under.
    pub path: String,
    /// SHA-256 of the bytes downloaded.
    pub digest: Sha256Digest,
    /// Its runs, when the document could be read.
    pub runs: Option<Vec<crate::base::sarif::RunFacts>>,
    /// Why it could not be read (not JSON, not SARIF).
    pub error: Option<String>,
    /// Source.
    pub source: String,
}

fn artifact_kind() -> String {
    "artifact".into()
}

/// Another live ticket of the same repository and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingTicket {
    /// Key.
    pub(crate) key: String,
    /// Status.
    pub status: String,
    /// Its pipeline number.
    pub(crate) pipeline_number: Option<u64>,
    /// Whether any of its workflows is still running (`None`: unknown).
    pub(crate) workflows_active: Option<bool>,
}

/// An open drift ticket of the deployed environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OpenDrift {
    /// Its key.
    pub(crate) key: String,
    /// The stack that drifted.
    pub(crate) stack: String,
    /// How many objects drifted.
    pub(crate) resources: usize,
    /// When the drift was first found.
    pub(crate) found_at: String,
    /// Its record does not match the stream it was opened for, so it
    /// counts for every environment and every stack.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) stream_unknown: bool,
    /// Why it counts although it was closed or its record does not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// Where the policy came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicySource {
    /// A path or a description.
    pub source: String,
    /// SHA-256 of the content.
    pub digest: Sha256Digest,
    /// The content (TOML).
    pub content: String,
}

/// What a gap makes undecidable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GapArea {
    /// The review of commits.
    Review,
    /// The scan gate.
    Scan,
    /// The approval policy (pending tickets, policy files).
    Policy,
}

/// A fact that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Which check it makes undecidable.
    pub(crate) area: GapArea,
    /// What is missing (`range`, `pull 12`, `landings`, `scans`, ...).
    pub(crate) what: String,
    /// Why.
    pub(crate) why: String,
}

/// Requests made per service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// GitHub.
    pub github: u64,
}

impl Evidence {
    /// A record with no facts yet: the ticket and its binding only (a first
    /// deploy with an empty range). The collector fills it; tests build
    /// records from it.
    pub fn skeleton(ticket: &str, binding: Binding, collected_at: &str) -> Evidence {
        Evidence {
            schema_version: SCHEMA_VERSION,
            collected_at: collected_at.to_owned(),
            ticket: ticket.to_owned(),
            repository: crate::model::binding::github_repo(&binding.project_slug)
                .map(|(o, n)| format!("{o}/{n}"))
                .unwrap_or_default(),
            branch: BranchFacts { name: binding.branch.clone(), ..BranchFacts::default() },
            binding,
            base: None,
            range: Range {
                status: "first_deploy".into(),
                total_commits: 0,
                commits: Vec::new(),
                landings: Vec::new(),
                source: String::new(),
            },
            associated: BTreeMap::new(),
            pulls: BTreeMap::new(),
            landing_files: BTreeMap::new(),
            content: ContentChecks::default(),
            policy_files: PolicyFiles::default(),
            pipeline_files: PipelineFiles::default(),
            scans: Scans::default(),
            pending: Vec::new(),
            open_drift: Vec::new(),
            policy: PolicySource {
                source: "built-in defaults".into(),
                digest: Sha256Digest::of(b""),
                content: String::new(),
            },
            gaps: Vec::new(),
            requests: RequestCounts::default(),
        }
    }

    /// The JSON of the record.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serialises")
    }

    /// The record as it is stored (written by `collect`, attached to the
    /// ticket): its JSON and a newline. Its SHA-256 is the record's digest.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.to_json().into_bytes();
        b.push(b'\n');
        b
    }

    /// SHA-256 of [`Evidence::to_bytes`]: what `sha256sum` prints for the file.
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(&self.to_bytes())
    }

    /// Reads a record, refusing other versions.
    pub fn from_json(text: &str) -> Result<Evidence, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match v.get("schema_version").and_then(Value::as_u64) {
            Some(1) => serde_json::from_value(v).map_err(|e| format!("not an evidence record: {e}")),
            Some(n) => Err(format!("evidence schema_version {n} is not one this changegate reads (1)")),
            None => Err("not an evidence record: no schema_version".into()),
        }
    }
}
