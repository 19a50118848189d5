//! Service configuration.
//!
//! Sources, later ones winning: built-in defaults, the TOML file given with
//! `--config` (see `config/photostream.toml` for every key, commented), then
//! `PHOTOSTREAM_*` environment variables (`__` separates sections, e.g.
//! `PHOTOSTREAM_AUTH__SESSION_TTL_SECS=600`), then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The HTTP API only.
    Api,
    /// The outbox relay, the stream processors and the sweeper only.
    Processors,
    /// Everything in one process (the embedded default).
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Where embedded backends keep their files.
    pub data_dir: PathBuf,
    pub role: Role,
    /// `text` or `json` logs.
    pub log_format: String,
    /// A separate address for `/metrics` and `/healthz` (e.g.
    /// `127.0.0.1:9091`), how processors-only instances are scraped; empty:
    /// none. The API role serves them on `listen` as well.
    pub metrics_listen: String,
    /// Bearer token for `/metrics` on the API port; empty: loopback
    /// clients only. Set it from the environment, never in a committed file.
    pub metrics_token: String,
    /// Catalog URL; empty means `sqlite://{data_dir}/catalog.db`.
    pub catalog: String,
    /// Connections in the API's catalog pool; 0: 12 on PostgreSQL, 8 on SQLite.
    pub catalog_pool: u32,
    /// `embedded` (a durable log under the data dir), `nats://host:4222`
    /// (JetStream) or `fluvio://host:9003`.
    pub stream: String,
    /// Names streams, topics, consumer groups and cache keys, so several
    /// deployments can share one cluster.
    pub stream_prefix: String,
    /// NATS: how long an unacknowledged record waits before redelivery.
    pub stream_ack_wait_secs: u64,
    /// Fluvio: partitions per topic (records are keyed by photo id).
    pub stream_partitions: u32,
    /// Fluvio: this processor instance's index among `stream_members`; each
    /// member reads the partitions `p % stream_members == stream_member`.
    pub stream_member: u32,
    pub stream_members: u32,
    /// `embedded` (tantivy under the data dir) or `meilisearch+http://host:7700`.
    pub search: String,
    /// Meilisearch index uid.
    pub search_index: String,
    /// Meilisearch API key (empty: none).
    pub search_key: String,
    /// `embedded` (SQLite under the data dir) or `clickhouse+http://host:8123[/db]`.
    pub analytics: String,
    /// Per-user limits and hot-thumbnail cache: `memory` or `redis://host:6379`
    /// (thumbnails go to Redis only in front of S3; see `backends::cache`).
    pub cache: String,
    /// In-process thumbnail cache size.
    pub cache_max_bytes: u64,
    /// `local` (files under the data dir), `file:///absolute/path` or
    /// `s3://bucket?endpoint=…&region=…&allow_http=true` (AWS_* credentials).
    pub objects: String,
    /// Storage tiering of originals (a cold store and when to use it).
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub uploads: UploadConfig,
    pub limits: LimitsConfig,
    pub thumbnails: ThumbnailConfig,
    pub processors: ProcessorConfig,
    /// Weights of the explore ranking (see `api::routes::explore`).
    pub explore: photostream_api::ExploreWeights,
    /// Moderation checks, policy, report threshold and classifier.
    pub moderation: photostream_moderation::ModerationConfig,
    /// Who may download originals.
    pub premium: PremiumConfig,
    /// The payment provider's webhook.
    pub billing: BillingConfig,
    /// How the owner's mark looks on watermarked display renditions.
    pub watermark: WatermarkConfig,
    /// Windowed signals: trending, live view counters, abuse rates
    /// (`docs/streaming-sql.md`).
    pub signals: photostream_signals::SignalsConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PremiumConfig {
    /// `false` (default): a photo's original is for its owner and premium
    /// members (others get 402 `premium_required`; thumbnails and display
    /// renditions stay free). `true`: everyone who may see a photo may
    /// download its original.
    pub free_originals: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// The key `POST /v1/billing/webhook` signatures are made with (HMAC-SHA256);
    /// empty: the webhook answers 404 `webhook_disabled`. Set it from the
    /// environment (`PHOTOSTREAM_BILLING__WEBHOOK_SECRET`), never in a committed file.
    pub webhook_secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatermarkConfig {
    /// `bottom-right`, `bottom-left`, `top-right`, `top-left` or `center`.
    pub position: String,
    /// The mark's text height, as a percentage of the picture's shorter side.
    pub size_percent: f32,
    /// 0 (invisible) to 1 (opaque).
    pub opacity: f32,
}

impl Default for WatermarkConfig {
    fn default() -> Self {
        let style = photostream_media::MarkStyle::default();
        Self { position: "bottom-right".into(), size_percent: style.size_percent, opacity: style.opacity }
    }
}

impl WatermarkConfig {
    /// The style the thumbnailer draws with, or why the settings are wrong.
    pub fn style(&self) -> Result<photostream_media::MarkStyle, String> {
        let position = photostream_media::MarkPosition::parse(&self.position).ok_or_else(|| {
            format!("watermark.position {:?}: use bottom-right, bottom-left, top-right, top-left or center", self.position)
        })?;
        if !(self.size_percent > 0.0 && self.size_percent <= 50.0) {
            return Err(format!("watermark.size_percent {} must be above 0 and at most 50", self.size_percent));
        }
        if !(0.0..=1.0).contains(&self.opacity) {
            return Err(format!("watermark.opacity {} must be between 0 and 1", self.opacity));
        }
        Ok(photostream_media::MarkStyle { position, size_percent: self.size_percent, opacity: self.opacity })
    }
}

/// Storage tiering (docs/tiering.md): originals nobody reads move to a
/// cheaper object store; reads stay transparent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The cold object store, a URL like `objects` (`file:///path`,
    /// `s3://bucket?…`; `local` is `{data_dir}/cold`). Empty: no tiering.
    pub cold: String,
    /// Originals not read for this many days move to the cold store.
    pub cold_after_days: u64,
    /// How often the processors role runs a tiering pass.
    pub tier_interval_secs: u64,
    /// A read of a cold original brings it back to the hot store.
    pub rewarm_on_read: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            cold: String::new(),
            cold_after_days: 30,
            tier_interval_secs: 86_400,
            rewarm_on_read: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 key for session JWTs (at least 32 bytes). Empty: generated once
    /// and kept in `{data_dir}/jwt.key`.
    pub jwt_secret: String,
    pub issuer: String,
    pub audience: String,
    pub session_ttl_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    pub max_bytes: usize,
    pub max_pixels: u64,
    pub max_side: u32,
    /// Memory all decodes of this process may hold at once, in MiB (one
    /// image needing more is refused with 422; others wait their turn).
    pub decode_memory_mb: u64,
}

