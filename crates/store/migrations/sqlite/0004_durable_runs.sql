-- Durable playbook runs: a run is stored when its trigger fires and saved
-- after every step, so a restart resumes it where it stopped. `status`
-- and `next_at` (when an unfinished run is due: now, a retry, an approval's
-- deadline) let executors find due runs; `lease_until` keeps two executors
-- off the same run. Runs stored before this migration had finished.
ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'succeeded';
ALTER TABLE runs ADD COLUMN next_at BIGINT;
ALTER TABLE runs ADD COLUMN lease_until BIGINT;
ALTER TABLE runs ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE runs SET status = json_extract(body, '$.status'), updated_at = started_at;
CREATE INDEX runs_due ON runs (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX runs_by_status ON runs (status, started_at);
CREATE INDEX runs_by_playbook ON runs (playbook, started_at);

-- A person's go-ahead a waiting step asks for; one per step of a run.
CREATE TABLE approvals (
    id TEXT PRIMARY KEY NOT NULL,
    run TEXT NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (run, step)
);
CREATE INDEX approvals_by_status ON approvals (status, created_at);
