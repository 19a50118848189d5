//! Photos: insertion with the outbox record, reads, keyset listing, and the
//! processing flags that drive `processing → ready`.

use photostream_types::{
    now_ms, AlbumId, AlbumName, PhotoId, PhotoMetadata, PhotoStatus, StorageTier, UserId, Username,
    Visibility,
};
use sqlx::any::AnyRow;

use crate::outbox::OutboxEntry;
use crate::users::parse;
use crate::{conflict, get, Catalog, CatalogError, Result};

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
            owner: Username::parse(&get::<String>(row, "owner_username")?)
                .map_err(|e| CatalogError::Corrupt(e.0))?,
            album_id: parse(get::<String>(row, "album_id")?)?,
            album: AlbumName::parse(&get::<String>(row, "album_name")?)
                .map_err(|e| CatalogError::Corrupt(e.0))?,
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

/// Everything the upload path knows about a new photo.
#[derive(Debug, Clone)]
pub struct NewPhoto {
    pub id: PhotoId,
    pub owner_id: UserId,
    pub album_id: AlbumId,
    pub title: String,
    pub description: String,
    pub visibility: Visibility,
    pub width: i64,
    pub height: i64,
    pub format: String,
    pub content_hash: String,
    pub byte_size: i64,
    pub file_name: String,
    /// `file_name` without its extension: unique within an album, so every
    /// rendition name derived from it is unique too.
    pub file_stem: String,
    pub original_key: String,
    /// Set when a verified client thumbnail was stored with the upload.
    pub thumbnail_key: Option<String>,
    pub metadata: PhotoMetadata,
    /// Who a `shared` photo is shared with.
    pub viewers: Vec<UserId>,
    /// Whether the display rendition carries the owner's mark.
    pub watermark: bool,
}

/// A position in a newest-first listing: `(created_ms, id)`, both
/// descending. `id` is the listed row's id (a photo, comment, user…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub created_ms: i64,
    pub id: String,
}

/// Which side of a keyset a page lies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// The first (newest) page.
    First,
    /// Items older than the keyset (`previous_last`).
    After(Keyset),
    /// Items newer than the keyset (`previous_first`).
    Before(Keyset),
}

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

/// The renditions the thumbnailer made for one photo
/// ([`Catalog::mark_renditions`]).
#[derive(Debug, Clone)]
pub struct RenditionMark {
    pub id: PhotoId,
    pub display_key: Option<String>,
    pub thumbnail_key: Option<String>,
}

