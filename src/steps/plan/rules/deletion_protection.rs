//! `deletion_protection_off`: a safeguard against destroying data is turned
//! off on an existing object (`deletion_protection` true -> false,
//! `skip_final_snapshot` or `force_destroy` false -> true, ...). Objects
//! created without one are not flagged: nothing was protected before.

use serde_json::Value;

use super::shared::Hit;
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::Marked;
use crate::steps::plan::model::View;

/// (attribute, value while protected)
const GUARDS: &[(&str, bool)] = &[
    ("deletion_protection", true),
    ("deletion_protection_enabled", true),
    ("enable_deletion_protection", true),
    ("disable_api_termination", true),
    ("termination_protection", true),
    ("enable_termination_protection", true),
    ("skip_final_snapshot", false),
    ("force_destroy", false),
    ("force_delete", false),
];

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    if v.actions().is_create_only() || v.actions().is_delete_only() {
        return;
    }
    for &(attr, protected) in GUARDS {
        if v.before(attr) != Some(Value::Bool(protected)) {
            continue;
        }
        let detail = if v.unknown(attr) != Marked::No {
            format!("`{attr}` was {protected}; the new value is known only after apply")
        } else if v.after(attr) != Some(Value::Bool(protected)) {
            format!("`{attr}` {protected} -> {}", !protected)
        } else {
            continue;
        };
        out.push(Hit::new(Reason::DeletionProtectionOff, Severity::Medium, detail));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn turning_protection_off_counts() {
        let hits = run(
            check,
            "aws_db_instance",
            json!({"actions": ["update"],
            "before": {"deletion_protection": true, "skip_final_snapshot": false},
            "after": {"deletion_protection": false, "skip_final_snapshot": true}}),
        );
        assert_eq!(reasons(&hits), [Reason::DeletionProtectionOff, Reason::DeletionProtectionOff]);
        assert_eq!(hits[0].detail, "`deletion_protection` true -> false");
        assert_eq!(hits[1].detail, "`skip_final_snapshot` false -> true");
    }

    #[test]
    fn turning_protection_on_or_creating_without_does_not() {
        assert!(run(check, "aws_db_instance", json!({"actions": ["update"], "before": {"deletion_protection": false}, "after": {"deletion_protection": true}})).is_empty());
        assert!(
            run(check, "aws_db_instance", json!({"actions": ["create"], "after": {"deletion_protection": false}}))
                .is_empty()
        );
        assert!(
            run(
                check,
                "aws_s3_bucket",
                json!({"actions": ["update"], "before": {"force_destroy": true}, "after": {"force_destroy": true}})
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_new_value_of_a_guard_counts() {
        let hits = run(
            check,
            "aws_lb",
            json!({"actions": ["update"], "before": {"enable_deletion_protection": true}, "after": {}, "after_unknown": {"enable_deletion_protection": true}}),
        );
        assert_eq!(reasons(&hits), [Reason::DeletionProtectionOff]);
    }
}
