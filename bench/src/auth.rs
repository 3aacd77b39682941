//! What authentication and authorisation add to an API request
//! (`riposte-bench N auth`): the router in-process (`oneshot`), over a
//! SQLite file store holding 10,000 API keys, `GET /api/v1/enforcers` (a
//! handler that reads memory only) with a key against the unauthenticated
//! `GET /api/v1/health`, N requests each (default 20,000), mean per
//! request. Cached: the authenticator's 2-second cache holds the key (a
//! client's every request but one per 2 s); uncached: the cache is off, so
//! every request reads the key and its user from the store.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use riposte_auth::{Authenticator, BearerKey, ServerSecret, generate_key};
use riposte_model::{ApiKey, Role, User};
use riposte_server::{AppState, Guard, HostPolicy};
use tower::ServiceExt;

const KEYS: usize = 10_000;

/// 100 users with 100 keys each; returns every key's text.
async fn populate(state: &AppState, secret: &ServerSecret) -> Vec<String> {
    let now = crate::start();
    let mut tx = state.store.begin().await.unwrap_or_else(|e| panic!("{e}"));
    let mut texts = Vec::with_capacity(KEYS);
    for u in 0..KEYS / 100 {
        let user =
            User::new(&format!("user{u}"), Role::Viewer, now).unwrap_or_else(|e| panic!("{e}"));
        tx.insert_user(&user)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for k in 0..100 {
            let new = generate_key().unwrap_or_else(|e| panic!("{e}"));
            tx.insert_key(&ApiKey {
                id: new.key.id.clone(),
                user: user.id,
                name: format!("key{k}"),
                hash: secret.hash(&new.key),
                scope: None,
                created_at: now,
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            texts.push(new.text);
        }
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    texts
}

/// Mean µs per request of `n` requests to `path`, the i-th with key
/// `keys[i % len]` (none when `keys` is empty); each must answer 200.
async fn mean_us(state: &AppState, path: &str, keys: &[String], n: usize) -> f64 {
    let app = riposte_server::app(state.clone());
    let t = Instant::now();
    for i in 0..n {
        let mut req = Request::get(path);
        if !keys.is_empty() {
            req = req.header("authorization", format!("Bearer {}", keys[i % keys.len()]));
        }
        let req = req.body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
        let resp = app
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(resp.status(), 200, "{path}");
        let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn with_authenticator(state: &AppState, authenticator: Authenticator) -> AppState {
    AppState {
        guard: Arc::new(Guard {
            authenticator,
            hosts: HostPolicy::any(),
            trusted_proxies: Vec::new(),
            failures: riposte_server::FailureLimiter::default(),
        }),
        ..state.clone()
    }
}

pub fn run(n: usize) {
    let n = if n == 200_000 { 20_000 } else { n };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let secret = ServerSecret::from_bytes([9; 32]);
        let state = crate::intake::app_state(dir.path(), secret.clone()).await;
        let keys = populate(&state, &secret).await;
        let _ = BearerKey::parse(&keys[0]).unwrap_or_else(|e| panic!("{e}"));
        let cached = with_authenticator(
            &state,
            Authenticator::new(state.store.clone(), secret.clone()),
        );
        let uncached = with_authenticator(
            &state,
            Authenticator::new(state.store.clone(), secret.clone())
                .with_cache(chrono::TimeDelta::zero(), 0),
        );
        // Warm the cache and SQLite's page cache alike.
        mean_us(&cached, "/api/v1/enforcers", &keys, KEYS).await;
        mean_us(&uncached, "/api/v1/enforcers", &keys, KEYS).await;
        let public = mean_us(&state, "/api/v1/health", &[], n).await;
        let one = mean_us(&cached, "/api/v1/enforcers", &keys[..1], n).await;
        let all_cached = mean_us(&cached, "/api/v1/enforcers", &keys, n).await;
        let all_uncached = mean_us(&uncached, "/api/v1/enforcers", &keys, n).await;
        println!("auth: {KEYS} keys in the store, {n} requests each, mean per request");
        for (name, us) in [
            ("no auth (GET /api/v1/health)", public),
            ("one key, cached", one),
            ("10,000 keys in turn, cached", all_cached),
            ("10,000 keys in turn, uncached", all_uncached),
        ] {
            println!(
                "  {name:<34} {us:>8.1} µs/request  {:>+8.1} µs over no auth",
                us - public
            );
        }
    });
}
