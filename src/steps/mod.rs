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

pub(crate) mod analyze;
pub(crate) mod audit;
pub(crate) mod bot_record;
pub(crate) mod classify;
pub(crate) mod close;
pub(crate) mod drift;
pub(crate) mod emergency;
pub(crate) mod escalate;
pub(crate) mod holds;
pub(crate) mod lock;
pub(crate) mod plan;
pub(crate) mod policy;
pub(crate) mod request;
pub(crate) mod resume;
pub(crate) mod setup;
pub(crate) mod signed_input;
pub(crate) mod ticket;
pub(crate) mod validate;
pub(crate) mod waiting;
