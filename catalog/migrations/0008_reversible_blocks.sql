-- Blocks can be reversed: a tombstone (removed_ms) instead of a
-- delete, and updated_ms for every change, so each instance's
-- incremental refresh sees removals as well as additions.
ALTER TABLE phash_blocklist ADD COLUMN removed_ms BIGINT;

ALTER TABLE phash_blocklist ADD COLUMN updated_ms BIGINT NOT NULL DEFAULT 0;

UPDATE phash_blocklist SET updated_ms = created_ms;

CREATE INDEX phash_blocklist_updated ON phash_blocklist (updated_ms);
