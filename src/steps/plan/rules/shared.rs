//! What several rules share: the [`Hit`] a rule gives, and how they read a
//! policy-like attribute across a change, the severity of an access change,
//! and a data-holding type (type patterns use [`crate::base::glob`]).

use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::{Marked, View};
use std::borrow::Cow;

use crate::steps::plan::policy_doc::{self, PolicyValue, STATEMENT_ATTRS, Statement};

/// One rule matched one resource change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) reason: Reason,
    pub(crate) severity: Severity,
    /// What changed, for a reviewer. Never contains a sensitive value.
    pub(crate) detail: String,
    /// The hit stands only if the configuration sets this attribute (the
    /// value is unknown until apply); `None` when it stands regardless.
    pub(crate) if_configured: Option<&'static str>,
}

impl Hit {
    pub(super) fn new(reason: Reason, severity: Severity, detail: impl Into<String>) -> Self {
        Hit { reason, severity, detail: detail.into(), if_configured: None }
    }

    pub(super) fn if_configured(mut self, attr: &'static str) -> Self {
        self.if_configured = Some(attr);
        self
    }
}

/// A rule: pushes its hits for one resource change.
pub(super) type Rule = fn(&View<'_>, &mut Vec<Hit>);

/// Severity for rules about access: adding is less risky than changing or
/// removing what exists.
pub(super) fn access_severity(v: &View<'_>) -> Severity {
    if v.actions().is_create_only() { Severity::Low } else { Severity::Medium }
}

/// How a policy-like attribute changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DocChange {
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
pub(super) fn doc_change(v: &View<'_>, attr: &str) -> Option<DocChange> {
    let actions = v.actions();
    // Each side is parsed only when the answer depends on it.
    let before = if actions.is_create_only() { None } else { v.before(attr) };
    if actions.is_delete_only() {
        return (!policy_doc::is_empty(before.as_ref())).then_some(DocChange::Removed);
    }
    let had = !policy_doc::is_empty(before.as_ref());
    if v.unknown(attr) != Marked::No {
        return Some(if had { DocChange::UnknownReplacingOld } else { DocChange::UnknownIfConfigured });
    }
    // A value set on a new object is seen in its first bytes, not decoded.
    let has = match v.after_raw(attr).map(|r| policy_doc::is_empty_raw(r.bytes())) {
        None => false,
        Some(Some(empty)) => !empty,
        Some(None) => !policy_doc::is_empty(v.after(attr).as_ref()),
    };
    match (had, has) {
        (false, false) => None,
        (false, true) => Some(DocChange::Set),
        (true, false) => Some(DocChange::Removed),
        (true, true) => match (before, v.after(attr)) {
            (Some(b), Some(a)) => (!policy_doc::equivalent(&b, &a)).then_some(DocChange::Changed),
            // Not reached: `is_empty_raw` answers only for values serde_json
            // reads. A value it could not read would be absent: removed.
            _ => Some(DocChange::Removed),
        },
    }
}

/// A message for a [`DocChange`]; `(sensitive)` is noted, never the value.
pub(super) fn doc_change_text(v: &View<'_>, attr: &str, c: &DocChange) -> String {
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
/// document that the old one did not have. Worked out once per change for
/// the attributes of [`STATEMENT_ATTRS`], which several rules read.
pub(super) fn added_statements<'v>(v: &'v View<'_>, attr: &str) -> Cow<'v, [Statement]> {
    let added = || {
        let Some(after) = v.after(attr) else {
            return Vec::new();
        };
        let before = if v.actions().is_create_only() { None } else { v.before(attr) };
        PolicyValue::from_attr(&after).statements_not_in(before.map(|b| PolicyValue::from_attr(&b)).as_ref())
    };
    match STATEMENT_ATTRS.iter().position(|a| *a == attr) {
        Some(i) => Cow::Borrowed(v.added_statements[i].get_or_init(added)),
        None => Cow::Owned(added()),
    }
}

/// Resource types that hold data: replacing or deleting one loses it.
pub(crate) const STATEFUL_TYPES: &[&str] = &[
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
pub(crate) fn is_stateful(kind: &str) -> bool {
    STATEFUL_TYPES.contains(&kind)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::steps::plan::element::ElementReader;

    #[test]
    fn a_value_serde_json_refuses_is_absent_as_it_always_was() {
        // Read as absent when parsed; the bytes alone must not say "set".
        for value in ["1e400", "-1e400", r#""a\ud800""#, r#""{\"a\":\"\udc00\"}""#] {
            for actions in [r#"["create"]"#, r#"["update"]"#] {
                let doc = format!(
                    r#"{{"address":"aws_iam_policy.p","mode":"managed","type":"aws_iam_policy",
                    "change":{{"actions":{actions},"before":{{"policy":""}},"after":{{"policy":{value}}}}}}}"#
                );
                let mut reader = ElementReader::default();
                let (rc, _) = reader.read(doc.as_bytes()).unwrap();
                assert_eq!(doc_change(&View::new(&rc), "policy"), None, "{value} {actions}");
            }
        }
    }

    #[test]
    fn the_statements_a_change_adds_are_worked_out_once() {
        let old = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let new = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        let doc = serde_json::json!({"address": "aws_s3_bucket_policy.p", "mode": "managed", "type": "aws_s3_bucket_policy",
            "change": {"actions": ["update"], "before": {"policy": old, "other": old}, "after": {"policy": new, "other": new}}})
        .to_string();
        let mut reader = ElementReader::default();
        let (rc, _) = reader.read(doc.as_bytes()).unwrap();
        let v = View::new(&rc);
        let (first, second) = (added_statements(&v, "policy"), added_statements(&v, "policy"));
        let (Cow::Borrowed(first), Cow::Borrowed(second)) = (first, second) else {
            panic!("a policy attribute's statements are kept on the view");
        };
        assert!(std::ptr::eq(first, second), "the second rule to ask reads what the first worked out");
        assert_eq!(first.len(), 1);
        assert!(first[0].allows_anyone());
        // Any other attribute is worked out on each call, the same way.
        let other = added_statements(&v, "other");
        assert!(matches!(other, Cow::Owned(_)));
        assert_eq!(other.as_ref(), first);
    }
}
