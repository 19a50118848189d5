//! Keeps the search index in step with the catalog.
//!
//! The document is built from the catalog row as it is now, not from the
//! record, so a redelivered or late record never writes stale data back.

use std::sync::Arc;

use async_trait::async_trait;
use photostream_catalog::{Catalog, Photo};
use photostream_pipeline::{Envelope, Record};
use photostream_search::{SearchDoc, SearchIndex};

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

/// The search document for a catalog row.
pub fn search_doc(p: &Photo) -> SearchDoc {
    SearchDoc {
        id: p.id.clone(),
        owner_id: p.owner_id.clone(),
        owner: p.owner.to_string(),
        title: p.title.clone(),
        description: p.description.clone(),
        tags: p.metadata.tags.clone(),
        visibility: p.visibility,
        viewers: Vec::new(),
        created_ms: p.created_ms,
    }
}

#[async_trait]
impl Processor for SearchIndexer {
    fn name(&self) -> &'static str {
        "search-indexer"
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        let Record::PhotoUploaded(rec) = &envelope.record else {
            return Ok(());
        };
        let photo = self.catalog.photo(&rec.photo_id).await.map_err(ProcessError::transient)?;
        match photo.filter(|p| p.deleted_ms.is_none()) {
            None => self.index.remove(&rec.photo_id).await.map_err(ProcessError::transient),
            Some(p) => {
                self.index.upsert(search_doc(&p)).await.map_err(ProcessError::transient)?;
                self.catalog.mark_indexed(&p.id).await.map_err(ProcessError::transient)
            }
        }
    }
}
