//! Users: accounts, their roles and premium status.
//!
//! Creating a user creates their default album too (see `albums`).

use photostream_types::{now_ms, AlbumId, AlbumName, UserId, Username};
use sqlx::any::AnyRow;

use crate::{conflict, get, get_name, parse, Catalog, Result};

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub password_hash: String,
    pub role: String,
    pub created_ms: i64,
    /// When the password last changed (0: never).
    pub password_changed_ms: i64,
    /// Granted premium (by an administrator or a billing event); see
    /// [`User::is_premium_at`] for whether it holds now.
    pub premium: bool,
    /// When a premium grant ends (`None`: no end).
    pub premium_until_ms: Option<i64>,
    /// Whether the user's new uploads are watermarked unless they say otherwise.
    pub watermark_default: bool,
}

impl User {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parse(get::<String>(row, "id")?)?,
            username: get_name(row, "username")?,
            password_hash: get(row, "password_hash")?,
            role: get(row, "role")?,
            created_ms: get(row, "created_ms")?,
            password_changed_ms: get(row, "password_changed_ms")?,
            premium: get::<i64>(row, "premium")? != 0,
            premium_until_ms: get(row, "premium_until_ms")?,
            watermark_default: get::<i64>(row, "watermark_default")? != 0,
        })
    }

    /// Whether the user is premium at `now_ms`: granted, and the grant's end
    /// (if any) not yet reached. Decided at read time, so expiry needs no job.
    pub fn is_premium_at(&self, now_ms: i64) -> bool {
        self.premium && self.premium_until_ms.is_none_or(|until| until > now_ms)
    }
}

impl Catalog {
    /// Creates a user and their `default` album. `Conflict("username")` if taken.
    pub async fn create_user(&self, username: &Username, password_hash: &str) -> Result<User> {
        let user = User {
            id: UserId::new(),
            username: username.clone(),
            password_hash: password_hash.to_string(),
            role: "user".into(),
            created_ms: now_ms(),
            password_changed_ms: 0,
            premium: false,
            premium_until_ms: None,
            watermark_default: false,
        };
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.id.as_str())
        .bind(user.username.as_str())
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(conflict("username"))?;
        sqlx::query(
            "INSERT INTO albums (id, owner_id, name, title, created_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(AlbumId::new().as_str())
        .bind(user.id.as_str())
        .bind(AlbumName::DEFAULT)
        .bind("Default")
        .bind(user.created_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn user_by_username(&self, username: &Username) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username.as_str())
            .fetch_optional(&mut self.conn().await?)
            .await?
            .map(|r| User::from_row(&r))
            .transpose()
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut self.conn().await?)
            .await?
            .map(|r| User::from_row(&r))
            .transpose()
    }

    /// Sets a user's role (`user` or `moderator`); false if no such user.
    pub async fn set_role(&self, username: &Username, role: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE users SET role = $1 WHERE username = $2")
            .bind(role)
            .bind(username.as_str())
            .execute(&mut self.conn().await?)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
