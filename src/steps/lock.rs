//! The lock, checked (docs/trust-model.md): whether each deploy context is
//! restricted so that only the bot's approval of a hold (or a break-glass
//! person) unlocks it, and what slipped past it — holds approved by someone
//! other than the bot, pipelines triggered by the bot's own user or by a
//! member of the security group. The judgements are pure; `config check
//! --probe` reads the contexts' facts, and [`slipped_of`] reads a ticket's
//! workflows for both the bot (`converge`) and the monthly `audit`, so the
//! two apply one rule.

use std::fmt;

use crate::base::codes::stable_codes;
use crate::clients::circleci::{CircleCi, Restriction};
use crate::clients::github::GitHub;
use crate::config::Config;
use crate::model::binding::TicketRecord;

stable_codes! {
    /// Stable codes of what got past the lock (the audit's `past_the_lock`,
    /// the bot's reports on the ticket).
    pub(crate) enum LockCode: "past the lock" in "### The monthly inspection: `changegate audit`" {
        HoldApprovedByOther => "hold_approved_by_other", "a hold was approved in CircleCI by someone other than the changegate bot";
        TriggeredByBot => "triggered_by_bot", "a pipeline was triggered by the bot's own CircleCI user";
        TriggeredByGroupMember => "triggered_by_group_member", "a pipeline was triggered by a member of the production security group";
        AppliedWithoutPlan => "applied_without_plan", "a deploy of an environment that needs a reviewed plan succeeded with none recorded";
    }
}

/// How a context is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Locked {
    /// A security-group restriction (with whatever else restricts it).
    Group,
    /// No group, but project and expression restrictions (orgs on
    /// CircleCI's GitHub App, which have no security groups).
    ProjectAndExpression,
    /// Not locked.
    No(String),
}

/// The verdict on one context's restrictions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContextVerdict {
    /// How it is locked.
    pub(crate) locked: Locked,
    /// Every restriction, readable.
    pub(crate) restrictions: Vec<String>,
    /// Advice that does not fail the check (an expression refusing SSH).
    pub(crate) advice: Vec<String>,
}

fn shown(r: &Restriction) -> String {
    let value = r.restriction_value.as_deref().unwrap_or("");
    match r.name.as_deref().filter(|n| !n.is_empty() && *n != value) {
        Some(n) => format!("{} {n} ({value})", r.restriction_type),
        None => format!("{} {value}", r.restriction_type),
    }
}

/// Judges a context's restrictions. `github_app`: the org has no security
/// groups, so project plus expression restrictions are what can be had.
pub(crate) fn judge_context(restrictions: &[Restriction], github_app: bool) -> ContextVerdict {
    let has = |t: &str| restrictions.iter().any(|r| r.restriction_type.eq_ignore_ascii_case(t));
    let expressions: Vec<&str> = restrictions
        .iter()
        .filter(|r| r.restriction_type.eq_ignore_ascii_case("expression"))
        .filter_map(|r| r.restriction_value.as_deref())
        .collect();
    let locked = if has("group") {
        Locked::Group
    } else if has("project") && has("expression") {
        Locked::ProjectAndExpression
    } else if restrictions.is_empty() {
        Locked::No("it has no restriction at all: any pipeline of the organization can use it".into())
    } else if github_app {
        Locked::No("an org on the GitHub App needs both a project and an expression restriction".into())
    } else {
        Locked::No("it has no security-group restriction, so a job after no approval at all can use it".into())
    };
    let mut advice = Vec::new();
    if !expressions.iter().any(|e| e.contains("job.ssh.enabled")) {
        advice.push(
            "add an expression restriction refusing SSH reruns, e.g. `pipeline.git.branch == \"main\" and not job.ssh.enabled`"
                .to_owned(),
        );
    }
    if locked == Locked::ProjectAndExpression && !github_app {
        advice.push("a security-group restriction would make the bot's approval the key; project and expression restrictions leave it to whoever can push to the branch".to_owned());
    }
    ContextVerdict { locked, restrictions: restrictions.iter().map(shown).collect(), advice }
}

