//! The webhook enforcer against a real local HTTP server: snapshot, then
//! deltas, signed; a failing or slow receiver.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{Decision, DecisionKind, Origin, Scope, Timestamp};
use riposte_respond::{WebhookConfig, WebhookEnforcer, signature};
use serde_json::Value;

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU16>,
}

async fn serve(r: Receiver) -> String {
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            async move {
                let delay = r.delay_ms.load(Ordering::Relaxed);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay.into())).await;
                }
                r.got.lock().unwrap().push((headers, body));
                StatusCode::from_u16(r.status.load(Ordering::Relaxed)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap()
}

fn decision(kind: DecisionKind, scope: Scope, value: &str) -> Decision {
    let now = now();
    let alice = Origin::User {
        name: "alice".into(),
    };
    Decision {
        expires_at: Some(now + TimeDelta::hours(1)),
        ..Decision::active(kind, scope, value, alice, now)
    }
}

async fn apply(w: &WebhookEnforcer, effective: &[Decision]) -> std::io::Result<()> {
    let (w, list) = (w.clone(), effective.to_vec());
    tokio::task::spawn_blocking(move || w.apply(&list, now()))
        .await
        .unwrap()
}

fn values(body: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["value"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn snapshot_then_signed_deltas_and_a_fresh_snapshot_after_a_failure() {
    let r = Receiver::default();
    r.status.store(200, Ordering::Relaxed);
    let url = serve(r.clone()).await;
    let config = WebhookConfig {
        url,
        secret_env: None,
        kinds: Vec::new(),
        timeout: Duration::from_secs(5),
        dry_run: false,
    };
    let secret = b"webhook-secret-0123456789".to_vec();
    let w = WebhookEnforcer::with_secret(&config, Some(secret.clone()));
    let ban = decision(DecisionKind::Ban, Scope::Ip, "203.0.113.7");
    let lock = decision(DecisionKind::DisableAccount, Scope::User, "jdoe");
    apply(&w, &[ban.clone(), lock.clone()]).await.unwrap();
    apply(&w, &[ban.clone(), lock.clone()]).await.unwrap();
    let quarantine = decision(DecisionKind::QuarantineHost, Scope::Ip, "10.1.2.3");
    apply(&w, &[lock.clone(), quarantine.clone()])
        .await
        .unwrap();

    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "no POST when nothing changed");
    for (headers, body) in &got {
        let ts = headers["x-riposte-timestamp"].to_str().unwrap();
        assert_eq!(ts, now().timestamp().to_string());
        assert_eq!(
            headers["x-riposte-signature"].to_str().unwrap(),
            signature(&secret, ts, body)
        );
        // A different secret gives a different signature.
        assert_ne!(
            headers["x-riposte-signature"].to_str().unwrap(),
            signature(b"other", ts, body)
        );
    }
    let first: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(first["type"], "snapshot");
    assert_eq!(values(&first, "decisions"), ["203.0.113.7", "jdoe"]);
    let second: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(second["type"], "delta");
    assert_eq!(values(&second, "added"), ["10.1.2.3"]);
    assert_eq!(values(&second, "removed"), ["203.0.113.7"]);
    assert_eq!(second["added"][0]["kind"], "quarantine_host");

    // A failing receiver is an error, and the next POST is a snapshot.
    r.status.store(500, Ordering::Relaxed);
    let err = apply(&w, std::slice::from_ref(&lock)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "POST {} answered 500 Internal Server Error",
            riposte_respond::url_origin(&config.url)
        )
    );
    r.status.store(200, Ordering::Relaxed);
    apply(&w, std::slice::from_ref(&lock)).await.unwrap();
    let last: Value = serde_json::from_slice(&r.got.lock().unwrap().last().unwrap().1).unwrap();
    assert_eq!(last["type"], "snapshot");
    assert_eq!(values(&last, "decisions"), ["jdoe"]);
}

