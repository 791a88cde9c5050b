//! `[jira]`: where tickets live and how the site is set up.
//!
//! ```toml
//! [jira]
//! project = "PRODCM"                 # default
//! issue_type = "Change"              # default
//! labels = ["changegate"]            # added to every ticket (default)
//! required = ["justification", "rollback_plan"]   # must be filled before approval
//! approval_ttl = "24h"               # an approval older than this is void
//!
//! [jira.fields]                      # ticket field -> the site's field id
//! environment = "customfield_10050"  # a single-line text field
//! justification = { id = "customfield_10051", type = "textarea" }
//! change_type = { id = "customfield_10052", type = "select" }
//!
//! [jira.statuses]                    # status names on the site (defaults shown in the docs)
//! approved = "Approved"
//!
//! [jira.transitions]                 # transition names, by the status they lead to
//! manual_review = "Send to review"
//!
//! [jira.approvers]                   # Jira accountId -> GitHub numeric user id
//! "5b10a2844c20165700ede21g" = 583231
//! ```
//!
//! Every ticket field of docs/jira-setup.md §4 has a name here; `summary` and
//! `description` are Jira's own and always present. Fields not mapped are
//! described in the ticket text and reported as missing when required.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::problems::Problems;
use crate::base::time::parse_duration;

/// The fields of a change ticket (names used in `changegate.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TicketField {
    /// Jira's summary.
    Summary,
    /// Jira's description.
    Description,
    /// Component or service.
    Service,
    /// Why the change is made.
    Justification,
    /// How to undo it.
    RollbackPlan,
    /// Target environment.
    Environment,
    /// `plan` or `apply`.
    DeployAction,
    /// `standard`, `normal`, `emergency`.
    ChangeType,
    /// `low`, `medium`, `high`.
    RiskLevel,
    /// CircleCI project slug.
    Repository,
    /// Branch.
    Branch,
    /// Commit SHA.
    Commit,
    /// Artifact build job name.
    BuildJobName,
    /// Artifact build job number.
    BuildJobNumber,
    /// URL of the job that requested the change.
    BuildUrl,
    /// Pipeline id.
    PipelineId,
    /// Pipeline number.
    PipelineNumber,
    /// Workflow ids.
    Workflows,
    /// Links to the pull requests.
    PullRequests,
    /// Security scan status.
    ScanStatus,
    /// The binding and plan digests, in text, so the history records them.
    Record,
}

impl TicketField {
    /// Every field.
    pub const ALL: [TicketField; 21] = [
        TicketField::Summary,
        TicketField::Description,
        TicketField::Service,
        TicketField::Justification,
        TicketField::RollbackPlan,
        TicketField::Environment,
        TicketField::DeployAction,
        TicketField::ChangeType,
        TicketField::RiskLevel,
        TicketField::Repository,
        TicketField::Branch,
        TicketField::Commit,
        TicketField::BuildJobName,
        TicketField::BuildJobNumber,
        TicketField::BuildUrl,
        TicketField::PipelineId,
        TicketField::PipelineNumber,
        TicketField::Workflows,
        TicketField::PullRequests,
        TicketField::ScanStatus,
        TicketField::Record,
    ];

