//! Rate limits on account creation and login, in-process per API instance.
//! (The per-user download, upload and stream slots are the
//! `ConcurrencyLimiter` of `photostream-cache`, in-process or in Redis.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sliding-window counters over string keys: an event is allowed when every
/// key it names is under its limit, and then counted against all of them.
struct SlidingWindow {
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SlidingWindow {
    fn new(window: Duration) -> Self {
        Self { window, events: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds)` to wait when any `(key, limit)` is at its limit.
    fn check(&self, keys: &[(String, usize)]) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.events.lock().expect("rate limiter poisoned");
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        for (key, limit) in keys {
            let q = map.entry(key.clone()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                q.pop_front();
            }
            if q.len() >= *limit {
                let wait = self.window.saturating_sub(now.duration_since(*q.front().expect("non-empty")));
                return Err(wait.as_secs() + 1);
            }
        }
        for (key, _) in keys {
            map.entry(key.clone()).or_default().push_back(now);
        }
        Ok(())
    }
}

/// Limits on login attempts against password guessing: per (username,
/// client address) and per client address. Never per username alone: then
/// anyone anywhere could lock the owner out by failing on purpose; here a
/// guesser exhausts only its own address's allowance.
pub struct LoginLimiter {
    per_user: usize,
    per_addr: usize,
    attempts: SlidingWindow,
}

impl LoginLimiter {
    pub fn new(per_user: usize, per_addr: usize, window: Duration) -> Self {
        Self { per_user, per_addr, attempts: SlidingWindow::new(window) }
    }

    /// Records an attempt; `Err(seconds)` to wait when over either limit.
    /// `per_user` bounds one address's attempts at one username (or one
    /// username's, when the address is unknown); `per_addr` all of one
    /// address's attempts.
    pub fn check(&self, username: &str, addr: Option<IpAddr>) -> Result<(), u64> {
        let username = username.to_ascii_lowercase();
        let keys = match addr {
            Some(a) => vec![(format!("{username}@{a}"), self.per_user), (format!("@{a}"), self.per_addr)],
            None => vec![(username, self.per_user)],
        };
        self.attempts.check(&keys)
    }
}

/// Limits on sign-ups per client address, so one client cannot mint
/// throwaway accounts (to file reports, say) faster than `per_addr` per
/// window.
pub struct SignupLimiter {
    per_addr: usize,
    signups: SlidingWindow,
}

impl SignupLimiter {
    pub fn new(per_addr: usize, window: Duration) -> Self {
        Self { per_addr, signups: SlidingWindow::new(window) }
    }

    /// Records a sign-up attempt; `Err(seconds)` to wait. Unknown addresses
    /// (no connection info: in-process callers) are not limited.
    pub fn check(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        match addr {
            Some(a) => self.signups.check(&[(a.to_string(), self.per_addr)]),
            None => Ok(()),
        }
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
        assert!(l.check("Alice", Some(ip)).is_err(), "per username and address");
        let elsewhere: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(l.check("alice", Some(elsewhere)).is_ok(), "the owner elsewhere is not locked out");
        assert!(l.check("bob", Some(ip)).is_ok());
        assert!(l.check("carol", Some(ip)).is_ok());
        assert!(l.check("dave", Some(ip)).is_err(), "per address");
        assert!(l.check("erin", None).is_ok());
    }

    #[test]
    fn signup_limits() {
        let l = SignupLimiter::new(2, Duration::from_secs(3600));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(l.check(Some(ip)).is_ok());
        assert!(l.check(Some(ip)).is_ok());
        let wait = l.check(Some(ip)).unwrap_err();
        assert!((3500..=3601).contains(&wait), "{wait}");
        assert!(l.check(Some("::1".parse().unwrap())).is_ok(), "per address");
        assert!(l.check(None).is_ok());
    }
}