#[tokio::test]
async fn kinds_filter_and_a_hanging_receiver_times_out() {
    let r = Receiver::default();
    r.status.store(204, Ordering::Relaxed);
    let url = serve(r.clone()).await;
    let config = WebhookConfig {
        url,
        secret_env: None,
        kinds: vec![DecisionKind::DisableAccount],
        timeout: Duration::from_millis(300),
        dry_run: false,
    };
    let w = WebhookEnforcer::with_secret(&config, None);
    let ban = decision(DecisionKind::Ban, Scope::Ip, "203.0.113.7");
    let lock = decision(DecisionKind::DisableAccount, Scope::User, "jdoe");
    apply(&w, &[ban, lock.clone()]).await.unwrap();
    {
        let got = r.got.lock().unwrap();
        let body: Value = serde_json::from_slice(&got[0].1).unwrap();
        assert_eq!(values(&body, "decisions"), ["jdoe"]);
        assert!(
            !got[0].0.contains_key("x-riposte-signature"),
            "no secret, no signature"
        );
    }
    r.delay_ms.store(3000, Ordering::Relaxed);
    let other = decision(DecisionKind::DisableAccount, Scope::User, "mallory");
    let err = apply(&w, &[lock, other]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
}

#[tokio::test]
async fn plans_say_what_the_next_post_carries_and_a_dry_run_posts_nothing() {
    let r = Receiver::default();
    r.status.store(200, Ordering::Relaxed);
    let url = serve(r.clone()).await;
    let origin = riposte_respond::url_origin(&url);
    let mut config = WebhookConfig {
        url: url.clone(),
        secret_env: None,
        kinds: Vec::new(),
        timeout: Duration::from_secs(5),
        dry_run: false,
    };
    let ban = decision(DecisionKind::Ban, Scope::Ip, "203.0.113.7");
    let lock = decision(DecisionKind::DisableAccount, Scope::User, "jdoe");
    let w = WebhookEnforcer::with_secret(&config, None);
    assert_eq!(
        w.plan(std::slice::from_ref(&ban)).unwrap(),
        format!("POST {origin}: snapshot of 1 decisions\n")
    );
    apply(&w, std::slice::from_ref(&ban)).await.unwrap();
    assert_eq!(w.plan(std::slice::from_ref(&ban)).unwrap(), "");
    assert_eq!(
        w.plan(std::slice::from_ref(&lock)).unwrap(),
        format!("POST {origin}: delta\n+ disable_account user jdoe\n- ban ip 203.0.113.7\n")
    );
    assert_eq!(r.got.lock().unwrap().len(), 1);

    config.dry_run = true;
    let dry = WebhookEnforcer::with_secret(&config, None);
    assert!(dry.dry_run());
    apply(&dry, &[ban, lock]).await.unwrap();
    assert_eq!(r.got.lock().unwrap().len(), 1, "a dry run POSTs nothing");
}

/// Regression: deltas compared ids only, so an extended decision was never
/// sent again and the receiver ended it at its first expiry.
#[tokio::test]
async fn an_extension_is_sent_again_in_the_next_delta() {
    let r = Receiver::default();
    r.status.store(200, Ordering::Relaxed);
    let url = serve(r.clone()).await;
    let config = WebhookConfig {
        url,
        secret_env: None,
        kinds: Vec::new(),
        timeout: Duration::from_secs(5),
        dry_run: false,
    };
    let w = WebhookEnforcer::with_secret(&config, None);
    let lock = decision(DecisionKind::DisableAccount, Scope::User, "jdoe");
    apply(&w, std::slice::from_ref(&lock)).await.unwrap();
    let mut extended = lock.clone();
    extended.expires_at = Some(now() + TimeDelta::hours(25));
    apply(&w, std::slice::from_ref(&extended)).await.unwrap();
    apply(&w, std::slice::from_ref(&extended)).await.unwrap();

    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "the unchanged third round posts nothing");
    let delta: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(delta["type"], "delta");
    assert_eq!(values(&delta, "added"), ["jdoe"]);
    assert_eq!(delta["added"][0]["expires_at"], "2026-03-15T11:00:00Z");
    assert_eq!(values(&delta, "removed"), Vec::<String>::new());
}

/// A webhook URL's path and query often are its credential: enforcer names,
/// errors (reqwest's quote the URL), plans, health and `Debug` show only
/// `scheme://host[:port]`, for a receiver answering 500 and a closed port.
#[tokio::test]
async fn names_and_errors_show_the_origin_only() {
    use riposte_respond::{Enforcer, Responder, ResponderConfig};
    let app = axum::Router::new().fallback(|| async { StatusCode::INTERNAL_SERVER_ERROR });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let failing = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let secret_parts = ["T0123", "secret-token", "key=abc", "user", "hunter2"];
    let hook = |addr: std::net::SocketAddr| {
        let config = WebhookConfig {
            url: format!("http://user:hunter2@{addr}/T0123/secret-token?key=abc"),
            secret_env: None,
            kinds: Vec::new(),
            timeout: Duration::from_secs(5),
            dry_run: false,
        };
        WebhookEnforcer::with_secret(&config, Some(b"signing-secret".to_vec()))
    };
    let (w500, wclosed) = (hook(failing), hook(closed));
    assert_eq!(w500.name(), format!("webhook:http://{failing}"));
    assert_eq!(
        Enforcer::Webhook(wclosed.clone()).name(),
        format!("webhook:http://{closed}")
    );
    assert_eq!(
        w500.plan(&[]).unwrap(),
        format!("POST http://{failing}: snapshot of 0 decisions\n")
    );
    let debug = format!("{w500:?}");
    assert!(!debug.contains("signing-secret"), "{debug}");

    let err = apply(&w500, &[]).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!("POST http://{failing} answered 500 Internal Server Error")
    );
    let err = apply(&wclosed, &[]).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("POST http://{closed}: error sending request: ")),
        "{err}"
    );
    for text in [&err, &debug] {
        for part in secret_parts {
            assert!(!text.contains(part), "{part:?} in {text:?}");
        }
    }

    // The responder's health (GET /api/v1/enforcers) carries name and error.
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let responder = Responder::new(
        ResponderConfig::default(),
        vec![Enforcer::Webhook(w500), Enforcer::Webhook(wclosed)],
    );
    assert!(responder.reconcile(store.as_ref(), now()).await.is_err());
    let health = serde_json::to_value(responder.enforcer_health()).unwrap();
    assert_eq!(health[0]["name"], format!("webhook:http://{failing}"));
    assert_eq!(
        health[0]["last_error"],
        format!("POST http://{failing} answered 500 Internal Server Error")
    );
    assert_eq!(health[1]["name"], format!("webhook:http://{closed}"));
    assert_eq!(health[1]["failures"], 1);
    let text = health.to_string();
    for part in secret_parts {
        assert!(!text.contains(part), "{part:?} in {text}");
    }
}

#[test]
fn origins_drop_path_query_userinfo_and_default_ports() {
    use riposte_respond::url_origin;
    assert_eq!(
        url_origin("https://hooks.example/T0123/secret-token?key=abc"),
        "https://hooks.example"
    );
    assert_eq!(
        url_origin("https://u:p@hooks.example:443/x"),
        "https://hooks.example"
    );
    assert_eq!(url_origin("http://[::1]:8080/x?y#z"), "http://[::1]:8080");
    assert_eq!(
        url_origin("https://bad host/secret?k=v"),
        "https://bad host"
    );
    assert_eq!(url_origin("https://u:p@bad host:1/s"), "https://bad host:1");
}
