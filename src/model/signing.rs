//! The bot's signatures: what CI jobs and the bot itself trust only when
//! the bot signed it (docs/trust-model.md).
//!
//! - Keys are Ed25519. The bot holds the private seed
//!   (`CHANGEGATE_RECEIPT_KEY`, never in a CircleCI context); CI jobs hold
//!   the public keys (`CHANGEGATE_RECEIPT_PUBKEY`).
//! - A key's id is derived from the public key (the first 16 hex digits of
//!   its SHA-256), so no id can be claimed for another key.
//! - The public keys form a [`KeyRing`]: several may be accepted at once
//!   (rotation), each with an optional retirement date after which nothing
//!   it signs is accepted.
//! - Everything signed is a [`Signed`] envelope: the payload, the key id
//!   and the signature over `changegate/<kind>/v1\n` followed by the
//!   payload's canonical JSON. The kind separates domains: a signed record
//!   can never pass as a signed policy or a receipt.
//!
//! Parsing and verifying are pure: a forged, replayed or mangled envelope
//! is never accepted (fuzzed: `fuzz/fuzz_targets/signed.rs`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::base::digest::Sha256Digest;
use crate::base::digest::canonical_json;
use crate::base::time::{Date, Timestamp};

/// The variable that holds the bot's private seed.
pub(crate) const PRIVATE_KEY_VAR: &str = "CHANGEGATE_RECEIPT_KEY";
/// The variable that holds the accepted public keys.
pub(crate) const PUBLIC_KEYS_VAR: &str = "CHANGEGATE_RECEIPT_PUBKEY";

/// What a signature is over: each kind is its own domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The bot's record on a ticket.
    Record,
    /// The bot's published policy.
    Policy,
    /// A receipt for one approved binding (and plan).
    Receipt,
}

impl Kind {
    fn domain(self) -> &'static str {
        match self {
            Kind::Record => "changegate/record/v1\n",
            Kind::Policy => "changegate/policy/v1\n",
            Kind::Receipt => "changegate/receipt/v1\n",
        }
    }
}

/// A key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not base64 of the right length.
    #[error("{name} is not a base64 Ed25519 {what} of 32 bytes{at}")]
    Malformed {
        /// The variable.
        name: &'static str,
        /// `private key seed` or `public key`.
        what: &'static str,
        /// Which entry, for lists.
        at: String,
    },
    /// A retirement date that is not a date.
    #[error("{PUBLIC_KEYS_VAR}: entry {index}: {text:?} is not a retirement date (write KEY@2027-01-31)")]
    BadDate {
        /// 1-based entry.
        index: usize,
        /// What was written.
        text: String,
    },
    /// Unset or empty where it is required.
    #[error(
        "{0} is not set: with a changegate bot every CI check needs the bot's public key(s); set it in the CI context, or run with --no-bot where no bot runs"
    )]
    Missing(&'static str),
}

/// The id of a public key: the first 16 hex digits of its SHA-256.
pub(crate) fn key_id(public: &[u8; 32]) -> String {
    Sha256Digest::of(public).hex()[..16].to_owned()
}

/// The bot's signing key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: [u8; 32],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the seed.
        write!(f, "SigningKey({})", self.id())
    }
}

impl SigningKey {
    /// From the base64 of a 32-byte seed.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let err = || KeyError::Malformed { name: PRIVATE_KEY_VAR, what: "private key seed", at: String::new() };
        let seed = B64.decode(text.trim()).map_err(|_| err())?;
        if seed.len() != 32 {
            return Err(err());
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| err())?;
        let public: [u8; 32] = pair.public_key().as_ref().try_into().map_err(|_| err())?;
        Ok(SigningKey { pair, public })
    }

    /// The key id.
    pub fn id(&self) -> String {
        key_id(&self.public)
    }

    /// The matching public key, base64.
    pub fn public_base64(&self) -> String {
        B64.encode(self.public)
    }

    /// The matching public key as a one-key ring (the bot verifies what it
    /// signed itself).
    pub fn ring(&self) -> KeyRing {
        KeyRing { keys: vec![TrustedKey { id: self.id(), key: self.public, retired_from: None }] }
    }

    /// Signs `payload` as `kind`.
    pub fn sign<T: Serialize>(&self, kind: Kind, payload: T) -> Signed<T> {
        let sig = self.pair.sign(&signed_bytes(kind, &payload));
        Signed { payload, key_id: self.id(), signature: B64.encode(sig.as_ref()) }
    }
}

