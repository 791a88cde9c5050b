//! `changegate setup`: bring a Jira site, a CircleCI organisation and a
//! GitHub token to what a gated deploy needs, or say exactly why not.
//!
//! Each target has the same two halves: a reader that takes a snapshot of
//! what exists (plain data), and a pure planner that compares the snapshot
//! with what changegate needs and returns a [`Plan`]: every object it needs,
//! each either present (reused), to be created or changed, blocked by a
//! missing permission, or left to a person with the exact steps. Applying a
//! plan performs only its create and change steps, in order, and is
//! idempotent: run again, the planner finds everything present and the plan
//! is empty. The plan is computed by comparing, never by asking the site to
//! validate a payload. How to run it: `docs/setup.md`.

pub(crate) mod circleci;
pub(crate) mod config_file;
pub(crate) mod github;
pub(crate) mod jira;
pub(crate) mod jira_webhook;

pub(crate) use config_file::{JiraIds, write as write_config};

use std::fmt;
use std::io::{self, Write};

use crate::base::outcome::Outcome;

/// What the plan does about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// It exists as needed: reused, nothing to do.
    Present,
    /// It will be created.
    Create,
    /// It exists but will be changed (the detail says how).
    Change,
    /// It is missing and this token may not make it: the permission it lacks.
    Blocked {
        /// The missing permission, as the site names it.
        permission: String,
    },
    /// A person has to do it (the detail says exactly what).
    Manual,
    /// changegate will not set up this target (the detail says what to do
    /// instead), e.g. a team-managed Jira project.
    Refused,
}

impl Action {
    fn tag(&self) -> &'static str {
        match self {
            Action::Present => "ok",
            Action::Create => "create",
            Action::Change => "change",
            Action::Blocked { .. } => "blocked",
            Action::Manual => "by hand",
            Action::Refused => "refused",
        }
    }

    /// Whether applying the plan performs this step.
    pub fn is_applied(&self) -> bool {
        matches!(self, Action::Create | Action::Change)
    }
}

/// One object the setup needs and what the plan does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Its kind (`field`, `status`, `workflow`, `context`, ...).
    pub(crate) kind: &'static str,
    /// Its name on the site.
    pub(crate) name: String,
    /// What is done.
    pub action: Action,
    /// Why, or how: what exists, what will change, what a person must do.
    pub detail: String,
}

impl Step {
    /// A step about `kind` `name`.
    pub fn new(kind: &'static str, name: impl Into<String>, action: Action, detail: impl Into<String>) -> Step {
        Step { kind, name: name.into(), action, detail: detail.into() }
    }
}

/// Everything one setup target needs, in the order it is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What is being set up (`Jira project PRODCM at https://...`).
    pub(crate) target: String,
    /// The steps, in the order they are applied.
    pub steps: Vec<Step>,
}

impl Plan {
    /// A plan for `target` with no steps yet.
    pub fn new(target: impl Into<String>) -> Plan {
        Plan { target: target.into(), steps: Vec::new() }
    }

    /// Adds a step.
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Steps that applying performs.
    pub fn pending(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.action.is_applied())
    }

    /// Steps that block: a missing permission or a refused target.
    pub fn blockers(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| matches!(s.action, Action::Blocked { .. } | Action::Refused))
    }

    /// Steps left to a person.
    pub fn manual(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.action == Action::Manual)
    }

    /// The exit code of a plan: 0 when the target is ready (nothing to
    /// create, change or do by hand), 1 when something is still to be done
    /// (by `--apply` or by a person), 2 when this token cannot do what is
    /// needed or the target is refused: setup could not finish.
    pub fn outcome(&self) -> Outcome {
        if self.blockers().next().is_some() {
            Outcome::Undecided
        } else if self.pending().next().is_some() || self.manual().next().is_some() {
            Outcome::Deny
        } else {
            Outcome::Pass
        }
    }

    /// Writes the plan as a table and a summary line.
    pub fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.target)?;
        let kind_w = self.steps.iter().map(|s| s.kind.len()).max().unwrap_or(0);
        let name_w = self.steps.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).min(40);
        for s in &self.steps {
            let tag = match &s.action {
                Action::Blocked { permission } => format!("blocked: needs {permission}"),
                other => other.tag().to_owned(),
            };
            let detail = if s.detail.is_empty() { String::new() } else { format!(" - {}", s.detail) };
            writeln!(out, "  {:<7} {:<kind_w$} {:<name_w$}{detail}", tag_head(&tag), s.kind, s.name)?;
            if tag.len() > 7 {
                writeln!(out, "          ({tag})")?;
            }
        }
        writeln!(out, "{self}")
    }
}

/// The first word of a tag, padded in the table (the whole tag follows on
/// its own line when longer).
fn tag_head(tag: &str) -> &str {
    tag.split(':').next().unwrap_or(tag)
}

impl fmt::Display for Plan {
    /// The summary line: counts of each kind of step.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |p: &dyn Fn(&Action) -> bool| self.steps.iter().filter(|s| p(&s.action)).count();
        let present = count(&|a| *a == Action::Present);
        let create = count(&|a| *a == Action::Create);
        let change = count(&|a| *a == Action::Change);
        let blocked = count(&|a| matches!(a, Action::Blocked { .. } | Action::Refused));
        let manual = count(&|a| *a == Action::Manual);
        write!(
            f,
            "plan: {present} present, {create} to create, {change} to change, {manual} by hand, {blocked} blocked"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_says_whether_the_target_is_ready() {
        let mut p = Plan::new("t");
        p.push(Step::new("field", "Environment", Action::Present, ""));
        assert_eq!(p.outcome(), Outcome::Pass);
        p.push(Step::new("field", "Service", Action::Create, ""));
        assert_eq!(p.outcome(), Outcome::Deny);
        p.push(Step::new("group", "change-approvers", Action::Blocked { permission: "site admin".into() }, ""));
        assert_eq!(p.outcome(), Outcome::Undecided);
    }

    #[test]
    fn a_plan_left_to_a_person_is_not_ready() {
        let mut p = Plan::new("t");
        p.push(Step::new("screen", "resolution", Action::Manual, "add Resolution to the Complete screen"));
        assert_eq!(p.outcome(), Outcome::Deny);
        let mut text = Vec::new();
        p.render(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("by hand screen resolution - add Resolution"), "{text}");
        assert!(text.ends_with("plan: 0 present, 0 to create, 0 to change, 1 by hand, 0 blocked\n"), "{text}");
    }
}
