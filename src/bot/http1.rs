//! A small HTTP/1.1 server for the bot, with the deadlines a public
//! endpoint needs: a client has `header_timeout` to send its request head
//! and `body_timeout` to send its body (a client trickling bytes is cut off
//! at the deadline, not per read), idle keep-alive connections are closed
//! after `idle_timeout`, and at most `max_connections` are served at once
//! (one thread each; more are answered 503 and closed). Bodies need a
//! `Content-Length` (webhook senders send one); chunked bodies are refused
//! with 411. No pipelining: a client waits for each answer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names as sent.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The announced body was larger than allowed and was not read.
    pub too_large: bool,
}

impl Request {
    /// A header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection` are added).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, headers: vec![("Content-Type".into(), content_type.into())], body: body.into() }
    }
}

/// The deadlines and bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// To send the request line and headers.
    pub header_timeout: Duration,
    /// To send the body.
    pub body_timeout: Duration,
    /// Between requests on a kept-alive connection.
    pub idle_timeout: Duration,
    /// Largest request head.
    pub max_header: usize,
    /// Largest body (a larger `Content-Length` is answered 413 unread).
    pub max_body: usize,
    /// Connections served at once.
    pub max_connections: usize,
}

/// The request handler.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_response(stream: &mut TcpStream, r: &Response, keep_alive: bool) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: {}\r\n\r\n",
        r.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    ));
    let mut out = head.into_bytes();
    out.extend_from_slice(&r.body);
    stream.write_all(&out)
}

/// Reads into `buf` until `done(buf)` or the deadline; `Ok(false)` when the
/// peer closed first.
fn read_until(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    limit: usize,
    done: impl Fn(&[u8]) -> bool,
) -> std::io::Result<bool> {
    let mut chunk = [0u8; 8192];
    while !done(buf) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock) => {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > limit {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
    Ok(true)
}

/// A request head, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Method.
    pub method: String,
    /// Path (with the query).
    pub path: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The connection stays open after the answer.
    pub keep_alive: bool,
    /// Content-Length (0 when absent).
    pub length: usize,
}

/// Why a request head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// No method, a path not starting with `/`, or not HTTP/1.x.
    BadRequestLine,
    /// A chunked (or otherwise transfer-encoded) body: a length is required.
    LengthRequired,
    /// A Content-Length that is not a number.
    BadLength,
}

impl HeadError {
    /// The status it is answered with.
    pub fn status(self) -> u16 {
        match self {
            HeadError::BadRequestLine | HeadError::BadLength => 400,
            HeadError::LengthRequired => 411,
        }
    }

    fn message(self) -> &'static str {
        match self {
            HeadError::BadRequestLine => "bad request line\n",
            HeadError::LengthRequired => "send a Content-Length\n",
            HeadError::BadLength => "bad Content-Length\n",
        }
    }
}

