//! Makes the 50 px wide, upright thumbnail of each new photo.
//!
//! Stored at `{user}/{album}/thumbnail/{stem}_thumbnail.{ext}`; a verified
//! client-made thumbnail stored at upload time is kept instead.

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
        if photo.thumbnail_done {
            return Ok(());
        }
        if let Some(key) = &rec.client_thumbnail_key {
            return self
                .catalog
                .mark_thumbnail_done(&photo.id, key)
                .await
                .map_err(ProcessError::transient);
        }
        self.render(&photo).await.map(|_| ())
    }
}

impl Thumbnailer {
    /// Makes and stores the thumbnail of `photo` from its original and marks
    /// the catalog row; returns the thumbnail's key. Used by the processor
    /// and by `photostream rethumb`.
    pub async fn render(&self, photo: &Photo) -> Result<String, ProcessError> {
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
        let thumb = tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
            let probe = photostream_media::probe(&bytes, &limits)?;
            photostream_media::thumbnail(&bytes, &probe, width, &limits)
        })
        .await
        .map_err(ProcessError::transient)?
        .map_err(ProcessError::permanent)?;
        // Next to the original, whatever album the photo is in now.
        let key = thumbnail_key_for(&photo.original_key, thumb.ext).ok_or_else(|| {
            ProcessError::permanent(anyhow::anyhow!("unexpected original key {}", photo.original_key))
        })?;
        let path = Path::parse(&key).map_err(ProcessError::permanent)?;
        self.objects
            .put(&path, PutPayload::from(thumb.bytes))
            .await
            .map_err(ProcessError::transient)?;
        self.catalog
            .mark_thumbnail_done(&photo.id, &key)
            .await
            .map_err(ProcessError::transient)?;
        info!(photo = %photo.id, key, ms = started.elapsed().as_millis() as u64, "thumbnail stored");
        Ok(key)
    }
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
    }
}