/// The bytes a signature covers.
fn signed_bytes<T: Serialize>(kind: Kind, payload: &T) -> Vec<u8> {
    let json = serde_json::to_value(payload).expect("payloads serialise");
    let mut bytes = kind.domain().as_bytes().to_vec();
    bytes.extend_from_slice(canonical_json(&json).as_bytes());
    bytes
}

/// One accepted public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrustedKey {
    /// Its id.
    pub(crate) id: String,
    /// The key.
    pub(crate) key: [u8; 32],
    /// Statements it signed at or after this instant are refused.
    pub(crate) retired_from: Option<Timestamp>,
}

/// The public keys a verifier accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyRing {
    /// The keys, in the order given.
    pub(crate) keys: Vec<TrustedKey>,
}

impl KeyRing {
    /// Parses `CHANGEGATE_RECEIPT_PUBKEY`: entries separated by commas or
    /// white space, each the base64 of a 32-byte public key, optionally
    /// followed by `@YYYY-MM-DD`, the day from which (00:00 UTC) the key is
    /// retired. Empty text is an empty ring.
    pub fn parse(text: &str) -> Result<KeyRing, KeyError> {
        let mut keys = Vec::new();
        for (i, entry) in text.split(|c: char| c == ',' || c.is_whitespace()).filter(|e| !e.is_empty()).enumerate() {
            let (b64, retired) = match entry.split_once('@') {
                Some((k, d)) => {
                    let date = Date::parse(d).ok_or_else(|| KeyError::BadDate { index: i + 1, text: d.to_owned() })?;
                    (k, Some(Timestamp(date.unix_days() * 86_400_000)))
                }
                None => (entry, None),
            };
            let err =
                || KeyError::Malformed { name: PUBLIC_KEYS_VAR, what: "public key", at: format!(" (entry {})", i + 1) };
            let bytes = B64.decode(b64).map_err(|_| err())?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| err())?;
            match keys.iter_mut().find(|k: &&mut TrustedKey| k.key == key) {
                // Listed twice: the earlier retirement stands (never the looser).
                Some(k) => {
                    k.retired_from = match (k.retired_from, retired) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => keys.push(TrustedKey { id: key_id(&key), key, retired_from: retired }),
            }
        }
        Ok(KeyRing { keys })
    }

    /// No key at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds the keys of `other` not already here.
    pub fn extend(&mut self, other: KeyRing) {
        for k in other.keys {
            if !self.keys.iter().any(|x| x.key == k.key) {
                self.keys.push(k);
            }
        }
    }

    /// Checks `signed` as a statement of `kind` made at `made_at` (the
    /// instant the payload says it was signed). Pure.
    pub fn verify<T: Serialize>(&self, kind: Kind, signed: &Signed<T>, made_at: Timestamp) -> Result<(), Unverified> {
        let Some(key) = self.keys.iter().find(|k| k.id == signed.key_id) else {
            return Err(Unverified::UnknownKey(signed.key_id.clone()));
        };
        let Ok(sig) = B64.decode(signed.signature.trim()) else {
            return Err(Unverified::BadSignature);
        };
        UnparsedPublicKey::new(&ED25519, &key.key)
            .verify(&signed_bytes(kind, &signed.payload), &sig)
            .map_err(|_| Unverified::BadSignature)?;
        if let Some(from) = key.retired_from
            && made_at >= from
        {
            return Err(Unverified::Retired { key: key.id.clone(), from });
        }
        Ok(())
    }
}

/// Why a signed statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// Signed by a key that is not in the ring.
    #[error("signed by key {0}, which is not among the accepted keys")]
    UnknownKey(String),
    /// The signature does not match the payload.
    #[error("the signature does not verify")]
    BadSignature,
    /// The key was retired before the statement was made.
    #[error("signed by key {key} after its retirement ({from})")]
    Retired {
        /// The key id.
        key: String,
        /// Retired from.
        from: Timestamp,
    },
}

/// A payload, the key that signed it and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed<T> {
    /// The statement.
    pub payload: T,
    /// The id of the signing key.
    pub(crate) key_id: String,
    /// Ed25519 signature, base64.
    pub(crate) signature: String,
}

