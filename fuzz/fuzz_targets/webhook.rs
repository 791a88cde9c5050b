//! The bot's untrusted input at the boundary behind its HTTP front (hyper
//! parses the bytes of the head): a request's headers, admitted or refused
//! by the front, and the request with its body answered by the bot's
//! endpoint; and signed webhook bodies of either source (signed here, so
//! the parsing behind the signature check is reached). Never a panic; an
//! unsigned or wrongly signed body is always refused, and a request never
//! reaches the queue without a signature that verifies.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use changegate::server::{Admission, Request, admit};
use changegate::server::{Endpoint, Metrics, Queue, ServeOptions};
use changegate::webhook::{Refusal, Source, accept, sign};
use changegate::Timestamp;
use libfuzzer_sys::fuzz_target;

fn endpoint() -> Endpoint {
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        workers: 1,
        queue: 4,
        max_body: 4096,
        reconcile_every: None,
        jira_secrets: vec!["s3cret".into()],
        circleci_secrets: vec!["s3cret".into()],
        project: "PRODCM".into(),
        drain: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        max_connections: 1,
    };
    Endpoint {
        opts: Arc::new(opts),
        queue: Arc::new(Queue::new(4)),
        metrics: Arc::new(Metrics::default()),
        started: Timestamp(0),
    }
}

/// A request from the input: `METHOD PATH\n`, header lines `name: value\n`,
/// a blank line, then the body.
fn request(data: &[u8]) -> Request {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (first.next().unwrap_or_default(), first.next().unwrap_or_default());
    let headers = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    Request { method: method.to_owned(), path: path.to_owned(), headers, body: body.as_bytes().to_vec(), too_large: false }
}

fuzz_target!(|data: &[u8]| {
    let e = endpoint();
    let mut req = request(data);
    match admit(&req.headers, e.opts.max_body) {
        Admission::Refuse(s) => assert!(s == 400 || s == 411),
        Admission::TooLarge => req.too_large = true,
        Admission::Read(_) => {}
    }
    let r = e.answer(&req);
    // (Hex digits may come in either case.)
    let good = sign(&req.body, "s3cret");
    let forged = ["X-Hub-Signature", "circleci-signature"]
        .iter()
        .all(|h| !req.header(h).is_some_and(|v| v.to_ascii_lowercase().contains(&good)));
    if forged {
        assert!(e.queue.is_empty(), "queued without a signature: {req:?}");
        let hook = req.method == "POST" && req.path.starts_with("/webhooks/");
        assert!(!(hook && matches!(r.status, 200 | 202)), "accepted without a signature: {req:?}");
    }

    let secrets = vec!["s3cret".to_owned()];
    for (source, header) in [(Source::Jira, "sha256="), (Source::CircleCi, "v1=")] {
        let signed = format!("{header}{}", sign(data, "s3cret"));
        let _ = accept(source, Some(&signed), data, &secrets, "PRODCM");
        let forged = format!("{header}{}", sign(data, "other"));
        assert!(matches!(accept(source, Some(&forged), data, &secrets, "PRODCM"), Err(Refusal::BadSignature)));
        assert!(matches!(accept(source, None, data, &secrets, "PRODCM"), Err(Refusal::Unsigned)));
    }
});
