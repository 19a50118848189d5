//! Projections: derived stores rebuilt from the catalog, the source of truth,
//! and [`outbox_entry`], which turns a stream record into the outbox row
//! written in the same transaction as the change it describes.
//!
//! [`sync_search`] writes a photo's search document exactly as the catalog
//! says it should be *now* (upserted with its current access, or removed once
//! deleted). The search indexer calls it for every stream record, and the
//! API calls it synchronously after privacy changes so search reflects them
//! when the call returns. Because both always write the current state, and
//! the stream record of a change is always handled after that change
//! committed, the index converges whatever order the two run in.

use photostream_catalog::{Catalog, CatalogError, OutboxEntry, Photo};
use photostream_pipeline::{Envelope, Record, Topic};
use photostream_search::{IndexChange, SearchDoc, SearchError, SearchIndex};
use photostream_types::{PhotoId, PhotoStatus, UserId, Visibility};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// The outbox row that puts `record` on the photos topic once the
/// transaction it is written in commits.
pub fn outbox_entry(record: Record, request_id: Option<String>) -> OutboxEntry {
    let key = record.key();
    let envelope = Envelope::new(record, request_id);
    OutboxEntry::new(
        envelope.id.clone(),
        Topic::photos().as_str(),
        &key,
        serde_json::to_string(&envelope).expect("envelopes serialise"),
    )
}

/// The search document for a catalog row and its viewer list. A photo held
/// for review or rejected is indexed as private: only its owner finds it
/// (moderators search unrestricted), exactly as the ACL function decides.
pub fn search_doc(p: &Photo, viewers: Vec<UserId>) -> SearchDoc {
    let hidden = matches!(p.status, PhotoStatus::UnderReview | PhotoStatus::Rejected);
    SearchDoc {
        id: p.id.clone(),
        owner_id: p.owner_id.clone(),
        owner: p.owner.to_string(),
        album_id: p.album_id.to_string(),
        title: p.title.clone(),
        description: p.description.clone(),
        tags: p.metadata.tags.clone(),
        visibility: if hidden { Visibility::Private } else { p.visibility },
        viewers: if hidden { Vec::new() } else { viewers },
        created_ms: p.created_ms,
    }
}

/// Brings the index in line with the catalog for one photo. Returns whether
/// a live document was written (false: removed).
pub async fn sync_search(
    catalog: &Catalog,
    index: &dyn SearchIndex,
    id: &PhotoId,
) -> Result<bool, ProjectionError> {
    let live = sync_search_many(catalog, index, std::slice::from_ref(id)).await?;
    Ok(!live.is_empty())
}

/// [`sync_search`] for several photos in one index write (duplicates are
/// synced once). Returns the ids that have a live document now.
pub async fn sync_search_many(
    catalog: &Catalog,
    index: &dyn SearchIndex,
    ids: &[PhotoId],
) -> Result<Vec<PhotoId>, ProjectionError> {
    // One catalog query for the batch (deleted rows come back too).
    let photos = catalog.photos_by_ids(ids).await?;
    let mut changes = Vec::with_capacity(ids.len());
    let mut live = Vec::new();
    for id in ids {
        if changes.iter().any(|c: &IndexChange| c.id() == id) {
            continue;
        }
        match photos.iter().find(|p| p.id == *id && p.deleted_ms.is_none()) {
            None => changes.push(IndexChange::Remove(id.clone())),
            Some(p) => {
                let viewers = if p.visibility == Visibility::Shared {
                    catalog.viewers(&p.id).await?.into_iter().map(|(id, _)| id).collect()
                } else {
                    Vec::new()
                };
                live.push(p.id.clone());
                changes.push(IndexChange::Upsert(search_doc(p, viewers)));
            }
        }
    }
    if !changes.is_empty() {
        index.apply(changes).await?;
    }
    Ok(live)
}
