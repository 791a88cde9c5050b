//! `trust_policy`: who may assume a role changes (`assume_role_policy` of
//! `aws_iam_role`). A new role's trust is shown too: a new trust relationship
//! (a CI provider, another account) is exactly what a reviewer wants to see.

use super::{DocChange, Hit, PolicyValue, Reason, Severity, View, doc_change};

const ATTR: &str = "assume_role_policy";

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    if v.kind() != "aws_iam_role" {
        return;
    }
    let Some(change) = doc_change(v, ATTR) else { return };
    let (severity, what) = match change {
        DocChange::Set => (Severity::Medium, "new role trusts"),
        DocChange::Changed => (Severity::High, "trust changed; now trusts"),
        DocChange::Removed => return,
        DocChange::UnknownReplacingOld | DocChange::UnknownIfConfigured => {
            out.push(Hit::new(Reason::TrustPolicy, Severity::High, "trust policy known only after apply"));
            return;
        }
    };
    let detail = if v.sensitive(ATTR) {
        format!("{what} (sensitive)")
    } else {
        let doc = v.after(ATTR).map(|a| PolicyValue::from_attr(&a)).map(|p| p.statements()).unwrap_or_default();
        let mut principals: Vec<String> =
            doc.iter().filter(|s| s.allow).flat_map(|s| s.principals.iter().cloned()).collect();
        principals.sort();
        principals.dedup();
        if principals.is_empty() { format!("{what} no principal") } else { format!("{what} {}", principals.join(", ")) }
    };
    out.push(Hit::new(Reason::TrustPolicy, severity, detail));
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;
    use serde_json::json;

    fn trust(principal: &str) -> String {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": principal}}]}).to_string()
    }

    #[test]
    fn new_role_shows_its_principals() {
        let hits = run(check, "aws_iam_role", json!({"actions": ["create"], "after": {"assume_role_policy": trust("ec2.amazonaws.com")}}));
        assert_eq!(hits[0].detail, "new role trusts ec2.amazonaws.com");
        assert_eq!(hits[0].severity, Severity::Medium);
    }

    #[test]
    fn changed_trust_is_high_same_trust_is_nothing() {
        let changed = run(check, "aws_iam_role", json!({"actions": ["update"],
            "before": {"assume_role_policy": trust("ec2.amazonaws.com")}, "after": {"assume_role_policy": trust("lambda.amazonaws.com")}}));
        assert_eq!(changed[0].severity, Severity::High);
        let same = run(check, "aws_iam_role", json!({"actions": ["update"],
            "before": {"assume_role_policy": trust("ec2.amazonaws.com"), "description": "a"},
            "after": {"assume_role_policy": trust("ec2.amazonaws.com"), "description": "b"}}));
        assert!(same.is_empty());
    }
}
