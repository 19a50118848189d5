//! A catalog row for the processors' unit tests of their pure parts.

use photostream_catalog::Photo;
use photostream_types::{
    AlbumId, AlbumName, PhotoId, PhotoMetadata, PhotoStatus, StorageTier, UserId, Username,
    Visibility,
};

/// A live, public, ready photo of a fresh owner (`alice`), titled `title`.
pub fn photo(title: &str) -> Photo {
    Photo {
        id: PhotoId::new(),
        owner_id: UserId::new(),
        owner: Username::parse("alice").expect("a valid name"),
        album_id: AlbumId::new(),
        album: AlbumName::default_album(),
        title: title.to_string(),
        description: String::new(),
        visibility: Visibility::Public,
        status: PhotoStatus::Ready,
        width: 640,
        height: 480,
        format: "png".into(),
        content_hash: "0".repeat(64),
        byte_size: 1000,
        file_name: "swans.png".into(),
        original_key: "alice/default/original/swans.png".into(),
        thumbnail_key: None,
        display_key: None,
        thumbnail_done: true,
        indexed: true,
        metadata: PhotoMetadata::default(),
        created_ms: 1,
        updated_ms: 1,
        ready_ms: Some(1),
        deleted_ms: None,
        acl_version: 1,
        moderated: true,
        phash: None,
        storage_tier: StorageTier::Hot,
        original_read_ms: None,
        watermark: false,
    }
}
