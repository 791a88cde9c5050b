//! Local, stateful stand-ins for Jira Cloud, CircleCI and GitHub, served
//! over HTTP from one address: Jira under `/rest/api/3`, CircleCI under
//! `/api/v2`, GitHub REST under `/repos` and GraphQL at `/graphql`.
//! The tests, the scripts, the orb's bats tests and `changegate demo` use
//! them; `changegate stand-ins --listen ADDR` serves them.
//!
//! A control API under `/_standin` sets them up and looks inside:
//!
//! | request | effect |
//! |---|---|
//! | `POST /_standin/circleci/pipelines` | create a pipeline and its workflow (see [`circleci::CircleCiStandIn::create_pipeline`]) |
//! | `POST /_standin/circleci/jobs` | set a job's status (`approved_by`: a login, for an approval job) |
//! | `POST /_standin/circleci/contexts` | create a context with its restrictions and group members |
//! | `POST /_standin/circleci/artifacts` | store an artifact of a job (served under `/circleci-artifacts/`) |
//! | `POST /_standin/circleci/projects` | create a project (and its organization) |
//! | `POST /_standin/circleci/groups` | create a group of an organization, with its members |
//! | `PUT /_standin/jira/search-lag` | `{"lag": N}`: new issues stay out of search for N searches |
//! | `POST /_standin/faults` | inject a fault (see [`Fault`]) |
//! | `DELETE /_standin/faults` | remove every fault |
//! | `GET /_standin/jira`, `GET /_standin/circleci` | the whole state |
//! | `GET /_standin/log` | the requests served |
//!
//! Jira's admin webhooks (`/rest/webhooks/1.0/webhook`, outside the v3
//! description) are modelled in [`jira_webhooks`], which also delivers issue
//! events, signed, to the webhooks registered.
//!
//! Users of the Jira stand-in: see [`jira::default_users`]; of the CircleCI
//! stand-in, one token each: [`circleci::USERS`] (the CI user's
//! [`circleci::TOKEN`], the bot's [`circleci::BOT_TOKEN`]).

pub mod circleci;
mod exchange;
pub mod github;
mod graphql;
pub mod jira;
pub mod jira_site;
pub(crate) mod jira_users;
pub(crate) mod jira_webhooks;
mod jql;

pub use self::exchange::{Req, Resp};

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// A `changegate.toml` for the stand-in site: every ticket field mapped to
/// the stand-in's custom fields (see [`jira_site::CUSTOM_FIELDS`]).
pub const SITE_CONFIG: &str = r#"# changegate.toml for the local stand-in site.
[jira]
project = "PRODCM"
issue_type = "Change"
required = ["justification", "rollback_plan", "environment", "repository", "branch", "commit", "build_job_name", "build_job_number"]
bot_account_ids = ["712020:changegate-bot"]
drift_check_account_ids = ["712020:drift-check"]

[jira.fields]
environment = "customfield_10050"
justification = { id = "customfield_10051", type = "textarea" }
rollback_plan = { id = "customfield_10052", type = "textarea" }
change_type = { id = "customfield_10053", type = "select" }
risk_level = { id = "customfield_10054", type = "select" }
repository = "customfield_10055"
branch = "customfield_10056"
commit = "customfield_10057"
build_job_name = "customfield_10058"
build_job_number = { id = "customfield_10059", type = "number" }
build_url = { id = "customfield_10060", type = "url" }
pipeline_id = "customfield_10061"
pipeline_number = { id = "customfield_10062", type = "number" }
workflows = "customfield_10063"
pull_requests = { id = "customfield_10064", type = "textarea" }
scan_status = "customfield_10065"
record = "customfield_10066"
service = "customfield_10067"
deploy_action = { id = "customfield_10068", type = "select" }

[jira.approvers]
"712020:alice" = 1001
"712020:bob" = 1002

[emergency]
group = "break-glass"
"#;

