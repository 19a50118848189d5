CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user',
    created_ms BIGINT NOT NULL
);

CREATE TABLE albums (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    default_visibility TEXT NOT NULL DEFAULT 'public',
    created_ms BIGINT NOT NULL,
    UNIQUE (owner_id, name)
);

CREATE TABLE photos (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users(id),
    album_id TEXT NOT NULL REFERENCES albums(id),
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL,
    status TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    format TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    byte_size BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    file_stem TEXT NOT NULL,
    original_key TEXT NOT NULL UNIQUE,
    thumbnail_key TEXT UNIQUE,
    thumbnail_done BIGINT NOT NULL DEFAULT 0,
    indexed BIGINT NOT NULL DEFAULT 0,
    taken_at TEXT,
    camera TEXT,
    lens TEXT,
    location TEXT,
    license TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    ready_ms BIGINT,
    deleted_ms BIGINT,
    UNIQUE (album_id, file_stem)
);

CREATE INDEX photos_owner_created ON photos (owner_id, created_ms, id);

CREATE INDEX photos_created ON photos (created_ms, id);

CREATE TABLE photo_tags (
    photo_id TEXT NOT NULL REFERENCES photos(id),
    tag TEXT NOT NULL,
    PRIMARY KEY (photo_id, tag)
);

CREATE INDEX photo_tags_tag ON photo_tags (tag, photo_id);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    topic TEXT NOT NULL,
    msg_key TEXT NOT NULL,
    payload TEXT NOT NULL
);

CREATE INDEX outbox_order ON outbox (created_ms, id);
