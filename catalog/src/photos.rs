//! Photos: the row and its reads, by id, by object key and in keyset
//! listings (by owner, album, tag, feed, filtered by access).
//!
//! - `upload`: a new photo with its outbox record.
//! - `edits`: an owner's edits and deletion.
//!
//! The marks that make a photo `ready` are in [`crate::lifecycle`].

mod edits;
mod upload;

pub use edits::PhotoPatch;
pub use upload::NewPhoto;

use photostream_types::{
    AlbumId, AlbumName, ObjectKey, PhotoId, PhotoMetadata, PhotoStatus, StorageTier, UserId, Username, Visibility,
};
use sqlx::any::AnyRow;

use crate::pagination::{bind_all, finish_page, keyset_clause, newest_first_order, page_rows, Bind, Direction, Keyset};
use crate::parse;
use crate::{get, get_name, Catalog, CatalogError, Result};

/// A photo row with its owner's username and album name joined in.
#[derive(Debug, Clone)]
pub struct Photo {
    pub id: PhotoId,
    pub owner_id: UserId,
    pub owner: Username,
    pub album_id: AlbumId,
    pub album: AlbumName,
    pub title: String,
    pub description: String,
    pub visibility: Visibility,
    pub status: PhotoStatus,
    pub width: i64,
    pub height: i64,
    pub format: String,
    pub content_hash: String,
    pub byte_size: i64,
    pub file_name: String,
    pub original_key: String,
    pub thumbnail_key: Option<String>,
    /// The display rendition, once made (with the thumbnail).
    pub display_key: Option<String>,
    pub thumbnail_done: bool,
    pub indexed: bool,
    pub metadata: PhotoMetadata,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub ready_ms: Option<i64>,
    pub deleted_ms: Option<i64>,
    /// Bumped by every change of who may see the photo.
    pub acl_version: i64,
    /// Whether the moderation checks have run on the upload.
    pub moderated: bool,
    /// The perceptual hash, once the moderation processor computed it.
    pub phash: Option<u64>,
    /// Which object store holds the original (renditions are always hot).
    pub storage_tier: StorageTier,
    /// When the original was last read, to the hour (`None`: never).
    pub original_read_ms: Option<i64>,
    /// Whether the display rendition carries the owner's mark.
    pub watermark: bool,
}

impl Photo {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        let tags: String = get(row, "tags")?;
        Ok(Self {
            id: parse(get::<String>(row, "id")?)?,
            owner_id: parse(get::<String>(row, "owner_id")?)?,
            owner: get_name(row, "owner_username")?,
            album_id: parse(get::<String>(row, "album_id")?)?,
            album: get_name(row, "album_name")?,
            title: get(row, "title")?,
            description: get(row, "description")?,
            visibility: parse(get::<String>(row, "visibility")?)?,
            status: parse(get::<String>(row, "status")?)?,
            width: get(row, "width")?,
            height: get(row, "height")?,
            format: get(row, "format")?,
            content_hash: get(row, "content_hash")?,
            byte_size: get(row, "byte_size")?,
            file_name: get(row, "file_name")?,
            original_key: get(row, "original_key")?,
            thumbnail_key: get(row, "thumbnail_key")?,
            display_key: get(row, "display_key")?,
            thumbnail_done: get::<i64>(row, "thumbnail_done")? != 0,
            indexed: get::<i64>(row, "indexed")? != 0,
            metadata: PhotoMetadata {
                taken_at: get(row, "taken_at")?,
                camera: get(row, "camera")?,
                lens: get(row, "lens")?,
                location: get(row, "location")?,
                license: get(row, "license")?,
                tags: serde_json::from_str(&tags)
                    .map_err(|e| CatalogError::Corrupt(format!("tags: {e}")))?,
            },
            created_ms: get(row, "created_ms")?,
            updated_ms: get(row, "updated_ms")?,
            ready_ms: get(row, "ready_ms")?,
            deleted_ms: get(row, "deleted_ms")?,
            acl_version: get(row, "acl_version")?,
            moderated: get::<i64>(row, "moderated")? != 0,
            phash: get::<Option<i64>>(row, "phash")?.map(|h| h as u64),
            storage_tier: parse(get::<String>(row, "storage_tier")?)?,
            original_read_ms: get(row, "original_read_ms")?,
            watermark: get::<i64>(row, "watermark")? != 0,
        })
    }

    /// The keyset position of this photo in newest-first listings.
    pub fn keyset(&self) -> Keyset {
        Keyset {
            created_ms: self.created_ms,
            id: self.id.to_string(),
        }
    }
}

