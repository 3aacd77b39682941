//! The hash-chained audit log (`0008_identity.sql`).
//!
//! Entry `seq` stores `hash = hex(sha256("riposte-audit-v1\n" || seq || "\n"
//! || prev_hash || "\n" || body))`, with `prev_hash` the hash of entry
//! `seq - 1` (64 zeros for entry 1) and `body` the exact JSON text stored;
//! `audit_head` holds the last (seq, hash). [`crate::Tx::audit`] reads the
//! head once per transaction (on PostgreSQL with `FOR UPDATE`, so writers
//! that append serialize on it) and writes it back at commit.
//!
//! [`crate::Store::verify_audit`] walks the chain in pages from one snapshot
//! and reports the first thing that does not hold: an altered row (its
//! hash, or a column copied from its body), a deleted one (a gap in `seq`,
//! a broken `prev_hash` link), deleted last rows (the head names a later
//! entry), or rows written around the chain. What it cannot see: someone
//! who can rewrite the whole table and the head can re-chain it all; the
//! head hash kept elsewhere (docs/security.md) is what catches that.

use std::fmt;

use riposte_model::AuditEntry;
use sha2::{Digest, Sha256};

use crate::Result;
use crate::shared::{FORMAT_VERSION, Val};

/// The `prev_hash` of entry 1, and the head's hash while there is none.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Rows per page, in verification and in chaining old rows.
pub(crate) const PAGE: u32 = 1_000;

pub(crate) fn chain_hash(seq: i64, prev_hash: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"riposte-audit-v1\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit \
    (id, at, actor, action, target, format_version, body, seq, prev_hash, hash) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// The row of `entry` as entry `seq` after `prev_hash`, and its hash.
pub(crate) fn audit_row(
    entry: &AuditEntry,
    seq: i64,
    prev_hash: &str,
) -> Result<(Vec<Val>, String)> {
    let body = serde_json::to_string(entry).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let hash = chain_hash(seq, prev_hash, &body);
    let vals = vec![
        Val::text(entry.id),
        Val::time(entry.at),
        Val::text(&entry.actor),
        Val::text(&entry.action),
        Val::text(&entry.target),
        Val::Int(Some(FORMAT_VERSION)),
        Val::Text(Some(body)),
        Val::Int(Some(seq)),
        Val::text(prev_hash),
        Val::text(&hash),
    ];
    Ok((vals, hash))
}

/// `(seq, hash, backfill)`.
pub(crate) type HeadRow = (i64, String, i64);
pub(crate) const HEAD: &str = "SELECT seq, hash, backfill FROM audit_head WHERE id = 1";
/// PostgreSQL: the row lock that makes concurrent appenders wait their turn
/// (writers also hold the store's advisory write lock; this one holds for
/// any writer that does not).
pub(crate) const HEAD_FOR_UPDATE: &str =
    "SELECT seq, hash, backfill FROM audit_head WHERE id = 1 FOR UPDATE";
pub(crate) const SET_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2, backfill = $3 \
    WHERE id = 1";

/// What a transaction knows of the chain: the head as it read it, moved on
/// by each entry it appended; written back at commit when `dirty`.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    pub(crate) head: Option<HeadRow>,
    pub(crate) dirty: bool,
}

/// Rows from before `0008_identity.sql`, oldest first.
pub(crate) const UNCHAINED_PAGE: &str =
    "SELECT id, body FROM audit WHERE seq IS NULL ORDER BY at, id LIMIT $1";
pub(crate) const CHAIN_ROW: &str =
    "UPDATE audit SET seq = $2, prev_hash = $3, hash = $4 WHERE id = $1";

/// One page of the chain after `$1`.
pub(crate) const CHAIN_PAGE: &str = "SELECT seq, id, at, actor, action, target, \
    format_version, body, prev_hash, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2";
pub(crate) type ChainRow = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    i32,
    String,
    Option<String>,
    Option<String>,
);
/// A row the walk by `seq` never reaches.
pub(crate) const OUTSIDE_CHAIN: &str = "SELECT id FROM audit \
    WHERE seq IS NULL OR seq < 1 ORDER BY at, id LIMIT 1";

