//! JSON shapes the API answers with, and how a photo becomes one for a
//! caller: its file URLs, plain when public, otherwise signed.

use chrono::{SecondsFormat, TimeZone, Utc};
use photostream_catalog::Photo;
use photostream_types::{PhotoMetadata, PhotoStatus, UserId, Visibility};
use serde::Serialize;

use crate::auth::Caller;
use crate::AppState;

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

impl AppState {
    /// Whether a photo's files may be served to anyone, unsigned and cached
    /// publicly (a CDN may hold them).
    pub fn is_public(photo: &Photo) -> bool {
        photo.visibility == Visibility::Public
            && photo.status == PhotoStatus::Ready
            && photo.deleted_ms.is_none()
    }

    /// `/media/…` URL of an object of `photo`: plain when public, otherwise
    /// signed for `viewer` (whose download slot a signed original holds).
    pub fn media_url(&self, photo: &Photo, key: &str, viewer: Option<&UserId>) -> String {
        if Self::is_public(photo) {
            format!("/media/{key}")
        } else {
            self.signed_media_url(photo, key, viewer)
        }
    }

    fn signed_media_url(&self, photo: &Photo, key: &str, viewer: Option<&UserId>) -> String {
        let query = self.signer.sign(key, photo.acl_version, viewer.map(|u| u.as_str()), photostream_types::now_ms() / 1000);
        format!("/media/{key}?{query}")
    }

    /// `/media/…` URL of the original, for a viewer who may fetch it. While
    /// originals are gated it is signed even for public photos: the
    /// signature names who may fetch it (a link followed without the bearer
    /// token still works for them), and no shared cache keeps a copy.
    pub fn original_url(&self, photo: &Photo, viewer: Option<&UserId>) -> String {
        if self.config.free_originals {
            self.media_url(photo, &photo.original_key, viewer)
        } else {
            self.signed_media_url(photo, &photo.original_key, viewer)
        }
    }

    /// Whether `caller`, who may see `photo`, may fetch its original
    /// (`acl::can_fetch_original`); `pending_review`: whether the photo has
    /// a pending moderation item (looked up only for moderators).
    pub fn original_allowed(&self, caller: &Caller, photo: &Photo, pending_review: bool) -> bool {
        let access = photostream_catalog::access_of(photo, &[], pending_review);
        let premium = caller.user().is_some_and(|u| u.premium);
        photostream_types::acl::can_fetch_original(&caller.viewer(), premium, &access, self.config.free_originals)
    }

    /// The JSON view of a photo `caller` may see, with its file URLs (the
    /// original's only when they may fetch it).
    pub fn photo_view(&self, photo: Photo, caller: &Caller) -> PhotoView {
        let original = self.original_allowed(caller, &photo, false);
        self.photo_view_as(photo, caller.user_id(), original)
    }

    /// The JSON view of a photo for `viewer`, with the original's URL when
    /// `original` says they may fetch it.
    pub fn photo_view_as(&self, photo: Photo, viewer: Option<&UserId>, original: bool) -> PhotoView {
        let urls = PhotoUrls {
            thumbnail: photo
                .thumbnail_key
                .as_ref()
                .filter(|_| photo.thumbnail_done)
                .map(|k| self.media_url(&photo, k, viewer)),
            original: original.then(|| self.original_url(&photo, viewer)),
            display: photo.display_key.as_ref().map(|k| self.media_url(&photo, k, viewer)),
        };
        PhotoView::of(photo, urls)
    }
}
