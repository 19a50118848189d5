//! Turns configured backend URLs into trait objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use photostream_analytics::{Analytics, ClickHouseAnalytics, EmbeddedAnalytics};
use photostream_cache::{
    BlobCache, ConcurrencyLimiter, InProcessLimiter, InProcessRateLimiter, MemoryBlobCache, RateLimiter, RedisBlobCache,
    RedisLimiter, RedisRateLimiter,
};
use photostream_catalog::{Catalog, PoolSettings};
use photostream_pipeline::{EmbeddedLog, EventLog, FluvioLog, NatsLog};
use photostream_search::{MeiliIndex, SearchIndex, TantivyIndex};
use photostream_signals::{ArroyoSignals, EmbeddedSignals, Signals};
use std::time::Duration;

use crate::{Config, Role};

/// Every backend the service talks to.
#[derive(Clone)]
pub struct Backends {
    /// The API's catalog pool (for a processors-only instance, the pipeline's).
    pub catalog: Catalog,
    /// The pipeline's own pool: processors, outbox relay and sweeper.
    pub pipeline_catalog: Catalog,
    pub objects: Arc<dyn ObjectStore>,
    /// The cold store for originals (`storage.cold`), when configured.
    pub cold_objects: Option<Arc<dyn ObjectStore>>,
    pub search: Arc<dyn SearchIndex>,
    pub stream: Arc<dyn EventLog>,
    pub analytics: Arc<dyn Analytics>,
    pub limiter: Arc<dyn ConcurrencyLimiter>,
    pub thumbnail_cache: Arc<dyn BlobCache>,
    /// Trending, live view counters, abuse rates.
    pub signals: Arc<dyn Signals>,
    /// The windows of the login and sign-up limits (shared through Redis
    /// when the cache is).
    pub rate_limits: Arc<dyn RateLimiter>,
}

impl Backends {
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
        let url = config.catalog_url();
        let pool = |name, max_connections| PoolSettings { max_connections, ..PoolSettings::named(name) };
        let open = |name, max| {
            let url = url.clone();
            async move { Catalog::connect_with(&url, pool(name, max)).await.context("opening the catalog") }
        };
        let (catalog, pipeline_catalog) = match config.role {
            Role::Api => {
                let api = open("api", config.catalog_pool).await?;
                (api.clone(), api)
            }
            Role::Processors => {
                let pipeline = open("pipeline", config.processors.catalog_pool).await?;
                (pipeline.clone(), pipeline)
            }
            Role::All => (open("api", config.catalog_pool).await?, open("pipeline", config.processors.catalog_pool).await?),
        };
        let (limiter, thumbnail_cache, rate_limits) = cache(config).await?;
        Ok(Self {
            catalog,
            pipeline_catalog,
            objects: objects(&config.objects, &config.data_dir)?,
            cold_objects: cold_objects(config)?,
            search: search(config).await?,
            stream: stream(config).await?,
            analytics: analytics(&config.analytics, &config.data_dir).await?,
            limiter,
            thumbnail_cache,
            signals: signals(config).await?,
            rate_limits,
        })
    }

    /// One line per backend for logs and CI output: `catalog=postgres …`.
    /// Pings every backend: (name, outcome). What the processors role
    /// reports as `photostream_backend_up` (the API's `/readyz` does the
    /// same for its own view).
    pub async fn probe(&self) -> Vec<(&'static str, bool)> {
        let marker = object_store::path::Path::from("__readyz__");
        let objects = matches!(self.objects.head(&marker).await, Ok(_) | Err(object_store::Error::NotFound { .. }));
        let mut up = vec![
            ("catalog", self.catalog.ping().await.is_ok()),
            ("stream", self.stream.ping().await.is_ok()),
            ("search", self.search.ping().await.is_ok()),
            ("analytics", self.analytics.ping().await.is_ok()),
            ("cache", self.limiter.ping().await.is_ok()),
            ("signals", self.signals.ping().await.is_ok()),
            ("objects", objects),
        ];
        if let Some(cold) = &self.cold_objects {
            up.push((
                "cold_objects",
                matches!(
                    cold.head(&marker).await,
                    Ok(_) | Err(object_store::Error::NotFound { .. })
                ),
            ));
        }
        up
    }

    pub fn describe(&self) -> String {
        format!(
            "catalog={:?} stream={} search={} analytics={} cache={} thumbnail_cache={} signals={} objects={} cold_objects={}",
            self.catalog.dialect(),
            self.stream.kind(),
            self.search.kind(),
            self.analytics.kind(),
            self.limiter.kind(),
            self.thumbnail_cache.kind(),
            self.signals.kind(),
            self.objects,
            self.cold_objects
                .as_ref()
                .map_or_else(|| "none".to_string(), |c| c.to_string()),
        )
    }
}

