//! Access control as the API applies it: the pure decision lives in
//! `photostream_types::acl` (shared with the processors); this adds the
//! bridge from a catalog row.

use photostream_catalog::Photo;
use photostream_types::UserId;

pub use photostream_types::acl::{can_edit, can_view, PhotoAccess, Viewer};

/// The access facts of a catalog row and its viewer list.
pub fn access_of<'a>(photo: &'a Photo, viewers: &'a [UserId]) -> PhotoAccess<'a> {
    PhotoAccess {
        owner: &photo.owner_id,
        visibility: photo.visibility,
        status: photo.status,
        deleted: photo.deleted_ms.is_some(),
        viewers,
    }
}
