//! The active-response entries (`riposte-bench N respond`), wall time on a
//! SQLite file store:
//!
//! - *decide + enforce latency*: one automated ban per transaction, then
//!   the file enforcer reconciled (every effective decision read and the
//!   list rewritten): what an alert waits for between the playbook step and
//!   the blocklist on disk; p50 / p99 / max over the run, as the active set
//!   grows to N.
//! - *decisions/s*: 1,000 bans per transaction, one reconciliation per
//!   transaction.
//! - *active set*: reading every effective decision, writing the blocklist
//!   of all of them, and a bouncer's `startup=true` pull of all of them
//!   through the API router (JSON included).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use riposte_model::{AlertId, Clock, Confidence, ManualClock, Origin, RunId, Scope};
use riposte_respond::{
    DecisionRequest, Enforcer, FileEnforcer, Outcome, Responder, ResponderConfig,
};
use riposte_store::Store;

fn request(i: usize) -> DecisionRequest {
    let value = format!("100.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    DecisionRequest::ban(
        Scope::Ip,
        value,
        Some(TimeDelta::days(7)),
        "bench",
        Confidence::MAX,
        Origin::Playbook {
            playbook: "bench".into(),
            step: "ban".into(),
            run: RunId::new(),
            rule: Some("bench".into()),
            alert: Some(AlertId::new()),
        },
    )
}

fn responder(list: std::path::PathBuf) -> Responder {
    Responder::new(
        ResponderConfig {
            // The bench measures the path, not the cap.
            max_per_minute: u32::MAX,
            ..ResponderConfig::default()
        },
        vec![Enforcer::File(FileEnforcer::new(list))],
    )
}

async fn store(dir: &std::path::Path) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    riposte_store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("store: {e}"))
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn latency(n: usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = store(dir.path()).await;
    let r = responder(dir.path().join("blocklist.txt"));
    let clock = ManualClock::new(crate::start());
    let mut times = Vec::with_capacity(n);
    let t = Instant::now();
    for i in 0..n {
        // One decision a second: the per-minute cap's window holds 60, as
        // in a busy production minute, and all stay active (7 days).
        clock.advance(TimeDelta::seconds(1));
        let started = Instant::now();
        let mut tx = store.begin().await.unwrap_or_else(|e| panic!("{e}"));
        let d = r
            .decide(&mut *tx, request(i), clock.now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(d.outcome, Outcome::Created(_)));
        tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
        r.reconcile(store.as_ref(), clock.now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        times.push(started.elapsed());
    }
    let total = t.elapsed().as_secs_f64();
    times.sort();
    println!(
        "respond decide+enforce (1/tx, file)  {n:>7} decisions  {:>9.0} decisions/s  p50 {:?}  p99 {:?}  max {:?}",
        n as f64 / total,
        pct(&times, 0.50),
        pct(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
}

async fn sustained(n: usize) -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = store(dir.path()).await;
    let r = responder(dir.path().join("blocklist.txt"));
    let clock = ManualClock::new(crate::start());
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut tx = store.begin().await.unwrap_or_else(|e| panic!("{e}"));
        for &i in chunk {
            clock.advance(TimeDelta::seconds(1));
            r.decide(&mut *tx, request(i), clock.now())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
        r.reconcile(store.as_ref(), clock.now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "respond decisions (1000/tx, file)    {n:>7} decisions  {:>9.0} decisions/s",
        n as f64 / secs
    );
    (dir, store)
}

async fn active_set(dir: &std::path::Path, store: Arc<dyn Store>, n: usize) {
    // After the last decision (one a second since the start); all active.
    let now = crate::start() + TimeDelta::seconds(n as i64 + 1);
    let t = Instant::now();
    let effective = store
        .effective_decisions(now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let read = t.elapsed();
    assert_eq!(effective.len(), n);
    let list = dir.join("all.txt");
    let t = Instant::now();
    FileEnforcer::new(list.clone())
        .apply(&effective)
        .unwrap_or_else(|e| panic!("{e}"));
    let write = t.elapsed();

    use tower::ServiceExt;
    let clock = Arc::new(ManualClock::new(now));
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
    let key = "bench-key-0123456789abcdef";
    let state = riposte_server::AppState {
        guard: riposte_server::any_host_guard(
            store.clone(),
            riposte_auth::ServerSecret::from_bytes([7; 32]),
        ),
        store,
        pipeline: handle,
        responder,
        executor,
        clock,
        max_line_bytes: 1 << 20,
        review_max_age: TimeDelta::hours(24),
        bouncers: Arc::new(riposte_server::Bouncers::new(vec![(
            "bench".into(),
            key.into(),
        )])),
    };
    let req = axum::http::Request::get("/v1/decisions/stream?startup=true")
        .header("X-Api-Key", key)
        .body(axum::body::Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    let resp = riposte_server::app(state)
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stream = t.elapsed();
    println!(
        "respond {n} active: read {read:?}, blocklist written {write:?} ({} bytes), bouncer startup pull {stream:?} ({} bytes of JSON)",
        std::fs::metadata(&list).map_or(0, |m| m.len()),
        body.len()
    );
}

pub fn run(n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        latency(n.min(10_000)).await;
        let active = n.clamp(1, 100_000);
        let (dir, store) = sustained(active).await;
        active_set(dir.path(), store, active).await;
    });
}
