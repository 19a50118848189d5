-- Who a `shared` photo is shared with.
CREATE TABLE photo_viewers (
    photo_id TEXT NOT NULL REFERENCES photos(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (photo_id, user_id)
);

CREATE INDEX photo_viewers_user ON photo_viewers (user_id, photo_id);

-- Bumped on every visibility, viewer or deletion change; signed media
-- URLs embed it, so a change revokes every URL issued before it.
ALTER TABLE photos ADD COLUMN acl_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

CREATE INDEX api_tokens_user ON api_tokens (user_id, created_ms);
