//! What a change ticket says: field values from the build, the description,
//! the labels, and which required fields are still missing. Pure.

use serde_json::{Map, Value, json};

use crate::clients::jira::adf::{Doc, Inline};
use crate::config::jira::{FieldType, JiraConfig, TicketField};
use crate::model::binding::Binding;

/// The commits of this deploy, from the local checkout (for display only:
/// the analysis reads history from GitHub, never from the checkout).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CommitList {
    /// Ticket of the last approved deploy of this repository and environment.
    pub(crate) base_ticket: Option<String>,
    /// Its commit.
    pub(crate) base_commit: Option<String>,
    /// `(sha, subject)`, newest first.
    pub(crate) commits: Vec<(String, String)>,
    /// Why the list is empty or partial, when it is.
    pub(crate) note: Option<String>,
}

/// What the build knows besides the binding.
#[derive(Debug, Clone, Default)]
pub(crate) struct TicketInputs {
    /// A summary given by the pipeline.
    pub(crate) summary: Option<String>,
    /// Why the change is made.
    pub(crate) justification: Option<String>,
    /// How to undo it.
    pub(crate) rollback_plan: Option<String>,
    /// Component or service.
    pub(crate) service: Option<String>,
    /// `standard`, `normal` or `emergency`.
    pub(crate) change_type: String,
    /// URL of the requesting job.
    pub(crate) build_url: Option<String>,
    /// Workflow ids under the ticket.
    pub(crate) workflows: Vec<String>,
    /// Pull request URLs.
    pub(crate) pull_requests: Vec<String>,
    /// Commits for display.
    pub(crate) commits: CommitList,
    /// Who triggered the pipeline.
    pub(crate) requested_by: Option<String>,
    /// The mirror of the record (binding and plan digests), when known.
    pub(crate) record_text: Option<String>,
}

/// Fields a person owns once set: never overwritten by the build.
const PERSON_FIELDS: [TicketField; 4] =
    [TicketField::Justification, TicketField::RollbackPlan, TicketField::Service, TicketField::Summary];

/// The result of filling a ticket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filled {
    /// Field id -> value, ready for create or edit.
    pub(crate) fields: Map<String, Value>,
    /// Required fields that stay empty (unmapped, or nothing to fill them with).
    pub(crate) missing: Vec<TicketField>,
}

fn text_of(field: TicketField, b: &Binding, i: &TicketInputs) -> Option<String> {
    let s = match field {
        TicketField::Summary => i.summary.clone().unwrap_or_else(|| default_summary(b)),
        TicketField::Description => return None,
        TicketField::Service => i.service.clone()?,
        TicketField::Justification => i.justification.clone()?,
        TicketField::RollbackPlan => i.rollback_plan.clone()?,
        TicketField::Environment => b.environment.clone(),
        TicketField::DeployAction => b.action.to_string(),
        TicketField::ChangeType => i.change_type.clone(),
        TicketField::RiskLevel | TicketField::ScanStatus => return None,
        TicketField::Repository => b.project_slug.clone(),
        TicketField::Branch => b.branch.clone(),
        TicketField::Commit => b.commit.clone(),
        TicketField::BuildJobName => b.build_job.name.clone(),
        TicketField::BuildJobNumber => b.build_job.number.to_string(),
        TicketField::BuildUrl => i.build_url.clone()?,
        TicketField::PipelineId => b.pipeline_id.clone(),
        TicketField::PipelineNumber => b.pipeline_number.to_string(),
        TicketField::Workflows => i.workflows.join(", "),
        TicketField::PullRequests => i.pull_requests.join("\n"),
        TicketField::Record => i.record_text.clone().unwrap_or_else(|| format!("binding {}", b.digest())),
    };
    let s = s.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

/// `Deploy gh/acme/web@0123456 to production (apply)`.
pub(crate) fn default_summary(b: &Binding) -> String {
    let short: String = b.commit.chars().take(7).collect();
    format!("Deploy {}@{short} to {} ({})", b.project_slug, b.environment, b.action)
}

/// A value of a field of this type, as Jira takes it.
pub(crate) fn encode(kind: FieldType, text: &str) -> Value {
    match kind {
        FieldType::Text | FieldType::Url => Value::String(text.chars().take(255).collect()),
        FieldType::Textarea => Doc::new().text(text).build(),
        FieldType::Number => text.parse::<f64>().map_or_else(|_| Value::String(text.into()), |n| json!(n)),
        FieldType::Select => json!({"value": text}),
    }
}

/// True when a field value holds something.
fn is_filled(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => {
            !o.is_empty() && crate::clients::jira::adf::plain_text(&Value::Object(o.clone())).trim() != ""
        }
        Some(_) => true,
    }
}

