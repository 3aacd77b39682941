//! One storage interface, two backends: SQLite (embedded, the default) and
//! PostgreSQL (production). Both pass the same conformance suite
//! (`tests/conformance.rs`), and their SQL lives in versioned migrations under
//! `migrations/<backend>/`.
//!
//! Writes go through a [`Tx`]: a pipeline batch writes its events, dead
//! letters, alerts, cases, decisions, audit entries *and its source
//! checkpoint* in one transaction, which is what makes file ingestion
//! exactly-once across crashes.

use std::sync::Arc;

use async_trait::async_trait;
use riposte_model::{
    Alert, AlertId, Approval, ApprovalId, ApprovalStatus, AuditEntry, Case, CaseId, DeadLetter,
    Decision, DecisionId, DecisionKind, DecisionState, Event, PlaybookRun, ReviewStatus, RunId,
    RunStatus, Scope, Timestamp,
};
use serde::Serialize;

pub mod audit;
pub mod auth;
mod backend;
mod files;
pub mod intel;
mod postgres;
mod shared;
mod sqlite;

pub use audit::{AuditFault, AuditProblem, AuditVerification};
pub use auth::{AuthStore, AuthTx};
pub use files::create_private_dir;
pub use intel::{
    AddedKey, IndicatorKey, IntelCount, IntelStore, IntelTx, QueuedSighting, ShareQuery,
    SharedIndicator, SightingKey,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored {what} is unreadable: {source}")]
    Corrupt {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "unsupported store URL {0:?} (expected sqlite://PATH, sqlite::memory:, or postgres://…)"
    )]
    BadUrl(String),
    /// A write the stored state refuses (a run cancelled meanwhile, a user
    /// name taken).
    #[error("{0}")]
    Conflict(String),
    /// The audit chain's head row was deleted. Appending would start a
    /// second chain and hide what was deleted, so audit writes stop until
    /// a person restores it (docs/security.md).
    #[error(
        "the audit log's head row (table audit_head) is missing: it was deleted outside \
         Riposte; see docs/security.md to restore it"
    )]
    AuditHeadMissing,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which decisions to list.
#[derive(Clone, Debug, Default)]
pub struct DecisionFilter {
    /// Only decisions in this state.
    pub state: Option<DecisionState>,
    /// Only decisions on this value (exact match on the canonical value).
    pub value: Option<String>,
    /// Only automated decisions with this review status.
    pub review: Option<ReviewStatus>,
    /// Only decisions made or changed (expired, revoked, reviewed) at or
    /// after this time.
    pub since: Option<Timestamp>,
    pub limit: Option<u32>,
}

/// Which runs [`Store::list_runs`] returns; newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub status: Option<RunStatus>,
    pub playbook: Option<String>,
    pub limit: Option<u32>,
}

/// Row counts, for health and the demo summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub events: u64,
    pub dead_letters: u64,
    pub alerts: u64,
    pub cases: u64,
    pub decisions_active: u64,
    pub decisions_total: u64,
    pub runs: u64,
    pub audit: u64,
}

/// Read side of the store, plus the entry point for writes.
///
/// Lists are newest first and bounded by `limit`.
#[async_trait]
pub trait Store: IntelStore + AuthStore + Send + Sync + std::fmt::Debug + 'static {
    /// Starts a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so read-then-write inside it cannot fail on a
    /// stale snapshot.
    async fn begin(&self) -> Result<Box<dyn Tx>>;

    async fn list_alerts(&self, limit: u32) -> Result<Vec<Alert>>;
    async fn get_alert(&self, id: AlertId) -> Result<Option<Alert>>;
    async fn list_cases(&self, limit: u32) -> Result<Vec<Case>>;
    async fn get_case(&self, id: CaseId) -> Result<Option<Case>>;
    async fn list_decisions(&self, filter: &DecisionFilter) -> Result<Vec<Decision>>;
    async fn get_decision(&self, id: DecisionId) -> Result<Option<Decision>>;
    /// Automated decisions awaiting review, oldest first (the most overdue
    /// must not fall behind a limit), and with `made_before` only those made
    /// before it (the overdue ones), filtered before the limit applies.
    async fn pending_reviews(
        &self,
        made_before: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Decision>>;
    /// Decisions in state `active` whose expiry is after `now` (or never):
    /// exactly what enforcers must apply.
    async fn effective_decisions(&self, now: Timestamp) -> Result<Vec<Decision>>;
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<PlaybookRun>>;
    async fn get_run(&self, id: RunId) -> Result<Option<PlaybookRun>>;
    /// How many runs are in `status` (the executor's backlog, for
    /// backpressure and metrics).
    async fn count_runs(&self, status: RunStatus) -> Result<u64>;
    /// The earliest time an unfinished run is due, if any is scheduled.
    async fn next_run_due(&self) -> Result<Option<Timestamp>>;
    /// Runs due at `now` (the executor's backlog, which holds back new
    /// batches when it grows past its bound).
    async fn count_due_runs(&self, now: Timestamp) -> Result<u64>;
    /// Approval requests, oldest first, optionally only those in `status`.
    async fn list_approvals(
        &self,
        status: Option<ApprovalStatus>,
        limit: u32,
    ) -> Result<Vec<Approval>>;
    async fn get_approval(&self, id: ApprovalId) -> Result<Option<Approval>>;
    async fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>>;
    /// Walks the audit hash chain from one snapshot and reports the first
    /// altered, deleted or foreign row (see [`audit`]).
    async fn verify_audit(&self) -> Result<AuditVerification>;
    async fn list_dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>>;
    /// Events whose origin is `source`, oldest offset first (replays, tests).
    async fn list_events_by_source(&self, source: &str, limit: u32) -> Result<Vec<Event>>;
    /// How far `source` has been committed.
    async fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>>;
    async fn counts(&self) -> Result<Counts>;
    /// A named piece of durable state (see [`Tx::set_setting`]).
    async fn setting(&self, key: &str) -> Result<Option<String>>;
}