impl Catalog {
    /// Inserts the photo and its outbox record in one transaction: once this
    /// returns `Ok`, the photo will be processed even if the process dies now.
    pub async fn insert_photo(&self, p: &NewPhoto, outbox: &OutboxEntry) -> Result<Photo> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO photos (id, owner_id, album_id, title, description, visibility, status,
                width, height, format, content_hash, byte_size, file_name, file_stem, original_key,
                thumbnail_key, thumbnail_done, taken_at, camera, lens, location, license, tags,
                created_ms, updated_ms, moderated, watermark)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21, $22, $23, $24, $25, 0, $26)",
        )
        .bind(p.id.as_str())
        .bind(p.owner_id.as_str())
        .bind(p.album_id.as_str())
        .bind(&p.title)
        .bind(&p.description)
        .bind(p.visibility.as_str())
        .bind(PhotoStatus::Processing.as_str())
        .bind(p.width)
        .bind(p.height)
        .bind(&p.format)
        .bind(&p.content_hash)
        .bind(p.byte_size)
        .bind(&p.file_name)
        .bind(&p.file_stem)
        .bind(&p.original_key)
        .bind(p.thumbnail_key.as_deref())
        .bind(p.thumbnail_key.is_some() as i64)
        .bind(p.metadata.taken_at.as_deref())
        .bind(p.metadata.camera.as_deref())
        .bind(p.metadata.lens.as_deref())
        .bind(p.metadata.location.as_deref())
        .bind(p.metadata.license.as_deref())
        .bind(serde_json::to_string(&p.metadata.tags).expect("tags serialise"))
        .bind(now)
        .bind(now)
        .bind(p.watermark as i64)
        .execute(&mut *tx)
        .await
        .map_err(conflict("file name"))?;
        for tag in &p.metadata.tags {
            sqlx::query("INSERT INTO photo_tags (photo_id, tag) VALUES ($1, $2)")
                .bind(p.id.as_str())
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        }
        for viewer in &p.viewers {
            sqlx::query(
                "INSERT INTO photo_viewers (photo_id, user_id) VALUES ($1, $2)
                 ON CONFLICT (photo_id, user_id) DO NOTHING",
            )
            .bind(p.id.as_str())
            .bind(viewer.as_str())
            .execute(&mut *tx)
            .await?;
        }
        outbox.insert(&mut tx).await?;
        tx.commit().await?;
        self.photo(&p.id).await?.ok_or(CatalogError::NotFound)
    }

    /// The photo with this id, deleted or not: callers decide visibility.
    pub async fn photo(&self, id: &PhotoId) -> Result<Option<Photo>> {
        sqlx::query(&format!("{SELECT_PHOTO} WHERE p.id = $1"))
            .bind(id.as_str())
            .fetch_optional(&mut *self.conn().await?)
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
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut *self.conn().await?).await?;
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
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .map(|r| Photo::from_row(&r))
        .transpose()
    }

    /// Whether a photo in `album` already uses the file stem.
    pub async fn file_stem_taken(&self, album: &AlbumId, stem: &str) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM photos WHERE album_id = $1 AND file_stem = $2")
            .bind(album.as_str())
            .bind(stem)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(get::<i64>(&row, "n")? > 0)
    }

    /// Whether a live (not deleted) photo refers to the object `key`; the
    /// sweeper removes objects for which this is false.
    pub async fn object_key_in_use(&self, key: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM photos
             WHERE (original_key = $1 OR thumbnail_key = $1 OR display_key = $1) AND deleted_ms IS NULL",
        )
        .bind(key)
        .fetch_one(&mut *self.conn().await?)
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
                // followed, costs as much as the catalog is big.
                let keyset = keyset_clause(direction, "p.created_ms", "p.id", limit, &mut binds);
                let order = if matches!(direction, Direction::Before(_)) { "ASC" } else { "DESC" };
                let limit = binds.len();
                format!(
                    "SELECT p.*, u.username AS owner_username, a.name AS album_name
                     FROM (SELECT q.* FROM ({owners}) o
                           CROSS JOIN LATERAL (SELECT p.* FROM photos p
                               WHERE p.owner_id = o.owner_id AND {sql}{keyset}) q
                           ORDER BY q.created_ms {order}, q.id {order} LIMIT ${limit}) p
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
                .fetch_all(&mut *conn)
                .await?;
                if followed.len() < FEED_BRANCHES {
                    let keyset = keyset_clause(direction, "p.created_ms", "p.id", limit, &mut binds);
                    let order = if matches!(direction, Direction::Before(_)) { "ASC" } else { "DESC" };
                    let limit = binds.len();
                    let others = followed.into_iter().filter(|f| *f != me);
                    let branches: Vec<String> = std::iter::once(me.clone())
                        .chain(others)
                        .map(|owner| {
                            let n = next(Bind::Text(owner), &mut binds);
                            format!("SELECT * FROM (SELECT p.* FROM photos p WHERE p.owner_id = {n} AND {sql}{keyset})")
                        })
                        .collect();
                    format!(
                        "SELECT p.*, u.username AS owner_username, a.name AS album_name
                         FROM ({}) p
                         JOIN users u ON u.id = p.owner_id
                         JOIN albums a ON a.id = p.album_id
                         ORDER BY p.created_ms {order}, p.id {order} LIMIT ${limit}",
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

        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut *conn).await?;
        let photos = rows.iter().map(Photo::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(photos, direction, limit))
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
        let mut tx = self.begin().await?;
        for m in marks {
            match (&m.display_key, &m.thumbnail_key) {
                (display, Some(thumbnail)) => {
                    sqlx::query(
                        "UPDATE photos SET display_key = COALESCE($1, display_key), thumbnail_key = $2,
                            thumbnail_done = 1, updated_ms = $3,
                            ready_ms = CASE WHEN indexed = 1 AND moderated = 1 AND status = 'processing' THEN $3 ELSE ready_ms END,
                            status = CASE WHEN indexed = 1 AND moderated = 1 AND status = 'processing' THEN 'ready' ELSE status END
                         WHERE id = $4",
                    )
                    .bind(display.clone())
                    .bind(thumbnail)
                    .bind(now)
                    .bind(m.id.as_str())
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
            sqlx::query(
                "UPDATE photos SET indexed = 1, updated_ms = $1,
                    ready_ms = CASE WHEN thumbnail_done = 1 AND moderated = 1 AND status = 'processing' THEN $1 ELSE ready_ms END,
                    status = CASE WHEN thumbnail_done = 1 AND moderated = 1 AND status = 'processing' THEN 'ready' ELSE status END
                 WHERE id = $2",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Live photos with ids after `after`, in id order, for resumable
    /// rebuilds (`photostream reindex` / `rethumb`).
    pub async fn photos_after(&self, after: Option<&PhotoId>, limit: i64) -> Result<Vec<Photo>> {
        let rows = sqlx::query(&format!(
            "{SELECT_PHOTO} WHERE p.deleted_ms IS NULL AND p.id > $1 ORDER BY p.id LIMIT $2"
        ))
        .bind(after.map_or("", |a| a.as_str()))
        .bind(limit)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(Photo::from_row).collect()
    }

    /// How many live photos there are.
    pub async fn photo_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM photos WHERE deleted_ms IS NULL")
            .fetch_one(&mut *self.conn().await?)
            .await?;
        get(&row, "n")
    }
}

pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Null,
}

/// Appends the keyset condition, order and limit (`limit + 1` rows, to learn
/// whether more exist) for a newest-first listing on `(created, id)`.
pub(crate) fn keyset_clause(
    direction: &Direction,
    created: &str,
    id: &str,
    limit: i64,
    binds: &mut Vec<Bind>,
) -> String {
    keyset_clause_ordered(direction, created, id, limit, binds, false)
}

/// [`keyset_clause`] for either order: `oldest_first` turns the listing
/// around (queues), with `After` still meaning "further down the list".
pub(crate) fn keyset_clause_ordered(
    direction: &Direction,
    created: &str,
    id: &str,
    limit: i64,
    binds: &mut Vec<Bind>,
    oldest_first: bool,
) -> String {
    let mut sql = String::new();
    let (down, up, down_order, up_order) = if oldest_first { (">", "<", "ASC", "DESC") } else { ("<", ">", "DESC", "ASC") };
    let (cmp, order) = match direction {
        Direction::First => (None, down_order),
        Direction::After(k) => (Some((down, k)), down_order),
        Direction::Before(k) => (Some((up, k)), up_order),
    };
    if let Some((op, k)) = cmp {
        binds.push(Bind::Int(k.created_ms));
        let a = binds.len();
        binds.push(Bind::Text(k.id.clone()));
        let b = binds.len();
        // A row comparison is one index range on (created, id) in both engines.
        sql += &format!(" AND ({created}, {id}) {op} (${a}, ${b})");
    }
    binds.push(Bind::Int(limit + 1));
    sql += &format!(" ORDER BY {created} {order}, {id} {order} LIMIT ${}", binds.len());
    sql
}

/// Trims the extra row, restores newest-first order, reports whether more exist.
pub(crate) fn finish_page<T>(mut rows: Vec<T>, direction: &Direction, limit: i64) -> (Vec<T>, bool) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if matches!(direction, Direction::Before(_)) {
        rows.reverse();
    }
    (rows, more)
}

/// An owner's edit of a photo; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct PhotoPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    pub album_id: Option<AlbumId>,
    pub metadata: Option<PhotoMetadata>,
    /// Turns the display rendition's mark on or off (the thumbnailer
    /// re-renders it on the photo's update record).
    pub watermark: Option<bool>,
}

impl Catalog {
    /// Applies `patch` and queues `outbox` in one transaction. A visibility
    /// change bumps `acl_version`, revoking previously signed URLs.
    pub async fn update_photo(&self, id: &PhotoId, patch: &PhotoPatch, outbox: &OutboxEntry) -> Result<Photo> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let mut sets = vec!["updated_ms = $1".to_string()];
        let mut binds: Vec<Bind> = vec![Bind::Int(now)];
        let mut push = |col: &str, b: Bind, sets: &mut Vec<String>| {
            binds.push(b);
            sets.push(format!("{col} = ${}", binds.len()));
        };
        if let Some(t) = &patch.title {
            push("title", Bind::Text(t.clone()), &mut sets);
        }
        if let Some(d) = &patch.description {
            push("description", Bind::Text(d.clone()), &mut sets);
        }
        if let Some(v) = patch.visibility {
            push("visibility", Bind::Text(v.as_str().into()), &mut sets);
            sets.push("acl_version = acl_version + 1".into());
        }
        if let Some(a) = &patch.album_id {
            push("album_id", Bind::Text(a.to_string()), &mut sets);
        }
        if let Some(w) = patch.watermark {
            push("watermark", Bind::Int(w as i64), &mut sets);
        }
        if let Some(m) = &patch.metadata {
            for (col, v) in [
                ("taken_at", &m.taken_at),
                ("camera", &m.camera),
                ("lens", &m.lens),
                ("location", &m.location),
                ("license", &m.license),
            ] {
                push(col, v.clone().map_or(Bind::Null, Bind::Text), &mut sets);
            }
            push("tags", Bind::Text(serde_json::to_string(&m.tags).expect("tags serialise")), &mut sets);
        }
        binds.push(Bind::Text(id.to_string()));
        let sql = format!(
            "UPDATE photos SET {} WHERE id = ${} AND deleted_ms IS NULL",
            sets.join(", "),
            binds.len()
        );
        let updated = bind_all(sqlx::query(&sql), &binds)
            .execute(&mut *tx)
            .await
            .map_err(conflict("file name"))?
            .rows_affected();
        if updated == 0 {
            return Err(CatalogError::NotFound);
        }
        if let Some(m) = &patch.metadata {
            sqlx::query("DELETE FROM photo_tags WHERE photo_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            for tag in &m.tags {
                sqlx::query("INSERT INTO photo_tags (photo_id, tag) VALUES ($1, $2)")
                    .bind(id.as_str())
                    .bind(tag)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        outbox.insert(&mut tx).await?;
        tx.commit().await?;
        self.photo(id).await?.ok_or(CatalogError::NotFound)
    }

    /// Marks the photo deleted (it is invisible from this commit on) and
    /// queues `outbox` (the purge record). `NotFound` if already deleted.
    pub async fn delete_photo(&self, id: &PhotoId, outbox: &OutboxEntry) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let n = sqlx::query(
            "UPDATE photos SET deleted_ms = $1, updated_ms = $1, acl_version = acl_version + 1
             WHERE id = $2 AND deleted_ms IS NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(CatalogError::NotFound);
        }
        outbox.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
            Bind::Null => q.bind(None::<String>),
        };
    }
    q
}
