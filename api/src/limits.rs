//! Login rate limits. (The per-user download and upload slots are the
//! `ConcurrencyLimiter` of `photostream-cache`, in-process or in Redis.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
