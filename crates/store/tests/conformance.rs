//! The one conformance suite every backend passes. Each check is written once
//! as an `async fn(Arc<dyn Store>)` and run against SQLite (a file, and
//! `sqlite::memory:`) and PostgreSQL (a fresh database per test, so tests run
//! in parallel). PostgreSQL runs when `RIPOSTE_TEST_POSTGRES_URL` is set; set
//! `RIPOSTE_REQUIRE_POSTGRES=1` to make its absence a failure (CI).
//!
//! Time is a fixed base plus milliseconds: nothing here sleeps.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{
    Actor, Alert, AlertId, Approval, ApprovalId, ApprovalStatus, AuditEntry, Case, CaseId,
    CaseStatus, Confidence, DeadLetter, Decision, DecisionId, DecisionKind, DecisionState, Event,
    EventId, FieldValue, Mode, Observable, ObservableKind, Origin, PlaybookRun, Review,
    ReviewStatus, RuleInfo, RunId, RunStatus, Scope, Severity, SourcePos, StepRecord, StepStatus,
    Timestamp,
};
use riposte_store::{Checkpoint, Counts, DecisionFilter, IntelCount, RunFilter, Store, StoreError};
use sqlx::{ConnectOptions, Connection, Executor};
use uuid::Uuid;

// ---------------------------------------------------------------- harness

/// `conformance!([backends…]: tests…)` makes a module per test with one
/// `#[tokio::test]` per backend, named after the runner functions below.
macro_rules! conformance {
    ($backends:tt: $($test:ident),* $(,)?) => {
        $(conformance!(@one $test $backends);)*
    };
    (@one $test:ident [$($backend:ident),*]) => {
        mod $test {
            $(
                #[tokio::test]
                async fn $backend() {
                    super::$backend(super::$test).await;
                }
            )*
        }
    };
}

conformance!([sqlite_file, sqlite_memory, postgres]:
    events_round_trip_oldest_offset_first,
    large_event_batches_round_trip,
    alerts_round_trip_newest_first,
    upsert_case_replaces_the_stored_case,
    open_case_by_key_ignores_closed_cases,
    decisions_round_trip_and_filter,
    pending_reviews_oldest_first_filtered_before_the_limit,
    effective_decisions_exclude_expiry_at_now,
    expire_decisions_ends_exactly_the_due_ones,
    end_decision_moves_only_active_decisions,
    active_response_history_counts_and_settings,
    runs_round_trip_newest_first,
    due_runs_are_claimed_once_leased_and_woken,
    approvals_round_trip_by_run_and_status,
    audit_round_trip_newest_first,
    dead_letters_keep_exact_raw_bytes,
    checkpoints_set_get_overwrite,
    dropped_tx_rolls_back_everything,
    commit_makes_the_whole_batch_visible,
    intel_indicators_merge_within_an_import_page_and_age_out,
    intel_sightings_add_up,
    intel_sighting_queue_is_per_feed_oldest_first_and_dequeued_exactly,
    intel_upserts_of_many_indicators_merge_and_count_like_single_ones,
    intel_sharing_pages_in_date_added_order_within_the_ceiling,
    intel_sightings_page_newest_first,
);

// An in-memory SQLite store has a single connection, so a read there waits
// for an open transaction instead of reading beside it.
conformance!([sqlite_file, postgres]: uncommitted_writes_are_invisible_to_readers);

async fn sqlite_file<F: Future<Output = ()>>(test: impl FnOnce(Arc<dyn Store>) -> F) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
    test(riposte_store::open(&url).await.unwrap()).await;
}

async fn sqlite_memory<F: Future<Output = ()>>(test: impl FnOnce(Arc<dyn Store>) -> F) {
    test(riposte_store::open("sqlite::memory:").await.unwrap()).await;
}

