#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! Who may call what: every route of the API, without credentials and with
//! a key of each role, against this file's own table of what each route
//! needs; then the browser attacks (foreign `Host`, cross-site writes,
//! `text/plain` bodies) and failed-authentication limits.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use riposte_auth::Permission;
use riposte_server::{Access, AppState, Guard, HostPolicy, app, route_table};
use riposte_testkit::identity::{ADMIN, ANALYST, INTAKE, RESPONDER, VIEWER};
use serde_json::Value;
use tower::ServiceExt;

mod common;

const READ: &[&str] = &["viewer", "analyst", "responder", "admin"];
const ANALYSTS: &[&str] = &["analyst", "responder", "admin"];
const RESPONDERS: &[&str] = &["responder", "admin"];

/// Every route, what it needs, and which of the fixture users may call it.
/// Written out here rather than derived from the code's tables, so that a
/// change to either shows as a failure to be looked at.
const EXPECTED: &[(&str, &str, &str, &[&str])] = &[
    ("GET", "/api/v1/health", "public", &[]),
    ("GET", "/api/v1/status", "status:read", READ),
    ("GET", "/api/v1/alerts", "alerts:read", READ),
    ("GET", "/api/v1/cases", "cases:read", READ),
    ("GET", "/api/v1/cases/{id}", "cases:read", READ),
    ("GET", "/api/v1/decisions", "decisions:read", READ),
    ("GET", "/api/v1/review", "review:read", READ),
    ("GET", "/api/v1/breaker", "breaker:read", READ),
    ("GET", "/v1/decisions/stream", "bouncer", &[]),
    ("GET", "/v1/decisions", "bouncer", &[]),
    ("GET", "/api/v1/dead-letters", "dead-letters:read", READ),
    ("GET", "/api/v1/audit", "audit:read", READ),
    ("GET", "/api/v1/enforcers", "enforcers:read", READ),
    ("GET", "/api/v1/runs", "runs:read", READ),
    ("GET", "/api/v1/runs/{id}", "runs:read", READ),
    ("POST", "/api/v1/runs/{id}/cancel", "runs:write", RESPONDERS),
    ("GET", "/api/v1/approvals", "approvals:read", READ),
    (
        "POST",
        "/api/v1/approvals/{id}",
        "approvals:answer",
        ANALYSTS,
    ),
    ("GET", "/api/v1/playbooks", "playbooks:read", READ),
    (
        "POST",
        "/api/v1/playbooks/{id}/runs",
        "runs:write",
        RESPONDERS,
    ),
    (
        "POST",
        "/api/v1/playbooks/{id}/webhook",
        "webhook",
        RESPONDERS,
    ),
    (
        "POST",
        "/api/v1/events",
        "events:write",
        &["admin", "intake"],
    ),
    ("GET", "/api/v1/intel/lookup", "intel:read", READ),
    ("GET", "/api/v1/intel/stats", "intel:read", READ),
    ("GET", "/api/v1/intel/sightings", "intel:read", READ),
];

const KEYS: &[(&str, &str, &str)] = &[
    ("viewer", "vera", VIEWER),
    ("analyst", "alice", ANALYST),
    ("responder", "rick", RESPONDER),
    ("admin", "root-admin", ADMIN),
    ("intake", "intake", INTAKE),
];

async fn send(s: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app(s.clone()).oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

/// A request for `path` with its `{id}` filled and a harmless JSON body on
/// writes.
fn request(method: &str, path: &str, key: Option<&str>) -> Request<Body> {
    let uri = path.replace("{id}", "x1");
    let mut r = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        r = r.header("authorization", format!("Bearer {k}"));
    }
    if method == "POST" {
        let body = if path == "/api/v1/events" { "[]" } else { "{}" };
        r.header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    } else {
        r.body(Body::empty()).unwrap()
    }
}

fn access_name(access: Access) -> String {
    match access {
        Access::Public => "public".into(),
        Access::Permission(p, _) => p.as_str().into(),
        Access::Webhook => "webhook".into(),
        Access::Bouncer => "bouncer".into(),
    }
}