/// Abuse limits: how slowly a client may send and how much one user may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Seconds a client may take to send a request head.
    pub header_timeout_secs: u64,
    /// Seconds a request body may take before its pace is enforced.
    pub body_grace_secs: u64,
    /// The slowest average pace a request body may keep after the grace.
    pub body_min_bytes_per_sec: u64,
    /// Notification streams one user may hold open at once.
    pub streams_per_user: usize,
    /// Accounts one client address may create per hour.
    pub signups_per_address: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let pace = photostream_api::server::BodyPace::default();
        Self {
            header_timeout_secs: photostream_api::server::HEADER_READ_TIMEOUT.as_secs(),
            body_grace_secs: pace.grace.as_secs(),
            body_min_bytes_per_sec: pace.min_bytes_per_sec,
            streams_per_user: 4,
            signups_per_address: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThumbnailConfig {
    pub width: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessorConfig {
    pub max_attempts: u32,
    /// Transient failures are retried for at least this long before a record
    /// is dead-lettered, so backend outages shorter than this lose nothing
    /// and need no replay.
    pub dead_letter_after_secs: u64,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Objects younger than this are never swept as orphans.
    pub sweep_grace_secs: u64,
    pub sweep_interval_secs: u64,
    /// Connections in the pipeline's own catalog pool (processors, outbox
    /// relay, sweeper), apart from the API's so a backlog never starves reads.
    pub catalog_pool: u32,
    /// Records the thumbnailer, moderation and the purger each handle at
    /// once (each with its own outcome; records of one photo in order).
    pub concurrency: usize,
    /// MiB of originals the thumbnailer and moderation hold in memory at
    /// once, together (`processors::originals`).
    pub originals_memory_mb: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            data_dir: PathBuf::from("./data"),
            role: Role::All,
            log_format: "text".into(),
            metrics_listen: String::new(),
            metrics_token: String::new(),
            catalog: String::new(),
            catalog_pool: 0,
            stream: "embedded".into(),
            stream_prefix: "photostream".into(),
            stream_ack_wait_secs: 30,
            stream_partitions: 1,
            stream_member: 0,
            stream_members: 1,
            search: "embedded".into(),
            search_index: "photos".into(),
            search_key: String::new(),
            analytics: "embedded".into(),
            cache: "memory".into(),
            cache_max_bytes: 256 * 1024 * 1024,
            objects: "local".into(),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            uploads: UploadConfig::default(),
            limits: LimitsConfig::default(),
            thumbnails: ThumbnailConfig::default(),
            processors: ProcessorConfig::default(),
            explore: Default::default(),
            moderation: Default::default(),
            premium: PremiumConfig::default(),
            billing: BillingConfig::default(),
            watermark: WatermarkConfig::default(),
            signals: Default::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: String::new(),
            issuer: "photostream".into(),
            audience: "photostream-api".into(),
            session_ttl_secs: 24 * 3600,
        }
    }
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_side: 30_000,
            decode_memory_mb: photostream_media::budget::DEFAULT_DECODE_BUDGET >> 20,
        }
    }
}

