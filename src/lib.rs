//! changegate: automated change management for production deploys.
//!
//! Every production deploy is bound to an approved Jira change ticket. The
//! library holds all the logic; the `changegate` binary (`main.rs`) is a thin
//! command line over it. Decisions are pure functions from plain data to a
//! verdict with reason codes; adapters around them do the reading and
//! writing. docs/architecture.md walks through the house; the layers, from
//! the ground up, each importing only those below it:
//!
//! - `base`: time, time zones, digests, the environment, exit codes, and
//!   the report formats (HTML, JUnit, SARIF); nothing of the product's own.
//! - `config`: `changegate.toml`, read raw then validated.
//! - `clients`: HTTP with retries and the Jira, GitHub, CircleCI and Slack
//!   clients; they speak the services' APIs and decide nothing.
//! - `model`: the records every step shares: the binding and the ticket's
//!   CI record, the evidence and what an analysis concludes, receipts and
//!   signatures, what a valid approval is.
//! - `steps`: the process, one module per step (request, plan, analyze,
//!   validate, close, drift, emergency, setup...), each a pure decision with
//!   a thin adapter beside it.
//! - `bot`: the webhook server and the converging step it runs per ticket.
//! - `standins`: the stand-in Jira, GitHub and CircleCI the demo and the
//!   tests run against.
//! - `cli`: one file per command; the demo.
//!
//! # The public surface
//!
//! No other crate links this one. Its public surface is what the four
//! programs built beside it need, and nothing more: the binary
//! (`main.rs`), the integration tests, the benchmarks and the fuzz
//! targets. The layer modules above are private, but for the stand-ins;
//! what those programs use is re-exported below by name, so this file
//! lists everything they can name. Inside the layers an item is
//! `pub(crate)` unless outside code can reach it: the `unreachable_pub`
//! lint (`Cargo.toml`) refuses any other `pub` item. Reachable without
//! being named here are the types in a named item's signature or fields
//! (the error a public function returns), and the methods and fields of a
//! public type.
//!
//! - [`main`]: the command line, all of it; the binary only calls it.
//! - `standins`: the stand-in services, public as a whole; they are the
//!   test doubles the demo, the tests and the benchmarks run against.
//! - Values and records at the root: time, digests, the environment, the
//!   configuration, the binding and ticket record, evidence and the
//!   analysis' codes and verdicts.
//! - Clients at the root: the HTTP layer and the Jira, GitHub and
//!   CircleCI clients with their settings.
//! - One module per step the tests drive directly, with the step's
//!   entry points: [`plan`], [`sarif`], [`receipt`], [`signing`],
//!   [`policy`], [`drift`], [`bot_record`], [`analyze`], [`setup`],
//!   [`webhook`], [`server`].

mod base;
mod bot;
mod cli;
mod clients;
mod config;
mod model;
pub mod standins;
mod steps;
#[cfg(test)]
mod testing;

/// The command line: parses the arguments, runs the command, returns the
/// exit code (0 pass, 1 the policy said no, 2 could not decide).
pub use cli::main;

pub use base::digest::Sha256Digest;
pub use base::env::Env;
pub use base::outcome::Outcome;
pub use base::progress::{Captured, Progress};
pub use base::time::{Date, Timestamp};
pub use config::Config;
pub use config::jira::JiraConfig;
pub use config::plan::PlanRules;
pub use config::scan::ScanConfig;
pub use model::analysis::{Code, LandingKind, PolicyCode, Recommendation, ReviewReport, Verdict};
pub use model::binding::{Binding, BuildJob, DeployAction, PlanRecord, RECORD_PROPERTY, TicketRecord, mirror_text};
pub use model::evidence::{Evidence, JobFact, SarifArtifact};

pub use clients::Clients;
pub use clients::circleci::{CircleCi, CircleCiSettings, WebhookSpec};
pub use clients::github::{GitHub, GitHubSettings};
pub use clients::http::{Auth, Body, Http, RetryPolicy, Secret};
pub use clients::jira::adf::{Doc, plain_text};
pub use clients::jira::admin_webhooks::AdminWebhookSpec;
pub use clients::jira::{Jira, JiraSettings};

/// Every GraphQL query the GitHub client sends, for validation against
/// GitHub's schema.
pub use clients::github::queries::all_for_validation as github_queries;

/// Step 3: reading a Terraform or OpenTofu plan and judging its changes.
pub mod plan {
    pub use crate::config::plan::Reason;
    pub use crate::steps::plan::report::Report;
    pub use crate::steps::plan::{PlanError, check};

    /// A plan report as SARIF.
    pub mod sarif {
        pub use crate::steps::plan::sarif::{Inputs, to_sarif};
    }
}

/// Reading SARIF files, the security scanners' findings.
pub mod sarif {
    pub use crate::base::sarif::{RunFacts, SarifError, read};
}

/// The receipts a job signs for what it did.
pub mod receipt {
    pub use crate::model::receipt::{ReceiptPayload, sign};
}

/// The bot's signing keys and the kinds of record they sign.
pub mod signing {
    pub use crate::model::signing::{Kind, SigningKey, generate};
}

/// The signed policy the bot publishes for CI-side checks.
pub mod policy {
    pub use crate::steps::policy::{DEFAULT_TTL, PROPERTY, PolicyContent, SignedPolicy, sign};
}

/// Drift tickets: their label, property and stream.
pub mod drift {
    pub use crate::steps::drift::open::REVIEWED_PROPERTY;
    pub use crate::steps::drift::record::{LABEL, PROPERTY, stream_label};
}

/// The bot's own record on a ticket.
pub mod bot_record {
    pub use crate::steps::bot_record::{BotRecord, Mark, Marks, Store, binding_prefix};
}

/// Step 2: collecting the evidence and deciding on it.
pub mod analyze {
    pub use crate::steps::analyze::decision::{decide, decide_with};
    pub use crate::steps::analyze::review::verify;
    pub use crate::steps::analyze::{AnalyzeArgs, Recorder, run};

    /// Evidence collection from GitHub and CircleCI.
    pub mod collect {
        pub use crate::steps::analyze::collect::{Sources, collect, read_sarif_bytes};
    }

    /// The security-scan gate over SARIF findings.
    pub mod scan_gate {
        pub use crate::steps::analyze::scan_gate::{blocks, gate};
    }
}

/// `changegate setup`: what a site needs, read and planned.
pub mod setup {
    pub use crate::steps::setup::{Action, Plan};

    /// The GitHub side: branch rules and the app's grants.
    pub mod github {
        pub use crate::steps::setup::github::{Needs, Read, read};
    }

    /// The Jira webhook the bot listens to.
    pub mod jira_webhook {
        pub use crate::steps::setup::jira_webhook::{Existing, Needed, admin_screen, apply, plan, read};
    }
}

/// The webhook boundary: signatures, admission and the work a delivery asks for.
pub mod webhook {
    pub use crate::bot::webhook::{Refusal, Source, Work, accept, jira_work, sign};
}

/// The bot's HTTP server: its endpoints, queue, metrics and admission.
pub mod server {
    pub use crate::bot::front::{Admission, Request, admit};
    pub use crate::bot::server::{Endpoint, Metrics, Queue, ServeOptions};
}

/// The signed-input fuzz target's property: no forged record is accepted.
pub use steps::signed_input::never_accepts_forgeries;
