//! What the SQLite and PostgreSQL backends share: the SQL text, the mapping of
//! model objects to row values, and the reading of stored bodies.
//!
//! The SQL is written once for both engines. It sticks to what they have in
//! common: `$N` placeholders (sqlx's SQLite driver accepts them too), `ON
//! CONFLICT … DO UPDATE`, and timestamps as BIGINT Unix milliseconds, so that
//! the backends differ only in how they connect and begin a transaction.

use riposte_model::{
    Alert, Approval, Case, DeadLetter, Decision, DecisionState, Event, PlaybookRun, Timestamp,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Result, StoreError};

/// The form of `body` written today. Reads dispatch on the stored value, so
/// rows written by an older Riposte stay readable once the model changes.
pub(crate) const FORMAT_VERSION: i64 = 1;

/// One bind parameter. These three types are native to both engines, which is
/// what lets one list of values feed either backend's query.
#[derive(Debug)]
pub(crate) enum Val {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Vec<u8>),
}

impl Val {
    pub(crate) fn text(value: impl ToString) -> Self {
        Val::Text(Some(value.to_string()))
    }

    /// Millisecond precision is what the index columns keep; the body keeps
    /// the full timestamp.
    pub(crate) fn time(at: Timestamp) -> Self {
        Val::Int(Some(at.timestamp_millis()))
    }

    fn body(value: &impl Serialize) -> Result<Self> {
        let json = serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(e.into()))?;
        Ok(Val::Text(Some(json)))
    }
}

/// Offsets and lengths are `u64` in the model but BIGINT in both engines.
pub(crate) fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value)
        .map_err(|_| sqlx::Error::Encode(format!("{value} does not fit a BIGINT").into()).into())
}

pub(crate) fn to_u64(value: i64) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| sqlx::Error::Decode(format!("negative count or offset {value}").into()).into())
}

pub(crate) fn limit(limit: u32) -> Val {
    Val::Int(Some(limit.into()))
}

/// What every list of model objects selects.
pub(crate) type BodyRow = (i32, String);

pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    (version, body): BodyRow,
) -> Result<T> {
    let parsed = match i64::from(version) {
        FORMAT_VERSION => serde_json::from_str(&body),
        other => Err(serde::de::Error::custom(format_args!(
            "unknown format_version {other}"
        ))),
    };
    parsed.map_err(|source| StoreError::Corrupt { what, source })
}

/// The body keeps the raw bytes only as lossy UTF-8; the `raw` column has
/// them exactly.
pub(crate) fn decode_dead_letter(
    (version, body, raw): (i32, String, Vec<u8>),
) -> Result<DeadLetter> {
    let mut letter: DeadLetter = decode("dead letter", (version, body))?;
    letter.raw = raw;
    Ok(letter)
}

/// Applies a state change to a decision read from the store, so that the
/// written-back body and columns agree.
pub(crate) fn end(mut decision: Decision, state: DecisionState, at: Timestamp) -> Decision {
    decision.state = state;
    decision.updated_at = at;
    decision
}

pub(crate) const EVENT_COLUMNS: usize = 7;
pub(crate) const INSERT_EVENTS: &str =
    "INSERT INTO events (id, ts, dataset, source, source_offset, format_version, body) VALUES ";

/// Events are written many to a statement; this adds the `($1, …), (…)`
/// groups for `rows` rows, or `(?, …)` groups when `positional` (SQLite
/// binds those by position; `$N` names it looks up one by one).
pub(crate) fn values_clause(rows: usize, columns: usize, positional: bool) -> String {
    let groups: Vec<String> = (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=columns)
                .map(|col| {
                    if positional {
                        "?".to_owned()
                    } else {
                        format!("${}", row * columns + col)
                    }
                })
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    groups.join(", ")
}

pub(crate) fn event_row(event: &Event) -> Result<Vec<Val>> {
    let (source, offset) = match &event.origin {
        Some(pos) => (Some(pos.source.to_string()), Some(to_i64(pos.offset)?)),
        None => (None, None),
    };
    Ok(vec![
        Val::text(event.id),
        Val::time(event.timestamp),
        Val::text(&event.dataset),
        Val::Text(source),
        Val::Int(offset),
        Val::Int(Some(FORMAT_VERSION)),
        Val::body(event)?,
    ])
}

