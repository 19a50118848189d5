//! Keeps the search index in step with the catalog. The document is built
//! from the catalog row as it is now, not from the record, so a redelivered
//! or late record never writes stale data back. Records are taken in
//! batches of what the stream has ready (no waiting to fill one), and each
//! batch is one index write: an engine commit per document would cap the
//! indexer far below the upload rate.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use photostream_catalog::Catalog;
use photostream_pipeline::{Envelope, Record};
use photostream_projections::sync_search_many;
use photostream_search::SearchIndex;

use photostream_types::PhotoId;

use crate::{ProcessError, Processor};

/// Records per index write, at most.
const BATCH: usize = 500;

pub struct SearchIndexer {
    catalog: Catalog,
    index: Arc<dyn SearchIndex>,
}

impl SearchIndexer {
    pub fn new(catalog: Catalog, index: Arc<dyn SearchIndex>) -> Self {
        Self { catalog, index }
    }
}

#[async_trait]
impl Processor for SearchIndexer {
    fn name(&self) -> &'static str {
        "search-indexer"
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        self.handle_batch(std::slice::from_ref(envelope)).await
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    fn batch_wait(&self, _default: Duration) -> Duration {
        // Take what is already there; a lone upload is not held back.
        Duration::from_millis(2)
    }

    async fn handle_batch(&self, envelopes: &[Envelope]) -> Result<(), ProcessError> {
        let ids: Vec<PhotoId> = envelopes
            .iter()
            .filter_map(|e| match &e.record {
                Record::PhotoUploaded(r) => Some(r.photo_id.clone()),
                Record::PhotoUpdated(r) | Record::PhotoModerated(r) => Some(r.photo_id.clone()),
                Record::PhotoDeleted(r) => Some(r.photo_id.clone()),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let live = sync_search_many(&self.catalog, self.index.as_ref(), &ids)
            .await
            .map_err(ProcessError::transient)?;
        self.catalog.mark_indexed_many(&live).await.map_err(ProcessError::transient)?;
        Ok(())
    }
}
