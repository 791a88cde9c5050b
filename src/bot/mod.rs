//! The bot: `changegate serve` and `changegate reconcile` (README.md, "The bot";
//! docs/trust-model.md).
//!
//! Webhooks only trigger work. A delivery is checked (signature over the raw
//! body, size), turned into a ticket or pipeline to look at, queued (a
//! bounded queue: full means 503, so the sender retries) and acknowledged;
//! workers run [`crate::bot::converge::converge`] on it. Reconcile runs converge
//! for every live ticket at start-up and every few minutes, so a lost or
//! early event, or a crash between acknowledgement and converge, never
//! leaves a workflow stuck. No state is kept between runs: several replicas
//! may serve behind a load balancer (converge is idempotent).

pub(crate) mod converge;
pub(crate) mod front;
pub(crate) mod log;
pub(crate) mod reconcile;
pub(crate) mod server;
pub(crate) mod webhook;