/// A fault to inject into matching requests.
#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    /// `jira`, `circleci`, `github` or `any`.
    #[serde(default = "any")]
    pub(crate) service: String,
    /// HTTP method, or `*`.
    #[serde(default = "star")]
    pub(crate) method: String,
    /// Applies when the path contains this.
    #[serde(default)]
    pub(crate) path_contains: String,
    /// And when the request body contains this (a GraphQL query's name).
    #[serde(default)]
    pub(crate) body_contains: String,
    /// Answer with this status instead of handling the request.
    #[serde(default)]
    pub(crate) status: Option<u16>,
    /// `Retry-After` seconds on the fault answer.
    #[serde(default)]
    pub(crate) retry_after: Option<u64>,
    /// Wait this long first (longer than the client's timeout: a timeout).
    /// With `until`, the longest it waits.
    #[serde(default)]
    pub(crate) delay_ms: u64,
    /// Hold the request until one matching this has been answered since
    /// the fault was set: orders two requests without resting on a delay.
    /// Needs `delay_ms`; if that passes first, the held request is answered
    /// 400 (never retried), so the order a test wants cannot silently fail
    /// to happen.
    #[serde(default)]
    pub(crate) until: Option<Until>,
    /// How many requests the log held when the fault was set.
    #[serde(skip)]
    logged_before: usize,
    /// Answer with this body (for malformed JSON) with status 200 unless
    /// `status` says otherwise.
    #[serde(default)]
    pub(crate) body: Option<String>,
    /// How many matching requests it applies to.
    #[serde(default = "one")]
    pub(crate) times: u32,
}

/// A request a held fault waits for.
#[derive(Debug, Clone, Deserialize)]
pub struct Until {
    /// HTTP method, or `*`.
    #[serde(default = "star")]
    pub(crate) method: String,
    /// The path contains this.
    #[serde(default)]
    pub(crate) path_contains: String,
}

impl Until {
    fn matches(&self, entry: &Value) -> bool {
        (self.method == "*" || entry["method"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(&self.method)))
            && entry["path"].as_str().is_some_and(|p| p.contains(&self.path_contains))
    }
}

fn any() -> String {
    "any".into()
}
fn star() -> String {
    "*".into()
}
fn one() -> u32 {
    1
}

#[derive(Debug)]
struct State {
    jira: jira::JiraStandIn,
    circleci: circleci::CircleCiStandIn,
    github: github::GitHubStandIn,
    faults: Vec<Fault>,
    log: Vec<Value>,
}

/// The running stand-ins; they stop when dropped.
pub struct StandIns {
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<State>>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for StandIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIns").field("url", &self.url()).finish()
    }
}

/// Decodes `%XX` and `+` in a query component.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl StandIns {
    /// Starts serving on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(addr: &str) -> std::io::Result<StandIns> {
        let server = Arc::new(tiny_http::Server::http(addr).map_err(|e| std::io::Error::other(e.to_string()))?);
        let url = format!(
            "http://{}",
            server.server_addr().to_ip().ok_or_else(|| std::io::Error::other("not an IP address"))?
        );
        let state = Arc::new(Mutex::new(State {
            jira: jira::JiraStandIn::new(&url),
            circleci: circleci::CircleCiStandIn::new(&url),
            github: github::GitHubStandIn::new(),
            faults: Vec::new(),
            log: Vec::new(),
        }));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (server, state) = (server.clone(), state.clone());
            workers.push(std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(&state, request);
                }
            }));
        }
        Ok(StandIns { server, state, workers })
    }

    /// Base URL, e.g. `http://127.0.0.1:4321` (Jira's `JIRA_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.server_addr().to_ip().expect("an IP address"))
    }

    /// CircleCI's `CIRCLECI_API_URL`.
    pub fn circleci_url(&self) -> String {
        format!("{}/api/v2", self.url())
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }

    /// Runs `f` on the Jira stand-in (tests and the demo).
    pub fn with_jira<T>(&self, f: impl FnOnce(&mut jira::JiraStandIn) -> T) -> T {
        f(&mut self.state.lock().expect("stand-in state").jira)
    }

    /// Runs `f` on the GitHub stand-in.
    pub fn with_github<T>(&self, f: impl FnOnce(&mut github::GitHubStandIn) -> T) -> T {
        f(&mut self.state.lock().expect("stand-in state").github)
    }

    /// Runs `f` on the CircleCI stand-in.
    pub fn with_circleci<T>(&self, f: impl FnOnce(&mut circleci::CircleCiStandIn) -> T) -> T {
        f(&mut self.state.lock().expect("stand-in state").circleci)
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        // Each unblock wakes one waiting worker.
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn serve(state: &Mutex<State>, mut request: tiny_http::Request) {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let mut body = Vec::new();
    let _ = request.as_reader().take(64 * 1024 * 1024).read_to_end(&mut body);
    let req = Req {
        method: request.method().to_string(),
        path: decode(path),
        query,
        headers: request.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect(),
        body,
    };
    let github = service_of(&req.path) == "github";
    if github {
        let mut s = state.lock().expect("stand-in state");
        s.github.in_flight += 1;
        s.github.max_in_flight = s.github.max_in_flight.max(s.github.in_flight);
    }
    let resp = respond(state, &req);
    if github {
        state.lock().expect("stand-in state").github.in_flight -= 1;
    }
    let mut out = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    for (k, v) in resp.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            out.add_header(h);
        }
    }
    let _ = request.respond(out);
}

