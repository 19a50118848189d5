//! Users and albums.

use photostream_types::{now_ms, AlbumId, AlbumName, UserId, Username, Visibility};
use sqlx::any::AnyRow;

use crate::{conflict, get, Catalog, CatalogError, Result};

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
            username: Username::parse(&get::<String>(row, "username")?)
                .map_err(|e| CatalogError::Corrupt(e.0))?,
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

#[derive(Debug, Clone)]
pub struct Album {
    pub id: AlbumId,
    pub owner_id: UserId,
    pub name: AlbumName,
    pub title: String,
    pub description: String,
    pub default_visibility: Visibility,
    pub created_ms: i64,
}

impl Album {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parse(get::<String>(row, "id")?)?,
            owner_id: parse(get::<String>(row, "owner_id")?)?,
            name: AlbumName::parse(&get::<String>(row, "name")?)
                .map_err(|e| CatalogError::Corrupt(e.0))?,
            title: get(row, "title")?,
            description: get(row, "description")?,
            default_visibility: parse(get::<String>(row, "default_visibility")?)?,
            created_ms: get(row, "created_ms")?,
        })
    }
}

pub(crate) fn parse<T: std::str::FromStr>(s: String) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| CatalogError::Corrupt(e.to_string()))
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
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .map(|r| User::from_row(&r))
            .transpose()
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .map(|r| User::from_row(&r))
            .transpose()
    }

    pub async fn album_by_name(&self, owner: &UserId, name: &AlbumName) -> Result<Option<Album>> {
        sqlx::query("SELECT * FROM albums WHERE owner_id = $1 AND name = $2")
            .bind(owner.as_str())
            .bind(name.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .map(|r| Album::from_row(&r))
            .transpose()
    }

    /// Returns the owner's album called `name`, creating it if needed.
    pub async fn ensure_album(&self, owner: &UserId, name: &AlbumName) -> Result<Album> {
        if let Some(a) = self.album_by_name(owner, name).await? {
            return Ok(a);
        }
        sqlx::query(
            "INSERT INTO albums (id, owner_id, name, title, created_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (owner_id, name) DO NOTHING",
        )
        .bind(AlbumId::new().as_str())
        .bind(owner.as_str())
        .bind(name.as_str())
        .bind(name.as_str())
        .bind(now_ms())
        .execute(&mut *self.conn().await?)
        .await?;
        self.album_by_name(owner, name)
            .await?
            .ok_or(CatalogError::NotFound)
    }
}

impl Catalog {
    pub async fn album(&self, id: &AlbumId) -> Result<Option<Album>> {
        sqlx::query("SELECT * FROM albums WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .map(|r| Album::from_row(&r))
            .transpose()
    }

    /// A user's albums, oldest first.
    pub async fn albums(&self, owner: &UserId) -> Result<Vec<Album>> {
        let rows = sqlx::query("SELECT * FROM albums WHERE owner_id = $1 ORDER BY created_ms, id")
            .bind(owner.as_str())
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter().map(Album::from_row).collect()
    }

    /// Creates an album; `Conflict("album")` if the owner has one by that name.
    pub async fn create_album(
        &self,
        owner: &UserId,
        name: &AlbumName,
        title: &str,
        description: &str,
        default_visibility: Visibility,
    ) -> Result<Album> {
        let id = AlbumId::new();
        sqlx::query(
            "INSERT INTO albums (id, owner_id, name, title, description, default_visibility, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(owner.as_str())
        .bind(name.as_str())
        .bind(title)
        .bind(description)
        .bind(default_visibility.as_str())
        .bind(now_ms())
        .execute(&mut *self.conn().await?)
        .await
        .map_err(conflict("album"))?;
        self.album(&id).await?.ok_or(CatalogError::NotFound)
    }

    pub async fn update_album(
        &self,
        id: &AlbumId,
        title: Option<&str>,
        description: Option<&str>,
        default_visibility: Option<Visibility>,
    ) -> Result<Album> {
        let current = self.album(id).await?.ok_or(CatalogError::NotFound)?;
        sqlx::query("UPDATE albums SET title = $1, description = $2, default_visibility = $3 WHERE id = $4")
            .bind(title.unwrap_or(&current.title))
            .bind(description.unwrap_or(&current.description))
            .bind(default_visibility.unwrap_or(current.default_visibility).as_str())
            .bind(id.as_str())
            .execute(&mut *self.conn().await?)
            .await?;
        self.album(id).await?.ok_or(CatalogError::NotFound)
    }
}
