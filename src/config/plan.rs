//! `[plan]`: which beyond-seed rules run, extra risky resource types, and
//! per-address exemptions.
//!
//! ```toml
//! [plan]
//! extra_risky_types = ["aws_route53_record", "aws_cloudfront_*"]
//! extra_type_severity = "medium"
//!
//! [plan.rules]            # the beyond-seed rules, all on by default
//! public_exposure = true
//! cloud_iam_firewall = false
//!
//! [[plan.exemptions]]     # a known, accepted change; expires on its date
//! address = "aws_security_group.bastion"
//! reasons = ["security_group"]
//! justification = "Bastion rules are managed by the network team (NET-123)"
//! expires = 2027-03-31
//! ```
//!
//! The five seed rules cannot be switched off: a team may only add scrutiny.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;
use crate::base::codes::stable_codes;
use crate::base::time::Date;

// The reasons and severities the plan rules give (`steps::plan::rules`):
// the configuration names them, so they are declared here, below the rules.
stable_codes! {
    /// Why a resource change needs review. The codes are a stable contract,
    /// in report order.
    pub enum Reason: "plan reason" in "### Reasons" {
        Delete => "delete", "seed: an object is destroyed (delete or replace)";
        Policy => "policy", "seed: the `policy` attribute changes";
        Iam => "iam", "seed: an `aws_iam_*` resource changes";
        Attachment => "attachment", "seed: a policy attachment changes";
        SecurityGroup => "security_group", "seed: a security group or rule changes";
        ResourcePolicy => "resource_policy", "another policy-like attribute or resource-based permission changes";
        PublicExposure => "public_exposure", "something becomes reachable from the internet or by anyone";
        StatefulReplace => "stateful_replace", "a stateful resource (database, bucket, key...) is replaced";
        DeletionProtectionOff => "deletion_protection_off", "a deletion or termination protection is turned off";
        IamWildcard => "iam_wildcard", "a policy statement grants a wildcard";
        TrustPolicy => "trust_policy", "who may assume a role changes";
        CloudIamFirewall => "cloud_iam_firewall", "IAM or firewall resources of other clouds change";
        ExtraType => "extra_type", "a resource type listed in `plan.extra_risky_types` changes";
    }
}

impl Reason {
    /// The stable code.
    pub fn code(self) -> &'static str {
        self.as_str()
    }

    /// The reason from its code.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// One of the five reasons of the original process (always on).
    pub fn is_seed(self) -> bool {
        matches!(self, Reason::Delete | Reason::Policy | Reason::Iam | Reason::Attachment | Reason::SecurityGroup)
    }
}

stable_codes! {
    /// How much attention a finding needs, named as in every output.
    pub enum Severity: "severity" {
        Low => "low", "worth a look (e.g. a new security group)";
        Medium => "medium", "needs a reviewer (changes to existing access, deletes)";
        High => "high", "needs a careful reviewer (policy content, exposure, data loss)";
    }
}

/// `[plan]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlan {
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, Spanned<bool>>,
    #[serde(default)]
    extra_risky_types: Vec<Spanned<String>>,
    #[serde(default)]
    extra_type_severity: Option<Spanned<String>>,
    #[serde(default)]
    exemptions: Vec<RawExemption>,
    /// An apply needs a recorded plan (`validate --stage apply`).
    #[serde(default)]
    required: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    address: Spanned<String>,
    reasons: Spanned<Vec<Spanned<String>>>,
    justification: Spanned<String>,
    expires: Spanned<toml::value::Datetime>,
}

/// The validated plan rules.
#[derive(Debug, Clone)]
pub struct PlanRules {
    disabled: Vec<Reason>,
    /// Resource type patterns (`*` globs) whose every change is risky.
    pub(crate) extra_risky_types: Vec<String>,
    /// Severity of `extra_type` findings.
    pub(crate) extra_type_severity: Severity,
    /// Exemptions still in force.
    pub(crate) exemptions: Vec<Exemption>,
    /// Exemptions past their date: ignored, and reported so someone renews
    /// or removes them.
    pub(crate) expired: Vec<Exemption>,
    /// A deploy may apply only a recorded plan (`[plan] required`).
    pub(crate) required: bool,
}

