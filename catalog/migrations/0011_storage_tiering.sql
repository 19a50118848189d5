-- Storage tiering: which store holds the original (see
-- `photostream_types::StorageTier`) and when it was last read
-- (written at most once an hour per photo), so `photostream tier`
-- finds the originals nobody reads.
ALTER TABLE photos ADD COLUMN storage_tier TEXT NOT NULL DEFAULT 'hot';

ALTER TABLE photos ADD COLUMN original_read_ms BIGINT;

CREATE INDEX photos_storage_tier ON photos (storage_tier, id);

-- The bulk uploader asks whether a file is already uploaded by its
-- content hash (`GET /v1/photos?sha256=`).
CREATE INDEX photos_owner_hash ON photos (owner_id, content_hash);