#[test]
fn the_route_table_is_the_expected_one() {
    let actual: Vec<(String, String, String)> = route_table()
        .into_iter()
        .map(|(path, method, access)| (method.to_string(), path.to_owned(), access_name(access)))
        .collect();
    let expected: Vec<(String, String, String)> = EXPECTED
        .iter()
        .map(|(m, p, a, _)| ((*m).to_owned(), (*p).to_owned(), (*a).to_owned()))
        .collect();
    assert_eq!(actual, expected);
}

#[tokio::test]
async fn without_credentials_every_route_but_health_is_401() {
    let s = common::state(1 << 20).await.0;
    for (method, path, access, _) in EXPECTED {
        let (status, headers, body) = send(&s, request(method, path, None)).await;
        match *access {
            "public" => {
                assert_eq!(status, StatusCode::OK, "{method} {path}");
                // Liveness says nothing else.
                assert_eq!(body, serde_json::json!({"status": "ok"}));
            }
            // The bouncer API has its own key header, refused here too.
            "bouncer" => assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}"),
            _ => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert_eq!(
                    headers.get("www-authenticate").unwrap(),
                    "Bearer realm=\"riposte\"",
                    "{method} {path}"
                );
                let expected = if *access == "webhook" {
                    "missing or wrong bearer token"
                } else {
                    "authentication required: send Authorization: Bearer <API key>"
                };
                assert_eq!(body["error"], expected, "{method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn each_role_gets_exactly_its_permissions_on_every_route() {
    let s = common::state(1 << 20).await.0;
    for (method, path, access, allowed) in EXPECTED {
        if matches!(*access, "public" | "bouncer") {
            continue;
        }
        for (role, user, key) in KEYS {
            let (status, _, body) = send(&s, request(method, path, Some(key))).await;
            if allowed.contains(role) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{role} on {method} {path}: {status} {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role} on {method} {path}: {body}"
                );
                let role_text = if *role == "intake" {
                    "service, key scope events:write".to_owned()
                } else {
                    (*role).to_owned()
                };
                let wanted = if *access == "webhook" {
                    "may not call the webhook of playbook \"x1\"".to_owned()
                } else {
                    format!("lacks permission {access}")
                };
                assert_eq!(
                    body["error"],
                    format!("{user} ({role_text}) {wanted}"),
                    "{role} on {method} {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn bad_revoked_and_disabled_keys_are_401_alike() {
    let s = common::state(1 << 20).await.0;
    let status = |key: &'static str| {
        let s = s.clone();
        async move { send(&s, request("GET", "/api/v1/alerts", Some(key))).await }
    };
    // Malformed, unknown id, and a known id with the wrong secret.
    for key in [
        "hunter2",
        "rpk_00000000000000aa_ERERERERERERERERERERERERERERERERERERERERERE",
        "rpk_7e57000000000001_IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI",
    ] {
        let (code, _, body) = status(key).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(body["error"], "invalid, revoked or expired API key");
    }
    let admin = riposte_auth::Identity::local("test");
    let now = chrono::Utc::now();
    let keys = riposte_auth::manage::list_keys(s.store.as_ref(), &admin, Some("vera"))
        .await
        .unwrap();
    riposte_auth::manage::revoke_key(s.store.as_ref(), &admin, &keys[0].id, now)
        .await
        .unwrap();
    riposte_auth::manage::disable_user(s.store.as_ref(), &admin, "alice", now)
        .await
        .unwrap();
    // A fresh state (no cache) sees the revocation and the disabled user.
    let s = AppState {
        guard: riposte_server::any_host_guard(s.store.clone(), riposte_testkit::identity::secret()),
        ..s
    };
    for key in [VIEWER, ANALYST] {
        let (code, _, _) = send(&s, request("GET", "/api/v1/alerts", Some(key))).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    let (code, _, _) = send(&s, request("GET", "/api/v1/alerts", Some(RESPONDER))).await;
    assert_eq!(code, StatusCode::OK);
}

fn from(addr: &str, mut req: Request<Body>) -> Request<Body> {
    let addr: SocketAddr = addr.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

#[tokio::test]
async fn ten_failed_authentications_lock_out_that_address_only() {
    let s = common::state(1 << 20).await.0;
    for _ in 0..10 {
        let (code, _, _) = send(
            &s,
            from(
                "192.0.2.66:4000",
                request("GET", "/api/v1/alerts", Some("wrong")),
            ),
        )
        .await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    // Now even a good key from there waits; elsewhere nothing changed.
    let (code, headers, body) = send(
        &s,
        from(
            "192.0.2.66:4001",
            request("GET", "/api/v1/alerts", Some(VIEWER)),
        ),
    )
    .await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers.get("retry-after").unwrap(), "60");
    assert_eq!(
        body["error"],
        "too many failed authentications from this address; try again in 60 s"
    );
    let (code, _, _) = send(
        &s,
        from(
            "192.0.2.67:4000",
            request("GET", "/api/v1/alerts", Some(VIEWER)),
        ),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    // Liveness is never locked out.
    let (code, _, _) = send(
        &s,
        from("192.0.2.66:4002", request("GET", "/api/v1/health", None)),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
}

/// A state whose guard answers only for 127.0.0.1:8080, as `serve` with the
/// default listen address does.
async fn listening_state() -> AppState {
    let s = common::state(1 << 20).await.0;
    AppState {
        guard: Arc::new(Guard::new(
            s.store.clone(),
            riposte_testkit::identity::secret(),
            HostPolicy::new("127.0.0.1:8080".parse().unwrap(), &[]),
            Vec::new(),
        )),
        ..s
    }
}

fn events(host: &str, content_type: &str, extra: &[(&str, &str)]) -> Request<Body> {
    let mut r = Request::post("/api/v1/events?format=syslog")
        .header("host", host)
        .header("content-type", content_type)
        .header("authorization", format!("Bearer {ADMIN}"));
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    r.body(Body::from(
        "Mar 14 10:00:00 web sshd[1]: Failed password for root from 203.0.113.50 port 22 ssh2\n",
    ))
    .unwrap()
}

#[tokio::test]
async fn browser_attacks_are_refused_before_anything_is_stored() {
    let s = listening_state().await;
    let ok_host = "127.0.0.1:8080";
    // DNS rebinding: a name that is not ours, even with a good key.
    let (code, _, body) = send(&s, events("evil.example:8080", "application/x-ndjson", &[])).await;
    assert_eq!(code, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(
        body["error"],
        "this server does not answer for Host \"evil.example:8080\"; add it to api.hosts if it should"
    );
    // A cross-site page's form or fetch: text/plain needs no preflight.
    let (code, _, body) = send(&s, events(ok_host, "text/plain", &[])).await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        body["error"],
        "Content-Type \"text/plain\" is not accepted here (valid: application/json, application/x-ndjson, application/jsonl)"
    );
    let (code, _, body) = send(
        &s,
        events(
            ok_host,
            "application/x-ndjson",
            &[("origin", "https://evil.example")],
        ),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"],
        "a request from origin \"https://evil.example\" may not change anything here"
    );
    let (code, _, body) = send(
        &s,
        events(
            ok_host,
            "application/x-ndjson",
            &[("sec-fetch-site", "cross-site")],
        ),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"],
        "a cross-site request (Sec-Fetch-Site: cross-site) may not change anything"
    );
    let form = events(ok_host, "application/x-www-form-urlencoded", &[]);
    assert_eq!(send(&s, form).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        s.store.counts().await.unwrap().events,
        0,
        "nothing was stored"
    );

    // The same request from the same origin, as a tool sends it, goes in.
    let (code, headers, _) = send(
        &s,
        events(
            ok_host,
            "application/x-ndjson",
            &[("origin", "http://127.0.0.1:8080")],
        ),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "no CORS"
    );
    assert_eq!(s.store.counts().await.unwrap().events, 1);
    let (code, _, _) = send(&s, events("localhost:8080", "application/x-ndjson", &[])).await;
    assert_eq!(code, StatusCode::OK);
}

#[test]
fn every_permission_a_route_needs_exists_in_the_docs_table() {
    let docs = include_str!("../../../docs/security.md");
    for (_, _, access) in route_table() {
        if let Access::Permission(p, _) = access {
            assert!(docs.contains(&format!("| `{p}` |")), "{p}");
        }
    }
    let _: &[Permission] = Permission::ALL;
}
