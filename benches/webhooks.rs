//! Benchmark: signed webhook deliveries acknowledged per second by
//! `changegate serve`, acknowledgement latency (p50, p99), and lost
//! deliveries (acknowledged for a ticket that was then never converged).
//!
//! This process sends the load over loopback (keep-alive connections, one
//! thread each); the bot is the release binary in its own process, against
//! the in-process Jira and CircleCI stand-ins. As in real traffic, most
//! deliveries are events the bot filters out (comments, other projects);
//! one in twenty is an issue event of the change project, which is queued
//! and converged.
//!
//! Run: `cargo bench --bench webhooks`. Prints a markdown table.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use changegate::bot::webhook::sign;
use changegate::standins::{SITE_CONFIG, StandIns};
use serde_json::{Value, json};

const SECRET: &str = "bench-secret";
const CONNECTIONS: usize = 16;
const PER_CONNECTION: usize = 2_000;
const TICKETS: usize = 200;

fn main() {
    let stand_ins = StandIns::start("127.0.0.1:0").expect("stand-ins start");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("changegate.toml"), SITE_CONFIG).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.path().join("bot.log");
    let mut bot = Command::new(env!("CARGO_BIN_EXE_changegate"))
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
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("the bot starts");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while ureq::get(&format!("{url}/healthz")).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the bot did not start");
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
    println!("| deliveries | connections | per second | p50 ack | p99 ack | failed | accepted tickets | lost |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {total} | {CONNECTIONS} | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {lost} |",
        total as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        failures.lock().unwrap(),
        accepted.len(),
    );
}