/// Runs `test` on a database of its own, dropped afterwards even if the test
/// panics (it runs as a task so the panic can be caught and re-raised).
async fn postgres<F>(test: impl FnOnce(Arc<dyn Store>) -> F + Send + 'static)
where
    F: Future<Output = ()> + Send + 'static,
{
    postgres_database(|url| async move {
        test(riposte_store::open(&url).await.unwrap()).await;
    })
    .await;
}

/// Creates a database of its own for `test`, which gets its URL, and drops
/// it afterwards even if the test panics. Skipped (or, with
/// `RIPOSTE_REQUIRE_POSTGRES=1`, failed) without `RIPOSTE_TEST_POSTGRES_URL`.
async fn postgres_database<F>(test: impl FnOnce(String) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let Ok(base) = std::env::var("RIPOSTE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("RIPOSTE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "RIPOSTE_REQUIRE_POSTGRES=1 but RIPOSTE_TEST_POSTGRES_URL is not set \
             (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
        eprintln!("skipping PostgreSQL conformance: RIPOSTE_TEST_POSTGRES_URL not set");
        return;
    };
    let name = format!("riposte_test_{}", Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let url = sqlx::postgres::PgConnectOptions::from_str(&base)
        .unwrap()
        .database(&name)
        .to_url_lossy()
        .to_string();
    let outcome = tokio::spawn(test(url)).await;
    let dropped = admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await;
    if let Err(error) = dropped {
        eprintln!("could not drop test database {name}: {error}");
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// SQL beside the store, for tests that tamper with what it wrote: a
/// connection of its own (SQLite file, PostgreSQL), or for an in-memory
/// database, which exists only inside the store's one connection, the
/// store's own pool.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn exec(&self, sql: &str) -> u64 {
        match self {
            Raw::Sqlite(pool) => pool.execute(sql).await.unwrap().rows_affected(),
            Raw::Postgres(pool) => pool.execute(sql).await.unwrap().rows_affected(),
        }
    }

    /// The first column of every row, as text.
    async fn column(&self, sql: &str) -> Vec<String> {
        match self {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        }
    }
}

/// `conformance_raw!([backends…]: tests…)`: like `conformance!`, for tests
/// taking `(Arc<dyn Store>, Raw)`.
macro_rules! conformance_raw {
    ($backends:tt: $($test:ident),* $(,)?) => {
        $(conformance_raw!(@one $test $backends);)*
    };
    (@one $test:ident [$($backend:ident),*]) => {
        mod $test {
            $(
                #[tokio::test]
                async fn $backend() {
                    crate::raw::$backend(super::$test).await;
                }
            )*
        }
    };
}

/// The runners of `conformance_raw!`.
mod raw {
    use std::future::Future;
    use std::sync::Arc;

    use riposte_store::Store;

    use super::Raw;

    pub(crate) async fn sqlite_file<F: Future<Output = ()>>(
        test: impl FnOnce(Arc<dyn Store>, Raw) -> F,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
        let store = riposte_store::open(&url).await.unwrap();
        let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
        test(store, Raw::Sqlite(raw)).await;
    }

    pub(crate) async fn sqlite_memory<F: Future<Output = ()>>(
        test: impl FnOnce(Arc<dyn Store>, Raw) -> F,
    ) {
        let store = riposte_store::SqliteStore::open("sqlite::memory:")
            .await
            .unwrap();
        let raw = Raw::Sqlite(store.pool().clone());
        test(Arc::new(store), raw).await;
    }

    pub(crate) async fn postgres<F>(test: impl FnOnce(Arc<dyn Store>, Raw) -> F + Send + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        super::postgres_database(|url| async move {
            let store = riposte_store::open(&url).await.unwrap();
            let raw = sqlx::PgPool::connect(&url).await.unwrap();
            test(store, Raw::Postgres(raw)).await;
        })
        .await;
    }
}

#[path = "conformance/identity.rs"]
mod identity;

// ---------------------------------------------------------------- fixtures

/// Millisecond offsets from a fixed instant.
fn t(ms: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap() + TimeDelta::milliseconds(ms)
}

const IP: &str = "203.0.113.7";

fn ip_observable() -> Observable {
    Observable::new(ObservableKind::Ip, IP, Some("source.ip"))
}

fn event(source: &str, offset: u64) -> Event {
    // Sub-millisecond precision: the body keeps what the index column cannot.
    let mut event = Event::new(t(offset as i64) + TimeDelta::nanoseconds(123_456), "sshd");
    event.set("source.ip", IP);
    event.set("source.port", 52211i64);
    event.set("event.success", false);
    event
        .fields
        .insert("event.risk_score".into(), FieldValue::Float(0.25));
    event.add_observable(ObservableKind::Ip, IP, "source.ip");
    event.original = Some(format!("Failed password for root from {IP} ({offset})"));
    event.origin = Some(SourcePos {
        source: source.into(),
        offset,
    });
    event
}

fn alert(created_ms: i64) -> Alert {
    Alert {
        id: AlertId::new(),
        rule_id: "ssh-brute-force".into(),
        rule_title: "SSH brute force".into(),
        severity: Severity::High,
        confidence: Confidence::new(80).unwrap(),
        created_at: t(created_ms),
        first_seen: t(created_ms - 60_000),
        last_seen: t(created_ms - 1),
        group: BTreeMap::from([("source.ip".to_owned(), IP.to_owned())]),
        summary: format!("6 sshd failures from {IP} in 60s"),
        count: 6,
        observables: vec![ip_observable()],
        evidence: vec![EventId::new(), EventId::new()],
        rule: RuleInfo {
            kind: "sigma".into(),
            level: Some("high".into()),
            tags: vec!["attack.credential_access".into(), "attack.t1110".into()],
            attack_techniques: vec!["T1110".into()],
            ..RuleInfo::default()
        },
    }
}

fn case(key: Option<&str>, status: CaseStatus, created_ms: i64) -> Case {
    Case {
        id: CaseId::new(),
        title: format!("SSH brute force from {IP}"),
        status,
        severity: Severity::Medium,
        group_key: key.map(str::to_owned),
        alerts: vec![AlertId::new()],
        observables: vec![ip_observable()],
        created_at: t(created_ms),
        updated_at: t(created_ms),
        assignee: Some("level2".into()),
        comments: vec![riposte_model::CaseComment {
            at: t(created_ms),
            author: "user:alice".into(),
            text: "looking".into(),
        }],
    }
}

fn decision(
    value: &str,
    state: DecisionState,
    created_ms: i64,
    expires_at: Option<Timestamp>,
) -> Decision {
    Decision {
        id: DecisionId::new(),
        kind: DecisionKind::Ban,
        scope: Scope::Ip,
        value: value.to_owned(),
        origin: Origin::Playbook {
            playbook: "ssh-ban".into(),
            step: "ban".into(),
            run: RunId::new(),
            rule: Some("ssh-brute-force".into()),
            alert: Some(AlertId::new()),
        },
        reason: "6 sshd failures in 60s".into(),
        confidence: Confidence::new(90).unwrap(),
        created_at: t(created_ms),
        expires_at,
        state,
        updated_at: t(created_ms),
        mode: Mode::Enforce,
        shadow_verdict: None,
        held: None,
        evidence: vec!["alert:0190b5e8-0000-7000-8000-000000000001".into()],
        duration: Some(TimeDelta::hours(4)),
        offence: Some(1),
        review: Some(Review::pending()),
    }
}

fn run(started_ms: i64) -> PlaybookRun {
    PlaybookRun {
        id: RunId::new(),
        playbook: "ssh-ban".into(),
        playbook_version: 3,
        alert: Some(AlertId::new()),
        status: RunStatus::Succeeded,
        started_at: t(started_ms),
        finished_at: t(started_ms + 40),
        steps: vec![StepRecord {
            step: "ban".into(),
            action: "decision.ban".into(),
            status: StepStatus::Skipped,
            started_at: t(started_ms),
            finished_at: t(started_ms + 40),
            input: serde_json::json!({"ip": IP, "ttl": "4h"}),
            output: serde_json::Value::Null,
            message: Some("allowlisted".into()),
            path: "ban".into(),
            attempts: 1,
            wake_at: None,
        }],
        trigger: None,
        mode: Mode::Enforce,
        next_at: None,
        message: None,
        case: None,
    }
}

fn audit_entry(at_ms: i64) -> AuditEntry {
    AuditEntry::new(
        t(at_ms),
        Actor::Playbook {
            playbook: "ssh-ban".into(),
            step: "ban".into(),
        },
        "decision.create",
        format!("decision:{}", DecisionId::new()),
        "6 sshd failures in 60s",
    )
    .with_details(serde_json::json!({"ttl_seconds": 14400, "value": IP}))
}

fn dead_letter(received_ms: i64, offset: Option<u64>, raw: &[u8]) -> DeadLetter {
    DeadLetter::new(
        t(received_ms),
        "/var/log/auth.log",
        offset,
        "syslog",
        "no timestamp",
        raw,
        raw.len() as u64 + 100,
    )
}

/// The order every list promises: newest first, the later id first on ties.
fn newest_first<T: Clone>(items: &[&T], key: impl Fn(&T) -> (Timestamp, Uuid)) -> Vec<T> {
    let mut sorted: Vec<T> = items.iter().map(|item| (*item).clone()).collect();
    sorted.sort_by_key(|item| std::cmp::Reverse(key(item)));
    sorted
}

// ---------------------------------------------------------------- tests

async fn events_round_trip_oldest_offset_first(store: Arc<dyn Store>) {
    let auth = "/var/log/auth.log";
    let (e300, e100, e200) = (event(auth, 300), event(auth, 100), event(auth, 200));
    let other = event("/var/log/other.log", 50);
    let mut no_origin = event("", 0);
    no_origin.origin = None;
    // No uniqueness on (source, offset): a duplicate is stored, so the
    // exactly-once tests can see and count it.
    let (dup_a, dup_b) = (event("dup", 7), event("dup", 7));

    let mut tx = store.begin().await.unwrap();
    let batch = [&e300, &e100, &other, &e200, &no_origin, &dup_a, &dup_b];
    tx.insert_events(&batch.map(Clone::clone)).await.unwrap();
    tx.commit().await.unwrap();

    let listed = store.list_events_by_source(auth, 10).await.unwrap();
    assert_eq!(listed, [e100.clone(), e200.clone(), e300]);
    assert_eq!(
        store.list_events_by_source(auth, 2).await.unwrap(),
        [e100, e200]
    );
    assert_eq!(
        store
            .list_events_by_source("/var/log/other.log", 10)
            .await
            .unwrap(),
        [other]
    );
    let mut dups = vec![dup_a, dup_b];
    dups.sort_by_key(|e| e.id);
    assert_eq!(store.list_events_by_source("dup", 10).await.unwrap(), dups);
    assert_eq!(
        store.list_events_by_source("nowhere", 10).await.unwrap(),
        []
    );
    assert_eq!(store.counts().await.unwrap().events, 7);
}

async fn large_event_batches_round_trip(store: Arc<dyn Store>) {
    // More than one statement's worth, in a single call.
    let events: Vec<Event> = (0..1_203).map(|offset| event("big", offset)).collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_events(&events).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        store.list_events_by_source("big", 5_000).await.unwrap(),
        events
    );
    assert_eq!(store.counts().await.unwrap().events, 1_203);
}

async fn alerts_round_trip_newest_first(store: Arc<dyn Store>) {
    let (a0, a2, a1) = (alert(0), alert(2_000), alert(1_000));
    let (tie_x, tie_y) = (alert(3_000), alert(3_000));
    let mut tx = store.begin().await.unwrap();
    for a in [&a0, &a2, &tie_y, &a1, &tie_x] {
        tx.insert_alert(a).await.unwrap();
    }
    tx.commit().await.unwrap();

    let expected = newest_first(&[&a0, &a2, &a1, &tie_x, &tie_y], |a| (a.created_at, a.id.0));
    assert_eq!(expected[2], a2);
    assert_eq!(store.list_alerts(10).await.unwrap(), expected);
    assert_eq!(store.list_alerts(3).await.unwrap(), expected[..3]);
    assert_eq!(store.get_alert(a1.id).await.unwrap(), Some(a1));
    assert_eq!(store.get_alert(AlertId::new()).await.unwrap(), None);
}

async fn upsert_case_replaces_the_stored_case(store: Arc<dyn Store>) {
    let original = case(Some("ssh:203.0.113.7"), CaseStatus::Open, 0);
    let mut tx = store.begin().await.unwrap();
    tx.upsert_case(&original).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.get_case(original.id).await.unwrap(),
        Some(original.clone())
    );

    let mut changed = original.clone();
    let mut newer = alert(5_000);
    newer.severity = Severity::Critical;
    newer.observables.push(Observable::new(
        ObservableKind::User,
        "root",
        Some("user.name"),
    ));
    assert!(changed.attach(&newer, t(5_000)));
    changed.status = CaseStatus::Closed;
    changed.title = "Closed: SSH brute force".into();
    let mut tx = store.begin().await.unwrap();
    tx.upsert_case(&changed).await.unwrap();
    assert_eq!(tx.open_case_by_key("ssh:203.0.113.7").await.unwrap(), None);
    tx.commit().await.unwrap();

    assert_eq!(
        store.get_case(original.id).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(store.list_cases(10).await.unwrap(), [changed]);
    assert_eq!(store.counts().await.unwrap().cases, 1);
}

async fn open_case_by_key_ignores_closed_cases(store: Arc<dyn Store>) {
    let key = "ssh:203.0.113.7";
    let closed_newest = case(Some(key), CaseStatus::Closed, 9_000);
    let open_old = case(Some(key), CaseStatus::Open, 500);
    let open_new = case(Some(key), CaseStatus::Open, 1_000);
    let other_key = case(Some("ssh:198.51.100.1"), CaseStatus::Open, 2_000);
    let keyless = case(None, CaseStatus::Open, 3_000);

    let mut tx = store.begin().await.unwrap();
    tx.upsert_case(&closed_newest).await.unwrap();
    assert_eq!(tx.open_case_by_key(key).await.unwrap(), None);
    for c in [&open_old, &open_new, &other_key, &keyless] {
        tx.upsert_case(c).await.unwrap();
    }
    assert_eq!(
        tx.open_case_by_key(key).await.unwrap(),
        Some(open_new.clone())
    );
    assert_eq!(
        tx.open_case_by_key("ssh:198.51.100.1").await.unwrap(),
        Some(other_key.clone())
    );
    assert_eq!(tx.open_case_by_key("ssh:192.0.2.1").await.unwrap(), None);
    tx.commit().await.unwrap();

    assert_eq!(
        store.list_cases(10).await.unwrap(),
        [
            closed_newest.clone(),
            keyless.clone(),
            other_key,
            open_new,
            open_old
        ]
    );
    assert_eq!(store.list_cases(2).await.unwrap(), [closed_newest, keyless]);
}

async fn decisions_round_trip_and_filter(store: Arc<dyn Store>) {
    let active_a = decision("192.0.2.1", DecisionState::Active, 0, Some(t(3_600_000)));
    let revoked_a = decision("192.0.2.1", DecisionState::Revoked, 1_000, None);
    let mut active_b = decision("198.51.100.0/24", DecisionState::Active, 2_000, None);
    active_b.scope = Scope::Range;
    active_b.origin = Origin::User {
        name: "alice".into(),
    };
    let simulated_b = decision("198.51.100.0/24", DecisionState::Simulated, 3_000, None);

    let mut tx = store.begin().await.unwrap();
    for d in [&revoked_a, &active_b, &active_a, &simulated_b] {
        tx.insert_decision(d).await.unwrap();
    }
    tx.commit().await.unwrap();

    let list = |state, value: Option<&str>, limit| {
        let filter = DecisionFilter {
            state,
            value: value.map(str::to_owned),
            limit,
            ..DecisionFilter::default()
        };
        let store = store.clone();
        async move { store.list_decisions(&filter).await.unwrap() }
    };
    let all = [
        simulated_b.clone(),
        active_b.clone(),
        revoked_a.clone(),
        active_a.clone(),
    ];
    assert_eq!(list(None, None, None).await, all);
    assert_eq!(list(None, None, Some(2)).await, all[..2]);
    let active = Some(DecisionState::Active);
    assert_eq!(
        list(active, None, None).await,
        [active_b.clone(), active_a.clone()]
    );
    assert_eq!(
        list(None, Some("192.0.2.1"), None).await,
        [revoked_a.clone(), active_a]
    );
    assert_eq!(
        list(active, Some("198.51.100.0/24"), None).await,
        [active_b]
    );
    assert_eq!(list(Some(DecisionState::Expired), None, None).await, []);
    assert_eq!(
        store.get_decision(revoked_a.id).await.unwrap(),
        Some(revoked_a)
    );
    assert_eq!(store.get_decision(DecisionId::new()).await.unwrap(), None);
}

/// Regression: the review queue took the newest `limit` pending decisions,
/// so with more pending the oldest (most overdue) were missing, and the
/// overdue filter ran after the limit.
async fn pending_reviews_oldest_first_filtered_before_the_limit(store: Arc<dyn Store>) {
    let first = decision("192.0.2.1", DecisionState::Active, 1_000, None);
    let second = decision("192.0.2.2", DecisionState::PendingApproval, 2_000, None);
    let third = decision("192.0.2.3", DecisionState::Active, 3_000, None);
    let mut approved = decision("192.0.2.4", DecisionState::Active, 500, None);
    approved.review = Some(Review {
        status: ReviewStatus::Approved,
        by: Some("alice".into()),
        at: Some(t(600)),
        note: None,
    });
    let mut by_hand = decision("192.0.2.5", DecisionState::Active, 0, None);
    by_hand.review = None;
    let mut tx = store.begin().await.unwrap();
    for d in [&third, &approved, &first, &by_hand, &second] {
        tx.insert_decision(d).await.unwrap();
    }
    tx.commit().await.unwrap();
    let pending = |before: Option<i64>, limit| {
        let store = store.clone();
        async move { store.pending_reviews(before.map(t), limit).await.unwrap() }
    };
    assert_eq!(
        pending(None, 10).await,
        [first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(pending(None, 2).await, [first.clone(), second.clone()]);
    assert_eq!(pending(Some(2_000), 10).await, std::slice::from_ref(&first));
    assert_eq!(pending(Some(2_001), 1).await, std::slice::from_ref(&first));
    assert_eq!(pending(Some(3_001), 10).await, [first, second, third]);
    assert_eq!(pending(Some(1_000), 10).await, []);
}

async fn effective_decisions_exclude_expiry_at_now(store: Arc<dyn Store>) {
    let now = t(10_000);
    let at_now = decision("192.0.2.1", DecisionState::Active, 0, Some(now));
    let plus_1ms = decision(
        "192.0.2.2",
        DecisionState::Active,
        1_000,
        Some(now + TimeDelta::milliseconds(1)),
    );
    let permanent = decision("192.0.2.3", DecisionState::Active, 2_000, None);
    let lapsed = decision("192.0.2.4", DecisionState::Active, 3_000, Some(t(9_000)));
    let hour = Some(now + TimeDelta::hours(1));
    let revoked = decision("192.0.2.5", DecisionState::Revoked, 4_000, hour);
    let simulated = decision("192.0.2.6", DecisionState::Simulated, 5_000, hour);

    let mut tx = store.begin().await.unwrap();
    for d in [
        &at_now, &plus_1ms, &permanent, &lapsed, &revoked, &simulated,
    ] {
        tx.insert_decision(d).await.unwrap();
    }
    let cases = [
        (Scope::Ip, &at_now, None),
        (Scope::Ip, &plus_1ms, Some(&plus_1ms)),
        (Scope::Range, &plus_1ms, None),
        (Scope::Ip, &permanent, Some(&permanent)),
        (Scope::Ip, &lapsed, None),
        (Scope::Ip, &revoked, None),
        (Scope::Ip, &simulated, None),
    ];
    for (scope, d, expected) in cases {
        let found = tx
            .effective_decision(DecisionKind::Ban, scope, &d.value, now)
            .await
            .unwrap();
        assert_eq!(found.as_ref(), expected, "{scope} {}", d.value);
    }
    // Another kind on the same value is a different decision.
    let captcha = tx
        .effective_decision(DecisionKind::Captcha, Scope::Ip, &permanent.value, now)
        .await
        .unwrap();
    assert_eq!(captcha, None);
    tx.commit().await.unwrap();

    assert_eq!(
        store.effective_decisions(now).await.unwrap(),
        [permanent.clone(), plus_1ms]
    );
    assert_eq!(
        store
            .effective_decisions(now + TimeDelta::milliseconds(1))
            .await
            .unwrap(),
        [permanent]
    );
}

async fn expire_decisions_ends_exactly_the_due_ones(store: Arc<dyn Store>) {
    let now = t(10_000);
    let due_now = decision("192.0.2.1", DecisionState::Active, 0, Some(now));
    let due_past = decision("192.0.2.2", DecisionState::Active, 1_000, Some(t(5_000)));
    let future = decision(
        "192.0.2.3",
        DecisionState::Active,
        2_000,
        Some(now + TimeDelta::milliseconds(1)),
    );
    let permanent = decision("192.0.2.4", DecisionState::Active, 3_000, None);
    let revoked_past = decision("192.0.2.5", DecisionState::Revoked, 4_000, Some(t(5_000)));

    let mut tx = store.begin().await.unwrap();
    for d in [&due_now, &due_past, &future, &permanent, &revoked_past] {
        tx.insert_decision(d).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let expired = tx.expire_decisions(now).await.unwrap();
    tx.commit().await.unwrap();
    let ended = |d: &Decision| Decision {
        state: DecisionState::Expired,
        updated_at: now,
        ..d.clone()
    };
    // Earliest expiry first.
    assert_eq!(expired, [ended(&due_past), ended(&due_now)]);

    assert_eq!(
        store.get_decision(due_now.id).await.unwrap(),
        Some(ended(&due_now))
    );
    assert_eq!(
        store.get_decision(future.id).await.unwrap(),
        Some(future.clone())
    );
    assert_eq!(
        store.get_decision(revoked_past.id).await.unwrap(),
        Some(revoked_past)
    );
    let expired_filter = DecisionFilter {
        state: Some(DecisionState::Expired),
        ..DecisionFilter::default()
    };
    assert_eq!(
        store.list_decisions(&expired_filter).await.unwrap(),
        [ended(&due_past), ended(&due_now)]
    );
    assert_eq!(
        store.effective_decisions(now).await.unwrap(),
        [permanent, future]
    );
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.decisions_active, counts.decisions_total), (2, 5));

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.expire_decisions(now).await.unwrap(), []);
}

async fn end_decision_moves_only_active_decisions(store: Arc<dyn Store>) {
    let active = decision("192.0.2.1", DecisionState::Active, 0, Some(t(3_600_000)));
    let simulated = decision("192.0.2.2", DecisionState::Simulated, 1_000, None);
    let mut tx = store.begin().await.unwrap();
    tx.insert_decision(&active).await.unwrap();
    tx.insert_decision(&simulated).await.unwrap();

    let revoked = Decision {
        state: DecisionState::Revoked,
        updated_at: t(5_000),
        ..active.clone()
    };
    let ended = tx.end_decision(active.id, DecisionState::Revoked, t(5_000));
    assert_eq!(ended.await.unwrap(), Some(revoked.clone()));
    let again = tx.end_decision(active.id, DecisionState::Expired, t(6_000));
    assert_eq!(again.await.unwrap(), None);
    let not_active = tx.end_decision(simulated.id, DecisionState::Revoked, t(6_000));
    assert_eq!(not_active.await.unwrap(), None);
    let unknown = tx.end_decision(DecisionId::new(), DecisionState::Revoked, t(6_000));
    assert_eq!(unknown.await.unwrap(), None);
    tx.commit().await.unwrap();

    assert_eq!(store.get_decision(active.id).await.unwrap(), Some(revoked));
    assert_eq!(
        store.get_decision(simulated.id).await.unwrap(),
        Some(simulated)
    );
    assert_eq!(store.counts().await.unwrap().decisions_active, 0);
}

async fn active_response_history_counts_and_settings(store: Arc<dyn Store>) {
    let hour = Some(t(3_600_000));
    let first = decision("192.0.2.1", DecisionState::Expired, 1_000, Some(t(2_000)));
    let second = decision("192.0.2.1", DecisionState::Active, 61_000, hour);
    let other = decision("192.0.2.9", DecisionState::Active, 62_000, hour);
    let held = Decision {
        held: Some("circuit breaker tripped".into()),
        ..decision("192.0.2.7", DecisionState::PendingApproval, 63_000, None)
    };
    let simulated = Decision {
        mode: Mode::Shadow,
        review: None,
        shadow_verdict: Some("active".into()),
        ..decision("192.0.2.8", DecisionState::Simulated, 64_000, hour)
    };
    let manual = Decision {
        origin: Origin::User {
            name: "alice".into(),
        },
        review: None,
        ..decision("192.0.2.6", DecisionState::Active, 65_000, hour)
    };
    let mut tx = store.begin().await.unwrap();
    for d in [&first, &second, &other, &held, &simulated, &manual] {
        tx.insert_decision(d).await.unwrap();
    }
    // History of one value, newest first, bounded below by `since`.
    let on = tx.decisions_on(Scope::Ip, "192.0.2.1", t(0)).await.unwrap();
    assert_eq!(on, [second.clone(), first.clone()]);
    let on = tx
        .decisions_on(Scope::Ip, "192.0.2.1", t(1_001))
        .await
        .unwrap();
    assert_eq!(on, std::slice::from_ref(&second));
    assert_eq!(
        tx.decisions_on(Scope::Range, "192.0.2.1", t(0))
            .await
            .unwrap(),
        []
    );
    // Automated decisions that took effect: not the held, simulated or
    // manual ones.
    assert_eq!(tx.count_automated_since(t(0)).await.unwrap(), 3);
    assert_eq!(tx.count_automated_since(t(61_000)).await.unwrap(), 2);
    assert_eq!(tx.count_automated_since(t(62_001)).await.unwrap(), 0);
    // Review verdicts are rewritten in place, columns and body together.
    let reviewed = Decision {
        review: Some(Review {
            status: ReviewStatus::Reverted,
            by: Some("alice".into()),
            at: Some(t(70_000)),
            note: Some("our scanner".into()),
        }),
        state: DecisionState::Revoked,
        updated_at: t(70_000),
        ..other.clone()
    };
    tx.update_decision(&reviewed).await.unwrap();
    assert_eq!(
        tx.get_decision(other.id).await.unwrap(),
        Some(reviewed.clone())
    );
    // Settings: set, overwrite, delete.
    assert_eq!(tx.setting("respond.breaker").await.unwrap(), None);
    tx.set_setting("respond.breaker", Some("{\"a\":1}"), t(1))
        .await
        .unwrap();
    tx.set_setting("respond.breaker", Some("{\"a\":2}"), t(2))
        .await
        .unwrap();
    assert_eq!(
        tx.setting("respond.breaker").await.unwrap().as_deref(),
        Some("{\"a\":2}")
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.setting("respond.breaker").await.unwrap().as_deref(),
        Some("{\"a\":2}")
    );
    let mut tx = store.begin().await.unwrap();
    tx.set_setting("respond.breaker", None, t(3)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.setting("respond.breaker").await.unwrap(), None);

    // The review queue and the digest's window.
    let pending = DecisionFilter {
        review: Some(ReviewStatus::Pending),
        ..DecisionFilter::default()
    };
    assert_eq!(
        store.list_decisions(&pending).await.unwrap(),
        [held.clone(), second.clone(), first.clone()]
    );
    let reverted = DecisionFilter {
        review: Some(ReviewStatus::Reverted),
        ..DecisionFilter::default()
    };
    assert_eq!(store.list_decisions(&reverted).await.unwrap(), [reviewed]);
    let since = DecisionFilter {
        since: Some(t(64_000)),
        ..DecisionFilter::default()
    };
    let ids: Vec<DecisionId> = store
        .list_decisions(&since)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    // Made at or after 64 s, or changed then (the reviewed one at 70 s).
    assert_eq!(ids, [manual.id, simulated.id, other.id]);
}

async fn runs_round_trip_newest_first(store: Arc<dyn Store>) {
    let (r0, r2, r1) = (run(0), run(2_000), run(1_000));
    let mut failed = run(3_000);
    failed.status = RunStatus::Failed;
    failed.alert = None;
    failed.steps.clear();
    let mut tx = store.begin().await.unwrap();
    for r in [&r1, &failed, &r0, &r2] {
        tx.save_run(r, None).await.unwrap();
    }
    tx.commit().await.unwrap();

    let all = [failed.clone(), r2.clone(), r1.clone(), r0];
    let limit = |n| RunFilter {
        limit: Some(n),
        ..RunFilter::default()
    };
    assert_eq!(store.list_runs(&limit(10)).await.unwrap(), all);
    assert_eq!(store.list_runs(&limit(2)).await.unwrap(), all[..2]);
    let failed_only = RunFilter {
        status: Some(RunStatus::Failed),
        ..RunFilter::default()
    };
    assert_eq!(
        store.list_runs(&failed_only).await.unwrap(),
        [failed.clone()]
    );
    let other = RunFilter {
        playbook: Some("other".into()),
        ..RunFilter::default()
    };
    assert_eq!(store.list_runs(&other).await.unwrap(), []);
    assert_eq!(store.count_runs(RunStatus::Succeeded).await.unwrap(), 3);
    assert_eq!(store.get_run(failed.id).await.unwrap(), Some(failed));
    assert_eq!(store.get_run(RunId::new()).await.unwrap(), None);
    assert_eq!(store.counts().await.unwrap().runs, 4);
}

fn waiting(run_ms: i64, next_ms: Option<i64>) -> PlaybookRun {
    let mut r = run(run_ms);
    r.status = RunStatus::Waiting;
    r.next_at = next_ms.map(t);
    r
}

async fn due_runs_are_claimed_once_leased_and_woken(store: Arc<dyn Store>) {
    let due = waiting(0, Some(1_000));
    let later = waiting(0, Some(9_000));
    let person = waiting(0, None);
    let mut done = run(0);
    done.next_at = None;
    let mut tx = store.begin().await.unwrap();
    for r in [&due, &later, &person, &done] {
        tx.save_run(r, None).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(store.next_run_due().await.unwrap(), Some(t(1_000)));
    assert_eq!(store.count_due_runs(t(999)).await.unwrap(), 0);
    assert_eq!(store.count_due_runs(t(9_000)).await.unwrap(), 2);
    assert_eq!(store.count_runs(RunStatus::Waiting).await.unwrap(), 3);

    // At 2 s only the first is due; it is leased until 60 s.
    let mut tx = store.begin().await.unwrap();
    let claimed = tx.claim_runs(t(2_000), t(60_000), 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed, std::slice::from_ref(&due));
    // Held: another claim before the lease ends gets nothing.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.claim_runs(t(3_000), t(60_000), 10).await.unwrap(), []);
    // A save that keeps the lease (still running) keeps it held.
    let mut running = due.clone();
    running.status = RunStatus::Running;
    tx.save_run(&running, Some(t(60_000))).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.claim_runs(t(4_000), t(60_000), 10).await.unwrap(), []);
    // A heartbeat moves the lease on; a run no one holds has none to move.
    assert!(tx.renew_lease(due.id, t(60_500)).await.unwrap());
    assert!(!tx.renew_lease(later.id, t(60_500)).await.unwrap());
    assert_eq!(
        tx.claim_runs(t(60_200), t(120_000), 10)
            .await
            .unwrap()
            .len(),
        1,
        "only `later`"
    );
    // After the lease (a crashed executor), it is taken again.
    let again = tx.claim_runs(t(61_000), t(120_000), 10).await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<RunId> = again.iter().map(|r| r.id).collect();
    assert_eq!(ids, [due.id]);

    // A wake-up makes the run waiting for a person due now; the column
    // wins over the body's copy.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.wake_run(person.id, t(5_000)).await.unwrap());
    assert!(
        !tx.wake_run(done.id, t(5_000)).await.unwrap(),
        "finished runs stay asleep"
    );
    // Not later than it already was.
    assert!(!tx.wake_run(person.id, t(7_000)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        store.get_run(person.id).await.unwrap().unwrap().next_at,
        Some(t(5_000))
    );
    let mut tx = store.begin().await.unwrap();
    let woken = tx.claim_runs(t(5_000), t(60_000), 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(woken.len(), 1);
    assert_eq!(woken[0].id, person.id);
    assert_eq!(woken[0].next_at, Some(t(5_000)));

    // A cancelled run is never saved over (an executor still holding it in
    // memory): the save is refused and the cancellation stays.
    let mut cancelled = later.clone();
    cancelled.status = RunStatus::Cancelled;
    cancelled.next_at = None;
    let mut tx = store.begin().await.unwrap();
    tx.save_run(&cancelled, None).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let err = tx.save_run(&later, Some(t(70_000))).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("run {} was cancelled; not saved", later.id)
    );
    drop(tx);
    let stored = store.get_run(later.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Cancelled);
    assert_eq!(stored.next_at, None);
}

async fn approvals_round_trip_by_run_and_status(store: Arc<dyn Store>) {
    let r = waiting(0, Some(3_600_000));
    let approval = |step: &str, at: i64| Approval {
        id: ApprovalId::new(),
        run: r.id,
        playbook: "ssh-ban".into(),
        step: step.into(),
        prompt: format!("ban {IP}?"),
        approvers: vec!["alice".into()],
        created_at: t(at),
        expires_at: t(at + 3_600_000),
        default_approve: false,
        status: ApprovalStatus::Pending,
        decided_by: None,
        decided_at: None,
        comment: None,
    };
    let (a, b) = (approval("ask", 0), approval("again", 1_000));
    let mut tx = store.begin().await.unwrap();
    tx.save_run(&r, None).await.unwrap();
    tx.save_approval(&b).await.unwrap();
    tx.save_approval(&a).await.unwrap();
    tx.commit().await.unwrap();
    let mut answered = a.clone();
    answered.status = ApprovalStatus::Approved;
    answered.decided_by = Some("alice".into());
    answered.decided_at = Some(t(2_000));
    let mut tx = store.begin().await.unwrap();
    tx.save_approval(&answered).await.unwrap();
    assert_eq!(
        tx.approvals_of(r.id).await.unwrap(),
        [answered.clone(), b.clone()]
    );
    assert_eq!(tx.approvals_of(RunId::new()).await.unwrap(), []);
    assert_eq!(tx.get_approval(b.id).await.unwrap(), Some(b.clone()));
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .list_approvals(Some(ApprovalStatus::Pending), 10)
            .await
            .unwrap(),
        std::slice::from_ref(&b)
    );
    assert_eq!(
        store.list_approvals(None, 1).await.unwrap(),
        [answered.clone()]
    );
    assert_eq!(store.get_approval(a.id).await.unwrap(), Some(answered));
    assert_eq!(store.get_approval(ApprovalId::new()).await.unwrap(), None);
}

async fn audit_round_trip_newest_first(store: Arc<dyn Store>) {
    let (a0, a2, a1) = (audit_entry(0), audit_entry(2_000), audit_entry(1_000));
    let by_user = AuditEntry::new(
        t(2_000),
        Actor::User {
            name: "alice".into(),
        },
        "decision.revoke",
        "decision:x",
        "false positive",
    );
    let mut tx = store.begin().await.unwrap();
    for e in [&a2, &a0, &by_user, &a1] {
        tx.audit(e).await.unwrap();
    }
    tx.commit().await.unwrap();

    let expected = newest_first(&[&a0, &a2, &a1, &by_user], |e| (e.at, e.id.0));
    assert_eq!(store.list_audit(10).await.unwrap(), expected);
    assert_eq!(store.list_audit(1).await.unwrap(), expected[..1]);
    assert_eq!(store.counts().await.unwrap().audit, 4);
}

async fn dead_letters_keep_exact_raw_bytes(store: Arc<dyn Store>) {
    let invalid_utf8 = dead_letter(0, Some(4_096), b"\xff\xfe<14>Mar 14 \x80\xc3 bad\r\n");
    let every_byte: Vec<u8> = (0..=255).collect();
    let all_bytes = dead_letter(2_000, None, &every_byte);
    let empty = dead_letter(1_000, Some(0), b"");

    let mut tx = store.begin().await.unwrap();
    let letters = [invalid_utf8.clone(), all_bytes.clone(), empty.clone()];
    tx.insert_dead_letters(&letters).await.unwrap();
    tx.commit().await.unwrap();

    let listed = store.list_dead_letters(10).await.unwrap();
    assert_eq!(listed, [all_bytes.clone(), empty, invalid_utf8]);
    assert_eq!(listed[2].raw, b"\xff\xfe<14>Mar 14 \x80\xc3 bad\r\n");
    assert_eq!(store.list_dead_letters(1).await.unwrap(), [all_bytes]);
    assert_eq!(store.counts().await.unwrap().dead_letters, 3);
}

async fn checkpoints_set_get_overwrite(store: Arc<dyn Store>) {
    let auth = "/var/log/auth.log";
    assert_eq!(store.checkpoint(auth).await.unwrap(), None);

    let first = Checkpoint {
        offset: 10,
        identity: Some("v1:8:12:10:0123456789abcdef".into()),
    };
    let mut tx = store.begin().await.unwrap();
    tx.set_checkpoint(auth, &first).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.checkpoint(auth).await.unwrap(), Some(first));

    // Overwriting also clears an identity the new checkpoint does not have.
    let mut tx = store.begin().await.unwrap();
    tx.set_checkpoint(auth, &42.into()).await.unwrap();
    tx.set_checkpoint("/var/log/syslog", &(i64::MAX as u64).into())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.checkpoint(auth).await.unwrap(), Some(42.into()));
    let max = store.checkpoint("/var/log/syslog").await.unwrap();
    assert_eq!(max, Some((i64::MAX as u64).into()));
    assert_eq!(store.checkpoint("/var/log/none").await.unwrap(), None);
}

