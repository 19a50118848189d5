//! A new photo: its row, tags, viewers and outbox record in one transaction.

use photostream_types::{now_ms, AlbumId, Lifecycle, PhotoId, PhotoMetadata, UserId, Visibility};

use crate::outbox::OutboxEntry;
use crate::{conflict, Catalog, CatalogError, Photo, Result};

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
        .bind(Lifecycle::uploaded(p.thumbnail_key.is_some()).status.as_str())
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
}