/// Which stand-in answers `path`.
fn service_of(path: &str) -> &'static str {
    if path.starts_with("/rest/api/3/") || path.starts_with("/rest/webhooks/1.0/") {
        "jira"
    } else if path.starts_with("/api/v2/") || path.starts_with("/circleci-artifacts/") {
        "circleci"
    } else if path == "/graphql"
        || path.starts_with("/repos/")
        || path.starts_with("/orgs/")
        || path.starts_with("/user/")
    {
        "github"
    } else {
        "control"
    }
}

fn respond(state: &Mutex<State>, req: &Req) -> Resp {
    let service = service_of(&req.path);
    if service == "github" {
        let latency = state.lock().expect("stand-in state").github.latency;
        std::thread::sleep(latency);
    }
    // Faults are looked up under the lock but served outside it, so a slow
    // answer does not stall the other workers.
    let fault = if service == "control" {
        None
    } else {
        let mut s = state.lock().expect("stand-in state");
        let pos = s.faults.iter().position(|f| {
            (f.service == "any" || f.service == service)
                && (f.method == "*" || f.method.eq_ignore_ascii_case(&req.method))
                && req.path.contains(&f.path_contains)
                && (f.body_contains.is_empty() || String::from_utf8_lossy(&req.body).contains(f.body_contains.as_str()))
        });
        pos.map(|p| {
            let f = s.faults[p].clone();
            if s.faults[p].times <= 1 {
                s.faults.remove(p);
            } else {
                s.faults[p].times -= 1;
            }
            f
        })
    };
    if let Some(f) = &fault {
        match &f.until {
            // Expired, the held request fails (not retried): a test whose
            // order did not happen fails rather than passing without it.
            Some(until) if !hold(state, until, f.logged_before, Duration::from_millis(f.delay_ms)) => {
                let r = Resp::json(
                    400,
                    json!({"errorMessages": [format!("stand-in: held for {} ms and {until:?} never came", f.delay_ms)]}),
                );
                log(state, req, r.status);
                return r;
            }
            Some(_) => {}
            None if f.delay_ms > 0 => std::thread::sleep(Duration::from_millis(f.delay_ms)),
            None => {}
        }
        if f.status.is_some() || f.body.is_some() {
            let mut r = Resp {
                status: f.status.unwrap_or(200),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Vec::new(),
            };
            r.body = f
                .body
                .clone()
                .unwrap_or_else(|| {
                    json!({"message": "injected fault", "errorMessages": ["injected fault"]}).to_string()
                })
                .into_bytes();
            if let Some(s) = f.retry_after {
                r.headers.push(("Retry-After".into(), s.to_string()));
            }
            log(state, req, r.status);
            return r;
        }
    }
    let resp = {
        let mut s = state.lock().expect("stand-in state");
        match service {
            "jira" => {
                let resp = s.jira.handle(req);
                // Registered admin webhooks hear of issue events.
                if !s.jira.admin_webhooks.is_empty()
                    && let Some((event, kind, id, key)) = jira_webhooks::event_of(req, &resp)
                {
                    jira_webhooks::deliver(s.jira.admin_webhooks.deliveries(event, kind, id.as_deref(), &key));
                }
                resp
            }
            "circleci" if req.path.starts_with("/circleci-artifacts/") => s.circleci.download(req),
            "circleci" => s.circleci.handle(req),
            "github" => s.github.handle(req),
            _ => control(&mut s, req),
        }
    };
    log(state, req, resp.status);
    resp
}

