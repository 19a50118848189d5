//! JSON shapes the API answers with.

use chrono::{SecondsFormat, TimeZone, Utc};
use photostream_catalog::Photo;
use photostream_types::{PhotoMetadata, PhotoStatus, Visibility};
use serde::Serialize;

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoUrls {
    /// `/media/…` URL of the thumbnail (signed unless public); null until it exists.
    pub thumbnail: Option<String>,
    /// `/media/…` URL of the original (signed unless public and originals
    /// are free); null when the caller may not fetch it: originals are for
    /// the owner and premium members (`GET /v1/photos/{id}/original` answers
    /// 402 `premium_required` to anyone else).
    pub original: Option<String>,
    /// `/media/…` URL of the display rendition (1024 px on the long edge;
    /// signed unless public); null until it exists.
    pub display: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoView {
    pub id: String,
    pub owner: String,
    pub album: String,
    pub title: String,
    pub description: String,
    pub visibility: Visibility,
    pub metadata: PhotoMetadata,
    pub status: PhotoStatus,
    /// Display size (after EXIF orientation).
    pub width: i64,
    pub height: i64,
    pub format: String,
    pub bytes: i64,
    pub file_name: String,
    pub created_at: String,
    /// Whether the display rendition carries the owner's mark (`© owner`).
    pub watermark: bool,
    pub urls: PhotoUrls,
}

impl PhotoView {
    /// Use `AppState::photo_view`, which signs the URLs.
    pub fn of(p: Photo, urls: PhotoUrls) -> Self {
        Self {
            urls,
            id: p.id.to_string(),
            owner: p.owner.to_string(),
            album: p.album.to_string(),
            title: p.title,
            description: p.description,
            visibility: p.visibility,
            metadata: p.metadata,
            status: p.status,
            width: p.width,
            height: p.height,
            format: p.format,
            bytes: p.byte_size,
            file_name: p.file_name,
            created_at: rfc3339(p.created_ms),
            watermark: p.watermark,
        }
    }
}
