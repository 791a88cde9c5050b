//! `policy` (seed): the top-level `policy` attribute changes (bucket, key,
//! queue, topic, repository and IAM policies...), compared as JSON after
//! normalisation so formatting-only differences are not changes. A value
//! unknown until apply counts when the old value was set or the
//! configuration sets `policy`; a create whose policy is unknown only because
//! AWS computes it (every bucket or key created without one) does not.

use super::shared::{DocChange, Hit, doc_change, doc_change_text};
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::View;

const ATTR: &str = "policy";

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    if let Some(hit) = hit(v, Reason::Policy, ATTR) {
        out.push(hit);
    }
}

/// The hit for a policy-like attribute, shared with `resource_policy`.
pub(super) fn hit(v: &View<'_>, reason: Reason, attr: &'static str) -> Option<Hit> {
    let change = doc_change(v, attr)?;
    let severity = if v.actions().is_create_only() { Severity::Medium } else { Severity::High };
    let h = Hit::new(reason, severity, doc_change_text(v, attr, &change));
    Some(if change == DocChange::UnknownIfConfigured { h.if_configured(attr) } else { h })
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;
    use serde_json::json;

    const P1: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    const P1_REFORMATTED: &str = "{\n \"Statement\": [{\"Resource\": [\"*\"], \"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\"]}],\n \"Version\": \"2012-10-17\"}";
    const P2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

    fn details(kind: &str, change: serde_json::Value) -> Vec<(String, Option<&'static str>)> {
        run(check, kind, change).into_iter().map(|h| (h.detail, h.if_configured)).collect()
    }

    #[test]
    fn formatting_only_update_is_not_a_change() {
        let d = details(
            "aws_s3_bucket_policy",
            json!({"actions": ["update"], "before": {"policy": P1}, "after": {"policy": P1_REFORMATTED}}),
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn content_update_is_a_change() {
        let d = details(
            "aws_s3_bucket_policy",
            json!({"actions": ["update"], "before": {"policy": P1}, "after": {"policy": P2}}),
        );
        assert_eq!(d, [("`policy` changed".to_owned(), None)]);
    }

    #[test]
    fn create_with_known_policy_counts() {
        let d = details("aws_kms_key", json!({"actions": ["create"], "before": null, "after": {"policy": P1}}));
        assert_eq!(d, [("`policy` set".to_owned(), None)]);
    }

    #[test]
    fn create_with_computed_policy_is_conditional_on_configuration() {
        let d =
            details("aws_s3_bucket", json!({"actions": ["create"], "after": {}, "after_unknown": {"policy": true}}));
        assert_eq!(d, [("`policy` configured, value known only after apply".to_owned(), Some("policy"))]);
    }

    #[test]
    fn update_to_unknown_with_old_value_counts_unconditionally() {
        let d = details(
            "aws_iam_policy",
            json!({"actions": ["update"], "before": {"policy": P1}, "after": {}, "after_unknown": {"policy": true}}),
        );
        assert_eq!(d, [("`policy` replaced by a value known only after apply".to_owned(), None)]);
    }

    #[test]
    fn delete_with_policy_counts_without_does_not() {
        assert_eq!(details("aws_sqs_queue", json!({"actions": ["delete"], "before": {"policy": P1}})).len(), 1);
        assert!(details("aws_sqs_queue", json!({"actions": ["delete"], "before": {"policy": ""}})).is_empty());
    }

    #[test]
    fn update_of_other_attributes_with_same_policy_is_not_a_change() {
        let d = details(
            "aws_s3_bucket",
            json!({"actions": ["update"], "before": {"policy": P1, "acl": "private"}, "after": {"policy": P1, "acl": "public-read"}}),
        );
        assert!(d.is_empty());
    }

    #[test]
    fn sensitive_policy_is_compared_but_never_shown() {
        let hits = run(
            check,
            "aws_iam_policy",
            json!({"actions": ["update"], "before": {"policy": P1}, "after": {"policy": P2},
                   "before_sensitive": {"policy": true}, "after_sensitive": {"policy": true}}),
        );
        assert_eq!(hits[0].detail, "`policy` (sensitive) changed");
        assert!(!hits[0].detail.contains("s3:"));
    }
}
