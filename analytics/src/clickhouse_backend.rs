//! ClickHouse backend: `clickhouse+http://host:8123[/database]`.
//!
//! Raw events go to `events` (ReplacingMergeTree partitioned by month,
//! ordered by kind, photo and event id, so a redelivered event collapses
//! into one row on merge). Every count uses `uniqExact(event_id)`, and the
//! materialized views keep `uniqExactState(event_id)`, so duplicates from
//! at-least-once delivery are never counted twice, merged or not.
//!
//! The SQL sticks to what ClickHouse 18.16 (Debian's package) and current
//! releases both run. The client is used with validation off and without
//! compression, and without server-side parameters, for the same reason.

use async_trait::async_trait;
use clickhouse::{Client, Row};
use photostream_types::PhotoId;
use serde::{Deserialize, Serialize};

use crate::{Analytics, AnalyticsError, AnalyticsEvent, EventKind, Result, Scope};

fn backend(e: impl std::fmt::Display) -> AnalyticsError {
    AnalyticsError::Backend(e.to_string())
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct EventRow {
    event_id: String,
    kind: String,
    photo_id: String,
    user_id: String,
    owner_id: String,
    /// DateTime: seconds since the epoch.
    at: u32,
    bytes: i64,
    format: String,
    tags: Vec<String>,
}

pub struct ClickHouseAnalytics {
    client: Client,
    database: String,
}

/// The schema, in order. `{db}` is replaced by the database name.
pub const SCHEMA: &[&str] = &[
    "CREATE DATABASE IF NOT EXISTS {db}",
    "CREATE TABLE IF NOT EXISTS {db}.events (
        event_id String,
        kind String,
        photo_id String,
        user_id String,
        owner_id String,
        at DateTime,
        bytes Int64,
        format String,
        tags Array(String)
    ) ENGINE = ReplacingMergeTree()
    PARTITION BY toYYYYMM(at)
    ORDER BY (kind, photo_id, event_id)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.daily_photo_views
    ENGINE = AggregatingMergeTree()
    PARTITION BY toYYYYMM(day)
    ORDER BY (photo_id, day)
    AS SELECT photo_id, toDate(at) AS day, uniqExactState(event_id) AS views
    FROM {db}.events WHERE kind = 'view'
    GROUP BY photo_id, day",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.daily_uploads
    ENGINE = AggregatingMergeTree()
    PARTITION BY toYYYYMM(day)
    ORDER BY day
    AS SELECT toDate(at) AS day, uniqExactState(event_id) AS uploads
    FROM {db}.events WHERE kind = 'upload'
    GROUP BY day",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.daily_tags
    ENGINE = AggregatingMergeTree()
    PARTITION BY toYYYYMM(day)
    ORDER BY (tag, day)
    AS SELECT tag, toDate(at) AS day, uniqExactState(event_id) AS uses
    FROM {db}.events ARRAY JOIN tags AS tag WHERE kind = 'upload'
    GROUP BY tag, day",
];

