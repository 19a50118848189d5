//! Analytics events: what happened to which photo, for analysts.
//!
//! The [`Analytics`] trait records events idempotently (deduplicated by
//! event id, so at-least-once delivery never double counts) and answers the
//! few aggregate questions the API needs. The embedded backend keeps events
//! in a SQLite file of its own; the distributed one is ClickHouse
//! ([`ClickHouseAnalytics`], schema and example queries in `docs/analytics.md`).

mod clickhouse_backend;
mod embedded;

use async_trait::async_trait;
use photostream_types::{EventId, PhotoId, UserId};
use serde::{Deserialize, Serialize};

pub use clickhouse_backend::ClickHouseAnalytics;
pub use embedded::EmbeddedAnalytics;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("analytics backend error: {0}")]
    Backend(String),
}

pub type Result<T, E = AnalyticsError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Upload,
    View,
    Download,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::View => "view",
            Self::Download => "download",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyticsEvent {
    /// The stream event id: recording the same id twice counts once.
    pub id: EventId,
    pub kind: EventKind,
    pub photo_id: PhotoId,
    /// Who acted (the uploader, the viewer), if known.
    pub user_id: Option<UserId>,
    /// Whose photo it is (for per-owner statistics).
    #[serde(default)]
    pub owner_id: Option<UserId>,
    pub at_ms: i64,
    pub bytes: i64,
    pub format: Option<String>,
    /// The photo's tags at the time (uploads), for "top tags" reports.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Which events a statistic covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Photo(PhotoId),
    /// Every photo of this owner.
    Owner(UserId),
}

#[async_trait]
pub trait Analytics: Send + Sync + 'static {
    /// Records events; already-recorded ids are ignored.
    async fn record(&self, events: &[AnalyticsEvent]) -> Result<()>;
    /// How many events of `kind` exist for `photo`.
    async fn count(&self, photo: &PhotoId, kind: EventKind) -> Result<u64>;
    /// Events of `kind` in `scope` per UTC day (`YYYY-MM-DD`), oldest first,
    /// from `since_ms` on; each event counted once.
    async fn daily(&self, kind: EventKind, scope: &Scope, since_ms: i64) -> Result<Vec<(String, u64)>>;
    /// The photos with the most events of `kind` since `since_ms`, most first.
    async fn top(&self, kind: EventKind, since_ms: i64, limit: u64) -> Result<Vec<(PhotoId, u64)>>;
    async fn ping(&self) -> Result<()>;
    fn kind(&self) -> &'static str;
}
