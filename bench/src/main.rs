//! `cargo run --release -p riposte-bench`: throughput of the hot paths on
//! generated input, one core, printed as events/s and MB/s. Figures go into
//! BENCHMARKS.md with the machine they were measured on.

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use riposte_detect::{Detector, parse_rules};
use riposte_engine::Engine;
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};
use riposte_model::{Clock, ManualClock, Timestamp};
use riposte_respond::{Responder, ResponderConfig};

const RULES: &str = include_str!("../../examples/demo/rules.yaml");

fn start() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Suricata EVE alerts from 256 sources, one per line.
fn eve_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            r#"{{"timestamp":"2026-03-14T09:{:02}:{:02}.{:06}+0000","flow_id":{},"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.{}","src_port":{},"dest_ip":"192.0.2.80","dest_port":80,"proto":"TCP","app_proto":"http","alert":{{"action":"allowed","gid":1,"signature_id":2034647,"rev":2,"signature":"ET EXPLOIT Apache log4j RCE Attempt (http uri) (CVE-2021-44228)","category":"Attempted Administrator Privilege Gain","severity":2}}}}"#,
            (i / 60) % 60,
            i % 60,
            i % 1_000_000,
            1_000_000_000 + i,
            i % 256,
            1024 + i % 60000
        )
    }))
}

/// sshd failures from 512 sources, 50 lines per second: each source fails
/// every ~10 s, so the 6-in-60 s threshold fires.
fn syslog_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let t = start() + chrono::TimeDelta::seconds(i as i64 / 50);
        format!(
            "{} bastion sshd[{}]: Failed password for invalid user admin from 198.51.{}.{} port {} ssh2",
            t.format("%b %e %H:%M:%S"),
            2000 + i % 30000,
            (i / 256) % 2,
            i % 256,
            1024 + i % 60000
        )
    }))
}

fn lines(it: impl Iterator<Item = String>) -> Vec<Line> {
    let mut offset = 0;
    it.map(|s| {
        let line = Line {
            offset,
            bytes: s.into_bytes(),
            truncated_from: None,
        };
        offset += line.bytes.len() as u64 + 1;
        line
    })
    .collect()
}

fn report(name: &str, events: usize, bytes: usize, secs: f64) {
    println!(
        "{name:<34} {events:>9} events  {:>12.0} events/s  {:>8.1} MB/s",
        events as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

fn bytes(lines: &[Line]) -> usize {
    lines.iter().map(|l| l.bytes.len() + 1).sum()
}

fn bench_decode(name: &str, format: Format, lines: &[Line]) {
    let ctx = DecodeCtx {
        source: "bench",
        now: start(),
    };
    let t = Instant::now();
    let mut events = 0;
    for chunk in lines.chunks(1000) {
        events += decode_batch(format, chunk, &ctx).events.len();
    }
    assert_eq!(
        events,
        lines.len(),
        "{name}: every generated line must decode"
    );
    report(name, events, bytes(lines), t.elapsed().as_secs_f64());
}

fn bench_detect(lines: &[Line]) {
    let ctx = DecodeCtx {
        source: "bench",
        now: start(),
    };
    let events = decode_batch(Format::Syslog, lines, &ctx).events;
    let rules = Arc::new(parse_rules("rules.yaml", RULES).unwrap_or_else(|p| panic!("{p}")));
    let mut detector = Detector::new(rules);
    let t = Instant::now();
    let mut alerts = 0;
    for e in &events {
        alerts += detector.process(e, start()).len();
    }
    report(
        &format!("detect (threshold, {alerts} alerts)"),
        events.len(),
        bytes(lines),
        t.elapsed().as_secs_f64(),
    );
}

async fn bench_pipeline(lines: &[Line]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = riposte_store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("store: {e}"));
    let rules = Arc::new(parse_rules("rules.yaml", RULES).unwrap_or_else(|p| panic!("{p}")));
    let clock = Arc::new(ManualClock::new(start()));
    let responder = Arc::new(Responder::new(ResponderConfig::default(), Vec::new()));
    let mut engine = Engine::new(store, rules, Vec::new(), responder, clock.clone())
        .follow_event_time(clock.clone());
    let t = Instant::now();
    let mut events = 0;
    for chunk in lines.chunks(1000) {
        let batch = decode_batch(
            Format::Syslog,
            chunk,
            &DecodeCtx {
                source: "bench",
                now: clock.now(),
            },
        );
        let last = chunk
            .last()
            .map_or(0, |l| l.offset + l.bytes.len() as u64 + 1);
        events += engine
            .commit_batch(batch, Some(("bench", &last.into())))
            .await
            .unwrap_or_else(|e| panic!("commit: {e}"))
            .events;
    }
    report(
        "pipeline syslog->SQLite (1000/tx)",
        events as usize,
        bytes(lines),
        t.elapsed().as_secs_f64(),
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!("riposte-bench: {n} generated lines per run, one thread\n");
    let eve = eve_lines(n);
    let syslog = syslog_lines(n);
    bench_decode("decode suricata-eve (alert)", Format::SuricataEve, &eve);
    bench_decode("decode syslog (sshd)", Format::Syslog, &syslog);
    bench_detect(&syslog);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(bench_pipeline(&syslog[..n.min(100_000)]));
}