impl ClickHouseAnalytics {
    /// Connects to `url` (`clickhouse+http://host:8123[/database]`, database
    /// `photostream` by default) and creates the schema if needed.
    pub async fn connect(url: &str) -> Result<Self> {
        let http = url
            .strip_prefix("clickhouse+")
            .ok_or_else(|| backend(format!("not a clickhouse+http URL: {url}")))?;
        let (base, database) = match http.split_once("://").and_then(|(s, rest)| {
            rest.split_once('/').map(|(host, db)| (format!("{s}://{host}"), db.trim_matches('/').to_string()))
        }) {
            Some((base, db)) if !db.is_empty() => (base, db),
            _ => (http.trim_end_matches('/').to_string(), "photostream".to_string()),
        };
        if !database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(backend(format!("invalid database name {database:?}")));
        }
        let client = Client::default().with_url(&base).with_validation(false);
        for stmt in SCHEMA {
            client
                .query(&stmt.replace("{db}", &database))
                .execute()
                .await
                .map_err(backend)?;
        }
        Ok(Self {
            client: client.with_database(&database),
            database,
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// Views per day for a photo, deduplicated (from the materialized view).
    pub async fn daily_views(&self, photo: &PhotoId) -> Result<Vec<(u16, u64)>> {
        self.client
            .query(
                "SELECT day, uniqExactMerge(views) AS n FROM daily_photo_views
                 WHERE photo_id = ? GROUP BY day ORDER BY day",
            )
            .bind(photo.as_str())
            .fetch_all::<(u16, u64)>()
            .await
            .map_err(backend)
    }

    /// The most used tags over all time, deduplicated.
    pub async fn top_tags(&self, limit: u64) -> Result<Vec<(String, u64)>> {
        self.client
            .query(
                "SELECT tag, uniqExactMerge(uses) AS n FROM daily_tags
                 GROUP BY tag ORDER BY n DESC, tag LIMIT ?",
            )
            .bind(limit)
            .fetch_all::<(String, u64)>()
            .await
            .map_err(backend)
    }

    /// Uploads per day, deduplicated.
    pub async fn daily_uploads(&self) -> Result<Vec<(u16, u64)>> {
        self.client
            .query("SELECT day, uniqExactMerge(uploads) AS n FROM daily_uploads GROUP BY day ORDER BY day")
            .fetch_all::<(u16, u64)>()
            .await
            .map_err(backend)
    }
}

#[async_trait]
impl Analytics for ClickHouseAnalytics {
    /// One INSERT per call: callers batch (the analytics processor hands
    /// over up to a few hundred events at a time).
    async fn record(&self, events: &[AnalyticsEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = self.client.insert::<EventRow>("events").await.map_err(backend)?;
        for e in events {
            insert
                .write(&EventRow {
                    event_id: e.id.to_string(),
                    kind: e.kind.as_str().to_string(),
                    photo_id: e.photo_id.to_string(),
                    user_id: e.user_id.as_ref().map(|u| u.to_string()).unwrap_or_default(),
                    owner_id: e.owner_id.as_ref().map(|u| u.to_string()).unwrap_or_default(),
                    at: (e.at_ms / 1000).clamp(0, u32::MAX as i64) as u32,
                    bytes: e.bytes,
                    format: e.format.clone().unwrap_or_default(),
                    tags: e.tags.clone(),
                })
                .await
                .map_err(backend)?;
        }
        insert.end().await.map_err(backend)
    }

    async fn count(&self, photo: &PhotoId, kind: EventKind) -> Result<u64> {
        self.client
            .query("SELECT uniqExact(event_id) FROM events WHERE photo_id = ? AND kind = ?")
            .bind(photo.as_str())
            .bind(kind.as_str())
            .fetch_one::<u64>()
            .await
            .map_err(backend)
    }

    async fn daily(&self, kind: EventKind, scope: &Scope, since_ms: i64) -> Result<Vec<(String, u64)>> {
        let (col, value) = match scope {
            Scope::Photo(p) => ("photo_id", p.to_string()),
            Scope::Owner(u) => ("owner_id", u.to_string()),
        };
        self.client
            .query(&format!(
                "SELECT toString(toDate(at)) AS day, uniqExact(event_id) AS n FROM events
                 WHERE kind = ? AND {col} = ? AND at >= toDateTime(?) GROUP BY day ORDER BY day"
            ))
            .bind(kind.as_str())
            .bind(value)
            .bind((since_ms / 1000).max(0) as u32)
            .fetch_all::<(String, u64)>()
            .await
            .map_err(backend)
    }

    async fn top(&self, kind: EventKind, since_ms: i64, limit: u64) -> Result<Vec<(PhotoId, u64)>> {
        let rows = self
            .client
            .query(
                "SELECT photo_id, uniqExact(event_id) AS n FROM events
                 WHERE kind = ? AND at >= toDateTime(?) GROUP BY photo_id ORDER BY n DESC, photo_id LIMIT ?",
            )
            .bind(kind.as_str())
            .bind((since_ms / 1000).max(0) as u32)
            .bind(limit)
            .fetch_all::<(String, u64)>()
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().filter_map(|(p, n)| Some((p.parse().ok()?, n))).collect())
    }

    async fn ping(&self) -> Result<()> {
        self.client.query("SELECT 1").fetch_one::<u8>().await.map_err(backend)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "clickhouse"
    }
}
