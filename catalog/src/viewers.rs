//! Viewer lists: who a `shared` photo is shared with.

use photostream_types::{now_ms, PhotoId, UserId, Username};

use crate::outbox::OutboxEntry;
use crate::{get, get_name, parse, Catalog, CatalogError, Result};

impl Catalog {
    /// Users a photo is shared with, by username.
    pub async fn viewers(&self, photo: &PhotoId) -> Result<Vec<(UserId, Username)>> {
        let rows = sqlx::query(
            "SELECT u.id, u.username FROM photo_viewers v JOIN users u ON u.id = v.user_id
             WHERE v.photo_id = $1 ORDER BY u.username",
        )
        .bind(photo.as_str())
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse(get::<String>(r, "id")?)?,
                    get_name(r, "username")?,
                ))
            })
            .collect()
    }

    /// Replaces the viewer list, bumps `acl_version` and queues `outbox`, in
    /// one transaction.
    pub async fn set_viewers(&self, photo: &PhotoId, users: &[UserId], outbox: &OutboxEntry) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE photos SET acl_version = acl_version + 1, updated_ms = $1
             WHERE id = $2 AND deleted_ms IS NULL",
        )
        .bind(now_ms())
        .bind(photo.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(CatalogError::NotFound);
        }
        sqlx::query("DELETE FROM photo_viewers WHERE photo_id = $1")
            .bind(photo.as_str())
            .execute(&mut *tx)
            .await?;
        for u in users {
            sqlx::query(
                "INSERT INTO photo_viewers (photo_id, user_id) VALUES ($1, $2)
                 ON CONFLICT (photo_id, user_id) DO NOTHING",
            )
            .bind(photo.as_str())
            .bind(u.as_str())
            .execute(&mut *tx)
            .await?;
        }
        outbox.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