/// Fills the ticket. `existing` holds the ticket's current fields (by site
/// field id) when it exists: fields a person set are kept.
pub(crate) fn fill(
    b: &Binding,
    i: &TicketInputs,
    config: &JiraConfig,
    existing: Option<&Map<String, Value>>,
) -> Filled {
    let mut fields = Map::new();
    let mut missing = Vec::new();
    for f in TicketField::ALL {
        if f == TicketField::Description {
            continue;
        }
        let Some(site) = config.site_field(f) else {
            if config.required.contains(&f) {
                missing.push(f);
            }
            continue;
        };
        let current = existing.and_then(|e| e.get(&site.id));
        let keep = PERSON_FIELDS.contains(&f) && is_filled(current);
        match text_of(f, b, i) {
            Some(text) if !keep => {
                fields.insert(site.id.clone(), encode(site.kind, &text));
            }
            _ if is_filled(current) => {}
            _ => {
                if config.required.contains(&f) {
                    missing.push(f);
                }
            }
        }
    }
    fields.insert("description".into(), description(b, i, config, &missing));
    Filled { fields, missing }
}

/// The ticket description: what is deployed, from where, and the commits.
pub(crate) fn description(b: &Binding, i: &TicketInputs, config: &JiraConfig, missing: &[TicketField]) -> Value {
    let code = |s: &str| vec![Inline::Code(s.to_owned())];
    let text = |s: &str| vec![Inline::Text(s.to_owned())];
    let mut rows = vec![
        vec![text("Repository"), code(&b.project_slug)],
        vec![text("Environment"), code(&b.environment)],
        vec![text("Action"), code(b.action.as_str())],
        vec![text("Branch"), code(&b.branch)],
        vec![text("Commit"), code(&b.commit)],
        vec![
            text("Pipeline"),
            vec![Inline::Text(format!("#{} ", b.pipeline_number)), Inline::Code(b.pipeline_id.clone())],
        ],
        vec![
            text("Build job"),
            vec![
                Inline::Text(format!("{} #{} ", b.build_job.name, b.build_job.number)),
                Inline::Code(b.build_job.id.clone()),
            ],
        ],
        vec![text("Change type"), text(&i.change_type)],
    ];
    if let Some(url) = &i.build_url {
        rows.push(vec![text("Requested by job"), vec![Inline::Link { text: url.clone(), href: url.clone() }]]);
    }
    if let Some(who) = &i.requested_by {
        rows.push(vec![text("Pipeline triggered by"), text(who)]);
    }
    for (label, value) in
        [("Justification", &i.justification), ("Rollback plan", &i.rollback_plan), ("Service", &i.service)]
    {
        if let Some(v) = value {
            rows.push(vec![text(label), text(v)]);
        }
    }
    let mut doc = Doc::new()
        .heading(3, &format!("Change request: {}", default_summary(b)))
        .text("Created and maintained by changegate. The binding below is what this ticket allows to be deployed; any change to it voids an approval.")
        .table(&["", ""], rows)
        .paragraph(vec![Inline::Strong("Binding digest: ".into()), Inline::Code(b.digest().to_string())]);
    let c = &i.commits;
    let since = match (&c.base_ticket, &c.base_commit) {
        (Some(t), Some(sha)) => {
            format!("Commits since the last approved deploy ({t}, {}):", sha.chars().take(12).collect::<String>())
        }
        _ => "Commits (no earlier approved deploy of this repository to this environment: a first deploy):".to_owned(),
    };
    doc = doc.heading(4, &since);
    const SHOWN: usize = 50;
    let items: Vec<Vec<Inline>> = c
        .commits
        .iter()
        .take(SHOWN)
        .map(|(sha, subject)| vec![Inline::Code(sha.chars().take(12).collect()), Inline::Text(format!(" {subject}"))])
        .collect();
    doc = doc.bullets(items);
    if c.commits.len() > SHOWN {
        doc = doc.text(&format!("... and {} more.", c.commits.len() - SHOWN));
    }
    if let Some(note) = &c.note {
        doc = doc.text(note);
    }
    doc = doc.text(
        "This list comes from the CI checkout and is for reading only; the analysis reads the history from GitHub.",
    );
    if !missing.is_empty() {
        let names: Vec<Vec<Inline>> = missing.iter().map(|f| vec![Inline::Text(field_help(*f, config))]).collect();
        doc = doc
            .heading(4, "Waiting for input")
            .text("These required fields could not be filled from the build:")
            .bullets(names);
    }
    doc.build()
}

