//! A plain feed of hundreds of MiB through the whole import path (`run_feed`: parser
//! thread, bounded channel, one store transaction per chunk, the shared
//! index), generated on the fly into a named pipe, so nothing of that size
//! exists anywhere: exact counts, and the process's peak resident set
//! stays far below the input.
//!
//! The feed repeats a few valid values, with broken and over-long lines
//! between them, so the store stays small while every byte is read.
//! `RIPOSTE_BIG_FEED_MIB` sets the size: 512 MiB by default, which a debug
//! build reads in about 45 s on the project's VM; 2 GiB took over three
//! minutes there, so the full 2 GiB runs in release as
//! `riposte-bench 0 intel-big-feed` (BENCHMARKS.md), through this same path.
//!
//! One test in this binary: the peak RSS it reads is the process's own.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, RwLock};

use chrono::{TimeZone, Utc};
use riposte_intel::IntelIndex;
use riposte_intel::feed::{FeedConfig, FeedFormat, Location, run_feed};
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::csv::CsvFormat;

/// Peak resident set (VmHWM) of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// One block of the feed: 1,000 short lines (990 valid addresses from a
/// set of 10, 9 broken values, 1 comment) and one line of 100,000 bytes,
/// over the 64 KiB line limit.
fn block(i: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(120_000);
    for j in 0..1000u64 {
        match j {
            0 => writeln!(b, "# block {i}").unwrap(),
            1..=9 => writeln!(b, "not an indicator {j}!").unwrap(),
            _ => writeln!(b, "198.51.100.{}", (i + j) % 10).unwrap(),
        }
    }
    b.extend(std::iter::repeat_n(b'x', 100_000));
    b.push(b'\n');
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_of_hundreds_of_mib_streams_through_the_importer_in_bounded_memory() {
    let mib: u64 = std::env::var("RIPOSTE_BIG_FEED_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let block_len = block(0).len() as u64;
    let blocks = (mib << 20).div_ceil(block_len);
    let total_bytes = blocks * block_len;

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("feed.txt");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut out = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            for i in 0..blocks {
                out.write_all(&block(i)).unwrap();
            }
        })
    };

    let store = riposte_store::open(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await
        .unwrap();
    let index = Arc::new(RwLock::new(IntelIndex::new()));
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    let feed = FeedConfig {
        name: "big".into(),
        format: FeedFormat::Csv(CsvFormat::preset("plain").unwrap()),
        location: Location::Path(fifo),
        key: None,
        interval: std::time::Duration::from_secs(3600),
        snapshot: true,
        max_age: None,
        defaults: FeedDefaults::new("big", now),
        max_bytes: 8 << 30,
        sightings: None,
    };
    let before = peak_rss();
    let r = run_feed(&feed, &store, Some(&index), now, None)
        .await
        .unwrap();
    writer.join().unwrap();
    let growth = peak_rss().saturating_sub(before);

    // Every line but the comments is a record: 990 indicators, 9 broken
    // values and 1 over-long line per block.
    assert_eq!(r.import.read, blocks * 1000);
    assert_eq!(r.import.indicators, blocks * 990);
    assert_eq!(r.import.accepted, blocks * 990);
    assert_eq!(r.import.rejected, blocks * 10);
    assert_eq!(r.import.errors.len(), riposte_intel::import::MAX_ERRORS);
    let at = dir.path().join("feed.txt").display().to_string();
    assert_eq!(
        r.import.errors[0].to_string(),
        format!("{at}:2: domain \"not an indicator 1!\": not a DNS name")
    );
    assert_eq!(
        r.import.errors[9].to_string(),
        format!("{at}:1001: line of 100001 bytes is over the 65536-byte limit")
    );
    assert_eq!((r.added, r.aged_out), (10, 0));
    assert_eq!(index.read().unwrap().len(), 10);
    let counts = store.intel_counts().await.unwrap();
    assert_eq!(counts.iter().map(|c| c.indicators).sum::<u64>(), 10);

    // Bounded: the importer holds a line, a few chunks of indicators and
    // the store's pages, never the feed: the peak grows by less than 64
    // MiB, or a quarter of the input for a bigger one, at most 128 MiB.
    eprintln!(
        "{} MiB read in {blocks} blocks; peak RSS growth {} MiB",
        total_bytes >> 20,
        growth >> 20
    );
    assert!(
        growth < (128 << 20).min(total_bytes / 4).max(64 << 20),
        "peak RSS grew by {growth} bytes for a {total_bytes}-byte feed"
    );
}
