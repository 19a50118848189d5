//! The audit log: every hold, decision and moderator's look at a photo.

use photostream_types::{now_ms, PhotoId, UserId, Username};
use serde_json::Value;
use sqlx::any::AnyRow;

use super::{json, new_id, Subject, Tx};
use crate::pagination::{bind_all, finish_page, keyset_clause, Bind, Direction, Keyset};
use crate::parse;
use crate::{get, Catalog, CatalogError, Result};

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: String,
    pub item_id: String,
    pub photo_id: PhotoId,
    pub comment_id: Option<String>,
    /// None: the automatic checks decided.
    pub actor: Option<Username>,
    /// `hold`, `approve` or `reject`.
    pub action: String,
    pub note: Option<String>,
    pub findings: Value,
    pub block_similar: bool,
    pub created_ms: i64,
}

impl AuditEntry {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: get(r, "id")?,
            item_id: get(r, "item_id")?,
            photo_id: parse(get::<String>(r, "photo_id")?)?,
            comment_id: get(r, "comment_id")?,
            actor: get::<Option<String>>(r, "actor")?
                .map(|u| Username::parse(&u).map_err(|e| CatalogError::Corrupt(e.0)))
                .transpose()?,
            action: get(r, "action")?,
            note: get(r, "note")?,
            findings: json(&get::<String>(r, "findings")?)?,
            block_similar: get::<i64>(r, "block_similar")? != 0,
            created_ms: get(r, "created_ms")?,
        })
    }

    pub fn keyset(&self) -> Keyset {
        Keyset { created_ms: self.created_ms, id: self.id.clone() }
    }
}

impl Catalog {
    pub(super) async fn audit(
        tx: &mut Tx<'_>,
        item: &str,
        subject: &Subject,
        actor: Option<&UserId>,
        action: &str,
        note: Option<&str>,
        findings: &Value,
        block_similar: bool,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO moderation_audit (id, item_id, photo_id, comment_id, actor_id, action, note, findings,
                block_similar, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new_id())
        .bind(item)
        .bind(subject.photo().as_str())
        .bind(subject.comment())
        .bind(actor.map(|a| a.to_string()))
        .bind(action)
        .bind(note)
        .bind(findings.to_string())
        .bind(block_similar as i64)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Audits a moderator's look at `photo` through review (`what`: its
    /// page, original, …): action `view` under the item it is reviewed
    /// under (the pending one, else the latest).
    pub async fn audit_view(&self, photo: &PhotoId, moderator: &UserId, what: &str) -> Result<()> {
        // Read before the transaction: on SQLite a transaction that reads
        // and then writes fails at once (SQLITE_BUSY, no busy wait) when
        // another connection committed in between; one that starts with its
        // write waits its turn.
        let row = sqlx::query(
            "SELECT id FROM moderation_items WHERE photo_id = $1
             ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, created_ms DESC LIMIT 1",
        )
        .bind(photo.as_str())
        .fetch_optional(&mut self.conn().await?)
        .await?;
        let item = match row {
            Some(r) => get::<String>(&r, "id")?,
            None => String::new(),
        };
        let mut tx = self.begin().await?;
        let note = format!("viewed {what}");
        Self::audit(&mut tx, &item, &Subject::Photo(photo.clone()), Some(moderator), "view", Some(&note), &serde_json::json!([]), false)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit log, newest first, optionally of one photo and/or one
    /// action (`view`: moderators' looks at photos through review).
    pub async fn moderation_audit(
        &self,
        photo: Option<&PhotoId>,
        action: Option<&str>,
        direction: &Direction,
        limit: i64,
    ) -> Result<(Vec<AuditEntry>, bool)> {
        let mut binds = Vec::new();
        let mut sql = "SELECT m.*, u.username AS actor FROM moderation_audit m LEFT JOIN users u ON u.id = m.actor_id
             WHERE 1 = 1"
            .to_string();
        if let Some(p) = photo {
            binds.push(Bind::Text(p.to_string()));
            sql += &format!(" AND m.photo_id = ${}", binds.len());
        }
        if let Some(a) = action {
            binds.push(Bind::Text(a.to_string()));
            sql += &format!(" AND m.action = ${}", binds.len());
        }
        sql += &keyset_clause(direction, "m.created_ms", "m.id", limit, &mut binds);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let items = rows.iter().map(AuditEntry::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }

    /// When a moderator last decided about this photo (edits older than
    /// that decision are not re-held on redelivery).
    pub async fn last_decision_ms(&self, photo: &PhotoId) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MAX(created_ms) AS at FROM moderation_audit WHERE photo_id = $1 AND actor_id IS NOT NULL AND comment_id IS NULL",
        )
        .bind(photo.as_str())
        .fetch_one(&mut self.conn().await?)
        .await?;
        get(&row, "at")
    }
}
