//! The [`Store`](crate::Store) and [`Tx`](crate::Tx) implementations, written
//! once and stamped out per sqlx database.
//!
//! A macro rather than generics: code generic over `sqlx::Database` needs a
//! dozen higher-ranked bounds, and `async_trait`'s `Send` futures trip over
//! them. Each expansion is ordinary code for one concrete database, with the
//! SQL and row mapping taken from [`crate::shared`].

/// Implements `Store` for `$store`, which must have a `pool: sqlx::Pool<$db>`
/// field and inherent `async fn begin_tx(&self) -> Result<sqlx::Transaction<'static, $db>>`
/// (where the backends differ in how they take the write lock) and
/// `begin_snapshot` (a read-only transaction that sees one snapshot).
/// `$read_head` is the statement that reads the audit chain's head in a
/// write transaction (PostgreSQL locks the row).
macro_rules! sql_backend {
    ($store:ident, $db:ty, $events_per_statement:expr, $positional:expr, $read_head:expr) => {
        mod sql_impl {
            use async_trait::async_trait;
            use riposte_model::{
                Alert, AlertId, Approval, ApprovalId, ApprovalStatus, AuditEntry, Case, CaseId,
                DeadLetter, Decision, DecisionId, DecisionKind, DecisionState, Event, PlaybookRun,
                RunId, RunStatus, Scope, Timestamp,
            };
            use sqlx::Arguments as _;

            use super::$store;
            use $crate::audit::{self, AuditVerification};
            use $crate::shared::{self, BodyRow, Val};
            use $crate::{
                Checkpoint, Counts, DecisionFilter, Result, RunFilter, Store, StoreError, Tx,
            };

            type Db = $db;
            type Args<'q> = <Db as sqlx::Database>::Arguments<'q>;
            type Conn = <Db as sqlx::Database>::Connection;

            /// Rows per event INSERT, chosen per backend: see the call sites.
            const EVENTS_PER_STATEMENT: usize = $events_per_statement;

            fn args<'q>(vals: Vec<Val>) -> Result<Args<'q>> {
                let mut args: Args<'q> = Args::default();
                for val in vals {
                    match val {
                        Val::Int(v) => args.add(v),
                        Val::Text(v) => args.add(v),
                        Val::Blob(v) => args.add(v),
                    }
                    .map_err(sqlx::Error::Encode)?;
                }
                Ok(args)
            }

            async fn execute<'e, E>(exec: E, sql: &'e str, vals: Vec<Val>) -> Result<()>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                sqlx::query_with(sql, args(vals)?).execute(exec).await?;
                Ok(())
            }

            /// Executes and returns how many rows it changed.
            async fn execute_count<'e, E>(exec: E, sql: &'e str, vals: Vec<Val>) -> Result<u64>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                Ok(sqlx::query_with(sql, args(vals)?)
                    .execute(exec)
                    .await?
                    .rows_affected())
            }

            /// A run with its scheduling column (see `shared::GET_RUN_DUE`).
            async fn run_due<'e, E>(exec: E, id: &str) -> Result<Option<PlaybookRun>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let row: Option<(i32, String, Option<i64>)> =
                    sqlx::query_as_with(shared::GET_RUN_DUE, args(vec![Val::text(id)])?)
                        .fetch_optional(exec)
                        .await?;
                row.map(|(version, body, next_at)| {
                    let mut run: PlaybookRun = shared::decode("playbook run", (version, body))?;
                    run.next_at = next_at.and_then(chrono::DateTime::from_timestamp_millis);
                    Ok(run)
                })
                .transpose()
            }

            async fn fetch_all<'e, E, T>(
                exec: E,
                what: &'static str,
                sql: &'e str,
                vals: Vec<Val>,
            ) -> Result<Vec<T>>
            where
                E: sqlx::Executor<'e, Database = Db>,
                T: serde::de::DeserializeOwned,
            {
                let rows: Vec<BodyRow> = sqlx::query_as_with(sql, args(vals)?)
                    .fetch_all(exec)
                    .await?;
                rows.into_iter()
                    .map(|row| shared::decode(what, row))
                    .collect()
            }

            async fn fetch_one<'e, E, T>(
                exec: E,
                what: &'static str,
                sql: &'e str,
                vals: Vec<Val>,
            ) -> Result<Option<T>>
            where
                E: sqlx::Executor<'e, Database = Db>,
                T: serde::de::DeserializeOwned,
            {
                let row: Option<BodyRow> = sqlx::query_as_with(sql, args(vals)?)
                    .fetch_optional(exec)
                    .await?;
                row.map(|row| shared::decode(what, row)).transpose()
            }

            async fn update_decision(conn: &mut Conn, decision: &Decision) -> Result<()> {
                execute(
                    conn,
                    shared::UPDATE_DECISION,
                    shared::decision_row(decision)?,
                )
                .await
            }

            #[async_trait]
            impl Store for $store {
                async fn begin(&self) -> Result<Box<dyn Tx>> {
                    Ok(Box::new(SqlTx(
                        self.begin_tx().await?,
                        audit::Chain::default(),
                    )))
                }

                async fn list_alerts(&self, limit: u32) -> Result<Vec<Alert>> {
                    let vals = vec![shared::limit(limit)];
                    fetch_all(&self.pool, "alert", shared::LIST_ALERTS, vals).await
                }

                async fn get_alert(&self, id: AlertId) -> Result<Option<Alert>> {
                    let vals = vec![Val::text(id)];
                    fetch_one(&self.pool, "alert", shared::GET_ALERT, vals).await
                }

                async fn list_cases(&self, limit: u32) -> Result<Vec<Case>> {
                    let vals = vec![shared::limit(limit)];
                    fetch_all(&self.pool, "case", shared::LIST_CASES, vals).await
                }

                async fn get_case(&self, id: CaseId) -> Result<Option<Case>> {
                    let vals = vec![Val::text(id)];
                    fetch_one(&self.pool, "case", shared::GET_CASE, vals).await
                }

                async fn list_decisions(&self, filter: &DecisionFilter) -> Result<Vec<Decision>> {
                    let vals = vec![
                        Val::Text(filter.state.map(|s| s.as_str().to_owned())),
                        Val::Text(filter.value.clone()),
                        Val::Text(filter.review.map(|r| r.as_str().to_owned())),
                        Val::Int(filter.since.map(|t| t.timestamp_millis())),
                        Val::Int(Some(filter.limit.map_or(i64::MAX, i64::from))),
                    ];
                    fetch_all(&self.pool, "decision", shared::LIST_DECISIONS, vals).await
                }

                async fn get_decision(&self, id: DecisionId) -> Result<Option<Decision>> {
                    let vals = vec![Val::text(id)];
                    fetch_one(&self.pool, "decision", shared::GET_DECISION, vals).await
                }

                async fn pending_reviews(
                    &self,
                    made_before: Option<Timestamp>,
                    limit: u32,
                ) -> Result<Vec<Decision>> {
                    let vals = vec![
                        Val::Int(made_before.map(|t| t.timestamp_millis())),
                        shared::limit(limit),
                    ];
                    fetch_all(&self.pool, "decision", shared::PENDING_REVIEWS, vals).await
                }

                async fn effective_decisions(&self, now: Timestamp) -> Result<Vec<Decision>> {
                    let vals = vec![Val::time(now)];
                    fetch_all(&self.pool, "decision", shared::EFFECTIVE_DECISIONS, vals).await
                }

                async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<PlaybookRun>> {
                    let vals = vec![
                        Val::Text(filter.status.map(|s| s.as_str().to_owned())),
                        Val::Text(filter.playbook.clone()),
                        Val::Int(Some(filter.limit.map_or(i64::MAX, i64::from))),
                    ];
                    fetch_all(&self.pool, "playbook run", shared::LIST_RUNS, vals).await
                }

                async fn get_run(&self, id: RunId) -> Result<Option<PlaybookRun>> {
                    run_due(&self.pool, &id.to_string()).await
                }

                async fn count_runs(&self, status: RunStatus) -> Result<u64> {
                    let (n,): (i64,) =
                        sqlx::query_as_with(shared::COUNT_RUNS, args(vec![Val::text(status)])?)
                            .fetch_one(&self.pool)
                            .await?;
                    shared::to_u64(n)
                }

                async fn count_due_runs(&self, now: Timestamp) -> Result<u64> {
                    let (n,): (i64,) =
                        sqlx::query_as_with(shared::COUNT_DUE_RUNS, args(vec![Val::time(now)])?)
                            .fetch_one(&self.pool)
                            .await?;
                    shared::to_u64(n)
                }

                async fn next_run_due(&self) -> Result<Option<Timestamp>> {
                    let (at,): (Option<i64>,) = sqlx::query_as(shared::NEXT_RUN_DUE)
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(at.and_then(chrono::DateTime::from_timestamp_millis))
                }

                async fn list_approvals(
                    &self,
                    status: Option<ApprovalStatus>,
                    limit: u32,
                ) -> Result<Vec<Approval>> {
                    let vals = vec![
                        Val::Text(status.map(|s| s.as_str().to_owned())),
                        shared::limit(limit),
                    ];
                    fetch_all(&self.pool, "approval", shared::LIST_APPROVALS, vals).await
                }

                async fn get_approval(&self, id: ApprovalId) -> Result<Option<Approval>> {
                    let vals = vec![Val::text(id)];
                    fetch_one(&self.pool, "approval", shared::GET_APPROVAL, vals).await
                }

                async fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>> {
                    let vals = vec![shared::limit(limit)];
                    fetch_all(&self.pool, "audit entry", shared::LIST_AUDIT, vals).await
                }

                async fn verify_audit(&self) -> Result<AuditVerification> {
                    // One snapshot: the head and every page agree even while
                    // writers append.
                    let mut tx = self.begin_snapshot().await?;
                    let head: Option<audit::HeadRow> =
                        sqlx::query_as(audit::HEAD).fetch_optional(&mut *tx).await?;
                    let mut walk = audit::Walk::new();
                    loop {
                        let vals = vec![Val::Int(Some(walk.last_seq)), shared::limit(audit::PAGE)];
                        let rows: Vec<audit::ChainRow> =
                            sqlx::query_as_with(audit::CHAIN_PAGE, args(vals)?)
                                .fetch_all(&mut *tx)
                                .await?;
                        let full = rows.len() == audit::PAGE as usize;
                        for row in rows {
                            walk.check(row);
                        }
                        if walk.failed() || !full {
                            break;
                        }
                    }
                    let outside: Option<(String,)> = sqlx::query_as(audit::OUTSIDE_CHAIN)
                        .fetch_optional(&mut *tx)
                        .await?;
                    tx.rollback().await?;
                    Ok(walk.finish(head, outside.map(|(id,)| id)))
                }

                async fn list_dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>> {
                    let rows: Vec<(i32, String, Vec<u8>)> = sqlx::query_as_with(
                        shared::LIST_DEAD_LETTERS,
                        args(vec![shared::limit(limit)])?,
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter().map(shared::decode_dead_letter).collect()
                }

                async fn list_events_by_source(
                    &self,
                    source: &str,
                    limit: u32,
                ) -> Result<Vec<Event>> {
                    let vals = vec![Val::text(source), shared::limit(limit)];
                    fetch_all(&self.pool, "event", shared::LIST_EVENTS_BY_SOURCE, vals).await
                }

                async fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>> {
                    let vals = vec![Val::text(source)];
                    let row: Option<(i64, Option<String>)> =
                        sqlx::query_as_with(shared::GET_CHECKPOINT, args(vals)?)
                            .fetch_optional(&self.pool)
                            .await?;
                    row.map(|(offset, identity)| {
                        Ok(Checkpoint {
                            offset: shared::to_u64(offset)?,
                            identity,
                        })
                    })
                    .transpose()
                }

                async fn counts(&self) -> Result<Counts> {
                    let row: shared::CountsRow =
                        sqlx::query_as(shared::COUNTS).fetch_one(&self.pool).await?;
                    shared::counts(row)
                }

                async fn setting(&self, key: &str) -> Result<Option<String>> {
                    get_setting(&self.pool, key).await
                }
            }

            async fn get_setting<'e, E>(exec: E, key: &'e str) -> Result<Option<String>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let row: Option<(String,)> =
                    sqlx::query_as_with(shared::GET_SETTING, args(vec![Val::text(key)])?)
                        .fetch_optional(exec)
                        .await?;
                Ok(row.map(|(value,)| value))
            }

            /// Chains the audit rows written before `0008_identity.sql`, in
            /// (at, id) order, a page per transaction; run when the store
            /// opens. Only while the head says so (`backfill`): a row
            /// without a seq found later was written around the store, and
            /// chaining it would bless it.
            pub(super) async fn chain_old_audit(store: &$store) -> Result<()> {
                loop {
                    let mut tx = store.begin_tx().await?;
                    let head: Option<audit::HeadRow> =
                        sqlx::query_as($read_head).fetch_optional(&mut *tx).await?;
                    let (mut seq, mut hash, backfill) = head.ok_or(StoreError::AuditHeadMissing)?;
                    if backfill == 0 {
                        return Ok(());
                    }
                    let rows: Vec<(String, String)> = sqlx::query_as_with(
                        audit::UNCHAINED_PAGE,
                        args(vec![shared::limit(audit::PAGE)])?,
                    )
                    .fetch_all(&mut *tx)
                    .await?;
                    let done = rows.len() < audit::PAGE as usize;
                    for (id, body) in rows {
                        seq += 1;
                        let next = audit::chain_hash(seq, &hash, &body);
                        let vals = vec![
                            Val::Text(Some(id)),
                            Val::Int(Some(seq)),
                            Val::Text(Some(hash)),
                            Val::text(&next),
                        ];
                        execute(&mut *tx, audit::CHAIN_ROW, vals).await?;
                        hash = next;
                    }
                    let vals = vec![
                        Val::Int(Some(seq)),
                        Val::Text(Some(hash)),
                        Val::Int(Some(i64::from(!done))),
                    ];
                    execute(&mut *tx, audit::SET_HEAD, vals).await?;
                    tx.commit().await?;
                    if done {
                        return Ok(());
                    }
                }
            }

            /// Dropping it drops the sqlx transaction, which rolls back
            /// (the audit chain's head with it).
            struct SqlTx(sqlx::Transaction<'static, Db>, audit::Chain);

            #[async_trait]
            impl Tx for SqlTx {
                async fn insert_events(&mut self, events: &[Event]) -> Result<()> {
                    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
                        let mut vals = Vec::with_capacity(chunk.len() * shared::EVENT_COLUMNS);
                        for event in chunk {
                            vals.extend(shared::event_row(event)?);
                        }
                        let values =
                            shared::values_clause(chunk.len(), shared::EVENT_COLUMNS, $positional);
                        let sql = format!("{}{values}", shared::INSERT_EVENTS);
                        // Full-size statements repeat and are prepared once;
                        // a batch's odd-sized tail is not worth caching.
                        sqlx::query_with(&sql, args(vals)?)
                            .persistent(chunk.len() == EVENTS_PER_STATEMENT)
                            .execute(&mut *self.0)
                            .await?;
                    }
                    Ok(())
                }

                async fn insert_dead_letters(&mut self, letters: &[DeadLetter]) -> Result<()> {
                    for letter in letters {
                        let vals = shared::dead_letter_row(letter)?;
                        execute(&mut *self.0, shared::INSERT_DEAD_LETTER, vals).await?;
                    }
                    Ok(())
                }

                async fn insert_alert(&mut self, alert: &Alert) -> Result<()> {
                    execute(
                        &mut *self.0,
                        shared::INSERT_ALERT,
                        shared::alert_row(alert)?,
                    )
                    .await
                }

                async fn open_case_by_key(&mut self, key: &str) -> Result<Option<Case>> {
                    let vals = vec![Val::text(key)];
                    fetch_one(&mut *self.0, "case", shared::OPEN_CASE_BY_KEY, vals).await
                }

                async fn upsert_case(&mut self, case: &Case) -> Result<()> {
                    execute(&mut *self.0, shared::UPSERT_CASE, shared::case_row(case)?).await
                }

                async fn get_case(&mut self, id: CaseId) -> Result<Option<Case>> {
                    let vals = vec![Val::text(id)];
                    fetch_one(&mut *self.0, "case", shared::GET_CASE, vals).await
                }

                async fn effective_decision(
                    &mut self,
                    kind: DecisionKind,
                    scope: Scope,
                    value: &str,
                    now: Timestamp,
                ) -> Result<Option<Decision>> {
                    let vals = vec![
                        Val::text(kind),
                        Val::text(scope),
                        Val::text(value),
                        Val::time(now),
                    ];
                    fetch_one(&mut *self.0, "decision", shared::EFFECTIVE_DECISION, vals).await
                }

                async fn decisions_on(
                    &mut self,
                    scope: Scope,
                    value: &str,
                    since: Timestamp,
                ) -> Result<Vec<Decision>> {
                    let vals = vec![Val::text(scope), Val::text(value), Val::time(since)];
                    fetch_all(&mut *self.0, "decision", shared::DECISIONS_ON, vals).await
                }

                async fn count_automated_since(&mut self, since: Timestamp) -> Result<u64> {
                    let (n,): (i64,) = sqlx::query_as_with(
                        shared::COUNT_AUTOMATED_SINCE,
                        args(vec![Val::time(since)])?,
                    )
                    .fetch_one(&mut *self.0)
                    .await?;
                    shared::to_u64(n)
                }

                async fn get_decision(&mut self, id: DecisionId) -> Result<Option<Decision>> {
                    let vals = vec![Val::text(id)];
                    fetch_one(&mut *self.0, "decision", shared::GET_DECISION, vals).await
                }

                async fn insert_decision(&mut self, decision: &Decision) -> Result<()> {
                    let vals = shared::decision_row(decision)?;
                    execute(&mut *self.0, shared::INSERT_DECISION, vals).await
                }

                async fn update_decision(&mut self, decision: &Decision) -> Result<()> {
                    update_decision(&mut self.0, decision).await
                }

                async fn end_decision(
                    &mut self,
                    id: DecisionId,
                    state: DecisionState,
                    at: Timestamp,
                ) -> Result<Option<Decision>> {
                    let vals = vec![Val::text(id)];
                    let active: Option<Decision> =
                        fetch_one(&mut *self.0, "decision", shared::GET_ACTIVE_DECISION, vals)
                            .await?;
                    let Some(active) = active else {
                        return Ok(None);
                    };
                    let ended = shared::end(active, state, at);
                    update_decision(&mut self.0, &ended).await?;
                    Ok(Some(ended))
                }

                async fn expire_decisions(&mut self, now: Timestamp) -> Result<Vec<Decision>> {
                    let vals = vec![Val::time(now)];
                    let due: Vec<Decision> =
                        fetch_all(&mut *self.0, "decision", shared::DUE_DECISIONS, vals).await?;
                    let mut expired = Vec::with_capacity(due.len());
                    for decision in due {
                        let decision = shared::end(decision, DecisionState::Expired, now);
                        update_decision(&mut self.0, &decision).await?;
                        expired.push(decision);
                    }
                    Ok(expired)
                }

                async fn save_run(
                    &mut self,
                    run: &PlaybookRun,
                    lease_until: Option<Timestamp>,
                ) -> Result<()> {
                    let vals = shared::run_row(run, lease_until)?;
                    if execute_count(&mut *self.0, shared::SAVE_RUN, vals).await? == 0 {
                        return Err(StoreError::Conflict(format!(
                            "run {} was cancelled; not saved",
                            run.id
                        )));
                    }
                    Ok(())
                }

                async fn claim_runs(
                    &mut self,
                    now: Timestamp,
                    lease_until: Timestamp,
                    limit: u32,
                ) -> Result<Vec<PlaybookRun>> {
                    let ids: Vec<(String,)> = sqlx::query_as_with(
                        shared::DUE_RUNS,
                        args(vec![Val::time(now), shared::limit(limit)])?,
                    )
                    .fetch_all(&mut *self.0)
                    .await?;
                    let mut runs = Vec::with_capacity(ids.len());
                    for (id,) in ids {
                        let vals = vec![Val::text(&id), Val::time(lease_until), Val::time(now)];
                        if execute_count(&mut *self.0, shared::LEASE_RUN, vals).await? == 1
                            && let Some(run) = run_due(&mut *self.0, &id).await?
                        {
                            runs.push(run);
                        }
                    }
                    Ok(runs)
                }

                async fn get_run(&mut self, id: RunId) -> Result<Option<PlaybookRun>> {
                    run_due(&mut *self.0, &id.to_string()).await
                }

                async fn renew_lease(&mut self, id: RunId, until: Timestamp) -> Result<bool> {
                    let vals = vec![Val::text(id), Val::time(until)];
                    Ok(execute_count(&mut *self.0, shared::RENEW_LEASE, vals).await? > 0)
                }

                async fn wake_run(&mut self, id: RunId, at: Timestamp) -> Result<bool> {
                    let vals = vec![Val::text(id), Val::time(at)];
                    Ok(execute_count(&mut *self.0, shared::WAKE_RUN, vals).await? > 0)
                }

                async fn save_approval(&mut self, approval: &Approval) -> Result<()> {
                    let vals = shared::approval_row(approval)?;
                    execute(&mut *self.0, shared::SAVE_APPROVAL, vals).await
                }

                async fn get_approval(&mut self, id: ApprovalId) -> Result<Option<Approval>> {
                    let vals = vec![Val::text(id)];
                    fetch_one(&mut *self.0, "approval", shared::GET_APPROVAL, vals).await
                }

                async fn approvals_of(&mut self, run: RunId) -> Result<Vec<Approval>> {
                    let vals = vec![Val::text(run)];
                    fetch_all(&mut *self.0, "approval", shared::APPROVALS_OF, vals).await
                }

                async fn audit(&mut self, entry: &AuditEntry) -> Result<()> {
                    let head = match &mut self.1.head {
                        Some(head) => head,
                        None => {
                            let row: Option<audit::HeadRow> = sqlx::query_as($read_head)
                                .fetch_optional(&mut *self.0)
                                .await?;
                            self.1.head.insert(row.ok_or(StoreError::AuditHeadMissing)?)
                        }
                    };
                    let seq = head.0 + 1;
                    let (vals, hash) = audit::audit_row(entry, seq, &head.1)?;
                    execute(&mut *self.0, audit::INSERT_AUDIT, vals).await?;
                    head.0 = seq;
                    head.1 = hash;
                    self.1.dirty = true;
                    Ok(())
                }

                async fn set_checkpoint(
                    &mut self,
                    source: &str,
                    checkpoint: &Checkpoint,
                ) -> Result<()> {
                    let vals = shared::checkpoint_row(source, checkpoint)?;
                    execute(&mut *self.0, shared::SET_CHECKPOINT, vals).await
                }

                async fn setting(&mut self, key: &str) -> Result<Option<String>> {
                    get_setting(&mut *self.0, key).await
                }

                async fn set_setting(
                    &mut self,
                    key: &str,
                    value: Option<&str>,
                    at: Timestamp,
                ) -> Result<()> {
                    match value {
                        Some(value) => {
                            let vals = vec![Val::text(key), Val::text(value), Val::time(at)];
                            execute(&mut *self.0, shared::SET_SETTING, vals).await
                        }
                        None => {
                            let vals = vec![Val::text(key)];
                            execute(&mut *self.0, shared::DELETE_SETTING, vals).await
                        }
                    }
                }

                async fn commit(self: Box<Self>) -> Result<()> {
                    let SqlTx(mut tx, chain) = *self;
                    if let (true, Some((seq, hash, backfill))) = (chain.dirty, chain.head) {
                        let vals = vec![
                            Val::Int(Some(seq)),
                            Val::Text(Some(hash)),
                            Val::Int(Some(backfill)),
                        ];
                        execute(&mut *tx, audit::SET_HEAD, vals).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }
            }

            $crate::intel::intel_impl!($store, $positional);
            $crate::auth::auth_impl!($store);
        }
    };
}

pub(crate) use sql_backend;