pub(crate) const INSERT_DEAD_LETTER: &str = "INSERT INTO dead_letters \
    (received_at, source, source_offset, format, reason, raw, raw_len, format_version, body) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub(crate) fn dead_letter_row(letter: &DeadLetter) -> Result<Vec<Val>> {
    Ok(vec![
        Val::time(letter.received_at),
        Val::text(&letter.source),
        Val::Int(letter.offset.map(to_i64).transpose()?),
        Val::text(&letter.format),
        Val::text(&letter.reason),
        Val::Blob(letter.raw.clone()),
        Val::Int(Some(to_i64(letter.raw_len)?)),
        Val::Int(Some(FORMAT_VERSION)),
        Val::body(letter)?,
    ])
}

pub(crate) const INSERT_ALERT: &str = "INSERT INTO alerts \
    (id, rule_id, created_at, format_version, body) VALUES ($1, $2, $3, $4, $5)";

pub(crate) fn alert_row(alert: &Alert) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(alert.id),
        Val::text(&alert.rule_id),
        Val::time(alert.created_at),
        Val::Int(Some(FORMAT_VERSION)),
        Val::body(alert)?,
    ])
}

pub(crate) const UPSERT_CASE: &str = "INSERT INTO cases \
    (id, status, group_key, created_at, updated_at, format_version, body) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) \
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, group_key = excluded.group_key, \
    created_at = excluded.created_at, updated_at = excluded.updated_at, \
    format_version = excluded.format_version, body = excluded.body";

pub(crate) fn case_row(case: &Case) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(case.id),
        Val::text(case.status),
        Val::Text(case.group_key.clone()),
        Val::time(case.created_at),
        Val::time(case.updated_at),
        Val::Int(Some(FORMAT_VERSION)),
        Val::body(case)?,
    ])
}

pub(crate) const INSERT_DECISION: &str = "INSERT INTO decisions \
    (id, kind, scope, value, state, created_at, expires_at, updated_at, format_version, body, \
    automated, review) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
/// Rewrites the whole row from [`decision_row`], so a state change cannot
/// leave the body and the columns disagreeing.
pub(crate) const UPDATE_DECISION: &str = "UPDATE decisions SET kind = $2, scope = $3, \
    value = $4, state = $5, created_at = $6, expires_at = $7, updated_at = $8, \
    format_version = $9, body = $10, automated = $11, review = $12 WHERE id = $1";

pub(crate) fn decision_row(decision: &Decision) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(decision.id),
        Val::text(decision.kind),
        Val::text(decision.scope),
        Val::text(&decision.value),
        Val::text(decision.state),
        Val::time(decision.created_at),
        Val::Int(decision.expires_at.map(|at| at.timestamp_millis())),
        Val::time(decision.updated_at),
        Val::Int(Some(FORMAT_VERSION)),
        Val::body(decision)?,
        Val::Int(Some(i64::from(decision.origin.is_automated()))),
        Val::Text(
            decision
                .review
                .as_ref()
                .map(|r| r.status.as_str().to_owned()),
        ),
    ])
}

/// Inserts a run or replaces the stored one: runs are saved after every
/// step. `next_at` and `lease_until` are scheduling columns the executor
/// reads (see `Tx::claim_runs`).
pub(crate) const SAVE_RUN: &str = "INSERT INTO runs \
    (id, playbook, started_at, format_version, body, status, next_at, lease_until, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (id) DO UPDATE SET format_version = excluded.format_version, \
    body = excluded.body, status = excluded.status, next_at = excluded.next_at, \
    lease_until = excluded.lease_until, updated_at = excluded.updated_at \
    WHERE runs.status <> 'cancelled'";

pub(crate) fn run_row(run: &PlaybookRun, lease_until: Option<Timestamp>) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(run.id),
        Val::text(&run.playbook),
        Val::time(run.started_at),
        Val::Int(Some(FORMAT_VERSION)),
        Val::body(run)?,
        Val::text(run.status),
        Val::Int(run.next_at.map(|t| t.timestamp_millis())),
        Val::Int(lease_until.map(|t| t.timestamp_millis())),
        Val::time(run.finished_at),
    ])
}

/// Unfinished runs due at `$1` that no executor holds, soonest first.
pub(crate) const DUE_RUNS: &str = "SELECT id FROM runs \
    WHERE next_at IS NOT NULL AND next_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
    ORDER BY next_at, id LIMIT $2";
/// Takes a run for an executor until `$2`, unless another holds it at `$3`
/// (PostgreSQL re-checks the condition after waiting for a row lock, so of
/// two executors racing for a run only one updates it).
pub(crate) const LEASE_RUN: &str = "UPDATE runs SET lease_until = $2 \
    WHERE id = $1 AND next_at IS NOT NULL AND (lease_until IS NULL OR lease_until < $3)";
