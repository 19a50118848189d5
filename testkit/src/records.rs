//! Stream envelopes as the API writes them, for processors' tests.

use photostream_pipeline::{
    Envelope, PhotoChanged, PhotoDeleted, PhotoUploaded, PhotoViewed, Record,
};
use photostream_types::{PhotoId, UserId};

/// `PhotoUploaded` of a PNG original at `original_key`.
pub fn uploaded(photo: &PhotoId, owner: &UserId, original_key: &str) -> Envelope {
    Envelope::new(
        Record::PhotoUploaded(PhotoUploaded {
            photo_id: photo.clone(),
            owner_id: owner.clone(),
            original_key: original_key.into(),
            format: "png".into(),
            bytes: 1000,
            client_thumbnail_key: None,
            tags: vec![],
        }),
        None,
    )
}

/// `PhotoUpdated` of `photo`.
pub fn updated(photo: &PhotoId) -> Envelope {
    Envelope::new(
        Record::PhotoUpdated(PhotoChanged {
            photo_id: photo.clone(),
        }),
        None,
    )
}

/// `PhotoDeleted` of `photo`, whose files were `object_keys`.
pub fn deleted(photo: &PhotoId, object_keys: &[&str]) -> Envelope {
    Envelope::new(
        Record::PhotoDeleted(PhotoDeleted {
            photo_id: photo.clone(),
            object_keys: object_keys.iter().map(|k| k.to_string()).collect(),
        }),
        None,
    )
}

/// `PhotoViewed` of `photo` (owned by `owner`) by `viewer` (`None`: anonymous).
pub fn viewed(photo: &PhotoId, owner: &UserId, viewer: Option<&UserId>) -> Envelope {
    Envelope::new(
        Record::PhotoViewed(PhotoViewed {
            photo_id: photo.clone(),
            owner_id: owner.clone(),
            viewer_id: viewer.cloned(),
        }),
        None,
    )
}