/// One of everything a pipeline batch writes.
async fn write_batch(tx: &mut dyn riposte_store::Tx) {
    tx.insert_events(&[
        event("/var/log/auth.log", 0),
        event("/var/log/auth.log", 80),
    ])
    .await
    .unwrap();
    tx.insert_dead_letters(&[dead_letter(0, Some(160), b"\xff")])
        .await
        .unwrap();
    tx.insert_alert(&alert(0)).await.unwrap();
    tx.upsert_case(&case(Some("k"), CaseStatus::Open, 0))
        .await
        .unwrap();
    tx.insert_decision(&decision("192.0.2.1", DecisionState::Active, 0, None))
        .await
        .unwrap();
    tx.insert_decision(&decision("192.0.2.2", DecisionState::Simulated, 0, None))
        .await
        .unwrap();
    tx.save_run(&run(0), None).await.unwrap();
    tx.audit(&audit_entry(0)).await.unwrap();
    tx.set_checkpoint("/var/log/auth.log", &170.into())
        .await
        .unwrap();
}

const BATCH_COUNTS: Counts = Counts {
    events: 2,
    dead_letters: 1,
    alerts: 1,
    cases: 1,
    decisions_active: 1,
    decisions_total: 2,
    runs: 1,
    audit: 1,
};

