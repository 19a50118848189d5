//! Removes orphan blobs: objects no catalog row refers to.
//!
//! The upload path stores the original before committing its row, so a crash
//! (or a refused commit) in between leaves a blob nobody owns. Objects
//! younger than the grace period are left alone: their upload may still be
//! committing.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::ObjectStore;
use photostream_catalog::Catalog;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub struct OrphanSweeper {
    catalog: Catalog,
    objects: Arc<dyn ObjectStore>,
    pub grace: Duration,
    pub every: Duration,
}

impl OrphanSweeper {
    pub fn new(catalog: Catalog, objects: Arc<dyn ObjectStore>) -> Self {
        Self {
            catalog,
            objects,
            grace: Duration::from_secs(3600),
            every: Duration::from_secs(3600),
        }
    }

    /// One pass over every object; returns how many were removed.
    pub async fn sweep_once(&self) -> anyhow::Result<usize> {
        let cutoff = chrono_cutoff(self.grace);
        let mut listing = self.objects.list(None);
        let mut removed = 0;
        while let Some(meta) = listing.try_next().await? {
            if meta.last_modified.timestamp_millis() > cutoff {
                continue;
            }
            if !self.catalog.object_key_in_use(meta.location.as_ref()).await? {
                self.objects.delete(&meta.location).await?;
                removed += 1;
                info!(key = %meta.location, "removed orphan object");
            }
        }
        Ok(removed)
    }

    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.every) => {}
            }
            if let Err(e) = self.sweep_once().await {
                warn!(error = %format!("{e:#}"), "orphan sweep failed");
            }
        }
    }
}

fn chrono_cutoff(grace: Duration) -> i64 {
    photostream_types::now_ms() - grace.as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{local::LocalFileSystem, path::Path, PutPayload};
    use photostream_catalog::{NewPhoto, OutboxEntry};
    use photostream_types::{AlbumName, EventId, PhotoId, PhotoMetadata, Username, Visibility};

    #[tokio::test]
    async fn removes_only_old_objects_no_live_photo_refers_to() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("objects")).unwrap();
        let objects: Arc<dyn ObjectStore> =
            Arc::new(LocalFileSystem::new_with_prefix(dir.path().join("objects")).unwrap());
        let catalog = Catalog::connect(&format!("sqlite://{}", dir.path().join("c.db").display()))
            .await
            .unwrap();
        let user = catalog.create_user(&Username::parse("alice").unwrap(), "h").await.unwrap();
        let album = catalog.ensure_album(&user.id, &AlbumName::default_album()).await.unwrap();
        let photo = |stem: &str| NewPhoto {
            id: PhotoId::new(),
            owner_id: user.id.clone(),
            album_id: album.id.clone(),
            title: String::new(),
            description: String::new(),
            visibility: Visibility::Public,
            width: 1,
            height: 1,
            format: "png".into(),
            content_hash: "0".into(),
            byte_size: 1,
            file_name: format!("{stem}.png"),
            file_stem: stem.into(),
            original_key: format!("alice/default/original/{stem}.png"),
            thumbnail_key: None,
            metadata: PhotoMetadata::default(),
            viewers: vec![],
            watermark: false,
        };
        let outbox = || OutboxEntry::new(EventId::new(), "photos", "k", "{}".into());
        let live = photo("live");
        catalog.insert_photo(&live, &outbox()).await.unwrap();
        let gone = photo("gone");
        catalog.insert_photo(&gone, &outbox()).await.unwrap();
        catalog.delete_photo(&gone.id, &outbox()).await.unwrap();
        for key in ["live", "gone", "orphan"] {
            let path = Path::parse(format!("alice/default/original/{key}.png")).unwrap();
            objects.put(&path, PutPayload::from_static(b"x")).await.unwrap();
        }

        let mut sweeper = OrphanSweeper::new(catalog.clone(), objects.clone());
        // Everything is younger than the default grace period: nothing goes.
        assert_eq!(sweeper.sweep_once().await.unwrap(), 0);
        sweeper.grace = Duration::ZERO;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(sweeper.sweep_once().await.unwrap(), 2, "the orphan and the deleted photo's file");
        let left: Vec<_> = objects.list(None).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
        assert_eq!(left, vec!["alice/default/original/live.png".to_string()]);
    }
}
