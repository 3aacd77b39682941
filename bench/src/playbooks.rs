//! The playbook entries (`riposte-bench N playbooks`), wall time on a
//! SQLite file store (WAL, synchronous=NORMAL), one thread:
//!
//! - *alert → run latency*: one alert per batch whose 5-step playbook (no
//!   outside calls: case, two comments, a decision, a skipped step) runs
//!   in the batch's transaction; p50 / p99 of the whole commit, and the
//!   same with no playbook, so the difference is the playbook's cost.
//! - *runs/s*: N alerts in batches of 100, each starting the playbook.
//! - *executor runs/s*: N manual runs of the same five steps through the
//!   executor, where each step is its own transaction with the run's record
//!   (the path of steps after an approval, a retry or a wait).
//! - *waiting runs*: N runs waiting for an approval: the process's memory
//!   before and after, the store's size per run, and what a look for due
//!   runs costs while all of them wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use riposte_engine::Engine;
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};
use riposte_model::{Clock, ManualClock, TriggerKind};
use riposte_respond::{Responder, ResponderConfig};

const RULES: &str = r#"
version: 1
rules:
  - id: ssh-fail
    title: SSH failure
    kind: match
    match: { event.dataset: sshd, event.outcome: failure }
    group_by: [source.ip]
    severity: high
    confidence: 90
"#;

const FIVE_STEPS: &str = r#"
version: 1
id: five
name: Five steps
trigger: { alert: { rules: [ssh-fail] }, manual: true }
inputs:
  ip: { type: ip, default: 198.51.100.1 }
steps:
  - id: case
    action: case.attach
    with: { key: "ssh:{{ alert.group['source.ip'] if alert else inputs.ip }}", title: "SSH failures" }
  - id: note
    action: case.comment
    with: { text: "seen {{ run.id }}" }
  - id: skip
    if: "false"
    action: case.comment
    with: { text: never }
  - id: ban
    action: decision
    with: { kind: ban, scope: ip, value: "{{ alert.group['source.ip'] if alert else inputs.ip }}", duration: 1h }
  - id: done
    action: case.comment
    with: { text: "banned: {{ steps.ban.state }}" }
"#;

const WAITING: &str = r#"
version: 1
id: wait
name: Wait for a person
trigger: { alert: { rules: [ssh-fail] } }
steps:
  - id: ask
    wait_for:
      approval: { prompt: "Ban {{ alert.group['source.ip'] }}?", timeout: 7d }
"#;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn line(i: usize) -> Line {
    let ip = format!("100.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let text = format!(
        "Mar 14 09:00:00 bastion sshd[{i}]: Failed password for root from {ip} port 4242 ssh2"
    );
    let len = text.len() as u64;
    Line::new(i as u64, text.into_bytes(), len)
}

