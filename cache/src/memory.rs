//! In-process implementations (one API instance).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{BlobCache, CacheError, ConcurrencyLimiter, RateLimiter, SlotGuard};

#[derive(Default)]
pub struct InProcessLimiter {
    held: Arc<Mutex<HashSet<String>>>,
}

#[async_trait]
impl ConcurrencyLimiter for InProcessLimiter {
    async fn try_acquire(&self, key: &str) -> Result<Option<SlotGuard>, CacheError> {
        let mut held = self.held.lock().expect("limiter poisoned");
        if !held.insert(key.to_string()) {
            return Ok(None);
        }
        let set = self.held.clone();
        let key = key.to_string();
        Ok(Some(SlotGuard::new(move || {
            set.lock().expect("limiter poisoned").remove(&key);
            std::future::ready(())
        })))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}

/// A size-bounded LRU-ish cache (moka, TinyLFU) weighed by bytes.
pub struct MemoryBlobCache {
    inner: moka::future::Cache<String, Bytes>,
}

impl MemoryBlobCache {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            inner: moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &String, v: &Bytes| (k.len() + v.len()).min(u32::MAX as usize) as u32)
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
        }
    }
}

#[async_trait]
impl BlobCache for MemoryBlobCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        Ok(self.inner.get(key).await)
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<(), CacheError> {
        self.inner.insert(key.to_string(), value).await;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        self.inner.invalidate(key).await;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }

    fn shared(&self) -> bool {
        false
    }
}

/// Sliding windows in this process (one API instance).
#[derive(Default)]
pub struct InProcessRateLimiter {
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn hit(&self, keys: &[(String, usize)], window: Duration) -> Result<Result<(), u64>, CacheError> {
        let now = Instant::now();
        let mut map = self.events.lock().expect("rate limiter poisoned");
        if map.len() > 100_000 {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        for (key, limit) in keys {
            let q = map.entry(key.clone()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
            if q.len() >= *limit {
                let oldest = q.front().map_or(now, |t| *t);
                let wait = window.saturating_sub(now.duration_since(oldest));
                return Ok(Err(wait.as_secs() + 1));
            }
        }
        for (key, _) in keys {
            map.entry(key.clone()).or_default().push_back(now);
        }
        Ok(Ok(()))
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}
