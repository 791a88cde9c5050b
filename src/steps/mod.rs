//! The change process, one module per step (README.md, "The workflow, step
//! by step"): [`request`] opens and fills the ticket, [`plan`] judges a
//! Terraform plan, [`analyze`] collects evidence and decides, [`validate`]
//! gates every plan and apply, [`close`] ends the ticket; beside them
//! [`drift`], [`emergency`], [`escalate`], [`resume`], [`holds`],
//! [`waiting`], [`lock`], [`audit`] and [`setup`]. Shared by several steps:
//! the ticket as read ([`ticket`]), the bot's signed record
//! ([`bot_record`]), the signed policy ([`policy`]) and the change type and
//! risk ([`classify`]). Each step keeps its decision pure and its reading
//! and writing in a thin adapter beside it.

pub mod analyze;
pub mod audit;
pub mod bot_record;
pub mod classify;
pub mod close;
pub mod drift;
pub mod emergency;
pub(crate) mod escalate;
pub(crate) mod holds;
pub mod lock;
pub mod plan;
pub mod policy;
pub mod request;
pub mod resume;
pub mod setup;
pub mod signed_input;
pub(crate) mod ticket;
pub(crate) mod validate;
pub(crate) mod waiting;
