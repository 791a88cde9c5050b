//! The bot's log: one JSON object per line on stderr, for any log
//! collector to read. A leaf, so the HTTP front and the server both log
//! without importing each other.

use serde_json::json;

use crate::base::time::Timestamp;

/// A JSON log line on stderr.
pub(crate) fn log(level: &str, msg: &str, fields: serde_json::Value) {
    let mut line = json!({"ts": Timestamp::now().to_rfc3339(), "level": level, "msg": msg});
    if let (Some(o), Some(f)) = (line.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            o.insert(k.clone(), v.clone());
        }
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{line}");
    }
}
