//! `cargo bench -p riposte-intel --bench matcher`: matching events against
//! an index of 1,000,000 indicators (addresses, /24 networks, domains with
//! and without subdomains, URLs, SHA-256), per event and per hit or miss.
//! The 10,000,000-indicator load, memory and update figures come from
//! `riposte-bench N intel` (bench/).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_intel::IntelIndex;
use riposte_model::{Event, Indicator, IndicatorKind, ObservableKind};

fn index(n: u32) -> IntelIndex {
    let mut ix = IntelIndex::new();
    for i in 0..n {
        let (kind, value) = match i % 5 {
            0 => (
                IndicatorKind::Ip,
                format!("100.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
            ),
            1 => (
                IndicatorKind::Cidr,
                format!("101.{}.{}.0/24", i >> 16 & 255, i >> 8 & 255),
            ),
            2 => (IndicatorKind::Domain, format!("h{i}.bad.example")),
            3 => (IndicatorKind::Url, format!("http://s{i}.example/gate.php")),
            _ => (
                IndicatorKind::Sha256,
                format!("{:064x}", u128::from(i) * 0x9e37_79b9),
            ),
        };
        let mut ind = Indicator::new(kind, value, "bench");
        ind.subdomains = i % 10 == 2;
        ix.insert(&ind).unwrap();
    }
    ix
}

fn event(dst: &str, name: &str) -> Event {
    let mut e = Event::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(), "bench");
    e.add_observable(ObservableKind::Ip, "10.0.0.5", "source.ip");
    e.add_observable(ObservableKind::Ip, dst, "destination.ip");
    e.add_observable(ObservableKind::Domain, name, "dns.question.name");
    e
}

fn bench(c: &mut Criterion) {
    let ix = index(1_000_000);
    let now = Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap();
    let mut g = c.benchmark_group("intel match (1M indicators)");
    g.throughput(Throughput::Elements(1));
    for (name, ev) in [
        ("miss", event("192.0.2.7", "www.cdn.example.com")),
        ("address hit", event("100.0.1.5", "www.cdn.example.com")),
        (
            "network + subdomain hit",
            event("101.0.1.9", "a.h12.bad.example"),
        ),
    ] {
        let mut hits = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                hits.clear();
                ix.match_event(black_box(&ev), now, &mut hits);
                black_box(hits.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