/// Parses a request head (everything up to and including the blank line).
/// Pure: what the connection does with the answer is its business.
pub fn parse_head(head: &[u8]) -> Result<Head, HeadError> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let (method, path, version) =
        (first.next().unwrap_or_default(), first.next().unwrap_or_default(), first.next().unwrap_or_default());
    // A method is a token; the bot only ever answers GET and POST.
    let token = !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphabetic());
    if !token || !path.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(HeadError::BadRequestLine);
    }
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    let keep_alive = match get("connection") {
        Some(c) if c.eq_ignore_ascii_case("close") => false,
        Some(c) if c.eq_ignore_ascii_case("keep-alive") => true,
        _ => version == "HTTP/1.1",
    };
    if get("transfer-encoding").is_some() {
        return Err(HeadError::LengthRequired);
    }
    let length = match get("content-length").map(str::parse) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(HeadError::BadLength),
    };
    Ok(Head { method: method.to_owned(), path: path.to_owned(), headers, keep_alive, length })
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn connection(mut stream: TcpStream, limits: &Limits, handler: &Handler) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(limits.body_timeout));
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Idle until the first byte, then the head's own deadline.
        let idle = Instant::now() + limits.idle_timeout;
        match read_until(&mut stream, &mut buf, idle, limits.max_header, |b| !b.is_empty()) {
            Ok(true) => {}
            _ => return,
        }
        let deadline = Instant::now() + limits.header_timeout;
        match read_until(&mut stream, &mut buf, deadline, limits.max_header, |b| head_end(b).is_some()) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                let status = if e.kind() == std::io::ErrorKind::InvalidData { 431 } else { 408 };
                let _ = write_response(
                    &mut stream,
                    &Response::new(status, "text/plain", "request head not received\n"),
                    false,
                );
                return;
            }
        }
        let end = head_end(&buf).expect("found above");
        let mut rest = buf.split_off(end);
        let Head { method, path, headers, keep_alive, length } = match parse_head(&buf) {
            Ok(h) => h,
            Err(e) => {
                let _ = write_response(&mut stream, &Response::new(e.status(), "text/plain", e.message()), false);
                return;
            }
        };
        if length > limits.max_body {
            // The handler answers (and counts) it; the body is not read.
            let r = handler(&Request { method, path, headers, body: Vec::new(), too_large: true });
            let _ = write_response(&mut stream, &r, false);
            return;
        }
        let deadline = Instant::now() + limits.body_timeout;
        match read_until(&mut stream, &mut rest, deadline, length, |b| b.len() >= length) {
            Ok(true) => {}
            Ok(false) => return,
            Err(_) => {
                let _ = write_response(
                    &mut stream,
                    &Response::new(408, "text/plain", "request body not received in time\n"),
                    false,
                );
                return;
            }
        }
        buf = rest.split_off(length);
        let req = Request { method, path, headers, body: rest, too_large: false };
        let r = handler(&req);
        if write_response(&mut stream, &r, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

/// Serves `listener` until `stop` is set (then wake the accept with a
/// connection to the listener). Connections in progress finish on their own.
pub fn serve(listener: TcpListener, limits: Limits, handler: Handler, stop: Arc<AtomicBool>) {
    let open = Arc::new(AtomicUsize::new(0));
    let limits = Arc::new(limits);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = stream else { continue };
        if open.load(Ordering::SeqCst) >= limits.max_connections {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let mut r =
                Response::new(503, "application/json", "{\"outcome\":\"busy\",\"message\":\"too many connections\"}");
            r.headers.push(("Retry-After".into(), "5".into()));
            let _ = write_response(&mut stream, &r, false);
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (open, limits, handler) = (open.clone(), limits.clone(), handler.clone());
        std::thread::spawn(move || {
            connection(stream, &limits, &handler);
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_and_refused_with_the_right_status() {
        let h = parse_head(b"POST /webhooks/jira HTTP/1.1\r\nContent-Length: 12\r\nX-Hub-Signature: sha256=ab\r\n\r\n")
            .unwrap();
        assert_eq!((h.method.as_str(), h.path.as_str(), h.length, h.keep_alive), ("POST", "/webhooks/jira", 12, true));
        assert_eq!(h.headers[1], ("X-Hub-Signature".to_owned(), "sha256=ab".to_owned()));
        let h = parse_head(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
        assert!(!h.keep_alive && h.length == 0);
        let h = parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!h.keep_alive);
        for (head, err) in [
            (&b"GARBAGE\r\n\r\n"[..], HeadError::BadRequestLine),
            (b"GET nopath HTTP/1.1\r\n\r\n", HeadError::BadRequestLine),
            (b"GET / HTTP/2\r\n\r\n", HeadError::BadRequestLine),
            (b"\xff\xfe / HTTP/1.1\r\n\r\n", HeadError::BadRequestLine),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", HeadError::LengthRequired),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HeadError::BadLength),
            (b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", HeadError::BadLength),
        ] {
            assert_eq!(parse_head(head), Err(err), "{}", String::from_utf8_lossy(head));
        }
        assert_eq!(HeadError::LengthRequired.status(), 411);
    }
}