/// A run's body with its scheduling column, which wins over the body's copy
/// (a wake-up updates only the column).
pub(crate) const GET_RUN_DUE: &str = "SELECT format_version, body, next_at FROM runs WHERE id = $1";
pub(crate) const RENEW_LEASE: &str =
    "UPDATE runs SET lease_until = $2 WHERE id = $1 AND lease_until IS NOT NULL";
pub(crate) const WAKE_RUN: &str = "UPDATE runs SET next_at = $2 \
    WHERE id = $1 AND status IN ('pending', 'running', 'waiting') \
    AND (next_at IS NULL OR next_at > $2)";
pub(crate) const NEXT_RUN_DUE: &str = "SELECT MIN(next_at) FROM runs WHERE next_at IS NOT NULL";
pub(crate) const COUNT_DUE_RUNS: &str =
    "SELECT COUNT(*) FROM runs WHERE next_at IS NOT NULL AND next_at <= $1";
pub(crate) const COUNT_RUNS: &str = "SELECT COUNT(*) FROM runs WHERE status = $1";

pub(crate) const SAVE_APPROVAL: &str = "INSERT INTO approvals \
    (id, run, step, status, created_at, format_version, body) VALUES ($1, $2, $3, $4, $5, $6, $7) \
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
    format_version = excluded.format_version, body = excluded.body";

pub(crate) fn approval_row(a: &Approval) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(a.id),
        Val::text(a.run),
        Val::text(&a.step),
        Val::text(a.status),
        Val::time(a.created_at),
        Val::Int(Some(FORMAT_VERSION)),
        Val::body(a)?,
    ])
}

pub(crate) const GET_APPROVAL: &str = "SELECT format_version, body FROM approvals WHERE id = $1";
pub(crate) const APPROVALS_OF: &str =
    "SELECT format_version, body FROM approvals WHERE run = $1 ORDER BY created_at, id";
/// `$1` status (optional), `$2` limit; oldest first: the order people work
/// through them.
pub(crate) const LIST_APPROVALS: &str = "SELECT format_version, body FROM approvals \
    WHERE ($1 IS NULL OR status = $1) ORDER BY created_at, id LIMIT $2";

pub(crate) const SET_CHECKPOINT: &str = "INSERT INTO checkpoints (source, \"offset\", updated_at, identity) \
    VALUES ($1, $2, $3, $4) \
    ON CONFLICT (source) DO UPDATE SET \"offset\" = excluded.\"offset\", \
    updated_at = excluded.updated_at, identity = excluded.identity";

/// `updated_at` is the wall clock: it only tells an operator when a source
/// last moved, and no logic reads it.
pub(crate) fn checkpoint_row(source: &str, checkpoint: &crate::Checkpoint) -> Result<Vec<Val>> {
    Ok(vec![
        Val::text(source),
        Val::Int(Some(to_i64(checkpoint.offset)?)),
        Val::time(chrono::Utc::now()),
        Val::Text(checkpoint.identity.clone()),
    ])
}

pub(crate) const GET_CHECKPOINT: &str =
    "SELECT \"offset\", identity FROM checkpoints WHERE source = $1";

// Reads. Lists are newest first; the UUIDv7 id breaks ties between equal
// timestamps in creation order.

pub(crate) const LIST_ALERTS: &str =
    "SELECT format_version, body FROM alerts ORDER BY created_at DESC, id DESC LIMIT $1";
pub(crate) const GET_ALERT: &str = "SELECT format_version, body FROM alerts WHERE id = $1";
pub(crate) const LIST_CASES: &str =
    "SELECT format_version, body FROM cases ORDER BY created_at DESC, id DESC LIMIT $1";
pub(crate) const GET_CASE: &str = "SELECT format_version, body FROM cases WHERE id = $1";
pub(crate) const OPEN_CASE_BY_KEY: &str = "SELECT format_version, body FROM cases \
    WHERE group_key = $1 AND status = 'open' ORDER BY created_at DESC, id DESC LIMIT 1";
/// `$1` state, `$2` value, `$3` review status and `$4` "made or changed at
/// or after" (Unix ms) are optional filters; `$5` is the limit.
pub(crate) const LIST_DECISIONS: &str = "SELECT format_version, body FROM decisions \
    WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR value = $2) \
    AND ($3 IS NULL OR review = $3) \
    AND ($4 IS NULL OR created_at >= $4 OR updated_at >= $4) \
    ORDER BY created_at DESC, id DESC LIMIT $5";
