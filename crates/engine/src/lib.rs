//! The pipeline that turns decoded input into alerts, cases, playbook runs
//! and decisions, committing each batch atomically with its source
//! checkpoint; the sources that feed it and the executor that finishes
//! its runs. What assembles it from a configuration is `riposte-service`'s.

mod case_trigger;
mod dbactions;
mod engine;
pub mod evtx_dir;
pub mod executor;
mod host;
pub mod listener;
pub mod nats;
pub mod pipeline;
pub mod runs;
pub mod source;

pub use case_trigger::CaseTriggers;
pub use engine::{BatchReport, Engine, EngineError, Refusal};
pub use executor::{Effects, Executor, ExecutorConfig, NoEffects};
pub use pipeline::{BatchSummary, PipelineError, PipelineHandle};
pub use riposte_store::Checkpoint;
pub use source::IngestLimits;
