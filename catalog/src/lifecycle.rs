//! Every change of a photo's status, as SQL: one atomic `UPDATE` per
//! [`LifecycleEvent`], the catalog's spelling of [`Lifecycle::on`].
//!
//! Each statement reads the row's status and marks and writes the next ones
//! in the same statement, so processors that set their marks concurrently
//! (the thumbnailer, the indexer and the moderation checks finish in any
//! order) still make a photo `ready` exactly once. A statement that changes
//! no row is an event that did not apply (a redelivery, a stale decision).
//! The tests below run every statement on every state, on SQLite and on
//! PostgreSQL, and compare the row with the pure function's answer.
//!
//! The processors' readiness marks ([`Catalog::mark_renditions`],
//! [`Catalog::mark_indexed`]) live here too; the moderation writers in
//! [`crate::moderation`] and deletion use [`update_sql`] /
//! [`Catalog::apply_lifecycle`].

use photostream_types::{now_ms, LifecycleEvent, PhotoId};
#[cfg(doc)]
use photostream_types::Lifecycle;
use sqlx::AnyConnection;

use crate::{Catalog, Result};

/// The `UPDATE` that applies `event` to the photo with id `$2` at time `$1`
/// (milliseconds), also setting `extra` (`", col = $3, …"`: binds from `$3`).
pub(crate) fn update_sql(event: LifecycleEvent, extra: &str) -> String {
    let (sets, guard) = statement(event);
    format!("UPDATE photos SET updated_ms = $1, {sets}{extra} WHERE id = $2{guard}")
}

/// The `SET` list and the `WHERE` guard (beyond the id) of `event`.
fn statement(event: LifecycleEvent) -> (&'static str, &'static str) {
    use LifecycleEvent::*;
    const LIVE: &str = " AND deleted_ms IS NULL";
    match event {
        ThumbnailDone => (
            "thumbnail_done = 1,
             ready_ms = CASE WHEN indexed = 1 AND moderated = 1 AND status = 'processing' THEN $1 ELSE ready_ms END,
             status = CASE WHEN indexed = 1 AND moderated = 1 AND status = 'processing' THEN 'ready' ELSE status END",
            "",
        ),
        Indexed => (
            "indexed = 1,
             ready_ms = CASE WHEN thumbnail_done = 1 AND moderated = 1 AND status = 'processing' THEN $1 ELSE ready_ms END,
             status = CASE WHEN thumbnail_done = 1 AND moderated = 1 AND status = 'processing' THEN 'ready' ELSE status END",
            "",
        ),
        UploadApproved => (
            "moderated = 1,
             ready_ms = CASE WHEN status = 'processing' AND thumbnail_done = 1 AND indexed = 1 THEN $1 ELSE ready_ms END,
             status = CASE WHEN status = 'processing' AND thumbnail_done = 1 AND indexed = 1 THEN 'ready' ELSE status END",
            " AND moderated = 0 AND deleted_ms IS NULL",
        ),
        UploadHeld => (
            "moderated = 1, acl_version = acl_version + 1,
             ready_ms = CASE WHEN status = 'processing' AND thumbnail_done = 1 AND indexed = 1 THEN $1 ELSE ready_ms END,
             status = CASE WHEN status IN ('processing', 'ready') THEN 'under_review' ELSE status END",
            " AND moderated = 0 AND deleted_ms IS NULL",
        ),
        UploadRejected => (
            "moderated = 1, acl_version = acl_version + 1,
             ready_ms = CASE WHEN status = 'processing' AND thumbnail_done = 1 AND indexed = 1 THEN $1 ELSE ready_ms END,
             status = CASE WHEN status IN ('processing', 'ready', 'under_review') THEN 'rejected' ELSE status END",
            " AND moderated = 0 AND deleted_ms IS NULL",
        ),
        HeldForReview => (
            "status = 'under_review', acl_version = acl_version + 1",
            " AND deleted_ms IS NULL AND status IN ('processing', 'ready')",
        ),
        EditRejected => (
            "status = 'rejected', acl_version = acl_version + 1",
            " AND deleted_ms IS NULL AND status <> 'rejected'",
        ),
        ModeratorApproved => (
            "moderated = 1, acl_version = acl_version + 1,
             ready_ms = CASE WHEN thumbnail_done = 1 AND indexed = 1 THEN COALESCE(ready_ms, $1) ELSE ready_ms END,
             status = CASE WHEN thumbnail_done = 1 AND indexed = 1 THEN 'ready' ELSE 'processing' END",
            " AND deleted_ms IS NULL AND status IN ('under_review', 'rejected')",
        ),
        ModeratorRejected => ("moderated = 1, status = 'rejected', acl_version = acl_version + 1", LIVE),
        Deleted => ("deleted_ms = $1, acl_version = acl_version + 1", LIVE),
    }
}

