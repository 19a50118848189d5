//! Keeps the search index in step with the catalog. The document is built
//! from the catalog row as it is now, not from the record, so a redelivered
//! or late record never writes stale data back. Records are taken in
//! batches of what the stream has ready, and each batch is one index
//! write: an engine commit per document would cap the indexer far below the
//! upload rate. Writes are paced: a batch waits to fill until
//! [`MIN_WRITE_INTERVAL`] has passed since the last write, so a lone upload
//! is not held back while a trickle (10 uploads/s) costs at most two
//! commits, new segments and merges a second instead of one per upload
//! (tantivy's commits and merges were 10-15 % of the server's CPU at
//! 1,000 reads/s with 10 uploads/s alongside; at four a second, 19 %).
//! A new photo's search document, and so its `ready`, waits at most that
//! long behind the previous write.

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

/// Index writes are at least this far apart while records keep coming.
pub const MIN_WRITE_INTERVAL: Duration = Duration::from_millis(500);

/// How long a batch waits for more records, given the time since the last
/// write: what is already there when the last write is long past, else
/// until the interval is up.
fn collect_for(since_last_write: Option<Duration>) -> Duration {
    let take_what_is_there = Duration::from_millis(2);
    since_last_write.map_or(take_what_is_there, |since| MIN_WRITE_INTERVAL.saturating_sub(since).max(take_what_is_there))
}

pub struct SearchIndexer {
    catalog: Catalog,
    index: Arc<dyn SearchIndex>,
    last_write: std::sync::Mutex<Option<std::time::Instant>>,
}

impl SearchIndexer {
    pub fn new(catalog: Catalog, index: Arc<dyn SearchIndex>) -> Self {
        Self { catalog, index, last_write: std::sync::Mutex::new(None) }
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
        collect_for(self.last_write.lock().expect("indexer clock").map(|t| t.elapsed()))
    }

    async fn handle_batch(&self, envelopes: &[Envelope]) -> Result<(), ProcessError> {
        let ids: Vec<PhotoId> = envelopes.iter().filter_map(photo_to_reindex).collect();
        if ids.is_empty() {
            return Ok(());
        }
        *self.last_write.lock().expect("indexer clock") = Some(std::time::Instant::now());
        let live = sync_search_many(&self.catalog, self.index.as_ref(), &ids)
            .await
            .map_err(ProcessError::transient)?;
        self.catalog.mark_indexed_many(&live).await.map_err(ProcessError::transient)?;
        Ok(())
    }
}

/// The photo whose search document a record may change: uploads, edits,
/// moderation verdicts and deletions (the document is rebuilt, or removed,
/// from the catalog row).
fn photo_to_reindex(envelope: &Envelope) -> Option<PhotoId> {
    match &envelope.record {
        Record::PhotoUploaded(r) => Some(r.photo_id.clone()),
        Record::PhotoUpdated(r) | Record::PhotoModerated(r) => Some(r.photo_id.clone()),
        Record::PhotoDeleted(r) => Some(r.photo_id.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use photostream_pipeline::{Followed, PhotoChanged};
    use photostream_testkit::records;
    use photostream_types::UserId;

    use super::*;

    #[test]
    fn photo_records_reindex_their_photo_and_social_records_nothing() {
        let id = PhotoId::new();
        let changed = PhotoChanged { photo_id: id.clone() };
        for envelope in [
            records::uploaded(&id, &UserId::new(), "alice/default/original/swans.png"),
            records::updated(&id),
            Envelope::new(Record::PhotoModerated(changed), None),
            records::deleted(&id, &[]),
        ] {
            assert_eq!(photo_to_reindex(&envelope), Some(id.clone()));
        }
        let followed = Record::Followed(Followed { follower_id: UserId::new(), followee_id: UserId::new() });
        assert_eq!(photo_to_reindex(&Envelope::new(followed, None)), None);
        assert_eq!(photo_to_reindex(&Envelope::new(Record::Unknown, None)), None);
    }

    #[test]
    fn writes_are_paced_but_a_lone_record_is_not_held_back() {
        let now = Duration::from_millis(2);
        assert_eq!(collect_for(None), now, "the first write takes what is there");
        assert_eq!(collect_for(Some(Duration::from_secs(5))), now, "long after a write: no wait");
        assert_eq!(collect_for(Some(MIN_WRITE_INTERVAL)), now);
        assert_eq!(collect_for(Some(Duration::from_millis(50))), MIN_WRITE_INTERVAL - Duration::from_millis(50));
        assert_eq!(collect_for(Some(Duration::ZERO)), MIN_WRITE_INTERVAL, "right after a write: wait out the interval");
    }
}
