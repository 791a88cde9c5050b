//! Approval receipts: the bot's signed statement that it checked an approval
//! against a binding (and a plan), under a policy, before resuming a hold.
//! `validate` requires one for exactly its binding, plan and policy, so a
//! ticket moved to Approved by anyone else, a record edited by hand or a
//! policy replayed does not get a deploy through (docs/trust-model.md).
//!
//! A receipt is a [`Signed`] [`ReceiptPayload`] of kind
//! [`Kind::Receipt`]; it lives in the bot's signed record.

use serde::{Deserialize, Serialize};

use crate::base::digest::Sha256Digest;
use crate::base::time::Timestamp;
use crate::model::binding::Binding;
pub(crate) use crate::model::signing::{KeyRing, SigningKey, generate};
use crate::model::signing::{Kind, Signed, Unverified};

/// The plan a receipt covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDigests {
    /// SHA-256 of the plan JSON.
    pub(crate) json: Sha256Digest,
    /// SHA-256 of the binary plan file, when recorded.
    pub(crate) file: Option<Sha256Digest>,
}

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptPayload {
    /// Ticket key.
    pub ticket: String,
    /// The binding approved.
    pub binding: Binding,
    /// The stack of the plan, when the receipt covers a plan.
    pub stack: Option<String>,
    /// The plan approved, or `None` before the plan exists.
    pub plan: Option<PlanDigests>,
    /// Who approved (Jira accountId, or the bot's).
    pub approver: String,
    /// When the receipt was issued (RFC 3339).
    pub issued_at: String,
    /// The content digest of the policy the approval was judged under.
    pub policy_digest: Sha256Digest,
}

/// A signed receipt.
pub(crate) type Receipt = Signed<ReceiptPayload>;

impl ReceiptPayload {
    /// When it was issued (the epoch when unreadable: then it is older than
    /// anything it would have to be newer than).
    pub fn issued(&self) -> Timestamp {
        Timestamp::parse(&self.issued_at).unwrap_or(Timestamp(0))
    }

    /// True when it covers exactly this binding, stack and plan.
    pub fn covers(&self, ticket: &str, binding: &Binding, plan: Option<(&str, &PlanDigests)>) -> bool {
        self.ticket == ticket
            && self.binding == *binding
            && match (plan, &self.plan) {
                (None, None) => self.stack.is_none(),
                (Some((stack, want)), Some(have)) => self.stack.as_deref() == Some(stack) && want == have,
                _ => false,
            }
    }
}

/// Signs a receipt.
pub fn sign(key: &SigningKey, payload: ReceiptPayload) -> Receipt {
    key.sign(Kind::Receipt, payload)
}

/// Checks a receipt's signature against the ring, as of its issue time.
pub(crate) fn verify(ring: &KeyRing, r: &Receipt) -> Result<(), Unverified> {
    ring.verify(Kind::Receipt, r, r.payload.issued())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::binding::tests::binding;

    fn payload() -> ReceiptPayload {
        ReceiptPayload {
            ticket: "PRODCM-1".into(),
            binding: binding(),
            stack: Some("default".into()),
            plan: Some(PlanDigests { json: Sha256Digest::of(b"plan"), file: None }),
            approver: "712020:alice".into(),
            issued_at: "2026-11-27T13:00:00.000Z".into(),
            policy_digest: Sha256Digest::of(b"policy"),
        }
    }

    #[test]
    fn a_signed_receipt_verifies_with_the_matching_key_only() {
        let (seed, public) = generate();
        let r = sign(&SigningKey::from_base64(&seed).unwrap(), payload());
        assert_eq!(verify(&KeyRing::parse(&public).unwrap(), &r), Ok(()));
        let (_, other) = generate();
        assert!(verify(&KeyRing::parse(&other).unwrap(), &r).is_err());
    }

    #[test]
    fn any_change_to_the_payload_breaks_the_signature() {
        let (seed, public) = generate();
        let ring = KeyRing::parse(&public).unwrap();
        let r = sign(&SigningKey::from_base64(&seed).unwrap(), payload());
        let mut forged = r.clone();
        forged.payload.binding.build_job.number += 1;
        assert!(verify(&ring, &forged).is_err());
        let mut forged = r.clone();
        forged.payload.plan = None;
        assert!(verify(&ring, &forged).is_err());
        let mut forged = r.clone();
        forged.payload.policy_digest = Sha256Digest::of(b"looser");
        assert!(verify(&ring, &forged).is_err());
    }

    #[test]
    fn covers_exactly_its_binding_and_plan() {
        let p = payload();
        let plan = p.plan.clone().unwrap();
        assert!(p.covers("PRODCM-1", &binding(), Some(("default", &plan))));
        assert!(!p.covers("PRODCM-2", &binding(), Some(("default", &plan))));
        assert!(!p.covers("PRODCM-1", &binding(), None));
        assert!(!p.covers("PRODCM-1", &binding(), Some(("network", &plan))));
        let mut other = binding();
        other.build_job.number += 1;
        assert!(!p.covers("PRODCM-1", &other, Some(("default", &plan))));
    }
}
