//! The lenient SARIF reader on arbitrary JSON: facts or an error, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = changegate::sarif::read(&doc);
    }
});
