//! `delete` (seed): any change that destroys an object, replacements
//! included (`["delete","create"]` and `["create","delete"]`). In production
//! deletes should be unusual, so each one is reviewed.

use super::shared::{Hit, is_stateful};
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::View;

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    let actions = v.actions();
    if !actions.deletes() {
        return;
    }
    let rc = v.rc;
    let mut detail = if actions.is_replace() {
        let order = if actions.0.first().is_some_and(|a| a.as_str() == "create") {
            "create before destroy"
        } else {
            "destroy before create"
        };
        format!("replaced ({order})")
    } else if let Some(deposed) = &rc.deposed {
        format!("deposed object {deposed} destroyed")
    } else {
        "destroyed".to_owned()
    };
    let paths = rc.change.replace_paths();
    if !paths.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| path_text(p)).collect();
        detail.push_str(&format!("; forced by {}", names.join(", ")));
    }
    if let Some(reason) = &rc.action_reason {
        detail.push_str(&format!("; Terraform: {reason}"));
    }
    let severity = if is_stateful(v.kind()) { Severity::High } else { Severity::Medium };
    out.push(Hit::new(Reason::Delete, severity, detail));
}

/// `["ingress", 0, "cidr_blocks"]` -> `ingress[0].cidr_blocks` (names only,
/// never values).
fn path_text(p: &[serde_json::Value]) -> String {
    let mut s = String::new();
    for step in p {
        match step {
            serde_json::Value::String(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            other => s.push_str(&format!("[{other}]")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn deletes_and_both_replace_orders_count() {
        for actions in [json!(["delete"]), json!(["delete", "create"]), json!(["create", "delete"])] {
            let hits = run(check, "aws_instance", json!({"actions": actions}));
            assert_eq!(reasons(&hits), [Reason::Delete], "{actions}");
        }
    }

    #[test]
    fn forget_and_create_forget_destroy_nothing() {
        for actions in [json!(["forget"]), json!(["create", "forget"]), json!(["forget", "create"]), json!(["update"])]
        {
            assert!(run(check, "aws_instance", json!({"actions": actions})).is_empty());
        }
    }

    #[test]
    fn detail_names_order_paths_and_reason() {
        let hits = run(
            check,
            "aws_db_instance",
            json!({"actions": ["create", "delete"], "replace_paths": [["engine"], ["ingress", 0, "cidr"]]}),
        );
        assert_eq!(hits[0].severity, Severity::High);
        assert_eq!(hits[0].detail, "replaced (create before destroy); forced by engine, ingress[0].cidr");
    }
}
