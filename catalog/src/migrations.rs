//! The schema, as an ordered list of migrations in portable SQL.
//!
//! Each migration is a list of statements run in one transaction and
//! recorded in `schema_migrations`. Never edit a released migration: add one.

use crate::{Catalog, Result};

const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'user',
            created_ms BIGINT NOT NULL
        )",
        "CREATE TABLE albums (
            id TEXT PRIMARY KEY,
            owner_id TEXT NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            default_visibility TEXT NOT NULL DEFAULT 'public',
            created_ms BIGINT NOT NULL,
            UNIQUE (owner_id, name)
        )",
        "CREATE TABLE photos (
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
        )",
        "CREATE INDEX photos_owner_created ON photos (owner_id, created_ms, id)",
        "CREATE INDEX photos_created ON photos (created_ms, id)",
        "CREATE TABLE photo_tags (
            photo_id TEXT NOT NULL REFERENCES photos(id),
            tag TEXT NOT NULL,
            PRIMARY KEY (photo_id, tag)
        )",
        "CREATE INDEX photo_tags_tag ON photo_tags (tag, photo_id)",
        "CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            created_ms BIGINT NOT NULL,
            topic TEXT NOT NULL,
            msg_key TEXT NOT NULL,
            payload TEXT NOT NULL
        )",
        "CREATE INDEX outbox_order ON outbox (created_ms, id)",
    ],
), (
    2,
    &[
        // Who a `shared` photo is shared with.
        "CREATE TABLE photo_viewers (
            photo_id TEXT NOT NULL REFERENCES photos(id),
            user_id TEXT NOT NULL REFERENCES users(id),
            PRIMARY KEY (photo_id, user_id)
        )",
        "CREATE INDEX photo_viewers_user ON photo_viewers (user_id, photo_id)",
        // Bumped on every visibility, viewer or deletion change; signed media
        // URLs embed it, so a change revokes every URL issued before it.
        "ALTER TABLE photos ADD COLUMN acl_version BIGINT NOT NULL DEFAULT 0",
        "CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            revoked_ms BIGINT
        )",
        "CREATE INDEX api_tokens_user ON api_tokens (user_id, created_ms)",
    ],
), (
    3,
    &[
        "CREATE TABLE comments (
            id TEXT PRIMARY KEY,
            photo_id TEXT NOT NULL REFERENCES photos(id),
            author_id TEXT NOT NULL REFERENCES users(id),
            text TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            deleted_ms BIGINT
        )",
        "CREATE INDEX comments_photo ON comments (photo_id, created_ms, id)",
        "CREATE TABLE favorites (
            user_id TEXT NOT NULL REFERENCES users(id),
            photo_id TEXT NOT NULL REFERENCES photos(id),
            created_ms BIGINT NOT NULL,
            PRIMARY KEY (user_id, photo_id)
        )",
        "CREATE INDEX favorites_user ON favorites (user_id, created_ms, photo_id)",
        "CREATE INDEX favorites_photo ON favorites (photo_id, created_ms)",
        "CREATE TABLE follows (
            follower_id TEXT NOT NULL REFERENCES users(id),
            followee_id TEXT NOT NULL REFERENCES users(id),
            created_ms BIGINT NOT NULL,
            PRIMARY KEY (follower_id, followee_id)
        )",
        "CREATE INDEX follows_followee ON follows (followee_id, created_ms, follower_id)",
        // One row per recipient; (user_id, source) makes the notifier
        // idempotent under redelivery.
        "CREATE TABLE notifications (
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
        )",
        "CREATE INDEX notifications_user ON notifications (user_id, created_ms, id)",
    ],
), (
    4,
    &[
        "CREATE TABLE groups_ (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            owner_id TEXT NOT NULL REFERENCES users(id),
            created_ms BIGINT NOT NULL
        )",
        "CREATE TABLE group_members (
            group_id TEXT NOT NULL REFERENCES groups_(id),
            user_id TEXT NOT NULL REFERENCES users(id),
            created_ms BIGINT NOT NULL,
            PRIMARY KEY (group_id, user_id)
        )",
        "CREATE TABLE group_photos (
            group_id TEXT NOT NULL REFERENCES groups_(id),
            photo_id TEXT NOT NULL REFERENCES photos(id),
            added_by TEXT NOT NULL REFERENCES users(id),
            created_ms BIGINT NOT NULL,
            PRIMARY KEY (group_id, photo_id)
        )",
        "CREATE INDEX group_photos_time ON group_photos (group_id, created_ms, photo_id)",
    ],
), (
    5,
    &[
        // Photos from before moderation count as checked; new ones start
        // unchecked and become ready only once the moderation processor
        // has looked at them.
        "ALTER TABLE photos ADD COLUMN moderated BIGINT NOT NULL DEFAULT 1",
        // 64-bit perceptual hash, stored as a signed BIGINT.
        "ALTER TABLE photos ADD COLUMN phash BIGINT",
        // visible | held | rejected
        "ALTER TABLE comments ADD COLUMN status TEXT NOT NULL DEFAULT 'visible'",
        "ALTER TABLE notifications ADD COLUMN note TEXT",
        // One row per thing to review. `open_key` is the subject while the
        // item is pending and NULL once decided, so each photo or comment
        // has at most one pending item (reports collapse into it).
        "CREATE TABLE moderation_items (
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
        )",
        "CREATE INDEX moderation_items_queue ON moderation_items (status, created_ms, id)",
        "CREATE INDEX moderation_items_photo ON moderation_items (photo_id, created_ms)",
        // Repeated reports by one user of one open item count once.
        "CREATE TABLE photo_reports (
            item_id TEXT NOT NULL REFERENCES moderation_items(id),
            reporter_id TEXT NOT NULL REFERENCES users(id),
            photo_id TEXT NOT NULL REFERENCES photos(id),
            reason TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            PRIMARY KEY (item_id, reporter_id)
        )",
        // Every decision, automatic (actor_id NULL) or by a moderator.
        "CREATE TABLE moderation_audit (
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
        )",
        "CREATE INDEX moderation_audit_time ON moderation_audit (created_ms, id)",
        "CREATE INDEX moderation_audit_photo ON moderation_audit (photo_id, created_ms)",
        // Perceptual hashes moderators blocked ("reject + block similar").
        "CREATE TABLE phash_blocklist (
            hash BIGINT PRIMARY KEY,
            photo_id TEXT NOT NULL,
            added_by TEXT NOT NULL REFERENCES users(id),
            created_ms BIGINT NOT NULL
        )",
        "CREATE INDEX phash_blocklist_time ON phash_blocklist (created_ms)",
    ],
), (
    6,
    &[
        // Login sessions: a session JWT names its row (`sid`), so one
        // session can be logged out and a password change can end the rest.
        "CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            created_ms BIGINT NOT NULL,
            expires_ms BIGINT NOT NULL,
            revoked_ms BIGINT
        )",
        "CREATE INDEX sessions_user ON sessions (user_id, created_ms)",
        "CREATE INDEX sessions_expiry ON sessions (expires_ms)",
        // When the password last changed: long-lived responses opened
        // before it end (whatever credential opened them).
        "ALTER TABLE users ADD COLUMN password_changed_ms BIGINT NOT NULL DEFAULT 0",
    ],
), (
    7,
    &[
        // A report's weight (thousandths) from its reporter's standing:
        // reports hide a photo once their weights, not their number, reach
        // the threshold. Earlier reports count fully.
        "ALTER TABLE photo_reports ADD COLUMN weight_milli BIGINT NOT NULL DEFAULT 1000",
        "CREATE INDEX photo_reports_reporter ON photo_reports (reporter_id)",
    ],
), (
    8,
    &[
        // Blocks can be reversed: a tombstone (removed_ms) instead of a
        // delete, and updated_ms for every change, so each instance's
        // incremental refresh sees removals as well as additions.
        "ALTER TABLE phash_blocklist ADD COLUMN removed_ms BIGINT",
        "ALTER TABLE phash_blocklist ADD COLUMN updated_ms BIGINT NOT NULL DEFAULT 0",
        "UPDATE phash_blocklist SET updated_ms = created_ms",
        "CREATE INDEX phash_blocklist_updated ON phash_blocklist (updated_ms)",
    ],
),
(
    9,
    &[
        // The display rendition (1024 px on the long edge), made with the
        // thumbnail; its key is looked up by `/media/…` like the others.
        "ALTER TABLE photos ADD COLUMN display_key TEXT",
        "CREATE UNIQUE INDEX photos_display_key ON photos (display_key)",
    ],
),
(
    10,
    &[
        // Premium: `premium` = 1 while a grant holds; `premium_until_ms`
        // ends it (NULL: no end). Expiry is decided when read, never by a
        // job, so a lapsed subscription stops at once.
        "ALTER TABLE users ADD COLUMN premium BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE users ADD COLUMN premium_until_ms BIGINT",
        // Whether a new upload of the user's is watermarked by default.
        "ALTER TABLE users ADD COLUMN watermark_default BIGINT NOT NULL DEFAULT 0",
        // Whether the photo's display rendition carries the owner's mark.
        "ALTER TABLE photos ADD COLUMN watermark BIGINT NOT NULL DEFAULT 0",
        // Every premium change: whose, what, when, and from where (an
        // administrator's command or a billing webhook event).
        "CREATE TABLE premium_audit (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            action TEXT NOT NULL,
            until_ms BIGINT,
            source TEXT NOT NULL,
            actor TEXT NOT NULL,
            event_id TEXT,
            created_ms BIGINT NOT NULL
        )",
        "CREATE INDEX premium_audit_user ON premium_audit (user_id, created_ms)",
        "CREATE INDEX premium_audit_created ON premium_audit (created_ms)",
        // Billing events applied, by the provider's event id: a redelivered
        // event is recognised and changes nothing.
        "CREATE TABLE billing_events (
            id TEXT PRIMARY KEY,
            event_type TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users(id),
            received_ms BIGINT NOT NULL
        )",
    ],
), (
    11,
    &[
        // Storage tiering: which store holds the original (see
        // `photostream_types::StorageTier`) and when it was last read
        // (written at most once an hour per photo), so `photostream tier`
        // finds the originals nobody reads.
        "ALTER TABLE photos ADD COLUMN storage_tier TEXT NOT NULL DEFAULT 'hot'",
        "ALTER TABLE photos ADD COLUMN original_read_ms BIGINT",
        "CREATE INDEX photos_storage_tier ON photos (storage_tier, id)",
        // The bulk uploader asks whether a file is already uploaded by its
        // content hash (`GET /v1/photos?sha256=`).
        "CREATE INDEX photos_owner_hash ON photos (owner_id, content_hash)",
    ],
)];

pub(crate) async fn run(catalog: &Catalog) -> Result<()> {
    let pool = catalog.pool();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            applied_ms BIGINT NOT NULL
        )",
    )
    .execute(pool)
    .await?;
    for (version, statements) in MIGRATIONS {
        let mut tx = pool.begin().await?;
        // Claiming the version first makes concurrent starters (two API
        // instances booting at once) serialise on the primary key.
        let claimed = sqlx::query(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(*version)
        .bind(photostream_types::now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            continue;
        }
        for sql in *statements {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        tracing::info!(version, "applied catalog migration");
    }
    Ok(())
}
