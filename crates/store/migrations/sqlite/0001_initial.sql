-- Riposte store, schema 1 for SQLite. migrations/postgres/0001_initial.sql is
-- its twin: same tables, columns and indexes; only the column types that the
-- two engines spell differently (BLOB/BYTEA, the dead-letter id) differ.
--
-- Timestamps are BIGINT Unix milliseconds (UTC) in both backends, so the Rust
-- code binds and compares the same i64 values on either.
--
-- Each row keeps its whole model object as serde_json in `body`, tagged with
-- `format_version` (1 = the form written today) so that rows written by an
-- older Riposte stay readable after the model changes. The other columns are
-- copies of the fields that queries filter and sort on. Ids are UUIDv7 text,
-- which sorts by creation time and breaks ties between equal timestamps.

CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    ts BIGINT NOT NULL,
    dataset TEXT NOT NULL,
    source TEXT,
    source_offset BIGINT,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
-- Deliberately not UNIQUE: a duplicate must be storable so that the
-- exactly-once tests can count it.
CREATE INDEX events_by_source ON events (source, source_offset);

CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    source_offset BIGINT,
    format TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- The exact bytes; `body` only has them as lossy UTF-8.
    raw BLOB NOT NULL,
    raw_len BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX dead_letters_newest ON dead_letters (received_at, id);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    rule_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX alerts_newest ON alerts (created_at, id);

CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    group_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX cases_newest ON cases (created_at, id);
CREATE INDEX cases_by_key ON cases (group_key, status);

CREATE TABLE decisions (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    value TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    updated_at BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX decisions_newest ON decisions (created_at, id);
CREATE INDEX decisions_by_state ON decisions (state, expires_at);
CREATE INDEX decisions_by_value ON decisions (scope, value);

CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    playbook TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX runs_newest ON runs (started_at, id);

CREATE TABLE audit (
    id TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX audit_newest ON audit (at, id);

-- `offset` is a reserved word in both engines, hence the quotes.
CREATE TABLE checkpoints (
    source TEXT PRIMARY KEY NOT NULL,
    "offset" BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
