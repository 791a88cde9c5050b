//! The HTTP core every API client (Jira, GitHub, CircleCI) stands on.
//!
//! One [`Http`] per API: a `ureq` agent with timeouts and optional extra CA
//! certificates (`CHANGEGATE_CA_BUNDLE`, for TLS-intercepting proxies), a
//! base URL (overridable, so tests point it at a local server) and the
//! credentials. Requests are retried with backoff on 429 and 5xx, honouring
//! `Retry-After`, for a bounded time. Secrets never appear in errors: they
//! are [`Secret`]s, and error messages built from response bodies are
//! scrubbed of them.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http::{self, HeaderMap, Method};

/// A credential: printed as `***` everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a client authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No credentials (tests, public endpoints).
    None,
    /// HTTP basic auth (Jira: account email and API token).
    Basic {
        /// User name (not secret).
        user: String,
        /// Password or token.
        password: Secret,
    },
    /// A token in a named header (CircleCI: `Circle-Token`).
    Header {
        /// Header name.
        name: &'static str,
        /// Token.
        token: Secret,
    },
    /// `Authorization: Bearer TOKEN` (GitHub).
    Bearer(Secret),
}

impl Auth {
    fn secrets(&self) -> Vec<&str> {
        match self {
            Auth::None => Vec::new(),
            Auth::Basic { password, .. } => vec![password.expose()],
            Auth::Header { token, .. } | Auth::Bearer(token) => vec![token.expose()],
        }
    }
}

/// Retry behaviour.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// First backoff; doubles each time.
    pub initial_backoff: Duration,
    /// The longest single wait, `Retry-After` included; a server asking for
    /// longer gets an error instead (a bounded wait, never a hang).
    pub max_wait: Duration,
    /// Timeout of one request (connect, send, receive).
    pub timeout: Duration,
}

impl RetryPolicy {
    /// The defaults, adjusted by `CHANGEGATE_HTTP_TIMEOUT` (seconds per
    /// request), `CHANGEGATE_HTTP_ATTEMPTS` and `CHANGEGATE_HTTP_MAX_WAIT`
    /// (longest wait between attempts, seconds).
    pub fn from_env(env: &crate::base::env::Env) -> Result<Self, SetupError> {
        let mut p = RetryPolicy::default();
        let num = |name: &'static str| -> Result<Option<u64>, SetupError> {
            env.get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(SetupError::Setting { name, value: v.to_owned() })
                })
                .transpose()
        };
        if let Some(t) = num("CHANGEGATE_HTTP_TIMEOUT")? {
            p.timeout = Duration::from_secs(t);
        }
        if let Some(a) = num("CHANGEGATE_HTTP_ATTEMPTS")? {
            p.attempts = u32::try_from(a.min(20)).unwrap_or(20);
        }
        if let Some(w) = num("CHANGEGATE_HTTP_MAX_WAIT")? {
            p.max_wait = Duration::from_secs(w);
        }
        Ok(p)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A failed API call. Every variant says which service and call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server could not be reached or did not answer in time.
    #[error("{service}: {method} {path} failed: {detail}")]
    Network {
        /// `Jira`, `CircleCI`, `GitHub`.
        service: &'static str,
        /// HTTP method.
        method: String,
        /// Path without query.
        path: String,
        /// What happened.
        detail: String,
    },
    /// The server answered with an error status (after retries for 429/5xx).
    #[error("{service}: {method} {path} returned HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        /// Service.
        service: &'static str,
        /// HTTP method.
        method: String,
        /// Path without query.
        path: String,
        /// HTTP status.
        status: u16,
        /// The server's explanation, scrubbed of secrets and cut short.
        message: String,
    },
    /// The answer was not what the API describes (malformed JSON...).
    #[error("{service}: {method} {path} returned an unexpected body: {detail}")]
    Decode {
        /// Service.
        service: &'static str,
        /// HTTP method.
        method: String,
        /// Path without query.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl ApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A response: status, headers and the whole body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub(crate) headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document.
    Json(Vec<u8>),
    /// Raw bytes with a content type (multipart uploads).
    Raw {
        /// `Content-Type`.
        content_type: String,
        /// Bytes.
        bytes: Vec<u8>,
    },
}

