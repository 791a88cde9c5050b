//! Webhook deliveries: signature checks over the raw body, then parsing
//! into the work they trigger. Pure: bytes and headers in, a verdict out.
//!
//! Jira admin webhooks sign with `X-Hub-Signature: sha256=<hex>`; CircleCI
//! outbound webhooks with `circleci-signature: v1=<hex>` (several
//! comma-separated values may be sent). Several secrets are accepted so a
//! secret can be rotated without dropping deliveries; comparison is constant
//! time (`ring::hmac::verify`). Webhooks only *trigger* work: the payload is
//! never trusted for a decision, only for which ticket or pipeline to look at.

use ring::hmac;
use serde_json::Value;

use crate::base::codes::stable_codes;
stable_codes! {
    /// Where a delivery came from, named as in metrics and logs.
    pub enum Source: "webhook source" {
        Jira => "jira", "a Jira admin webhook";
        CircleCi => "circleci", "a CircleCI outbound webhook";
    }
}

/// The work a delivery triggers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Work {
    /// Converge this ticket.
    Ticket(String),
    /// Converge the live tickets of this CircleCI pipeline.
    Pipeline(String),
}

/// Why a delivery was refused or ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No signature header (401).
    Unsigned,
    /// No configured secret verifies it (401).
    BadSignature,
    /// Not JSON, or not the shape of the source's events (400).
    Malformed(String),
}

/// Verifies a hex HMAC-SHA256 of `body` against every secret.
pub(crate) fn verify(body: &[u8], hex_signatures: &[&str], secrets: &[String]) -> bool {
    let sigs: Vec<Vec<u8>> = hex_signatures.iter().filter_map(|h| decode_hex(h.trim())).collect();
    secrets.iter().filter(|s| !s.is_empty()).any(|s| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes());
        sigs.iter().any(|sig| hmac::verify(&key, body, sig).is_ok())
    })
}

