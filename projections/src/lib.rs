//! Projections: derived stores rebuilt from the catalog, the source of truth.
//!
//! [`sync_search`] writes a photo's search document exactly as the catalog
//! says it should be *now* (upserted with its current access, or removed once
//! deleted). The search indexer calls it for every stream record, and the
//! API calls it synchronously after privacy changes so search reflects them
//! when the call returns. Because both always write the current state, and
//! the stream record of a change is always handled after that change
//! committed, the index converges whatever order the two run in.

use photostream_catalog::{Catalog, CatalogError, Photo};
use photostream_search::{SearchDoc, SearchError, SearchIndex};
use photostream_types::{PhotoId, UserId, Visibility};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// The search document for a catalog row and its viewer list.
pub fn search_doc(p: &Photo, viewers: Vec<UserId>) -> SearchDoc {
    SearchDoc {
        id: p.id.clone(),
        owner_id: p.owner_id.clone(),
        owner: p.owner.to_string(),
        album_id: p.album_id.to_string(),
        title: p.title.clone(),
        description: p.description.clone(),
        tags: p.metadata.tags.clone(),
        visibility: p.visibility,
        viewers,
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
    let photo = catalog.photo(id).await?;
    match photo.filter(|p| p.deleted_ms.is_none()) {
        None => {
            index.remove(id).await?;
            Ok(false)
        }
        Some(p) => {
            let viewers = if p.visibility == Visibility::Shared {
                catalog.viewers(&p.id).await?.into_iter().map(|(id, _)| id).collect()
            } else {
                Vec::new()
            };
            index.upsert(search_doc(&p, viewers)).await?;
            Ok(true)
        }
    }
}
