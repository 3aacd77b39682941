//! Users, API keys and the hash-chained audit log (`0008_identity.sql`).

use std::str::FromStr;
use std::sync::Arc;

use riposte_model::{
    Actor, ApiKey, AuditEntry, KeyId, KeyScope, KeyState, Role, Timestamp, User, UserId,
};
use riposte_store::{AuditFault, AuditProblem, AuditVerification, Store, StoreError};
use sqlx::{ConnectOptions, Connection, Executor};

use super::{Raw, postgres, sqlite_file, sqlite_memory, t};

conformance!([sqlite_file, sqlite_memory, postgres]:
    users_round_trip_and_names_are_unique_ignoring_case,
    keys_round_trip_with_their_user_and_stay_listed_with_their_state,
    key_names_are_unique_per_user_among_unrevoked_keys,
    audit_chain_verifies_after_many_entries_from_several_transactions,
);

conformance_raw!([sqlite_file, sqlite_memory, postgres]:
    an_edited_audit_body_is_reported_at_its_seq,
    an_edited_audit_column_is_reported_at_its_seq,
    a_deleted_middle_audit_row_is_reported,
    deleted_last_audit_rows_are_reported,
    audit_rows_written_around_the_chain_are_reported,
);

conformance_raw!([postgres]:
    concurrent_audit_writers_serialize_on_the_head,
);

fn user(name: &str, role: Role, created_ms: i64) -> User {
    User::new(name, role, t(created_ms)).unwrap()
}

