#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! Hostile input through the real path (file → bounded reader → decoder →
//! store): counted, dead-lettered with the reason and offset, never a crash,
//! and the good lines around it still land.

use std::io::Write;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use riposte_ingest::{DecodeCtx, FileTail, Format, decode_batch};
use riposte_model::{Clock, DeadLetter, ManualClock};
use riposte_service::{Config, build_engine};

#[tokio::test]
async fn malformed_non_utf8_100mb_and_unknown_records_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse("riposte.yaml", "version: 1\n", dir.path()).unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap(),
    ));
    let mut engine = build_engine(&config, clock.clone()).await.unwrap();

    let good = r#"{"timestamp":"2026-03-14T09:00:00.000000+0000","event_type":"alert","src_ip":"203.0.113.7","src_port":1,"dest_ip":"192.0.2.1","dest_port":2,"proto":"TCP","alert":{"signature_id":1,"signature":"x","category":"c","severity":1,"action":"allowed","gid":1,"rev":1}}"#;
    let huge = format!(
        r#"{{"event_type":"alert","pad":"{}"}}"#,
        "A".repeat(100 << 20)
    );
    let records: Vec<Vec<u8>> = vec![
        good.as_bytes().to_vec(),
        br#"{"timestamp":"2026-03-14T09:00:00+0000","event_type":"alert","src_ip":"#.to_vec(),
        b"{\"timestamp\":\"2026-03-14T09:00:00+0000\",\"event_type\":\"alert\",\"src_ip\":\"\xff\xfe\"}".to_vec(),
        huge.into_bytes(),
        br#"{"timestamp":"2026-03-14T09:00:00+0000","event_type":"no_such_type"}"#.to_vec(),
        good.as_bytes().to_vec(),
    ];
    let path = dir.path().join("eve.json");
    let mut offsets = Vec::new();
    {
        let mut f = std::fs::File::create(&path).unwrap();
        let mut off = 0u64;
        for r in &records {
            offsets.push(off);
            f.write_all(r).unwrap();
            f.write_all(b"\n").unwrap();
            off += r.len() as u64 + 1;
        }
    }
    let file_len = std::fs::metadata(&path).unwrap().len();

    let mut tail = FileTail::open(&path, 0).unwrap();
    let batch = tail.read_batch(100, config.ingest.max_line_bytes).unwrap();
    assert_eq!(batch.lines.len(), records.len());
    assert_eq!(batch.end_offset, file_len);
    let decoded = decode_batch(
        Format::SuricataEve,
        &batch.lines,
        &DecodeCtx {
            source: "eve",
            now: clock.now(),
        },
    );
    let report = engine
        .commit_batch(decoded, Some(("eve", &batch.end_offset.into())))
        .await
        .unwrap();
    assert_eq!((report.events, report.dead_letters.len()), (2, 4));

    let store = engine.store();
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.events, counts.dead_letters), (2, 4));
    assert_eq!(
        store.checkpoint("eve").await.unwrap().map(|c| c.offset),
        Some(file_len)
    );
    let mut letters: Vec<DeadLetter> = store.list_dead_letters(10).await.unwrap();
    letters.sort_by_key(|d| d.offset);
    let summary: Vec<(Option<u64>, &str, u64, usize)> = letters
        .iter()
        .map(|d| (d.offset, d.reason.as_str(), d.raw_len, d.raw.len()))
        .collect();
    assert_eq!(summary[0].0, Some(offsets[1]));
    assert!(
        summary[0]
            .1
            .starts_with("truncated JSON: EOF while parsing"),
        "{}",
        summary[0].1
    );
    assert_eq!(summary[1].0, Some(offsets[2]));
    assert!(
        summary[1].1.starts_with("invalid UTF-8 at byte"),
        "{}",
        summary[1].1
    );
    assert_eq!(letters[1].raw, records[2], "the exact bytes are kept");
    assert_eq!(
        summary[2],
        (
            Some(offsets[3]),
            "record of 104857631 bytes exceeds the limit of 1048576 bytes",
            104_857_631,
            DeadLetter::MAX_RAW
        )
    );
    assert_eq!(
        summary[3],
        (
            Some(offsets[4]),
            "unsupported suricata event_type \"no_such_type\"",
            records[4].len() as u64,
            records[4].len()
        )
    );
    assert!(
        letters
            .iter()
            .all(|d| d.source == "eve" && d.format == "suricata-eve")
    );
}