/// `sha256=<hex>` of `body` with `secret` (tests and load generators).
pub fn sign(body: &[u8], secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::sign(&key, body).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// The signatures a header carries: `sha256=<hex>` (Jira) or `v1=<hex>[,v1=...]` (CircleCI).
pub(crate) fn signatures(source: Source, header: &str) -> Vec<&str> {
    let prefix = match source {
        Source::Jira => "sha256=",
        Source::CircleCi => "v1=",
    };
    header.split(',').filter_map(|p| p.trim().strip_prefix(prefix)).collect()
}

/// Checks and parses a delivery. `Ok(None)`: valid, but nothing to do
/// (another project, an event that changes nothing the bot acts on).
pub fn accept(
    source: Source,
    signature_header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    project: &str,
) -> Result<Option<Work>, Refusal> {
    let header = signature_header.ok_or(Refusal::Unsigned)?;
    if !verify(body, &signatures(source, header), secrets) {
        return Err(Refusal::BadSignature);
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| Refusal::Malformed(format!("not JSON: {e}")))?;
    match source {
        Source::Jira => jira_work(&v, project),
        Source::CircleCi => circleci_work(&v),
    }
}

/// A Jira issue event of the change project: the ticket to converge.
/// Comment events, deletions and other projects change nothing the bot acts on.
pub fn jira_work(v: &Value, project: &str) -> Result<Option<Work>, Refusal> {
    let event = v["webhookEvent"].as_str().ok_or_else(|| Refusal::Malformed("no webhookEvent".into()))?;
    if !matches!(event, "jira:issue_created" | "jira:issue_updated") {
        return Ok(None);
    }
    let key =
        v["issue"]["key"].as_str().ok_or_else(|| Refusal::Malformed("an issue event without issue.key".into()))?;
    let in_project = v["issue"]["fields"]["project"]["key"]
        .as_str()
        .map_or_else(|| key.split('-').next() == Some(project), |p| p == project);
    Ok(in_project.then(|| Work::Ticket(key.to_owned())))
}

/// A CircleCI `workflow-completed` or `job-completed` event: the pipeline
/// whose tickets to converge (a job ending may unblock a hold).
pub(crate) fn circleci_work(v: &Value) -> Result<Option<Work>, Refusal> {
    let kind = v["type"].as_str().ok_or_else(|| Refusal::Malformed("no type".into()))?;
    if !matches!(kind, "workflow-completed" | "job-completed") {
        return Ok(None);
    }
    let pipeline = v["pipeline"]["id"]
        .as_str()
        .ok_or_else(|| Refusal::Malformed(format!("a {kind} event without pipeline.id")))?;
    Ok(Some(Work::Pipeline(pipeline.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRETS: &[&str] = &["old-secret", "new-secret"];

    fn secrets() -> Vec<String> {
        SECRETS.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn signatures_verify_with_any_current_secret() {
        let body = br#"{"webhookEvent":"jira:issue_created","issue":{"key":"PRODCM-1"}}"#;
        for s in SECRETS {
            let h = format!("sha256={}", sign(body, s));
            assert_eq!(
                accept(Source::Jira, Some(&h), body, &secrets(), "PRODCM"),
                Ok(Some(Work::Ticket("PRODCM-1".into())))
            );
        }
        let wrong = format!("sha256={}", sign(body, "retired"));
        assert_eq!(accept(Source::Jira, Some(&wrong), body, &secrets(), "PRODCM"), Err(Refusal::BadSignature));
        assert_eq!(accept(Source::Jira, None, body, &secrets(), "PRODCM"), Err(Refusal::Unsigned));
        // The signature is over the raw bytes: a re-serialised body fails.
        let h = format!("sha256={}", sign(body, "new-secret"));
        let spaced = br#"{"webhookEvent": "jira:issue_created","issue":{"key":"PRODCM-1"}}"#;
        assert_eq!(accept(Source::Jira, Some(&h), spaced, &secrets(), "PRODCM"), Err(Refusal::BadSignature));
        // Garbage signatures and empty secrets never verify.
        assert!(!verify(body, &["zz", ""], &secrets()));
        assert!(!verify(body, &[&sign(body, "")], &[String::new()]));
    }

    #[test]
    fn circleci_signatures_and_events() {
        let body =
            serde_json::to_vec(&json!({"type": "job-completed", "pipeline": {"id": "p-1"}, "workflow": {"id": "w"}}))
                .unwrap();
        let h = format!("v1=deadbeef,v1={}", sign(&body, "new-secret"));
        assert_eq!(accept(Source::CircleCi, Some(&h), &body, &secrets(), "X"), Ok(Some(Work::Pipeline("p-1".into()))));
        let ping = serde_json::to_vec(&json!({"type": "ping"})).unwrap();
        let h = format!("v1={}", sign(&ping, "old-secret"));
        assert_eq!(accept(Source::CircleCi, Some(&h), &ping, &secrets(), "X"), Ok(None));
        let bad = b"{not json";
        let h = format!("v1={}", sign(bad, "old-secret"));
        assert!(matches!(accept(Source::CircleCi, Some(&h), bad, &secrets(), "X"), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn only_issue_events_of_the_change_project_trigger_work() {
        let ev = |e: &str, key: &str| json!({"webhookEvent": e, "issue": {"key": key, "fields": {}}});
        assert_eq!(
            jira_work(&ev("jira:issue_updated", "PRODCM-3"), "PRODCM"),
            Ok(Some(Work::Ticket("PRODCM-3".into())))
        );
        assert_eq!(jira_work(&ev("jira:issue_updated", "OTHER-3"), "PRODCM"), Ok(None));
        assert_eq!(jira_work(&ev("comment_created", "PRODCM-3"), "PRODCM"), Ok(None));
        assert_eq!(jira_work(&ev("jira:issue_deleted", "PRODCM-3"), "PRODCM"), Ok(None));
        assert!(jira_work(&json!({"issue": {}}), "PRODCM").is_err());
    }
}
