//! Makes the renditions of each new photo from one decode of its original:
//! the 50 px wide, upright thumbnail, stored at
//! `{user}/{album}/thumbnail/{stem}_thumbnail.{ext}` (a verified client-made
//! thumbnail stored at upload time is kept instead), and the display
//! rendition, 1024 px on the long edge (never upscaled), upright, JPEG
//! without metadata, at `{user}/{album}/display/{stem}_display.jpg`.
//!
//! A photo with `watermark` on gets the owner's mark (`© owner`) on its
//! display rendition, stored under its own name
//! (`{stem}_display_wm.jpg`), so a URL always shows one version and a CDN
//! never serves the unmarked picture under the marked one's name. Turning
//! the mark on or off re-renders the display rendition when the photo's
//! update record arrives; the version no longer referenced is left to the
//! orphan sweeper.
//!
//! Both are stored first, then marked in the catalog in one statement, so a
//! photo that becomes `ready` through its thumbnail has both; a photo that
//! came with a client thumbnail gets its display rendition with the mark of
//! that thumbnail. The photos handed over at once are rendered concurrently
//! and marked in one commit.

use std::sync::Arc;

use async_trait::async_trait;
use object_store::{path::Path, ObjectStore, PutPayload};
use photostream_cache::BlobCache;
use photostream_catalog::{Catalog, Photo, RenditionMark};
use photostream_media::{Limits, MarkStyle, MediaError, Watermark};
use photostream_pipeline::{Envelope, Record};
use photostream_types::ObjectKey;
use tracing::debug;

use crate::{OriginalsBudget, ProcessError, Processor};

pub struct Thumbnailer {
    catalog: Catalog,
    objects: Arc<dyn ObjectStore>,
    /// Where originals moved by storage tiering live (`storage.cold`).
    cold: Option<Arc<dyn ObjectStore>>,
    width: u32,
    limits: Limits,
    mark_style: MarkStyle,
    /// Shared with moderation: originals held in memory at once.
    originals: Arc<OriginalsBudget>,
    /// The hot-thumbnail cache the API reads, when this process can reach
    /// it: new thumbnails go in as they are stored.
    cache: Option<Arc<dyn BlobCache>>,
}

/// The display rendition's long edge, in pixels (API.md).
pub const DISPLAY_LONG_EDGE: u32 = 1024;

impl Thumbnailer {
    pub fn new(catalog: Catalog, objects: Arc<dyn ObjectStore>, width: u32, limits: Limits) -> Self {
        Self {
            catalog,
            objects,
            cold: None,
            width,
            limits,
            mark_style: MarkStyle::default(),
            originals: Arc::new(OriginalsBudget::default()),
            cache: None,
        }
    }

    /// Puts each new thumbnail into the API's hot-thumbnail cache as it is
    /// stored: the newest photos are what feeds and photostreams show, so
    /// their first reads are usually hits. Access is decided before the
    /// cache is asked, so an entry is served only to whoever may see it.
    pub fn with_cache(mut self, cache: Option<Arc<dyn BlobCache>>) -> Self {
        self.cache = cache;
        self
    }

    /// The cold store (config `storage.cold`): originals of photos tiered
    /// there are read from it, so a watermark change or `photostream
    /// rethumb` re-renders a cold photo without moving it back.
    pub fn with_cold_store(mut self, cold: Option<Arc<dyn ObjectStore>>) -> Self {
        self.cold = cold;
        self
    }

    /// The budget for originals in memory, shared with moderation
    /// (config `processors.originals_memory_mb`).
    pub fn with_originals_budget(mut self, budget: Arc<OriginalsBudget>) -> Self {
        self.originals = budget;
        self
    }

    /// How watermarks look (config `watermark.*`).
    pub fn with_mark_style(mut self, style: MarkStyle) -> Self {
        self.mark_style = style;
        self
    }
}

