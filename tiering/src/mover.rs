//! Performs [`next_step`](crate::next_step) against the stores and the catalog.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::path::Path;
use object_store::{PutMode, PutOptions};
use photostream_catalog::{Catalog, Photo};
use photostream_types::{now_ms, PhotoId, StorageTier};
use photostream_types::metric;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{next_step, sha256_hex, tiering_goal, Goal, Side, Step, TierError, Tiers};

/// Rows per page of the tiering job's work list.
const PAGE: i64 = 200;
/// Steps one move may take: a full move is two, and a move that meets
/// another mover re-reads the row and goes on from there.
const MAX_STEPS: usize = 8;

/// What one move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// The state the row ended in.
    pub tier: StorageTier,
    /// Bytes copied between the stores (0 when only a stale copy was deleted).
    pub bytes_copied: u64,
}

/// What one pass of the tiering job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub moved: u64,
    pub failed: u64,
    pub bytes: u64,
}

/// Moves originals between the hot and cold stores, keeping the catalog row
/// pointing at a verified copy throughout.
#[derive(Clone)]
pub struct Mover {
    catalog: Catalog,
    tiers: Tiers,
    /// Photos a move is running for in this process (rewarms triggered by
    /// many reads of one photo start one move).
    in_flight: Arc<Mutex<HashSet<PhotoId>>>,
}

impl Mover {
    pub fn new(catalog: Catalog, tiers: Tiers) -> Self {
        Self {
            catalog,
            tiers,
            in_flight: Arc::default(),
        }
    }

    pub fn tiers(&self) -> &Tiers {
        &self.tiers
    }

    /// Drives `photo`'s original towards `goal`, step by step, and returns
    /// where it ended. A compare-and-set that finds the row changed (another
    /// mover) re-reads the row and carries on from its state; a photo deleted
    /// meanwhile is left to the purger.
    pub async fn drive(&self, photo: &Photo, goal: Goal) -> Result<Moved, TierError> {
        let mut state = photo.storage_tier;
        let mut bytes_copied = 0;
        for _ in 0..MAX_STEPS {
            let (flipped, next) = match next_step(state, goal) {
                Step::Done => {
                    return Ok(Moved {
                        tier: state,
                        bytes_copied,
                    })
                }
                Step::CopyAndFlip { from, to, flip } => {
                    bytes_copied += self.copy_verified(photo, from, to).await?;
                    (
                        self.catalog
                            .set_storage_tier(&photo.id, flip.0, flip.1)
                            .await?,
                        flip.1,
                    )
                }
                Step::DeleteAndSettle { stale, settle } => {
                    self.delete(photo, stale).await?;
                    (
                        self.catalog
                            .set_storage_tier(&photo.id, settle.0, settle.1)
                            .await?,
                        settle.1,
                    )
                }
            };
            if flipped {
                state = next;
                continue;
            }
            match self.catalog.photo(&photo.id).await? {
                Some(now) if now.deleted_ms.is_none() => state = now.storage_tier,
                gone => {
                    // Deleted while moving: the purger removes what it knew
                    // of; a copy made here after it ran goes too.
                    for side in [Side::Hot, Side::Cold] {
                        if self.tiers.store(side).is_ok() {
                            self.delete(photo, side).await?;
                        }
                    }
                    return Ok(Moved {
                        tier: gone.map_or(state, |p| p.storage_tier),
                        bytes_copied,
                    });
                }
            }
        }
        warn!(photo = %photo.id, ?goal, "a tier move kept meeting other movers; leaving it for the next pass");
        Ok(Moved {
            tier: state,
            bytes_copied,
        })
    }

    /// Copies the original `from` → `to` and checks the copy. The source is
    /// checked too: a corrupt original is never spread to the other tier.
    async fn copy_verified(&self, photo: &Photo, from: Side, to: Side) -> Result<u64, TierError> {
        let key = Path::parse(&photo.original_key)?;
        let (src, dst) = (self.tiers.store(from)?, self.tiers.store(to)?);
        let bytes = src.get(&key).await?.bytes().await?;
        self.check(photo, &bytes, from)?;
        let len = bytes.len() as u64;
        // Overwrite: a copy left by an interrupted move is replaced whole
        // (puts are atomic in both backends: a rename, a single PUT).
        dst.put_opts(&key, bytes.into(), PutOptions::from(PutMode::Overwrite))
            .await?;
        let back = dst.get(&key).await?.bytes().await?;
        self.check(photo, &back, to)?;
        metric::TIER_MOVED_BYTES_TOTAL.with([to.as_str()]).increment(len);
        Ok(len)
    }