    /// The name in `changegate.toml`.
    pub fn name(self) -> &'static str {
        match self {
            TicketField::Summary => "summary",
            TicketField::Description => "description",
            TicketField::Service => "service",
            TicketField::Justification => "justification",
            TicketField::RollbackPlan => "rollback_plan",
            TicketField::Environment => "environment",
            TicketField::DeployAction => "deploy_action",
            TicketField::ChangeType => "change_type",
            TicketField::RiskLevel => "risk_level",
            TicketField::Repository => "repository",
            TicketField::Branch => "branch",
            TicketField::Commit => "commit",
            TicketField::BuildJobName => "build_job_name",
            TicketField::BuildJobNumber => "build_job_number",
            TicketField::BuildUrl => "build_url",
            TicketField::PipelineId => "pipeline_id",
            TicketField::PipelineNumber => "pipeline_number",
            TicketField::Workflows => "workflows",
            TicketField::PullRequests => "pull_requests",
            TicketField::ScanStatus => "scan_status",
            TicketField::Record => "record",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            TicketField::Summary => "Summary",
            TicketField::Description => "Description",
            TicketField::Service => "Service",
            TicketField::Justification => "Justification",
            TicketField::RollbackPlan => "Rollback plan",
            TicketField::Environment => "Environment",
            TicketField::DeployAction => "Deploy action",
            TicketField::ChangeType => "Change type",
            TicketField::RiskLevel => "Risk level",
            TicketField::Repository => "Repository",
            TicketField::Branch => "Branch",
            TicketField::Commit => "Commit",
            TicketField::BuildJobName => "Build job",
            TicketField::BuildJobNumber => "Build job number",
            TicketField::BuildUrl => "Build URL",
            TicketField::PipelineId => "Pipeline id",
            TicketField::PipelineNumber => "Pipeline number",
            TicketField::Workflows => "Workflows",
            TicketField::PullRequests => "Pull requests",
            TicketField::ScanStatus => "Security scan status",
            TicketField::Record => "changegate record",
        }
    }

    /// The field from its name.
    pub fn from_name(name: &str) -> Option<TicketField> {
        TicketField::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for TicketField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a site field takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FieldType {
    /// Single-line text: a string.
    Text,
    /// Multi-line text: an ADF document (Jira Cloud v3).
    Textarea,
    /// A number.
    Number,
    /// A single select: `{"value": ...}`.
    Select,
    /// A URL field: a string.
    Url,
}

/// A mapped field: the site's field id and how to write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteField {
    /// `customfield_10050`, or a system field id.
    pub(crate) id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub(crate) kind: FieldType,
}

/// Status names on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Statuses {
    /// New ticket.
    pub(crate) open: String,
    /// Waiting for a person to complete fields.
    pub(crate) waiting_for_input: String,
    /// Waiting for an approver.
    pub(crate) manual_review: String,
    /// Approved.
    pub(crate) approved: String,
    /// Declined.
    pub(crate) declined: String,
    /// Deployed.
    pub(crate) done: String,
    /// Deploy failed.
    pub(crate) failed: String,
    /// Cancelled, superseded, expired or duplicate.
    pub(crate) cancelled: String,
}

impl Statuses {
    /// Statuses a ticket never leaves (the change is over).
    pub(crate) fn closed(&self) -> [&str; 4] {
        [&self.declined, &self.done, &self.failed, &self.cancelled]
    }

    /// True when the ticket is over.
    pub(crate) fn is_closed(&self, status: &str) -> bool {
        self.closed().iter().any(|s| s.eq_ignore_ascii_case(status))
    }
}

/// Transition names, by the status they lead to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transitions {
    /// To "Waiting for input".
    pub(crate) waiting_for_input: String,
    /// To "Manual review", from Open or Waiting for input (the analysis).
    pub(crate) manual_review: String,
    /// From "Approved" back to "Manual review" (a risky plan, a lapsed
    /// approval). Only this one leaves Approved for review, so a move on a
    /// stale read can never undo an approval by accident.
    pub(crate) send_back: String,
    /// To "Approved" (approvers and the bot only).
    pub(crate) approve: String,
    /// To "Declined" (approvers and the bot only).
    pub(crate) decline: String,
    /// To "Done".
    pub(crate) done: String,
    /// To "Failed".
    pub(crate) failed: String,
    /// To "Cancelled".
    pub cancel: String,
}

/// Resolution names set with the closing transitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resolutions {
    /// Deployed.
    pub(crate) done: String,
    /// Deploy failed.
    pub(crate) failed: String,
    /// Cancelled by a person or a newer pipeline.
    pub(crate) cancelled: String,
    /// The request waited too long.
    pub(crate) expired: String,
    /// A second ticket for the same deploy.
    pub(crate) duplicate: String,
}

