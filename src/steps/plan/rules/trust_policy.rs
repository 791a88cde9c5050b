//! `trust_policy`: who may assume a role changes (`assume_role_policy` of
//! `aws_iam_role`). A new role's trust is shown too: a new trust relationship
//! (a CI provider, another account) is exactly what a reviewer wants to see.

use super::shared::{DocChange, Hit, doc_change};
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::View;
use crate::steps::plan::policy_doc::PolicyValue;

const ATTR: &str = "assume_role_policy";

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    if v.kind() != "aws_iam_role" {
        return;
    }
    let Some(change) = doc_change(v, ATTR) else { return };
    let (severity, created) = match change {
        DocChange::Set => (Severity::Medium, true),
        DocChange::Changed => (Severity::High, false),
        DocChange::Removed => return,
        DocChange::UnknownReplacingOld | DocChange::UnknownIfConfigured => {
            out.push(Hit::new(Reason::TrustPolicy, Severity::High, "trust policy known only after apply"));
            return;
        }
    };
    let detail = if v.sensitive(ATTR) {
        if created { "new role trusts (sensitive)".to_owned() } else { "trust changed (sensitive)".to_owned() }
    } else if created {
        format!("new role trusts {}", list(&principals(v.after(ATTR))))
    } else {
        let (before, after) = (principals(v.before(ATTR)), principals(v.after(ATTR)));
        let added: Vec<String> = after.iter().filter(|p| !before.contains(p)).cloned().collect();
        let removed: Vec<String> = before.iter().filter(|p| !after.contains(p)).cloned().collect();
        match (added.is_empty(), removed.is_empty()) {
            (false, false) => {
                format!("trust changed; now also trusts {}; no longer trusts {}", list(&added), list(&removed))
            }
            (false, true) => format!("trust changed; now also trusts {}", list(&added)),
            (true, false) => format!("trust changed; no longer trusts {}", list(&removed)),
            (true, true) => "trust changed: conditions or actions".to_owned(),
        }
    };
    out.push(Hit::new(Reason::TrustPolicy, severity, detail));
}

/// The principals a trust policy allows, sorted.
fn principals(doc: Option<serde_json::Value>) -> Vec<String> {
    let statements = doc.map(|d| PolicyValue::from_attr(&d).statements()).unwrap_or_default();
    let mut p: Vec<String> = statements.iter().filter(|s| s.allow).flat_map(|s| s.principals.iter().cloned()).collect();
    p.sort();
    p.dedup();
    p
}

fn list(p: &[String]) -> String {
    if p.is_empty() { "no principal".to_owned() } else { p.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;
    use serde_json::json;

    fn trust(principal: &str) -> String {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": principal}}]})
        .to_string()
    }

    #[test]
    fn new_role_shows_its_principals() {
        let hits = run(
            check,
            "aws_iam_role",
            json!({"actions": ["create"], "after": {"assume_role_policy": trust("ec2.amazonaws.com")}}),
        );
        assert_eq!(hits[0].detail, "new role trusts ec2.amazonaws.com");
        assert_eq!(hits[0].severity, Severity::Medium);
    }

    #[test]
    fn changed_trust_is_high_same_trust_is_nothing() {
        let changed = run(
            check,
            "aws_iam_role",
            json!({"actions": ["update"],
            "before": {"assume_role_policy": trust("ec2.amazonaws.com")}, "after": {"assume_role_policy": trust("lambda.amazonaws.com")}}),
        );
        assert_eq!(changed[0].severity, Severity::High);
        assert_eq!(
            changed[0].detail,
            "trust changed; now also trusts lambda.amazonaws.com; no longer trusts ec2.amazonaws.com"
        );
        let same = run(
            check,
            "aws_iam_role",
            json!({"actions": ["update"],
            "before": {"assume_role_policy": trust("ec2.amazonaws.com"), "description": "a"},
            "after": {"assume_role_policy": trust("ec2.amazonaws.com"), "description": "b"}}),
        );
        assert!(same.is_empty());
    }
}
