//! `security_group` (seed): create, update, delete or replace of a security
//! group or one of its rules. `vpc_security_group_ids` on an instance is not
//! a security-group change.

use super::shared::{Hit, access_severity};
use crate::config::plan::Reason;
use crate::steps::plan::model::View;

const TYPES: &[&str] = &[
    "aws_security_group",
    "aws_default_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
];

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    if TYPES.contains(&v.kind()) {
        out.push(Hit::new(Reason::SecurityGroup, access_severity(v), format!("security group {}", v.actions().verb())));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_and_rules_count_instances_do_not() {
        for kind in TYPES {
            assert_eq!(reasons(&run(check, kind, json!({"actions": ["create"]}))), [Reason::SecurityGroup]);
        }
        let instance = run(
            check,
            "aws_instance",
            json!({"actions": ["update"], "before": {"vpc_security_group_ids": ["sg-1"]}, "after": {"vpc_security_group_ids": ["sg-2"]}}),
        );
        assert!(instance.is_empty());
    }
}