impl Default for PlanRules {
    fn default() -> Self {
        PlanRules {
            disabled: Vec::new(),
            extra_risky_types: Vec::new(),
            extra_type_severity: Severity::Medium,
            exemptions: Vec::new(),
            expired: Vec::new(),
            required: false,
        }
    }
}

impl PlanRules {
    /// True when the rule for `reason` runs.
    pub fn enabled(&self, reason: Reason) -> bool {
        !self.disabled.contains(&reason)
    }

    /// Switches a beyond-seed rule off (seed rules stay on).
    pub fn disable(&mut self, reason: Reason) {
        if !reason.is_seed() && !self.disabled.contains(&reason) {
            self.disabled.push(reason);
        }
    }
}

/// An accepted risky change: the reasons it covers for an address, why, and
/// until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exemption {
    /// Resource address; `*` matches any run of characters.
    pub(crate) address: String,
    /// The reasons accepted; others still count.
    pub(crate) reasons: Vec<Reason>,
    /// Why it is accepted (shown wherever the exemption is applied).
    pub(crate) justification: String,
    /// Last day it applies (UTC).
    pub(crate) expires: Date,
}

impl RawPlan {
    pub(super) fn validate(self, p: &mut Problems<'_>, today: Date) -> PlanRules {
        let mut rules = PlanRules { required: self.required.unwrap_or(false), ..PlanRules::default() };
        for (name, on) in self.rules {
            match Reason::from_code(name.get_ref()) {
                Some(r) if r.is_seed() => p.at(
                    name.span(),
                    format!(
                        "`{}` is a seed rule of the change process and is always on; it cannot be configured",
                        r.code()
                    ),
                ),
                Some(Reason::ExtraType) => {
                    p.at(name.span(), "`extra_type` is on whenever `plan.extra_risky_types` lists types");
                }
                Some(r) => {
                    if !*on.get_ref() {
                        rules.disable(r);
                    }
                }
                None => p.at(
                    name.span(),
                    format!("unknown rule `{}`; the switchable rules are: {}", name.get_ref(), switchable().join(", ")),
                ),
            }
        }
        for t in self.extra_risky_types {
            let s = t.get_ref().trim();
            if s.is_empty() || s.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '*')) {
                p.at(t.span(), format!("`{}` is not a resource type pattern (letters, digits, `_`, `*`)", t.get_ref()));
            } else {
                rules.extra_risky_types.push(s.to_owned());
            }
        }
        if let Some(sev) = self.extra_type_severity {
            match sev.get_ref().as_str() {
                "low" => rules.extra_type_severity = Severity::Low,
                "medium" => rules.extra_type_severity = Severity::Medium,
                "high" => rules.extra_type_severity = Severity::High,
                other => p.at(sev.span(), format!("severity must be low, medium or high, not `{other}`")),
            }
        }
        for e in self.exemptions {
            if let Some(ex) = e.validate(p) {
                if ex.expires < today { rules.expired.push(ex) } else { rules.exemptions.push(ex) }
            }
        }
        rules
    }
}

/// Codes of the rules a team may switch off.
fn switchable() -> Vec<&'static str> {
    Reason::ALL.iter().filter(|r| !r.is_seed() && **r != Reason::ExtraType).map(|r| r.code()).collect()
}

