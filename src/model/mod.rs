//! The records the steps share, and their pure meaning: the binding of a
//! deploy and the ticket's CI record ([`binding`]), the evidence collected
//! for an analysis ([`evidence`]) and what the analysis concludes
//! ([`analysis`]), signatures and the receipts the bot signs ([`signing`],
//! [`receipt`]), and what makes an approval valid ([`approval`]).

pub(crate) mod analysis;
pub(crate) mod approval;
pub(crate) mod binding;
pub(crate) mod evidence;
pub(crate) mod receipt;
pub(crate) mod signing;
