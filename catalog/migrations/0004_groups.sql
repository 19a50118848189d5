CREATE TABLE groups_ (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id TEXT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups_(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE group_photos (
    group_id TEXT NOT NULL REFERENCES groups_(id),
    photo_id TEXT NOT NULL REFERENCES photos(id),
    added_by TEXT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (group_id, photo_id)
);

CREATE INDEX group_photos_time ON group_photos (group_id, created_ms, photo_id);
