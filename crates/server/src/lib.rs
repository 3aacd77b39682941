//! The REST API (`app`) and the long-lived service (`serve`) that runs the
//! pipeline, the file sources, the expiry sweeper and the API together.

mod api;
mod crowdsec;
pub mod digest;
mod error;
mod intake;
mod intel_api;
mod runs_api;
mod secret;
mod service;
pub mod taxii;

pub use api::{AppState, MAX_INFLATED_BYTES, app};
pub use crowdsec::{Bouncers, CsDecision, CsStream};
pub use error::ApiError;
pub use service::{digest_job, serve};
pub use taxii::{TaxiiState, taxii_router};
