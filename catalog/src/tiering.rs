//! Storage tiers of originals: which store holds each one, when it was last
//! read, and what the tiering job should move. The moves themselves (copy,
//! verify, flip, delete) are `photostream_tiering`'s; the catalog only keeps
//! the row's state, changed by compare-and-set so two movers never fight.

use photostream_types::{PhotoId, StorageTier, UserId};

use crate::photos::SELECT_PHOTO;
use crate::{get, Catalog, Photo, Result};

/// Reads of one original are recorded at most this often: the read path
/// writes nothing for an original read within the last hour.
pub const READ_RECORD_GRANULARITY_MS: i64 = 3600 * 1000;

/// Live originals in one tier state: how many and how many bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierTotals {
    pub tier: StorageTier,
    pub objects: i64,
    pub bytes: i64,
}

impl Catalog {
    /// Records that the original of `id` was read at `now_ms`, unless a read
    /// within [`READ_RECORD_GRANULARITY_MS`] is already recorded. Returns
    /// whether a row changed.
    pub async fn record_original_read(&self, id: &PhotoId, now_ms: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE photos SET original_read_ms = $1
             WHERE id = $2 AND (original_read_ms IS NULL OR original_read_ms < $3)",
        )
        .bind(now_ms)
        .bind(id.as_str())
        .bind(now_ms - READ_RECORD_GRANULARITY_MS)
        .execute(&mut self.conn().await?)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Moves the row of `id` from tier state `from` to `to`; false when the
    /// row was not in `from` (another mover got there first) or the photo
    /// is deleted.
    pub async fn set_storage_tier(
        &self,
        id: &PhotoId,
        from: StorageTier,
        to: StorageTier,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE photos SET storage_tier = $1 WHERE id = $2 AND storage_tier = $3 AND deleted_ms IS NULL",
        )
            .bind(to.as_str())
            .bind(id.as_str())
            .bind(from.as_str())
            .execute(&mut self.conn().await?)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// What the tiering job has to do, in id order after `after`: live,
    /// processed originals in the hot tier not read (nor uploaded) since
    /// `read_before_ms`, and every half-done move, whatever its age.
    /// Photos still being processed are left hot: the processors read them.
    pub async fn tier_work_after(
        &self,
        read_before_ms: i64,
        after: Option<&PhotoId>,
        limit: i64,
    ) -> Result<Vec<Photo>> {
        let rows = sqlx::query(&format!(
            "{SELECT_PHOTO} WHERE p.deleted_ms IS NULL AND p.id > $1
                AND ((p.storage_tier = 'hot' AND p.status <> 'processing'
                      AND COALESCE(p.original_read_ms, p.created_ms) < $2)
                     OR p.storage_tier IN ('cold_leaving_hot', 'hot_leaving_cold'))
             ORDER BY p.id LIMIT $3"
        ))
        .bind(after.map_or("", |a| a.as_str()))
        .bind(read_before_ms)
        .bind(limit)
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter().map(Photo::from_row).collect()
    }

    /// How many live originals, and how many bytes, each tier state holds.
    pub async fn tier_totals(&self) -> Result<Vec<TierTotals>> {
        let rows = sqlx::query(
            "SELECT storage_tier, COUNT(*) AS objects, CAST(COALESCE(SUM(byte_size), 0) AS BIGINT) AS bytes
             FROM photos WHERE deleted_ms IS NULL GROUP BY storage_tier",
        )
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TierTotals {
                    tier: crate::parse(get::<String>(r, "storage_tier")?)?,
                    objects: get(r, "objects")?,
                    bytes: get(r, "bytes")?,
                })
            })
            .collect()
    }

    /// The owner's live photos whose original has this SHA-256 (lowercase
    /// hex), newest first: how the bulk uploader skips what is uploaded.
    pub async fn photos_with_content_hash(
        &self,
        owner: &UserId,
        sha256: &str,
    ) -> Result<Vec<Photo>> {
        let rows = sqlx::query(&format!(
            "{SELECT_PHOTO} WHERE p.owner_id = $1 AND p.content_hash = $2 AND p.deleted_ms IS NULL
             ORDER BY p.created_ms DESC, p.id DESC LIMIT 100"
        ))
        .bind(owner.as_str())
        .bind(sha256)
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter().map(Photo::from_row).collect()
    }
}
