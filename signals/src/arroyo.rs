//! The Arroyo-backed implementation: the pipelines of `deploy/arroyo/*.sql`
//! read the stream (NATS JetStream) themselves and write each closed window
//! to Redis hashes; this side only reads them. The layout, one hash per
//! window or per counted thing (`{prefix}` is `signals.redis_prefix`):
//!
//! | pipeline | key | field | value (JSON row) |
//! |---|---|---|---|
//! | `trending.sql` | `{prefix}:trending:{window_end_ms}` | photo id | `score` |
//! | `live_views_photo.sql` | `{prefix}:views:photo:{photo_id}` | window end (ms) | `views` |
//! | `live_views_owner.sql` | `{prefix}:views:owner:{owner_id}` | window end (ms) | `views` |
//! | `abuse_uploads.sql`, `abuse_comments.sql` | `{prefix}:rate:{action}:{window_end_ms}` | user id | `n` |
//!
//! Reports are not on the stream (the catalog records them), so their rate
//! is counted in-process by an embedded window, as the embedded backend does.
//! Arroyo's Redis sink sets no expiry on hashes; every key this side reads
//! is given one, so windows nobody asks about again go away.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use photostream_types::UserId;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::window::WindowSpec;
use crate::{
    Action, At, EmbeddedSignals, LiveViews, Result, SignalEvent, SignalKind, Signals,
    SignalsConfig, SignalsError, Trending, ViewScope,
};

/// Every Redis round trip is bounded: an outage costs a request at most this.
const DEADLINE: Duration = Duration::from_secs(2);
/// How many hops back `At::Latest` looks for the newest emitted window.
const LOOK_BACK: i64 = 5;
/// The live counters also answer for the last hour of minutes.
const LIVE_SPAN_MS: i64 = 3_600_000;

fn backend(e: impl std::fmt::Display) -> SignalsError {
    SignalsError::Backend(e.to_string())
}

async fn bounded<T>(f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T> {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(r) => r.map_err(backend),
        Err(_) => Err(SignalsError::Backend(format!(
            "Redis did not answer within {DEADLINE:?}"
        ))),
    }
}

#[derive(Clone)]
pub struct ArroyoSignals {
    config: SignalsConfig,
    redis: ConnectionManager,
    /// Report rates (reports are not on the stream).
    reports: std::sync::Arc<EmbeddedSignals>,
}

impl ArroyoSignals {
    /// `url` is `redis://host:6379[/db]` (an `arroyo+` scheme prefix is
    /// accepted and dropped).
    pub async fn connect(url: &str, config: SignalsConfig) -> Result<Self> {
        let url = url.strip_prefix("arroyo+").unwrap_or(url);
        let client = redis::Client::open(url).map_err(backend)?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(3))
            .set_response_timeout(Duration::from_secs(3))
            .set_number_of_retries(2);
        let redis = bounded(ConnectionManager::new_with_config(client, manager)).await?;
        let reports = std::sync::Arc::new(EmbeddedSignals::new(config.clone()));
        Ok(Self {
            config,
            redis,
            reports,
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.config.redis_prefix)
    }

    /// The ends to try for `At::Latest`: the newest window that can have
    /// closed (the watermark trails now by the lateness), then older ones.
    fn candidate_ends(&self, at: At, spec: WindowSpec) -> Vec<i64> {
        match at {
            At::WindowEnd(end) => vec![end],
            At::Latest => {
                let newest =
                    spec.closed_end(photostream_types::now_ms() - self.config.lateness_ms());
                (0..=LOOK_BACK).map(|k| newest - k * spec.hop_ms).collect()
            }
        }
    }

    /// Keeps a key read here for `ttl` more (the sink never expires them).
    async fn keep_for(&self, key: &str, ttl: Duration) {
        let mut r = self.redis.clone();
        let _: Result<bool> = bounded(r.expire(key, ttl.as_secs().max(1) as i64)).await;
    }
}

