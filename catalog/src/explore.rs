//! The explore page's candidate queries: recent public photos and the
//! signals that rank them.

use std::collections::HashMap;

use photostream_types::{PhotoId, UserId};

use crate::photos::{Photo, SELECT_PHOTO};
use crate::{get, parse, Catalog, Result};

impl Catalog {
    /// The newest public, ready photos: the explore page's candidates.
    pub async fn recent_public_photos(&self, limit: i64) -> Result<Vec<Photo>> {
        let rows = sqlx::query(&format!(
            "{SELECT_PHOTO} WHERE p.deleted_ms IS NULL AND p.status = 'ready' AND p.visibility = 'public'
             ORDER BY p.created_ms DESC, p.id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter().map(Photo::from_row).collect()
    }

    /// Favorites per photo since `since_ms` (the trending signal).
    pub async fn recent_favorite_counts(&self, since_ms: i64) -> Result<HashMap<PhotoId, i64>> {
        let rows = sqlx::query(
            "SELECT photo_id, COUNT(*) AS n FROM favorites WHERE created_ms >= $1 GROUP BY photo_id",
        )
        .bind(since_ms)
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| Ok((parse(get::<String>(r, "photo_id")?)?, get::<i64>(r, "n")?)))
            .collect()
    }

    /// Everyone `user` follows.
    pub async fn following_ids(&self, user: &UserId) -> Result<Vec<UserId>> {
        let rows = sqlx::query("SELECT followee_id FROM follows WHERE follower_id = $1")
            .bind(user.as_str())
            .fetch_all(&mut self.conn().await?)
            .await?;
        rows.iter().map(|r| parse(get::<String>(r, "followee_id")?)).collect()
    }
}
