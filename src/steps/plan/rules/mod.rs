//! The plan-risk rules (README.md, `changegate plan-check`, "Reasons"), one
//! module per reason code.
//!
//! Each rule is a pure function of one resource change ([`View`]) that pushes
//! [`Hit`]s. The five seed reasons always run; the others are on by default
//! and can be switched off in `changegate.toml`. A hit whose truth depends on
//! whether the configuration sets an attribute (a value unknown until apply)
//! carries that question; the caller answers it once the `configuration`
//! section of the plan has been read.

mod attachment;
mod cloud_iam_firewall;
mod delete;
mod deletion_protection;
mod extra_type;
mod iam;
mod iam_wildcard;
mod policy;
mod public_exposure;
mod resource_policy;
mod security_group;
mod stateful_replace;
mod trust_policy;

#[cfg(test)]
pub(crate) mod testing;

use super::model::{Marked, View};
use super::policy_doc::{self, PolicyValue};
use crate::config::plan::PlanRules;
pub use crate::config::plan::{Reason, Severity};

/// One rule matched one resource change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub(crate) reason: Reason,
    pub(crate) severity: Severity,
    /// What changed, for a reviewer. Never contains a sensitive value.
    pub(crate) detail: String,
    /// The hit stands only if the configuration sets this attribute (the
    /// value is unknown until apply); `None` when it stands regardless.
    pub(crate) if_configured: Option<&'static str>,
}

impl Hit {
    fn new(reason: Reason, severity: Severity, detail: impl Into<String>) -> Self {
        Hit { reason, severity, detail: detail.into(), if_configured: None }
    }

    fn if_configured(mut self, attr: &'static str) -> Self {
        self.if_configured = Some(attr);
        self
    }
}

/// A rule: pushes its hits for one resource change.
type Rule = fn(&View<'_>, &mut Vec<Hit>);

/// Runs every enabled rule on one managed resource change.
pub fn assess(v: &View<'_>, rules: &PlanRules) -> Vec<Hit> {
    let mut hits = Vec::new();
    if !v.actions().changes() {
        return hits;
    }
    delete::check(v, &mut hits);
    policy::check(v, &mut hits);
    iam::check(v, &mut hits);
    attachment::check(v, &mut hits);
    security_group::check(v, &mut hits);
    let optional: [(Reason, Rule); 7] = [
        (Reason::ResourcePolicy, resource_policy::check),
        (Reason::PublicExposure, public_exposure::check),
        (Reason::StatefulReplace, stateful_replace::check),
        (Reason::DeletionProtectionOff, deletion_protection::check),
        (Reason::IamWildcard, iam_wildcard::check),
        (Reason::TrustPolicy, trust_policy::check),
        (Reason::CloudIamFirewall, cloud_iam_firewall::check),
    ];
    for (reason, check) in optional {
        if rules.enabled(reason) {
            check(v, &mut hits);
        }
    }
    extra_type::check(v, rules, &mut hits);
    hits
}

/// Severity for rules about access: adding is less risky than changing or
/// removing what exists.
fn access_severity(v: &View<'_>) -> Severity {
    if v.actions().is_create_only() { Severity::Low } else { Severity::Medium }
}

/// How a policy-like attribute changes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DocChange {
    /// Set on a new object.
    Set,
    /// Removed (with its object, or emptied).
    Removed,
    /// Different content after normalisation.
    Changed,
    /// Known only after apply, and the object had one before.
    UnknownReplacingOld,
    /// Known only after apply; counts only if the configuration sets it.
    UnknownIfConfigured,
}

/// Compares a policy-like attribute across the change (see [`policy_doc`]).
fn doc_change(v: &View<'_>, attr: &str) -> Option<DocChange> {
    let actions = v.actions();
    let before = v.before(attr);
    let after = v.after(attr);
    let unknown = v.unknown(attr) != Marked::No;
    if actions.is_delete_only() {
        return (!policy_doc::is_empty(before.as_ref())).then_some(DocChange::Removed);
    }
    let had = !actions.is_create_only() && !policy_doc::is_empty(before.as_ref());
    if unknown {
        return Some(if had { DocChange::UnknownReplacingOld } else { DocChange::UnknownIfConfigured });
    }
    let has = !policy_doc::is_empty(after.as_ref());
    match (had, has) {
        (false, false) => None,
        (false, true) => Some(DocChange::Set),
        (true, false) => Some(DocChange::Removed),
        (true, true) => {
            let (b, a) = (before.expect("had"), after.expect("has"));
            (!policy_doc::equivalent(&b, &a)).then_some(DocChange::Changed)
        }
    }
}

