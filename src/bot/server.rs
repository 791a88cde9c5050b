//! The HTTP side of `changegate serve` (over [`front`]): `POST /webhooks/jira`,
//! `POST /webhooks/circleci`, `GET /healthz`, `GET /metrics`; a bounded,
//! de-duplicating queue; a worker pool running converge; a reconcile timer;
//! JSON-lines logs on stderr without secrets.
//!
//! `GET /healthz` answers 200 with `{"status":"ok","started":T,
//! "last_accepted":{"jira":T|null,"circleci":T|null}}`: when this process
//! started and when it last accepted a signed delivery of each source (its
//! signature verified and the delivery queued or found to need nothing), so
//! `config check --probe` can tell that Jira's webhook reaches the bot with a
//! secret it knows. Each replica reports its own deliveries, since it started.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::front::{self, Handler, Limits, Request, Response};
use super::log::log;
use super::reconcile::{BotParts, live_tickets, tickets_of_pipeline};
use super::webhook::{self, Refusal, Source, Work};
use crate::base::time::Timestamp;
use crate::bot::converge::converge;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT`.
    pub listen: String,
    /// Converge workers.
    pub workers: usize,
    /// Queue capacity (distinct pending items).
    pub queue: usize,
    /// Largest body accepted.
    pub max_body: usize,
    /// Reconcile period (`None`: only at start-up).
    pub reconcile_every: Option<Duration>,
    /// `CHANGEGATE_JIRA_WEBHOOK_SECRETS`.
    pub jira_secrets: Vec<String>,
    /// `CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS`.
    pub circleci_secrets: Vec<String>,
    /// The change project key (deliveries of other projects are ignored).
    pub project: String,
    /// After SIGTERM, how long queued and running work may take to finish.
    pub drain: Duration,
    /// A client has this long to send a request's head, and again its body.
    pub read_timeout: Duration,
    /// Connections served at once (more are answered 503).
    pub max_connections: usize,
}

/// Counters for `/metrics` (Prometheus text format).
#[derive(Debug, Default)]
pub struct Metrics {
    deliveries: Mutex<std::collections::BTreeMap<(String, String), u64>>,
    converged_ok: AtomicU64,
    converged_err: AtomicU64,
    analyses: AtomicU64,
    approvals: AtomicU64,
    holds_resumed: AtomicU64,
    ack_micros: AtomicU64,
    ack_count: AtomicU64,
    converge_micros: AtomicU64,
    queue_depth: AtomicU64,
    /// When the last signed delivery of Jira, then CircleCI, was accepted
    /// (milliseconds since the epoch; 0: none since start-up).
    last_accepted: [AtomicI64; 2],
}

impl Metrics {
    fn accepted(&self, source: Source, at: Timestamp) {
        let slot = match source {
            Source::Jira => &self.last_accepted[0],
            Source::CircleCi => &self.last_accepted[1],
        };
        // Concurrent deliveries: the latest time wins, never an older one.
        slot.fetch_max(at.0, Ordering::Relaxed);
    }

    /// When a signed delivery of `source` was last accepted by this process.
    pub fn last_accepted(&self, source: Source) -> Option<Timestamp> {
        let ms = match source {
            Source::Jira => self.last_accepted[0].load(Ordering::Relaxed),
            Source::CircleCi => self.last_accepted[1].load(Ordering::Relaxed),
        };
        (ms > 0).then_some(Timestamp(ms))
    }

    /// The `/healthz` body.
    pub fn health(&self, started: Timestamp) -> String {
        let at = |s| self.last_accepted(s).map(Timestamp::to_rfc3339);
        json!({"status": "ok", "started": started.to_rfc3339(),
               "last_accepted": {"jira": at(Source::Jira), "circleci": at(Source::CircleCi)}})
        .to_string()
    }

    fn delivery(&self, source: &str, outcome: &str) {
        let mut d = self.deliveries.lock().expect("metrics lock");
        *d.entry((source.to_owned(), outcome.to_owned())).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP changegate_deliveries_total Webhook deliveries by source and outcome.\n");
        s.push_str("# TYPE changegate_deliveries_total counter\n");
        for ((src, out), n) in self.deliveries.lock().expect("metrics lock").iter() {
            s.push_str(&format!("changegate_deliveries_total{{source=\"{src}\",outcome=\"{out}\"}} {n}\n"));
        }
        let counters = [
            ("changegate_converge_total{outcome=\"ok\"}", &self.converged_ok, "Converge runs."),
            ("changegate_converge_total{outcome=\"error\"}", &self.converged_err, ""),
            ("changegate_analyses_total", &self.analyses, "Analyses posted."),
            ("changegate_approvals_total", &self.approvals, "Tickets approved by the bot."),
            ("changegate_holds_resumed_total", &self.holds_resumed, "Holds resumed."),
        ];
        for (name, v, help) in counters {
            if !help.is_empty() {
                let base = name.split('{').next().unwrap_or(name);
                s.push_str(&format!("# HELP {base} {help}\n# TYPE {base} counter\n"));
            }
            s.push_str(&format!("{name} {}\n", v.load(Ordering::Relaxed)));
        }
        let secs = |m: &AtomicU64| m.load(Ordering::Relaxed) as f64 / 1e6;
        s.push_str(
            "# HELP changegate_ack_seconds Time to acknowledge a delivery.\n# TYPE changegate_ack_seconds summary\n",
        );
        s.push_str(&format!("changegate_ack_seconds_sum {}\n", secs(&self.ack_micros)));
        s.push_str(&format!("changegate_ack_seconds_count {}\n", self.ack_count.load(Ordering::Relaxed)));
        s.push_str(
            "# HELP changegate_converge_seconds Time spent in converge.\n# TYPE changegate_converge_seconds summary\n",
        );
        s.push_str(&format!("changegate_converge_seconds_sum {}\n", secs(&self.converge_micros)));
        let runs = self.converged_ok.load(Ordering::Relaxed) + self.converged_err.load(Ordering::Relaxed);
        s.push_str(&format!("changegate_converge_seconds_count {runs}\n"));
        s.push_str("# HELP changegate_queue_depth Items waiting for a worker.\n# TYPE changegate_queue_depth gauge\n");
        s.push_str(&format!("changegate_queue_depth {}\n", self.queue_depth.load(Ordering::Relaxed)));
        s
    }
}

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<Work>,
    queued: BTreeSet<Work>,
}

/// The bounded, de-duplicating work queue.
#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
    capacity: usize,
    in_flight: std::sync::atomic::AtomicUsize,
}

/// What enqueueing came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Added.
    Added,
    /// Already waiting: coalesced.
    Duplicate,
    /// No room: the sender must retry.
    Full,
}

impl Queue {
    /// A queue of `capacity` distinct items.
    pub fn new(capacity: usize) -> Queue {
        Queue { capacity: capacity.max(1), ..Queue::default() }
    }

    /// Adds `w` unless it waits already or there is no room.
    pub fn push(&self, w: Work) -> Enqueued {
        let mut s = self.state.lock().expect("queue lock");
        if s.queued.contains(&w) {
            return Enqueued::Duplicate;
        }
        if s.items.len() >= self.capacity {
            return Enqueued::Full;
        }
        s.queued.insert(w.clone());
        s.items.push_back(w);
        self.ready.notify_one();
        Enqueued::Added
    }

    /// Waits for an item.
    pub fn pop(&self) -> Work {
        let mut s = self.state.lock().expect("queue lock");
        loop {
            if let Some(w) = s.items.pop_front() {
                s.queued.remove(&w);
                self.in_flight.fetch_add(1, Ordering::SeqCst);
                return w;
            }
            s = self.ready.wait(s).expect("queue lock");
        }
    }

    /// A popped item is finished.
    pub fn done(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Nothing waits and nothing runs.
    pub fn idle(&self) -> bool {
        self.is_empty() && self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.state.lock().expect("queue lock").items.len()
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The tickets being converged in this process: one converge per ticket
/// at a time. A delivery for a ticket already being converged does not
/// start a second converge beside it; the one running goes round once more
/// when it is done, so what the delivery announced is seen.
#[derive(Debug, Default)]
pub(crate) struct Running {
    tickets: Mutex<std::collections::BTreeMap<String, bool>>,
}

impl Running {
    /// Claims `key` for this worker; `false` when another worker converges
    /// it (which then runs once more).
    pub(crate) fn claim(&self, key: &str) -> bool {
        let mut m = self.tickets.lock().expect("running lock");
        match m.get_mut(key) {
            Some(again) => {
                *again = true;
                false
            }
            None => {
                m.insert(key.to_owned(), false);
                true
            }
        }
    }

    /// Done with `key`; `true` when it must be converged once more (a
    /// delivery came meanwhile): it stays claimed.
    pub(crate) fn release(&self, key: &str) -> bool {
        let mut m = self.tickets.lock().expect("running lock");
        match m.get_mut(key) {
            Some(again) if *again => {
                *again = false;
                true
            }
            _ => {
                m.remove(key);
                false
            }
        }
    }
}

/// Builds a worker's own clients.
pub(crate) type Factory = Arc<dyn Fn() -> Result<BotParts, String> + Send + Sync>;

/// Runs the server until SIGTERM or SIGINT: then it stops accepting
/// (closing the socket, so senders retry elsewhere), lets queued and running
/// work finish for at most `opts.drain`, and returns. Work still queued then
/// is picked up by the next reconcile of any replica.
pub(crate) fn serve(opts: ServeOptions, factory: Factory) -> Result<(), String> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| format!("cannot handle signal {sig}: {e}"))?;
    }
    let listener =
        std::net::TcpListener::bind(&opts.listen).map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let queue = Arc::new(Queue::new(opts.queue));
    let metrics = Arc::new(Metrics::default());
    // Every worker proves its setup before the server says it is up.
    let mut parts = Vec::new();
    for _ in 0..opts.workers.max(1) {
        parts.push(factory()?);
    }
    let running = Arc::new(Running::default());
    for p in parts {
        let (queue, metrics, running) = (queue.clone(), metrics.clone(), running.clone());
        std::thread::spawn(move || worker(&p, &queue, &metrics, &running));
    }
    // Reconcile: at start-up, then every period.
    {
        let (queue, factory, every) = (queue.clone(), factory.clone(), opts.reconcile_every);
        std::thread::spawn(move || {
            loop {
                match factory().and_then(|p| {
                    if let Err(e) = super::reconcile::publish_policy(&p) {
                        log("error", "could not publish the policy", json!({"error": e.to_string()}));
                    }
                    live_tickets(&p).map_err(|e| e.to_string())
                }) {
                    Ok(list) => {
                        let n = list.len();
                        for (k, _) in list {
                            queue.push(Work::Ticket(k));
                        }
                        log("info", "reconcile", json!({"tickets": n}));
                    }
                    Err(e) => log("error", "reconcile failed", json!({"error": e})),
                }
                match every {
                    Some(d) => std::thread::sleep(d),
                    None => break,
                }
            }
        });
    }
    log("info", "listening", json!({"listen": opts.listen, "workers": opts.workers, "queue": opts.queue}));
    let opts = Arc::new(opts);
    let limits = Limits {
        header_timeout: opts.read_timeout,
        body_timeout: opts.read_timeout,
        idle_timeout: Duration::from_secs(60),
        max_header: 64 * 1024,
        max_body: opts.max_body,
        max_connections: opts.max_connections,
    };
    let endpoint = Arc::new(Endpoint { opts: opts.clone(), queue: queue.clone(), metrics, started: Timestamp::now() });
    let handler: Handler = Arc::new(move |req: &Request| endpoint.answer(req));
    let closing = front::Stop::new();
    let accept = {
        let (closing, drain) = (closing.clone(), opts.drain);
        std::thread::spawn(move || front::serve(listener, limits, handler, closing, drain))
    };
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Stop accepting (the socket is closed) and let each connection finish
    // the delivery it is on: what they queue is drained below.
    let stopping = Instant::now();
    closing.stop();
    let _ = accept.join();
    log("info", "stopping: draining the queue", json!({"queued": queue.len()}));
    while !queue.idle() && stopping.elapsed() < opts.drain {
        std::thread::sleep(Duration::from_millis(50));
    }
    log("info", "stopped", json!({"left_queued": queue.len(), "drained": queue.idle()}));
    Ok(())
}

/// The bot's answers to requests, behind the HTTP front: the boundary where
/// untrusted requests meet the queue.
#[derive(Debug)]
pub struct Endpoint {
    /// The server's options (secrets, project, body limit).
    pub opts: Arc<ServeOptions>,
    /// Where accepted deliveries go.
    pub queue: Arc<Queue>,
    /// Counted here.
    pub metrics: Arc<Metrics>,
    /// When the server started (`/healthz`).
    pub started: Timestamp,
}

impl Endpoint {
    /// The answer to one request.
    pub fn answer(&self, req: &Request) -> Response {
        handle(req, &self.opts, &self.queue, &self.metrics, self.started)
    }
}

fn handle(req: &Request, opts: &ServeOptions, queue: &Queue, metrics: &Metrics, up_since: Timestamp) -> Response {
    let started = Instant::now();
    let path = req.path.split('?').next().unwrap_or_default();
    let source = match (req.method.as_str(), path) {
        ("GET", "/healthz") => return Response::new(200, "application/json", metrics.health(up_since)),
        ("GET", "/metrics") => {
            metrics.queue_depth.store(queue.len() as u64, Ordering::Relaxed);
            return Response::new(200, "text/plain; version=0.0.4", metrics.render());
        }
        ("POST", "/webhooks/jira") => Source::Jira,
        ("POST", "/webhooks/circleci") => Source::CircleCi,
        _ => return Response::new(404, "application/json", "{\"error\":\"not found\"}"),
    };
    let header_name = match source {
        Source::Jira => "X-Hub-Signature",
        Source::CircleCi => "circleci-signature",
    };
    let (status, outcome, msg) = if req.too_large {
        (413, "too_large", format!("bodies are limited to {} bytes", opts.max_body))
    } else {
        let secrets = match source {
            Source::Jira => &opts.jira_secrets,
            Source::CircleCi => &opts.circleci_secrets,
        };
        match webhook::accept(source, req.header(header_name), &req.body, secrets, &opts.project) {
            Err(Refusal::Unsigned) => (401, "unsigned", format!("no {header_name} header")),
            Err(Refusal::BadSignature) => (401, "bad_signature", "the signature does not verify".to_owned()),
            Err(Refusal::Malformed(m)) => (400, "malformed", m),
            Ok(None) => (200, "ignored", "nothing to do".to_owned()),
            Ok(Some(w)) => match queue.push(w) {
                Enqueued::Added => (202, "accepted", "queued".to_owned()),
                Enqueued::Duplicate => (202, "duplicate", "already queued".to_owned()),
                Enqueued::Full => (503, "queue_full", "busy: retry later".to_owned()),
            },
        }
    };
    metrics.delivery(source.as_str(), outcome);
    if matches!(status, 200 | 202) {
        metrics.accepted(source, Timestamp::now());
    }
    let mut resp = Response::new(status, "application/json", json!({"outcome": outcome, "message": msg}).to_string());
    if status == 503 {
        resp.headers.push(("Retry-After".into(), "5".into()));
    }
    metrics.ack_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    metrics.ack_count.fetch_add(1, Ordering::Relaxed);
    if status >= 400 {
        log(
            "warn",
            "delivery refused",
            json!({"source": source.as_str(), "status": status, "outcome": outcome, "why": msg}),
        );
    }
    resp
}

fn worker(parts: &BotParts, queue: &Queue, metrics: &Metrics, running: &Running) {
    let bot = parts.bot();
    loop {
        let work = queue.pop();
        run_work(parts, &bot, &work, metrics, running);
        queue.done();
    }
}

fn run_work(parts: &BotParts, bot: &crate::bot::converge::Bot<'_>, work: &Work, metrics: &Metrics, running: &Running) {
    let keys = match work {
        Work::Ticket(k) => vec![k.clone()],
        Work::Pipeline(p) => match tickets_of_pipeline(parts, p) {
            Ok(keys) => keys,
            Err(e) => {
                metrics.converged_err.fetch_add(1, Ordering::Relaxed);
                log(
                    "error",
                    "could not find the tickets of a pipeline",
                    json!({"pipeline": p, "error": e.to_string()}),
                );
                return;
            }
        },
    };
    for k in keys {
        if !running.claim(&k) {
            log("info", "already being converged: it goes round once more", json!({"ticket": k}));
            continue;
        }
        loop {
            converge_one(&k, bot, metrics);
            if !running.release(&k) {
                break;
            }
        }
    }
}

fn converge_one(k: &str, bot: &crate::bot::converge::Bot<'_>, metrics: &Metrics) {
    let started = Instant::now();
    let r = converge(k, bot);
    metrics.converge_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    match r {
        Ok(c) => {
            metrics.converged_ok.fetch_add(1, Ordering::Relaxed);
            metrics.analyses.fetch_add(u64::from(c.analysed), Ordering::Relaxed);
            metrics.approvals.fetch_add(u64::from(c.approved), Ordering::Relaxed);
            metrics.holds_resumed.fetch_add(c.resumed as u64, Ordering::Relaxed);
            log("info", "converged", json!({"ticket": k, "actions": c.actions}));
        }
        Err(e) => {
            metrics.converged_err.fetch_add(1, Ordering::Relaxed);
            log(
                "error",
                "converge failed; the next event or reconcile retries",
                json!({"ticket": k, "error": e.to_string()}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_and_coalesces() {
        let q = Queue::new(2);
        assert_eq!(q.push(Work::Ticket("A-1".into())), Enqueued::Added);
        assert_eq!(q.push(Work::Ticket("A-1".into())), Enqueued::Duplicate);
        assert_eq!(q.push(Work::Pipeline("p".into())), Enqueued::Added);
        assert_eq!(q.push(Work::Ticket("A-2".into())), Enqueued::Full);
        assert_eq!(q.pop(), Work::Ticket("A-1".into()));
        assert_eq!(q.push(Work::Ticket("A-1".into())), Enqueued::Added, "popped items may be queued again");
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn one_converge_per_ticket_and_a_delivery_meanwhile_goes_round_once_more() {
        let r = Running::default();
        assert!(r.claim("A-1"));
        assert!(r.claim("A-2"), "another ticket runs beside it");
        assert!(!r.claim("A-1"), "a second worker does not start it");
        assert!(!r.claim("A-1"));
        assert!(r.release("A-1"), "the first goes round once more");
        assert!(!r.release("A-1"), "then it is done");
        assert!(r.claim("A-1"), "and free again");
        assert!(!r.release("A-1"));
        assert!(!r.release("A-2"));
    }

    #[test]
    fn health_says_when_each_source_last_had_a_delivery_accepted() {
        let m = Arc::new(Metrics::default());
        let started = Timestamp(1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&m.health(started)).unwrap();
        assert_eq!(
            v,
            json!({"status": "ok", "started": started.to_rfc3339(), "last_accepted": {"jira": null, "circleci": null}})
        );
        // Threads recording at once: the latest time stays.
        let threads: Vec<_> = (1..=8)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || m.accepted(Source::Jira, Timestamp(1_700_000_000_000 + i * 1000)))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        m.accepted(Source::Jira, Timestamp(1_700_000_001_000));
        assert_eq!(m.last_accepted(Source::Jira), Some(Timestamp(1_700_000_008_000)));
        assert_eq!(m.last_accepted(Source::CircleCi), None);
        let v: serde_json::Value = serde_json::from_str(&m.health(started)).unwrap();
        assert_eq!(v["last_accepted"]["jira"], Timestamp(1_700_000_008_000).to_rfc3339());
    }

    #[test]
    fn metrics_render_in_prometheus_text() {
        let m = Metrics::default();
        m.delivery("jira", "accepted");
        m.delivery("jira", "accepted");
        m.holds_resumed.fetch_add(3, Ordering::Relaxed);
        let t = m.render();
        assert!(t.contains("changegate_deliveries_total{source=\"jira\",outcome=\"accepted\"} 2\n"), "{t}");
        assert!(t.contains("changegate_holds_resumed_total 3\n"), "{t}");
        assert!(t.contains("# TYPE changegate_queue_depth gauge"), "{t}");
    }
}
