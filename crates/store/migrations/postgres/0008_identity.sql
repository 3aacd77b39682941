-- Identity (issue #16): users, their API keys, and the hash chain that
-- makes the audit log tamper-evident. migrations/sqlite/0008_identity.sql
-- is its twin.

-- `body` keeps the whole User (format_version 1); the other columns are
-- copies for lookups. `disabled` is 0/1 as `decisions.automated` is, so
-- the SQL and the bound values are the same on both engines.
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL
);
-- Names are ASCII ([A-Za-z0-9._@-]); `Alice` must not pass for `alice`.
CREATE UNIQUE INDEX users_name_nocase ON users (lower(name));

-- The key's secret is never stored: `hash` is hex HMAC-SHA256 of it under
-- the server secret. `id` (16 hex digits) is the public half of the key
-- and the per-request lookup. A key name is unique per user among keys not
-- revoked (a revoked key's name can be reused; the row stays for the audit
-- log).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    scope TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (user_id, name) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at);

-- The audit chain: entry `seq` (1, 2, …) has
-- hash = hex(sha256("riposte-audit-v1\n" || seq || "\n" || prev_hash || "\n" || body))
-- where prev_hash is the previous entry's hash (64 zeros for the first) and
-- body the stored JSON text. Rows written before this migration have NULLs
-- until the store chains them, in (at, id) order, the first time it opens.
ALTER TABLE audit ADD COLUMN seq BIGINT;
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_by_seq ON audit (seq);

-- The last entry of the chain (seq 0 and 64 zeros: none yet). It exists
-- from the start so that writers always have a row to lock. `backfill`
-- is 1 until the rows from before this migration are chained; rows without
-- a seq found after that were written around the chain, and
-- `verify_audit` reports them instead of chaining them.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    backfill BIGINT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, backfill)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 1);
