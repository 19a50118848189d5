//! Notifications: what happened to a user's photos and comments, written by
//! the notifier (and by moderation, in its own transactions).

use photostream_types::{now_ms, PhotoId, UserId, Username};
use sqlx::any::AnyRow;

use crate::pagination::{bind_all, finish_page, keyset_clause, Bind, Direction, Keyset};
use crate::{get, get_name, parse, Catalog, Result};

#[derive(Debug, Clone)]
pub struct Notification {
    pub id: String,
    pub user_id: UserId,
    pub kind: String,
    pub actor_id: UserId,
    pub actor: Username,
    pub photo_id: Option<PhotoId>,
    pub comment_id: Option<String>,
    pub created_ms: i64,
    pub read: bool,
    /// A moderator's note (moderation notices only).
    pub note: Option<String>,
}

impl Notification {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: get(r, "id")?,
            user_id: parse(get::<String>(r, "user_id")?)?,
            kind: get(r, "kind")?,
            actor_id: parse(get::<String>(r, "actor_id")?)?,
            actor: get_name(r, "actor")?,
            photo_id: get::<Option<String>>(r, "photo_id")?.map(parse).transpose()?,
            comment_id: get(r, "comment_id")?,
            created_ms: get(r, "created_ms")?,
            read: get::<Option<i64>>(r, "read_ms")?.is_some(),
            note: get(r, "note")?,
        })
    }

    pub fn keyset(&self) -> Keyset {
        Keyset { created_ms: self.created_ms, id: self.id.clone() }
    }
}

/// Rows per multi-row `INSERT` in [`Catalog::add_notifications`] (9
/// parameters each: far below SQLite's and PostgreSQL's limits).
pub const NOTIFICATION_ROWS_PER_STATEMENT: usize = 200;

/// A notification for the notifier to store (idempotent on `source`).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: UserId,
    pub kind: &'static str,
    pub actor_id: UserId,
    pub photo_id: Option<PhotoId>,
    pub comment_id: Option<String>,
    /// The stream event that caused it; one notification per user per event.
    pub source: String,
    pub created_ms: i64,
    /// A moderator's note (moderation notices only).
    pub note: Option<String>,
}

impl Catalog {
    /// Stores a notification unless this user already has one from `source`.
    pub async fn add_notification(&self, n: &NewNotification) -> Result<bool> {
        Ok(self.add_notifications(std::slice::from_ref(n)).await? > 0)
    }

    /// Inserts many notifications in one transaction (one commit, however
    /// many rows: a fan-out to followers is one fsync, not one per row),
    /// [`NOTIFICATION_ROWS_PER_STATEMENT`] rows per statement. Rows already
    /// there (same recipient and source) are skipped, so a redelivered batch
    /// notifies nobody twice. Returns how many rows were new.
    pub async fn add_notifications(&self, all: &[NewNotification]) -> Result<u64> {
        if all.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let mut added = 0;
        for chunk in all.chunks(NOTIFICATION_ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO notifications (id, user_id, kind, actor_id, photo_id, comment_id, created_ms, source, note) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 9;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9
                ));
            }
            sql.push_str(" ON CONFLICT (user_id, source) DO NOTHING");
            let mut q = sqlx::query(&sql);
            for n in chunk {
                q = q
                    .bind(PhotoId::new().to_string())
                    .bind(n.user_id.to_string())
                    .bind(n.kind)
                    .bind(n.actor_id.to_string())
                    .bind(n.photo_id.as_ref().map(|p| p.to_string()))
                    .bind(n.comment_id.clone())
                    .bind(n.created_ms)
                    .bind(n.source.clone())
                    .bind(n.note.clone());
            }
            added += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    pub async fn list_notifications(&self, user: &UserId, direction: &Direction, limit: i64) -> Result<(Vec<Notification>, bool)> {
        let mut binds = vec![Bind::Text(user.to_string())];
        let mut sql = "SELECT n.*, u.username AS actor FROM notifications n JOIN users u ON u.id = n.actor_id
             WHERE n.user_id = $1"
            .to_string();
        sql += &keyset_clause(direction, "n.created_ms", "n.id", limit, &mut binds);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let items = rows.iter().map(Notification::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }

    /// Marks the user's notifications read: these ids, or all of them.
    pub async fn mark_notifications_read(&self, user: &UserId, ids: Option<&[String]>) -> Result<()> {
        let now = now_ms();
        match ids {
            None => {
                sqlx::query("UPDATE notifications SET read_ms = $1 WHERE user_id = $2 AND read_ms IS NULL")
                    .bind(now)
                    .bind(user.as_str())
                    .execute(&mut self.conn().await?)
                    .await?;
            }
            Some(ids) => {
                for id in ids {
                    sqlx::query("UPDATE notifications SET read_ms = $1 WHERE user_id = $2 AND id = $3 AND read_ms IS NULL")
                        .bind(now)
                        .bind(user.as_str())
                        .bind(id)
                        .execute(&mut self.conn().await?)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
