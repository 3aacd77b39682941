#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! The router in-process (`oneshot`), against a real in-memory SQLite store
//! and a real pipeline task.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use riposte_respond::{Responder, ResponderConfig};
use riposte_server::{AppState, app};
use serde_json::Value;
use tower::ServiceExt;

mod common;

async fn state() -> AppState {
    common::state(200).await.0
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app(state.clone())
        .oneshot(common::as_admin(req))
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let s = state().await;
    let (status, body) = call(&s, post("/api/v1/events?format=syslog", "[\"unterminated")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "invalid JSON body: EOF while parsing a string at line 1 column 14"
    );

    let (status, body) = call(
        &s,
        Request::get("/api/v1/alerts?limit=many")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");

    let (status, body) = call(
        &s,
        Request::get("/api/v1/decisions?state=pending")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "unknown decision state \"pending\" (valid: active, expired, revoked, simulated, pending_approval)"
    );

    let (status, body) = call(
        &s,
        Request::get("/api/v1/cases/123")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("\"123\" is not a case id"))
    );
}

#[tokio::test]
async fn posted_records_are_bounded_like_file_lines() {
    let s = state().await;
    let ok = "Mar 14 09:27:01 bastion sshd[2303]: Failed password for root from 203.0.113.7 port 52230 ssh2";
    let long = format!("Mar 14 09:27:01 bastion sshd[2303]: {}", "x".repeat(500));
    let body = serde_json::to_string(&[ok, &long, "not syslog"]).unwrap();
    let (status, summary) = call(&s, post("/api/v1/events?format=syslog", &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        summary,
        serde_json::json!({"events": 1, "dead_letters": 2, "ignored": 0, "alerts": 0, "decisions": 0})
    );

    let (_, letters) = call(
        &s,
        Request::get("/api/v1/dead-letters")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let mut reasons: Vec<(u64, String, u64)> = letters
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["offset"].as_u64().unwrap(),
                d["reason"].as_str().unwrap().to_owned(),
                d["raw_len"].as_u64().unwrap(),
            )
        })
        .collect();
    reasons.sort();
    let n = long.len() as u64;
    assert_eq!(n, 536);
    assert_eq!(
        reasons[0],
        (
            1,
            format!("record of {n} bytes exceeds the limit of 200 bytes"),
            n
        )
    );
    assert_eq!(reasons[1].0, 2);
    assert!(
        reasons[1].1.starts_with("not a syslog line"),
        "{}",
        reasons[1].1
    );

    let (_, health) = call(
        &s,
        Request::get("/api/v1/status").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(health["status"], "ok");
    assert_eq!(
        (
            health["counts"]["events"].as_u64(),
            health["counts"]["dead_letters"].as_u64()
        ),
        (Some(1), Some(2))
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn post_bytes(
    uri: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut req = Request::post(uri).header("content-type", content_type);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.body(Body::from(body)).unwrap()
}

/// NDJSON bodies, plain and gzip'd, are split into records with their byte
/// offsets; bad lines are dead-lettered with those offsets.
#[tokio::test]
async fn ndjson_bodies_plain_and_gzipped_are_ingested_line_by_line() {
    let s = state().await;
    let eve =
        r#"{"timestamp":"2026-03-14T09:26:53.000000+0000","event_type":"dns","src_ip":"10.0.0.1"}"#;
    let body = format!("{eve}\n{{\"truncated\n\n{eve}\r\n");
    let (status, summary) = call(
        &s,
        post_bytes(
            "/api/v1/events?format=suricata-eve",
            "application/x-ndjson",
            None,
            body.clone().into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["events"], 2);
    assert_eq!(summary["dead_letters"], 1);

    let (status, summary) = call(
        &s,
        post_bytes(
            "/api/v1/events?format=suricata-eve",
            "application/x-ndjson",
            Some("gzip"),
            gzip(body.as_bytes()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["events"], 2);
    assert_eq!(summary["dead_letters"], 1);

    let letters = s.store.list_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 2);
    for dl in &letters {
        assert_eq!(dl.offset, Some(eve.len() as u64 + 1));
        assert_eq!(dl.raw, b"{\"truncated");
        assert_eq!(dl.source, "api");
    }
}

/// A gzip body that inflates past the limit is refused before it is held
/// whole, and a body that is not gzip at all is a 400.
#[tokio::test]
async fn gzip_bombs_and_bad_encodings_are_refused() {
    let s = state().await;
    let bomb = gzip(&vec![
        b'\n';
        (riposte_server::MAX_INFLATED_BYTES + 1) as usize
    ]);
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb is small: {}",
        bomb.len()
    );
    let (status, body) = call(
        &s,
        post_bytes(
            "/api/v1/events?format=syslog",
            "application/x-ndjson",
            Some("gzip"),
            bomb,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["error"],
        format!(
            "the body inflates to more than {} bytes",
            riposte_server::MAX_INFLATED_BYTES
        )
    );

    let (status, body) = call(
        &s,
        post_bytes(
            "/api/v1/events?format=syslog",
            "application/x-ndjson",
            Some("gzip"),
            b"plain".to_vec(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid gzip body: "),
        "{body}"
    );

    let (status, body) = call(
        &s,
        post_bytes(
            "/api/v1/events?format=syslog",
            "application/x-ndjson",
            Some("br"),
            b"x".to_vec(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "unsupported Content-Encoding \"br\" (valid: gzip, identity)"
    );
    assert_eq!(s.store.counts().await.unwrap().events, 0);
}

#[tokio::test]
async fn review_queue_and_breaker_state_are_served() {
    use riposte_model::{AlertId, Confidence, Origin, RunId, Scope};
    let s = state().await;
    let now = Utc.with_ymd_and_hms(2026, 3, 13, 9, 0, 0).unwrap();
    let responder = Responder::new(ResponderConfig::default(), Vec::new());
    let mut tx = s.store.begin().await.unwrap();
    let origin = |rule: &str| Origin::Playbook {
        playbook: "ssh-ban".into(),
        step: "ban".into(),
        run: RunId::new(),
        rule: Some(rule.into()),
        alert: Some(AlertId::new()),
    };
    for (value, at) in [("203.0.113.7", now), ("203.0.113.8", s.clock.now())] {
        let req = riposte_respond::DecisionRequest::ban(
            Scope::Ip,
            value,
            Some(chrono::TimeDelta::hours(48)),
            "ssh brute force",
            Confidence::new(90).unwrap(),
            origin("ssh-brute-force"),
        );
        responder.decide(&mut *tx, req, at).await.unwrap();
    }
    tx.set_setting(
        riposte_respond::BREAKER_KEY,
        Some(r#"{"tripped_at":"2026-03-14T09:59:00Z","reason":"61 automated decisions"}"#),
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
    let (status, body) = call(&s, get("/api/v1/review")).await;
    assert_eq!(status, StatusCode::OK);
    let items: Vec<(String, bool, String)> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["decision"]["value"].as_str().unwrap().to_owned(),
                i["flagged"].as_bool().unwrap(),
                i["decision"]["review"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    // Oldest first; the one from 25 hours ago is overdue.
    assert_eq!(
        items,
        [
            ("203.0.113.7".to_owned(), true, "pending".to_owned()),
            ("203.0.113.8".to_owned(), false, "pending".to_owned()),
        ]
    );
    let (_, body) = call(&s, get("/api/v1/review?flagged=true")).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["decision"]["value"], "203.0.113.7");
    // With more pending than the limit, the oldest come first (regression:
    // the newest were taken, and `flagged` filtered after the limit).
    for uri in [
        "/api/v1/review?limit=1",
        "/api/v1/review?limit=1&flagged=true",
    ] {
        let (_, body) = call(&s, get(uri)).await;
        assert_eq!(body.as_array().unwrap().len(), 1, "{uri}");
        assert_eq!(body[0]["decision"]["value"], "203.0.113.7", "{uri}");
    }

    let (status, body) = call(&s, get("/api/v1/breaker")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::json!({"tripped": true, "tripped_at": "2026-03-14T09:59:00Z", "reason": "61 automated decisions"})
    );

    // The audit log holds both decisions, newest first.
    let (status, body) = call(&s, get("/api/v1/audit?limit=10")).await;
    assert_eq!(status, StatusCode::OK);
    let entries: Vec<(&str, &str, &str)> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["actor"]["playbook"].as_str().unwrap(),
                a["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("decision.create", "ssh-ban", "ssh brute force"),
            ("decision.create", "ssh-ban", "ssh brute force"),
        ]
    );
}

#[tokio::test]
async fn enforcer_health_is_served() {
    use riposte_respond::{Enforcer, FileEnforcer};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    // A list file whose directory is a file: every write fails.
    std::fs::write(dir.path().join("not-a-dir"), "").unwrap();
    let broken = dir.path().join("not-a-dir/blocklist.txt");
    let responder = Arc::new(Responder::new(
        ResponderConfig::default(),
        vec![
            Enforcer::File(FileEnforcer::new(dir.path().join("ok.txt"))),
            Enforcer::File(FileEnforcer::new(broken.clone())),
        ],
    ));
    let s = AppState {
        responder: responder.clone(),
        ..state().await
    };
    let now = s.clock.now();
    assert!(responder.reconcile(s.store.as_ref(), now).await.is_err());
    let (status, body) = call(
        &s,
        Request::get("/api/v1/enforcers")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ok = &body[0];
    assert_eq!(
        (
            ok["failures"].as_u64(),
            ok["retry_at"].is_null(),
            ok["last_ok"].as_str()
        ),
        (Some(0), true, Some("2026-03-14T10:00:00Z"))
    );
    let bad = &body[1];
    assert_eq!(bad["name"], format!("file:{}", broken.display()));
    assert_eq!(bad["failures"], 1);
    assert_eq!(bad["retry_at"], "2026-03-14T10:00:10Z");
    assert_eq!(
        bad["last_error"],
        format!("writing {}: File exists (os error 17)", broken.display())
    );
}

/// A body that sends `chunks` and then neither ends nor sends more: a
/// handler that waits for the end of the body never answers.
fn endless(content_type: &str, encoding: Option<&str>, chunks: Vec<Vec<u8>>) -> Request<Body> {
    use futures_util::StreamExt;
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>))
        .chain(futures_util::stream::pending());
    let mut req =
        Request::post("/api/v1/events?format=syslog").header("content-type", content_type);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.body(Body::from_stream(stream)).unwrap()
}

/// Answers within 30 s, or fails saying the body was read to its end first.
async fn call_soon(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    tokio::time::timeout(std::time::Duration::from_secs(30), call(state, req))
        .await
        .expect("no answer: the handler waited for the end of a body past its limits")
}

/// `pattern` repeated to `total` bytes, gzip'd one member per MiB (gzip
/// readers inflate concatenated members as one stream): 64 MiB of short
/// lines in about 64 KiB, without compressing 64 MiB in a debug build.
fn gzip_members(pattern: &[u8], total: usize) -> Vec<u8> {
    let mib = pattern.repeat((1 << 20) / pattern.len());
    let member = gzip(&mib);
    member.repeat(total / mib.len())
}

/// Intake parses as the body streams in and stops at the first record past
/// the limit: the 10,001st element of a JSON array is refused as soon as
/// it starts, whatever follows (here: a body that never ends).
#[tokio::test]
async fn the_record_past_the_limit_is_refused_as_soon_as_it_arrives() {
    let s = state().await;
    let records = vec!["x"; 10_001];
    let mut array = serde_json::to_vec(&records).unwrap();
    array.pop(); // the closing bracket never comes
    array.push(b',');
    let (status, body) = call_soon(&s, endless("application/json", None, vec![array])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("more than 10000 records in one request; the limit is 10000")
        )
    );

    // Exactly the limit is accepted.
    let body = serde_json::to_string(&vec!["x"; 10_000]).unwrap();
    let (status, summary) = call(&s, post("/api/v1/events?format=syslog", &body)).await;
    assert_eq!(
        (status, summary["dead_letters"].as_u64()),
        (StatusCode::OK, Some(10_000))
    );

    // A gzip'd NDJSON bomb: 64 KiB inflating to 64 MiB of two-byte lines
    // (the old handler held the 64 MiB and a `Line` for each of its 32 M
    // lines, ~2 GB, before counting them).
    let bomb = gzip_members(b"a\n", riposte_server::MAX_INFLATED_BYTES as usize);
    assert!(bomb.len() < 128 << 10, "the bomb is small: {}", bomb.len());
    let chunks: Vec<Vec<u8>> = bomb.chunks(8 << 10).map(<[u8]>::to_vec).collect();
    let (status, body) = call_soon(&s, endless("application/x-ndjson", Some("gzip"), chunks)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("more than 10000 records in one request; the limit is 10000")
        )
    );
    // And the same bomb of blank lines (no records) meets the inflate limit.
    let mut blank = gzip_members(b"\n", riposte_server::MAX_INFLATED_BYTES as usize);
    blank.extend_from_slice(&gzip(b"\n"));
    let (status, body) = call_soon(
        &s,
        endless("application/x-ndjson", Some("gzip"), vec![blank]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str().map(str::to_owned)),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(format!(
                "the body inflates to more than {} bytes",
                riposte_server::MAX_INFLATED_BYTES
            ))
        )
    );
    let counts = s.store.counts().await.unwrap();
    assert_eq!(
        (counts.events, counts.dead_letters),
        (0, 10_000),
        "only the request at the limit was stored"
    );
}

/// A body past 10 MiB is refused in the API's error shape, whether its
/// length is announced or found while reading.
#[tokio::test]
async fn a_body_past_ten_mib_is_refused() {
    let s = state().await;
    let big = vec![b' '; (10 << 20) + 1];
    let (status, body) = call(
        &s,
        post_bytes(
            "/api/v1/events?format=syslog",
            "application/json",
            None,
            big.clone(),
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("the body is larger than 10485760 bytes")
        )
    );
    let chunks: Vec<Vec<u8>> = big.chunks(1 << 20).map(<[u8]>::to_vec).collect();
    let (status, body) = call_soon(&s, endless("application/json", None, chunks)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("the body is larger than 10485760 bytes")
        )
    );
}

/// Records split across chunks anywhere — inside strings, escapes, nested
/// brackets — come out exactly as whole-body parsing gives them: strings as
/// their text, anything else as compact JSON, numbered by position.
#[tokio::test]
async fn json_records_split_across_chunks_anywhere_decode_exactly() {
    let body = concat!(
        " [\n  \"quote \\\" and ] and [ and \\\\\",\n",
        "  {\"k\": \"}]\\\"[{\", \"n\": [1, 2.5, -0, 1e3, {\"deep\": [[], {}]}], \"t\": true, \"z\": null},\n",
        "  \"\\u00e9\\ud83d\\ude00\\n\\t\\/\",\n",
        "  [\"a\", {\"b\": \"\\\\\"}], 12 , false\n] \n"
    );
    let whole: Vec<Value> = serde_json::from_str(body).unwrap();
    let expected: Vec<(u64, Vec<u8>)> = whole
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let raw = match v {
                Value::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            };
            (i as u64, raw)
        })
        .collect();
    assert_eq!(expected.len(), 6);
    for size in [1, 2, 3, 5, 7, 64] {
        let s = state().await;
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
            .as_bytes()
            .chunks(size)
            .map(|c| Ok(c.to_vec()))
            .collect();
        let req = Request::post("/api/v1/events?format=syslog")
            .header("content-type", "application/json")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
        let (status, summary) = call(&s, req).await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["dead_letters"], 6, "chunks of {size}: {summary}");
        let mut got: Vec<(u64, Vec<u8>)> = s
            .store
            .list_dead_letters(10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.offset.unwrap(), d.raw))
            .collect();
        got.sort();
        assert_eq!(got, expected, "chunks of {size}");
    }

    // One object (not an array) is one record, however it is split.
    let s = state().await;
    let one = "{\"msg\": \"]\\\"[\", \"n\": 1}";
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        one.as_bytes().chunks(1).map(|c| Ok(c.to_vec())).collect();
    let req = Request::post("/api/v1/events?format=syslog")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let (status, summary) = call(&s, req).await;
    assert_eq!(
        (status, summary["dead_letters"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let letters = s.store.list_dead_letters(10).await.unwrap();
    assert_eq!(letters[0].raw, br#"{"msg":"]\"[","n":1}"#);
    assert_eq!(letters[0].offset, Some(0));
}

/// NDJSON lines split across chunks keep their byte offsets, their cut at
/// the record limit and CRLF endings, as whole-body splitting gave them.
#[tokio::test]
async fn ndjson_lines_split_across_chunks_keep_offsets_and_cuts() {
    let long = "y".repeat(450);
    let body = format!("first\r\n\n  \nsecond line\n{long}\r\nlast-no-newline");
    for size in [1, 3, 16, 4096] {
        let s = state().await;
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
            .as_bytes()
            .chunks(size)
            .map(|c| Ok(c.to_vec()))
            .collect();
        let req = Request::post("/api/v1/events?format=syslog")
            .header("content-type", "application/x-ndjson")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
        let (status, summary) = call(&s, req).await;
        assert_eq!(
            (status, summary["dead_letters"].as_u64()),
            (StatusCode::OK, Some(4))
        );
        let mut got: Vec<(u64, Vec<u8>, u64)> = s
            .store
            .list_dead_letters(10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.offset.unwrap(), d.raw, d.raw_len))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (0, b"first".to_vec(), 5),
                (11, b"second line".to_vec(), 11),
                (23, long.as_bytes()[..200].to_vec(), 450),
                (475, b"last-no-newline".to_vec(), 15),
            ],
            "chunks of {size}"
        );
    }
}
