//! One contract per trait, run in-process and against Redis
//! (`TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; unreachable is a
//! failure, not a skip).

use std::time::Duration;

use bytes::Bytes;
use photostream_cache::{BlobCache, ConcurrencyLimiter, InProcessLimiter, MemoryBlobCache, RedisBlobCache, RedisLimiter};

async fn limiter_contract(a: &dyn ConcurrencyLimiter, b: &dyn ConcurrencyLimiter) {
    a.ping().await.unwrap();
    let slot = a.try_acquire("download:u1").await.unwrap().expect("free slot");
    // Held: refused through either handle (two API instances).
    assert!(a.try_acquire("download:u1").await.unwrap().is_none());
    assert!(b.try_acquire("download:u1").await.unwrap().is_none());
    let other = b.try_acquire("download:u2").await.unwrap().expect("other key is free");
    drop(slot);
    // Release may be asynchronous (Redis): wait for it.
    let start = std::time::Instant::now();
    let again = loop {
        if let Some(s) = b.try_acquire("download:u1").await.unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "slot never released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    drop((again, other));
}

async fn cache_contract(c: &dyn BlobCache) {
    assert_eq!(c.get("a/default/thumbnail/x.jpg").await.unwrap(), None);
    c.put("a/default/thumbnail/x.jpg", Bytes::from_static(b"jpeg bytes")).await.unwrap();
    assert_eq!(c.get("a/default/thumbnail/x.jpg").await.unwrap().as_deref(), Some(&b"jpeg bytes"[..]));
    c.remove("a/default/thumbnail/x.jpg").await.unwrap();
    assert_eq!(c.get("a/default/thumbnail/x.jpg").await.unwrap(), None);
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn prefix() -> String {
    format!("pstest-{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[tokio::test]
async fn in_process_meets_the_contracts() {
    let l = std::sync::Arc::new(InProcessLimiter::default());
    limiter_contract(l.as_ref(), l.as_ref()).await;
    cache_contract(&MemoryBlobCache::new(1 << 20)).await;
}

#[tokio::test]
async fn redis_meets_the_contracts() {
    let p = prefix();
    let url = redis_url();
    let connect = || RedisLimiter::connect(&url, &p, Duration::from_secs(60));
    let a = connect().await.unwrap_or_else(|e| panic!("Redis at {} is required: {e}", redis_url()));
    let b = connect().await.unwrap();
    limiter_contract(&a, &b).await;
    let c = RedisBlobCache::connect(&redis_url(), &p, Duration::from_secs(60)).await.unwrap();
    cache_contract(&c).await;
    // A crashed holder's slot expires with its TTL.
    let short = RedisLimiter::connect(&redis_url(), &p, Duration::from_millis(300)).await.unwrap();
    let held = short.try_acquire("upload:crashed").await.unwrap().unwrap();
    std::mem::forget(held);
    assert!(short.try_acquire("upload:crashed").await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(short.try_acquire("upload:crashed").await.unwrap().is_some());
    println!("cache contract: ran against Redis at {}", redis_url());
}

async fn rate_contract(a: &dyn photostream_cache::RateLimiter, b: &dyn photostream_cache::RateLimiter, p: &str) {
    let window = Duration::from_secs(60);
    let (user, addr) = (format!("{p}:login:alice@127.0.0.1"), format!("{p}:login:@127.0.0.1"));
    let both = [(user.clone(), 2), (addr.clone(), 3)];
    assert_eq!(a.hit(&both, window).await.unwrap(), Ok(()));
    // Counted through either handle (two API instances).
    assert_eq!(b.hit(&both, window).await.unwrap(), Ok(()));
    let wait = a.hit(&both, window).await.unwrap().unwrap_err();
    assert!((1..=61).contains(&wait), "{wait}");
    // A refused event counts against none of its keys: the address has
    // room for exactly one more.
    assert_eq!(b.hit(&[(addr.clone(), 3)], window).await.unwrap(), Ok(()));
    assert!(b.hit(&[(addr, 3)], window).await.unwrap().is_err());
    // Windows slide.
    let short = [(format!("{p}:signup:192.0.2.1"), 1)];
    assert_eq!(a.hit(&short, Duration::from_millis(300)).await.unwrap(), Ok(()));
    assert!(a.hit(&short, Duration::from_millis(300)).await.unwrap().is_err());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.hit(&short, Duration::from_millis(300)).await.unwrap(), Ok(()));
}

#[tokio::test]
async fn in_process_rate_limits_meet_the_contract() {
    let l = photostream_cache::InProcessRateLimiter::default();
    rate_contract(&l, &l, &prefix()).await;
}

#[tokio::test]
async fn redis_rate_limits_meet_the_contract() {
    let (p, url) = (prefix(), redis_url());
    let a = photostream_cache::RedisRateLimiter::connect(&url, &p)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} is required: {e}"));
    let b = photostream_cache::RedisRateLimiter::connect(&url, &p).await.unwrap();
    rate_contract(&a, &b, &p).await;
}
