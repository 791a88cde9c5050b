//! `stateful_replace`: a data-holding resource (database, table, bucket,
//! file system, key, queue...) is replaced. Terraform destroys the old object
//! and its data with it; the plan says so only as `["delete","create"]`.

use super::shared::{Hit, is_stateful};
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::View;

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    if v.actions().is_replace() && is_stateful(v.kind()) {
        out.push(Hit::new(
            Reason::StatefulReplace,
            Severity::High,
            format!("stateful resource replaced: the data of the old {} is lost unless restored", v.kind()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn replace_of_stateful_counts_updates_and_stateless_do_not() {
        for kind in ["aws_db_instance", "aws_dynamodb_table", "aws_s3_bucket", "aws_efs_file_system", "aws_kms_key"] {
            assert_eq!(reasons(&run(check, kind, json!({"actions": ["delete", "create"]}))), [Reason::StatefulReplace]);
            assert!(run(check, kind, json!({"actions": ["update"]})).is_empty());
        }
        assert!(run(check, "aws_instance", json!({"actions": ["delete", "create"]})).is_empty());
    }
}