/// Largest response body read (a bounded read, never unbounded memory).
const MAX_BODY: u64 = 32 * 1024 * 1024;

/// The client of one API.
#[derive(Clone)]
pub struct Http {
    service: &'static str,
    agent: ureq::Agent,
    base: String,
    auth: Auth,
    extra_headers: Vec<(&'static str, String)>,
    retry: RetryPolicy,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("service", &self.service)
            .field("base", &self.base)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Building a client failed (bad CA bundle, bad base URL).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The CA bundle cannot be read or holds no certificate.
    #[error("CHANGEGATE_CA_BUNDLE {path}: {detail}")]
    CaBundle {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A setting is not a positive number.
    #[error("{name} must be a positive whole number, not {value:?}")]
    Setting {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The base URL is not an http(s) URL.
    #[error("{name} must be an http:// or https:// URL, not {value:?}")]
    BaseUrl {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
}

impl Http {
    /// A client of `service` at `base` (no trailing slash needed).
    pub fn new(
        service: &'static str,
        base_var: &'static str,
        base: &str,
        auth: Auth,
        ca_bundle: Option<&Path>,
        retry: RetryPolicy,
    ) -> Result<Self, SetupError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(SetupError::BaseUrl { name: base_var, value: base });
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = ca_bundle {
            let shown = path.display().to_string();
            let pem =
                std::fs::read(path).map_err(|e| SetupError::CaBundle { path: shown.clone(), detail: e.to_string() })?;
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(e) => return Err(SetupError::CaBundle { path: shown, detail: e.to_string() }),
                }
            }
            if certs.is_empty() {
                return Err(SetupError::CaBundle { path: shown, detail: "no certificate in the file".into() });
            }
            // The bundle replaces the compiled-in roots: a TLS-intercepting
            // proxy re-signs every site, and corporate bundles carry the
            // public roots as well.
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(retry.timeout))
            .user_agent(concat!("changegate/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build();
        Ok(Http { service, agent: config.into(), base, auth, extra_headers: Vec::new(), retry })
    }

    /// Adds a header sent with every request.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra_headers.push((name, value.into()));
        self
    }

    /// A copy of this client that asks for another media type.
    pub fn accepting(&self, media_type: &str) -> Http {
        let mut h = self.clone();
        h.extra_headers.retain(|(k, _)| !k.eq_ignore_ascii_case("accept"));
        h.extra_headers.push(("Accept", media_type.to_owned()));
        h
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The service name used in messages.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Removes every secret of this client from `text`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.auth.secrets() {
            if !s.is_empty() {
                out = out.replace(s, "***");
            }
        }
        out
    }

    /// Sends a request, retrying 429 and 5xx (and, for requests that are
    /// safe to repeat, network errors). Returns any final response, error
    /// statuses included; see [`Self::call`] for the checked form.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
    ) -> Result<Response, ApiError> {
        let url = self.url(path, query);
        let repeatable = matches!(method, Method::GET | Method::PUT | Method::DELETE | Method::HEAD);
        let started = Instant::now();
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let result = self.once(&method, &url, body);
            let wait = match &result {
                Ok(r) if r.status == 429 || r.status == 503 => {
                    Some(retry_after(&r.headers).or_else(|| rate_limit_reset(&r.headers)).unwrap_or(backoff))
                }
                // GitHub's primary rate limit: 403 with no requests left.
                Ok(r) if r.status == 403 && r.headers.get("x-ratelimit-remaining").is_some_and(|v| v == "0") => {
                    Some(rate_limit_reset(&r.headers).unwrap_or(backoff))
                }
                // Other 5xx: the request may have been processed; repeat it
                // only when repeating is harmless.
                Ok(r) if r.status >= 500 && repeatable => Some(backoff),
                Err(_) if repeatable => Some(backoff),
                _ => None,
            };
            match wait {
                Some(w) if attempt < self.retry.attempts && w <= self.retry.max_wait => {
                    std::thread::sleep(w);
                    attempt += 1;
                    backoff = (backoff * 2).min(self.retry.max_wait);
                }
                _ => {
                    return result.map_err(|detail| ApiError::Network {
                        service: self.service,
                        method: method.to_string(),
                        path: path.to_owned(),
                        detail: format!(
                            "{detail} (after {attempt} attempt(s), {:.1} s)",
                            started.elapsed().as_secs_f64()
                        ),
                    });
                }
            }
        }
    }

