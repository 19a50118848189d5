//! Purges a deleted photo's files and cached copies. The photo is invisible
//! from the moment the deletion commits (every read checks the catalog
//! first); this reclaims storage and cache, and the sweeper is the backstop
//! for anything missed.

use std::sync::Arc;

use async_trait::async_trait;
use object_store::{path::Path, ObjectStore};
use photostream_cache::BlobCache;
use photostream_pipeline::{Envelope, Record};
use tracing::info;

use crate::{ProcessError, Processor};

pub struct Purger {
    objects: Arc<dyn ObjectStore>,
    /// The cold store (`storage.cold`), where an original may have moved.
    cold: Option<Arc<dyn ObjectStore>>,
    cache: Arc<dyn BlobCache>,
}

impl Purger {
    pub fn new(objects: Arc<dyn ObjectStore>, cache: Arc<dyn BlobCache>) -> Self {
        Self {
            objects,
            cold: None,
            cache,
        }
    }

    /// Also deletes from the cold store (the record does not say which
    /// store holds the original, and a move may be half done: both go).
    pub fn with_cold_store(mut self, cold: Option<Arc<dyn ObjectStore>>) -> Self {
        self.cold = cold;
        self
    }
}

#[async_trait]
impl Processor for Purger {
    fn name(&self) -> &'static str {
        "purger"
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        let Record::PhotoDeleted(rec) = &envelope.record else {
            return Ok(());
        };
        for key in &rec.object_keys {
            let path = Path::parse(key).map_err(ProcessError::permanent)?;
            for store in std::iter::once(&self.objects).chain(self.cold.as_ref()) {
                match store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(ProcessError::transient(e)),
                }
            }
            self.cache.remove(key).await.map_err(ProcessError::transient)?;
        }
        info!(photo = %rec.photo_id, objects = rec.object_keys.len(), "purged deleted photo");
        Ok(())
    }
}
