//! The people of the stand-in Jira site: who may log in with which token,
//! and the groups that decide what each may do (approve, administer,
//! break glass).

/// A user of the stand-in site.
#[derive(Debug, Clone)]
pub struct SiteUser {
    /// Login email.
    pub(crate) email: String,
    /// API token.
    pub(crate) token: String,
    /// Account id.
    pub(crate) account_id: String,
    /// Display name.
    pub(crate) name: String,
    /// Groups (`ci`, `bots`, `approvers`, `break-glass`; `project-admins`
    /// have Administer Projects: they may write project properties;
    /// `jira-admins` have Administer Jira: they may manage admin webhooks).
    pub(crate) groups: Vec<String>,
}

/// The users every stand-in site has.
pub(crate) fn default_users() -> Vec<SiteUser> {
    let u = |email: &str, token: &str, id: &str, name: &str, groups: &[&str]| SiteUser {
        email: email.into(),
        token: token.into(),
        account_id: id.into(),
        name: name.into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    };
    vec![
        u("ci@acme.test", "ci-token", "712020:ci-user", "CircleCI", &["ci"]),
        // The scheduled drift check's own account (a restricted context holds its token).
        u("drift@acme.test", "drift-token", "712020:drift-check", "Drift check", &["ci"]),
        u("bot@acme.test", "bot-token", "712020:changegate-bot", "changegate bot", &["bots", "project-admins"]),
        u("alice@acme.test", "alice-token", "712020:alice", "Alice Approver", &["approvers"]),
        u("bob@acme.test", "bob-token", "712020:bob", "Bob Approver", &["approvers"]),
        u("carol@acme.test", "carol-token", "712020:carol", "Carol On-call", &["break-glass"]),
        u(
            "admin@acme.test",
            "admin-token",
            "712020:site-admin",
            "Site Admin",
            &["jira-admins", "site-admins", "project-admins"],
        ),
    ]
}