/// Something that got past the gate, or used its break-glass hole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Slipped {
    /// A hold approved by someone other than the bot.
    HoldApprovedByOther {
        /// Workflow id.
        workflow: String,
        /// Hold name.
        hold: String,
        /// Who (login and name, as CircleCI knows them).
        who: String,
    },
    /// A pipeline triggered by the bot's own CircleCI user: it gets the
    /// production context with no hold.
    TriggeredByBot {
        /// Pipeline id.
        pipeline: String,
        /// The bot's login.
        login: String,
    },
    /// A pipeline triggered by a member of the security group.
    TriggeredByGroupMember {
        /// Pipeline id.
        pipeline: String,
        /// Who.
        login: String,
    },
}

impl Slipped {
    /// A marker unique to this finding (one report each).
    pub(crate) fn marker(&self) -> String {
        match self {
            Slipped::HoldApprovedByOther { workflow, hold, .. } => format!("changegate:bypass:hold:{workflow}:{hold}"),
            Slipped::TriggeredByBot { pipeline, .. } => format!("changegate:bypass:bot-trigger:{pipeline}"),
            Slipped::TriggeredByGroupMember { pipeline, .. } => format!("changegate:bypass:group-trigger:{pipeline}"),
        }
    }

    /// The stable code.
    pub(crate) fn code(&self) -> &'static str {
        self.lock_code().as_str()
    }

    /// The stable code, typed.
    pub(crate) fn lock_code(&self) -> LockCode {
        match self {
            Slipped::HoldApprovedByOther { .. } => LockCode::HoldApprovedByOther,
            Slipped::TriggeredByBot { .. } => LockCode::TriggeredByBot,
            Slipped::TriggeredByGroupMember { .. } => LockCode::TriggeredByGroupMember,
        }
    }
}

impl fmt::Display for Slipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slipped::HoldApprovedByOther { workflow, hold, who } => write!(
                f,
                "{hold} in workflow {workflow} was approved in CircleCI by {who}, not by the changegate bot: break-glass or bypass"
            ),
            Slipped::TriggeredByBot { pipeline, login } => write!(
                f,
                "pipeline {pipeline} was triggered by the bot's own CircleCI user {login}: it gets the production context with no hold; the bot's token must never trigger pipelines"
            ),
            Slipped::TriggeredByGroupMember { pipeline, login } => write!(
                f,
                "pipeline {pipeline} was triggered by {login}, a member of the production security group: it gets the production context with no hold (break-glass or bypass)"
            ),
        }
    }
}

/// An approved hold as CircleCI reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApprovedHold {
    /// Workflow id.
    pub(crate) workflow: String,
    /// Hold name.
    pub(crate) hold: String,
    /// CircleCI user id of who approved it (absent: unknown).
    pub(crate) approved_by: Option<String>,
    /// That user's login and name, when looked up.
    pub(crate) who: Option<String>,
}

/// What got past the gate in one pipeline. `bot` is the bot's CircleCI
/// user (id, login); `group` the logins of the security group's members.
/// Pure.
pub(crate) fn slipped(
    bot: (&str, &str),
    group: &[String],
    pipeline: &str,
    triggered_by: Option<&str>,
    holds: &[ApprovedHold],
) -> Vec<Slipped> {
    let mut out = Vec::new();
    for h in holds {
        if h.approved_by.as_deref() != Some(bot.0) {
            let who = h.who.clone().or_else(|| h.approved_by.clone()).unwrap_or_else(|| "an unknown user".to_owned());
            out.push(Slipped::HoldApprovedByOther { workflow: h.workflow.clone(), hold: h.hold.clone(), who });
        }
    }
    if let Some(login) = triggered_by {
        if login.eq_ignore_ascii_case(bot.1) {
            out.push(Slipped::TriggeredByBot { pipeline: pipeline.to_owned(), login: login.to_owned() });
        } else if group.iter().any(|m| m.eq_ignore_ascii_case(login)) {
            out.push(Slipped::TriggeredByGroupMember { pipeline: pipeline.to_owned(), login: login.to_owned() });
        }
    }
    out
}

