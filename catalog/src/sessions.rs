//! Login sessions: the row a session JWT names, so that a session can be
//! logged out and a password change can end every other session.

use photostream_types::{now_ms, SessionId, UserId};

use crate::users::User;
use crate::{Catalog, Result};

impl Catalog {
    /// Records a new session of `user` that lasts until `expires_ms`;
    /// returns its id (the JWT's `sid`).
    pub async fn create_session(&self, user: &UserId, expires_ms: i64) -> Result<SessionId> {
        let id = SessionId::new();
        sqlx::query("INSERT INTO sessions (id, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(id.as_str())
            .bind(user.as_str())
            .bind(now_ms())
            .bind(expires_ms)
            .execute(&mut self.conn().await?)
            .await?;
        Ok(id)
    }

    /// The user of session `id` if it is neither revoked nor expired: one
    /// query per authenticated request, the same cost as loading the user.
    pub async fn live_session_user(&self, id: &SessionId, user: &UserId) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_ms IS NULL AND s.expires_ms > $3",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(now_ms())
        .fetch_optional(&mut self.conn().await?)
        .await?;
        row.as_ref().map(User::from_row).transpose()
    }

    /// Logs session `id` of `user` out. False if it was not live.
    pub async fn revoke_session(&self, user: &UserId, id: &SessionId) -> Result<bool> {
        let n = sqlx::query("UPDATE sessions SET revoked_ms = $1 WHERE id = $2 AND user_id = $3 AND revoked_ms IS NULL")
            .bind(now_ms())
            .bind(id.as_str())
            .bind(user.as_str())
            .execute(&mut self.conn().await?)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Sets a new password hash and, in the same transaction, revokes every
    /// live session of the user except `keep` (the one changing it) and
    /// records the time, which ends long-lived responses opened before.
    pub async fn change_password(&self, user: &UserId, password_hash: &str, keep: Option<&SessionId>) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1, password_changed_ms = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET revoked_ms = $1 WHERE user_id = $2 AND id <> $3 AND revoked_ms IS NULL")
            .bind(now)
            .bind(user.as_str())
            .bind(keep.map_or("", |k| k.as_str()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes sessions that expired more than a day ago (housekeeping).
    pub async fn delete_expired_sessions(&self) -> Result<u64> {
        let n = sqlx::query("DELETE FROM sessions WHERE expires_ms < $1")
            .bind(now_ms() - 86_400_000)
            .execute(&mut self.conn().await?)
            .await?
            .rows_affected();
        Ok(n)
    }
}
