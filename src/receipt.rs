//! Approval receipts: the bot's signed statement that it checked an approval
//! against a binding (and a plan) before resuming a hold. `validate` checks
//! them with the public key given to the orb, so a ticket moved to Approved
//! by anyone else, or a record edited by hand, does not get a deploy through.
//!
//! A receipt is the canonical JSON (sorted keys, no spaces) of
//! `{ticket, binding, stack, plan, approver, issued_at}`, signed with
//! Ed25519; keys and signatures are base64. The signing key is a 32-byte
//! seed (`CHANGEGATE_RECEIPT_KEY`), the public key 32 bytes
//! (`CHANGEGATE_RECEIPT_PUBKEY`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::request::binding::{Binding, canonical_json};

/// The plan a receipt covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDigests {
    /// SHA-256 of the plan JSON.
    pub json: Sha256Digest,
    /// SHA-256 of the binary plan file, when recorded.
    pub file: Option<Sha256Digest>,
}

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl ReceiptPayload {
    /// The bytes signed.
    pub fn signed_bytes(&self) -> Vec<u8> {
        canonical_json(&serde_json::to_value(self).expect("serialises")).into_bytes()
    }
}

/// A signed receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The statement.
    pub payload: ReceiptPayload,
    /// Ed25519 signature of [`ReceiptPayload::signed_bytes`], base64.
    pub signature: String,
}

/// A key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is not a base64 Ed25519 {what} of 32 bytes")]
pub struct KeyError {
    /// The variable.
    pub name: &'static str,
    /// `private key seed` or `public key`.
    pub what: &'static str,
}

/// The bot's signing key.
#[derive(Debug)]
pub struct SigningKey(Ed25519KeyPair);

impl SigningKey {
    /// From the base64 of a 32-byte seed.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let err = KeyError { name: "CHANGEGATE_RECEIPT_KEY", what: "private key seed" };
        let seed = B64.decode(text.trim()).map_err(|_| err.clone())?;
        if seed.len() != 32 {
            return Err(err);
        }
        Ed25519KeyPair::from_seed_unchecked(&seed).map(SigningKey).map_err(|_| err)
    }

    /// The matching public key, base64.
    pub fn public_base64(&self) -> String {
        B64.encode(self.0.public_key().as_ref())
    }

    /// Signs a payload.
    pub fn sign(&self, payload: ReceiptPayload) -> Receipt {
        let sig = self.0.sign(&payload.signed_bytes());
        Receipt { signature: B64.encode(sig.as_ref()), payload }
    }
}

/// The key `validate` checks receipts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey([u8; 32]);

impl VerifyingKey {
    /// From the base64 of a 32-byte public key.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let err = KeyError { name: "CHANGEGATE_RECEIPT_PUBKEY", what: "public key" };
        let bytes = B64.decode(text.trim()).map_err(|_| err.clone())?;
        bytes.try_into().map(VerifyingKey).map_err(|_| err)
    }

    /// True when the receipt was signed by the matching key.
    pub fn verify(&self, r: &Receipt) -> bool {
        let Ok(sig) = B64.decode(r.signature.trim()) else { return false };
        UnparsedPublicKey::new(&ED25519, &self.0).verify(&r.payload.signed_bytes(), &sig).is_ok()
    }
}

/// A new random key pair: (private seed, public key), both base64.
pub fn generate() -> (String, String) {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut seed = [0u8; 32];
    SystemRandom::new().fill(&mut seed).expect("the system has a random source");
    let key = SigningKey::from_base64(&B64.encode(seed)).expect("a 32-byte seed");
    (B64.encode(seed), key.public_base64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::binding::tests::binding;

    fn payload() -> ReceiptPayload {
        ReceiptPayload {
            ticket: "PRODCM-1".into(),
            binding: binding(),
            stack: Some("default".into()),
            plan: Some(PlanDigests { json: Sha256Digest::of(b"plan"), file: None }),
            approver: "712020:alice".into(),
            issued_at: "2026-11-27T13:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_signed_receipt_verifies_with_the_matching_key_only() {
        let (seed, public) = generate();
        let r = SigningKey::from_base64(&seed).unwrap().sign(payload());
        assert!(VerifyingKey::from_base64(&public).unwrap().verify(&r));
        let (_, other) = generate();
        assert!(!VerifyingKey::from_base64(&other).unwrap().verify(&r));
    }

    #[test]
    fn any_change_to_the_payload_breaks_the_signature() {
        let (seed, public) = generate();
        let key = VerifyingKey::from_base64(&public).unwrap();
        let r = SigningKey::from_base64(&seed).unwrap().sign(payload());
        let mut forged = r.clone();
        forged.payload.binding.build_job.number += 1;
        assert!(!key.verify(&forged));
        let mut forged = r.clone();
        forged.payload.plan = None;
        assert!(!key.verify(&forged));
        let mut forged = r;
        forged.signature = B64.encode([0u8; 64]);
        assert!(!key.verify(&forged));
    }

    #[test]
    fn signed_bytes_are_canonical() {
        let text = String::from_utf8(payload().signed_bytes()).unwrap();
        assert!(text.starts_with("{\"approver\":\"712020:alice\",\"binding\":{\"action\":\"apply\""), "{text}");
        assert!(!text.contains(' '));
    }

    #[test]
    fn bad_keys_are_named() {
        assert_eq!(SigningKey::from_base64("short").unwrap_err().name, "CHANGEGATE_RECEIPT_KEY");
        assert_eq!(VerifyingKey::from_base64(&B64.encode([1u8; 31])).unwrap_err().name, "CHANGEGATE_RECEIPT_PUBKEY");
    }
}
