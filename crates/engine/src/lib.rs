//! The pipeline that turns decoded input into alerts, cases, playbook runs
//! and decisions, committing each batch atomically with its source
//! checkpoint; and the configuration that assembles it.

mod case_trigger;
mod config;
mod dbactions;
mod engine;
pub mod evtx_dir;
pub mod executor;
mod host;
pub mod listener;
pub mod nats;
mod notify_config;
pub mod pipeline;
mod respond_config;
pub mod runs;
pub mod source;
mod taxii_config;

pub use case_trigger::CaseTriggers;
pub use config::{BouncerConfig, Config, ExecutorSettings, IngestLimits, SourceConfig, SourceKind};
pub use engine::{
    BatchReport, BuildError, Engine, EngineError, Refusal, effects_for, executor_from_config,
    load_logic,
};
pub use executor::{Effects, Executor, ExecutorConfig, NoEffects};
pub use pipeline::{BatchSummary, PipelineError, PipelineHandle};
pub use riposte_store::Checkpoint;
pub use taxii_config::{TaxiiClient, TaxiiCollection, TaxiiConfig};