fn key(id: u8, user: &User, name: &str, created_ms: i64) -> ApiKey {
    ApiKey {
        id: KeyId::from_bytes([id; 8]),
        user: user.id,
        name: name.to_owned(),
        hash: format!("{id:02x}").repeat(32),
        scope: None,
        created_at: t(created_ms),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

async fn add_users(store: &Arc<dyn Store>, users: &[&User]) {
    let mut tx = store.begin().await.unwrap();
    for u in users {
        tx.insert_user(u).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn users_round_trip_and_names_are_unique_ignoring_case(store: Arc<dyn Store>) {
    let (alice, bob) = (
        user("alice", Role::Analyst, 0),
        user("bob", Role::Viewer, 10),
    );
    add_users(&store, &[&bob, &alice]).await;
    assert_eq!(store.get_user(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.get_user_by_name("bob").await.unwrap(),
        Some(bob.clone())
    );
    // Looked up exactly as given.
    assert_eq!(store.get_user_by_name("Alice").await.unwrap(), None);
    assert_eq!(store.get_user(UserId::new()).await.unwrap(), None);
    assert_eq!(
        store.list_users().await.unwrap(),
        [alice.clone(), bob.clone()]
    );

    let mut tx = store.begin().await.unwrap();
    let same = tx
        .insert_user(&user("alice", Role::Admin, 20))
        .await
        .unwrap_err();
    assert!(
        matches!(&same, StoreError::Conflict(m) if m == "user \"alice\" already exists"),
        "{same:?}"
    );
    let case = tx
        .insert_user(&user("ALICE", Role::Admin, 20))
        .await
        .unwrap_err();
    assert_eq!(
        case.to_string(),
        "user name \"ALICE\" is taken by user \"alice\" (user names are unique, ignoring case)"
    );
    assert!(matches!(case, StoreError::Conflict(_)));

    let disabled = tx
        .set_user_disabled(alice.id, true, t(30))
        .await
        .unwrap()
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.updated_at, t(30));
    let promoted = tx
        .set_user_role(bob.id, Role::Responder, t(40))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (promoted.role, promoted.updated_at),
        (Role::Responder, t(40))
    );
    assert_eq!(
        tx.set_user_role(UserId::new(), Role::Admin, t(40))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        tx.get_user_by_name("alice").await.unwrap(),
        Some(disabled.clone())
    );
    tx.commit().await.unwrap();

    assert_eq!(store.list_users().await.unwrap(), [disabled, promoted]);
}

async fn keys_round_trip_with_their_user_and_stay_listed_with_their_state(store: Arc<dyn Store>) {
    let (alice, bob) = (user("alice", Role::Admin, 0), user("bob", Role::Service, 0));
    add_users(&store, &[&alice, &bob]).await;
    let plain = key(1, &alice, "laptop", 100);
    let mut scoped = key(2, &bob, "shipper", 200);
    scoped.scope = Some(KeyScope::Events);
    scoped.expires_at = Some(t(1_000));
    let mut hook = key(3, &bob, "ci", 300);
    hook.scope = Some(KeyScope::Webhook("block-ip".into()));

    let mut tx = store.begin().await.unwrap();
    for k in [&hook, &plain, &scoped] {
        tx.insert_key(k).await.unwrap();
    }
    tx.commit().await.unwrap();

    assert_eq!(
        store.get_key(&plain.id).await.unwrap(),
        Some((plain.clone(), alice.clone()))
    );
    assert_eq!(
        store.get_key(&hook.id).await.unwrap(),
        Some((hook.clone(), bob.clone()))
    );
    assert_eq!(
        store.get_key(&KeyId::from_bytes([9; 8])).await.unwrap(),
        None
    );
    assert_eq!(
        store.list_keys(None).await.unwrap(),
        [plain.clone(), scoped.clone(), hook.clone()]
    );
    assert_eq!(
        store.list_keys(Some(bob.id)).await.unwrap(),
        [scoped.clone(), hook.clone()]
    );
    assert_eq!(store.list_keys(Some(UserId::new())).await.unwrap(), []);

    // Revoked at 500; revoking again keeps the first time.
    let mut tx = store.begin().await.unwrap();
    let revoked = tx.revoke_key(&plain.id, t(500)).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(t(500)));
    let again = tx.revoke_key(&plain.id, t(600)).await.unwrap().unwrap();
    assert_eq!(again, revoked);
    assert_eq!(
        tx.revoke_key(&KeyId::from_bytes([9; 8]), t(600))
            .await
            .unwrap(),
        None
    );
    assert_eq!(tx.get_key(&plain.id).await.unwrap(), Some(revoked.clone()));
    tx.commit().await.unwrap();

    // Last use moves forward only.
    assert!(store.touch_key(&scoped.id, t(700)).await.unwrap());
    assert!(!store.touch_key(&scoped.id, t(650)).await.unwrap());
    assert!(
        !store
            .touch_key(&KeyId::from_bytes([9; 8]), t(700))
            .await
            .unwrap()
    );
    let (touched, _) = store.get_key(&scoped.id).await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, Some(t(700)));

    let listed = store.list_keys(None).await.unwrap();
    let states: Vec<(&str, KeyState)> = listed
        .iter()
        .map(|k| (k.name.as_str(), k.state(t(2_000))))
        .collect();
    assert_eq!(
        states,
        [
            ("laptop", KeyState::Revoked),
            ("shipper", KeyState::Expired),
            ("ci", KeyState::Active)
        ]
    );
    assert_eq!(listed[1], touched);

    // A key needs a stored user.
    let mut tx = store.begin().await.unwrap();
    let orphan = key(4, &user("ghost", Role::Viewer, 0), "x", 0);
    let error = tx.insert_key(&orphan).await.unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
}

async fn key_names_are_unique_per_user_among_unrevoked_keys(store: Arc<dyn Store>) {
    let (alice, bob) = (user("alice", Role::Admin, 0), user("bob", Role::Viewer, 0));
    add_users(&store, &[&alice, &bob]).await;
    let first = key(1, &alice, "laptop", 100);
    let mut tx = store.begin().await.unwrap();
    tx.insert_key(&first).await.unwrap();
    let error = tx
        .insert_key(&key(2, &alice, "laptop", 200))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the user already has an unrevoked key named \"laptop\" (0101010101010101)"
    );
    assert!(matches!(error, StoreError::Conflict(_)));
    // Another user may use the name; a revoked key frees it.
    tx.insert_key(&key(3, &bob, "laptop", 300)).await.unwrap();
    tx.revoke_key(&first.id, t(400)).await.unwrap();
    tx.insert_key(&key(4, &alice, "laptop", 500)).await.unwrap();
    tx.commit().await.unwrap();
    let names: Vec<(String, Option<Timestamp>)> = store
        .list_keys(Some(alice.id))
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.id.to_string(), k.revoked_at))
        .collect();
    assert_eq!(
        names,
        [
            ("0101010101010101".to_owned(), Some(t(400))),
            ("0404040404040404".to_owned(), None)
        ]
    );
}