    fn check(&self, photo: &Photo, bytes: &[u8], side: Side) -> Result<(), TierError> {
        let found = sha256_hex(bytes);
        if found != photo.content_hash {
            return Err(TierError::Checksum {
                key: photo.original_key.clone(),
                store: side.as_str(),
                expected: photo.content_hash.clone(),
                found,
            });
        }
        Ok(())
    }

    async fn delete(&self, photo: &Photo, side: Side) -> Result<(), TierError> {
        let key = Path::parse(&photo.original_key)?;
        match self.tiers.store(side)?.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Brings a cold original back to the hot store in the background (the
    /// read that asked is served from the cold copy meanwhile); one move per
    /// photo at a time in this process.
    pub fn rewarm_in_background(&self, photo: Photo) {
        if !self
            .in_flight
            .lock()
            .expect("in-flight set")
            .insert(photo.id.clone())
        {
            return;
        }
        let mover = self.clone();
        tokio::spawn(async move {
            let outcome = mover.drive(&photo, Goal::Hot).await;
            mover
                .in_flight
                .lock()
                .expect("in-flight set")
                .remove(&photo.id);
            match outcome {
                Ok(m) => {
                    metric::TIER_MOVES_TOTAL.with(["hot", "moved"]).increment(1);
                    info!(photo = %photo.id, tier = %m.tier, "rewarmed an original on read");
                }
                Err(e) => {
                    metric::TIER_MOVES_TOTAL.with(["hot", "failed"]).increment(1);
                    warn!(photo = %photo.id, error = %e, "rewarming an original failed; it stays cold");
                }
            }
        });
    }

    /// How many rows a pass with this cut-off has to work on.
    pub async fn pending(&self, older_than: Duration) -> Result<i64, TierError> {
        let mut n = 0;
        let mut after: Option<PhotoId> = None;
        let cutoff = cutoff(older_than);
        loop {
            let page = self
                .catalog
                .tier_work_after(cutoff, after.as_ref(), 1000)
                .await?;
            let Some(last) = page.last() else {
                return Ok(n);
            };
            after = Some(last.id.clone());
            n += page.len() as i64;
        }
    }

    /// One pass of the tiering job: every original in the hot tier not read
    /// for `older_than` goes cold, and every half-done move is finished.
    /// `on_photo` hears of each photo handled (for progress). Stops early,
    /// between photos, when `cancel` fires. Failures are counted and logged,
    /// not fatal: the next pass tries them again.
    pub async fn pass(
        &self,
        older_than: Duration,
        cancel: &CancellationToken,
        mut on_photo: impl FnMut(&Photo, &Result<Moved, TierError>),
    ) -> Result<PassReport, TierError> {
        self.tiers.store(Side::Cold)?;
        let cutoff = cutoff(older_than);
        let mut report = PassReport::default();
        let mut after: Option<PhotoId> = None;
        loop {
            let page = self
                .catalog
                .tier_work_after(cutoff, after.as_ref(), PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for photo in &page {
                if cancel.is_cancelled() {
                    return Ok(report);
                }
                let goal = tiering_goal(photo.storage_tier);
                let to = if goal == Goal::Cold { "cold" } else { "hot" };
                let result = self.drive(photo, goal).await;
                match &result {
                    Ok(m) => {
                        report.moved += 1;
                        report.bytes += m.bytes_copied;
                        metric::TIER_MOVES_TOTAL.with([to, "moved"]).increment(1);
                    }
                    Err(e) => {
                        report.failed += 1;
                        metric::TIER_MOVES_TOTAL.with([to, "failed"]).increment(1);
                        warn!(photo = %photo.id, error = %e, "moving an original between tiers failed; the next pass retries");
                    }
                }
                on_photo(photo, &result);
            }
        }
        if let Err(e) = crate::report_totals(&self.catalog).await {
            warn!(error = %e, "reading the per-tier totals failed");
        }
        Ok(report)
    }

    /// The background job: a pass every `every`, until `cancel` fires.
    pub async fn run(self, older_than: Duration, every: Duration, cancel: CancellationToken) {
        loop {
            match self.pass(older_than, &cancel, |_, _| {}).await {
                Ok(r) if r.moved + r.failed > 0 => {
                    info!(
                        moved = r.moved,
                        failed = r.failed,
                        bytes = r.bytes,
                        "tiering pass finished"
                    )
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "tiering pass failed; will retry"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// Originals last read (or uploaded) before this moment are cold candidates.
fn cutoff(older_than: Duration) -> i64 {
    now_ms().saturating_sub(older_than.as_millis().min(i64::MAX as u128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;
    use object_store::ObjectStore;

    async fn read(store: &Arc<dyn ObjectStore>, key: &str) -> Vec<u8> {
        store.get(&Path::from(key)).await.unwrap().bytes().await.unwrap().to_vec()
    }

    /// A store-level round trip on the embedded catalog: cold, then hot.
    #[tokio::test]
    async fn moves_down_and_back_with_one_copy_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = |name: &str| -> Arc<dyn ObjectStore> {
            let root = dir.path().join(name);
            std::fs::create_dir_all(&root).unwrap();
            Arc::new(LocalFileSystem::new_with_prefix(root).unwrap())
        };
        let (hot, cold) = (store("hot"), store("cold"));
        let catalog = Catalog::connect(&format!("sqlite://{}", dir.path().join("c.db").display()))
            .await
            .unwrap();
        let user = catalog
            .create_user(&photostream_types::Username::parse("tia").unwrap(), "h")
            .await
            .unwrap();
        let album = catalog
            .ensure_album(&user.id, &photostream_types::AlbumName::default_album())
            .await
            .unwrap();
        let bytes = b"not really a picture".to_vec();
        let key = "tia/default/original/x.png";
        hot.put(&Path::from(key), bytes.clone().into())
            .await
            .unwrap();
        let new = photostream_catalog::NewPhoto {
            id: PhotoId::new(),
            owner_id: user.id.clone(),
            album_id: album.id,
            title: String::new(),
            description: String::new(),
            visibility: photostream_types::Visibility::Public,
            width: 1,
            height: 1,
            format: "png".into(),
            content_hash: sha256_hex(&bytes),
            byte_size: bytes.len() as i64,
            file_name: "x.png".into(),
            file_stem: "x".into(),
            original_key: key.into(),
            thumbnail_key: None,
            metadata: Default::default(),
            viewers: vec![],
            watermark: false,
        };
        let outbox = photostream_catalog::OutboxEntry::new(
            photostream_types::EventId::new(),
            "photos",
            "k",
            "{}".into(),
        );
        let photo = catalog.insert_photo(&new, &outbox).await.unwrap();
        let mover = Mover::new(catalog.clone(), Tiers::new(hot.clone(), Some(cold.clone())));

        let moved = mover.drive(&photo, Goal::Cold).await.unwrap();
        assert_eq!(
            moved,
            Moved {
                tier: StorageTier::Cold,
                bytes_copied: bytes.len() as u64
            }
        );
        assert!(hot.head(&Path::from(key)).await.is_err());
        assert_eq!(read(&cold, key).await, bytes);

        let photo = catalog.photo(&photo.id).await.unwrap().unwrap();
        assert_eq!(
            mover.drive(&photo, Goal::Hot).await.unwrap().tier,
            StorageTier::Hot
        );
        assert!(cold.head(&Path::from(key)).await.is_err());
        assert_eq!(read(&hot, key).await, bytes);

        // A corrupt source is refused, and the row stays where it was.
        hot.put(&Path::from(key), b"bit rot".to_vec().into())
            .await
            .unwrap();
        let photo = catalog.photo(&photo.id).await.unwrap().unwrap();
        assert!(matches!(
            mover.drive(&photo, Goal::Cold).await,
            Err(TierError::Checksum { .. })
        ));
        assert_eq!(
            catalog
                .photo(&photo.id)
                .await
                .unwrap()
                .unwrap()
                .storage_tier,
            StorageTier::Hot
        );
    }
}
