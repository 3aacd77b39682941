-- Active response: which decisions automation made (the blast-radius cap
-- counts them per minute) and where each stands in the daily review
-- ('pending', 'approved', 'reverted', 'extended'; NULL for decisions made
-- by a person). Decisions stored before this migration stay out of the
-- review queue: their bodies carry no review.
ALTER TABLE decisions ADD COLUMN automated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN review TEXT;
CREATE INDEX decisions_automated ON decisions (automated, created_at);
CREATE INDEX decisions_review ON decisions (review, created_at);

-- Small pieces of durable state by name, e.g. the responder's circuit
-- breaker, which stays tripped across restarts until a person resets it.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