/// What slipped past the lock could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// A CircleCI call failed.
    #[error(transparent)]
    CircleCi(#[from] crate::clients::http::ApiError),
    /// The security group's members could not be read from GitHub.
    #[error("{0}")]
    Group(String),
}

/// The bot's CircleCI user: its id when known (the bot asks `GET /me`),
/// else only its login (`audit`, from `[lock] bot_login`).
#[derive(Debug, Clone)]
pub(crate) struct BotUser {
    /// Id, when known.
    pub(crate) id: Option<String>,
    /// Login.
    pub(crate) login: String,
}

/// The facts of what slipped past the lock in a ticket's workflows, read
/// from CircleCI (and the security group from GitHub) and judged by
/// [`slipped`]. The bot runs it in converge and the audit once a month.
pub(crate) fn slipped_of(
    circleci: &CircleCi,
    github: Option<&GitHub>,
    config: &Config,
    record: &TicketRecord,
    bot: &BotUser,
) -> Result<Vec<Slipped>, ReadError> {
    let mut holds = Vec::new();
    let names: Vec<&str> = record
        .workflows
        .iter()
        .filter_map(|w| w.hold.as_deref())
        .chain(record.plans.values().filter_map(|p| p.hold.as_deref()))
        .collect();
    for w in &record.workflows {
        let jobs = match circleci.workflow_jobs(&w.id) {
            Ok(j) => j,
            // A workflow CircleCI no longer knows: nothing to look at.
            Err(e) if e.status() == Some(404) => continue,
            Err(e) => return Err(e.into()),
        };
        for j in
            jobs.iter().filter(|j| j.kind == "approval" && j.status == "success" && names.contains(&j.name.as_str()))
        {
            // Who approved it: the bot by its id, or by its login.
            let (approved_by, who) = match &j.approved_by {
                Some(id) if bot.id.as_deref() == Some(id.as_str()) => (Some(BOT.to_owned()), None),
                Some(id) => match circleci.user(id) {
                    Ok(u) if u.login.eq_ignore_ascii_case(&bot.login) => (Some(BOT.to_owned()), None),
                    Ok(u) => (Some(id.clone()), Some(format!("{} ({})", u.login, u.name.unwrap_or_default()))),
                    Err(e) if e.status() == Some(404) => (Some(id.clone()), None),
                    Err(e) => return Err(e.into()),
                },
                None => (None, None),
            };
            holds.push(ApprovedHold { workflow: w.id.clone(), hold: j.name.clone(), approved_by, who });
        }
    }
    let pipeline = circleci.pipeline(&record.binding.pipeline_id)?;
    let trigger = pipeline.trigger.and_then(|t| t.actor).and_then(|a| a.login);
    let group = match (&config.lock.team, &trigger) {
        (Some((org, team)), Some(login)) if !login.eq_ignore_ascii_case(&bot.login) => {
            // Without GitHub the group cannot be read: an error, never an
            // empty group that would hide a member's trigger.
            let gh = github.ok_or_else(|| {
                ReadError::Group(format!("the security group {org}/{team}: no GitHub client to read it with"))
            })?;
            gh.team_members(org, team).map_err(|e| ReadError::Group(format!("the security group {org}/{team}: {e}")))?
        }
        _ => Vec::new(),
    };
    Ok(slipped((BOT, &bot.login), &group, &record.binding.pipeline_id, trigger.as_deref(), &holds))
}