/// Waits until a request matching `until` is answered (among those logged
/// from `from` on), at most `longest`; false if it never was.
fn hold(state: &Mutex<State>, until: &Until, from: usize, longest: Duration) -> bool {
    let started = std::time::Instant::now();
    loop {
        if state.lock().expect("stand-in state").log[from..].iter().any(|e| until.matches(e)) {
            return true;
        }
        if started.elapsed() >= longest {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log(state: &Mutex<State>, req: &Req, status: u16) {
    if !req.path.starts_with("/_standin") {
        state
            .lock()
            .expect("stand-in state")
            .log
            .push(json!({"method": req.method, "path": req.path, "status": status}));
    }
}

fn control(s: &mut State, req: &Req) -> Resp {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let bad = |e: String| Resp::json(400, json!({"message": e}));
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/_standin/circleci/pipelines") => match s.circleci.create_pipeline(&body) {
            Ok(v) => Resp::json(201, v),
            Err(e) => bad(e),
        },
        ("POST", "/_standin/circleci/jobs") => match s.circleci.set_job(&body) {
            Ok(()) => Resp::empty(204),
            Err(e) => bad(e),
        },
        ("POST", "/_standin/circleci/contexts") => match s.circleci.create_context(&body) {
            Ok(v) => Resp::json(201, v),
            Err(e) => bad(e),
        },
        ("POST", "/_standin/circleci/projects") => match s.circleci.create_project(&body) {
            Ok(v) => Resp::json(201, v),
            Err(e) => bad(e),
        },
        ("POST", "/_standin/circleci/groups") => match s.circleci.create_group(&body) {
            Ok(v) => Resp::json(201, v),
            Err(e) => bad(e),
        },
        ("POST", "/_standin/circleci/artifacts") => match s.circleci.add_artifact(&body) {
            Ok(()) => Resp::empty(204),
            Err(e) => bad(e),
        },
        ("PUT", "/_standin/jira/search-lag") => {
            s.jira.search_lag = body.get("lag").and_then(Value::as_u64).unwrap_or(0);
            Resp::empty(204)
        }
        ("POST", "/_standin/faults") => match serde_json::from_value::<Fault>(body) {
            Ok(f) if f.until.is_some() && f.delay_ms == 0 => {
                bad("a fault with `until` needs `delay_ms`, the longest it holds".into())
            }
            Ok(f) => {
                let logged_before = s.log.len();
                s.faults.push(Fault { logged_before, ..f });
                Resp::empty(204)
            }
            Err(e) => bad(e.to_string()),
        },
        ("DELETE", "/_standin/faults") => {
            s.faults.clear();
            Resp::empty(204)
        }
        ("GET", "/_standin/jira") => Resp::json(200, s.jira.dump()),
        ("GET", "/_standin/circleci") => Resp::json(200, s.circleci.dump()),
        ("GET", "/_standin/log") => Resp::json(200, Value::Array(s.log.clone())),
        _ => Resp::json(404, json!({"message": format!("no control route {} {}", req.method, req.path)})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_config_maps_every_ticket_field_to_a_stand_in_field() {
        use crate::config::jira::TicketField;
        let c = crate::config::Config::parse(SITE_CONFIG, "site", crate::base::time::Date::new(2026, 11, 27).unwrap())
            .unwrap();
        for f in TicketField::ALL {
            let site = c.jira.site_field(f).unwrap_or_else(|| panic!("{f} is not mapped"));
            let known = matches!(site.id.as_str(), "summary" | "description")
                || jira_site::CUSTOM_FIELDS.iter().any(|(id, ..)| *id == site.id);
            assert!(known, "{f} maps to {} which the stand-in lacks", site.id);
        }
    }

    /// A held request is let go once the request it waits for is answered,
    /// and fails (400, not retried) if that never comes; a hold needs its
    /// longest wait.
    #[test]
    fn a_held_request_waits_for_another_or_fails() {
        let si = StandIns::start("127.0.0.1:0").unwrap();
        let url = si.url();
        let fault = |f: Value| ureq::post(&format!("{url}/_standin/faults")).send_json(&f);
        let get = |path: &str| {
            let r = ureq::get(&format!("{url}{path}")).config().http_status_as_error(false).build().call().unwrap();
            r.status().as_u16()
        };
        let without_limit = ureq::post(&format!("{url}/_standin/faults"))
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(json!({"path_contains": "/myself", "until": {"path_contains": "/serverInfo"}}))
            .unwrap();
        assert_eq!(without_limit.status().as_u16(), 400);

        fault(json!({"path_contains": "/myself", "until": {"path_contains": "/serverInfo"}, "delay_ms": 200})).unwrap();
        assert_eq!(get("/rest/api/3/myself"), 400, "nothing it waited for came");

        fault(json!({"path_contains": "/myself", "until": {"path_contains": "/serverInfo"}, "delay_ms": 30000}))
            .unwrap();
        let held = std::thread::spawn({
            let url = url.clone();
            move || {
                let r = ureq::get(&format!("{url}/rest/api/3/myself")).config().http_status_as_error(false).build();
                r.call().unwrap().status().as_u16()
            }
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!held.is_finished(), "held until /serverInfo is answered");
        get("/rest/api/3/serverInfo");
        assert_ne!(held.join().unwrap(), 400, "let go, and answered as usual");
    }

    #[test]
    fn query_decoding() {
        assert_eq!(decode("a%20b+c%2Fd"), "a b c/d");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
