//! `iam_wildcard`: a change adds a policy statement that allows every action
//! (`"*"`), every action of a service on every resource (`"s3:*"` on `"*"`),
//! or everything except a list (`Allow` with `NotAction`). Only statements
//! the change adds are reported: an unchanged wildcard was reviewed before.

use super::shared::{Hit, added_statements};
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::View;
use crate::steps::plan::policy_doc::STATEMENT_ATTRS;

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    for attr in STATEMENT_ATTRS {
        for st in added_statements(v, attr).iter() {
            if let Some(what) = st.grants_wildcard() {
                let what = if v.sensitive(attr) { "a wildcard".to_owned() } else { what };
                out.push(Hit::new(Reason::IamWildcard, Severity::High, format!("`{attr}` allows {what}")));
            }
        }
    }
    // Inline policies of roles, users and groups sit in blocks.
    if let Some(serde_json::Value::Array(blocks)) = v.after("inline_policy") {
        let before = v.before("inline_policy").map(|b| b.to_string()).unwrap_or_default();
        for b in blocks {
            let Some(doc) = b.get("policy") else { continue };
            if before.contains(&doc.to_string()) && !v.actions().is_create_only() {
                continue;
            }
            for st in crate::steps::plan::policy_doc::PolicyValue::from_attr(doc).statements() {
                if let Some(what) = st.grants_wildcard() {
                    let what = if v.sensitive("inline_policy") { "a wildcard".to_owned() } else { what };
                    out.push(Hit::new(Reason::IamWildcard, Severity::High, format!("`inline_policy` allows {what}")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;
    use serde_json::json;

    const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const READ: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    #[test]
    fn new_admin_statement_counts() {
        let hits = run(check, "aws_iam_policy", json!({"actions": ["create"], "after": {"policy": ADMIN}}));
        assert_eq!(hits[0].detail, "`policy` allows Action \"*\" on Resource \"*\"");
        let upd = run(
            check,
            "aws_iam_policy",
            json!({"actions": ["update"], "before": {"policy": READ}, "after": {"policy": ADMIN}}),
        );
        assert_eq!(upd.len(), 1);
    }

    #[test]
    fn unchanged_wildcard_and_narrow_statements_do_not() {
        assert!(run(check, "aws_iam_policy", json!({"actions": ["update"], "before": {"policy": ADMIN, "name": "a"}, "after": {"policy": ADMIN, "name": "b"}})).is_empty());
        assert!(run(check, "aws_iam_policy", json!({"actions": ["create"], "after": {"policy": READ}})).is_empty());
    }

    #[test]
    fn inline_policy_blocks_are_read() {
        let hits = run(
            check,
            "aws_iam_role",
            json!({"actions": ["create"], "after": {"inline_policy": [{"name": "x", "policy": ADMIN}]}}),
        );
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn sensitive_policy_content_is_not_described() {
        let hits = run(
            check,
            "aws_iam_policy",
            json!({"actions": ["create"], "after": {"policy": ADMIN}, "after_sensitive": {"policy": true}}),
        );
        assert_eq!(hits[0].detail, "`policy` allows a wildcard");
    }
}
