//! An owner's edits and deletion of a photo, each with its outbox record.

use photostream_types::{now_ms, AlbumId, LifecycleEvent, PhotoId, PhotoMetadata, Visibility};

use crate::outbox::OutboxEntry;
use crate::pagination::{bind_all, Bind};
use crate::{conflict, Catalog, CatalogError, Photo, Result};

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
        if !Self::apply_lifecycle(&mut tx, id, LifecycleEvent::Deleted, now).await? {
            return Err(CatalogError::NotFound);
        }
        outbox.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