#[async_trait]
impl Processor for Thumbnailer {
    fn name(&self) -> &'static str {
        "thumbnailer"
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        self.handle_many(std::slice::from_ref(envelope)).await.pop().unwrap_or(Ok(()))
    }

    /// Renders every photo handed over at once (each with its own outcome),
    /// then marks all that succeeded in one catalog commit.
    async fn handle_many(&self, envelopes: &[Envelope]) -> Vec<Result<(), ProcessError>> {
        let prepared = futures::future::join_all(envelopes.iter().map(|e| self.prepare(e))).await;
        let marks: Vec<RenditionMark> = prepared.iter().filter_map(|r| r.as_ref().ok().cloned().flatten()).collect();
        let marked = self.catalog.mark_renditions(&marks).await;
        prepared
            .into_iter()
            .map(|r| match (r, &marked) {
                (Ok(Some(_)), Err(e)) => Err(ProcessError::transient(anyhow::anyhow!("marking renditions: {e}"))),
                (r, _) => r.map(|_| ()),
            })
            .collect()
    }
}

impl Thumbnailer {
    /// Makes and stores what `envelope`'s photo still lacks; returns the
    /// catalog mark to write, if any.
    async fn prepare(&self, envelope: &Envelope) -> Result<Option<RenditionMark>, ProcessError> {
        let rec = match &envelope.record {
            Record::PhotoUploaded(rec) => rec,
            Record::PhotoUpdated(changed) => return self.prepare_update(&changed.photo_id).await,
            _ => return Ok(None),
        };
        let photo = self.catalog.photo(&rec.photo_id).await.map_err(ProcessError::transient)?;
        let Some(photo) = photo.filter(|p| p.deleted_ms.is_none()) else {
            return Ok(None);
        };
        // A verified client thumbnail is kept (the upload stored it); the
        // display rendition is made in any case.
        let need_thumbnail = !photo.thumbnail_done && rec.client_thumbnail_key.is_none();
        let mut mark = RenditionMark { id: photo.id.clone(), display_key: None, thumbnail_key: None };
        if display_stale(&photo) || need_thumbnail {
            let (display, thumbnail) = self.make(&photo, need_thumbnail).await?;
            mark.display_key = Some(display);
            mark.thumbnail_key = thumbnail;
        }
        if !photo.thumbnail_done && mark.thumbnail_key.is_none() {
            mark.thumbnail_key = rec.client_thumbnail_key.clone();
        }
        Ok((mark.display_key.is_some() || mark.thumbnail_key.is_some()).then_some(mark))
    }

    /// An edit may have turned the mark on or off: re-renders the display
    /// rendition if it no longer matches. A photo whose renditions are not
    /// made yet is left to its upload record (handled before this one).
    async fn prepare_update(&self, id: &photostream_types::PhotoId) -> Result<Option<RenditionMark>, ProcessError> {
        let photo = self.catalog.photo(id).await.map_err(ProcessError::transient)?;
        let Some(photo) = photo.filter(|p| p.deleted_ms.is_none() && p.display_key.is_some()) else {
            return Ok(None);
        };
        if !display_stale(&photo) {
            return Ok(None);
        }
        let (display, _) = self.make(&photo, false).await?;
        debug!(photo = %photo.id, watermark = photo.watermark, "display rendition re-rendered");
        Ok(Some(RenditionMark { id: photo.id.clone(), display_key: Some(display), thumbnail_key: None }))
    }

    /// Makes and stores both renditions of `photo` from its original and
    /// marks the catalog row; returns the thumbnail's key. Used by
    /// `photostream rethumb`.
    pub async fn render(&self, photo: &Photo) -> Result<String, ProcessError> {
        let (display, thumbnail) = self.make(photo, true).await?;
        let thumbnail = thumbnail.ok_or_else(|| ProcessError::permanent(anyhow::anyhow!("no thumbnail made")))?;
        let mark = RenditionMark { id: photo.id.clone(), display_key: Some(display), thumbnail_key: Some(thumbnail.clone()) };
        self.catalog.mark_renditions(&[mark]).await.map_err(ProcessError::transient)?;
        Ok(thumbnail)
    }