async fn dropped_tx_rolls_back_everything(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    write_batch(&mut *tx).await;
    drop(tx);

    assert_eq!(store.counts().await.unwrap(), Counts::default());
    assert_eq!(store.checkpoint("/var/log/auth.log").await.unwrap(), None);
    assert_eq!(store.list_alerts(10).await.unwrap(), []);

    // The rollback released the write lock: the next writer gets in.
    let mut tx = store.begin().await.unwrap();
    write_batch(&mut *tx).await;
    tx.commit().await.unwrap();
    assert_eq!(store.counts().await.unwrap(), BATCH_COUNTS);
}

async fn commit_makes_the_whole_batch_visible(store: Arc<dyn Store>) {
    assert_eq!(store.counts().await.unwrap(), Counts::default());
    let mut tx = store.begin().await.unwrap();
    write_batch(&mut *tx).await;
    tx.commit().await.unwrap();

    assert_eq!(store.counts().await.unwrap(), BATCH_COUNTS);
    assert_eq!(
        store.checkpoint("/var/log/auth.log").await.unwrap(),
        Some(170.into())
    );
}

async fn uncommitted_writes_are_invisible_to_readers(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    write_batch(&mut *tx).await;

    assert_eq!(store.counts().await.unwrap(), Counts::default());
    assert_eq!(store.checkpoint("/var/log/auth.log").await.unwrap(), None);

    tx.commit().await.unwrap();
    assert_eq!(store.counts().await.unwrap(), BATCH_COUNTS);
    assert_eq!(
        store.checkpoint("/var/log/auth.log").await.unwrap(),
        Some(170.into())
    );
}