/// A line telling a person how to complete a missing field.
pub(crate) fn field_help(f: TicketField, config: &JiraConfig) -> String {
    match config.site_field(f) {
        Some(site) => format!("{} (field {})", f.label(), site.id),
        None => format!(
            "{} (not mapped to a field of this site: add `{}` under [jira.fields] in changegate.toml, or describe it in a comment)",
            f.label(),
            f.name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Date;
    use crate::config::Config;
    use crate::model::binding::tests::binding;

    fn config(text: &str) -> JiraConfig {
        Config::parse(text, "c.toml", Date::new(2026, 11, 27).unwrap()).unwrap().jira
    }

    fn inputs() -> TicketInputs {
        TicketInputs {
            change_type: "normal".into(),
            build_url: Some("https://ci/job/1".into()),
            ..TicketInputs::default()
        }
    }

    #[test]
    fn defaults_fill_summary_and_description_and_miss_the_human_fields() {
        let f = fill(&binding(), &inputs(), &config(""), None);
        assert_eq!(f.fields["summary"], "Deploy gh/acme/web@0123456 to production (apply)");
        assert_eq!(f.fields["description"]["type"], "doc");
        assert_eq!(f.missing, [TicketField::Justification, TicketField::RollbackPlan]);
        let text = crate::clients::jira::adf::plain_text(&f.fields["description"]);
        assert!(text.contains("not mapped to a field of this site"), "{text}");
        assert!(text.contains(&binding().digest().to_string()));
    }

    #[test]
    fn mapped_fields_are_encoded_by_type() {
        let c = config(
            "[jira.fields]\nenvironment = { id = \"cf_env\", type = \"select\" }\nbuild_job_number = { id = \"cf_num\", type = \"number\" }\njustification = { id = \"cf_just\", type = \"textarea\" }\nbranch = \"cf_branch\"\n",
        );
        let mut i = inputs();
        i.justification = Some("Customer fix".into());
        let f = fill(&binding(), &i, &c, None);
        assert_eq!(f.fields["cf_env"], json!({"value": "production"}));
        assert_eq!(f.fields["cf_num"], json!(1001.0));
        assert_eq!(f.fields["cf_branch"], "main");
        assert_eq!(f.fields["cf_just"]["type"], "doc");
        assert_eq!(f.missing, [TicketField::RollbackPlan]);
    }

    #[test]
    fn a_person_filled_field_is_kept_and_no_longer_missing() {
        let c = config("[jira.fields]\njustification = \"cf_just\"\nrollback_plan = \"cf_rb\"\n");
        let mut existing = Map::new();
        existing.insert("cf_just".into(), json!("written by a person"));
        let mut i = inputs();
        i.justification = Some("from the pipeline".into());
        let f = fill(&binding(), &i, &c, Some(&existing));
        assert!(!f.fields.contains_key("cf_just"), "a person's value is not overwritten");
        assert_eq!(f.missing, [TicketField::RollbackPlan]);
    }
}
