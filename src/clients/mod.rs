//! The services changegate talks to, as thin typed clients: HTTP with
//! retries, deadlines and `Retry-After` ([`http`]), Jira, GitHub, CircleCI,
//! and Slack notices. They say what the service answered; what it means is
//! for the steps.

pub(crate) mod circleci;
pub(crate) mod github;
pub(crate) mod http;
pub(crate) mod jira;
pub(crate) mod notify;

use self::circleci::CircleCi;
use self::github::GitHub;
use self::jira::Jira;

/// The services a command or a bot worker talks to, built once per run
/// (`cli::ci` for the deploy steps and the analysis, the serve command's
/// factory for each bot worker) and lent to every step. A bot worker owns
/// its bundle; collection may use its GitHub client from two threads at once
/// (`github::at_most_two`).
#[derive(Debug)]
pub struct Clients {
    /// Jira: the CI user in a job, the bot's user in the bot.
    pub(crate) jira: Jira,
    /// CircleCI: the job's or the bot's token.
    pub(crate) circleci: CircleCi,
    /// GitHub, built only where changes are analysed (`analyze`, `collect`,
    /// `audit`, the bot): the jobs that only request, validate or close a
    /// deploy need no GitHub token.
    pub(crate) github: Option<GitHub>,
}

impl Clients {
    /// The bundle of these clients.
    pub fn new(jira: Jira, circleci: CircleCi, github: Option<GitHub>) -> Self {
        Clients { jira, circleci, github }
    }

    /// GitHub, when this bundle was built with it.
    pub fn github(&self) -> Option<&GitHub> {
        self.github.as_ref()
    }
}
