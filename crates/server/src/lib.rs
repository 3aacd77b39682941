//! The REST API (`app`), the CrowdSec bouncer API and the TAXII server:
//! routers and their handlers only. What runs them together with the
//! pipeline, the sources and the scheduled jobs is `riposte-service`'s
//! `serve`.

mod api;
mod crowdsec;
mod error;
mod guard;
mod intake;
mod intel_api;
mod runs_api;
mod secret;
pub mod taxii;

pub use api::{AppState, MAX_INFLATED_BYTES, app, route_table};
pub use crowdsec::{Bouncers, CsDecision, CsStream};
pub use error::ApiError;
pub use guard::{
    Access, Body, ClientAddr, FailureLimiter, Guard, HostPolicy, any_host_guard, client_addr,
    limit_failures,
};
pub use taxii::{TaxiiClient, TaxiiCollection, TaxiiConfig, TaxiiState, taxii_router};
