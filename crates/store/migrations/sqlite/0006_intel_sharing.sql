-- Sharing indicators over TAXII 2.1 (issue #7).
--
-- `added_at`: when the row's current content was stored (TAXII's
-- date_added). An import that changes nothing keeps it; one that changes the
-- indicator sets it to the import's start, so a partner polling with
-- `added_after` gets the new version. Rows from before this migration take
-- the time of the import that last listed them.
--
-- `object_id`, `tlp_rank` (0 clear … 4 red) and `to_ids` (0/1) copy what
-- the body says, so that what a collection may serve is decided in SQL,
-- under an index, and a page is exactly `limit` rows. Rows from before this
-- migration are filled in by the store when it opens (the id is a hash the
-- database cannot compute); until then they are NULL and never served.
ALTER TABLE intel_indicators ADD COLUMN added_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE intel_indicators ADD COLUMN object_id TEXT;
ALTER TABLE intel_indicators ADD COLUMN tlp_rank INTEGER;
ALTER TABLE intel_indicators ADD COLUMN to_ids INTEGER;
UPDATE intel_indicators SET added_at = refreshed_at;

-- Pages in date-added order resume after a (added_at, kind, value, feed) key.
CREATE INDEX intel_indicators_by_added ON intel_indicators (added_at, kind, value, feed);
CREATE INDEX intel_indicators_by_object_id ON intel_indicators (object_id);

-- Sightings page newest first, resuming after a key.
DROP INDEX intel_sightings_newest;
CREATE INDEX intel_sightings_newest ON intel_sightings (last_seen, kind, value, source, field);