/// Automated decisions awaiting review, oldest first; `$1` (Unix ms,
/// optional) keeps only those made before it; `$2` is the limit.
pub(crate) const PENDING_REVIEWS: &str = "SELECT format_version, body FROM decisions \
    WHERE review = 'pending' AND ($1 IS NULL OR created_at < $1) \
    ORDER BY created_at, id LIMIT $2";
/// Every decision on one value of one scope made at or after `$3`, newest
/// first: the history escalation counts and duplicates are checked against.
pub(crate) const DECISIONS_ON: &str = "SELECT format_version, body FROM decisions \
    WHERE scope = $1 AND value = $2 AND created_at >= $3 ORDER BY created_at DESC, id DESC";
/// Decisions automation made at or after `$1` that took effect (neither
/// simulated nor held for approval): what the per-minute cap counts.
pub(crate) const COUNT_AUTOMATED_SINCE: &str = "SELECT COUNT(*) FROM decisions \
    WHERE automated = 1 AND created_at >= $1 AND state NOT IN ('simulated', 'pending_approval')";
pub(crate) const GET_SETTING: &str = "SELECT value FROM settings WHERE key = $1";
pub(crate) const SET_SETTING: &str = "INSERT INTO settings (key, value, updated_at) \
    VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
    updated_at = excluded.updated_at";
pub(crate) const DELETE_SETTING: &str = "DELETE FROM settings WHERE key = $1";
pub(crate) const GET_DECISION: &str = "SELECT format_version, body FROM decisions WHERE id = $1";
pub(crate) const GET_ACTIVE_DECISION: &str =
    "SELECT format_version, body FROM decisions WHERE id = $1 AND state = 'active'";
/// Keep in step with [`Decision::is_effective`]. It compares at millisecond
/// precision: an expiry less than 1 ms after `now` already counts as lapsed.
pub(crate) const EFFECTIVE_DECISIONS: &str = "SELECT format_version, body FROM decisions \
    WHERE state = 'active' AND (expires_at IS NULL OR expires_at > $1) \
    ORDER BY created_at DESC, id DESC";
pub(crate) const EFFECTIVE_DECISION: &str = "SELECT format_version, body FROM decisions \
    WHERE kind = $1 AND scope = $2 AND value = $3 AND state = 'active' \
    AND (expires_at IS NULL OR expires_at > $4) ORDER BY created_at DESC, id DESC LIMIT 1";
/// Earliest expiry first, the order in which they lapsed.
pub(crate) const DUE_DECISIONS: &str = "SELECT format_version, body FROM decisions \
    WHERE state = 'active' AND expires_at <= $1 ORDER BY expires_at, id";
/// `$1` status and `$2` playbook are optional filters; `$3` the limit.
pub(crate) const LIST_RUNS: &str = "SELECT format_version, body FROM runs \
    WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR playbook = $2) \
    ORDER BY started_at DESC, id DESC LIMIT $3";
pub(crate) const LIST_AUDIT: &str =
    "SELECT format_version, body FROM audit ORDER BY at DESC, id DESC LIMIT $1";
pub(crate) const LIST_DEAD_LETTERS: &str = "SELECT format_version, body, raw FROM dead_letters \
    ORDER BY received_at DESC, id DESC LIMIT $1";
pub(crate) const LIST_EVENTS_BY_SOURCE: &str = "SELECT format_version, body FROM events \
    WHERE source = $1 ORDER BY source_offset, id LIMIT $2";
pub(crate) const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM events), \
    (SELECT COUNT(*) FROM dead_letters), (SELECT COUNT(*) FROM alerts), \
    (SELECT COUNT(*) FROM cases), (SELECT COUNT(*) FROM decisions WHERE state = 'active'), \
    (SELECT COUNT(*) FROM decisions), (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM audit)";

/// The rows of [`COUNTS`], in its column order.
pub(crate) type CountsRow = (i64, i64, i64, i64, i64, i64, i64, i64);

pub(crate) fn counts(
    (events, dead, alerts, cases, active, total, runs, audit): CountsRow,
) -> Result<crate::Counts> {
    Ok(crate::Counts {
        events: to_u64(events)?,
        dead_letters: to_u64(dead)?,
        alerts: to_u64(alerts)?,
        cases: to_u64(cases)?,
        decisions_active: to_u64(active)?,
        decisions_total: to_u64(total)?,
        runs: to_u64(runs)?,
        audit: to_u64(audit)?,
    })
}
