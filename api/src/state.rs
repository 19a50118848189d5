//! What every handler can reach.

use std::sync::Arc;

use object_store::ObjectStore;
use photostream_catalog::Catalog;
use photostream_media::Limits;
use photostream_pipeline::EventLog;
use photostream_search::SearchIndex;
use tokio::sync::{Notify, Semaphore};

use crate::limits::LoginLimiter;
use photostream_cache::{BlobCache, ConcurrencyLimiter, InProcessLimiter, MemoryBlobCache};
use crate::signing::MediaSigner;
use crate::credentials::AuthKeys;

/// API settings (a slice of the service config).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted original, in bytes.
    pub max_upload_bytes: usize,
    /// Pixel limits checked from the header before decoding.
    pub limits: Limits,
    /// Thumbnail width in pixels (50 by design).
    pub thumbnail_width: u32,
    /// Explore ranking weights.
    pub explore: ExploreWeights,
    /// Summed report weight that hides a photo pending review (0: never).
    pub report_threshold: i64,
    /// Account age from which a report counts fully.
    pub report_full_weight_age_secs: u64,
    /// How long a client may take to send a request head (`crate::server`).
    pub header_timeout: std::time::Duration,
    /// The slowest request body accepted (`crate::server`).
    pub body_pace: crate::server::BodyPace,
    /// Notification streams one user may hold open at once.
    pub max_streams_per_user: usize,
    /// Accounts one client address may create per hour.
    pub signups_per_address: usize,
    /// Bearer token for `/metrics` on the API port (`None`: loopback only).
    pub metrics_token: Option<String>,
    /// A read of a cold original brings it back to the hot store.
    pub rewarm_on_read: bool,
    /// Originals for everyone who may see the photo, not only its owner
    /// and premium users (`premium.free_originals`).
    pub free_originals: bool,
    /// The key billing webhooks are signed with (`None`: the webhook
    /// answers 404 `webhook_disabled`).
    pub billing_webhook_secret: Option<String>,
    /// Windows and abuse limits of the signals (`[signals]`).
    pub signals: photostream_signals::SignalsConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 64 * 1024 * 1024,
            limits: Limits::default(),
            thumbnail_width: 50,
            explore: Default::default(),
            report_threshold: 3,
            report_full_weight_age_secs: 7 * 24 * 3600,
            header_timeout: crate::server::HEADER_READ_TIMEOUT,
            body_pace: Default::default(),
            max_streams_per_user: 4,
            signups_per_address: 10,
            metrics_token: None,
            rewarm_on_read: false,
            free_originals: false,
            billing_webhook_secret: None,
            signals: Default::default(),
        }
    }
}

/// Explore ranking weights (config section `[explore]`; the ranking is
/// `routes/explore.rs`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExploreWeights {
    pub follow: f64,
    pub favorite_owner: f64,
    pub tag: f64,
    pub trending: f64,
    pub recency: f64,
    pub recency_half_life_hours: f64,
}

impl Default for ExploreWeights {
    fn default() -> Self {
        Self {
            follow: 3.0,
            favorite_owner: 2.0,
            tag: 1.5,
            trending: 1.0,
            recency: 0.5,
            recency_half_life_hours: 48.0,
        }
    }
}

pub struct AppState {
    pub catalog: Catalog,
    pub objects: Arc<dyn ObjectStore>,
    pub search: Arc<dyn SearchIndex>,
    /// The stream, when this instance can reach it (for `/readyz`).
    pub stream: Option<Arc<dyn EventLog>>,
    /// Where photo views go (batched onto the `views` topic), when this
    /// instance has a stream.
    pub views: Option<crate::view_events::ViewSink>,
    /// Analytics, when configured (for `/readyz`, and statistics).
    pub analytics: Option<Arc<dyn photostream_analytics::Analytics>>,
    pub auth: AuthKeys,
    pub config: ApiConfig,
    /// Poked after each outbox commit so an in-process relay reacts at once.
    pub outbox_wake: Arc<Notify>,
    /// Bounds concurrent CPU-heavy verification of uploads.
    pub decode_permits: Arc<Semaphore>,
    /// Signs `/media/…` URLs of files that are not public.
    pub signer: MediaSigner,
    /// One original download and one upload in flight per user.
    pub limiter: Arc<dyn ConcurrencyLimiter>,
    /// Hot thumbnails, served after the access check.
    pub thumbnail_cache: Arc<dyn BlobCache>,
    /// The cold store for originals and the mover that rewarms them, when
    /// `storage.cold` is configured (`None`: every original is in `objects`).
    pub tiering: Option<photostream_tiering::Mover>,
    pub login_limiter: LoginLimiter,
    pub signup_limiter: crate::limits::SignupLimiter,
    /// Fires when the server shuts down; long-lived responses (SSE) end on it.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// When `/metrics` last counted originals per tier (a scan of every live
    /// photo row, so at most once per `metrics::TIER_TOTALS_EVERY`).
    pub tier_totals_counted: std::sync::Mutex<Option<std::time::Instant>>,
    /// Trending, live view counters and abuse rates (`crate::signals`).
    pub signals: Arc<dyn photostream_signals::Signals>,
}

impl AppState {
    /// `secret` is the service secret; the media URL key is derived from it.
    pub fn new(
        catalog: Catalog,
        objects: Arc<dyn ObjectStore>,
        search: Arc<dyn SearchIndex>,
        auth: AuthKeys,
        secret: &[u8],
        config: ApiConfig,
    ) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let signup_limiter = crate::limits::SignupLimiter::new(config.signups_per_address, std::time::Duration::from_secs(3600));
        let signals = Arc::new(photostream_signals::EmbeddedSignals::new(config.signals.clone()));
        Self {
            catalog,
            objects,
            search,
            stream: None,
            views: None,
            analytics: None,
            auth,
            config,
            outbox_wake: Arc::new(Notify::new()),
            decode_permits: Arc::new(Semaphore::new(cpus)),
            signer: MediaSigner::new(secret, 300),
            limiter: Arc::new(InProcessLimiter::default()),
            thumbnail_cache: Arc::new(MemoryBlobCache::new(64 * 1024 * 1024)),
            tiering: None,
            login_limiter: LoginLimiter::new(10, 60, std::time::Duration::from_secs(60)),
            signup_limiter,
            shutdown: tokio_util::sync::CancellationToken::new(),
            tier_totals_counted: std::sync::Mutex::new(None),
            signals,
        }
    }

    /// Counts the login and sign-up limits in `store` (Redis, when the
    /// cache is), so they hold across API instances.
    pub fn share_rate_limits(&mut self, store: Arc<dyn photostream_cache::RateLimiter>) {
        self.login_limiter.count_in(store.clone());
        self.signup_limiter.count_in(store);
    }
}
