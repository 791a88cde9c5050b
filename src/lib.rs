//! changegate: automated change management for production deploys.
//!
//! Every production deploy is bound to an approved Jira change ticket. The
//! library holds all the logic; the `changegate` binary is a thin command
//! line over it. Decisions are pure functions from plain data to a verdict
//! with reason codes; adapters around them do the reading and writing.
//!
//! - [`plan`]: is a Terraform/OpenTofu plan risky? (step 3 of the process)
//! - [`config`]: `changegate.toml`, raw then validated
//! - [`outcome`]: the exit-code contract (0 pass, 1 policy said no, 2 could
//!   not decide)
//! - [`digest`]: SHA-256 digests that bind a reviewed plan to the applied one

pub mod analyze;
pub mod approval;
pub mod audit;
pub mod bot;
pub mod bot_record;
pub mod circleci;
pub mod classify;
pub mod cli;
pub mod close;
pub mod codes;
pub mod config;
pub mod converge;
pub mod decision;
pub mod digest;
pub mod drift;
pub mod emergency;
pub mod env;
pub mod escalate;
pub mod evidence;
pub mod github;
pub mod holds;
pub mod html;
pub mod http;
pub mod jira;
pub mod junit;
pub mod lock;
pub mod notify;
pub mod outcome;
pub mod plan;
pub mod policy;
mod prefetch;
pub mod progress;
pub mod receipt;
pub mod request;
pub mod resume;
pub mod review;
pub mod sarif;
pub mod scan_gate;
pub mod setup;
pub mod signed_input;
pub mod signing;
pub mod standins;
#[cfg(test)]
mod testing;
pub mod ticket;
pub mod time;
pub mod tz;
pub mod validate;
pub mod waiting;
