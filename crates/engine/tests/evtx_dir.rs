#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! The `evtx-dir` source on real EVTX files from the Sigma regression data:
//! every record once, across restarts, new files picked up, a file that is
//! not EVTX skipped without stopping the others.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use riposte_engine::evtx_dir::run_evtx_dir_source;
use riposte_engine::source::SourceCtx;
use riposte_engine::{IngestLimits, pipeline};
use riposte_ingest::{DecodeCtx, read_evtx};
use riposte_model::{Clock, ManualClock};
use riposte_store::Store;
use tokio::sync::watch;

fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}

async fn run_until(store: &Arc<dyn Store>, dir: &Path, events: u64) {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 4, 21, 0, 0, 0).unwrap(),
    ));
    let engine = common::bare_engine(store.clone(), clock.clone());
    let (handle, task) = pipeline::spawn(engine, 4);
    let (stop_tx, stop) = watch::channel(false);
    let limits = IngestLimits {
        max_line_bytes: 1 << 20,
        batch_lines: 2,
        poll_interval: Duration::from_millis(10),
    };
    let source = tokio::spawn(run_evtx_dir_source(
        "win".into(),
        dir.to_owned(),
        SourceCtx {
            limits,
            store: store.clone(),
            clock,
            pipeline: handle,
            shutdown: stop,
        },
    ));
    // Polls until the count is reached; the bound only guards against a hang.
    for _ in 0..1000 {
        if store.counts().await.unwrap().events >= events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A few more scans, so a duplicate would have time to appear.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(true).unwrap();
    source.await.unwrap().unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn every_record_once_across_restarts_and_new_files() {
    let Some(data) = common::corpus("sigma/regression_data") else {
        return;
    };
    let mut all = Vec::new();
    evtx_files(&data, &mut all);
    all.sort();
    // The files with the most records, so batches of 2 split them.
    let ctx = DecodeCtx {
        source: "x",
        now: Utc::now(),
    };
    let mut sized: Vec<(usize, PathBuf)> = all
        .iter()
        .map(|p| (read_evtx(p, &ctx).unwrap().events.len(), p.clone()))
        .collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let picked = &sized[..4];
    assert!(picked[0].0 >= 3, "{picked:?}");

    let dir = tempfile::tempdir().unwrap();
    for (i, (_, p)) in picked[..3].iter().enumerate() {
        std::fs::copy(p, dir.path().join(format!("{i}.evtx"))).unwrap();
    }
    std::fs::write(dir.path().join("broken.evtx"), b"not an evtx file at all").unwrap();
    let db = dir.path().join("store.db");
    let store = riposte_store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let first: u64 = picked[..3].iter().map(|p| p.0 as u64).sum();
    run_until(&store, dir.path(), first).await;
    assert_eq!(store.counts().await.unwrap().events, first);

    // Restart: nothing is read twice; a new file is read.
    std::fs::copy(&picked[3].1, dir.path().join("3.evtx")).unwrap();
    let total = first + picked[3].0 as u64;
    run_until(&store, dir.path(), total).await;
    assert_eq!(store.counts().await.unwrap().events, total);
    for (i, (count, _)) in picked.iter().enumerate() {
        let key = format!("win:{i}.evtx");
        let events = store.list_events_by_source(&key, 1000).await.unwrap();
        assert_eq!(events.len(), *count, "{key}");
        let cp = store.checkpoint(&key).await.unwrap().unwrap();
        assert_eq!(cp.offset, *count as u64, "{key}");
        let mut offsets: Vec<u64> = events
            .iter()
            .map(|e| e.origin.as_ref().unwrap().offset)
            .collect();
        offsets.dedup();
        assert_eq!(offsets.len(), *count, "{key}: no record twice");
    }
    assert_eq!(store.checkpoint("win:broken.evtx").await.unwrap(), None);
}
