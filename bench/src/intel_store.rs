//! The threat-intel store side (issue #7), timed by wall clock:
//!
//! - `riposte-bench N intel-store`: a plain feed of N distinct indicators
//!   (the `intel` mix) imported through `run_feed` into a SQLite file,
//!   imported again (every row refreshed), then loaded into a new index as
//!   `riposte_service::build_engine` does at start.
//! - `riposte-bench MIB intel-big-feed`: MIB MiB of generated plain feed
//!   (a few values repeated, broken and over-long lines between them; the
//!   test `crates/intel/tests/big_feed.rs` uses the same shape) through
//!   `run_feed`, once from a named pipe and once from a local HTTP server,
//!   with throughput and the process's peak resident set.
//!
//! Feeds are generated into a named pipe or a socket as they are read, so
//! no input file of that size exists.

use std::io::Write;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use riposte_intel::IntelIndex;
use riposte_intel::feed::{FeedConfig, FeedFormat, Location, load_index, run_feed};
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::csv::CsvFormat;

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn feed(name: &str, location: Location) -> FeedConfig {
    FeedConfig {
        name: name.into(),
        format: FeedFormat::Csv(CsvFormat::preset("plain").expect("preset")),
        location,
        key: None,
        interval: std::time::Duration::from_secs(3600),
        snapshot: true,
        max_age: None,
        defaults: FeedDefaults::new(name, chrono::Utc::now()),
        max_bytes: 64 << 30,
        sightings: None,
    }
}

/// A named pipe that `write` fills from another thread.
fn fifo(
    dir: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) + Send + 'static,
) -> (std::path::PathBuf, std::thread::JoinHandle<()>) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("feed-{n}.txt"));
    let ok = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo failed");
    let p = path.clone();
    let h = std::thread::spawn(move || {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .expect("open fifo");
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        write(&mut w);
        w.flush().expect("flush");
    });
    (path, h)
}

pub fn store(n: usize) {
    let n = n as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("intel.db");
    rt.block_on(async {
        let store = riposte_store::open(&format!("sqlite://{}", db.display()))
            .await
            .expect("store");
        println!("intel-store: {n} distinct generated indicators, plain feed, SQLite file");
        for pass in ["first import", "re-import (all refreshed)"] {
            let (path, writer) = fifo(dir.path(), move |w| {
                for i in 0..n {
                    let _ = writeln!(w, "{}", crate::intel::indicator(i, "x").value);
                }
            });
            let f = feed("bench", Location::Path(path));
            let start = Instant::now();
            let r = run_feed(&f, &store, None, chrono::Utc::now(), None)
                .await
                .expect("import");
            let secs = start.elapsed().as_secs_f64();
            writer.join().expect("writer");
            println!(
                "  {pass}: {:.1} s wall, {:.0} indicators/s ({} read, {} indicators, {} new, {} rejected, {} aged out)",
                secs,
                n as f64 / secs,
                r.import.read,
                r.import.indicators,
                r.added,
                r.import.rejected,
                r.aged_out
            );
        }
        let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(dir.path().join("intel.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0);
        println!(
            "  store: {:.0} MiB on disk ({:.0} bytes per indicator, WAL included)",
            size as f64 / (1 << 20) as f64,
            size as f64 / n as f64
        );
        let rss = status_kib("VmRSS:");
        let start = Instant::now();
        let index = load_index(&store).await.expect("load");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "  engine start (load_index): {:.1} s wall, {:.0} indicators/s, {} in the index; RSS +{:.0} MiB",
            secs,
            index.len() as f64 / secs,
            index.len(),
            mib(status_kib("VmRSS:").saturating_sub(rss))
        );
    });
}

/// One block: 1,000 short lines (990 addresses from a set of 10, 9 broken
/// values, a comment) and a 100,000-byte line over the line limit.
fn block(i: u64, b: &mut Vec<u8>) {
    b.clear();
    for j in 0..1000u64 {
        let _ = match j {
            0 => writeln!(b, "# block {i}"),
            1..=9 => writeln!(b, "not an indicator {j}!"),
            _ => writeln!(b, "198.51.100.{}", (i + j) % 10),
        };
    }
    b.extend(std::iter::repeat_n(b'x', 100_000));
    b.push(b'\n');
}

pub fn big_feed(mib_in: usize) {
    let mut probe = Vec::new();
    block(0, &mut probe);
    let block_len = probe.len() as u64;
    let blocks = ((mib_in as u64) << 20).div_ceil(block_len);
    let bytes = blocks * block_len;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "intel-big-feed: {} MiB plain feed ({blocks} blocks of 990 repeated addresses, 9 broken values, one 100 KB line)",
        bytes >> 20
    );
    rt.block_on(async {
        let store = riposte_store::open(&format!(
            "sqlite://{}",
            dir.path().join("r.db").display()
        ))
        .await
        .expect("store");
        let index = Arc::new(RwLock::new(IntelIndex::new()));

        // A named pipe (a path source).
        let (path, writer) = fifo(dir.path(), move |w| {
            let mut b = Vec::new();
            for i in 0..blocks {
                block(i, &mut b);
                w.write_all(&b).expect("write");
            }
        });
        let before = status_kib("VmHWM:");
        let start = Instant::now();
        let r = run_feed(
            &feed("big", Location::Path(path)),
            &store,
            Some(&index),
            chrono::Utc::now(),
            None,
        )
        .await
        .expect("import");
        let secs = start.elapsed().as_secs_f64();
        writer.join().expect("writer");
        println!(
            "  path (named pipe): {:.1} s wall, {:.0} MB/s; {} read, {} indicators, {} rejected, {} in the store; peak RSS {:.0} MiB (+{:.0} MiB)",
            secs,
            bytes as f64 / 1e6 / secs,
            r.import.read,
            r.import.indicators,
            r.import.rejected,
            index.read().map(|i| i.len()).unwrap_or(0),
            mib(status_kib("VmHWM:")),
            mib(status_kib("VmHWM:").saturating_sub(before))
        );

        // A local HTTP server sending the same bytes as they are made.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut req = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut req);
            let mut w = std::io::BufWriter::with_capacity(1 << 20, s);
            let _ = write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n"
            );
            let mut b = Vec::new();
            for i in 0..blocks {
                block(i, &mut b);
                if w.write_all(&b).is_err() {
                    return;
                }
            }
            let _ = w.flush();
        });
        let start = Instant::now();
        let r = run_feed(
            &feed("big-http", Location::Url(format!("http://{addr}/feed.txt"))),
            &store,
            Some(&index),
            chrono::Utc::now(),
            None,
        )
        .await
        .expect("import");
        let secs = start.elapsed().as_secs_f64();
        server.join().expect("server");
        println!(
            "  url (local HTTP, body spooled to a temporary file, then parsed): {:.1} s wall, {:.0} MB/s; {} read, {} indicators, {} rejected; peak RSS {:.0} MiB",
            secs,
            bytes as f64 / 1e6 / secs,
            r.import.read,
            r.import.indicators,
            r.import.rejected,
            mib(status_kib("VmHWM:"))
        );
    });
}