/// `local`, `file:///path`, or `s3://bucket[?endpoint=…&region=…&allow_http=true]`
/// (credentials from the usual `AWS_*` environment variables).
pub fn objects(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    object_store_at(url, &data_dir.join("objects"))
}

/// The cold store of `storage.cold` (`local` is `{data_dir}/cold`), or
/// `None` when tiering is off. The same URL forms as `objects`.
pub fn cold_objects(config: &Config) -> anyhow::Result<Option<Arc<dyn ObjectStore>>> {
    let url = config.storage.cold.trim();
    if url.is_empty() {
        return Ok(None);
    }
    anyhow::ensure!(
        url != config.objects,
        "storage.cold is the same store as objects ({url})"
    );
    object_store_at(url, &config.data_dir.join("cold"))
        .context("storage.cold")
        .map(Some)
}

/// An object store from its URL; `local` is the directory `local_root`.
fn object_store_at(url: &str, local_root: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    if let Some(rest) = url.strip_prefix("s3://") {
        return s3(rest);
    }
    let root: PathBuf = match url {
        "local" => local_root.to_path_buf(),
        u if u.starts_with("file://") => PathBuf::from(&u["file://".len()..]),
        other => bail!("unsupported objects backend {other:?}: use \"local\", file:///path or s3://bucket"),
    };
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let store = LocalFileSystem::new_with_prefix(&root)
        .with_context(|| format!("opening object store at {}", root.display()))?;
    Ok(Arc::new(crate::durable_objects::DurableLocal::new(store)))
}

async fn search(config: &Config) -> anyhow::Result<Arc<dyn SearchIndex>> {
    match config.search.as_str() {
        "embedded" => Ok(Arc::new(
            TantivyIndex::open(&config.data_dir.join("search")).context("opening the search index")?,
        )),
        u if u.starts_with("meilisearch+http") => {
            let key = (!config.search_key.is_empty()).then_some(config.search_key.as_str());
            Ok(Arc::new(
                MeiliIndex::connect(u, key, &config.search_index)
                    .await
                    .context("connecting to Meilisearch")?,
            ))
        }
        other => bail!("unsupported search backend {other:?}: use \"embedded\" or meilisearch+http://host:7700"),
    }
}

pub async fn stream(config: &Config) -> anyhow::Result<Arc<dyn EventLog>> {
    let url = config.stream.as_str();
    match url {
        "embedded" => Ok(Arc::new(
            EmbeddedLog::open(config.data_dir.join("log")).context("opening the embedded log")?,
        )),
        u if u.starts_with("nats://") => Ok(Arc::new(
            NatsLog::connect(u, &config.stream_prefix, Duration::from_secs(config.stream_ack_wait_secs))
                .await
                .context("connecting to NATS JetStream")?,
        )),
        u if u.starts_with("fluvio://") => Ok(Arc::new(
            FluvioLog::connect(
                u,
                &config.stream_prefix,
                config.stream_partitions,
                (config.stream_member, config.stream_members),
            )
                .await
                .context("connecting to Fluvio")?,
        )),
        other => bail!("unsupported stream backend {other:?}: use \"embedded\", nats://host:4222 or fluvio://host:9003"),
    }
}

/// Whether `objects` (an [`objects`] URL) names files on this machine.
fn objects_are_local(url: &str) -> bool {
    url == "local" || url.starts_with("file://")
}

