//! The plan reader on arbitrary bytes: it answers (a report or an error),
//! never panics, and a plan it accepts has a digest of exactly those bytes.
#![no_main]

use changegate::PlanRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = changegate::plan::check(data, &PlanRules::default()) {
        assert_eq!(report.plan_json_digest, changegate::Sha256Digest::of(data));
    }
});