/// A message for a [`DocChange`]; `(sensitive)` is noted, never the value.
fn doc_change_text(v: &View<'_>, attr: &str, c: &DocChange) -> String {
    let marked = if v.sensitive(attr) { " (sensitive)" } else { "" };
    match c {
        DocChange::Set => format!("`{attr}`{marked} set"),
        DocChange::Removed => format!("`{attr}`{marked} removed"),
        DocChange::Changed => format!("`{attr}`{marked} changed"),
        DocChange::UnknownReplacingOld => {
            format!("`{attr}`{marked} replaced by a value known only after apply")
        }
        DocChange::UnknownIfConfigured => {
            format!("`{attr}`{marked} configured, value known only after apply")
        }
    }
}

/// The statements a change adds to a policy-like attribute: those in the new
/// document that the old one did not have.
fn added_statements(v: &View<'_>, attr: &str) -> Vec<policy_doc::Statement> {
    let Some(after) = v.after(attr) else {
        return Vec::new();
    };
    let old: Vec<String> = match v.before(attr) {
        Some(b) if !v.actions().is_create_only() => {
            PolicyValue::from_attr(&b).statements().into_iter().map(|s| s.canonical).collect()
        }
        _ => Vec::new(),
    };
    PolicyValue::from_attr(&after).statements().into_iter().filter(|s| !old.contains(&s.canonical)).collect()
}

/// Simple `*` glob matching for type patterns and exemption addresses.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let mut middle = parts.peekable();
    if middle.peek().is_none() {
        return rest.is_empty();
    }
    while let Some(part) = middle.next() {
        if middle.peek().is_none() {
            // The last part must end the text.
            return rest.len() >= part.len() && rest.ends_with(part);
        }
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Resource types that hold data: replacing or deleting one loses it.
pub const STATEFUL_TYPES: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_rds_global_cluster",
    "aws_dynamodb_table",
    "aws_dynamodb_global_table",
    "aws_s3_bucket",
    "aws_efs_file_system",
    "aws_kms_key",
    "aws_kms_replica_key",
    "aws_ebs_volume",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
    "aws_elasticache_serverless_cache",
    "aws_memorydb_cluster",
    "aws_redshift_cluster",
    "aws_docdb_cluster",
    "aws_docdb_cluster_instance",
    "aws_neptune_cluster",
    "aws_neptune_cluster_instance",
    "aws_opensearch_domain",
    "aws_elasticsearch_domain",
    "aws_msk_cluster",
    "aws_kinesis_stream",
    "aws_sqs_queue",
    "aws_secretsmanager_secret",
    "aws_route53_zone",
    "aws_fsx_lustre_file_system",
    "aws_fsx_windows_file_system",
    "aws_fsx_ontap_file_system",
    "aws_fsx_openzfs_file_system",
    "aws_backup_vault",
    "aws_glacier_vault",
    "aws_timestream_table",
    "aws_qldb_ledger",
    "aws_keyspaces_table",
    "aws_ecr_repository",
];

/// True for a data-holding resource type.
pub fn is_stateful(kind: &str) -> bool {
    STATEFUL_TYPES.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip_and_seed_set_is_the_five() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        let seed: Vec<&str> = Reason::ALL.iter().filter(|r| r.is_seed()).map(|r| r.code()).collect();
        assert_eq!(seed, ["delete", "policy", "iam", "attachment", "security_group"]);
    }

    #[test]
    fn glob() {
        assert!(glob_match("aws_iam_*", "aws_iam_role"));
        assert!(glob_match("*_policy_attachment", "aws_iam_role_policy_attachment"));
        assert!(glob_match("google_*_iam_*", "google_project_iam_member"));
        assert!(!glob_match("google_*_iam_*", "google_project_service"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
