//! `cargo bench -p riposte-auth --bench auth`: what authenticating a request
//! costs (`Authenticator::authenticate` then `may`), with 10,000 keys of 100
//! users in a SQLite file store: a key the cache holds, every key in turn
//! from the cache, every key in turn with the cache off (one indexed query
//! each), and unknown key ids (a query and an HMAC); and, as the floor
//! under the uncached figures, one trivial indexed read through the same
//! store. Throughput is requests per second on one task; the target is
//! under 50 µs a request, which the cache meets (the uncached path is the
//! store's per-query cost plus a few µs).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_auth::{Authenticator, Permission, ServerSecret, generate_key, may};
use riposte_model::{ApiKey, Role, Timestamp, User};
use riposte_store::Store;

const USERS: usize = 100;
const KEYS_PER_USER: usize = 100;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
}

/// The store with its keys, and each key's text.
async fn populate(store: &Arc<dyn Store>, secret: &ServerSecret) -> Vec<String> {
    let mut texts = Vec::with_capacity(USERS * KEYS_PER_USER);
    let mut tx = store.begin().await.unwrap();
    for u in 0..USERS {
        let user = User::new(&format!("user{u}"), Role::Responder, now()).unwrap();
        tx.insert_user(&user).await.unwrap();
        for k in 0..KEYS_PER_USER {
            let new = generate_key().unwrap();
            let key = ApiKey {
                id: new.key.id.clone(),
                user: user.id,
                name: format!("key{k}"),
                hash: secret.hash(&new.key),
                scope: None,
                created_at: now(),
                expires_at: Some(now() + TimeDelta::days(30)),
                revoked_at: None,
                // Used just now: the measured requests write no
                // `last_used_at` (that is once a minute per key).
                last_used_at: Some(now()),
            };
            tx.insert_key(&key).await.unwrap();
            texts.push(new.text);
        }
    }
    tx.commit().await.unwrap();
    texts
}

async fn requests(auth: &Authenticator, texts: &[String], iters: u64) -> Duration {
    let at = now() + TimeDelta::seconds(1);
    let start = Instant::now();
    for i in 0..iters {
        let text = &texts[i as usize % texts.len()];
        let identity = auth.authenticate(black_box(text), at).await;
        let allowed = identity.map(|id| may(&id, Permission::DecisionsWrite).is_ok());
        black_box(allowed.unwrap_or(false));
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
    let store = rt.block_on(riposte_store::open(&url)).unwrap();
    let secret = ServerSecret::generate().unwrap();
    let texts = rt.block_on(populate(&store, &secret));
    let unknown: Vec<String> = (0..1_000).map(|_| generate_key().unwrap().text).collect();

    let cached =
        Authenticator::new(store.clone(), secret.clone()).with_cache(TimeDelta::hours(1), 16_384);
    let uncached =
        Authenticator::new(store.clone(), secret.clone()).with_cache(TimeDelta::zero(), 0);

    let mut g = c.benchmark_group("authenticate + may (10,000 keys, SQLite file)");
    g.throughput(Throughput::Elements(1));
    let one = &texts[..1];
    g.bench_function("cached, one key", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&cached, one, iters)))
    });
    g.bench_function("cached, every key in turn", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&cached, &texts, iters)))
    });
    g.bench_function("uncached, every key in turn", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&uncached, &texts, iters)))
    });
    g.bench_function("unknown key id", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&uncached, &unknown, iters)))
    });
    g.finish();

    // The floor under the uncached path: one trivial indexed read through
    // the same store (a settings row by key), without any key work.
    let mut g = c.benchmark_group("store floor (SQLite file)");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one indexed read (Store::setting)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(store.setting("bench").await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
