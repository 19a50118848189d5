//! Keeps the search index in step with the catalog, one stream record at a
//! time. The document is built from the catalog row as it is now, not from
//! the record, so a redelivered or late record never writes stale data back.

use std::sync::Arc;

use async_trait::async_trait;
use photostream_catalog::Catalog;
use photostream_pipeline::{Envelope, Record};
use photostream_projections::sync_search;
use photostream_search::SearchIndex;

use crate::{ProcessError, Processor};

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
        let id = match &envelope.record {
            Record::PhotoUploaded(r) => &r.photo_id,
            Record::PhotoUpdated(r) | Record::PhotoModerated(r) => &r.photo_id,
            Record::PhotoDeleted(r) => &r.photo_id,
            _ => return Ok(()),
        };
        let live = sync_search(&self.catalog, self.index.as_ref(), id)
            .await
            .map_err(ProcessError::transient)?;
        if live {
            self.catalog.mark_indexed(id).await.map_err(ProcessError::transient)?;
        }
        Ok(())
    }
}
