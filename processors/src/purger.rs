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

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::PutPayload;
    use photostream_cache::MemoryBlobCache;
    use photostream_types::PhotoId;

    use super::*;

    const KEYS: [&str; 2] = ["alice/default/original/swans.png", "alice/default/thumbnail/swans_thumbnail.png"];

    async fn stored(store: &InMemory, key: &str) -> bool {
        store.head(&Path::from(key)).await.is_ok()
    }

    fn deleted(keys: &[&str]) -> Envelope {
        photostream_testkit::records::deleted(&PhotoId::new(), keys)
    }

    #[tokio::test]
    async fn a_deletion_removes_every_key_from_both_stores_and_the_cache() {
        let (hot, cold) = (Arc::new(InMemory::new()), Arc::new(InMemory::new()));
        let cache = Arc::new(MemoryBlobCache::new(1 << 20));
        for key in KEYS {
            hot.put(&Path::from(key), PutPayload::from_static(b"x")).await.unwrap();
            cache.put(key, bytes::Bytes::from_static(b"x")).await.unwrap();
        }
        // The original had moved to the cold store.
        cold.put(&Path::from(KEYS[0]), PutPayload::from_static(b"x")).await.unwrap();
        let purger = Purger::new(hot.clone(), cache.clone()).with_cold_store(Some(cold.clone() as Arc<dyn ObjectStore>));
        purger.handle(&deleted(&KEYS)).await.unwrap();
        for key in KEYS {
            assert!(!stored(&hot, key).await && !stored(&cold, key).await, "{key} left behind");
            assert_eq!(cache.get(key).await.unwrap(), None, "{key} still cached");
        }
        // Handling the record again (a redelivery) finds nothing and is fine.
        purger.handle(&deleted(&KEYS)).await.unwrap();
    }

    #[tokio::test]
    async fn other_records_touch_nothing() {
        let hot = Arc::new(InMemory::new());
        hot.put(&Path::from(KEYS[0]), PutPayload::from_static(b"x")).await.unwrap();
        let purger = Purger::new(hot.clone(), Arc::new(MemoryBlobCache::new(1 << 20)));
        purger.handle(&photostream_testkit::records::updated(&PhotoId::new())).await.unwrap();
        assert!(stored(&hot, KEYS[0]).await);
    }

    #[tokio::test]
    async fn a_key_that_is_not_a_path_is_a_permanent_failure() {
        let purger = Purger::new(Arc::new(InMemory::new()), Arc::new(MemoryBlobCache::new(1 << 20)));
        let err = purger.handle(&deleted(&["alice//../x"])).await.unwrap_err();
        assert!(matches!(err, ProcessError::Permanent(_)), "{err:?}");
    }
}
