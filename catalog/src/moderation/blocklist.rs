//! The perceptual-hash blocklist: hashes of rejected photos whose
//! look-alikes are refused at upload.

use photostream_types::PhotoId;

use crate::parse;
use crate::{get, Catalog, Result};

/// One change to the perceptual-hash blocklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistChange {
    pub hash: u64,
    pub photo: PhotoId,
    pub changed_ms: i64,
    /// False when the block was reversed.
    pub blocked: bool,
}

impl Catalog {
    /// Blocklist changes at or after `since_ms`, oldest first: each hash,
    /// the photo it came from, when it changed, and whether it is blocked
    /// (false: the block was reversed).
    pub async fn blocklist_since(&self, since_ms: i64) -> Result<Vec<BlocklistChange>> {
        let rows = sqlx::query(
            "SELECT hash, photo_id, updated_ms, removed_ms FROM phash_blocklist WHERE updated_ms >= $1 ORDER BY updated_ms",
        )
        .bind(since_ms)
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BlocklistChange {
                    hash: get::<i64>(r, "hash")? as u64,
                    photo: parse(get::<String>(r, "photo_id")?)?,
                    changed_ms: get(r, "updated_ms")?,
                    blocked: get::<Option<i64>>(r, "removed_ms")?.is_none(),
                })
            })
            .collect()
    }

    /// Stores a photo's perceptual hash (computed late, for photos from
    /// before moderation).
    pub async fn set_phash(&self, photo: &PhotoId, hash: u64) -> Result<()> {
        sqlx::query("UPDATE photos SET phash = $1 WHERE id = $2")
            .bind(hash as i64)
            .bind(photo.as_str())
            .execute(&mut self.conn().await?)
            .await?;
        Ok(())
    }
}
