//! changegate: automated change management for production deploys.
//!
//! Every production deploy is bound to an approved Jira change ticket. The
//! library holds all the logic; the `changegate` binary (`main.rs`) is a thin
//! command line over it. Decisions are pure functions from plain data to a
//! verdict with reason codes; adapters around them do the reading and
//! writing. docs/architecture.md walks through the house; the layers, from
//! the ground up, each importing only those below it:
//!
//! - [`base`]: time, time zones, digests, the environment, exit codes, and
//!   the report formats (HTML, JUnit, SARIF); nothing of the product's own.
//! - [`config`]: `changegate.toml`, read raw then validated.
//! - [`clients`]: HTTP with retries and the Jira, GitHub, CircleCI and Slack
//!   clients; they speak the services' APIs and decide nothing.
//! - [`model`]: the records every step shares: the binding and the ticket's
//!   CI record, the evidence and what an analysis concludes, receipts and
//!   signatures, what a valid approval is.
//! - [`steps`]: the process, one module per step (request, plan, analyze,
//!   validate, close, drift, emergency, setup...), each a pure decision with
//!   a thin adapter beside it.
//! - [`bot`]: the webhook server and the converging step it runs per ticket.
//! - [`cli`]: one file per command; the demo.
//! - [`standins`]: the stand-in Jira, GitHub and CircleCI the demo and the
//!   tests run against.
//!
//! Items are `pub(crate)` unless something outside the library uses them:
//! the binary (`cli::main`), the integration tests, the benchmarks and the
//! fuzz targets. No other crate links this one; the public surface is what
//! those four need, and the compiler keeps it honest (an item `pub` for no
//! user is unreachable, and one a test needs fails to compile without it).

pub mod base;
pub mod bot;
pub mod cli;
pub mod clients;
pub mod config;
pub mod model;
pub mod standins;
pub mod steps;
#[cfg(test)]
mod testing;
