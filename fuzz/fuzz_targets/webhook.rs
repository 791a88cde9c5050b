//! The bot's untrusted input: HTTP request heads, and signed webhook bodies
//! of either source (signed here, so the parsing behind the signature check
//! is reached). Never a panic; an unsigned or wrongly signed body is always
//! refused.
#![no_main]

use changegate::bot::http1::parse_head;
use changegate::bot::webhook::{Refusal, Source, accept, sign};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_head(data);
    let secrets = vec!["s3cret".to_owned()];
    for (source, header) in [(Source::Jira, "sha256="), (Source::CircleCi, "v1=")] {
        let signed = format!("{header}{}", sign(data, "s3cret"));
        let _ = accept(source, Some(&signed), data, &secrets, "PRODCM");
        let forged = format!("{header}{}", sign(data, "other"));
        assert!(matches!(accept(source, Some(&forged), data, &secrets, "PRODCM"), Err(Refusal::BadSignature)));
        assert!(matches!(accept(source, None, data, &secrets, "PRODCM"), Err(Refusal::Unsigned)));
    }
});
