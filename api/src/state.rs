//! What every handler can reach.

use std::sync::Arc;

use object_store::ObjectStore;
use photostream_catalog::Catalog;
use photostream_media::Limits;
use photostream_pipeline::EventLog;
use photostream_search::SearchIndex;
use tokio::sync::{Notify, Semaphore};

use crate::AuthKeys;

/// API settings (a slice of the service config).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted original, in bytes.
    pub max_upload_bytes: usize,
    /// Pixel limits checked from the header before decoding.
    pub limits: Limits,
    /// Thumbnail width in pixels (50 by design).
    pub thumbnail_width: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 64 * 1024 * 1024,
            limits: Limits::default(),
            thumbnail_width: 50,
        }
    }
}

pub struct AppState {
    pub catalog: Catalog,
    pub objects: Arc<dyn ObjectStore>,
    pub search: Arc<dyn SearchIndex>,
    /// The stream, when this instance can reach it (for `/readyz`).
    pub stream: Option<Arc<dyn EventLog>>,
    pub auth: AuthKeys,
    pub config: ApiConfig,
    /// Poked after each outbox commit so an in-process relay reacts at once.
    pub outbox_wake: Arc<Notify>,
    /// Bounds concurrent CPU-heavy verification of uploads.
    pub decode_permits: Arc<Semaphore>,
}

impl AppState {
    pub fn new(
        catalog: Catalog,
        objects: Arc<dyn ObjectStore>,
        search: Arc<dyn SearchIndex>,
        auth: AuthKeys,
        config: ApiConfig,
    ) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            catalog,
            objects,
            search,
            stream: None,
            auth,
            config,
            outbox_wake: Arc::new(Notify::new()),
            decode_permits: Arc::new(Semaphore::new(cpus)),
        }
    }
}
