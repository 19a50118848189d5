//! The bridge from a catalog row to the pure access decision in
//! `photostream_types::acl`: the API's read paths and the notifier both
//! ask through it, so "who may see this photo" is spelled once.

use photostream_types::acl::PhotoAccess;
use photostream_types::{PhotoStatus, UserId, Visibility};

use crate::{Catalog, Photo, Result};

/// The access facts of a catalog row and its viewer list; `pending_item`:
/// whether the photo has a pending moderation item (only looked up for
/// moderators, the only callers it matters to).
pub fn access_of<'a>(
    photo: &'a Photo,
    viewers: &'a [UserId],
    pending_item: bool,
) -> PhotoAccess<'a> {
    PhotoAccess {
        owner: &photo.owner_id,
        visibility: photo.visibility,
        status: photo.status,
        deleted: photo.deleted_ms.is_some(),
        viewers,
        in_review: pending_item
            || matches!(
                photo.status,
                PhotoStatus::UnderReview | PhotoStatus::Rejected
            ),
    }
}

impl Catalog {
    /// The users `photo` is shared with, as access control needs them
    /// (empty unless it is `shared`, without a query).
    pub async fn viewer_ids(&self, photo: &Photo) -> Result<Vec<UserId>> {
        if photo.visibility != Visibility::Shared {
            return Ok(Vec::new());
        }
        Ok(self
            .viewers(&photo.id)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }
}
