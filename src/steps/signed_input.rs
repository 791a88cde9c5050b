//! The property the fuzz target `signed` checks (fuzz/fuzz_targets/signed.rs)
//! and `cargo test` replays over its committed corpus (fuzz/seeds/signed):
//! whatever bytes arrive where a signed record, policy or receipt is read, only
//! what the key really signed is accepted — never a forged, mangled, replayed
//! or transplanted one — and reading never panics.
//!
//! The key here is a fixed test key ([`TEST_SEED`]); it signs nothing outside
//! this property.

use serde_json::Value;

use crate::base::digest::Sha256Digest;
use crate::base::time::Timestamp;
use crate::model::receipt::{self, ReceiptPayload};
use crate::model::signing::{Kind, SigningKey};
use crate::steps::bot_record::{self, BotRecord, Check};
use crate::steps::policy::{self, PolicyContent, PolicyDoc};

/// The test key's seed (base64): public, for this property only.
pub(crate) const TEST_SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const TICKET: &str = "PRODCM-1";
const FLOOR: u64 = 3;

fn key() -> SigningKey {
    SigningKey::from_base64(TEST_SEED).expect("a valid seed")
}

fn binding() -> Sha256Digest {
    Sha256Digest::of(b"the binding of PRODCM-1")
}

fn now() -> Timestamp {
    Timestamp::parse("2026-12-01T12:00:00Z").expect("a time")
}

fn receipt_payload(n: u64) -> ReceiptPayload {
    ReceiptPayload {
        ticket: TICKET.into(),
        binding: serde_json::from_value(serde_json::json!({"project_slug": "gh/acme/web", "environment": "production",
            "action": "apply", "branch": "main", "commit": "0123456789abcdef0123456789abcdef01234567",
            "pipeline_id": "p", "pipeline_number": n, "build_job": {"name": "build", "number": n, "id": "j"}}))
        .expect("a binding"),
        stack: None,
        plan: None,
        approver: "712020:alice".into(),
        issued_at: "2026-12-01T11:00:00.000Z".into(),
        policy_digest: Sha256Digest::of(b"policy"),
    }
}

/// The records the key signed: PRODCM-1 numbers 1 to 3 (3 is current),
/// and one of PRODCM-2.
fn genuine_records() -> Vec<BotRecord> {
    let mut out = Vec::new();
    for (ticket, seq) in [(TICKET, 1), (TICKET, 2), (TICKET, 3), ("PRODCM-2", 3)] {
        let mut r = BotRecord::new(ticket, binding());
        r.seq = seq;
        r.written_at = format!("2026-12-01T10:0{seq}:00.000Z");
        r.receipts.push(receipt::sign(&key(), receipt_payload(seq)));
        out.push(r);
    }
    out
}

fn genuine_policies() -> Vec<PolicyDoc> {
    let content = PolicyContent::of(&crate::config::Config::default());
    [(1, "2026-11-01T00:00:00Z"), (2, "2026-11-30T12:00:00Z")]
        .iter()
        .map(|(serial, at)| {
            policy::sign(&key(), content.clone(), *serial, Timestamp::parse(at).expect("a time"), policy::DEFAULT_TTL)
                .payload
        })
        .collect()
}

/// Checks the property on one input; `Err` names the violation.
pub fn never_accepts_forgeries(data: &[u8]) -> Result<(), String> {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return Ok(()) };
    let ring = key().ring();
    match bot_record::check(Some(&v), Some(&ring), TICKET, &binding(), FLOOR) {
        Check::Verified(r) | Check::OtherBinding(r) => {
            if !genuine_records().contains(&r) {
                return Err(format!("a record the key never signed was accepted: {r:?}"));
            }
            if r.ticket != TICKET || r.seq < FLOOR {
                return Err(format!("another ticket's or an older record was accepted: {r:?}"));
            }
        }
        Check::Unsigned(_) => return Err("an unsigned record was accepted where a bot runs".into()),
        Check::Absent | Check::Altered { .. } => {}
    }
    if let Ok(p) = policy::verify(Some(&v), &ring, "PRODCM", now())
        && !genuine_policies().contains(&p.payload)
    {
        return Err(format!("a policy the key never signed was accepted: {:?}", p.payload));
    }
    if let Ok(r) = serde_json::from_value::<receipt::Receipt>(v.clone())
        && receipt::verify(&ring, &r).is_ok()
        && !(1..=3).any(|n| receipt_payload(n) == r.payload)
    {
        return Err(format!("a receipt the key never signed was accepted: {:?}", r.payload));
    }
    // Domains: a signed record never passes as a policy or a receipt.
    if let Ok(s) = crate::model::signing::Signed::<Value>::from_value(&v)
        && ring.verify(Kind::Record, &s, now()).is_ok()
        && (ring.verify(Kind::Policy, &s, now()).is_ok() || ring.verify(Kind::Receipt, &s, now()).is_ok())
    {
        return Err("one signature verified in two domains".into());
    }
    Ok(())
}

