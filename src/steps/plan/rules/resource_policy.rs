//! `resource_policy`: policy-like attributes other than `policy`
//! (`access_policies` of search domains, `policy_document` of log resource
//! policies, inline role policies, Google `policy_data`, Organizations policy
//! `content`) and resource-based permissions (Lambda permissions, KMS grants,
//! RAM shares), which grant access without an IAM policy.

use super::policy;
use super::shared::{Hit, access_severity};
use crate::config::plan::Reason;
use crate::steps::plan::model::View;

/// Attributes that hold a policy document, on any resource type.
const ATTRS: &[&str] =
    &["access_policies", "access_policy", "policy_document", "resource_policy", "inline_policy", "policy_data"];

/// Resource types whose every change grants or revokes access.
const TYPES: &[&str] = &[
    "aws_lambda_permission",
    "aws_lambda_layer_version_permission",
    "aws_kms_grant",
    "aws_ram_principal_association",
    "aws_ram_resource_association",
    "aws_ram_resource_share",
    "aws_organizations_policy",
    "aws_ecr_registry_policy",
    "aws_s3control_access_point_policy",
    "aws_s3control_bucket_policy",
    "aws_serverlessapplicationrepository_application",
];

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    let kind = v.kind();
    if TYPES.contains(&kind) {
        out.push(Hit::new(
            Reason::ResourcePolicy,
            access_severity(v),
            format!("resource-based permission {}", v.actions().verb()),
        ));
        return;
    }
    for attr in ATTRS {
        if let Some(h) = policy::hit(v, Reason::ResourcePolicy, attr) {
            out.push(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn lambda_permission_and_kms_grant_count() {
        for kind in ["aws_lambda_permission", "aws_kms_grant"] {
            assert_eq!(reasons(&run(check, kind, json!({"actions": ["create"]}))), [Reason::ResourcePolicy]);
        }
    }

    #[test]
    fn access_policies_change_counts_formatting_does_not() {
        let a = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"es:*"}]}"#;
        let b = r#"{"Statement":{"Action":"es:*","Principal":"*","Effect":"Allow"}}"#;
        let c = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"es:*"}]}"#;
        let same = run(
            check,
            "aws_opensearch_domain",
            json!({"actions": ["update"], "before": {"access_policies": a}, "after": {"access_policies": b}}),
        );
        assert!(same.is_empty());
        let diff = run(
            check,
            "aws_opensearch_domain",
            json!({"actions": ["update"], "before": {"access_policies": a}, "after": {"access_policies": c}}),
        );
        assert_eq!(diff[0].detail, "`access_policies` changed");
    }

    #[test]
    fn inline_policy_blocks_compare_by_content() {
        let block = |p: &str| json!([{"name": "inline", "policy": p}]);
        let a = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let a2 = r#"{ "Statement": { "Resource": "*", "Action": "s3:GetObject", "Effect": "Allow" } }"#;
        let same = run(
            check,
            "aws_iam_role",
            json!({"actions": ["update"], "before": {"inline_policy": block(a)}, "after": {"inline_policy": block(a2)}}),
        );
        assert!(same.is_empty(), "{same:?}");
    }
}
