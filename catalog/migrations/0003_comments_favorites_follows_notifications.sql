CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    photo_id TEXT NOT NULL REFERENCES photos(id),
    author_id TEXT NOT NULL REFERENCES users(id),
    text TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    deleted_ms BIGINT
);

CREATE INDEX comments_photo ON comments (photo_id, created_ms, id);

CREATE TABLE favorites (
    user_id TEXT NOT NULL REFERENCES users(id),
    photo_id TEXT NOT NULL REFERENCES photos(id),
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, photo_id)
);

CREATE INDEX favorites_user ON favorites (user_id, created_ms, photo_id);

CREATE INDEX favorites_photo ON favorites (photo_id, created_ms);

CREATE TABLE follows (
    follower_id TEXT NOT NULL REFERENCES users(id),
    followee_id TEXT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);

CREATE INDEX follows_followee ON follows (followee_id, created_ms, follower_id);

-- One row per recipient; (user_id, source) makes the notifier
-- idempotent under redelivery.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    actor_id TEXT NOT NULL REFERENCES users(id),
    photo_id TEXT,
    comment_id TEXT,
    created_ms BIGINT NOT NULL,
    read_ms BIGINT,
    source TEXT NOT NULL,
    UNIQUE (user_id, source)
);

CREATE INDEX notifications_user ON notifications (user_id, created_ms, id);