/// The validated `[jira]` section.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// Project key.
    pub project: String,
    /// Issue type name.
    pub(crate) issue_type: String,
    /// Labels on every ticket.
    pub(crate) labels: Vec<String>,
    /// Mapped fields.
    pub(crate) fields: BTreeMap<TicketField, SiteField>,
    /// Fields that must be filled.
    pub(crate) required: Vec<TicketField>,
    /// Status names.
    pub(crate) statuses: Statuses,
    /// Transition names.
    pub transitions: Transitions,
    /// Resolution names.
    pub(crate) resolutions: Resolutions,
    /// How long an approval stays valid.
    pub(crate) approval_ttl: Duration,
    /// Distinct human approvers an approval needs.
    pub(crate) required_approvers: usize,
    /// Jira accountIds of the bot: its approvals are auto-approvals.
    pub(crate) bot_accounts: Vec<String>,
    /// Jira accountIds of the scheduled drift check (its own account, whose
    /// token only a restricted context holds): a drift ticket it closed on
    /// finding no drift is settled. Any other account's close is not
    /// (docs/drift.md, "Who may settle drift").
    pub(crate) drift_check_accounts: Vec<String>,
    /// Jira accountId -> GitHub numeric user id.
    pub(crate) approvers: BTreeMap<String, u64>,
    /// Approvers of the bot's policy that a checkout left out: they approve
    /// nothing here, and are still ordinary approvers for the emergency
    /// rule (an ordinary approver never grants an emergency).
    pub(crate) withheld_approvers: Vec<String>,
}

impl Default for JiraConfig {
    fn default() -> Self {
        RawJira::default().validate(&mut Problems::new(""))
    }
}