// ---------------------------------------------------------------- per backend

#[tokio::test]
async fn sqlite_file_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
    let first = riposte_store::open(&url).await.unwrap();
    let mut tx = first.begin().await.unwrap();
    write_batch(&mut *tx).await;
    tx.commit().await.unwrap();
    drop(first);

    // Migrations already applied are skipped, and the data is still there.
    let second = riposte_store::open(&url).await.unwrap();
    assert_eq!(second.counts().await.unwrap(), BATCH_COUNTS);
}

#[tokio::test]
async fn unknown_body_format_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
    let store = riposte_store::open(&url).await.unwrap();
    let stored = alert(0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_alert(&stored).await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    conn.execute("UPDATE alerts SET format_version = 99")
        .await
        .unwrap();
    let error = store.get_alert(stored.id).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Corrupt { what: "alert", .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "stored alert is unreadable: unknown format_version 99"
    );
}

#[tokio::test]
async fn open_rejects_unknown_urls() {
    let error = riposte_store::open("mysql://localhost/riposte")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::BadUrl(ref url) if url == "mysql://localhost/riposte"));
}

// ---------------------------------------------------------------- intel

fn indicator(
    kind: riposte_model::IndicatorKind,
    value: &str,
    feed: &str,
) -> riposte_model::Indicator {
    riposte_model::Indicator::new(kind, value, feed)
}