    /// Makes the display rendition and, if `with_thumbnail`, the thumbnail,
    /// from one decode, and stores them; returns their keys (the caller
    /// marks the catalog).
    async fn make(&self, photo: &Photo, with_thumbnail: bool) -> Result<(String, Option<String>), ProcessError> {
        let held = self.originals.hold(photo.byte_size).await?;
        let bytes = self.read_original(photo).await?;
        let (width, limits) = (self.width, self.limits);
        let mark = photo.watermark.then(|| Watermark::for_owner(photo.owner.as_str(), self.mark_style));
        let started = std::time::Instant::now();
        let (display, thumb) = tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
            let probe = photostream_media::probe(&bytes, &limits)?;
            let thumbnail_width = with_thumbnail.then_some(width);
            photostream_media::renditions_marked(&bytes, &probe, DISPLAY_LONG_EDGE, thumbnail_width, &limits, mark.as_ref())
        })
        .await
        .map_err(ProcessError::transient)?
        .map_err(ProcessError::permanent)?;
        drop(held);
        // Next to the original, whatever album the photo is in now.
        let unexpected = || ProcessError::permanent(anyhow::anyhow!("unexpected original key {}", photo.original_key));
        let original = ObjectKey::parse(&photo.original_key).ok_or_else(unexpected)?;
        let display_key = original.display(photo.watermark).ok_or_else(unexpected)?.into_string();
        let thumb_key = match &thumb {
            Some(t) => Some(original.thumbnail(t.ext).ok_or_else(unexpected)?.into_string()),
            None => None,
        };
        match (thumb, &thumb_key) {
            (Some(thumb), Some(key)) => {
                let bytes = bytes::Bytes::from(thumb.bytes);
                futures::try_join!(self.put(&display_key, display.bytes.into()), self.put(key, bytes.clone()))?;
                if let Some(cache) = self.cache.clone() {
                    // Only a warm-up (a cache outage must not slow the
                    // pipeline): a read that misses fills it.
                    photostream_cache::put_behind(cache, key.clone(), bytes);
                }
            }
            _ => self.put(&display_key, display.bytes.into()).await?,
        }
        debug!(photo = %photo.id, ?thumb_key, display_key, ms = started.elapsed().as_millis() as u64, "renditions stored");
        Ok((display_key, thumb_key))
    }

    /// The original's bytes from the store its tier serves from, else the
    /// other one (a move may have flipped since the row was read).
    async fn read_original(&self, photo: &Photo) -> Result<bytes::Bytes, ProcessError> {
        let key = Path::parse(&photo.original_key).map_err(ProcessError::permanent)?;
        let mut stores = vec![&self.objects];
        if let Some(cold) = &self.cold {
            if photo.storage_tier.serves_cold() {
                stores.insert(0, cold);
            } else {
                stores.push(cold);
            }
        }
        let mut last = None;
        for store in stores {
            match store.get(&key).await {
                Ok(got) => return got.bytes().await.map_err(ProcessError::transient),
                Err(e @ object_store::Error::NotFound { .. }) => last = Some(e),
                Err(e) => return Err(ProcessError::transient(e)),
            }
        }
        Err(ProcessError::transient(last.expect("at least the hot store was asked")))
    }

    async fn put(&self, key: &str, bytes: bytes::Bytes) -> Result<(), ProcessError> {
        let path = Path::parse(key).map_err(ProcessError::permanent)?;
        self.objects.put(&path, PutPayload::from(bytes)).await.map_err(ProcessError::transient)?;
        Ok(())
    }
}

/// Whether the photo lacks a display rendition, or has one whose mark does
/// not match its `watermark` flag.
fn display_stale(photo: &Photo) -> bool {
    photo.display_key.as_deref().is_none_or(|k| ObjectKey::is_marked_display(k) != photo.watermark)
}
