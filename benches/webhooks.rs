//! Benchmark: signed webhook deliveries acknowledged per second by
//! `changegate serve`, acknowledgement latency (p50, p99), and lost
//! deliveries (acknowledged for a ticket that was then never converged).
//!
//! This process sends the load over loopback (keep-alive connections, one
//! thread each); the bot is a release binary in its own process, against
//! in-process Jira and CircleCI stand-ins started afresh for each run. As in
//! real traffic, most deliveries are events the bot filters out (comments,
//! other projects); one in twenty is an issue event of the change project,
//! which is queued and converged.
//!
//! Two builds can be compared in one run: `CHANGEGATE_BENCH_BASELINE` names
//! another build's binary (say, of an earlier revision), and the two are
//! run in turn, `CHANGEGATE_BENCH_RUNS` times each (5 by default; the order
//! alternates from round to round), so noise on the machine falls on both.
//! `CHANGEGATE_BENCH_BIN` replaces this build's binary (say, the musl one).
//!
//! Run: `cargo bench --bench webhooks`. Prints each run and then the
//! medians as markdown tables.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use changegate::standins::{SITE_CONFIG, StandIns};
use changegate::webhook::sign;
use serde_json::{Value, json};

const SECRET: &str = "bench-secret";
const CONNECTIONS: usize = 16;
const PER_CONNECTION: usize = 2_000;
const TICKETS: usize = 200;

/// One run's figures.
struct Outcome {
    deliveries: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    failed: usize,
    accepted: usize,
    lost: usize,
}

fn run(bin: &str) -> Outcome {
    let stand_ins = StandIns::start("127.0.0.1:0").expect("stand-ins start");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("changegate.toml"), SITE_CONFIG).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.path().join("bot.log");
    let mut bot = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--workers", "4", "--reconcile-every", "0"])
        .current_dir(dir.path())
        .env("JIRA_BASE_URL", stand_ins.url())
        .env("JIRA_USER_EMAIL", "bot@acme.test")
        .env("JIRA_API_TOKEN", "bot-token")
        .env("CIRCLECI_API_URL", stand_ins.circleci_url())
        .env("CIRCLE_TOKEN", changegate::standins::circleci::TOKEN)
        .env("GITHUB_API_URL", stand_ins.url())
        .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
        .env("CHANGEGATE_JIRA_WEBHOOK_SECRETS", SECRET)
        .env("CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS", SECRET)
        .env("CHANGEGATE_RECEIPT_KEY", changegate::signing::generate().0)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("the bot starts");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while ureq::get(&format!("{url}/healthz")).call().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the bot did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The deliveries: 19 of 20 filtered out, 1 of 20 for a ticket.
    let filtered = [
        json!({"webhookEvent": "comment_created", "issue": {"key": "PRODCM-1", "fields": {}}, "comment": {"body": "x".repeat(600)}}),
        json!({"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-7", "fields": {"project": {"key": "OPS"}, "summary": "y".repeat(600)}}}),
    ];
    let bodies: Vec<(Vec<u8>, Option<String>)> = (0..20 * TICKETS)
        .map(|i| {
            if i % 20 == 0 {
                let key = format!("PRODCM-{}", 1000 + i / 20);
                let v = json!({"webhookEvent": "jira:issue_updated", "issue": {"key": key, "fields": {"project": {"key": "PRODCM"}}}});
                (serde_json::to_vec(&v).unwrap(), Some(key))
            } else {
                (serde_json::to_vec(&filtered[i % 2]).unwrap(), None)
            }
        })
        .collect();
    let bodies = Arc::new(bodies);
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(CONNECTIONS * PER_CONNECTION)));
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let failures = Arc::new(Mutex::new(0usize));
    let hook = format!("{url}/webhooks/jira");
    let load_started = Instant::now();
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let (bodies, latencies, accepted, failures, hook) =
                (bodies.clone(), latencies.clone(), accepted.clone(), failures.clone(), hook.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut mine = Vec::with_capacity(PER_CONNECTION);
                for n in 0..PER_CONNECTION {
                    let (body, key) = &bodies[(c * PER_CONNECTION + n) % bodies.len()];
                    let signature = format!("sha256={}", sign(body, SECRET));
                    let t = Instant::now();
                    let r = agent.post(&hook).header("X-Hub-Signature", &signature).send(&body[..]);
                    mine.push(t.elapsed());
                    match r.map(|r| r.status().as_u16()) {
                        Ok(202) => {
                            if let Some(k) = key {
                                accepted.lock().unwrap().insert(k.clone());
                            }
                        }
                        Ok(200) if key.is_none() => {}
                        _ => *failures.lock().unwrap() += 1,
                    }
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = load_started.elapsed();

    // Wait for the queue to drain, then compare what was acknowledged with
    // what was converged (the bot's log names every ticket it converged).
    let drain_started = Instant::now();
    loop {
        let m = ureq::get(&format!("{url}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
        if m.contains("changegate_queue_depth 0\n") || drain_started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill").args(["-TERM", &bot.id().to_string()]).status();
    let _ = bot.wait();
    let converged: BTreeSet<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["ticket"].as_str().map(str::to_owned))
        .collect();
    let accepted = accepted.lock().unwrap().clone();
    let lost = accepted.difference(&converged).count();

    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
    let total = l.len();
    let failed = *failures.lock().unwrap();
    Outcome {
        deliveries: total,
        per_second: total as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        failed,
        accepted: accepted.len(),
        lost,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    v[v.len() / 2]
}

fn main() {
    let this = std::env::var("CHANGEGATE_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_changegate").to_owned());
    let mut layers = vec![("this build", this)];
    if let Ok(b) = std::env::var("CHANGEGATE_BENCH_BASELINE") {
        layers.push(("baseline", b));
    }
    let runs: usize = std::env::var("CHANGEGATE_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut results: Vec<Vec<Outcome>> = layers.iter().map(|_| Vec::new()).collect();
    println!("| run | layer | deliveries | per second | p50 ack | p99 ack | failed | accepted tickets | lost |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for round in 0..runs {
        let mut order: Vec<usize> = (0..layers.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let o = run(&layers[i].1);
            println!(
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
                round + 1,
                layers[i].0,
                o.deliveries,
                o.per_second,
                ms(o.p50),
                ms(o.p99),
                o.failed,
                o.accepted,
                o.lost
            );
            results[i].push(o);
        }
    }
    println!();
    println!(
        "| layer | runs | connections | per second (median) | p50 ack (median) | p99 ack (median) | failed (all runs) | lost (all runs) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (i, (name, bin)) in layers.iter().enumerate() {
        let r = &results[i];
        println!(
            "| {name} (`{bin}`) | {} | {CONNECTIONS} | {:.0} | {} | {} | {} | {} |",
            r.len(),
            median(r.iter().map(|o| o.per_second).collect()),
            ms(median(r.iter().map(|o| o.p50).collect())),
            ms(median(r.iter().map(|o| o.p99).collect())),
            r.iter().map(|o| o.failed).sum::<usize>(),
            r.iter().map(|o| o.lost).sum::<usize>(),
        );
    }
}