async fn intel_indicators_merge_within_an_import_page_and_age_out(store: Arc<dyn Store>) {
    use riposte_model::{IndicatorKind as K, Tlp};
    let first_import = t(1_000);
    let mut a = indicator(K::Ip, "192.0.2.1", "feed-a");
    a.tlp = Tlp::Green;
    a.tags = vec!["x".into()];
    let mut dup = a.clone();
    dup.tlp = Tlp::Red;
    dup.to_ids = false;
    dup.tags = vec!["y".into()];
    let b = indicator(K::Domain, "evil.example", "feed-a");
    let other = indicator(K::Ip, "192.0.2.1", "feed-b");
    let mut tx = store.begin().await.unwrap();
    // Duplicates in one call and across calls of the same import merge.
    assert_eq!(
        tx.upsert_indicators(&[a.clone(), b.clone()], first_import)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tx.upsert_indicators(&[dup.clone(), other.clone()], first_import)
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    let found = store.lookup_indicators(K::Ip, "192.0.2.1").await.unwrap();
    assert_eq!(found.len(), 2);
    let mut merged = a.clone();
    merged.merge(&dup);
    assert_eq!(found[0], merged);
    assert_eq!(found[0].tlp, Tlp::Red);
    assert_eq!(found[0].tags, ["x", "y"]);
    assert_eq!(found[1], other);

    // Pages follow (kind, value, feed) order and resume after a key.
    let page = store.indicators_page(None, 2).await.unwrap();
    let keys: Vec<(String, String)> = page
        .iter()
        .map(|i| (i.value.to_string(), i.feed.to_string()))
        .collect();
    assert_eq!(
        keys,
        [
            ("evil.example".into(), "feed-a".into()),
            ("192.0.2.1".into(), "feed-a".into())
        ]
    );
    let last = page.last().unwrap();
    let after = (last.kind, last.value.to_string(), last.feed.to_string());
    let rest = store.indicators_page(Some(&after), 10).await.unwrap();
    assert_eq!(rest, std::slice::from_ref(&other));

    // A later import of feed-a replaces (not merges) and ages out what it
    // no longer lists; feed-b is untouched.
    let second_import = t(2_000);
    let mut again = a.clone();
    again.tlp = Tlp::Amber;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.upsert_indicators(&[again.clone()], second_import)
            .await
            .unwrap(),
        0
    );
    let gone = tx
        .age_out_indicators("feed-a", second_import)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(gone, std::slice::from_ref(&b));
    assert_eq!(
        store.lookup_indicators(K::Ip, "192.0.2.1").await.unwrap(),
        [again, other]
    );
    assert!(
        store
            .lookup_indicators(K::Domain, "evil.example")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.intel_counts().await.unwrap(),
        [
            IntelCount {
                feed: "feed-a".into(),
                kind: K::Ip,
                indicators: 1,
                to_ids: 1
            },
            IntelCount {
                feed: "feed-b".into(),
                kind: K::Ip,
                indicators: 1,
                to_ids: 1
            },
        ]
    );
    // Uncommitted age-outs roll back.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.age_out_indicators("feed-b", t(9_000))
            .await
            .unwrap()
            .len(),
        1
    );
    drop(tx);
    assert_eq!(store.intel_counts().await.unwrap().len(), 2);
}

