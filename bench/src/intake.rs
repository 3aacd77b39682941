//! The API intake entries (`riposte-bench N intake`): `POST /api/v1/events`
//! through the router in-process (`oneshot`), wall time from the request to
//! the answer (read, inflate, split, decode, commit to a SQLite file store),
//! 10,000 Suricata EVE alerts per request (the per-request limit) as NDJSON,
//! gzip'd NDJSON and a JSON array, and 10,000 sshd lines as a JSON array of
//! strings. The best of five requests per body; N is not used.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use riposte_model::ManualClock;
use riposte_respond::{Responder, ResponderConfig};
use tower::ServiceExt;

const RECORDS: usize = 10_000;

/// An API state over a SQLite file store in `dir`, with no rules, whose
/// keys are hashed under `secret`.
pub(crate) async fn app_state(
    dir: &std::path::Path,
    secret: riposte_auth::ServerSecret,
) -> riposte_server::AppState {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let store = riposte_store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("store: {e}"));
    let clock = Arc::new(ManualClock::new(crate::start()));
    let responder = Arc::new(Responder::new(ResponderConfig::default(), Vec::new()));
    let engine = riposte_engine::Engine::new(
        store.clone(),
        Arc::new(riposte_detect::RuleSet::default()),
        Vec::new(),
        responder.clone(),
        clock.clone(),
    );
    let executor = Arc::new(engine.executor(Arc::new(riposte_engine::NoEffects)));
    let (handle, _task) = riposte_engine::pipeline::spawn(engine, 4);
    riposte_server::AppState {
        guard: riposte_server::any_host_guard(store.clone(), secret),
        store,
        pipeline: handle,
        responder,
        executor,
        clock,
        max_line_bytes: 1 << 20,
        review_max_age: chrono::TimeDelta::hours(24),
        bouncers: Arc::new(riposte_server::Bouncers::new(Vec::new())),
    }
}

/// The state, and a service key scoped to `events:write` (as a log
/// shipper would hold) to post with.
async fn state(dir: &std::path::Path) -> (riposte_server::AppState, String) {
    let secret = riposte_auth::ServerSecret::from_bytes([7; 32]);
    let state = app_state(dir, secret.clone()).await;
    let store = state.store.clone();
    let admin = riposte_auth::Identity::local("bench");
    let now = crate::start();
    riposte_auth::manage::add_user(
        store.as_ref(),
        &admin,
        "shipper",
        riposte_model::Role::Service,
        now,
    )
    .await
    .unwrap_or_else(|e| panic!("user: {e}"));
    let (_, key) = riposte_auth::manage::create_key(
        store.as_ref(),
        &secret,
        &admin,
        "shipper",
        "bench",
        None,
        Some(riposte_model::KeyScope::Events),
        now,
    )
    .await
    .unwrap_or_else(|e| panic!("key: {e}"));
    (state, key)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .unwrap_or_else(|e| panic!("gzip: {e}"))
}

/// Posts `body` five times; prints the best request's records/s and the
/// MB/s of the records' (inflated) bytes.
async fn post(
    (state, key): &(riposte_server::AppState, String),
    name: &str,
    uri: &str,
    content_type: &str,
    gzip: bool,
    body: &[u8],
    inflated: usize,
) {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let mut req = Request::post(uri)
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {key}"));
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        let req = req
            .body(Body::from(body.to_vec()))
            .unwrap_or_else(|e| panic!("{e}"));
        let t = Instant::now();
        let resp = riposte_server::app(state.clone())
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        let status = resp.status();
        let answer = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        best = best.min(t.elapsed().as_secs_f64());
        let summary: serde_json::Value =
            serde_json::from_slice(&answer).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            status.is_success() && summary["events"] == RECORDS,
            "{name}: {status} {summary}"
        );
    }
    println!(
        "{name:<34} {RECORDS:>9} records  {:>12.0} records/s  {:>8.1} MB/s",
        RECORDS as f64 / best,
        inflated as f64 / best / 1e6
    );
}

pub fn run() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let state = state(dir.path()).await;
        let eve: Vec<Vec<u8>> = crate::eve_alert_lines(RECORDS)
            .into_iter()
            .map(|l| l.bytes)
            .collect();
        let mut ndjson = Vec::new();
        for line in &eve {
            ndjson.extend_from_slice(line);
            ndjson.push(b'\n');
        }
        let eve_uri = "/api/v1/events?format=suricata-eve";
        let ndjson_type = "application/x-ndjson";
        post(
            &state,
            "intake NDJSON eve (10,000)",
            eve_uri,
            ndjson_type,
            false,
            &ndjson,
            ndjson.len(),
        )
        .await;
        post(
            &state,
            "intake NDJSON eve gzip (10,000)",
            eve_uri,
            ndjson_type,
            true,
            &gzip(&ndjson),
            ndjson.len(),
        )
        .await;
        let mut array = b"[".to_vec();
        for (i, line) in eve.iter().enumerate() {
            if i > 0 {
                array.push(b',');
            }
            array.extend_from_slice(line);
        }
        array.push(b']');
        let json_type = "application/json";
        post(
            &state,
            "intake JSON array eve (10,000)",
            eve_uri,
            json_type,
            false,
            &array,
            array.len(),
        )
        .await;
        let sshd: Vec<String> = crate::sshd_lines(RECORDS)
            .into_iter()
            .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
            .collect();
        let strings = serde_json::to_vec(&sshd).unwrap_or_else(|e| panic!("{e}"));
        post(
            &state,
            "intake JSON strings sshd (10,000)",
            "/api/v1/events?format=syslog",
            json_type,
            false,
            &strings,
            strings.len(),
        )
        .await;
    });
}
