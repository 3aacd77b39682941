-- Sightings waiting to be pushed back to the MISP instance a feed came
-- from (issue #7). 0006 is reserved for other work.
--
-- Append-only: the pipeline adds one row per (feed, indicator, event
-- source) per committed batch, in the batch's transaction; the pusher
-- deletes exactly the rows MISP accepted, so a row is pushed once, and a
-- row committed late (out of id order) is still found by the next push.
CREATE TABLE intel_sighting_queue (
    id BIGSERIAL PRIMARY KEY,
    feed TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    count BIGINT NOT NULL
);
CREATE INDEX intel_sighting_queue_by_feed ON intel_sighting_queue (feed, id);