pub(crate) const SELECT_PHOTO: &str = "SELECT p.*, u.username AS owner_username, a.name AS album_name
    FROM photos p
    JOIN users u ON u.id = p.owner_id
    JOIN albums a ON a.id = p.album_id";

/// Followed owners up to which SQLite's feed is one index range per owner.
const FEED_BRANCHES: usize = 200;

/// Which photos a listing may return, by access. This mirrors the API's
/// ACL function in SQL so pages are filtered in the database and stay full;
/// the API still checks each row against the ACL function itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListAccess {
    /// Every live photo in any status (owners listing their own, moderators).
    #[default]
    Everything,
    /// `ready` public photos, plus `ready` shared photos this user may see.
    ReadyVisibleTo(Option<UserId>),
    /// The user's own photos in any status, and others' as `ReadyVisibleTo`.
    OwnOrVisibleTo(UserId),
}

/// Which photos a listing returns.
#[derive(Debug, Clone, Default)]
pub struct PhotoFilter {
    pub owner: Option<UserId>,
    pub album: Option<AlbumId>,
    pub tag: Option<String>,
    /// The feed of this user: their own photos and those of users they follow.
    pub feed_of: Option<UserId>,
    pub access: ListAccess,
}

impl Catalog {
    /// The photo with this id, deleted or not: callers decide visibility.
    pub async fn photo(&self, id: &PhotoId) -> Result<Option<Photo>> {
        sqlx::query(&format!("{SELECT_PHOTO} WHERE p.id = $1"))
            .bind(id.as_str())
            .fetch_optional(&mut self.conn().await?)
            .await?
            .map(|r| Photo::from_row(&r))
            .transpose()
    }

