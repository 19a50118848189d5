-- Photos from before moderation count as checked; new ones start
-- unchecked and become ready only once the moderation processor
-- has looked at them.
ALTER TABLE photos ADD COLUMN moderated BIGINT NOT NULL DEFAULT 1;

-- 64-bit perceptual hash, stored as a signed BIGINT.
ALTER TABLE photos ADD COLUMN phash BIGINT;

-- visible | held | rejected
ALTER TABLE comments ADD COLUMN status TEXT NOT NULL DEFAULT 'visible';

ALTER TABLE notifications ADD COLUMN note TEXT;

-- One row per thing to review. `open_key` is the subject while the
-- item is pending and NULL once decided, so each photo or comment
-- has at most one pending item (reports collapse into it).
CREATE TABLE moderation_items (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    photo_id TEXT NOT NULL REFERENCES photos(id),
    comment_id TEXT,
    open_key TEXT UNIQUE,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    findings TEXT NOT NULL DEFAULT '[]',
    report_count BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    decided_by TEXT REFERENCES users(id),
    decided_ms BIGINT,
    note TEXT
);

CREATE INDEX moderation_items_queue ON moderation_items (status, created_ms, id);

CREATE INDEX moderation_items_photo ON moderation_items (photo_id, created_ms);

-- Repeated reports by one user of one open item count once.
CREATE TABLE photo_reports (
    item_id TEXT NOT NULL REFERENCES moderation_items(id),
    reporter_id TEXT NOT NULL REFERENCES users(id),
    photo_id TEXT NOT NULL REFERENCES photos(id),
    reason TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (item_id, reporter_id)
);

-- Every decision, automatic (actor_id NULL) or by a moderator.
CREATE TABLE moderation_audit (
    id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES moderation_items(id),
    photo_id TEXT NOT NULL,
    comment_id TEXT,
    actor_id TEXT REFERENCES users(id),
    action TEXT NOT NULL,
    note TEXT,
    findings TEXT NOT NULL DEFAULT '[]',
    block_similar BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);

CREATE INDEX moderation_audit_time ON moderation_audit (created_ms, id);

CREATE INDEX moderation_audit_photo ON moderation_audit (photo_id, created_ms);

-- Perceptual hashes moderators blocked ("reject + block similar").
CREATE TABLE phash_blocklist (
    hash BIGINT PRIMARY KEY,
    photo_id TEXT NOT NULL,
    added_by TEXT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL
);

CREATE INDEX phash_blocklist_time ON phash_blocklist (created_ms);