/// Stands for the bot among the approvers of holds.
const BOT: &str = "(the changegate bot)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_security_group_that_cannot_be_read_is_an_error_not_an_empty_group() {
        use crate::clients::circleci::CircleCiSettings;
        use crate::clients::http::{RetryPolicy, Secret};
        use crate::testing::fake::{FakeServer, Reply};
        let pipeline = r#"{"id":"p-1","number":7,"project_slug":"gh/acme/web",
            "trigger":{"type":"api","actor":{"login":"mallory"}}}"#;
        let ci = FakeServer::start(vec![Reply::json(200, pipeline)]);
        let circleci = CircleCi::new(
            &CircleCiSettings { api_url: ci.url(), token: Secret::new("t") },
            None,
            RetryPolicy::default(),
        )
        .unwrap();
        let text = "[lock]\nowner_slug = \"gh/acme\"\ncontexts = [\"production-aws\"]\nteam = \"acme/prod\"\n";
        let config = Config::parse(text, "t", crate::base::time::Date::today_utc()).unwrap();
        let record = TicketRecord::new(crate::model::binding::tests::binding(), None);
        let bot = BotUser { id: None, login: "changegate-bot".into() };
        // Someone other than the bot triggered the pipeline, and the group
        // cannot be read without GitHub: fail, so a member's trigger is
        // never passed over as "no member".
        let e = slipped_of(&circleci, None, &config, &record, &bot).unwrap_err();
        assert!(e.to_string().contains("the security group acme/prod: no GitHub client"), "{e}");
    }

    fn r(kind: &str, value: &str) -> Restriction {
        Restriction { id: None, restriction_type: kind.into(), restriction_value: Some(value.into()), name: None }
    }

    #[test]
    fn a_group_locks_project_and_expression_do_only_without_groups() {
        let v = judge_context(&[r("group", "g-1"), r("expression", "not job.ssh.enabled")], false);
        assert_eq!(v.locked, Locked::Group);
        assert!(v.advice.is_empty(), "{:?}", v.advice);
        assert_eq!(v.restrictions, ["group g-1", "expression not job.ssh.enabled"]);
        let v = judge_context(&[r("group", "g-1")], false);
        assert_eq!(v.locked, Locked::Group);
        assert!(v.advice[0].contains("SSH"));
        let v = judge_context(&[r("project", "p"), r("expression", "pipeline.git.branch == \"main\"")], true);
        assert_eq!(v.locked, Locked::ProjectAndExpression);
        assert!(matches!(judge_context(&[r("project", "p")], true).locked, Locked::No(_)));
        assert!(matches!(judge_context(&[r("expression", "x")], false).locked, Locked::No(_)));
        let Locked::No(why) = judge_context(&[], false).locked else { panic!() };
        assert!(why.contains("no restriction at all"), "{why}");
    }

    #[test]
    fn holds_approved_by_others_and_triggers_by_the_bot_or_the_group_are_found() {
        let bot = ("bot-id", "changegate-bot");
        let group = vec!["oncall-carol".to_owned(), "changegate-bot".to_owned()];
        let hold = |by: &str| ApprovedHold {
            workflow: "w".into(),
            hold: "hold_change".into(),
            approved_by: Some(by.into()),
            who: Some(format!("{by}-login")),
        };
        assert!(slipped(bot, &group, "p", Some("dev-dana"), &[hold("bot-id")]).is_empty());
        let s = slipped(bot, &group, "p", Some("dev-dana"), &[hold("carol-id")]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].code(), "hold_approved_by_other");
        assert!(s[0].to_string().contains("carol-id-login"), "{}", s[0]);
        assert_eq!(slipped(bot, &group, "p", Some("changegate-bot"), &[])[0].code(), "triggered_by_bot");
        assert_eq!(slipped(bot, &group, "p", Some("Oncall-Carol"), &[])[0].code(), "triggered_by_group_member");
        assert_ne!(s[0].marker(), slipped(bot, &group, "p", Some("oncall-carol"), &[])[0].marker());
    }
}
