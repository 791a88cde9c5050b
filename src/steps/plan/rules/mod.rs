//! The plan-risk rules (README.md, `changegate plan-check`, "Reasons"), one
//! module per reason code.
//!
//! Each rule is a pure function of one resource change ([`View`]) that pushes
//! [`Hit`]s. The five seed reasons always run; the others are on by default
//! and can be switched off in `changegate.toml`. A hit whose truth depends on
//! whether the configuration sets an attribute (a value unknown until apply)
//! carries that question; the caller answers it once the `configuration`
//! section of the plan has been read.

mod attachment;
mod cloud_iam_firewall;
mod delete;
mod deletion_protection;
mod extra_type;
mod iam;
mod iam_wildcard;
mod policy;
mod public_exposure;
mod resource_policy;
mod security_group;
mod shared;
mod stateful_replace;
mod trust_policy;

#[cfg(test)]
pub(crate) mod testing;

pub(crate) use self::shared::Hit;
use self::shared::Rule;
use super::model::View;
use crate::config::plan::PlanRules;
pub(crate) use crate::config::plan::{Reason, Severity};

/// Runs every enabled rule on one managed resource change.
pub(crate) fn assess(v: &View<'_>, rules: &PlanRules) -> Vec<Hit> {
    let mut hits = Vec::new();
    if !v.actions().changes() {
        return hits;
    }
    delete::check(v, &mut hits);
    policy::check(v, &mut hits);
    iam::check(v, &mut hits);
    attachment::check(v, &mut hits);
    security_group::check(v, &mut hits);
    let optional: [(Reason, Rule); 7] = [
        (Reason::ResourcePolicy, resource_policy::check),
        (Reason::PublicExposure, public_exposure::check),
        (Reason::StatefulReplace, stateful_replace::check),
        (Reason::DeletionProtectionOff, deletion_protection::check),
        (Reason::IamWildcard, iam_wildcard::check),
        (Reason::TrustPolicy, trust_policy::check),
        (Reason::CloudIamFirewall, cloud_iam_firewall::check),
    ];
    for (reason, check) in optional {
        if rules.enabled(reason) {
            check(v, &mut hits);
        }
    }
    extra_type::check(v, rules, &mut hits);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip_and_seed_set_is_the_five() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        let seed: Vec<&str> = Reason::ALL.iter().filter(|r| r.is_seed()).map(|r| r.code()).collect();
        assert_eq!(seed, ["delete", "policy", "iam", "attachment", "security_group"]);
    }
}
