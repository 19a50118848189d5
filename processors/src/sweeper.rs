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
