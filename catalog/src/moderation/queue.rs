//! The review queue: items by status, oldest first, and its size.

use photostream_types::{PhotoId, UserId};
use serde_json::Value;
use sqlx::any::AnyRow;

use super::json;
use crate::pagination::{bind_all, finish_page, keyset_clause_ordered, Bind, Direction, Keyset};
use crate::parse;
use crate::{get, Catalog, Result};

#[derive(Debug, Clone)]
pub struct ModerationItem {
    pub id: String,
    /// `photo` or `comment`.
    pub subject: String,
    pub photo_id: PhotoId,
    pub comment_id: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// `auto` (the checks raised it) or `reports` (users did).
    pub source: String,
    /// The checks' findings: `[{check, score, reason}]`.
    pub findings: Value,
    pub report_count: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub decided_by: Option<UserId>,
    pub decided_ms: Option<i64>,
    pub note: Option<String>,
}

impl ModerationItem {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: get(r, "id")?,
            subject: get(r, "subject")?,
            photo_id: parse(get::<String>(r, "photo_id")?)?,
            comment_id: get(r, "comment_id")?,
            status: get(r, "status")?,
            source: get(r, "source")?,
            findings: json(&get::<String>(r, "findings")?)?,
            report_count: get(r, "report_count")?,
            created_ms: get(r, "created_ms")?,
            updated_ms: get(r, "updated_ms")?,
            decided_by: get::<Option<String>>(r, "decided_by")?.map(parse).transpose()?,
            decided_ms: get(r, "decided_ms")?,
            note: get(r, "note")?,
        })
    }

    pub fn keyset(&self) -> Keyset {
        Keyset { created_ms: self.created_ms, id: self.id.clone() }
    }
}

/// The queue's size and the creation time of its oldest pending item.
// Primitives only, so the derive can map it over `Any` (see the crate docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct QueueStats {
    pub pending: i64,
    pub oldest_ms: Option<i64>,
}

impl Catalog {
    pub async fn moderation_item(&self, id: &str) -> Result<Option<ModerationItem>> {
        sqlx::query("SELECT * FROM moderation_items WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut self.conn().await?)
            .await?
            .map(|r| ModerationItem::from_row(&r))
            .transpose()
    }

    /// The id of `photo`'s pending moderation item (the checks or users'
    /// reports put it in front of moderators), if any.
    pub async fn pending_item_of(&self, photo: &PhotoId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM moderation_items WHERE photo_id = $1 AND status = 'pending' LIMIT 1")
            .bind(photo.as_str())
            .fetch_optional(&mut self.conn().await?)
            .await?;
        row.map(|r| get::<String>(&r, "id")).transpose()
    }

    /// Items in `status`, oldest first.
    pub async fn moderation_queue(&self, status: &str, direction: &Direction, limit: i64) -> Result<(Vec<ModerationItem>, bool)> {
        let mut binds = vec![Bind::Text(status.to_string())];
        let mut sql = "SELECT * FROM moderation_items WHERE status = $1".to_string();
        sql += &keyset_clause_ordered(direction, "created_ms", "id", limit, &mut binds, true);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let items = rows.iter().map(ModerationItem::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }

    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let stats = sqlx::query_as(
            "SELECT COUNT(*) AS pending, MIN(created_ms) AS oldest_ms FROM moderation_items WHERE status = 'pending'",
        )
        .fetch_one(&mut self.conn().await?)
        .await?;
        Ok(stats)
    }
}