/// What [`crate::Store::verify_audit`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditVerification {
    /// Entries checked and found sound (all of them when there is no
    /// problem).
    pub entries: u64,
    /// The head as stored: the last entry's seq and hash. `None` when the
    /// log is empty or the head row is gone. Keep a copy elsewhere: it is
    /// what proves later that the log was not rewritten as a whole.
    pub head: Option<(u64, String)>,
    pub first_problem: Option<AuditProblem>,
}

impl AuditVerification {
    pub fn is_clean(&self) -> bool {
        self.first_problem.is_none()
    }
}

/// The first fault found, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditProblem {
    /// The chain position concerned; `None` for a row outside the chain.
    pub seq: Option<u64>,
    /// The stored id of the row concerned, when there is a row.
    pub id: Option<String>,
    pub what: AuditFault,
}

/// What is wrong with the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditFault {
    /// No entry has this seq though later ones exist: it was deleted.
    Missing,
    /// `prev_hash` is not the previous entry's hash: that entry was
    /// replaced, or rows were spliced.
    BrokenLink,
    /// The hash is not that of the row's seq, prev_hash and body: the body
    /// was altered.
    HashMismatch,
    /// A column copied from the body says something else: altered.
    ColumnMismatch { column: &'static str },
    /// The body is not a readable audit entry.
    Unreadable { error: String },
    /// A row without a place in the chain (no seq or hash): written around
    /// the store.
    Unchained,
    /// The head names entry `head_seq`, later than the last one stored (or
    /// another hash for it): the last entries were deleted or replaced.
    HeadMismatch { head_seq: u64 },
    /// Entries after the head: appended around the store.
    AfterHead { head_seq: u64 },
    /// The head row is gone.
    HeadMissing,
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq.unwrap_or(0);
        let id = self.id.as_deref().unwrap_or("?");
        match &self.what {
            AuditFault::Missing => write!(f, "audit entry {seq} is missing (deleted)"),
            AuditFault::BrokenLink => write!(
                f,
                "audit entry {seq} ({id}) does not link to entry {} (that entry was replaced)",
                seq.saturating_sub(1)
            ),
            AuditFault::HashMismatch => write!(
                f,
                "audit entry {seq} ({id}) does not match its hash (altered)"
            ),
            AuditFault::ColumnMismatch { column } => write!(
                f,
                "audit entry {seq} ({id}): column {column} differs from the entry (altered)"
            ),
            AuditFault::Unreadable { error } => {
                write!(f, "audit entry {seq} ({id}) is unreadable: {error}")
            }
            AuditFault::Unchained => write!(
                f,
                "audit row {id} is not in the chain (written around the store)"
            ),
            AuditFault::HeadMismatch { head_seq } => write!(
                f,
                "the audit head names entry {head_seq}, but the chain ends before it or \
                 differs there: entries from {seq} on were deleted or replaced"
            ),
            AuditFault::AfterHead { head_seq } => write!(
                f,
                "audit entry {seq} ({id}) comes after the head (entry {head_seq}): \
                 appended around the store"
            ),
            AuditFault::HeadMissing => f.write_str("the audit head row is missing (deleted)"),
        }
    }
}

/// The walk over the chain, one row at a time in `seq` order.
#[derive(Debug)]
pub(crate) struct Walk {
    pub(crate) last_seq: i64,
    last_hash: String,
    entries: u64,
    problem: Option<AuditProblem>,
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

impl Walk {
    pub(crate) fn new() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS.to_owned(),
            entries: 0,
            problem: None,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.problem.is_some()
    }

    fn fail(&mut self, seq: i64, id: Option<String>, what: AuditFault) {
        self.problem = Some(AuditProblem {
            seq: Some(seq_u64(seq)),
            id,
            what,
        });
    }