impl Default for ThumbnailConfig {
    fn default() -> Self {
        Self { width: 50 }
    }
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            dead_letter_after_secs: 600,
            base_backoff_ms: 100,
            max_backoff_ms: 10_000,
            sweep_grace_secs: 3600,
            sweep_interval_secs: 3600,
            catalog_pool: 6,
            concurrency: 16,
            originals_memory_mb: 256,
        }
    }
}

/// Command-line overrides; `None` leaves the lower layers in charge.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Config {
    /// Loads defaults → `file` → environment → `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, figment::Error> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(figment::Error::from(format!(
                    "config file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig.merge(Env::prefixed("PHOTOSTREAM_").split("__"))
            .merge(Serialized::globals(overrides))
            .extract()
    }

    /// Refuses combinations that cannot work: the embedded stream and search
    /// belong to one process, so split roles need networked ones.
    pub fn validate(&self) -> Result<(), String> {
        if self.role != Role::All && (self.stream == "embedded" || self.search == "embedded") {
            return Err(format!(
                "role {:?} runs part of the service in this process; the others cannot reach an \
                 embedded stream or search index: configure networked stream and search backends",
                self.role
            ));
        }
        self.watermark.style()?;
        if self.processors.originals_memory_mb == 0 {
            return Err("processors.originals_memory_mb must be at least 1: the thumbnailer and moderation read originals within it".into());
        }
        let s = &self.signals;
        if s.trending_window_secs % s.trending_hop_secs.max(1) != 0 || s.abuse_window_secs % s.abuse_hop_secs.max(1) != 0 {
            return Err("signals: a window's size must be a whole number of hops".into());
        }
        Ok(())
    }

    /// The catalog URL, defaulting to SQLite in the data dir.
    pub fn catalog_url(&self) -> String {
        if self.catalog.is_empty() {
            format!("sqlite://{}", self.data_dir.join("catalog.db").display())
        } else {
            self.catalog.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_file_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/photostream.toml");
        let from_file: Config = Figment::from(Toml::file(&path)).extract().unwrap();
        assert_eq!(from_file, Config::default());
    }

    #[test]
    fn storage_tiering_comes_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PHOTOSTREAM_STORAGE__COLD", "file:///srv/cold");
            jail.set_env("PHOTOSTREAM_STORAGE__COLD_AFTER_DAYS", "90");
            jail.set_env("PHOTOSTREAM_STORAGE__REWARM_ON_READ", "true");
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.storage.cold, "file:///srv/cold");
            assert_eq!(c.storage.cold_after_days, 90);
            assert!(c.storage.rewarm_on_read);
            assert_eq!(c.storage.tier_interval_secs, 86_400);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let r: Result<Config, _> = Figment::from(Toml::string("lisen = \"x\"")).extract();
        assert!(r.is_err());
        let r: Result<Config, _> =
            Figment::from(Toml::string("[auth]\nsecret = \"x\"")).extract();
        assert!(r.is_err());
    }

    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("p.toml", "listen = \"127.0.0.1:9000\"\nsearch = \"embedded\"\n[uploads]\nmax_bytes = 10\n")?;
            jail.set_env("PHOTOSTREAM_UPLOADS__MAX_BYTES", "20");
            jail.set_env("PHOTOSTREAM_DATA_DIR", "/tmp/x");
            let overrides = Overrides {
                data_dir: Some("/tmp/y".into()),
                ..Default::default()
            };
            let c = Config::load(Some(Path::new("p.toml")), &overrides).unwrap();
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.uploads.max_bytes, 20);
            assert_eq!(c.data_dir, PathBuf::from("/tmp/y"));
            Ok(())
        });
    }
}
