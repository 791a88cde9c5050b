//! The services changegate talks to, as thin typed clients: HTTP with
//! retries, deadlines and `Retry-After` ([`http`]), Jira, GitHub, CircleCI,
//! and Slack notices. They say what the service answered; what it means is
//! for the steps.

pub mod circleci;
pub mod github;
pub mod http;
pub mod jira;
pub mod notify;
