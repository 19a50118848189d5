//! Redis implementations: `redis://host:6379[/db]`.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::{BlobCache, CacheError, ConcurrencyLimiter, RateLimiter, SlotGuard};

fn backend(e: impl std::fmt::Display) -> CacheError {
    CacheError(e.to_string())
}

/// Every Redis round trip is bounded, whatever the client does while it
/// reconnects: a Redis outage costs a request at most this long.
const DEADLINE: Duration = Duration::from_secs(2);

async fn bounded<T>(f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, CacheError> {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(r) => r.map_err(backend),
        Err(_) => Err(CacheError(format!("Redis did not answer within {DEADLINE:?}"))),
    }
}

async fn connect(url: &str) -> Result<ConnectionManager, CacheError> {
    let client = redis::Client::open(url).map_err(backend)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(3))
        .set_response_timeout(Duration::from_secs(3))
        .set_number_of_retries(2);
    ConnectionManager::new_with_config(client, config).await.map_err(backend)
}

/// Slots as `SET key token NX PX ttl`; released by a compare-and-delete
/// script so a slot that expired and was taken by someone else is never
/// released by its previous holder.
#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
}

const RELEASE: &str = r"if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

impl RedisLimiter {
    /// `ttl` bounds how long a slot survives a crashed holder.
    pub async fn connect(url: &str, prefix: &str, ttl: Duration) -> Result<Self, CacheError> {
        Ok(Self {
            conn: connect(url).await?,
            prefix: prefix.to_string(),
            ttl,
        })
    }
}

#[async_trait]
impl ConcurrencyLimiter for RedisLimiter {
    async fn try_acquire(&self, key: &str) -> Result<Option<SlotGuard>, CacheError> {
        let key = format!("{}:slot:{key}", self.prefix);
        let token = format!("{:032x}", rand::random::<u128>());
        let mut conn = self.conn.clone();
        let set: Option<String> = bounded(
            redis::cmd("SET")
                .arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(self.ttl.as_millis() as u64)
                .query_async(&mut conn),
        )
        .await?;
        if set.is_none() {
            return Ok(None);
        }
        let conn = self.conn.clone();
        Ok(Some(SlotGuard::new(move || async move {
            let mut conn = conn;
            let script = redis::Script::new(RELEASE);
            let released: Result<i64, _> = bounded(script.key(&key).arg(&token).invoke_async(&mut conn)).await;
            if let Err(e) = released {
                tracing::warn!(key, error = %e, "could not release a Redis slot; its TTL will");
            }
        })))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let _: String = bounded(redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

/// Hot thumbnails in Redis, each with a TTL.
#[derive(Clone)]
pub struct RedisBlobCache {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
}

impl RedisBlobCache {
    pub async fn connect(url: &str, prefix: &str, ttl: Duration) -> Result<Self, CacheError> {
        Ok(Self {
            conn: connect(url).await?,
            prefix: prefix.to_string(),
            ttl,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}:blob:{key}", self.prefix)
    }
}

#[async_trait]
impl BlobCache for RedisBlobCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let mut conn = self.conn.clone();
        let v: Option<Vec<u8>> = bounded(conn.get(self.key(key))).await?;
        Ok(v.map(Bytes::from))
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let _: () = bounded(conn.set_ex(self.key(key), value.as_ref(), self.ttl.as_secs().max(1))).await?;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let _: () = bounded(conn.del(self.key(key))).await?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn shared(&self) -> bool {
        true
    }
}

/// Sliding windows as sorted sets of event times (`ZADD`), trimmed and
/// counted in one script, so every API instance counts against the same
/// windows and a check and its count are atomic.
#[derive(Clone)]
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    prefix: String,
}

/// KEYS: the windows. ARGV: now (ms), window (ms), a unique member, then
/// one limit per key. Returns 0 when counted, else the seconds to wait.
const HIT: &str = r"
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local since = now - tonumber(oldest[2] or now)
    return math.floor(math.max(window - since, 0) / 1000) + 1
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return 0
";

impl RedisRateLimiter {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, CacheError> {
        Ok(Self { conn: connect(url).await?, prefix: prefix.to_string() })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, keys: &[(String, usize)], window: Duration) -> Result<Result<(), u64>, CacheError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let script = redis::Script::new(HIT);
        let mut invocation = script.prepare_invoke();
        for (key, _) in keys {
            invocation.key(format!("{}:rate:{key}", self.prefix));
        }
        invocation.arg(now_ms).arg(window.as_millis() as u64).arg(format!("{now_ms}-{:016x}", rand::random::<u64>()));
        for (_, limit) in keys {
            invocation.arg(*limit as u64);
        }
        let mut conn = self.conn.clone();
        let wait: u64 = bounded(invocation.invoke_async(&mut conn)).await?;
        Ok(if wait == 0 { Ok(()) } else { Err(wait) })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
