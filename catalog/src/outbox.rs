//! The transactional outbox: stream records written in the same transaction
//! as the catalog change that caused them, then relayed to the stream.

use photostream_types::{now_ms, EventId};
use sqlx::{Any, Transaction};

use crate::{get, Catalog, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: EventId,
    pub created_ms: i64,
    pub topic: String,
    pub key: String,
    /// The serialised stream envelope.
    pub payload: String,
}

impl OutboxEntry {
    pub fn new(id: EventId, topic: &str, key: &str, payload: String) -> Self {
        Self {
            id,
            created_ms: now_ms(),
            topic: topic.to_string(),
            key: key.to_string(),
            payload,
        }
    }

    pub(crate) async fn insert(&self, tx: &mut Transaction<'_, Any>) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox (id, created_ms, topic, msg_key, payload) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(self.id.as_str())
        .bind(self.created_ms)
        .bind(&self.topic)
        .bind(&self.key)
        .bind(&self.payload)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Catalog {
    /// The oldest `limit` records not yet relayed.
    pub async fn outbox_pending(&self, limit: i64) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query("SELECT * FROM outbox ORDER BY created_ms, id LIMIT $1")
            .bind(limit)
            .fetch_all(&mut self.conn().await?)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    id: crate::parse(get::<String>(r, "id")?)?,
                    created_ms: get(r, "created_ms")?,
                    topic: get(r, "topic")?,
                    key: get(r, "msg_key")?,
                    payload: get(r, "payload")?,
                })
            })
            .collect()
    }

    /// How many records wait to be relayed.
    pub async fn outbox_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox").fetch_one(&mut self.conn().await?).await?;
        get(&row, "n")
    }

    /// Forgets a relayed record.
    pub async fn outbox_remove(&self, id: &EventId) -> Result<()> {
        self.outbox_remove_many(std::slice::from_ref(id)).await
    }

    /// Forgets relayed records, in one statement (one commit for a batch
    /// the relay moved).
    pub async fn outbox_remove_many(&self, ids: &[EventId]) -> Result<()> {
        for chunk in ids.chunks(500) {
            // Numbered placeholders: sqlx's QueryBuilder over `Any` writes
            // `?`, which PostgreSQL refuses.
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("DELETE FROM outbox WHERE id IN ({})", marks.join(", "));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            q.execute(&mut self.conn().await?).await?;
        }
        Ok(())
    }
}