    /// Sends a request and fails on a non-2xx final status.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
    ) -> Result<Response, ApiError> {
        let r = self.send(method.clone(), path, query, body)?;
        self.check(&method, path, r)
    }

    /// Turns a non-2xx response into an error naming the call.
    pub fn check(&self, method: &Method, path: &str, r: Response) -> Result<Response, ApiError> {
        if (200..300).contains(&r.status) {
            Ok(r)
        } else {
            Err(ApiError::Status {
                service: self.service,
                method: method.to_string(),
                path: path.to_owned(),
                status: r.status,
                message: self.scrub(&error_message(&r.body)),
            })
        }
    }

    /// GET of an absolute URL (artifact downloads) with this client's
    /// credentials. Only HTTPS URLs or URLs on the API's own host are
    /// fetched, so a credential never travels in clear text elsewhere.
    pub fn get_absolute(&self, url: &str, max: u64) -> Result<Vec<u8>, ApiError> {
        let origin = |u: &str| u.split('/').take(3).collect::<Vec<_>>().join("/");
        let shown = url.split('?').next().unwrap_or(url).to_owned();
        if !url.starts_with("https://") && origin(url) != origin(&self.base) {
            return Err(ApiError::Decode {
                service: self.service,
                method: "GET".into(),
                path: shown,
                detail: "refusing to send credentials to a URL that is neither HTTPS nor the API's host".into(),
            });
        }
        let me = Http { base: String::new(), ..self.clone() };
        let r = me.call(Method::GET, url, &[], &Body::Empty)?;
        if r.body.len() as u64 > max {
            return Err(ApiError::Decode {
                service: self.service,
                method: "GET".into(),
                path: shown,
                detail: format!("larger than {max} bytes"),
            });
        }
        Ok(r.body)
    }

    /// GET and decode JSON.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, ApiError> {
        let r = self.call(Method::GET, path, query, &Body::Empty)?;
        self.decode(&Method::GET, path, &r.body)
    }

    /// Sends JSON and decodes the JSON answer.
    pub fn send_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).expect("request bodies serialise");
        let r = self.call(method.clone(), path, &[], &Body::Json(bytes))?;
        self.decode(&method, path, &r.body)
    }

    /// Sends JSON; the answer's body is not needed.
    pub fn send_json_no_content<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec(body).expect("request bodies serialise");
        self.call(method, path, &[], &Body::Json(bytes)).map(|_| ())
    }

    /// Decodes a JSON body with a message naming the call.
    pub fn decode<T: DeserializeOwned>(&self, method: &Method, path: &str, body: &[u8]) -> Result<T, ApiError> {
        serde_json::from_slice(body).map_err(|e| ApiError::Decode {
            service: self.service,
            method: method.to_string(),
            path: path.to_owned(),
            detail: e.to_string(),
        })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}{}", self.base, path);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&percent_encode(k));
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        url
    }

    /// One attempt. Errors are transport failures, as text.
    fn once(&self, method: &Method, url: &str, body: &Body) -> Result<Response, String> {
        let mut req = http::Request::builder().method(method.clone()).uri(url);
        if !self.extra_headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            req = req.header("Accept", "application/json");
        }
        match &self.auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                use base64::Engine as _;
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.expose()));
                req = req.header("Authorization", format!("Basic {token}"));
            }
            Auth::Header { name, token } => req = req.header(*name, token.expose()),
            Auth::Bearer(token) => req = req.header("Authorization", format!("Bearer {}", token.expose())),
        }
        for (k, v) in &self.extra_headers {
            req = req.header(*k, v);
        }
        let (req, bytes) = match body {
            Body::Empty => (req, Vec::new()),
            Body::Json(b) => (req.header("Content-Type", "application/json"), b.clone()),
            Body::Raw { content_type, bytes } => (req.header("Content-Type", content_type.as_str()), bytes.clone()),
        };
        let req = req.body(bytes).map_err(|e| self.scrub(&e.to_string()))?;
        let mut resp = self.agent.run(req).map_err(|e| self.scrub(&transport_error(&e)))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_BODY)
            .read_to_end(&mut body)
            .map_err(|e| self.scrub(&format!("reading the response failed: {e}")))?;
        Ok(Response { status, headers, body })
    }
}

