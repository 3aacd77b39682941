//! Sightings pushed to a real local HTTP server standing in for MISP's
//! `POST /sightings/add`: the exact bodies and the Authorization header,
//! a 500 that leaves everything queued and is retried, nothing pushed twice
//! across a restart (the store reopened from its file).

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{TimeZone, Utc};
use riposte_intel::feed::{FeedConfig, FeedFormat, Location};
use riposte_intel::import::FeedDefaults;
use riposte_intel::sightings::{PushError, PushReport, PushState, SightingPush, push_now};
use riposte_model::IndicatorKind;
use riposte_store::{QueuedSighting, Store};
use serde_json::{Value, json};

/// (Authorization header, body) of one request.
type Received = (Option<String>, Value);

#[derive(Clone, Default)]
struct Misp {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answer this many requests with 500 first.
    fail: Arc<Mutex<usize>>,
}

async fn add(State(s): State<Misp>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.received.lock().unwrap().push((auth, body));
    let mut fail = s.fail.lock().unwrap();
    if *fail > 0 {
        *fail -= 1;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"message": "database is down"})),
        )
            .into_response();
    }
    Json(json!({"message": "Sightings added"})).into_response()
}

async fn serve(state: Misp) -> String {
    let app = axum::Router::new()
        .route("/sightings/add", post(add))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn feed(url: &str) -> FeedConfig {
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    FeedConfig {
        name: "misp".into(),
        format: FeedFormat::MispRest,
        location: Location::Url(url.into()),
        key: Some("test-key".into()),
        interval: std::time::Duration::from_secs(3600),
        snapshot: false,
        max_age: None,
        defaults: FeedDefaults::new("misp", now),
        max_bytes: 1 << 20,
        sightings: Some(SightingPush {
            url: url.into(),
            interval: std::time::Duration::from_secs(300),
            source: "riposte".into(),
            batch: 500,
        }),
    }
}

fn q(value: &str, source: &str, secs: i64) -> QueuedSighting {
    QueuedSighting {
        id: 0,
        feed: "misp".into(),
        kind: IndicatorKind::Ip,
        value: value.into(),
        source: source.into(),
        seen_at: Utc.timestamp_opt(secs, 0).unwrap(),
        count: 1,
    }
}

async fn queue(store: &Arc<dyn Store>, rows: &[QueuedSighting]) {
    let mut tx = store.begin().await.unwrap();
    tx.queue_sightings(rows).await.unwrap();
    tx.commit().await.unwrap();
}

async fn state(store: &Arc<dyn Store>) -> PushState {
    serde_json::from_str(
        &store
            .setting(&riposte_intel::sightings::state_key("misp"))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap()
}

fn body(values: &[&str], source: &str, timestamp: i64) -> (Option<String>, Value) {
    (
        Some("test-key".into()),
        json!({"values": values, "source": source, "timestamp": timestamp, "type": "0"}),
    )
}

#[tokio::test]
async fn queued_sightings_are_pushed_once_retried_after_a_500_and_survive_a_restart() {
    let misp = Misp::default();
    let base = serve(misp.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
    let f = feed(&base);

    let store = riposte_store::open(&url).await.unwrap();
    queue(
        &store,
        &[
            q("192.0.2.1", "eve", 1_773_480_000),
            q("192.0.2.2", "eve", 1_773_480_000),
        ],
    )
    .await;
    queue(&store, &[q("192.0.2.1", "auth", 1_773_480_060)]).await;

    // MISP answers 500: the failure is returned and recorded, nothing
    // leaves the queue.
    *misp.fail.lock().unwrap() = 1;
    let err = push_now(&f, &store, now).await.unwrap_err();
    assert!(
        matches!(&err, PushError::Http { pushed: 0, message, .. }
            if message == &format!("{base}/sightings/add: HTTP 500 Internal Server Error: {{\"message\":\"database is down\"}}")),
        "{err}"
    );
    let s = state(&store).await;
    assert_eq!(
        (s.pushed, s.requests, s.failures, s.last_success),
        (0, 0, 1, None)
    );
    assert!(s.last_error.as_deref().unwrap().contains("HTTP 500"));
    assert_eq!(store.queued_sightings("misp", 10).await.unwrap().len(), 3);

    // Restart: a new store handle on the same file; the retry pushes all.
    drop(store);
    let store = riposte_store::open(&url).await.unwrap();
    let r = push_now(&f, &store, now).await.unwrap();
    assert_eq!(
        r,
        PushReport {
            pushed: 3,
            requests: 2
        }
    );
    let eve = body(&["192.0.2.1", "192.0.2.2"], "riposte:eve", 1_773_480_000);
    let auth = body(&["192.0.2.1"], "riposte:auth", 1_773_480_060);
    assert_eq!(
        *misp.received.lock().unwrap(),
        [eve.clone(), eve.clone(), auth.clone()]
    );
    assert_eq!(
        state(&store).await,
        PushState {
            pushed: 3,
            requests: 2,
            last_success: Some(now),
            last_error: None,
            failures: 0,
        }
    );
    assert!(store.queued_sightings("misp", 10).await.unwrap().is_empty());

    // A second run, after another restart, sends nothing.
    drop(store);
    let store = riposte_store::open(&url).await.unwrap();
    assert_eq!(
        push_now(&f, &store, now).await.unwrap(),
        PushReport::default()
    );
    assert_eq!(misp.received.lock().unwrap().len(), 3);

    // A new sighting: exactly one more request, with only it.
    queue(&store, &[q("192.0.2.3", "eve", 1_773_480_120)]).await;
    assert_eq!(
        push_now(&f, &store, now).await.unwrap(),
        PushReport {
            pushed: 1,
            requests: 1
        }
    );
    assert_eq!(
        misp.received.lock().unwrap()[3..],
        [body(&["192.0.2.3"], "riposte:eve", 1_773_480_120)]
    );
    assert_eq!(state(&store).await.pushed, 4);
}

#[tokio::test]
async fn an_unreachable_misp_keeps_the_queue_and_counts_failures() {
    // A port nothing listens on: bind one, then close it.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let f = feed(&format!("http://{addr}"));
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    queue(&store, &[q("192.0.2.1", "eve", 1_773_480_000)]).await;
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
    for failures in 1..=2 {
        assert!(push_now(&f, &store, now).await.is_err());
        assert_eq!(state(&store).await.failures, failures);
    }
    assert_eq!(store.queued_sightings("misp", 10).await.unwrap().len(), 1);

    // A feed without push configured says so.
    let mut plain = f.clone();
    plain.sightings = None;
    assert_eq!(
        push_now(&plain, &store, now).await.unwrap_err().to_string(),
        "feed misp: sightings push is not configured"
    );
}

/// `serve`'s pusher: on its interval it pushes, a 500 is retried after the
/// backoff (capped by the interval, here 100 ms), and a stop ends it.
/// Waits for the server's requests (at most 60 s), asserting only what
/// was received, never how long it took.
#[tokio::test]
async fn the_scheduled_pusher_retries_after_a_failure_and_stops_on_shutdown() {
    let misp = Misp::default();
    let base = serve(misp.clone()).await;
    let mut f = feed(&base);
    if let Some(p) = f.sightings.as_mut() {
        p.interval = std::time::Duration::from_millis(100);
    }
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    queue(&store, &[q("192.0.2.1", "eve", 1_773_480_000)]).await;
    *misp.fail.lock().unwrap() = 1;
    let clock: Arc<dyn riposte_model::Clock> = Arc::new(riposte_model::ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap(),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks = riposte_intel::sightings::schedule(
        &[f.clone(), {
            let mut other = f.clone();
            other.name = "no-push".into();
            other.sightings = None;
            other
        }],
        store.clone(),
        clock,
        stopped,
    );
    assert_eq!(tasks.len(), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !store.queued_sightings("misp", 10).await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never pushed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let one = body(&["192.0.2.1"], "riposte:eve", 1_773_480_000);
    assert_eq!(*misp.received.lock().unwrap(), [one.clone(), one]);
    let s = state(&store).await;
    assert_eq!(
        (s.pushed, s.requests, s.failures, s.last_error),
        (1, 1, 0, None)
    );
}
