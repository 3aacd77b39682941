//! `riposte-bench N intel`: the threat-intel matcher at N generated
//! indicators (BENCHMARKS.md uses 10,000,000): load time and memory per
//! indicator, events/s matched (decoded Suricata EVE events, a few percent
//! of them hitting), matching time as a share of decoding time, and the
//! cost of an incremental feed update.
//!
//! Indicators are generated one at a time and inserted straight away, so
//! the resident-set growth is the index's own. The mix: 40% IPv4
//! addresses, 2% IPv4 networks, 25% domains (a fifth covering
//! subdomains), 15% URLs, 18% SHA-256 hashes.

use super::Stopwatch;

use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, Format};
use riposte_intel::IntelIndex;
use riposte_model::{Indicator, IndicatorKind};

/// Resident set size of this process, from /proc.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A cheap deterministic mix (SplitMix64).
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(crate) fn indicator(i: u64, feed: &str) -> Indicator {
    let r = mix(i);
    let (kind, value) = match i % 100 {
        0..=39 => {
            let a = (r as u32) | 0x0100_0000;
            (IndicatorKind::Ip, std::net::Ipv4Addr::from(a).to_string())
        }
        40..=41 => {
            let a = (r as u32) & 0xffff_ff00;
            (
                IndicatorKind::Cidr,
                format!("{}/24", std::net::Ipv4Addr::from(a)),
            )
        }
        42..=66 => (
            IndicatorKind::Domain,
            format!("h{:x}.bad{}.example", r >> 40, r % 100_000),
        ),
        67..=81 => (
            IndicatorKind::Url,
            format!("http://s{}.example/{:x}/gate.php", r % 1_000_000, r >> 20),
        ),
        _ => (
            IndicatorKind::Sha256,
            format!(
                "{:016x}{:016x}{:016x}{:016x}",
                r,
                mix(r),
                mix(r ^ 1),
                mix(r ^ 2)
            ),
        ),
    };
    let mut ind = Indicator::new(kind, value, feed);
    ind.subdomains = kind == IndicatorKind::Domain && i.is_multiple_of(5);
    ind.tags = vec!["bench".into()];
    ind.description = Some("generated".into());
    ind
}

/// Suricata EVE dns and flow events; 1 in 32 names or addresses one of the
/// first indicators generated.
fn events(n: usize) -> Vec<riposte_model::Event> {
    let lines: Vec<riposte_ingest::Line> = (0..n)
        .map(|i| {
            let hit = i % 32 == 0;
            let text = if i % 2 == 0 {
                let name = if hit {
                    indicator((i as u64 / 32 * 100) % 1000 + 42, "x").value.to_string()
                } else {
                    format!("www{i}.cdn.example.com")
                };
                format!(
                    r#"{{"timestamp":"2026-03-14T09:00:00.000000+0000","event_type":"dns","src_ip":"10.0.0.5","src_port":53000,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":1,"rrname":"{name}","rrtype":"A","tx_id":0}}}}"#
                )
            } else {
                let ip = if hit {
                    indicator((i as u64 / 32 * 100) % 1000, "x").value.to_string()
                } else {
                    format!("100.64.{}.{}", (i >> 8) & 255, i & 255)
                };
                format!(
                    r#"{{"timestamp":"2026-03-14T09:00:00.000000+0000","event_type":"flow","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"{ip}","dest_port":443,"proto":"TCP","flow":{{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60,"start":"2026-03-14T09:00:01.000000+0000","end":"2026-03-14T09:00:02.000000+0000","age":1,"state":"closed","reason":"timeout"}}}}"#
                )
            };
            riposte_ingest::Line {
                offset: i as u64,
                bytes: text.into_bytes(),
                truncated_from: None,
            }
        })
        .collect();
    let now = chrono::Utc::now();
    let start = Stopwatch::start();
    let batch = Decoder::new(Format::SuricataEve, &DecodeOptions::default())
        .decode_batch(&lines, &DecodeCtx { source: "eve", now });
    let decode = start.secs();
    println!(
        "  decode {} EVE dns/flow events: {:.2} s CPU ({:.0} events/s)",
        n,
        decode,
        n as f64 / decode
    );
    DECODE_NS.store(
        (decode * 1e9) as u64 / n as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    batch.events
}

static DECODE_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn run(n: usize) {
    let n = n as u64;
    println!(
        "intel: {n} generated indicators (40% IPv4, 2% /24, 25% domains, 15% URLs, 18% SHA-256)"
    );
    // The plain-text size of the same feed, IntelMQ's "input size".
    let gen_start = Stopwatch::start();
    let input_bytes: u64 = (0..n)
        .map(|i| indicator(i, "bench").value.len() as u64 + 1)
        .sum();
    let generate = gen_start.secs();

    let before = rss_bytes();
    let mut index = IntelIndex::new();
    let start = Stopwatch::start();
    for i in 0..n {
        if let Err(e) = index.insert(&indicator(i, "bench")) {
            eprintln!("indicator {i}: {e}");
        }
    }
    let load = (start.secs() - generate).max(1e-9);
    let after = rss_bytes();
    let rss = after.saturating_sub(before);
    println!(
        "  load: {:.1} s CPU ({:.0} indicators/s, generation excluded); {} indicators, {} contexts",
        load,
        n as f64 / load,
        index.len(),
        index.contexts()
    );
    println!(
        "  memory: RSS +{:.0} MiB = {:.1} bytes/indicator (index's own estimate {:.1}); plain-text feed {:.0} MiB, RSS/input = {:.2}x",
        rss as f64 / (1 << 20) as f64,
        rss as f64 / n as f64,
        index.heap_bytes() as f64 / n as f64,
        input_bytes as f64 / (1 << 20) as f64,
        rss as f64 / input_bytes as f64
    );

    let evs = events(200_000);
    let now = chrono::Utc::now();
    let mut hits = Vec::new();
    let mut matched = 0usize;
    let start = Stopwatch::start();
    for _ in 0..5 {
        for e in &evs {
            hits.clear();
            index.match_event(e, now, &mut hits);
            matched += usize::from(!hits.is_empty());
        }
    }
    let per_event = start.secs() * 1e9 / (5.0 * evs.len() as f64);
    let decode_ns = DECODE_NS.load(std::sync::atomic::Ordering::Relaxed) as f64;
    println!(
        "  match: {:.0} events/s ({:.0} ns/event, {} of {} events hit); matching adds {:.1}% to decoding ({:.0} ns/event)",
        1e9 / per_event,
        per_event,
        matched / 5,
        evs.len(),
        100.0 * per_event / decode_ns,
        decode_ns
    );

    // An incremental update: 100,000 new indicators in, 100,000 old out.
    let k = 100_000u64.min(n);
    let start = Stopwatch::start();
    for i in n..n + k {
        let _ = index.insert(&indicator(i, "bench"));
    }
    for i in 0..k {
        let ind = indicator(i, "bench");
        index.remove(ind.kind, &ind.value, &ind.feed);
    }
    let u = start.secs();
    println!(
        "  update: +{k} / -{k} in {:.2} s CPU ({:.2} µs per change, generation included)",
        u,
        u * 1e6 / (2 * k) as f64
    );
}