    /// Checks the next row; after a problem it ignores the rest.
    pub(crate) fn check(&mut self, row: ChainRow) {
        if self.failed() {
            return;
        }
        let (seq, id, at, actor, action, target, version, body, prev_hash, hash) = row;
        let expected = self.last_seq + 1;
        if seq != expected {
            return self.fail(expected, None, AuditFault::Missing);
        }
        let (Some(prev_hash), Some(hash)) = (prev_hash, hash) else {
            return self.fail(seq, Some(id), AuditFault::Unchained);
        };
        if prev_hash != self.last_hash {
            return self.fail(seq, Some(id), AuditFault::BrokenLink);
        }
        if chain_hash(seq, &prev_hash, &body) != hash {
            return self.fail(seq, Some(id), AuditFault::HashMismatch);
        }
        let entry: AuditEntry = match crate::shared::decode("audit entry", (version, body)) {
            Ok(entry) => entry,
            Err(e) => {
                let error = e.to_string();
                return self.fail(seq, Some(id), AuditFault::Unreadable { error });
            }
        };
        let column = if entry.id.to_string() != id {
            Some("id")
        } else if entry.at.timestamp_millis() != at {
            Some("at")
        } else if entry.actor.to_string() != actor {
            Some("actor")
        } else if entry.action != action {
            Some("action")
        } else if entry.target != target {
            Some("target")
        } else {
            None
        };
        if let Some(column) = column {
            return self.fail(seq, Some(id), AuditFault::ColumnMismatch { column });
        }
        self.last_seq = seq;
        self.last_hash = hash;
        self.entries += 1;
    }

    /// The verdict, given the head row and the first row outside the chain.
    pub(crate) fn finish(
        mut self,
        head: Option<HeadRow>,
        outside: Option<String>,
    ) -> AuditVerification {
        let stored_head = head
            .as_ref()
            .filter(|(seq, _, _)| *seq > 0)
            .map(|(seq, hash, _)| (seq_u64(*seq), hash.clone()));
        if !self.failed() {
            match &head {
                None => {
                    self.problem = Some(AuditProblem {
                        seq: None,
                        id: None,
                        what: AuditFault::HeadMissing,
                    })
                }
                Some((head_seq, _, _)) if *head_seq < self.last_seq => {
                    // The walk stops at no gap, so the entry after the head
                    // is there; it is reported by its seq.
                    let head_seq = seq_u64(*head_seq);
                    self.problem = Some(AuditProblem {
                        seq: Some(head_seq + 1),
                        id: None,
                        what: AuditFault::AfterHead { head_seq },
                    });
                }
                Some((head_seq, head_hash, _))
                    if *head_seq > self.last_seq || *head_hash != self.last_hash =>
                {
                    let first = if *head_seq > self.last_seq {
                        self.last_seq + 1
                    } else {
                        *head_seq
                    };
                    let head_seq = seq_u64(*head_seq);
                    self.fail(first, None, AuditFault::HeadMismatch { head_seq });
                }
                Some(_) => {}
            }
        }
        if !self.failed()
            && let Some(id) = outside
        {
            self.problem = Some(AuditProblem {
                seq: None,
                id: Some(id),
                what: AuditFault::Unchained,
            });
        }
        AuditVerification {
            entries: self.entries,
            head: stored_head,
            first_problem: self.problem,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_hash_is_the_documented_one() {
        // sha256("riposte-audit-v1\n1\n" + 64 zeros + "\n{}"), as
        // `printf 'riposte-audit-v1\n1\n%s\n{}' $(printf '0%.0s' $(seq 64)) | sha256sum`.
        assert_eq!(chain_hash(1, GENESIS, "{}"), EXPECTED_FIRST);
        assert_ne!(chain_hash(2, GENESIS, "{}"), EXPECTED_FIRST);
        assert_ne!(chain_hash(1, GENESIS, "{} "), EXPECTED_FIRST);
    }

    const EXPECTED_FIRST: &str = "1f6ff323d111411d2d21fd155ca752351839abc219d3afa2c4657eba1a8ceef6";
}
