//! The composition root: reads the whole `riposte.yaml` (each part's section
//! with that part's types), builds the engine, executor, responder and
//! outside effects it names, and runs them as one service (`serve`): the
//! sources, the executor, the expiry sweeper, the threat-intel feeds, the
//! review digest and the API. The only crate that depends on every other, so
//! that the parts themselves need not know how they are put together.

mod api_config;
mod assemble;
mod config;
pub mod digest;
pub mod http;
mod notify_config;
mod respond_config;
mod serve;
mod source_config;
mod taxii_config;

pub use api_config::{ApiConfig, AuthConfig, TlsFiles};
pub use assemble::{BuildError, build_engine, effects_for, executor_from_config, load_logic};
pub use config::{BouncerConfig, Config, ExecutorSettings};
pub use serve::{digest_job, serve};
pub use source_config::{SourceConfig, SourceKind};