fn transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::ConnectionFailed => "connection failed".to_owned(),
        other => other.to_string(),
    }
}

/// `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = crate::base::time::parse_http_date(v)?;
    Some(when.saturating_sub(crate::base::time::now_unix_duration()))
}

/// Time until `x-ratelimit-reset` (epoch seconds), GitHub's rate-limit window.
pub(crate) fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset: u64 = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(reset).saturating_sub(crate::base::time::now_unix_duration()) + Duration::from_secs(1))
}

/// The most useful part of an error body: Jira's `errorMessages`/`errors`,
/// GitHub's and CircleCI's `message`, else the start of the text.
pub(crate) fn error_message(body: &[u8]) -> String {
    let cut = |s: &str| {
        let s = s.trim();
        if s.chars().count() > 300 { format!("{}...", s.chars().take(297).collect::<String>()) } else { s.to_owned() }
    };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let mut parts: Vec<String> = Vec::new();
        // Problem details (RFC 7807) with per-field validation messages.
        if let Some(list) = v.get("validation").and_then(|m| m.as_array()) {
            parts.extend(list.iter().filter_map(|m| {
                let msg = m.get("message")?.as_str()?;
                let at = m.get("location").and_then(|l| l.as_array()).map(|l| {
                    l.iter().map(|x| x.to_string().trim_matches('"').to_owned()).collect::<Vec<_>>().join(".")
                });
                Some(at.map_or_else(|| msg.to_owned(), |a| format!("{a}: {msg}")))
            }));
        }
        if let Some(msgs) = v.get("errorMessages").and_then(|m| m.as_array()) {
            parts.extend(msgs.iter().filter_map(|m| m.as_str().map(str::to_owned)));
        }
        if let Some(errs) = v.get("errors").and_then(|m| m.as_object()) {
            parts.extend(errs.iter().map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or(&m.to_string()))));
        }
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            parts.push(m.to_owned());
        }
        if parts.is_empty()
            && let Some(d) = v.get("detail").and_then(|m| m.as_str())
        {
            parts.push(d.to_owned());
        }
        if !parts.is_empty() {
            return cut(&parts.join("; "));
        }
    }
    cut(&String::from_utf8_lossy(body))
}