// ---------------------------------------------------------------- audit chain

fn entry(n: usize) -> AuditEntry {
    AuditEntry::new(
        t(n as i64),
        Actor::User {
            name: "alice".into(),
        },
        "decision.revoke",
        format!("decision:{n}"),
        format!("reason-{n}"),
    )
}

/// `n` entries, written `per_tx` to a transaction; entry `i` has seq `i + 1`.
async fn write_chain(store: &Arc<dyn Store>, n: usize, per_tx: usize) -> Vec<AuditEntry> {
    let entries: Vec<AuditEntry> = (0..n).map(entry).collect();
    for chunk in entries.chunks(per_tx) {
        let mut tx = store.begin().await.unwrap();
        for e in chunk {
            tx.audit(e).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    entries
}

fn clean(entries: u64) -> impl Fn(&AuditVerification) {
    move |v| {
        assert_eq!(v.first_problem, None);
        assert_eq!(v.entries, entries);
        assert_eq!(v.head.as_ref().map(|(seq, _)| *seq), Some(entries));
        assert_eq!(v.head.as_ref().map(|(_, hash)| hash.len()), Some(64));
    }
}

async fn audit_chain_verifies_after_many_entries_from_several_transactions(store: Arc<dyn Store>) {
    let empty = store.verify_audit().await.unwrap();
    assert_eq!(
        empty,
        AuditVerification {
            entries: 0,
            head: None,
            first_problem: None
        }
    );
    // 1,250 entries: more than one verification page (1,000).
    write_chain(&store, 1_250, 125).await;
    let first = store.verify_audit().await.unwrap();
    clean(1_250)(&first);

    // A rolled-back transaction leaves the chain as it was.
    let mut tx = store.begin().await.unwrap();
    tx.audit(&entry(5_000)).await.unwrap();
    drop(tx);
    assert_eq!(store.verify_audit().await.unwrap(), first);

    // Single-entry transactions continue it.
    write_chain(&store, 3, 1).await;
    let after = store.verify_audit().await.unwrap();
    clean(1_253)(&after);
    assert_ne!(after.head, first.head);
    assert_eq!(store.counts().await.unwrap().audit, 1_253);
}

fn problem(seq: u64, id: Option<&AuditEntry>, what: AuditFault) -> Option<AuditProblem> {
    Some(AuditProblem {
        seq: Some(seq),
        id: id.map(|e| e.id.to_string()),
        what,
    })
}

async fn an_edited_audit_body_is_reported_at_its_seq(store: Arc<dyn Store>, raw: Raw) {
    let entries = write_chain(&store, 10, 3).await;
    let changed = raw
        .exec("UPDATE audit SET body = replace(body, 'reason-3', 'reason-x') WHERE seq = 4")
        .await;
    assert_eq!(changed, 1);
    let v = store.verify_audit().await.unwrap();
    assert_eq!(
        v.first_problem,
        problem(4, Some(&entries[3]), AuditFault::HashMismatch)
    );
    assert_eq!(v.entries, 3);
    assert_eq!(v.head.map(|(seq, _)| seq), Some(10));
    assert_eq!(
        v.first_problem.unwrap().to_string(),
        format!(
            "audit entry 4 ({}) does not match its hash (altered)",
            entries[3].id
        )
    );
}

async fn an_edited_audit_column_is_reported_at_its_seq(store: Arc<dyn Store>, raw: Raw) {
    let entries = write_chain(&store, 10, 10).await;
    raw.exec("UPDATE audit SET actor = 'user:mallory' WHERE seq = 7")
        .await;
    let v = store.verify_audit().await.unwrap();
    assert_eq!(
        v.first_problem,
        problem(
            7,
            Some(&entries[6]),
            AuditFault::ColumnMismatch { column: "actor" }
        )
    );
    assert_eq!(v.entries, 6);
}

async fn a_deleted_middle_audit_row_is_reported(store: Arc<dyn Store>, raw: Raw) {
    write_chain(&store, 10, 4).await;
    assert_eq!(raw.exec("DELETE FROM audit WHERE seq = 5").await, 1);
    let v = store.verify_audit().await.unwrap();
    assert_eq!(v.first_problem, problem(5, None, AuditFault::Missing));
    assert_eq!(v.entries, 4);
    assert_eq!(
        v.first_problem.unwrap().to_string(),
        "audit entry 5 is missing (deleted)"
    );

    // Renumbering the rest to close the gap breaks their hashes instead.
    raw.exec("UPDATE audit SET seq = seq - 1 WHERE seq > 5")
        .await;
    let v = store.verify_audit().await.unwrap();
    let sixth = raw.column("SELECT id FROM audit WHERE seq = 5").await;
    assert_eq!(
        v.first_problem,
        Some(AuditProblem {
            seq: Some(5),
            id: sixth.first().cloned(),
            what: AuditFault::BrokenLink
        })
    );
}

async fn deleted_last_audit_rows_are_reported(store: Arc<dyn Store>, raw: Raw) {
    write_chain(&store, 10, 5).await;
    assert_eq!(raw.exec("DELETE FROM audit WHERE seq >= 9").await, 2);
    let v = store.verify_audit().await.unwrap();
    assert_eq!(
        v.first_problem,
        problem(9, None, AuditFault::HeadMismatch { head_seq: 10 })
    );
    assert_eq!(v.entries, 8);
    assert_eq!(v.head.map(|(seq, _)| seq), Some(10));

    // Without the head row, the head is what is missing.
    raw.exec("DELETE FROM audit_head").await;
    let v = store.verify_audit().await.unwrap();
    assert_eq!(
        v.first_problem,
        Some(AuditProblem {
            seq: None,
            id: None,
            what: AuditFault::HeadMissing
        })
    );
    assert_eq!(v.head, None);
    // And appending refuses rather than starting a second chain.
    let mut tx = store.begin().await.unwrap();
    let error = tx.audit(&entry(99)).await.unwrap_err();
    assert!(matches!(error, StoreError::AuditHeadMissing), "{error:?}");
}

async fn audit_rows_written_around_the_chain_are_reported(store: Arc<dyn Store>, raw: Raw) {
    write_chain(&store, 3, 3).await;
    raw.exec(
        "INSERT INTO audit (id, at, actor, action, target, format_version, body) \
         VALUES ('forged', 5, 'user:alice', 'decision.revoke', 'decision:1', 1, '{}')",
    )
    .await;
    let v = store.verify_audit().await.unwrap();
    assert_eq!(
        v.first_problem,
        Some(AuditProblem {
            seq: None,
            id: Some("forged".into()),
            what: AuditFault::Unchained
        })
    );
    assert_eq!(v.entries, 3);
    raw.exec("DELETE FROM audit WHERE id = 'forged'").await;
    clean(3)(&store.verify_audit().await.unwrap());

    // A row appended after the head, hash and all, is found too.
    let head = raw.column("SELECT hash FROM audit_head").await;
    raw.exec(&format!(
        "INSERT INTO audit (id, at, actor, action, target, format_version, body, seq, \
         prev_hash, hash) VALUES ('appended', 5, 'user:alice', 'decision.revoke', \
         'decision:1', 1, '{{}}', 4, '{}', 'x')",
        head[0]
    ))
    .await;
    let v = store.verify_audit().await.unwrap();
    assert_eq!(
        v.first_problem,
        Some(AuditProblem {
            seq: Some(4),
            id: Some("appended".into()),
            what: AuditFault::HashMismatch
        })
    );
}

/// Two writers at once: the second waits for the first (the store's write
/// lock), both commit, and the chain holds. Then a writer that holds only
/// the head's row lock (no advisory lock) makes a store transaction wait at
/// its first audit entry: `FOR UPDATE` works on its own.
async fn concurrent_audit_writers_serialize_on_the_head(store: Arc<dyn Store>, raw: Raw) {
    let Raw::Postgres(pool) = raw else {
        unreachable!("PostgreSQL only")
    };
    let waiting = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        n
    };
    let until_one_waits = || async {
        for _ in 0..1_000 {
            if waiting().await == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no transaction is waiting for a lock");
    };

    let mut first = store.begin().await.unwrap();
    first.audit(&entry(1)).await.unwrap();
    let second = tokio::spawn({
        let store = store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            tx.audit(&entry(2)).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    until_one_waits().await;
    assert!(!second.is_finished());
    first.audit(&entry(3)).await.unwrap();
    first.commit().await.unwrap();
    second.await.unwrap();
    clean(3)(&store.verify_audit().await.unwrap());
    let order: Vec<String> = sqlx::query_scalar("SELECT target FROM audit ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(order, ["decision:1", "decision:3", "decision:2"]);

    // Another appender holding only the head's row lock (no advisory
    // lock), from a connection of its own: it appends entry 4 in SQL (the
    // documented hash, computed by PostgreSQL) and moves the head. A store
    // transaction started meanwhile waits at its first entry, then appends
    // after entry 4. Without `FOR UPDATE` it would read the head as 3 and
    // collide with entry 4.
    let url = pool.connect_options().to_url_lossy().to_string();
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    holder
        .execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let fourth = entry(4);
    sqlx::query(
        "INSERT INTO audit (id, at, actor, action, target, format_version, body, seq, \
         prev_hash, hash) \
         SELECT $1, $2, $3, $4, $5, 1, $6, h.seq + 1, h.hash, \
         encode(sha256(convert_to('riposte-audit-v1' || chr(10) || (h.seq + 1) || chr(10) \
         || h.hash || chr(10) || $6, 'UTF8')), 'hex') FROM audit_head h WHERE h.id = 1",
    )
    .bind(fourth.id.to_string())
    .bind(fourth.at.timestamp_millis())
    .bind(fourth.actor.to_string())
    .bind(&fourth.action)
    .bind(&fourth.target)
    .bind(serde_json::to_string(&fourth).unwrap())
    .execute(&mut holder)
    .await
    .unwrap();
    holder
        .execute(
            "UPDATE audit_head SET seq = seq + 1, \
             hash = (SELECT hash FROM audit WHERE seq = audit_head.seq + 1) WHERE id = 1",
        )
        .await
        .unwrap();
    let writer = tokio::spawn({
        let store = store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            tx.audit(&entry(5)).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    until_one_waits().await;
    assert!(!writer.is_finished());
    holder.execute("COMMIT").await.unwrap();
    writer.await.unwrap();
    clean(5)(&store.verify_audit().await.unwrap());
    let order: Vec<String> = sqlx::query_scalar("SELECT target FROM audit ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        order,
        [
            "decision:1",
            "decision:3",
            "decision:2",
            "decision:4",
            "decision:5"
        ]
    );
}

// ---------------------------------------------------------------- per backend

/// Rows written before `0008_identity.sql` have no seq or hash; the first
/// open afterwards chains them in (at, id) order. Later opens chain nothing:
/// a row without a seq found then was written around the store.
#[tokio::test]
async fn audit_rows_from_before_the_chain_are_chained_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("riposte.db").display());
    let store = riposte_store::open(&url).await.unwrap();
    let (late, early, middle) = (entry(3_000), entry(1_000), entry(2_000));
    let mut tx = store.begin().await.unwrap();
    for e in [&late, &early, &middle] {
        tx.audit(e).await.unwrap();
    }
    tx.commit().await.unwrap();
    drop(store);
    // What a database migrated from 0007 holds.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    conn.execute(
        "UPDATE audit SET seq = NULL, prev_hash = NULL, hash = NULL; \
         UPDATE audit_head SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000', backfill = 1",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = riposte_store::open(&url).await.unwrap();
    clean(3)(&store.verify_audit().await.unwrap());
    let mut tx = store.begin().await.unwrap();
    tx.audit(&entry(500)).await.unwrap();
    tx.commit().await.unwrap();
    clean(4)(&store.verify_audit().await.unwrap());
    drop(store);

    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let order: Vec<String> = sqlx::query_scalar("SELECT target FROM audit ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        order,
        [
            "decision:1000",
            "decision:2000",
            "decision:3000",
            "decision:500"
        ]
    );
    conn.execute("UPDATE audit SET seq = NULL, prev_hash = NULL, hash = NULL WHERE seq = 4")
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = riposte_store::open(&url).await.unwrap();
    let v = store.verify_audit().await.unwrap();
    assert_eq!(
        v.first_problem,
        Some(AuditProblem {
            seq: Some(4),
            id: None,
            what: AuditFault::HeadMismatch { head_seq: 4 }
        })
    );
}