struct Setup {
    engine: Engine,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn setup(playbooks: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = riposte_store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock::new(
        "2026-03-14T09:00:00Z".parse().unwrap_or_default(),
    ));
    let rules = riposte_detect::parse_rules("rules.yaml", RULES).unwrap_or_else(|p| panic!("{p}"));
    let playbooks = playbooks
        .iter()
        .map(|t| riposte_playbooks::parse_playbook("pb.yaml", t).unwrap_or_else(|p| panic!("{p}")))
        .collect();
    let engine = Engine::new(
        store,
        Arc::new(rules),
        playbooks,
        // The per-minute cap lifted: every alert here bans a new address.
        Arc::new(Responder::new(
            ResponderConfig {
                max_per_minute: u32::MAX,
                ..ResponderConfig::default()
            },
            Vec::new(),
        )),
        clock.clone(),
    );
    Setup {
        engine,
        clock,
        _dir: dir,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn latency(playbooks: &[&str], n: usize) -> (Duration, Duration, f64) {
    let mut s = setup(playbooks).await;
    let mut times = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let ctx = DecodeCtx {
            source: "auth",
            now: s.clock.now(),
        };
        let batch = decode_batch(Format::Syslog, &[line(i)], &ctx);
        // A second per alert: the cap's one-minute window holds ~60 of
        // them, as in a busy production minute.
        s.clock.advance(chrono::TimeDelta::seconds(1));
        let t = Instant::now();
        let report = s
            .engine
            .commit_batch(batch, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        times.push(t.elapsed());
        assert_eq!(report.alerts.len(), 1);
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99), rate)
}

async fn batched(n: usize) -> f64 {
    let mut s = setup(&[FIVE_STEPS]).await;
    let started = Instant::now();
    let mut runs = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let lines: Vec<Line> = chunk.iter().map(|i| line(*i)).collect();
        let ctx = DecodeCtx {
            source: "auth",
            now: s.clock.now(),
        };
        let batch = decode_batch(Format::Syslog, &lines, &ctx);
        s.clock.advance(chrono::TimeDelta::seconds(100));
        runs += s
            .engine
            .commit_batch(batch, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .runs
            .len();
    }
    assert_eq!(runs, n);
    n as f64 / started.elapsed().as_secs_f64()
}

async fn executor_runs(n: usize) -> f64 {
    let s = setup(&[FIVE_STEPS]).await;
    let executor = s.engine.executor(Arc::new(riposte_playbooks::NoEffects));
    let store = s.engine.store().clone();
    for i in 0..n {
        let ip = format!("100.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        riposte_engine::runs::start_run(
            store.as_ref(),
            executor.playbooks(),
            "five",
            TriggerKind::Manual,
            serde_json::json!({"ip": ip}),
            None,
            s.clock.now(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    s.clock.advance(chrono::TimeDelta::seconds(1));
    let started = Instant::now();
    let done = executor
        .run_until_idle()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rate = done as f64 / started.elapsed().as_secs_f64();
    let ok = store
        .count_runs(riposte_model::RunStatus::Succeeded)
        .await
        .unwrap_or(0);
    assert_eq!(ok, n as u64);
    rate
}

async fn waiting(n: usize) {
    let mut s = setup(&[WAITING]).await;
    let before = rss_bytes();
    let db = s._dir.path().join("bench.db");
    let size = |p: &std::path::Path| {
        ["", "-wal"]
            .iter()
            .map(|ext| {
                std::fs::metadata(format!("{}{ext}", p.display()))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .sum::<u64>()
    };
    let size_before = size(&db);
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let lines: Vec<Line> = chunk.iter().map(|i| line(*i)).collect();
        let ctx = DecodeCtx {
            source: "auth",
            now: s.clock.now(),
        };
        let batch = decode_batch(Format::Syslog, &lines, &ctx);
        s.engine
            .commit_batch(batch, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let made = started.elapsed();
    let store = s.engine.store().clone();
    let waiting = store
        .count_runs(riposte_model::RunStatus::Waiting)
        .await
        .unwrap_or(0);
    assert_eq!(waiting, n as u64);
    let executor = s.engine.executor(Arc::new(riposte_playbooks::NoEffects));
    let t = Instant::now();
    let due = executor.run_due().await.unwrap_or_else(|e| panic!("{e}"));
    let look = t.elapsed();
    assert_eq!(due, 0, "nothing is due while every run waits");
    let after = rss_bytes();
    let grown = size(&db).saturating_sub(size_before);
    println!(
        "playbooks {n} waiting runs: made in {made:?}; RSS {:.1} MB -> {:.1} MB ({:+.0} bytes per waiting run); store +{:.1} MB ({} bytes per run, its alert, approval and events included); a look for due runs {look:?}",
        before as f64 / 1e6,
        after as f64 / 1e6,
        (after as f64 - before as f64) / n as f64,
        grown as f64 / 1e6,
        grown / n as u64,
    );
}

pub fn run(n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let single = n.min(5_000);
        let (p50, p99, rate) = latency(&[], single).await;
        println!(
            "playbooks alert, no playbook (1/batch)        {single:>7} alerts   {rate:>8.0} alerts/s  p50 {p50:?}  p99 {p99:?}"
        );
        let (p50, p99, rate) = latency(&[FIVE_STEPS], single).await;
        println!(
            "playbooks alert -> 5-step run (1/batch)       {single:>7} runs     {rate:>8.0} runs/s    p50 {p50:?}  p99 {p99:?}"
        );
        let rate = batched(n).await;
        println!(
            "playbooks alert -> 5-step run (100/batch)     {n:>7} runs     {rate:>8.0} runs/s"
        );
        let rate = executor_runs(n.min(20_000)).await;
        println!(
            "playbooks executor, 5 steps (1 tx per step)   {:>7} runs     {rate:>8.0} runs/s",
            n.min(20_000)
        );
        waiting(n.min(10_000)).await;
    });
}
