//! Makes the renditions of each new photo from one decode of its original:
//! the 50 px wide, upright thumbnail, stored at
//! `{user}/{album}/thumbnail/{stem}_thumbnail.{ext}` (a verified client-made
//! thumbnail stored at upload time is kept instead), and the display
//! rendition, 1024 px on the long edge (never upscaled), upright, JPEG
//! without metadata, at `{user}/{album}/display/{stem}_display.jpg`.
//!
//! The display rendition is stored and marked before the thumbnail, so a
//! photo that becomes `ready` through its thumbnail has both; a photo that
//! came with a client thumbnail gets its display rendition shortly after.

use std::sync::Arc;

use async_trait::async_trait;
use object_store::{path::Path, ObjectStore, PutPayload};
use photostream_catalog::{Catalog, Photo};
use photostream_media::{Limits, MediaError};
use photostream_pipeline::{Envelope, Record};
use tracing::info;

use crate::{object_key, ProcessError, Processor};

pub struct Thumbnailer {
    catalog: Catalog,
    objects: Arc<dyn ObjectStore>,
    width: u32,
    limits: Limits,
}

/// The display rendition's long edge, in pixels (API.md).
pub const DISPLAY_LONG_EDGE: u32 = 1024;

impl Thumbnailer {
    pub fn new(catalog: Catalog, objects: Arc<dyn ObjectStore>, width: u32, limits: Limits) -> Self {
        Self {
            catalog,
            objects,
            width,
            limits,
        }
    }
}

/// `swans.png` → `swans_thumbnail.png` (with the thumbnail's own extension).
pub fn thumbnail_file_name(original_file: &str, ext: &str) -> String {
    let stem = original_file.rsplit_once('.').map_or(original_file, |(s, _)| s);
    format!("{stem}_thumbnail.{ext}")
}

#[async_trait]
impl Processor for Thumbnailer {
    fn name(&self) -> &'static str {
        "thumbnailer"
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        let Record::PhotoUploaded(rec) = &envelope.record else {
            return Ok(());
        };
        let photo = self.catalog.photo(&rec.photo_id).await.map_err(ProcessError::transient)?;
        let Some(photo) = photo.filter(|p| p.deleted_ms.is_none()) else {
            return Ok(());
        };
        // A verified client thumbnail is kept (the upload marked it); the
        // display rendition is made in any case.
        let need_thumbnail = !photo.thumbnail_done && rec.client_thumbnail_key.is_none();
        if photo.display_key.is_none() || need_thumbnail {
            self.make(&photo, need_thumbnail).await?;
        }
        if let (false, Some(key)) = (photo.thumbnail_done, &rec.client_thumbnail_key) {
            self.catalog.mark_thumbnail_done(&photo.id, key).await.map_err(ProcessError::transient)?;
        }
        Ok(())
    }
}

impl Thumbnailer {
    /// Makes and stores both renditions of `photo` from its original and
    /// marks the catalog row; returns the thumbnail's key. Used by
    /// `photostream rethumb`.
    pub async fn render(&self, photo: &Photo) -> Result<String, ProcessError> {
        self.make(photo, true).await?.ok_or_else(|| ProcessError::permanent(anyhow::anyhow!("no thumbnail made")))
    }

    /// Makes the display rendition and, if `with_thumbnail`, the thumbnail,
    /// from one decode; stores and marks them (display first). Returns the
    /// thumbnail's key when one was made.
    async fn make(&self, photo: &Photo, with_thumbnail: bool) -> Result<Option<String>, ProcessError> {
        let original = Path::parse(&photo.original_key).map_err(ProcessError::permanent)?;
        let bytes = self
            .objects
            .get(&original)
            .await
            .map_err(ProcessError::transient)?
            .bytes()
            .await
            .map_err(ProcessError::transient)?;
        let (width, limits) = (self.width, self.limits);
        let started = std::time::Instant::now();
        let (display, thumb) = tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
            let probe = photostream_media::probe(&bytes, &limits)?;
            photostream_media::renditions(&bytes, &probe, DISPLAY_LONG_EDGE, with_thumbnail.then_some(width), &limits)
        })
        .await
        .map_err(ProcessError::transient)?
        .map_err(ProcessError::permanent)?;
        // Next to the original, whatever album the photo is in now.
        let unexpected = || ProcessError::permanent(anyhow::anyhow!("unexpected original key {}", photo.original_key));
        let display_key = display_key_for(&photo.original_key).ok_or_else(unexpected)?;
        self.put(&display_key, display.bytes).await?;
        self.catalog.mark_display_done(&photo.id, &display_key).await.map_err(ProcessError::transient)?;
        let Some(thumb) = thumb else {
            info!(photo = %photo.id, display_key, ms = started.elapsed().as_millis() as u64, "display rendition stored");
            return Ok(None);
        };
        let key = thumbnail_key_for(&photo.original_key, thumb.ext).ok_or_else(unexpected)?;
        self.put(&key, thumb.bytes).await?;
        self.catalog
            .mark_thumbnail_done(&photo.id, &key)
            .await
            .map_err(ProcessError::transient)?;
        info!(photo = %photo.id, key, display_key, ms = started.elapsed().as_millis() as u64, "renditions stored");
        Ok(Some(key))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ProcessError> {
        let path = Path::parse(key).map_err(ProcessError::permanent)?;
        self.objects.put(&path, PutPayload::from(bytes)).await.map_err(ProcessError::transient)?;
        Ok(())
    }
}

/// `alice/summer/original/swans.png` → `alice/summer/display/swans_display.jpg`.
pub fn display_key_for(original_key: &str) -> Option<String> {
    let mut parts = original_key.splitn(4, '/');
    let (user, album, resolution, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    (resolution == "original").then(|| object_key(user, album, "display", &format!("{stem}_display.jpg")))
}

/// `alice/summer/original/swans.png` → `alice/summer/thumbnail/swans_thumbnail.{ext}`.
pub fn thumbnail_key_for(original_key: &str, ext: &str) -> Option<String> {
    let mut parts = original_key.splitn(4, '/');
    let (user, album, resolution, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (resolution == "original").then(|| object_key(user, album, "thumbnail", &thumbnail_file_name(file, ext)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design() {
        assert_eq!(thumbnail_file_name("swans.png", "png"), "swans_thumbnail.png");
        assert_eq!(thumbnail_file_name("a-b.jpg", "jpg"), "a-b_thumbnail.jpg");
        assert_eq!(
            thumbnail_key_for("alice/summer/original/swans.png", "png").as_deref(),
            Some("alice/summer/thumbnail/swans_thumbnail.png")
        );
        assert_eq!(thumbnail_key_for("nonsense", "png"), None);
        assert_eq!(
            display_key_for("alice/summer/original/swans.png").as_deref(),
            Some("alice/summer/display/swans_display.jpg")
        );
        assert_eq!(display_key_for("alice/summer/thumbnail/x.png"), None);
    }
}