/// Seeds for the corpus: every genuine document, and mangled, replayed,
/// transplanted and foreign-key variants of them. (name, bytes)
#[cfg(test)]
fn seeds() -> Vec<(String, Vec<u8>)> {
    let k = key();
    let other = SigningKey::from_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").expect("a valid seed");
    let mut out = Vec::new();
    let mut push = |name: &str, v: &Value| out.push((name.to_owned(), serde_json::to_vec_pretty(v).expect("json")));
    for r in genuine_records() {
        let signed = serde_json::to_value(k.sign(Kind::Record, r.clone())).expect("json");
        push(&format!("record-{}-{}", r.ticket, r.seq), &signed);
        let mut mangled = signed.clone();
        mangled["payload"]["seq"] = serde_json::json!(r.seq + 10);
        push(&format!("record-{}-{}-seq-raised", r.ticket, r.seq), &mangled);
        let mut emptied = signed.clone();
        emptied["payload"]["receipts"] = serde_json::json!([]);
        push(&format!("record-{}-{}-emptied", r.ticket, r.seq), &emptied);
    }
    let foreign = serde_json::to_value(other.sign(Kind::Record, genuine_records()[2].clone())).expect("json");
    push("record-foreign-key", &foreign);
    push("record-unsigned", &serde_json::json!({"unsigned": genuine_records()[2]}));
    for (i, p) in genuine_policies().into_iter().enumerate() {
        let signed = serde_json::to_value(k.sign(Kind::Policy, p)).expect("json");
        push(&format!("policy-{i}"), &signed);
        let mut loosened = signed.clone();
        loosened["payload"]["content"]["controlled_environments"] = serde_json::json!([]);
        push(&format!("policy-{i}-loosened"), &loosened);
    }
    let r = receipt::sign(&k, receipt_payload(1));
    push("receipt", &serde_json::to_value(&r).expect("json"));
    // A record's signature presented as a receipt's.
    let as_receipt = serde_json::to_value(k.sign(Kind::Record, receipt_payload(2))).expect("json");
    push("receipt-signed-as-record", &as_receipt);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_genuine_current_documents_are_accepted_so_the_property_is_not_vacuous() {
        let ring = key().ring();
        let seeds = seeds();
        let get =
            |n: &str| -> Value { serde_json::from_slice(&seeds.iter().find(|(x, _)| x == n).unwrap().1).unwrap() };
        assert!(matches!(
            bot_record::check(Some(&get("record-PRODCM-1-3")), Some(&ring), TICKET, &binding(), FLOOR),
            Check::Verified(_)
        ));
        assert!(policy::verify(Some(&get("policy-1")), &ring, "PRODCM", now()).is_ok());
        let r: receipt::Receipt = serde_json::from_value(get("receipt")).unwrap();
        assert!(receipt::verify(&ring, &r).is_ok());
    }

    /// The committed corpus (fuzz/seeds/signed) is what [`seeds`] makes, and
    /// every file of it, and of the fuzzer's own corpus when there is one,
    /// keeps the property.
    #[test]
    fn the_corpus_keeps_the_property() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/signed");
        // CHANGEGATE_WRITE_SEEDS=1 writes the corpus anew (after a change of
        // the formats); otherwise it must be what seeds() makes.
        if std::env::var_os("CHANGEGATE_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for (name, bytes) in seeds() {
                std::fs::write(dir.join(format!("{name}.json")), bytes).unwrap();
            }
        }
        for (name, bytes) in seeds() {
            let path = dir.join(format!("{name}.json"));
            let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(committed, bytes, "{} differs from what seeds() makes", path.display());
        }
        let mut dirs = vec![dir];
        dirs.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/signed"));
        let mut n = 0;
        for d in dirs.iter().filter(|d| d.is_dir()) {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                if let Err(e) = never_accepts_forgeries(&bytes) {
                    panic!("{}: {e}", path.display());
                }
                n += 1;
            }
        }
        assert!(n >= seeds().len(), "replayed {n} inputs");
    }
}