/// How far a source has been committed: an offset in the source's own unit
/// (a byte offset in a file, a stream sequence in NATS), and which stream it
/// belongs to when the source can change underneath (a file's fingerprint,
/// see `riposte_ingest::FileTail`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    pub offset: u64,
    pub identity: Option<String>,
}

impl From<u64> for Checkpoint {
    fn from(offset: u64) -> Self {
        Self {
            offset,
            identity: None,
        }
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls back.
#[async_trait]
pub trait Tx: IntelTx + AuthTx + Send {
    async fn insert_events(&mut self, events: &[Event]) -> Result<()>;
    async fn insert_dead_letters(&mut self, letters: &[DeadLetter]) -> Result<()>;
    async fn insert_alert(&mut self, alert: &Alert) -> Result<()>;
    /// The open case with this group key, if any (newest if several).
    async fn open_case_by_key(&mut self, key: &str) -> Result<Option<Case>>;
    /// Inserts the case or replaces the stored one with the same id.
    async fn upsert_case(&mut self, case: &Case) -> Result<()>;
    async fn get_case(&mut self, id: CaseId) -> Result<Option<Case>>;
    /// An active, unexpired decision of this kind on exactly this scope and
    /// value.
    async fn effective_decision(
        &mut self,
        kind: DecisionKind,
        scope: Scope,
        value: &str,
        now: Timestamp,
    ) -> Result<Option<Decision>>;
    /// Every decision (any kind and state) on this scope and value made at
    /// or after `since`, newest first.
    async fn decisions_on(
        &mut self,
        scope: Scope,
        value: &str,
        since: Timestamp,
    ) -> Result<Vec<Decision>>;
    /// How many decisions automation made at or after `since`, not counting
    /// simulated ones and those held for approval.
    async fn count_automated_since(&mut self, since: Timestamp) -> Result<u64>;
    async fn get_decision(&mut self, id: DecisionId) -> Result<Option<Decision>>;
    async fn insert_decision(&mut self, decision: &Decision) -> Result<()>;
    /// Rewrites a stored decision (state, expiry, review) by its id.
    async fn update_decision(&mut self, decision: &Decision) -> Result<()>;
    /// Moves an `active` decision to `state`; returns the updated decision, or
    /// `None` if no active decision has this id.
    async fn end_decision(
        &mut self,
        id: DecisionId,
        state: DecisionState,
        at: Timestamp,
    ) -> Result<Option<Decision>>;
    /// Marks every active decision with `expires_at <= now` as expired and
    /// returns them.
    async fn expire_decisions(&mut self, now: Timestamp) -> Result<Vec<Decision>>;
    /// Inserts or replaces a run. `lease_until`: how long the saving
    /// executor keeps holding it (`None` releases it). A run stored as
    /// cancelled is never replaced: [`StoreError::Conflict`].
    async fn save_run(&mut self, run: &PlaybookRun, lease_until: Option<Timestamp>) -> Result<()>;
    /// Takes up to `limit` runs due at `now` that no executor holds, for
    /// this one until `lease_until`; each comes with `next_at` as scheduled.
    async fn claim_runs(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<PlaybookRun>>;
    async fn get_run(&mut self, id: RunId) -> Result<Option<PlaybookRun>>;
    /// Extends the lease of a run this executor holds (a heartbeat while a
    /// long step runs); false when the run is not leased any more.
    async fn renew_lease(&mut self, id: RunId, until: Timestamp) -> Result<bool>;
    /// Makes an unfinished run due at `at` (unless it is due sooner):
    /// after an approval is answered. Returns whether a run was woken.
    async fn wake_run(&mut self, id: RunId, at: Timestamp) -> Result<bool>;
    /// Inserts or replaces an approval request.
    async fn save_approval(&mut self, approval: &Approval) -> Result<()>;
    async fn get_approval(&mut self, id: ApprovalId) -> Result<Option<Approval>>;
    /// A run's approval requests, oldest first.
    async fn approvals_of(&mut self, run: RunId) -> Result<Vec<Approval>>;
    /// Appends to the hash-chained audit log: the entry becomes the next
    /// `seq` after the chain's head, which the transaction reads at its
    /// first entry (holding it until commit on PostgreSQL) and writes back
    /// at commit.
    async fn audit(&mut self, entry: &AuditEntry) -> Result<()>;
    async fn set_checkpoint(&mut self, source: &str, checkpoint: &Checkpoint) -> Result<()>;
    async fn setting(&mut self, key: &str) -> Result<Option<String>>;
    /// Sets (`Some`) or deletes (`None`) a named piece of durable state.
    async fn set_setting(&mut self, key: &str, value: Option<&str>, at: Timestamp) -> Result<()>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Opens (and migrates) the store a URL names: `sqlite://PATH` (created if
/// missing), `sqlite::memory:`, or `postgres://…`/`postgresql://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}
