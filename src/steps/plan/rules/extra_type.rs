//! `extra_type`: resource types a team adds in `changegate.toml`
//! (`plan.extra_risky_types`, `*` globs allowed): any change to one needs
//! review, at the severity the team sets.

use super::shared::Hit;
use crate::base::glob::glob_match;
use crate::config::plan::PlanRules;
use crate::config::plan::Reason;
use crate::steps::plan::model::View;

pub(super) fn check(v: &View<'_>, rules: &PlanRules, out: &mut Vec<Hit>) {
    if let Some(pattern) = rules.extra_risky_types.iter().find(|p| glob_match(p, v.kind())) {
        out.push(Hit::new(
            Reason::ExtraType,
            rules.extra_type_severity,
            format!("{} {} (listed in plan.extra_risky_types as {pattern})", v.kind(), v.actions().verb()),
        ));
    }
}
