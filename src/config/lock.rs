//! `[lock]`: the CircleCI side of the trust model (docs/trust-model.md):
//! which contexts hold production credentials, so `config check --probe`
//! can check they are restricted, and which GitHub team is their security
//! group, so the bot can report pipelines a member triggered.
//!
//! ```toml
//! [lock]
//! owner_slug = "gh/acme"             # the CircleCI organization that owns the contexts
//! contexts = ["production-aws"]      # contexts holding production credentials
//! ci_context = "change-management-ci" # the CI context (`setup circleci`; this is the default)
//! team = "acme/prod-deployers"       # GitHub team that is their security group (org/team-slug)
//! github_app = false                 # an org on CircleCI's GitHub App: no security groups exist
//! bot_login = "changegate-bot"       # the bot's CircleCI user (for `audit`, which runs with another token)
//!
//! [lock.holds]                       # the holds the bot may resume, per environment
//! production = ["hold_change", "hold_plan_review"]
//!
//! [lock.plan_holds]                  # which of them is the hold in front of apply
//! production = "hold_plan_review"
//! ```
//!
//! An environment with a plan hold needs a reviewed plan before every apply
//! (`plan_not_recorded` otherwise), and the bot resumes its change hold only
//! when every job after it waits for the plan hold, except the jobs that
//! make the plan (docs/policies.md, "Plans").
//!
//! `[lock.holds]` matters where several environments are controlled: the
//! CI record names a ticket's holds, and without this list a record
//! rewritten by someone who may edit issues could name another environment's
//! hold. There the bot resumes, for an environment without an entry, no
//! hold at all; with one controlled environment it resumes that
//! environment's holds only (docs/trust-model.md).

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;

/// `[lock]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLock {
    owner_slug: Option<Spanned<String>>,
    #[serde(default)]
    contexts: Vec<Spanned<String>>,
    ci_context: Option<Spanned<String>>,
    team: Option<Spanned<String>>,
    #[serde(default)]
    github_app: bool,
    bot_login: Option<String>,
    #[serde(default)]
    holds: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    plan_holds: std::collections::BTreeMap<String, String>,
}

/// The validated lock settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LockConfig {
    /// The organization slug (`gh/acme`, `circleci/<id>`).
    pub(crate) owner_slug: Option<String>,
    /// Contexts holding production credentials.
    pub(crate) contexts: Vec<String>,
    /// The CI context (the CI Jira user, a CircleCI read token, the bot's
    /// public key), when named; `setup circleci` defaults it.
    pub(crate) ci_context: Option<String>,
    /// The security group as a GitHub team: `(org, team slug)`.
    pub(crate) team: Option<(String, String)>,
    /// The org uses CircleCI's GitHub App (no group restrictions exist).
    pub(crate) github_app: bool,
    /// The bot's CircleCI login, for `audit` (the bot itself asks `GET /me`).
    pub(crate) bot_login: Option<String>,
    /// The holds the bot may resume, by environment (none: any the ticket records).
    pub(crate) holds: std::collections::BTreeMap<String, Vec<String>>,
    /// The hold in front of apply, by environment.
    pub(crate) plan_holds: std::collections::BTreeMap<String, String>,
}

impl LockConfig {
    /// The plan hold of `env` (a normalised environment name).
    pub(crate) fn plan_hold(&self, env: &str) -> Option<&str> {
        self.plan_holds.get(&super::problems::env_key(env)).map(String::as_str)
    }
}

