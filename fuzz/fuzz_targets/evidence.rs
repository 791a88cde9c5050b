//! The evidence reader (what `changegate decide` and the audit read back
//! from a ticket's attachment), and the decision on whatever it accepts:
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(e) = changegate::Evidence::from_json(text)
    {
        let _ = changegate::analyze::decide(&e);
    }
});