/// Percent-encodes a query or path component (RFC 3986 unreserved kept).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fake::{FakeServer, Reply};
    use ureq::http::HeaderValue;

    fn client(url: &str, retry: RetryPolicy) -> Http {
        Http::new(
            "Test",
            "TEST_URL",
            url,
            Auth::Basic { user: "ci@example.com".into(), password: Secret::new("s3cr3t-token") },
            None,
            retry,
        )
        .unwrap()
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_wait: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn secrets_print_as_stars() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert!(!format!("{:?}", Auth::Bearer(s)).contains("hunter2"));
    }

    #[test]
    fn retries_429_honouring_retry_after_then_succeeds() {
        let server =
            FakeServer::start(vec![Reply::status(429).header("Retry-After", "1"), Reply::json(200, r#"{"ok":true}"#)]);
        let started = Instant::now();
        let v: serde_json::Value = client(&server.url(), fast()).get_json("/x", &[]).unwrap();
        assert_eq!(v["ok"], true);
        assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured");
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn retry_after_longer_than_the_bound_fails_at_once() {
        let server = FakeServer::start(vec![Reply::status(429).header("Retry-After", "3600")]);
        let e = client(&server.url(), fast()).get_json::<serde_json::Value>("/x", &[]).unwrap_err();
        assert_eq!(e.status(), Some(429));
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn server_errors_are_retried_for_gets_not_for_posts() {
        let server = FakeServer::start(vec![Reply::status(500), Reply::status(502), Reply::json(200, "{}")]);
        client(&server.url(), fast()).get_json::<serde_json::Value>("/x", &[]).unwrap();
        assert_eq!(server.requests().len(), 3);

        let server = FakeServer::start(vec![Reply::status(500), Reply::json(200, "{}")]);
        let e = client(&server.url(), fast())
            .send_json::<serde_json::Value, _>(Method::POST, "/x", &serde_json::json!({}))
            .unwrap_err();
        assert_eq!(e.status(), Some(500));
        assert_eq!(server.requests().len(), 1, "a POST that may have been processed is not repeated");
    }

    #[test]
    fn gives_up_after_the_attempts() {
        let server = FakeServer::start(vec![Reply::status(503); 5]);
        let e = client(&server.url(), fast()).get_json::<serde_json::Value>("/x", &[]).unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert_eq!(server.requests().len(), 3);
    }

    #[test]
    fn timeouts_are_errors_that_name_the_call() {
        let server = FakeServer::start(vec![Reply::json(200, "{}").delay(Duration::from_millis(1500)); 3]);
        let mut retry = fast();
        retry.timeout = Duration::from_millis(300);
        retry.attempts = 2;
        let e = client(&server.url(), retry).get_json::<serde_json::Value>("/slow", &[]).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("Test: GET /slow failed: timed out"), "{text}");
        assert!(text.contains("after 2 attempt(s)"), "{text}");
    }

    #[test]
    fn malformed_json_is_a_decode_error() {
        let server = FakeServer::start(vec![Reply::json(200, "{not json")]);
        let e = client(&server.url(), fast()).get_json::<serde_json::Value>("/x", &[]).unwrap_err();
        assert!(matches!(e, ApiError::Decode { .. }), "{e}");
    }

    #[test]
    fn error_bodies_are_summarised_and_scrubbed_of_secrets() {
        let server = FakeServer::start(vec![Reply::json(
            400,
            r#"{"errorMessages":["Field 'x' cannot be set"],"errors":{"summary":"token s3cr3t-token is wrong"}}"#,
        )]);
        let e = client(&server.url(), fast()).get_json::<serde_json::Value>("/x", &[]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("HTTP 400: Field 'x' cannot be set; summary: token *** is wrong"), "{text}");
        assert!(!text.contains("s3cr3t"));
    }

    #[test]
    fn sends_basic_auth_and_encoded_query() {
        let server = FakeServer::start(vec![Reply::json(200, "{}")]);
        client(&server.url(), fast()).get_json::<serde_json::Value>("/q", &[("jql", "a = \"b c\"&x".into())]).unwrap();
        let r = &server.requests()[0];
        assert_eq!(r.url, "/q?jql=a%20%3D%20%22b%20c%22%26x");
        assert_eq!(r.header("authorization").unwrap(), "Basic Y2lAZXhhbXBsZS5jb206czNjcjN0LXRva2Vu");
    }

    #[test]
    fn bad_base_urls_and_ca_bundles_are_setup_errors() {
        assert!(Http::new("T", "T_URL", "ftp://x", Auth::None, None, fast()).is_err());
        let (_d, path) = {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("ca.pem");
            std::fs::write(&p, "not a certificate").unwrap();
            (d, p)
        };
        let e = Http::new("T", "T_URL", "https://x", Auth::None, Some(&path), fast()).unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
    }

    #[test]
    fn github_primary_rate_limit_waits_for_the_reset() {
        let reset = (crate::base::time::now_unix_duration().as_secs() + 1).to_string();
        let server = FakeServer::start(vec![
            Reply::json(403, r#"{"message":"API rate limit exceeded"}"#)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset),
            Reply::json(200, "{}"),
        ]);
        let started = Instant::now();
        client(&server.url(), fast()).get_json::<serde_json::Value>("/x", &[]).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert_eq!(server.requests().len(), 2);
        // A 403 that is not a rate limit is an answer, not retried.
        let server = FakeServer::start(vec![Reply::json(403, r#"{"message":"Resource not accessible"}"#)]);
        let e = client(&server.url(), fast()).get_json::<serde_json::Value>("/x", &[]).unwrap_err();
        assert_eq!(e.status(), Some(403));
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn retry_after_as_http_date() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past means now");
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }
}
