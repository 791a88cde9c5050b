//! Builds a [`View`] from a JSON change and runs a single rule (the rules'
//! unit tests).

use super::shared::{Hit, Rule};
use crate::config::plan::Reason;
use crate::steps::plan::element::ElementReader;
use crate::steps::plan::model::View;

/// Runs `check` on a change of `kind` with the given actions and sides.
pub(crate) fn run(check: Rule, kind: &str, change: serde_json::Value) -> Vec<Hit> {
    let doc = serde_json::json!({
        "address": format!("{kind}.test"), "mode": "managed", "type": kind, "name": "test", "change": change
    })
    .to_string();
    let mut reader = ElementReader::default();
    let (rc, _) = reader.read(doc.as_bytes()).unwrap();
    let v = View::new(&rc);
    let mut hits = Vec::new();
    if v.actions().changes() {
        check(&v, &mut hits);
    }
    hits
}

/// The reasons of the hits.
pub(crate) fn reasons(hits: &[Hit]) -> Vec<Reason> {
    hits.iter().map(|h| h.reason).collect()
}
