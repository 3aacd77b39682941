//! Feeds fetched over HTTP from a real local server: the MISP REST API
//! serving the CIRCL corpus feed's attributes (Authorization checked,
//! paged), and a CSV blocklist with ETag / If-None-Match.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{TimeZone, Utc};
use riposte_intel::feed::{FeedConfig, FeedFormat, FeedState, Location, run_feed, state_key};
use riposte_intel::import::FeedDefaults;
use riposte_intel::import::csv::CsvFormat;
use serde_json::{Value, json};

/// Every attribute of the corpus feed's events, as restSearch returns them
/// (with `Event` context and the event's tags, `includeEventTags`).
fn rest_attributes() -> Option<Vec<Value>> {
    let dir = riposte_testkit::corpus("misp/feed")?;
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut uuids: Vec<&String> = manifest.as_object().unwrap().keys().collect();
    uuids.sort();
    let mut out = Vec::new();
    for uuid in uuids {
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{uuid}.json"))).unwrap(),
        )
        .unwrap();
        let e = &doc["Event"];
        let ctx = json!({"uuid": e["uuid"], "info": e["info"]});
        let event_tags = e.get("Tag").cloned().unwrap_or(json!([]));
        let mut push = |attrs: Option<&Vec<Value>>| {
            for a in attrs.into_iter().flatten() {
                let mut a = a.clone();
                let mut tags = event_tags.as_array().unwrap().clone();
                tags.extend(
                    a.get("Tag")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
                a["Tag"] = Value::Array(tags);
                a["Event"] = ctx.clone();
                out.push(a);
            }
        };
        push(e.get("Attribute").and_then(Value::as_array));
        for o in e
            .get("Object")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            push(o.get("Attribute").and_then(Value::as_array));
        }
    }
    Some(out)
}

#[derive(Clone)]
struct Misp {
    attributes: Arc<Vec<Value>>,
    requests: Arc<AtomicUsize>,
}

async fn rest_search(
    State(s): State<Misp>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("test-key") {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"message": "Authentication failed."})),
        )
            .into_response();
    }
    let page = body["page"].as_u64().unwrap_or(1) as usize;
    let limit = body["limit"].as_u64().unwrap_or(u64::MAX) as usize;
    let items: Vec<Value> = s
        .attributes
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .cloned()
        .collect();
    Json(json!({"response": {"Attribute": items}})).into_response()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn feed(name: &str, format: FeedFormat, url: String, key: Option<&str>) -> FeedConfig {
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    FeedConfig {
        name: name.into(),
        format,
        location: Location::Url(url),
        key: key.map(str::to_owned),
        interval: std::time::Duration::from_secs(3600),
        snapshot: true,
        max_age: None,
        defaults: FeedDefaults::new(name, now),
        max_bytes: 64 << 20,
        sightings: None,
    }
}

