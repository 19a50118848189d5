//! Albums: every user has a default one, created with the account.

use photostream_types::{now_ms, AlbumId, AlbumName, UserId, Visibility};
use sqlx::any::AnyRow;

use crate::{conflict, get, get_name, parse, Catalog, CatalogError, Result};

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
            name: get_name(row, "name")?,
            title: get(row, "title")?,
            description: get(row, "description")?,
            default_visibility: parse(get::<String>(row, "default_visibility")?)?,
            created_ms: get(row, "created_ms")?,
        })
    }
}

impl Catalog {
    pub async fn album_by_name(&self, owner: &UserId, name: &AlbumName) -> Result<Option<Album>> {
        sqlx::query("SELECT * FROM albums WHERE owner_id = $1 AND name = $2")
            .bind(owner.as_str())
            .bind(name.as_str())
            .fetch_optional(&mut self.conn().await?)
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
        .execute(&mut self.conn().await?)
        .await?;
        self.album_by_name(owner, name)
            .await?
            .ok_or(CatalogError::NotFound)
    }

    pub async fn album(&self, id: &AlbumId) -> Result<Option<Album>> {
        sqlx::query("SELECT * FROM albums WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut self.conn().await?)
            .await?
            .map(|r| Album::from_row(&r))
            .transpose()
    }

    /// A user's albums, oldest first.
    pub async fn albums(&self, owner: &UserId) -> Result<Vec<Album>> {
        let rows = sqlx::query("SELECT * FROM albums WHERE owner_id = $1 ORDER BY created_ms, id")
            .bind(owner.as_str())
            .fetch_all(&mut self.conn().await?)
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
        .execute(&mut self.conn().await?)
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
            .execute(&mut self.conn().await?)
            .await?;
        self.album(id).await?.ok_or(CatalogError::NotFound)
    }
}