impl RawLock {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> LockConfig {
        let owner_slug = self.owner_slug.map(|o| {
            let v = o.get_ref().trim().to_owned();
            if v.split('/').count() != 2 || v.split('/').any(str::is_empty) {
                p.at(o.span(), format!("`{v}` is not an organization slug such as gh/acme"));
            }
            v
        });
        let mut contexts = Vec::new();
        for c in self.contexts {
            if c.get_ref().trim().is_empty() {
                p.at(c.span(), "a context name cannot be empty");
            } else {
                contexts.push(c.get_ref().trim().to_owned());
            }
        }
        if !contexts.is_empty() && owner_slug.is_none() {
            p.at(0..0, "[lock] contexts needs owner_slug, the organization that owns them");
        }
        let ci_context = self.ci_context.and_then(|c| {
            let v = c.get_ref().trim().to_owned();
            if v.is_empty() {
                p.at(c.span(), "a context name cannot be empty");
                None
            } else {
                if contexts.contains(&v) {
                    p.at(
                        c.span(),
                        format!("`{v}` is a production context: the CI context must not hold production credentials"),
                    );
                }
                Some(v)
            }
        });
        let team = self.team.and_then(|t| match t.get_ref().trim().split_once('/') {
            Some((org, slug)) if !org.is_empty() && !slug.is_empty() && !slug.contains('/') => {
                Some((org.to_owned(), slug.to_owned()))
            }
            _ => {
                p.at(t.span(), format!("`{}` is not a GitHub team such as acme/prod-deployers", t.get_ref()));
                None
            }
        });
        let bot_login = self.bot_login.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
        // A hold belongs to one environment: named under two, a ticket of
        // either could resume the other's.
        let mut holds = std::collections::BTreeMap::new();
        let mut owner: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
        for (env, names) in self.holds {
            let env = super::problems::env_key(&env);
            let mut kept: Vec<String> = Vec::new();
            for n in names {
                let n = n.trim().to_owned();
                if n.is_empty() {
                    p.at(0..0, format!("[lock.holds] {env}: a hold name cannot be empty"));
                    continue;
                }
                match owner.get(&n) {
                    Some(other) if *other != env => p.at(
                        0..0,
                        format!("[lock.holds]: hold `{n}` is named under both {other} and {env}; a hold belongs to one environment"),
                    ),
                    _ => {
                        owner.insert(n.clone(), env.clone());
                        if !kept.contains(&n) {
                            kept.push(n);
                        }
                    }
                }
            }
            if holds.insert(env.clone(), kept).is_some() {
                p.at(0..0, format!("[lock.holds] names {env} twice"));
            }
        }
        let mut plan_holds = std::collections::BTreeMap::new();
        for (env, name) in self.plan_holds {
            let env = super::problems::env_key(&env);
            let name = name.trim().to_owned();
            if name.is_empty() {
                p.at(0..0, format!("[lock.plan_holds] {env}: a hold name cannot be empty"));
                continue;
            }
            if let Some(other) = owner.get(&name).filter(|o| **o != env) {
                p.at(
                    0..0,
                    format!("[lock.plan_holds]: hold `{name}` is {other}'s in [lock.holds]; a hold belongs to one environment"),
                );
            }
            // The plan hold is one of the environment's holds.
            if let Some(names) = holds.get_mut(&env).filter(|n| !n.contains(&name)) {
                names.push(name.clone());
            }
            if plan_holds.insert(env.clone(), name).is_some() {
                p.at(0..0, format!("[lock.plan_holds] names {env} twice"));
            }
        }
        LockConfig { owner_slug, contexts, ci_context, team, github_app: self.github_app, bot_login, holds, plan_holds }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::time::Date;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "t.toml", Date::today_utc()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_plan_hold_is_one_of_its_environments_holds_and_no_other_environments() {
        let c = parse(
            "[lock.holds]\nproduction = [\"hold_change\"]\n[lock.plan_holds]\n\" Production \" = \"hold_plan_review\"\n",
        )
        .unwrap();
        assert_eq!(c.lock.plan_hold("production"), Some("hold_plan_review"));
        assert_eq!(c.lock.holds["production"], ["hold_change", "hold_plan_review"]);
        assert_eq!(c.lock.plan_hold("staging"), None);
        let e = parse("[lock.holds]\nstaging = [\"hold_staging\"]\n[lock.plan_holds]\nproduction = \"hold_staging\"\n")
            .unwrap_err();
        assert!(e.contains("hold `hold_staging` is staging's in [lock.holds]"), "{e}");
        assert!(parse("[lock.plan_holds]\nproduction = \" \"\n").unwrap_err().contains("cannot be empty"));
    }

    #[test]
    fn contexts_need_their_owner_and_teams_are_org_slash_slug() {
        let c =
            parse("[lock]\nowner_slug = \"gh/acme\"\ncontexts = [\"production-aws\"]\nteam = \"acme/prod\"\n").unwrap();
        assert_eq!(c.lock.contexts, ["production-aws"]);
        assert_eq!(c.lock.ci_context, None);
        let d = parse("[lock]\nci_context = \" ci \"\n").unwrap();
        assert_eq!(d.lock.ci_context.as_deref(), Some("ci"));
        let e = parse("[lock]\nowner_slug = \"gh/acme\"\ncontexts = [\"p\"]\nci_context = \"p\"\n").unwrap_err();
        assert!(e.contains("must not hold production credentials"), "{e}");
        assert_eq!(c.lock.team, Some(("acme".into(), "prod".into())));
        let e = parse("[lock]\ncontexts = [\"production-aws\"]\n").unwrap_err();
        assert!(e.contains("needs owner_slug"), "{e}");
        let e = parse("[lock]\nteam = \"prod\"\n").unwrap_err();
        assert!(e.contains("not a GitHub team"), "{e}");
        assert_eq!(parse("").unwrap().lock, super::LockConfig::default());
    }

    #[test]
    fn a_hold_belongs_to_one_environment() {
        let c = parse("[lock.holds]\nProduction = [\"hold_prod\"]\nstaging = [\"hold_staging\"]\n").unwrap();
        assert_eq!(c.lock.holds["production"], ["hold_prod"]);
        let e = parse("[lock.holds]\nproduction = [\"hold\"]\nstaging = [\"hold\"]\n").unwrap_err();
        assert!(e.contains("named under both"), "{e}");
        let e = parse("[lock.holds]\nproduction = [\"hold\"]\nProduction = [\"other\"]\n").unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = parse("[lock.holds]\nproduction = [\" \"]\n").unwrap_err();
        assert!(e.contains("cannot be empty"), "{e}");
    }
}
