//! The bot's signed record, policy and receipts as CI jobs and the bot read
//! them back: whatever the bytes, only what the key really signed is accepted
//! (never a forged, mangled, replayed or transplanted one), and never a panic.
//! `cargo test` replays the committed corpus (fuzz/seeds/signed) and this
//! target's own (fuzz/corpus/signed) through the same property.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = changegate::never_accepts_forgeries(data) {
        panic!("{e}");
    }
});
