//! `cargo bench -p riposte-detect --bench threshold`: the sshd threshold
//! rule (5 failures per source.ip in 10 min) over events shaped like the
//! sshd decoder's, and the same with 10 and 100 native rules. Decoding is
//! measured by `riposte-bench` (bench/), which also times decode + detect.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_detect::{Detector, parse_rules};
use riposte_model::{Event, ObservableKind};

const RULE: &str = r#"
version: 1
rules:
  - id: ssh-bruteforce
    title: SSH brute force
    kind: threshold
    match: { event.dataset: sshd, event.action: ssh_login, event.outcome: failure }
    group_by: [source.ip]
    count: 5
    window: 10m
    severity: high
"#;

/// `n` rules: the one above, then alternately another sshd threshold and a
/// match rule on a dataset these events do not have.
fn rules(n: usize) -> String {
    let mut text = RULE.to_owned();
    for i in 1..n {
        if i % 2 == 1 {
            text.push_str(&format!(
                "  - id: t{i}\n    title: t\n    kind: threshold\n    \
                 match: {{ event.dataset: sshd, event.outcome: failure }}\n    \
                 group_by: [source.ip]\n    count: {}\n    window: 10m\n    severity: low\n",
                5 + i
            ));
        } else {
            text.push_str(&format!(
                "  - id: m{i}\n    title: t\n    kind: match\n    \
                 match: {{ event.dataset: suricata.alert, rule.name: sig-{i} }}\n    severity: low\n"
            ));
        }
    }
    text
}

/// 100,000 events at 50 per second: half sshd failures (2,000 sources, 200
/// of them frequent), sshd successes and other datasets.
fn events() -> Vec<Event> {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap();
    (0..100_000usize)
        .map(|i| {
            let ts = t0 + TimeDelta::milliseconds(i as i64 * 20);
            let src = if i % 7 < 4 {
                i % 200
            } else {
                200 + (i * 7919) % 1800
            };
            let ip = format!("198.51.{}.{}", src / 256, src % 256);
            match i % 20 {
                0..=9 => {
                    let mut e = Event::new(ts, "sshd");
                    e.set("event.action", "ssh_login");
                    e.set("event.outcome", "failure");
                    e.set("source.ip", ip.as_str());
                    e.set("user.name", format!("u{}", i % 50));
                    e.add_observable(ObservableKind::Ip, &ip, "source.ip");
                    e
                }
                10..=14 => {
                    let mut e = Event::new(ts, "sshd");
                    e.set("event.action", "ssh_login");
                    e.set("event.outcome", "success");
                    e.set("source.ip", "10.0.0.1");
                    e
                }
                _ => {
                    let mut e = Event::new(ts, "syslog");
                    e.set("process.name", "CRON");
                    e
                }
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let now = events[0].timestamp;
    let mut group = c.benchmark_group("sshd threshold");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    for n in [1, 10, 100] {
        let set = Arc::new(parse_rules("bench.yaml", &rules(n)).unwrap());
        group.bench_function(format!("{n} rules"), |b| {
            b.iter(|| {
                let mut d = Detector::new(Arc::clone(&set));
                let mut alerts = 0;
                for e in &events {
                    alerts += d.process(e, now).len();
                }
                black_box(alerts)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
