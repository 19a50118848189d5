//! Rate limits on account creation and login. The windows are the
//! `RateLimiter` of `photostream-cache`: in-process by default, in Redis
//! when the cache is (so the limits hold across API instances). (The
//! per-user download, upload and stream slots are its `ConcurrencyLimiter`.)

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use photostream_cache::{InProcessRateLimiter, RateLimiter};

use crate::error::ApiError;

/// Counts against `keys` in `store`: `Err(seconds)` to wait; a backend
/// failure is a 503, like any other shared-state outage.
async fn hit(store: &dyn RateLimiter, keys: &[(String, usize)], window: Duration) -> Result<Result<(), u64>, ApiError> {
    store.hit(keys, window).await.map_err(|e| ApiError::unavailable("rate limits", e))
}

/// Limits on login attempts against password guessing: per (username,
/// client address) and per client address. Never per username alone: then
/// anyone anywhere could lock the owner out by failing on purpose; here a
/// guesser exhausts only its own address's allowance.
pub struct LoginLimiter {
    per_user: usize,
    per_addr: usize,
    window: Duration,
    store: Arc<dyn RateLimiter>,
}

impl LoginLimiter {
    pub fn new(per_user: usize, per_addr: usize, window: Duration) -> Self {
        Self { per_user, per_addr, window, store: Arc::new(InProcessRateLimiter::default()) }
    }

    /// Counts from now on in `store` (shared by every instance).
    pub fn count_in(&mut self, store: Arc<dyn RateLimiter>) {
        self.store = store;
    }

    /// Records an attempt; `Err(seconds)` to wait when over either limit.
    /// `per_user` bounds one address's attempts at one username (or one
    /// username's, when the address is unknown); `per_addr` all of one
    /// address's attempts.
    pub async fn check(&self, username: &str, addr: Option<IpAddr>) -> Result<Result<(), u64>, ApiError> {
        let username = username.to_ascii_lowercase();
        let keys = match addr {
            Some(a) => vec![(format!("login:{username}@{a}"), self.per_user), (format!("login:@{a}"), self.per_addr)],
            None => vec![(format!("login:{username}"), self.per_user)],
        };
        hit(self.store.as_ref(), &keys, self.window).await
    }
}

/// Limits on sign-ups per client address, so one client cannot mint
/// throwaway accounts (to file reports, say) faster than `per_addr` per
/// window.
pub struct SignupLimiter {
    per_addr: usize,
    window: Duration,
    store: Arc<dyn RateLimiter>,
}

impl SignupLimiter {
    pub fn new(per_addr: usize, window: Duration) -> Self {
        Self { per_addr, window, store: Arc::new(InProcessRateLimiter::default()) }
    }

    /// Counts from now on in `store` (shared by every instance).
    pub fn count_in(&mut self, store: Arc<dyn RateLimiter>) {
        self.store = store;
    }

    /// Records a sign-up attempt; `Err(seconds)` to wait. Unknown addresses
    /// (no connection info: in-process callers) are not limited.
    pub async fn check(&self, addr: Option<IpAddr>) -> Result<Result<(), u64>, ApiError> {
        match addr {
            Some(a) => hit(self.store.as_ref(), &[(format!("signup:{a}"), self.per_addr)], self.window).await,
            None => Ok(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn login_limits() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check("alice", Some(ip)).await.unwrap().is_ok());
        }
        assert!(l.check("Alice", Some(ip)).await.unwrap().is_err(), "per username and address");
        let elsewhere: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(l.check("alice", Some(elsewhere)).await.unwrap().is_ok(), "the owner elsewhere is not locked out");
        assert!(l.check("bob", Some(ip)).await.unwrap().is_ok());
        assert!(l.check("carol", Some(ip)).await.unwrap().is_ok());
        assert!(l.check("dave", Some(ip)).await.unwrap().is_err(), "per address");
        assert!(l.check("erin", None).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn signup_limits() {
        let l = SignupLimiter::new(2, Duration::from_secs(3600));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(l.check(Some(ip)).await.unwrap().is_ok());
        assert!(l.check(Some(ip)).await.unwrap().is_ok());
        let wait = l.check(Some(ip)).await.unwrap().unwrap_err();
        assert!((3500..=3601).contains(&wait), "{wait}");
        assert!(l.check(Some("::1".parse().unwrap())).await.unwrap().is_ok(), "per address");
        assert!(l.check(None).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn instances_sharing_a_store_share_the_limits() {
        let store: Arc<dyn RateLimiter> = Arc::new(InProcessRateLimiter::default());
        let mut a = LoginLimiter::new(2, 10, Duration::from_secs(60));
        let mut b = LoginLimiter::new(2, 10, Duration::from_secs(60));
        a.count_in(store.clone());
        b.count_in(store);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(a.check("alice", Some(ip)).await.unwrap().is_ok());
        assert!(b.check("alice", Some(ip)).await.unwrap().is_ok());
        assert!(a.check("alice", Some(ip)).await.unwrap().is_err());
    }
}
