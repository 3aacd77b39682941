//! A directory of Windows EVTX files (exports, collected archives): every
//! `.evtx` file in it is read once, batch by batch, and new files are picked
//! up as they appear.
//!
//! Each file has its own checkpoint, named `SOURCE:FILE`, holding how many
//! records of it are committed and the file's content identity. A restart
//! skips that many records; a file that grows (a live log copied again) is
//! read on from where it stopped; a different file under the same name is
//! read from its start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use riposte_ingest::{DecodeCtx, DecodedBatch, EvtxReader, fingerprint};
use riposte_model::Clock;
use riposte_store::{Checkpoint, Store};
use tokio::sync::watch;

use crate::IngestLimits;
use crate::pipeline::{PipelineError, PipelineHandle};
use crate::source::{SourceCtx, SourceError};

/// Follows `dir` until shutdown.
pub async fn run_evtx_dir_source(
    name: String,
    dir: PathBuf,
    ctx: SourceCtx,
) -> Result<(), SourceError> {
    let SourceCtx {
        limits,
        store,
        clock,
        pipeline,
        mut shutdown,
    } = ctx;
    // Size and modification time of each file when it was last read to its
    // end: unchanged files are not reopened on every scan.
    let mut done: HashMap<PathBuf, (u64, std::time::SystemTime)> = HashMap::new();
    tracing::info!(source = %name, dir = %dir.display(), "watching EVTX directory");
    loop {
        let files = match list_evtx(&dir) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(source = %name, dir = %dir.display(), error = %e, "cannot list directory; retrying");
                Vec::new()
            }
        };
        for path in files {
            if *shutdown.borrow() {
                return Ok(());
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let stamp = (meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
            if done.get(&path) == Some(&stamp) {
                continue;
            }
            match read_file(&name, &path, limits, &store, &clock, &pipeline, &shutdown).await {
                Ok(true) => {
                    done.insert(path, stamp);
                }
                Ok(false) => return Ok(()),
                Err(SourceError::Pipeline(e)) => return Err(SourceError::Pipeline(e)),
                Err(e) => {
                    // Retried when the file changes, not on every scan.
                    tracing::warn!(source = %name, file = %path.display(), error = %e, "cannot read EVTX file; skipped until it changes");
                    done.insert(path, stamp);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(limits.poll_interval * 4) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// The `.evtx` files in `dir`, by name.
fn list_evtx(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one file from its checkpoint to its end, committing each batch
/// with the new record count. `Ok(false)` when stopped by shutdown or a
/// stopped pipeline.
async fn read_file(
    source: &str,
    path: &Path,
    limits: IngestLimits,
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    pipeline: &PipelineHandle,
    shutdown: &watch::Receiver<bool>,
) -> Result<bool, SourceError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = format!("{source}:{file_name}");
    let io = |e: std::io::Error| SourceError::Io(e.to_string());
    let identity = fingerprint::identify(path).map_err(io)?;
    let saved = store
        .checkpoint(&key)
        .await
        .map_err(|e| SourceError::Store(e.to_string()))?;
    let same_file = |c: &Checkpoint| {
        c.identity
            .as_deref()
            .and_then(|s| s.parse::<fingerprint::FileIdentity>().ok())
            .is_some_and(|id| fingerprint::same_content(path, &id).unwrap_or(false))
    };
    let mut committed = match &saved {
        Some(c) if same_file(c) => c.offset,
        Some(_) => {
            tracing::info!(source, file = %path.display(), "a different file under a known name; reading it from the start");
            0
        }
        None => 0,
    };
    let owned = path.to_owned();
    let mut reader = tokio::task::spawn_blocking(move || EvtxReader::open(&owned))
        .await
        .map_err(|e| SourceError::Io(e.to_string()))?
        .map_err(io)?;
    let mut seen = 0u64;
    loop {
        if *shutdown.borrow() {
            return Ok(false);
        }
        let source_name = key.clone();
        let now = clock.now();
        let max = limits.batch_lines;
        let (back, read) = tokio::task::spawn_blocking(move || {
            let ctx = DecodeCtx {
                source: &source_name,
                now,
            };
            let read = reader.next_batch(max, &ctx);
            (reader, read)
        })
        .await
        .map_err(|e| SourceError::Io(e.to_string()))?;
        reader = back;
        let Some(batch) = read.map_err(io)? else {
            return Ok(true);
        };
        let n = (batch.events.len() + batch.dead_letters.len()) as u64 + batch.ignored;
        let start = seen;
        seen += n;
        if seen <= committed {
            continue;
        }
        // Skip the part of this batch a previous run committed.
        let batch = skip_records(batch, committed.saturating_sub(start));
        committed = seen;
        let checkpoint = Checkpoint {
            offset: seen,
            identity: Some(identity.to_string()),
        };
        match pipeline
            .submit(batch, Some((key.clone(), checkpoint)))
            .await
        {
            Ok(_) => {}
            Err(PipelineError::Stopped) => return Ok(false),
            Err(e) => return Err(SourceError::Pipeline(e.to_string())),
        }
    }
}

/// Drops the first `n` records of a batch, in file order (events and dead
/// letters are interleaved by their offsets).
fn skip_records(batch: DecodedBatch, n: u64) -> DecodedBatch {
    if n == 0 {
        return batch;
    }
    let mut offsets: Vec<u64> = batch
        .events
        .iter()
        .filter_map(|e| e.origin.as_ref().map(|o| o.offset))
        .chain(batch.dead_letters.iter().filter_map(|d| d.offset))
        .collect();
    offsets.sort_unstable();
    let Some(&first_kept) = offsets.get(n as usize) else {
        return DecodedBatch::default();
    };
    DecodedBatch {
        events: batch
            .events
            .into_iter()
            .filter(|e| e.origin.as_ref().is_some_and(|o| o.offset >= first_kept))
            .collect(),
        dead_letters: batch
            .dead_letters
            .into_iter()
            .filter(|d| d.offset.is_some_and(|o| o >= first_kept))
            .collect(),
        ignored: 0,
    }
}
