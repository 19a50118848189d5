//! What a write does besides its catalog transaction: the outbox record it
//! commits with (the relay puts it on the stream), and the synchronous
//! search update that makes an access change visible when the call returns.

use photostream_catalog::OutboxEntry;
use photostream_pipeline::Record;
use photostream_types::PhotoId;

use crate::AppState;

/// The outbox row carrying `record`, keyed as the record says.
pub fn outbox_for(record: Record, request_id: Option<String>) -> OutboxEntry {
    photostream_projections::outbox_entry(record, request_id)
}

/// Rewrites the photo's search document from the catalog now, so search
/// reflects an access change when the call returns (and pages stay full).
/// The stream record of the change does the same again, so the index
/// converges even if this fails.
pub async fn reindex_now(st: &AppState, id: &PhotoId) {
    if let Err(e) = photostream_projections::sync_search(&st.catalog, st.search.as_ref(), id).await {
        // Hits are re-checked against the catalog, so nothing leaks meanwhile.
        tracing::warn!(photo = %id, error = %e, "synchronous search update failed");
    }
}
