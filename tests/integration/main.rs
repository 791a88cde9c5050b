//! Integration tests: the real `changegate` binary on real and synthetic
//! inputs. One test binary (see Cargo.toml) keeps linking cheap.

mod analyze;
mod bot;
mod cli;
mod collect;
mod contract;
mod corpus;
mod deploy;
mod drift;
mod emergency;
mod github;
mod plan_check;
mod reports;
mod request;
mod review;
mod sarif;
mod setup_ci;
mod setup_docs;
mod setup_hook;
mod setup_jira;
mod support;
mod trust;
mod waiting;
mod windows;