/// The limiter, the hot-thumbnail cache and the rate limits of `cache`.
///
/// With Redis, the slots and rate limits are shared so they hold across API
/// instances. The thumbnail cache goes to Redis only when the objects are
/// remote (S3), where a shared hit saves a request to the store; over local
/// files it stays in the process, because a miss (most thumbnail reads at
/// scale) would spend a network round trip to save a page-cache read. Keeping
/// it per process is safe: access is decided before the cache is asked and a
/// deleted photo's keys are never reused, so an entry the purger of another
/// process cannot remove is unreachable and only waits for eviction.
async fn cache(config: &Config) -> anyhow::Result<(Arc<dyn ConcurrencyLimiter>, Arc<dyn BlobCache>, Arc<dyn RateLimiter>)> {
    match config.cache.as_str() {
        "memory" => Ok((
            Arc::new(InProcessLimiter::default()),
            Arc::new(MemoryBlobCache::new(config.cache_max_bytes)),
            Arc::new(InProcessRateLimiter::default()),
        )),
        u if u.starts_with("redis://") || u.starts_with("rediss://") => {
            let prefix = &config.stream_prefix;
            let limiter = RedisLimiter::connect(u, prefix, Duration::from_secs(3600))
                .await
                .context("connecting to Redis")?;
            let blobs: Arc<dyn BlobCache> = if objects_are_local(&config.objects) {
                Arc::new(MemoryBlobCache::new(config.cache_max_bytes))
            } else {
                Arc::new(
                    RedisBlobCache::connect(u, prefix, Duration::from_secs(3600))
                        .await
                        .context("connecting to Redis")?,
                )
            };
            let rate_limits = RedisRateLimiter::connect(u, prefix).await.context("connecting to Redis")?;
            Ok((Arc::new(limiter), blobs, Arc::new(rate_limits)))
        }
        other => bail!("unsupported cache backend {other:?}: use \"memory\" or redis://host:6379"),
    }
}

/// `embedded` (in-process windows) or `arroyo+redis://host:6379` (what the
/// Arroyo pipelines of `deploy/arroyo` wrote there).
async fn signals(config: &Config) -> anyhow::Result<Arc<dyn Signals>> {
    let s = &config.signals;
    match s.backend.as_str() {
        "embedded" => Ok(Arc::new(EmbeddedSignals::new(s.clone()))),
        u if u.starts_with("arroyo+redis://") || u.starts_with("arroyo+rediss://") => Ok(Arc::new(
            ArroyoSignals::connect(u, s.clone()).await.context("connecting to the Redis the Arroyo pipelines write")?,
        )),
        other => bail!("unsupported signals backend {other:?}: use \"embedded\" or arroyo+redis://host:6379"),
    }
}

async fn analytics(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn Analytics>> {
    match url {
        "embedded" => Ok(Arc::new(
            EmbeddedAnalytics::open(&data_dir.join("analytics.db"))
                .await
                .context("opening embedded analytics")?,
        )),
        u if u.starts_with("clickhouse+http") => Ok(Arc::new(
            ClickHouseAnalytics::connect(u).await.context("connecting to ClickHouse")?,
        )),
        other => bail!("unsupported analytics backend {other:?}: use \"embedded\" or clickhouse+http://host:8123"),
    }
}

fn s3(rest: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    anyhow::ensure!(!bucket.is_empty(), "s3:// URL without a bucket");
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        // Create-only puts use If-None-Match, which S3 and MinIO honour.
        .with_conditional_put(S3ConditionalPut::ETagMatch);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        builder = match k {
            "endpoint" => builder.with_endpoint(v),
            "region" => builder.with_region(v),
            "allow_http" => builder.with_allow_http(v == "true"),
            "virtual_hosted" => builder.with_virtual_hosted_style_request(v == "true"),
            other => bail!("unknown s3:// option {other:?} (endpoint, region, allow_http, virtual_hosted)"),
        };
    }
    Ok(Arc::new(builder.build().context("configuring the S3 object store")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the Redis of `scripts/services` (or `TEST_REDIS_URL`).
    #[tokio::test]
    async fn thumbnails_are_cached_in_redis_only_in_front_of_a_remote_store() {
        let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let kinds = |objects: &str| {
            let config = Config {
                cache: redis.clone(),
                objects: objects.into(),
                ..Config::default()
            };
            async move {
                let (limiter, thumbnails, rate_limits) = cache(&config).await.expect("Redis is up");
                assert_eq!(thumbnails.shared(), thumbnails.kind() == "redis");
                (limiter.kind(), thumbnails.kind(), rate_limits.kind())
            }
        };
        assert_eq!(kinds("local").await, ("redis", "in-process", "redis"));
        assert_eq!(kinds("file:///srv/photos").await, ("redis", "in-process", "redis"));
        assert_eq!(kinds("s3://photos?endpoint=http://127.0.0.1:5000").await, ("redis", "redis", "redis"));
        let memory = Config::default();
        let (limiter, thumbnails, _) = cache(&memory).await.unwrap();
        assert_eq!((limiter.kind(), thumbnails.kind()), ("in-process", "in-process"));
        assert!(!thumbnails.shared(), "an in-process cache is this process's alone");
    }
}