/// A number out of a JSON row the sink wrote (`{"score": 1.5, …}`).
fn field_of(row: &str, name: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(row).ok()?;
    match &v[name] {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[async_trait]
impl Signals for ArroyoSignals {
    async fn record(&self, events: &[SignalEvent]) -> Result<()> {
        // Everything but reports reaches Arroyo through the stream.
        let reports: Vec<SignalEvent> = events
            .iter()
            .filter(|e| e.kind == SignalKind::Report)
            .cloned()
            .collect();
        if !reports.is_empty() {
            self.reports.record(&reports).await?;
        }
        Ok(())
    }

    async fn trending(&self, at: At, limit: usize) -> Result<Trending> {
        let spec = self.config.trending_spec();
        let ends = self.candidate_ends(at, spec);
        for end in &ends {
            let key = self.key(&format!("trending:{end}"));
            let mut r = self.redis.clone();
            let rows: HashMap<String, String> = bounded(r.hgetall(&key)).await?;
            if rows.is_empty() {
                continue;
            }
            self.keep_for(&key, Duration::from_millis(2 * spec.size_ms as u64))
                .await;
            let scores = rows
                .into_iter()
                .filter_map(|(photo, row)| Some((photo.parse().ok()?, field_of(&row, "score")?)))
                .collect();
            let photos = crate::window::top(scores, limit.min(self.config.trending_top));
            return Ok(Trending {
                window_end_ms: *end,
                photos,
            });
        }
        Ok(Trending {
            window_end_ms: ends[0],
            photos: Vec::new(),
        })
    }

    async fn live_views(&self, scope: &ViewScope, at: At) -> Result<LiveViews> {
        let spec = self.config.live_spec();
        let end = self.candidate_ends(at, spec)[0];
        let key = match scope {
            ViewScope::Photo(p) => self.key(&format!("views:photo:{p}")),
            ViewScope::Owner(o) => self.key(&format!("views:owner:{o}")),
        };
        let mut r = self.redis.clone();
        let rows: HashMap<String, String> = bounded(r.hgetall(&key)).await?;
        let mut views = LiveViews {
            window_end_ms: end,
            last_minute: 0,
            last_hour: 0,
        };
        for (window_end, row) in rows {
            let (Ok(e), Some(n)) = (window_end.parse::<i64>(), field_of(&row, "views")) else {
                continue;
            };
            if e == end {
                views.last_minute = n as u64;
            }
            if e <= end && e > end - LIVE_SPAN_MS {
                views.last_hour += n as u64;
            }
        }
        self.keep_for(&key, Duration::from_secs(2 * 86_400)).await;
        Ok(views)
    }

    async fn rate(&self, user: &UserId, action: Action, at: At) -> Result<u64> {
        if action == Action::Report {
            return self.reports.rate(user, action, at).await;
        }
        let spec = self.config.abuse_spec();
        let end = self.candidate_ends(at, spec)[0];
        let key = self.key(&format!("rate:{}:{end}", action.as_str()));
        let mut r = self.redis.clone();
        let row: Option<String> = bounded(r.hget(&key, user.to_string())).await?;
        self.keep_for(&key, Duration::from_millis(2 * spec.size_ms as u64))
            .await;
        Ok(row
            .and_then(|row| field_of(&row, "n"))
            .map_or(0, |n| n as u64))
    }

    async fn ping(&self) -> Result<()> {
        let mut r = self.redis.clone();
        let _: String = bounded(redis::cmd("PING").query_async(&mut r)).await?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "arroyo"
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn rows_are_read_whether_numbers_or_strings() {
        assert_eq!(
            field_of(r#"{"score": 1.5, "photo_id": "x"}"#, "score"),
            Some(1.5)
        );
        assert_eq!(field_of(r#"{"views": "7"}"#, "views"), Some(7.0));
        assert_eq!(field_of(r#"{"n": null}"#, "n"), None);
        assert_eq!(field_of("not json", "n"), None);
    }
}
