//! State that API instances share: per-user concurrency slots and a cache
//! of hot thumbnails.
//!
//! Three traits, each with an in-process implementation (one API instance,
//! the embedded default) and a Redis one (`redis://…`, so limits hold and
//! the cache is shared across every API instance):
//!
//! - [`ConcurrencyLimiter`]: single slots by name (`download:user:…`),
//!   released when the [`SlotGuard`] drops. Redis slots also carry a TTL so a
//!   crashed instance cannot hold one forever.
//! - [`BlobCache`]: bytes by object key, bounded (in-process by total size,
//!   Redis by TTL). Cached bytes are only ever served after the caller passed
//!   the access check, so caching never widens access.
//! - [`RateLimiter`]: sliding-window counts by name (`login:…`, `signup:…`),
//!   so the API's login and sign-up limits hold across instances.

mod memory;
mod redis_backend;

use async_trait::async_trait;
use bytes::Bytes;

pub use memory::{InProcessLimiter, InProcessRateLimiter, MemoryBlobCache};
pub use redis_backend::{RedisBlobCache, RedisLimiter, RedisRateLimiter};

#[derive(Debug, thiserror::Error)]
#[error("cache backend error: {0}")]
pub struct CacheError(pub String);

type Release = Box<dyn FnOnce() -> futures_lite::BoxedRelease + Send + Sync>;

/// Holds a slot until released or dropped. [`SlotGuard::release`] waits
/// until the slot is free again (use it when the caller's next request may
/// follow at once); dropping releases in the background (a response body
/// that finished or whose client went away).
pub struct SlotGuard {
    release: Option<Release>,
}

/// Minimal boxed-future alias, to keep this crate free of `futures`.
mod futures_lite {
    pub type BoxedRelease = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
}

impl SlotGuard {
    pub fn new<F, Fut>(release: F) -> Self
    where
        F: FnOnce() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Self {
            release: Some(Box::new(move || Box::pin(release()) as futures_lite::BoxedRelease)),
        }
    }

    /// Frees the slot and waits until that is done.
    pub async fn release(mut self) {
        if let Some(f) = self.release.take() {
            f().await;
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(f) = self.release.take() {
            let fut = f();
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(fut);
                }
                Err(_) => tracing::warn!("slot dropped outside a runtime; its TTL will free it"),
            }
        }
    }
}

#[async_trait]
pub trait ConcurrencyLimiter: Send + Sync + 'static {
    /// Takes the single slot named `key`, or `None` if someone holds it.
    async fn try_acquire(&self, key: &str) -> Result<Option<SlotGuard>, CacheError>;
    async fn ping(&self) -> Result<(), CacheError>;
    fn kind(&self) -> &'static str;
}

#[async_trait]
pub trait BlobCache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;
    async fn put(&self, key: &str, value: Bytes) -> Result<(), CacheError>;
    async fn remove(&self, key: &str) -> Result<(), CacheError>;
    fn kind(&self) -> &'static str;
    /// Whether other processes read these entries too (Redis), or only this
    /// one (in-process).
    fn shared(&self) -> bool;
}

/// Puts `value` under `key` behind the caller: nothing waits for the cache
/// (a Redis round trip, or an outage), and a failed put is only logged,
/// since a later read that misses fills it again. For warm-ups and fills,
/// never for anything a reader relies on.
pub fn put_behind(cache: std::sync::Arc<dyn BlobCache>, key: String, value: Bytes) {
    tokio::spawn(async move {
        if let Err(e) = cache.put(&key, value).await {
            tracing::warn!(error = %e, key = %key, "thumbnail cache write failed");
        }
    });
}

/// Sliding-window rate limits: an event is allowed when every key it names
/// is under its limit within `window`, and is then counted against all of
/// them (a refused event counts against none).
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// `Ok(())` when allowed (and counted); `Err(seconds)` to wait when a
    /// `(key, limit)` is at its limit.
    async fn hit(&self, keys: &[(String, usize)], window: std::time::Duration) -> Result<Result<(), u64>, CacheError>;
    fn kind(&self) -> &'static str;
}