    /// Several photos in one query, in the order of `ids` (missing ones
    /// left out). For pages of search hits and notifications.
    pub async fn photos_by_ids(&self, ids: &[PhotoId]) -> Result<Vec<Photo>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let binds: Vec<Bind> = ids.iter().map(|id| Bind::Text(id.to_string())).collect();
        let sql = format!("{SELECT_PHOTO} WHERE p.id IN ({})", marks.join(", "));
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let mut found = rows.iter().map(Photo::from_row).collect::<Result<Vec<_>>>()?;
        found.sort_by_key(|p| ids.iter().position(|id| *id == p.id));
        Ok(found)
    }

    /// The photo that owns the object `key` (its original or a rendition).
    pub async fn photo_by_object_key(&self, key: &str) -> Result<Option<Photo>> {
        sqlx::query(&format!(
            "{SELECT_PHOTO} WHERE p.original_key = $1 OR p.thumbnail_key = $1 OR p.display_key = $1"
        ))
        .bind(key)
        .fetch_optional(&mut self.conn().await?)
        .await?
        .map(|r| Photo::from_row(&r))
        .transpose()
    }

    /// Whether a new upload of `owner` to `album`, stored as `original`
    /// (whose stem is `stem`), must take another name: a photo of the album
    /// uses the stem, or one of the owner's photos stored its files under
    /// the names the new one's renditions would get — one moved out of this
    /// album since (a move keeps a photo's keys), whose thumbnail and
    /// display rendition would otherwise be overwritten. Deleted photos
    /// count: their keys are never reused.
    pub async fn file_stem_taken(&self, owner: &UserId, album: &AlbumId, stem: &str, original: &ObjectKey) -> Result<bool> {
        let rows = sqlx::query("SELECT album_id, original_key FROM photos WHERE owner_id = $1 AND file_stem = $2")
            .bind(owner.as_str())
            .bind(stem)
            .fetch_all(&mut self.conn().await?)
            .await?;
        for row in &rows {
            let in_album = get::<String>(row, "album_id")? == album.as_str();
            let key: String = get(row, "original_key")?;
            if in_album || ObjectKey::parse(&key).is_some_and(|k| k.renditions_collide(original)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether a live (not deleted) photo refers to the object `key`; the
    /// sweeper removes objects for which this is false.
    pub async fn object_key_in_use(&self, key: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM photos
             WHERE (original_key = $1 OR thumbnail_key = $1 OR display_key = $1) AND deleted_ms IS NULL",
        )
        .bind(key)
        .fetch_one(&mut self.conn().await?)
        .await?;
        Ok(get::<i64>(&row, "n")? > 0)
    }

    /// Newest-first listing of live photos matching `filter`, `limit` items
    /// from `direction`. Returns the page (newest first) and whether more
    /// items exist beyond it in that direction.
    pub async fn list_photos(
        &self,
        filter: &PhotoFilter,
        direction: &Direction,
        limit: i64,
    ) -> Result<(Vec<Photo>, bool)> {
        let mut sql = String::from("p.deleted_ms IS NULL");
        let mut binds: Vec<Bind> = Vec::new();
        let next = |b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if let Some(owner) = &filter.owner {
            let n = next(Bind::Text(owner.to_string()), &mut binds);
            sql += &format!(" AND p.owner_id = {n}");
        }
        if let Some(album) = &filter.album {
            let n = next(Bind::Text(album.to_string()), &mut binds);
            sql += &format!(" AND p.album_id = {n}");
        }
        if let Some(tag) = &filter.tag {
            let n = next(Bind::Text(tag.clone()), &mut binds);
            sql += &format!(
                " AND EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id AND t.tag = {n})"
            );
        }
        match &filter.access {
            ListAccess::Everything => {}
            ListAccess::ReadyVisibleTo(None) => {
                sql += " AND p.status = 'ready' AND p.visibility = 'public'";
            }
            ListAccess::OwnOrVisibleTo(me) => {
                let n = next(Bind::Text(me.to_string()), &mut binds);
                sql += &format!(
                    " AND (p.owner_id = {n} OR (p.status = 'ready' AND (p.visibility = 'public'
                      OR (p.visibility = 'shared' AND EXISTS (SELECT 1 FROM photo_viewers v
                          WHERE v.photo_id = p.id AND v.user_id = {n})))))"
                );
            }
            ListAccess::ReadyVisibleTo(Some(viewer)) => {
                let n = next(Bind::Text(viewer.to_string()), &mut binds);
                sql += &format!(
                    " AND p.status = 'ready' AND (p.visibility = 'public' OR p.owner_id = {n}
                      OR (p.visibility = 'shared' AND EXISTS (SELECT 1 FROM photo_viewers v
                          WHERE v.photo_id = p.id AND v.user_id = {n})))"
                );
            }
        }
        let mut conn = self.conn().await?;
        let feed_owners = filter.feed_of.as_ref().map(|me| {
            let n = next(Bind::Text(me.to_string()), &mut binds);
            format!("SELECT CAST({n} AS TEXT) AS owner_id UNION SELECT f.followee_id FROM follows f WHERE f.follower_id = {n}")
        });
        let sql = match (feed_owners, self.dialect) {
            (Some(owners), crate::Dialect::Postgres) => {
                // One newest-first index range per followed owner, merged:
                // a page costs (owners × page) index rows however thinly
                // the followed are spread through the catalog, where one
                // scan of everyone's photos by time, filtered to the
                // followed, costs as much as the catalog is big. The merge
                // carries only the keyset columns; the page's rows are
                // read whole once chosen (a third less time than merging
                // whole rows: docs/benchmarks.md).
                let keyset = keyset_clause(direction, "p.created_ms", "p.id", limit, &mut binds);
                let (order, rows) = (newest_first_order(direction), page_rows(limit));
                format!(
                    "SELECT p.*, u.username AS owner_username, a.name AS album_name
                     FROM (SELECT q.id, q.created_ms FROM ({owners}) o
                           CROSS JOIN LATERAL (SELECT p.id, p.created_ms FROM photos p
                               WHERE p.owner_id = o.owner_id AND {sql}{keyset}) q
                           ORDER BY q.created_ms {order}, q.id {order} LIMIT {rows}) k
                     JOIN photos p ON p.id = k.id
                     JOIN users u ON u.id = p.owner_id
                     JOIN albums a ON a.id = p.album_id
                     ORDER BY p.created_ms {order}, p.id {order}"
                )
            }
            (Some(owners), crate::Dialect::Sqlite) => {
                // SQLite has no LATERAL: the same merge of one index range
                // per followed owner, spelled as one UNION ALL branch per
                // owner (up to FEED_BRANCHES; past that, one walk of
                // photos_created filtered to the followed).
                let me = filter.feed_of.as_ref().map(|m| m.to_string()).unwrap_or_default();
                let followed: Vec<String> = sqlx::query_scalar(
                    "SELECT followee_id FROM follows WHERE follower_id = $1 LIMIT $2",
                )
                .bind(&me)
                .bind(FEED_BRANCHES as i64)
                .fetch_all(&mut conn)
                .await?;
                if followed.len() < FEED_BRANCHES {
                    let keyset = keyset_clause(direction, "p.created_ms", "p.id", limit, &mut binds);
                    let (order, rows) = (newest_first_order(direction), page_rows(limit));
                    let others = followed.into_iter().filter(|f| *f != me);
                    let branches: Vec<String> = std::iter::once(me.clone())
                        .chain(others)
                        .map(|owner| {
                            let n = next(Bind::Text(owner), &mut binds);
                            format!("SELECT * FROM (SELECT p.id, p.created_ms FROM photos p WHERE p.owner_id = {n} AND {sql}{keyset})")
                        })
                        .collect();
                    // As on PostgreSQL, the merge carries only the keyset
                    // columns and the page's rows are read whole once
                    // chosen (CROSS JOIN: SQLite keeps the chosen keys as
                    // the outer loop, a primary-key lookup each).
                    format!(
                        "SELECT p.*, u.username AS owner_username, a.name AS album_name
                         FROM (SELECT id, created_ms FROM ({}) ORDER BY created_ms {order}, id {order} LIMIT {rows}) k
                         CROSS JOIN photos p ON p.id = k.id
                         JOIN users u ON u.id = p.owner_id
                         JOIN albums a ON a.id = p.album_id
                         ORDER BY p.created_ms {order}, p.id {order}",
                        branches.join(" UNION ALL ")
                    )
                } else {
                    sql += &format!(" AND p.owner_id IN ({owners})");
                    let keyset = keyset_clause(direction, "p.created_ms", "p.id", limit, &mut binds);
                    format!("{SELECT_PHOTO} WHERE {sql}{keyset}")
                }
            }
            (None, _) => {
                let keyset = keyset_clause(direction, "p.created_ms", "p.id", limit, &mut binds);
                format!("{SELECT_PHOTO} WHERE {sql}{keyset}")
            }
        };

        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut conn).await?;
        let photos = rows.iter().map(Photo::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(photos, direction, limit))
    }

    /// Live photos with ids after `after`, in id order, for resumable
    /// rebuilds (`photostream reindex` / `rethumb`).
    pub async fn photos_after(&self, after: Option<&PhotoId>, limit: i64) -> Result<Vec<Photo>> {
        let rows = sqlx::query(&format!(
            "{SELECT_PHOTO} WHERE p.deleted_ms IS NULL AND p.id > $1 ORDER BY p.id LIMIT $2"
        ))
        .bind(after.map_or("", |a| a.as_str()))
        .bind(limit)
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter().map(Photo::from_row).collect()
    }

    /// How many live photos there are.
    pub async fn photo_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM photos WHERE deleted_ms IS NULL")
            .fetch_one(&mut self.conn().await?)
            .await?;
        get(&row, "n")
    }
}

