-- Premium: `premium` = 1 while a grant holds; `premium_until_ms`
-- ends it (NULL: no end). Expiry is decided when read, never by a
-- job, so a lapsed subscription stops at once.
ALTER TABLE users ADD COLUMN premium BIGINT NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN premium_until_ms BIGINT;

-- Whether a new upload of the user's is watermarked by default.
ALTER TABLE users ADD COLUMN watermark_default BIGINT NOT NULL DEFAULT 0;

-- Whether the photo's display rendition carries the owner's mark.
ALTER TABLE photos ADD COLUMN watermark BIGINT NOT NULL DEFAULT 0;

-- Every premium change: whose, what, when, and from where (an
-- administrator's command or a billing webhook event).
CREATE TABLE premium_audit (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    until_ms BIGINT,
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    event_id TEXT,
    created_ms BIGINT NOT NULL
);

CREATE INDEX premium_audit_user ON premium_audit (user_id, created_ms);

CREATE INDEX premium_audit_created ON premium_audit (created_ms);

-- Billing events applied, by the provider's event id: a redelivered
-- event is recognised and changes nothing.
CREATE TABLE billing_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    received_ms BIGINT NOT NULL
);
