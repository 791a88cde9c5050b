//! `iam` (seed): any create, update, delete or replace of an `aws_iam_*`
//! resource: roles, users, groups, policies, memberships, instance profiles,
//! access keys, OIDC providers.

use super::shared::{Hit, access_severity};
use crate::config::plan::Reason;
use crate::steps::plan::model::View;

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    if v.kind().starts_with("aws_iam_") {
        out.push(Hit::new(Reason::Iam, access_severity(v), format!("IAM resource {}", v.actions().verb())));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn every_change_of_an_iam_type_counts_creates_included() {
        for kind in
            ["aws_iam_role", "aws_iam_access_key", "aws_iam_openid_connect_provider", "aws_iam_group_membership"]
        {
            for actions in [json!(["create"]), json!(["update"]), json!(["delete"]), json!(["delete", "create"])] {
                assert_eq!(reasons(&run(check, kind, json!({"actions": actions}))), [Reason::Iam]);
            }
        }
    }

    #[test]
    fn no_op_read_and_other_types_do_not() {
        assert!(run(check, "aws_iam_role", json!({"actions": ["no-op"]})).is_empty());
        assert!(run(check, "aws_iam_role", json!({"actions": ["forget"]})).is_empty());
        assert!(run(check, "aws_instance", json!({"actions": ["create"]})).is_empty());
        assert!(run(check, "aws_iamx_role", json!({"actions": ["create"]})).is_empty());
    }
}