/// The renditions the thumbnailer made for one photo
/// ([`Catalog::mark_renditions`]).
#[derive(Debug, Clone)]
pub struct RenditionMark {
    pub id: PhotoId,
    pub display_key: Option<String>,
    pub thumbnail_key: Option<String>,
}

impl Catalog {
    /// Applies `event` to photo `id` at `now` on `conn` (a transaction's,
    /// usually); true if it applied.
    pub(crate) async fn apply_lifecycle(
        conn: &mut AnyConnection,
        id: &PhotoId,
        event: LifecycleEvent,
        now: i64,
    ) -> Result<bool> {
        let n = sqlx::query(&update_sql(event, ""))
            .bind(now)
            .bind(id.as_str())
            .execute(conn)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Records that the display rendition exists at `key`. Idempotent.
    pub async fn mark_display_done(&self, id: &PhotoId, key: &str) -> Result<()> {
        self.mark_renditions(&[RenditionMark { id: id.clone(), display_key: Some(key.to_string()), thumbnail_key: None }])
            .await
    }

    /// Records that the thumbnail exists at `key`; the photo becomes `ready`
    /// if its search document exists and moderation passed it. Idempotent.
    pub async fn mark_thumbnail_done(&self, id: &PhotoId, key: &str) -> Result<()> {
        self.mark_renditions(&[RenditionMark { id: id.clone(), display_key: None, thumbnail_key: Some(key.to_string()) }])
            .await
    }

    /// Records the renditions of several photos in one commit (the
    /// thumbnailer's marks for every photo it handled at once: one fsync,
    /// not two per photo). A display key is written in the same statement
    /// as its thumbnail, so a photo that becomes `ready` has both.
    /// Idempotent.
    pub async fn mark_renditions(&self, marks: &[RenditionMark]) -> Result<()> {
        if marks.iter().all(|m| m.display_key.is_none() && m.thumbnail_key.is_none()) {
            return Ok(());
        }
        let now = now_ms();
        let thumbnail_done = update_sql(
            LifecycleEvent::ThumbnailDone,
            ", display_key = COALESCE($3, display_key), thumbnail_key = $4",
        );
        let mut tx = self.begin().await?;
        for m in marks {
            match (&m.display_key, &m.thumbnail_key) {
                (display, Some(thumbnail)) => {
                    sqlx::query(&thumbnail_done)
                        .bind(now)
                        .bind(m.id.as_str())
                        .bind(display.clone())
                        .bind(thumbnail)
                        .execute(&mut *tx)
                        .await?;
                }
                (Some(display), None) => {
                    sqlx::query("UPDATE photos SET display_key = $1, updated_ms = $2 WHERE id = $3")
                        .bind(display)
                        .bind(now)
                        .bind(m.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                (None, None) => {}
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that the search document exists; the photo becomes `ready` if
    /// its thumbnail exists and moderation passed it. Idempotent.
    pub async fn mark_indexed(&self, id: &PhotoId) -> Result<()> {
        self.mark_indexed_many(std::slice::from_ref(id)).await
    }

    /// [`Self::mark_indexed`] for several photos in one transaction.
    pub async fn mark_indexed_many(&self, ids: &[PhotoId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.begin().await?;
        for id in ids {
            Self::apply_lifecycle(&mut tx, id, LifecycleEvent::Indexed, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use photostream_types::{AlbumName, EventId, Lifecycle, LifecycleEvent, PhotoMetadata, Username, Visibility};
    use sqlx::{Connection, Row};

    use super::update_sql;
    use crate::{Catalog, NewPhoto, OutboxEntry};

    const NOW: i64 = 42;
    const EARLIER: i64 = 7;

    /// Runs every lifecycle statement on a photo in every state and checks
    /// the row against [`Lifecycle::on`].
    async fn statements_follow_the_transition_function(c: Catalog) {
        let alice = c.create_user(&Username::parse("alice").unwrap(), "h").await.unwrap();
        let album = c.album_by_name(&alice.id, &AlbumName::default_album()).await.unwrap().unwrap();
        let new = NewPhoto {
            id: photostream_types::PhotoId::new(),
            owner_id: alice.id.clone(),
            album_id: album.id.clone(),
            title: "t".into(),
            description: String::new(),
            visibility: Visibility::Public,
            width: 1,
            height: 1,
            format: "png".into(),
            content_hash: "00".into(),
            byte_size: 1,
            file_name: "a.png".into(),
            file_stem: "a".into(),
            original_key: "k".into(),
            thumbnail_key: None,
            metadata: PhotoMetadata::default(),
            viewers: vec![],
            watermark: false,
        };
        let outbox = OutboxEntry::new(EventId::new(), "photos", "k", "{}".into());
        let photo = c.insert_photo(&new, &outbox).await.unwrap();
        assert_eq!(photo.status, Lifecycle::uploaded(false).status);
        let id = photo.id.as_str();
        // One transaction (rolled back): 1,280 cases without a commit each.
        let mut tx = c.begin().await.unwrap();
        let flag = |b: bool| b as i64;
        let stamp = |b: bool| b.then_some(EARLIER);
        for state in Lifecycle::every() {
            for event in LifecycleEvent::ALL {
                sqlx::query(
                    "UPDATE photos SET status = $1, thumbnail_done = $2, indexed = $3, moderated = $4,
                        deleted_ms = $5, ready_ms = $6, acl_version = 0, updated_ms = 0 WHERE id = $7",
                )
                .bind(state.status.as_str())
                .bind(flag(state.thumbnail_done))
                .bind(flag(state.indexed))
                .bind(flag(state.moderated))
                .bind(stamp(state.deleted))
                .bind(stamp(state.ready_stamped))
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
                let applied = sqlx::query(&update_sql(event, ""))
                    .bind(NOW)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .unwrap()
                    .rows_affected()
                    > 0;
                let row = sqlx::query(
                    "SELECT status, thumbnail_done, indexed, moderated, deleted_ms, ready_ms, acl_version
                     FROM photos WHERE id = $1",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                let status: String = row.get("status");
                let got = Lifecycle {
                    status: status.parse().unwrap(),
                    thumbnail_done: row.get::<i64, _>("thumbnail_done") != 0,
                    indexed: row.get::<i64, _>("indexed") != 0,
                    moderated: row.get::<i64, _>("moderated") != 0,
                    deleted: row.get::<Option<i64>, _>("deleted_ms").is_some(),
                    ready_stamped: row.get::<Option<i64>, _>("ready_ms").is_some(),
                };
                let ready_ms: Option<i64> = row.get("ready_ms");
                let acl: i64 = row.get("acl_version");
                let case = format!("{event:?} on {state:?}");
                match state.on(event) {
                    None => {
                        assert!(!applied, "{case}: applied");
                        assert_eq!(got, state, "{case}: changed");
                        assert_eq!(acl, 0, "{case}: acl");
                    }
                    Some(t) => {
                        assert!(applied, "{case}: did not apply");
                        assert_eq!(got, t.next, "{case}");
                        let expected_ms = if t.stamps_ready { Some(NOW) } else { stamp(state.ready_stamped) };
                        assert_eq!(ready_ms, expected_ms, "{case}: ready_ms");
                        assert_eq!(acl, t.bumps_acl as i64, "{case}: acl");
                    }
                }
            }
        }
        tx.rollback().await.unwrap();
        c.close().await;
    }

    #[tokio::test]
    async fn sqlite_statements_follow_the_transition_function() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
        statements_follow_the_transition_function(Catalog::connect(&url).await.unwrap()).await;
    }

    /// PostgreSQL as in the contract suite: a fresh database on the local
    /// server (`TEST_POSTGRES_URL`); unreachable is a failure, not a skip.
    #[tokio::test]
    async fn postgres_statements_follow_the_transition_function() {
        let admin = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for the catalog tests: {e}"));
        let name = format!("photostream_test_lifecycle_{}", &photostream_types::PhotoId::new().as_str().replace('-', "")[20..]);
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        statements_follow_the_transition_function(Catalog::connect(&url).await.unwrap()).await;
    }
}