#[tokio::test]
async fn misp_rest_search_with_the_key_imports_what_the_feed_folder_holds() {
    let Some(attributes) = rest_attributes() else {
        return;
    };
    assert_eq!(attributes.len(), 966);
    let state = Misp {
        attributes: Arc::new(attributes),
        requests: Arc::new(AtomicUsize::new(0)),
    };
    let base = serve(
        axum::Router::new()
            .route("/attributes/restSearch", post(rest_search))
            .with_state(state.clone()),
    )
    .await;
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();

    // Without the right key: a clear error, recorded in the feed's state.
    let err = run_feed(
        &feed("misp", FeedFormat::MispRest, base.clone(), Some("wrong")),
        &store,
        None,
        now,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("feed misp: {base}/attributes/restSearch: HTTP 403 Forbidden")
    );
    let saved: FeedState =
        serde_json::from_str(&store.setting(&state_key("misp")).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        saved.last_error.as_deref(),
        Some(&*format!(
            "{base}/attributes/restSearch: HTTP 403 Forbidden"
        ))
    );

    let r = run_feed(
        &feed("misp", FeedFormat::MispRest, base, Some("test-key")),
        &store,
        None,
        now,
        None,
    )
    .await
    .unwrap();
    // One page of 1000 attributes holds all 966.
    assert_eq!(state.requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        (
            r.import.read,
            r.import.accepted,
            r.import.rejected,
            r.import.skipped_total()
        ),
        (966, 817, 0, 149)
    );
    let counts = store.intel_counts().await.unwrap();
    let total: u64 = counts.iter().map(|c| c.indicators).sum();
    let to_ids: u64 = counts.iter().map(|c| c.to_ids).sum();
    // 817 attributes, duplicates of one (kind, value) merged in the store.
    assert_eq!(
        (total, to_ids),
        (r.added, counts.iter().map(|c| c.to_ids).sum::<u64>())
    );
    // The same distinct indicators as the feed folder itself.
    let mut folder = Vec::new();
    let dir = riposte_testkit::corpus("misp/feed").unwrap();
    riposte_intel::import::misp::import_feed_dir(
        &dir,
        &FeedDefaults::new("misp", now),
        &mut riposte_intel::import::misp::collect(&mut folder),
    )
    .unwrap();
    let mut distinct: std::collections::BTreeMap<(riposte_model::IndicatorKind, String), bool> =
        Default::default();
    for i in folder {
        *distinct.entry((i.kind, i.value.to_string())).or_default() |= i.to_ids;
    }
    let folder_to_ids = distinct.values().filter(|t| **t).count() as u64;
    assert_eq!((total, to_ids), (distinct.len() as u64, folder_to_ids));
    assert_eq!((total, to_ids), (773, 620));
}

#[tokio::test]
async fn a_csv_feed_is_fetched_again_only_when_it_changed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let not_modified = Arc::new(AtomicUsize::new(0));
    let (h, nm) = (hits.clone(), not_modified.clone());
    let app = axum::Router::new().route(
        "/ipblocklist.csv",
        get(move |headers: HeaderMap| {
            let (h, nm) = (h.clone(), nm.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("\"v1\"") {
                    nm.fetch_add(1, Ordering::SeqCst);
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                (
                    [("etag", "\"v1\""), ("last-modified", "Thu, 03 Dec 2026 10:00:00 GMT")],
                    "# first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n\"2026-12-01 00:00:00\",\"198.51.100.7\",\"443\",\"online\",\"2026-12-03\",\"QakBot\"\n\"2026-12-01 00:00:00\",\"bogus\",\"443\",\"online\",\"2026-12-03\",\"QakBot\"\n",
                )
                    .into_response()
            }
        }),
    );
    let base = serve(app).await;
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    let f = feed(
        "feodo",
        FeedFormat::Csv(CsvFormat::preset("feodo").unwrap()),
        format!("{base}/ipblocklist.csv"),
        None,
    );
    let first = run_feed(&f, &store, None, now, None).await.unwrap();
    assert!(!first.not_modified);
    assert_eq!(
        (first.import.indicators, first.import.rejected, first.added),
        (1, 1, 1)
    );
    assert_eq!(
        first.import.errors[0].to_string(),
        format!("{base}/ipblocklist.csv:3: ip \"bogus\": not an IP address or network")
    );
    let second = run_feed(&f, &store, None, now, None).await.unwrap();
    assert!(second.not_modified);
    assert_eq!(
        (
            hits.load(Ordering::SeqCst),
            not_modified.load(Ordering::SeqCst)
        ),
        (2, 1)
    );
    // Not modified is not "gone": nothing aged out.
    assert_eq!(
        store
            .lookup_indicators(riposte_model::IndicatorKind::Ip, "198.51.100.7")
            .await
            .unwrap()
            .len(),
        1
    );
    let saved: FeedState =
        serde_json::from_str(&store.setting(&state_key("feodo")).await.unwrap().unwrap()).unwrap();
    assert_eq!(saved.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        saved.last_modified.as_deref(),
        Some("Thu, 03 Dec 2026 10:00:00 GMT")
    );
}
