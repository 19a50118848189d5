//! Events in a SQLite file beside the catalog (`analytics.db`).

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use photostream_types::PhotoId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::{Analytics, AnalyticsError, AnalyticsEvent, EventKind, Result, Scope};

pub struct EmbeddedAnalytics {
    pool: SqlitePool,
}

fn backend(e: impl std::fmt::Display) -> AnalyticsError {
    AnalyticsError::Backend(e.to_string())
}

impl EmbeddedAnalytics {
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(backend)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS events (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                photo_id TEXT NOT NULL,
                user_id TEXT,
                owner_id TEXT,
                at_ms BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                format TEXT
            )",
        )
        .execute(&pool)
        .await
        .map_err(backend)?;
        for index in [
            "CREATE INDEX IF NOT EXISTS events_photo ON events (photo_id, kind)",
            "CREATE INDEX IF NOT EXISTS events_owner ON events (owner_id, kind, at_ms)",
        ] {
            sqlx::query(index).execute(&pool).await.map_err(backend)?;
        }
        Ok(Self { pool })
    }
}

#[async_trait]
impl Analytics for EmbeddedAnalytics {
    async fn record(&self, events: &[AnalyticsEvent]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for e in events {
            sqlx::query(
                "INSERT INTO events (id, kind, photo_id, user_id, owner_id, at_ms, bytes, format)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            )
            .bind(e.id.as_str())
            .bind(e.kind.as_str())
            .bind(e.photo_id.as_str())
            .bind(e.user_id.as_ref().map(|u| u.to_string()))
            .bind(e.owner_id.as_ref().map(|u| u.to_string()))
            .bind(e.at_ms)
            .bind(e.bytes)
            .bind(e.format.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn count(&self, photo: &PhotoId, kind: EventKind) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE photo_id = ? AND kind = ?")
            .bind(photo.as_str())
            .bind(kind.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.get::<i64, _>("n") as u64)
    }

    async fn daily(&self, kind: EventKind, scope: &Scope, since_ms: i64) -> Result<Vec<(String, u64)>> {
        let (col, value) = match scope {
            Scope::Photo(p) => ("photo_id", p.to_string()),
            Scope::Owner(u) => ("owner_id", u.to_string()),
        };
        let rows = sqlx::query(&format!(
            "SELECT date(at_ms / 1000, 'unixepoch') AS day, COUNT(*) AS n FROM events
             WHERE kind = ? AND {col} = ? AND at_ms >= ? GROUP BY day ORDER BY day"
        ))
        .bind(kind.as_str())
        .bind(value)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>("day"), r.get::<i64, _>("n") as u64)).collect())
    }

    async fn top(&self, kind: EventKind, since_ms: i64, limit: u64) -> Result<Vec<(PhotoId, u64)>> {
        let rows = sqlx::query(
            "SELECT photo_id, COUNT(*) AS n FROM events WHERE kind = ? AND at_ms >= ?
             GROUP BY photo_id ORDER BY n DESC, photo_id LIMIT ?",
        )
        .bind(kind.as_str())
        .bind(since_ms)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get::<String, _>("photo_id").parse().ok()?, r.get::<i64, _>("n") as u64)))
            .collect())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(backend)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use photostream_types::{EventId, UserId};

    #[tokio::test]
    async fn redelivered_events_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = EmbeddedAnalytics::open(&dir.path().join("a.db")).await.unwrap();
        let photo = PhotoId::new();
        let e = AnalyticsEvent {
            id: EventId::new(),
            kind: EventKind::Upload,
            photo_id: photo.clone(),
            user_id: Some(UserId::new()),
            owner_id: None,
            at_ms: 1,
            bytes: 10,
            format: Some("jpeg".into()),
            tags: vec![],
        };
        a.record(&[e.clone()]).await.unwrap();
        a.record(&[e.clone(), e.clone()]).await.unwrap();
        assert_eq!(a.count(&photo, EventKind::Upload).await.unwrap(), 1);
        assert_eq!(a.count(&photo, EventKind::View).await.unwrap(), 0);
        a.ping().await.unwrap();
    }
}