async fn intel_sightings_add_up(store: Arc<dyn Store>) {
    use riposte_model::{IndicatorKind as K, Sighting};
    let s = |count, first, last| Sighting {
        kind: K::Ip,
        value: "192.0.2.1".into(),
        source: "eve".into(),
        field: "destination.ip".into(),
        count,
        first_seen: t(first),
        last_seen: t(last),
    };
    let mut other = s(1, 50, 50);
    other.field = "source.ip".into();
    let mut tx = store.begin().await.unwrap();
    tx.record_sightings(&[s(2, 100, 200), other.clone()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.record_sightings(&[s(3, 40, 150)]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.list_sightings(10).await.unwrap(),
        [s(5, 40, 200), other]
    );
    assert_eq!(store.list_sightings(1).await.unwrap().len(), 1);
}

async fn intel_sharing_pages_in_date_added_order_within_the_ceiling(store: Arc<dyn Store>) {
    use riposte_model::{IndicatorKind as K, Tlp};
    use riposte_store::ShareQuery;
    let query = |limit| ShareQuery {
        feeds: Vec::new(),
        kinds: Vec::new(),
        max_tlp: Tlp::Amber,
        object_ids: Vec::new(),
        added_after: None,
        after: None,
        valid_at: t(5_000),
        limit,
    };
    let values = |page: &[riposte_store::SharedIndicator]| -> Vec<String> {
        page.iter().map(|s| s.indicator.value.to_string()).collect()
    };
    // First import at t(1000): three shareable, and one of each kind that
    // never is (red, context only, expired).
    let mut green = indicator(K::Ip, "192.0.2.2", "feed-a");
    green.tlp = Tlp::Green;
    let amber = {
        let mut i = indicator(K::Domain, "evil.example", "feed-a");
        i.tlp = Tlp::Amber;
        i
    };
    let clear = indicator(K::Ip, "192.0.2.1", "feed-b");
    let mut red = indicator(K::Ip, "192.0.2.66", "feed-a");
    red.tlp = Tlp::Red;
    let mut context = indicator(K::Ip, "192.0.2.67", "feed-a");
    context.to_ids = false;
    let mut expired = indicator(K::Ip, "192.0.2.68", "feed-a");
    expired.valid_until = Some(t(5_000));
    let mut tx = store.begin().await.unwrap();
    tx.upsert_indicators(
        &[
            green.clone(),
            amber.clone(),
            clear.clone(),
            red,
            context,
            expired,
        ],
        t(1_000),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Second import of feed-a at t(2000): the green one unchanged keeps its
    // date added; a new one is added.
    let later = indicator(K::Ip, "198.51.100.1", "feed-a");
    let mut tx = store.begin().await.unwrap();
    tx.upsert_indicators(&[green.clone(), later.clone()], t(2_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let all = store.shared_indicators(&query(100)).await.unwrap();
    // Same millisecond: (kind, value, feed) order ("domain" < "ip").
    assert_eq!(
        values(&all),
        ["evil.example", "192.0.2.1", "192.0.2.2", "198.51.100.1"]
    );
    assert_eq!(
        all.iter().map(|s| s.added_at).collect::<Vec<_>>(),
        [t(1_000), t(1_000), t(1_000), t(2_000)]
    );
    assert_eq!(all[0].indicator, amber);
    // Pages of two resume after the last key, each row exactly once.
    let first = store.shared_indicators(&query(2)).await.unwrap();
    assert_eq!(values(&first), ["evil.example", "192.0.2.1"]);
    let mut next = query(2);
    next.after = Some(first[1].key());
    assert_eq!(
        values(&store.shared_indicators(&next).await.unwrap()),
        ["192.0.2.2", "198.51.100.1"]
    );
    // Ceiling, feeds, kinds, ids and added_after narrow it.
    let mut green_only = query(100);
    green_only.max_tlp = Tlp::Green;
    assert_eq!(
        values(&store.shared_indicators(&green_only).await.unwrap()),
        ["192.0.2.1", "192.0.2.2", "198.51.100.1"]
    );
    let mut narrow = query(100);
    narrow.feeds = vec!["feed-a".into()];
    narrow.kinds = vec![K::Ip, K::Url];
    assert_eq!(
        values(&store.shared_indicators(&narrow).await.unwrap()),
        ["192.0.2.2", "198.51.100.1"]
    );
    let mut by_id = query(100);
    by_id.object_ids = vec![clear.stix_id(), later.stix_id()];
    assert_eq!(
        values(&store.shared_indicators(&by_id).await.unwrap()),
        ["192.0.2.1", "198.51.100.1"]
    );
    let mut recent = query(100);
    recent.added_after = Some(t(1_000));
    assert_eq!(
        values(&store.shared_indicators(&recent).await.unwrap()),
        ["198.51.100.1"]
    );
    // A changed indicator is added again, at its import's time.
    let mut changed = green.clone();
    changed.confidence = Confidence::new(95).unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.upsert_indicators(&[changed.clone()], t(3_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all = store.shared_indicators(&query(100)).await.unwrap();
    assert_eq!(
        values(&all),
        ["evil.example", "192.0.2.1", "198.51.100.1", "192.0.2.2"]
    );
    assert_eq!((all[3].added_at, &all[3].indicator), (t(3_000), &changed));
}

async fn intel_sightings_page_newest_first(store: Arc<dyn Store>) {
    use riposte_model::{IndicatorKind as K, Sighting};
    use riposte_store::SightingKey;
    let s = |value: &str, last| Sighting {
        kind: K::Ip,
        value: value.into(),
        source: "eve".into(),
        field: "source.ip".into(),
        count: 1,
        first_seen: t(0),
        last_seen: t(last),
    };
    let mut tx = store.begin().await.unwrap();
    tx.record_sightings(&[
        s("192.0.2.1", 10),
        s("192.0.2.2", 30),
        s("192.0.2.3", 30),
        s("192.0.2.4", 20),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let values =
        |page: &[Sighting]| -> Vec<String> { page.iter().map(|s| s.value.to_string()).collect() };
    let first = store.sightings_page(None, 3).await.unwrap();
    assert_eq!(values(&first), ["192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    let after = SightingKey::of(&first[1]);
    assert_eq!(
        values(&store.sightings_page(Some(&after), 10).await.unwrap()),
        ["192.0.2.4", "192.0.2.1"]
    );
}

/// Indicators stored before `0006_intel_sharing.sql` have no id, TLP rank
/// or detection flag columns; opening the store fills them from the body.
#[tokio::test]
async fn indicators_from_before_sharing_are_filled_in_on_open() {
    use riposte_model::{IndicatorKind as K, Tlp};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
    let store = riposte_store::open(&url).await.unwrap();
    let mut amber = indicator(K::Ip, "192.0.2.1", "feed-a");
    amber.tlp = Tlp::Amber;
    let mut context = indicator(K::Ip, "192.0.2.2", "feed-a");
    context.to_ids = false;
    let mut tx = store.begin().await.unwrap();
    tx.upsert_indicators(&[amber.clone(), context], t(1_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drop(store);
    // What a database migrated from 0005 holds.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    conn.execute("UPDATE intel_indicators SET object_id = NULL, tlp_rank = NULL, to_ids = NULL")
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = riposte_store::open(&url).await.unwrap();
    let query = riposte_store::ShareQuery {
        feeds: Vec::new(),
        kinds: Vec::new(),
        max_tlp: Tlp::Amber,
        object_ids: vec![amber.stix_id()],
        added_after: None,
        after: None,
        valid_at: t(2_000),
        limit: 10,
    };
    let found = store.shared_indicators(&query).await.unwrap();
    assert_eq!(
        found,
        [riposte_store::SharedIndicator {
            added_at: t(1_000),
            indicator: amber
        }]
    );
    let mut green = query.clone();
    green.max_tlp = Tlp::Green;
    green.object_ids.clear();
    assert_eq!(store.shared_indicators(&green).await.unwrap(), []);
}

async fn intel_sighting_queue_is_per_feed_oldest_first_and_dequeued_exactly(store: Arc<dyn Store>) {
    use riposte_model::IndicatorKind as K;
    use riposte_store::QueuedSighting;
    let q = |feed: &str, value: &str, at, count| QueuedSighting {
        id: 0,
        feed: feed.into(),
        kind: K::Ip,
        value: value.into(),
        source: "eve".into(),
        seen_at: t(at),
        count,
    };
    let mut tx = store.begin().await.unwrap();
    tx.queue_sightings(&[
        q("misp", "192.0.2.1", 100, 2),
        q("other", "192.0.2.9", 100, 1),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A batch that never commits queues nothing.
    let mut tx = store.begin().await.unwrap();
    tx.queue_sightings(&[q("misp", "192.0.2.66", 150, 1)])
        .await
        .unwrap();
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    tx.queue_sightings(&[q("misp", "192.0.2.2", 200, 1)])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let queued = store.queued_sightings("misp", 10).await.unwrap();
    let strip = |v: &[QueuedSighting]| -> Vec<QueuedSighting> {
        v.iter()
            .map(|s| QueuedSighting { id: 0, ..s.clone() })
            .collect()
    };
    assert_eq!(
        strip(&queued),
        [
            q("misp", "192.0.2.1", 100, 2),
            q("misp", "192.0.2.2", 200, 1)
        ]
    );
    assert!(queued[0].id < queued[1].id);
    assert_eq!(store.queued_sightings("misp", 1).await.unwrap().len(), 1);
    assert_eq!(
        store.sighting_queue_counts().await.unwrap(),
        [("misp".to_owned(), 2), ("other".to_owned(), 1)]
    );

    // Exactly the given rows go; an id already gone counts nothing.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.dequeue_sightings(&[queued[0].id, -5]).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.dequeue_sightings(&[queued[0].id]).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert_eq!(
        strip(&store.queued_sightings("misp", 10).await.unwrap()),
        [q("misp", "192.0.2.2", 200, 1)]
    );
    // Ids are never reused after the newest row goes.
    let last = store.queued_sightings("misp", 10).await.unwrap()[0].id;
    let mut tx = store.begin().await.unwrap();
    tx.dequeue_sightings(&[last]).await.unwrap();
    tx.queue_sightings(&[q("misp", "192.0.2.3", 300, 1)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(store.queued_sightings("misp", 10).await.unwrap()[0].id > last);
}

/// Calls bigger than one statement's worth of rows (the backends write 100
/// per statement): new rows counted exactly, same-import rows merged, older
/// ones replaced, in every statement of the call.
async fn intel_upserts_of_many_indicators_merge_and_count_like_single_ones(store: Arc<dyn Store>) {
    use riposte_model::{Confidence, IndicatorKind as K};
    let ind = |i: u32, confidence: u8| {
        let mut x = indicator(K::Ip, &format!("10.0.{}.{}", i / 256, i % 256), "big");
        x.confidence = Confidence::new(confidence).unwrap();
        x
    };
    let first: Vec<_> = (0..250).map(|i| ind(i, 40)).collect();
    // 150 of the same (higher confidence for even ones), 100 new.
    let second: Vec<_> = (100..350)
        .map(|i| ind(i, if i % 2 == 0 { 80 } else { 20 }))
        .collect();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.upsert_indicators(&first, t(1_000)).await.unwrap(), 250);
    assert_eq!(tx.upsert_indicators(&second, t(1_000)).await.unwrap(), 100);
    tx.commit().await.unwrap();
    let conf = |v: &[riposte_model::Indicator]| -> Vec<u8> {
        v.iter().map(|i| i.confidence.get()).collect()
    };
    let all = store.indicators_page(None, 1_000).await.unwrap();
    assert_eq!(all.len(), 350);
    let by_value = |value: &str| all.iter().find(|i| i.value == value).unwrap().clone();
    // Same import: the higher confidence wins, whichever came first.
    assert_eq!(
        conf(&[
            by_value("10.0.0.99"),
            by_value("10.0.0.100"),
            by_value("10.0.0.101"),
            by_value("10.0.0.249"),
            by_value("10.0.0.250"),
            by_value("10.0.1.93"),
        ]),
        [40, 80, 40, 40, 80, 20]
    );
    // A later import replaces.
    let third: Vec<_> = (0..350).map(|i| ind(i, 10)).collect();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.upsert_indicators(&third, t(2_000)).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let all = store.indicators_page(None, 1_000).await.unwrap();
    assert!(all.iter().all(|i| i.confidence.get() == 10));
    assert_eq!(all.len(), 350);
}
