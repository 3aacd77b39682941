-- Threat intelligence (issue #7). 0004 is reserved for other work.
--
-- One row per indicator per feed: two feeds listing the same address are
-- two rows, so each ages out on its own. `refreshed_at` is the start of the
-- import that last listed the row: an import that completes removes its
-- feed's rows refreshed before it started (the feed no longer lists them),
-- and duplicates within one import are merged (Indicator::merge) because
-- their refreshed_at equals the import's start. The body is the whole
-- Indicator as JSON, tagged with format_version like every other table.
CREATE TABLE intel_indicators (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    feed TEXT NOT NULL,
    valid_until BIGINT,
    refreshed_at BIGINT NOT NULL,
    format_version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, value, feed)
);
CREATE INDEX intel_indicators_by_feed ON intel_indicators (feed, refreshed_at);

-- Where indicators were seen: counts add up per (kind, value, source, field).
CREATE TABLE intel_sightings (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    field TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (kind, value, source, field)
);
CREATE INDEX intel_sightings_newest ON intel_sightings (last_seen);