impl RawExemption {
    fn validate(self, p: &mut Problems<'_>) -> Option<Exemption> {
        let before = p.list.len();
        let address = self.address.get_ref().trim().to_owned();
        if address.is_empty() {
            p.at(self.address.span(), "an exemption needs the resource address it applies to");
        }
        let mut reasons = Vec::new();
        if self.reasons.get_ref().is_empty() {
            p.at(self.reasons.span(), "an exemption must list the reasons it accepts");
        }
        for r in self.reasons.get_ref() {
            match Reason::from_code(r.get_ref()) {
                Some(reason) => reasons.push(reason),
                None => p.at(r.span(), format!("unknown reason `{}`", r.get_ref())),
            }
        }
        let justification = self.justification.get_ref().trim().to_owned();
        if justification.is_empty() {
            p.at(self.justification.span(), "an exemption needs a justification a reviewer can read");
        }
        let dt = self.expires.get_ref();
        let expires = match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => Date::new(i32::from(d.year), d.month, d.day),
            _ => None,
        };
        if expires.is_none() {
            p.at(self.expires.span(), "`expires` must be a date such as 2027-03-31");
        }
        (p.list.len() == before).then(|| Exemption {
            address,
            reasons,
            justification,
            expires: expires.expect("checked"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Reason, Severity};
    use crate::base::time::Date;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "c.toml", Date::new(2026, 11, 27).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn beyond_seed_rules_switch_off() {
        let c = parse("[plan.rules]\npublic_exposure = false\niam_wildcard = true\n").unwrap();
        assert!(!c.plan.enabled(Reason::PublicExposure));
        assert!(c.plan.enabled(Reason::IamWildcard));
        assert!(c.plan.enabled(Reason::Delete));
    }

    #[test]
    fn seed_rules_cannot_be_switched_off() {
        let e = parse("[plan.rules]\ndelete = false\n").unwrap_err();
        assert!(e.contains("c.toml:2:1: `delete` is a seed rule"), "{e}");
    }

    #[test]
    fn unknown_rule_lists_the_known_ones() {
        let e = parse("[plan.rules]\npublic_exposur = false\n").unwrap_err();
        assert!(e.contains("unknown rule `public_exposur`"), "{e}");
        assert!(e.contains("public_exposure"), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = parse("[plan]\nextra_types = []\n").unwrap_err();
        assert!(e.contains("c.toml:2:1"), "{e}");
        assert!(e.contains("extra_types"), "{e}");
    }

    #[test]
    fn extra_types_and_severity() {
        let c = parse("[plan]\nextra_risky_types = [\"aws_route53_*\"]\nextra_type_severity = \"high\"\n").unwrap();
        assert_eq!(c.plan.extra_risky_types, ["aws_route53_*"]);
        assert_eq!(c.plan.extra_type_severity, Severity::High);
        let e = parse("[plan]\nextra_risky_types = [\"aws route53\"]\nextra_type_severity = \"urgent\"\n").unwrap_err();
        assert!(e.contains("c.toml:2:22:"), "{e}");
        assert!(e.contains("c.toml:3:23: severity must be"), "{e}");
    }

    const EXEMPTION: &str = r#"
[[plan.exemptions]]
address = "aws_security_group.bastion"
reasons = ["security_group"]
justification = "managed by the network team (NET-123)"
expires = 2027-03-31
"#;

    #[test]
    fn exemption_is_read() {
        let c = parse(EXEMPTION).unwrap();
        let e = &c.plan.exemptions[0];
        assert_eq!(e.address, "aws_security_group.bastion");
        assert_eq!(e.reasons, [Reason::SecurityGroup]);
        assert_eq!(e.expires.to_string(), "2027-03-31");
    }

    #[test]
    fn expired_exemption_is_set_aside() {
        let c = parse(&EXEMPTION.replace("2027-03-31", "2026-11-26")).unwrap();
        assert!(c.plan.exemptions.is_empty());
        assert_eq!(c.plan.expired.len(), 1);
        let today = parse(&EXEMPTION.replace("2027-03-31", "2026-11-27")).unwrap();
        assert_eq!(today.plan.exemptions.len(), 1, "an exemption applies through its last day");
    }

    #[test]
    fn exemption_needs_justification_reasons_and_a_date() {
        let e = parse(&EXEMPTION.replace("managed by the network team (NET-123)", " ")).unwrap_err();
        assert!(e.contains("c.toml:5:17: an exemption needs a justification"), "{e}");
        let e = parse(&EXEMPTION.replace("[\"security_group\"]", "[]")).unwrap_err();
        assert!(e.contains("must list the reasons"), "{e}");
        let e = parse(&EXEMPTION.replace("[\"security_group\"]", "[\"sg\"]")).unwrap_err();
        assert!(e.contains("unknown reason `sg`"), "{e}");
        let e = parse(&EXEMPTION.replace("2027-03-31", "2027-03-31T10:00:00Z")).unwrap_err();
        assert!(e.contains("must be a date"), "{e}");
        let e = parse(&EXEMPTION.replace("expires = 2027-03-31\n", "")).unwrap_err();
        assert!(e.contains("expires"), "{e}");
    }
}
