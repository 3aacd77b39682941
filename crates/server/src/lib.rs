//! The REST API (`app`) and the long-lived service (`serve`) that runs the
//! pipeline, the file sources, the expiry sweeper and the API together.

mod api;
mod crowdsec;
pub mod digest;
mod error;
mod runs_api;
mod service;

pub use api::{AppState, MAX_INFLATED_BYTES, app};
pub use crowdsec::{Bouncers, CsDecision, CsStream};
pub use error::ApiError;
pub use service::{digest_job, serve};
