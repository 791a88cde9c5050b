//! `attachment` (seed): a policy attached or detached. Resource types ending
//! in `_policy_attachment(s)` or `_policy_attachments_exclusive` (IAM, SSO,
//! Organizations), or a changed `managed_policy_arns` on `aws_iam_role`.
//! Other attachments (volumes, target groups) are not policy attachments.

use serde_json::Value;

use super::shared::{Hit, access_severity};
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::Marked;
use crate::steps::plan::model::View;

const SUFFIXES: &[&str] = &["_policy_attachment", "_policy_attachments", "_policy_attachments_exclusive"];

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    let kind = v.kind();
    if SUFFIXES.iter().any(|s| kind.ends_with(s)) {
        out.push(Hit::new(Reason::Attachment, access_severity(v), format!("policy attachment {}", v.actions().verb())));
        return;
    }
    // A role deleted takes its attachments with it: that is `iam` + `delete`.
    if kind == "aws_iam_role" && !v.actions().is_delete_only() {
        managed_policy_arns(v, out);
    }
}

/// `managed_policy_arns` is Optional+Computed: unknown on every create, so an
/// unknown value counts only when the configuration sets it.
fn managed_policy_arns(v: &View<'_>, out: &mut Vec<Hit>) {
    const ATTR: &str = "managed_policy_arns";
    if v.unknown(ATTR) != Marked::No {
        out.push(
            Hit::new(Reason::Attachment, Severity::Medium, format!("`{ATTR}` configured, known only after apply"))
                .if_configured(ATTR),
        );
        return;
    }
    let set = |x: Option<Value>| -> Vec<String> {
        let mut s: Vec<String> = match x {
            Some(Value::Array(a)) => {
                a.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)).collect()
            }
            _ => Vec::new(),
        };
        s.sort();
        s.dedup();
        s
    };
    let before = if v.actions().is_create_only() { Vec::new() } else { set(v.before(ATTR)) };
    let after = set(v.after(ATTR));
    if before != after {
        let added = after.iter().filter(|a| !before.contains(a)).count();
        let removed = before.iter().filter(|b| !after.contains(b)).count();
        out.push(Hit::new(
            Reason::Attachment,
            Severity::Medium,
            format!("`{ATTR}` changed: {added} attached, {removed} detached"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn attachment_types_count_other_attachments_do_not() {
        for kind in [
            "aws_iam_role_policy_attachment",
            "aws_iam_policy_attachment",
            "aws_ssoadmin_managed_policy_attachment",
            "aws_organizations_policy_attachment",
            "aws_iam_role_policy_attachments_exclusive",
        ] {
            assert_eq!(reasons(&run(check, kind, json!({"actions": ["delete"]}))), [Reason::Attachment], "{kind}");
        }
        for kind in ["aws_volume_attachment", "aws_lb_target_group_attachment", "aws_network_interface_attachment"] {
            assert!(run(check, kind, json!({"actions": ["create"]})).is_empty(), "{kind}");
        }
    }

    #[test]
    fn managed_policy_arns_visible_difference_counts() {
        let hits = run(
            check,
            "aws_iam_role",
            json!({"actions": ["update"], "before": {"managed_policy_arns": ["arn:a"]}, "after": {"managed_policy_arns": ["arn:a", "arn:b"]}}),
        );
        assert_eq!(hits[0].detail, "`managed_policy_arns` changed: 1 attached, 0 detached");
        let same = run(
            check,
            "aws_iam_role",
            json!({"actions": ["update"], "before": {"managed_policy_arns": ["arn:b", "arn:a"]}, "after": {"managed_policy_arns": ["arn:a", "arn:b"]}}),
        );
        assert!(same.is_empty(), "order is not a change");
    }

    #[test]
    fn unknown_on_create_counts_only_if_configured() {
        let hits = run(
            check,
            "aws_iam_role",
            json!({"actions": ["create"], "after": {}, "after_unknown": {"managed_policy_arns": true}}),
        );
        assert_eq!(hits[0].if_configured, Some("managed_policy_arns"));
    }

    #[test]
    fn role_delete_is_not_an_attachment() {
        let hits =
            run(check, "aws_iam_role", json!({"actions": ["delete"], "before": {"managed_policy_arns": ["arn:a"]}}));
        assert!(hits.is_empty());
    }
}