impl<T: DeserializeOwned> Signed<T> {
    /// Reads an envelope from JSON.
    pub fn from_value(v: &serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())
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
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp::parse("2026-12-01T10:00:00Z").unwrap()
    }

    #[test]
    fn a_signature_verifies_with_the_matching_key_of_the_ring_only() {
        let (seed, public) = generate();
        let key = SigningKey::from_base64(&seed).unwrap();
        let s = key.sign(Kind::Record, json!({"a": 1}));
        assert_eq!(s.key_id, key.id());
        assert_eq!(key.id().len(), 16);
        let ring = KeyRing::parse(&public).unwrap();
        assert_eq!(ring.verify(Kind::Record, &s, now()), Ok(()));
        let (_, other) = generate();
        let wrong = KeyRing::parse(&other).unwrap();
        assert!(matches!(wrong.verify(Kind::Record, &s, now()), Err(Unverified::UnknownKey(_))));
    }

    #[test]
    fn kinds_are_separate_domains_and_any_change_breaks_the_signature() {
        let (seed, public) = generate();
        let ring = KeyRing::parse(&public).unwrap();
        let s = SigningKey::from_base64(&seed).unwrap().sign(Kind::Record, json!({"a": 1, "b": [1, 2]}));
        assert_eq!(ring.verify(Kind::Policy, &s, now()), Err(Unverified::BadSignature));
        assert_eq!(ring.verify(Kind::Receipt, &s, now()), Err(Unverified::BadSignature));
        let mut changed = s.clone();
        changed.payload["b"] = json!([2, 1]);
        assert_eq!(ring.verify(Kind::Record, &changed, now()), Err(Unverified::BadSignature));
        let mut garbled = s.clone();
        garbled.signature = "not base64!".into();
        assert_eq!(ring.verify(Kind::Record, &garbled, now()), Err(Unverified::BadSignature));
        // Key order in the payload does not matter: it is canonicalised.
        let reordered: Signed<serde_json::Value> = serde_json::from_str(&format!(
            r#"{{"payload":{{"b":[1,2],"a":1}},"key_id":"{}","signature":"{}"}}"#,
            s.key_id, s.signature
        ))
        .unwrap();
        assert_eq!(ring.verify(Kind::Record, &reordered, now()), Ok(()));
    }

    #[test]
    fn several_keys_rotation_and_retirement() {
        let (old_seed, old_public) = generate();
        let (new_seed, new_public) = generate();
        let ring = KeyRing::parse(&format!("{old_public}@2026-12-01, {new_public}")).unwrap();
        assert_eq!(ring.keys.len(), 2);
        let old = SigningKey::from_base64(&old_seed).unwrap().sign(Kind::Receipt, json!({"n": 1}));
        let new = SigningKey::from_base64(&new_seed).unwrap().sign(Kind::Receipt, json!({"n": 1}));
        let before = Timestamp::parse("2026-11-30T23:59:59Z").unwrap();
        assert_eq!(ring.verify(Kind::Receipt, &old, before), Ok(()));
        assert!(matches!(ring.verify(Kind::Receipt, &old, now()), Err(Unverified::Retired { .. })));
        assert_eq!(ring.verify(Kind::Receipt, &new, now()), Ok(()));
    }

    #[test]
    fn bad_key_lists_are_named() {
        let e = KeyRing::parse("AAAA").unwrap_err().to_string();
        assert!(e.contains(PUBLIC_KEYS_VAR) && e.contains("entry 1"), "{e}");
        let (_, public) = generate();
        let e = KeyRing::parse(&format!("{public}@tomorrow")).unwrap_err().to_string();
        assert!(e.contains("retirement date"), "{e}");
        assert!(KeyRing::parse(" , ").unwrap().is_empty());
        // A key listed twice keeps its retirement.
        let twice = KeyRing::parse(&format!("{public}, {public}@2026-01-01")).unwrap();
        assert_eq!(twice.keys.len(), 1);
        assert!(twice.keys[0].retired_from.is_some());
        let e = SigningKey::from_base64("short").unwrap_err().to_string();
        assert!(e.contains(PRIVATE_KEY_VAR), "{e}");
        // The seed never shows.
        let (seed, _) = generate();
        assert!(!format!("{:?}", SigningKey::from_base64(&seed).unwrap()).contains(&seed));
    }
}
