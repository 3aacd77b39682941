//! Running configured sources against the pipeline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, FileTail, Format, TailPosition};
use riposte_model::Clock;
use riposte_store::{Checkpoint, Store};
use tokio::sync::watch;

use crate::pipeline::{PipelineError, PipelineHandle};

/// Bounds on what one read may hold (`ingest:` in riposte.yaml), shared by
/// every source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    /// Longer lines are cut, dead-lettered and skipped.
    pub max_line_bytes: usize,
    /// Records per batch (and per transaction).
    pub batch_lines: usize,
    /// How long a file source waits at end of file before looking again;
    /// also the NATS fetch wait, and how long a network source gathers a
    /// batch (at most 200 ms).
    pub poll_interval: Duration,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: 1 << 20,
            batch_lines: 1000,
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// What every source task is given: the limits, the store (for its
/// checkpoints), the clock, the pipeline its batches go to, and the shutdown
/// signal.
#[derive(Clone, Debug)]
pub struct SourceCtx {
    pub limits: IngestLimits,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub pipeline: PipelineHandle,
    pub shutdown: watch::Receiver<bool>,
}

/// Follows one file until `shutdown` turns true: reads a batch on a blocking
/// thread, decodes it there, submits it with the offset after it, and waits
/// for the commit before reading on. Restarting resumes at the committed
/// offset, so every line is processed exactly once across crashes.
pub async fn run_file_source(
    name: String,
    path: PathBuf,
    format: Format,
    options: DecodeOptions,
    read_rotated: bool,
    ctx: SourceCtx,
) -> Result<(), SourceError> {
    let SourceCtx {
        limits,
        store,
        clock,
        pipeline,
        mut shutdown,
    } = ctx;
    let start = store
        .checkpoint(&name)
        .await
        .map_err(|e| SourceError::Store(e.to_string()))?
        .map(|c| TailPosition {
            offset: c.offset,
            identity: c.identity,
        });
    let mut tail = loop {
        let p = path.clone();
        let start = start.clone();
        match tokio::task::spawn_blocking(move || {
            FileTail::resume(&p, start.as_ref(), read_rotated)
        })
        .await
        {
            Ok(Ok(t)) => break t,
            Ok(Err(e)) => {
                tracing::warn!(source = %name, path = %path.display(), error = %e, "cannot open source; retrying");
            }
            Err(e) => return Err(SourceError::Io(e.to_string())),
        }
        if wait_or_shutdown(&mut shutdown, limits.poll_interval * 4).await {
            return Ok(());
        }
    };
    let mut decoder = Decoder::new(format, &options);
    tracing::info!(
        source = %name,
        path = %path.display(),
        offset = start.as_ref().map_or(0, |s| s.offset),
        "following file"
    );
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let source = name.clone();
        let now = clock.now();
        let (tail_back, decoder_back, read) = tokio::task::spawn_blocking(move || {
            let read = tail
                .read_batch(limits.batch_lines, limits.max_line_bytes)
                .map(|b| {
                    let ctx = DecodeCtx {
                        source: &source,
                        now,
                    };
                    let checkpoint = Checkpoint {
                        offset: b.end_offset,
                        identity: b.identity,
                    };
                    (
                        decoder.decode_batch(&b.lines, &ctx),
                        b.lines.len(),
                        checkpoint,
                    )
                });
            (tail, decoder, read)
        })
        .await
        .map_err(|e| SourceError::Io(e.to_string()))?;
        tail = tail_back;
        decoder = decoder_back;
        match read {
            Ok((_, 0, _)) => {
                if wait_or_shutdown(&mut shutdown, limits.poll_interval).await {
                    return Ok(());
                }
            }
            Ok((decoded, _, end)) => {
                match pipeline.submit(decoded, Some((name.clone(), end))).await {
                    Ok(_) => {}
                    Err(PipelineError::Stopped) => return Ok(()),
                    Err(e) => {
                        // The batch was not committed; its checkpoint did not move,
                        // so a restart re-reads it. Stop this source rather than
                        // skip data.
                        return Err(SourceError::Pipeline(e.to_string()));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(source = %name, error = %e, "read failed; retrying");
                if wait_or_shutdown(&mut shutdown, limits.poll_interval).await {
                    return Ok(());
                }
            }
        }
    }
}

/// Sleeps for `d`; true if shutdown was requested meanwhile.
async fn wait_or_shutdown(shutdown: &mut watch::Receiver<bool>, d: std::time::Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("store: {0}")]
    Store(String),
    #[error("i/o: {0}")]
    Io(String),
    #[error("pipeline: {0}")]
    Pipeline(String),
}
