//! Per-user concurrency limits and login rate limits.
//!
//! The design allows one original download and one upload in flight per
//! user; a second concurrent one gets 429 with `Retry-After`. The limiter is
//! a trait so the distributed deployment can hold slots in Redis (one limit
//! across every API instance); [`InProcessLimiter`] serves one process.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// Holds a slot until dropped (response body fully sent, client gone, or
/// handler finished).
pub struct SlotGuard {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl SlotGuard {
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            release: Some(Box::new(release)),
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(f) = self.release.take() {
            f();
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("limiter backend error: {0}")]
pub struct LimiterError(pub String);

#[async_trait]
pub trait ConcurrencyLimiter: Send + Sync + 'static {
    /// Takes the single slot named `key`, or `None` if it is held.
    async fn try_acquire(&self, key: &str) -> Result<Option<SlotGuard>, LimiterError>;
    fn kind(&self) -> &'static str;
}

/// Slots in this process's memory.
#[derive(Default)]
pub struct InProcessLimiter {
    held: Arc<Mutex<HashSet<String>>>,
}

#[async_trait]
impl ConcurrencyLimiter for InProcessLimiter {
    async fn try_acquire(&self, key: &str) -> Result<Option<SlotGuard>, LimiterError> {
        let mut held = self.held.lock().expect("limiter poisoned");
        if !held.insert(key.to_string()) {
            return Ok(None);
        }
        let set = self.held.clone();
        let key = key.to_string();
        Ok(Some(SlotGuard::new(move || {
            set.lock().expect("limiter poisoned").remove(&key);
        })))
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}

/// Sliding-window limits on login attempts, per username and per client
/// address, against password guessing.
pub struct LoginLimiter {
    per_user: usize,
    per_addr: usize,
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(per_user: usize, per_addr: usize, window: Duration) -> Self {
        Self {
            per_user,
            per_addr,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Records an attempt; `Err(seconds)` to wait when over either limit.
    pub fn check(&self, username: &str, addr: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.attempts.lock().expect("login limiter poisoned");
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let mut keys = vec![(format!("u:{}", username.to_ascii_lowercase()), self.per_user)];
        if let Some(a) = addr {
            keys.push((format!("a:{a}"), self.per_addr));
        }
        for (key, limit) in &keys {
            let q = map.entry(key.clone()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                q.pop_front();
            }
            if q.len() >= *limit {
                let wait = self.window - now.duration_since(*q.front().expect("non-empty"));
                return Err(wait.as_secs() + 1);
            }
        }
        for (key, _) in keys {
            map.entry(key).or_default().push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_slot_per_key_released_on_drop() {
        let l = InProcessLimiter::default();
        let a = l.try_acquire("download:u1").await.unwrap().unwrap();
        assert!(l.try_acquire("download:u1").await.unwrap().is_none());
        assert!(l.try_acquire("download:u2").await.unwrap().is_some());
        drop(a);
        assert!(l.try_acquire("download:u1").await.unwrap().is_some());
    }

    #[test]
    fn login_limits() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check("alice", Some(ip)).is_ok());
        }
        assert!(l.check("Alice", Some(ip)).is_err(), "per username");
        assert!(l.check("bob", Some(ip)).is_ok());
        assert!(l.check("carol", Some(ip)).is_ok());
        assert!(l.check("dave", Some(ip)).is_err(), "per address");
        assert!(l.check("erin", None).is_ok());
    }
}