impl JiraConfig {
    /// The site field of a ticket field: summary and description always.
    pub fn site_field(&self, f: TicketField) -> Option<SiteField> {
        match f {
            TicketField::Summary => Some(SiteField { id: "summary".into(), kind: FieldType::Text }),
            TicketField::Description => Some(SiteField { id: "description".into(), kind: FieldType::Textarea }),
            other => self.fields.get(&other).cloned(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJira {
    project: Option<Spanned<String>>,
    issue_type: Option<String>,
    labels: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    fields: BTreeMap<Spanned<String>, Spanned<RawSiteField>>,
    required: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    statuses: RawStatuses,
    #[serde(default)]
    transitions: RawTransitions,
    #[serde(default)]
    resolutions: RawResolutions,
    approval_ttl: Option<Spanned<String>>,
    required_approvers: Option<Spanned<i64>>,
    #[serde(default)]
    bot_account_ids: Vec<String>,
    #[serde(default)]
    drift_check_account_ids: Vec<String>,
    #[serde(default)]
    approvers: BTreeMap<Spanned<String>, Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSiteField {
    Id(String),
    Full {
        id: String,
        #[serde(rename = "type")]
        kind: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatuses {
    open: Option<String>,
    waiting_for_input: Option<String>,
    manual_review: Option<String>,
    approved: Option<String>,
    declined: Option<String>,
    done: Option<String>,
    failed: Option<String>,
    cancelled: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransitions {
    waiting_for_input: Option<String>,
    manual_review: Option<String>,
    send_back: Option<String>,
    approve: Option<String>,
    decline: Option<String>,
    done: Option<String>,
    failed: Option<String>,
    cancel: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResolutions {
    done: Option<String>,
    failed: Option<String>,
    cancelled: Option<String>,
    expired: Option<String>,
    duplicate: Option<String>,
}

fn or(v: Option<String>, default: &str) -> String {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| default.to_owned())
}

impl RawJira {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> JiraConfig {
        let project = project_key(self.project, p);
        let labels = labels(self.labels, p);
        let fields = site_fields(self.fields, p);
        let required = required_fields(self.required, p);
        let approval_ttl = approval_ttl(self.approval_ttl, p);
        let required_approvers = required_approvers(self.required_approvers, p);
        let approvers = approvers(self.approvers, p);
        JiraConfig {
            project,
            issue_type: or(self.issue_type, "Change"),
            labels,
            fields,
            required,
            statuses: self.statuses.or_defaults(),
            transitions: self.transitions.or_defaults(),
            resolutions: self.resolutions.or_defaults(),
            approval_ttl,
            required_approvers,
            bot_accounts: self.bot_account_ids,
            drift_check_accounts: self.drift_check_account_ids,
            approvers,
            withheld_approvers: Vec::new(),
        }
    }
}

/// The project key (upper-case letters, digits, `_`); `PRODCM` unset.
fn project_key(raw: Option<Spanned<String>>, p: &mut Problems<'_>) -> String {
    match raw {
        Some(k)
            if !k.get_ref().chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                || k.get_ref().is_empty() =>
        {
            p.at(k.span(), format!("`{}` is not a Jira project key (upper-case letters, digits, `_`)", k.get_ref()));
            String::new()
        }
        Some(k) => k.into_inner(),
        None => "PRODCM".to_owned(),
    }
}

/// The ticket labels, none empty or with spaces; `changegate` when none.
fn labels(raw: Option<Vec<Spanned<String>>>, p: &mut Problems<'_>) -> Vec<String> {
    let mut labels = Vec::new();
    for l in raw.unwrap_or_default() {
        if l.get_ref().is_empty() || l.get_ref().chars().any(char::is_whitespace) {
            p.at(l.span(), format!("Jira labels cannot be empty or contain spaces: {:?}", l.get_ref()));
        } else {
            labels.push(l.into_inner());
        }
    }
    if labels.is_empty() {
        labels.push("changegate".to_owned());
    }
    labels
}

/// The site's fields for the ticket fields: known fields only, never
/// Jira's own summary and description, each with a non-empty id and a
/// known type.
fn site_fields(
    raw: BTreeMap<Spanned<String>, Spanned<RawSiteField>>,
    p: &mut Problems<'_>,
) -> BTreeMap<TicketField, SiteField> {
    let mut fields = BTreeMap::new();
    for (name, raw) in raw {
        let Some(field) = TicketField::from_name(name.get_ref()) else {
            let known: Vec<&str> = TicketField::ALL.iter().map(|f| f.name()).collect();
            p.at(
                name.span(),
                format!("unknown ticket field `{}`; the fields are: {}", name.get_ref(), known.join(", ")),
            );
            continue;
        };
        if matches!(field, TicketField::Summary | TicketField::Description) {
            p.at(name.span(), format!("`{field}` is Jira's own field and cannot be mapped"));
            continue;
        }
        let span = raw.span();
        let (id, kind) = match raw.into_inner() {
            RawSiteField::Id(id) => (id, FieldType::Text),
            RawSiteField::Full { id, kind } => {
                let k = match kind.as_str() {
                    "text" => FieldType::Text,
                    "textarea" => FieldType::Textarea,
                    "number" => FieldType::Number,
                    "select" => FieldType::Select,
                    "url" => FieldType::Url,
                    other => {
                        p.at(
                            span.clone(),
                            format!("field type must be text, textarea, number, select or url, not `{other}`"),
                        );
                        FieldType::Text
                    }
                };
                (id, k)
            }
        };
        if id.trim().is_empty() {
            p.at(span, "a field id cannot be empty");
        }
        fields.insert(field, SiteField { id, kind });
    }
    fields
}

/// The ticket fields a ticket needs before approval; the justification
/// and the rollback plan unset.
fn required_fields(raw: Option<Vec<Spanned<String>>>, p: &mut Problems<'_>) -> Vec<TicketField> {
    let mut required = Vec::new();
    let raw_required = raw.unwrap_or_else(|| {
        ["justification", "rollback_plan"].iter().map(|s| Spanned::new(0..0, (*s).to_owned())).collect()
    });
    for r in raw_required {
        match TicketField::from_name(r.get_ref()) {
            Some(f) => required.push(f),
            None => p.at(r.span(), format!("unknown ticket field `{}`", r.get_ref())),
        }
    }
    required
}

impl RawStatuses {
    /// The status names, each defaulted.
    fn or_defaults(self) -> Statuses {
        let s = self;
        Statuses {
            open: or(s.open, "Open"),
            waiting_for_input: or(s.waiting_for_input, "Waiting for input"),
            manual_review: or(s.manual_review, "Manual review"),
            approved: or(s.approved, "Approved"),
            declined: or(s.declined, "Declined"),
            done: or(s.done, "Done"),
            failed: or(s.failed, "Failed"),
            cancelled: or(s.cancelled, "Cancelled"),
        }
    }
}

impl RawTransitions {
    /// The transition names, each defaulted.
    fn or_defaults(self) -> Transitions {
        let t = self;
        Transitions {
            waiting_for_input: or(t.waiting_for_input, "Request input"),
            manual_review: or(t.manual_review, "Send to review"),
            send_back: or(t.send_back, "Send back"),
            approve: or(t.approve, "Approve"),
            decline: or(t.decline, "Decline"),
            done: or(t.done, "Complete"),
            failed: or(t.failed, "Fail"),
            cancel: or(t.cancel, "Cancel"),
        }
    }
}

impl RawResolutions {
    /// The resolution names, each defaulted.
    fn or_defaults(self) -> Resolutions {
        let r = self;
        Resolutions {
            done: or(r.done, "Done"),
            failed: or(r.failed, "Failed"),
            cancelled: or(r.cancelled, "Cancelled"),
            expired: or(r.expired, "Expired"),
            duplicate: or(r.duplicate, "Duplicate"),
        }
    }
}

/// How long an approval stands: a duration such as 90m, 24h or 7d; a day
/// unset.
fn approval_ttl(raw: Option<Spanned<String>>, p: &mut Problems<'_>) -> Duration {
    match raw {
        None => Duration::from_secs(24 * 3600),
        Some(v) => parse_duration(v.get_ref()).unwrap_or_else(|| {
            p.at(v.span(), format!("`{}` is not a duration such as 90m, 24h or 7d", v.get_ref()));
            Duration::from_secs(24 * 3600)
        }),
    }
}

/// How many approvers a ticket needs: 1 to 10; one unset.
fn required_approvers(raw: Option<Spanned<i64>>, p: &mut Problems<'_>) -> usize {
    match raw {
        None => 1,
        Some(n) => match usize::try_from(*n.get_ref()) {
            Ok(v) if (1..=10).contains(&v) => v,
            _ => {
                p.at(n.span(), "required_approvers is a number from 1 to 10");
                1
            }
        },
    }
}

/// The approvers: Jira account -> positive GitHub user id.
fn approvers(raw: BTreeMap<Spanned<String>, Spanned<i64>>, p: &mut Problems<'_>) -> BTreeMap<String, u64> {
    let mut approvers = BTreeMap::new();
    for (account, gh) in raw {
        match u64::try_from(*gh.get_ref()) {
            Ok(id) if id > 0 => {
                approvers.insert(account.into_inner(), id);
            }
            _ => p.at(gh.span(), "a GitHub user id is a positive number (the numeric id, not the login)"),
        }
    }
    approvers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Date;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "c.toml", Date::new(2026, 11, 27).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_match_the_design() {
        let j = parse("").unwrap().jira;
        assert_eq!(j.project, "PRODCM");
        assert_eq!(j.labels, ["changegate"]);
        assert_eq!(j.required, [TicketField::Justification, TicketField::RollbackPlan]);
        assert_eq!(j.statuses.waiting_for_input, "Waiting for input");
        assert_eq!(j.approval_ttl, Duration::from_secs(86_400));
        assert!(j.fields.is_empty());
        assert_eq!(j.site_field(TicketField::Summary).unwrap().id, "summary");
        assert_eq!(j.site_field(TicketField::Environment), None);
    }

    #[test]
    fn fields_in_both_forms() {
        let j = parse(
            "[jira.fields]\nenvironment = \"customfield_1\"\njustification = { id = \"customfield_2\", type = \"textarea\" }\n",
        )
        .unwrap()
        .jira;
        assert_eq!(
            j.fields[&TicketField::Environment],
            SiteField { id: "customfield_1".into(), kind: FieldType::Text }
        );
        assert_eq!(j.fields[&TicketField::Justification].kind, FieldType::Textarea);
    }

    #[test]
    fn every_mistake_is_reported_with_its_place() {
        let e = parse(
            "[jira]\nproject = \"prod cm\"\napproval_ttl = \"soon\"\nrequired = [\"justfication\"]\n[jira.fields]\nenv = \"x\"\nsummary = \"y\"\n[jira.approvers]\n\"abc\" = -1\n",
        )
        .unwrap_err();
        for expected in [
            "c.toml:2:11: `prod cm` is not a Jira project key",
            "c.toml:3:16: `soon` is not a duration",
            "c.toml:4:13: unknown ticket field `justfication`",
            "c.toml:6:1: unknown ticket field `env`",
            "c.toml:7:1: `summary` is Jira's own field",
            "c.toml:9:9: a GitHub user id is a positive number",
        ] {
            assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
        }
    }

    #[test]
    fn unknown_keys_in_sub_tables_are_rejected() {
        let e = parse("[jira.statuses]\napprove = \"Approved\"\n").unwrap_err();
        assert!(e.contains("c.toml:2:1") && e.contains("approve"), "{e}");
    }
}
