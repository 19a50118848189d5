//! Access control as the API applies it: the pure decision lives in
//! `photostream_types::acl` (shared with the processors); this adds the
//! bridge from a catalog row.

use photostream_catalog::Photo;
use photostream_types::{PhotoStatus, UserId};

pub use photostream_types::acl::{can_edit, can_fetch_original, can_view, PhotoAccess, Viewer};

/// The access facts of a catalog row and its viewer list; `pending_item`:
/// whether the photo has a pending moderation item (only looked up for
/// moderators, the only callers it matters to).
pub fn access_of<'a>(photo: &'a Photo, viewers: &'a [UserId], pending_item: bool) -> PhotoAccess<'a> {
    PhotoAccess {
        owner: &photo.owner_id,
        visibility: photo.visibility,
        status: photo.status,
        deleted: photo.deleted_ms.is_some(),
        viewers,
        in_review: pending_item || matches!(photo.status, PhotoStatus::UnderReview | PhotoStatus::Rejected),
    }
}
