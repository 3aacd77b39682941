//! What the API test binaries share: an application state over a real
//! in-memory SQLite store and a real pipeline task.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use riposte_detect::RuleSet;
use riposte_engine::{Engine, pipeline};
use riposte_model::ManualClock;
use riposte_respond::{Responder, ResponderConfig};
use riposte_server::{AppState, Bouncers};

/// The two bouncers every state knows.
pub const NGINX: &str = "nginx-key-0123456789abcdef";
pub const FIREWALL: &str = "fw-key-0123456789abcdef";

/// A fresh state whose clock stands at 2026-03-14T10:00:00Z (returned too,
/// to be moved); records over `max_line_bytes` are cut.
pub async fn state(max_line_bytes: usize) -> (AppState, Arc<ManualClock>) {
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap(),
    ));
    let responder = Arc::new(Responder::new(ResponderConfig::default(), Vec::new()));
    let engine = Engine::new(
        store.clone(),
        Arc::new(RuleSet::default()),
        Vec::new(),
        responder.clone(),
        clock.clone(),
    );
    let executor = Arc::new(engine.executor(Arc::new(riposte_engine::NoEffects)));
    let (handle, _task) = pipeline::spawn(engine, 4);
    let secret = riposte_testkit::identity::seed(store.as_ref()).await;
    let state = AppState {
        guard: riposte_server::any_host_guard(store.clone(), secret),
        store,
        pipeline: handle,
        responder,
        executor,
        clock: clock.clone(),
        max_line_bytes,
        review_max_age: chrono::TimeDelta::hours(24),
        bouncers: Arc::new(Bouncers::new(vec![
            ("nginx".into(), NGINX.into()),
            ("firewall".into(), FIREWALL.into()),
        ])),
    };
    (state, clock)
}

#[allow(dead_code)] // not every test binary uses every helper
/// `req` with the fixture admin's key, unless it carries credentials.
pub fn as_admin(
    req: axum::http::Request<axum::body::Body>,
) -> axum::http::Request<axum::body::Body> {
    with_key(req, riposte_testkit::identity::ADMIN)
}

#[allow(dead_code)] // not every test binary uses every helper
/// `req` with `key` as its bearer, unless it carries credentials already.
pub fn with_key(
    mut req: axum::http::Request<axum::body::Body>,
    key: &str,
) -> axum::http::Request<axum::body::Body> {
    if !req.headers().contains_key("authorization") {
        req.headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    req
}
