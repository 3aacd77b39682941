//! `cargo bench -p riposte-store --bench audit`: the cost of audit writes,
//! which the pipeline makes for every decision and playbook step: one entry
//! in its own transaction (an API action), and 100 in one transaction (a
//! busy batch), on a SQLite file and, with `RIPOSTE_TEST_POSTGRES_URL` set,
//! on PostgreSQL (a database of its own, dropped afterwards).
//! Throughput is audit entries per second.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_model::{Actor, AuditEntry};
use riposte_store::Store;
use sqlx::{ConnectOptions, Connection, Executor};

fn entry(i: u64) -> AuditEntry {
    let at = Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap();
    AuditEntry::new(
        at + chrono::TimeDelta::milliseconds(i as i64),
        Actor::Rule {
            rule: "ssh-brute-force".into(),
        },
        "decision.create",
        format!("decision:{i}"),
        "6 sshd failures from 203.0.113.7 in 60s",
    )
    .with_details(serde_json::json!({"value": "203.0.113.7", "ttl": "4h"}))
}

/// `iters` transactions of `per_tx` entries each; the time per entry.
async fn write(store: &Arc<dyn Store>, iters: u64, per_tx: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        let mut tx = store.begin().await.unwrap();
        for j in 0..per_tx {
            tx.audit(&entry(i * per_tx + j)).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    start.elapsed()
}

fn run(c: &mut Criterion, rt: &tokio::runtime::Runtime, backend: &str, store: &Arc<dyn Store>) {
    let mut g = c.benchmark_group(format!("audit ({backend})"));
    for per_tx in [1u64, 100] {
        g.throughput(Throughput::Elements(per_tx));
        g.bench_function(format!("{per_tx} per transaction"), |b| {
            b.iter_custom(|iters| rt.block_on(write(store, iters, per_tx)))
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
    let sqlite = rt.block_on(riposte_store::open(&url)).unwrap();
    run(c, &rt, "sqlite file", &sqlite);

    if let Ok(base) = std::env::var("RIPOSTE_TEST_POSTGRES_URL") {
        let name = format!("riposte_bench_{}", uuid::Uuid::now_v7().simple());
        let mut admin = rt.block_on(sqlx::PgConnection::connect(&base)).unwrap();
        rt.block_on(admin.execute(format!("CREATE DATABASE {name}").as_str()))
            .unwrap();
        let url = sqlx::postgres::PgConnectOptions::from_str(&base)
            .unwrap()
            .database(&name)
            .to_url_lossy()
            .to_string();
        let pg = rt.block_on(riposte_store::open(&url)).unwrap();
        run(c, &rt, "postgres", &pg);
        drop(pg);
        let dropped = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        rt.block_on(admin.execute(dropped.as_str())).unwrap();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
