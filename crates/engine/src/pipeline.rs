//! The pipeline task: the single owner of the [`Engine`], fed through a
//! bounded channel. Sources and the HTTP API submit batches and wait for the
//! acknowledgement, which comes only after the batch is committed — so an
//! acknowledged event is a stored event, and a full channel slows the
//! producers down instead of growing a queue.

use riposte_ingest::DecodedBatch;
use riposte_store::Checkpoint;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::{BatchReport, Engine};

/// Counts returned to a submitter once its batch is committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchSummary {
    pub events: u64,
    pub dead_letters: u64,
    pub ignored: u64,
    pub alerts: u64,
    pub decisions: u64,
}

impl From<&BatchReport> for BatchSummary {
    fn from(r: &BatchReport) -> Self {
        Self {
            events: r.events,
            dead_letters: r.dead_letters.len() as u64,
            ignored: r.ignored,
            alerts: r.alerts.len() as u64,
            decisions: r.decisions.len() as u64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the pipeline has stopped")]
    Stopped,
    #[error("batch not committed: {0}")]
    Failed(String),
}

enum Command {
    Batch {
        batch: DecodedBatch,
        checkpoint: Option<(String, Checkpoint)>,
        ack: oneshot::Sender<Result<BatchSummary, String>>,
    },
    Sweep {
        ack: oneshot::Sender<Result<usize, String>>,
    },
}

/// A cloneable way to submit work to the pipeline.
#[derive(Clone, Debug)]
pub struct PipelineHandle {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Batch { batch, .. } => write!(f, "Batch({} events)", batch.events.len()),
            Command::Sweep { .. } => f.write_str("Sweep"),
        }
    }
}

impl PipelineHandle {
    /// Submits a batch and waits until it is committed (with `checkpoint`).
    pub async fn submit(
        &self,
        batch: DecodedBatch,
        checkpoint: Option<(String, Checkpoint)>,
    ) -> Result<BatchSummary, PipelineError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Batch {
                batch,
                checkpoint,
                ack,
            })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        done.await
            .map_err(|_| PipelineError::Stopped)?
            .map_err(PipelineError::Failed)
    }

    /// Expires due decisions and reconciles enforcers; returns how many expired.
    pub async fn sweep(&self) -> Result<usize, PipelineError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Sweep { ack })
            .await
            .map_err(|_| PipelineError::Stopped)?;
        done.await
            .map_err(|_| PipelineError::Stopped)?
            .map_err(PipelineError::Failed)
    }
}

/// Starts the pipeline task. It runs until every handle is dropped, finishing
/// the batches already queued, and then returns the engine.
pub fn spawn(
    mut engine: Engine,
    capacity: usize,
) -> (PipelineHandle, tokio::task::JoinHandle<Engine>) {
    let (tx, mut rx) = mpsc::channel::<Command>(capacity.max(1));
    let task = tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Command::Batch {
                    batch,
                    checkpoint,
                    ack,
                } => {
                    if let Some(bound) = engine.backlog_bound() {
                        engine.hold_back(bound).await;
                    }
                    let cp = checkpoint.as_ref().map(|(s, c)| (s.as_str(), c));
                    let result = engine.commit_batch(batch, cp).await;
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "batch commit failed");
                    }
                    let _ = ack.send(
                        result
                            .map(|r| BatchSummary::from(&r))
                            .map_err(|e| e.to_string()),
                    );
                }
                Command::Sweep { ack } => {
                    let result = engine.sweep().await;
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "decision sweep failed");
                    }
                    let _ = ack.send(result.map(|v| v.len()).map_err(|e| e.to_string()));
                }
            }
        }
        engine
    });
    (PipelineHandle { tx }, task)
}
