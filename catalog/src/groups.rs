//! Groups: pools of photos shared by their members.

use photostream_types::{now_ms, PhotoId, UserId};

use crate::pagination::{bind_all, finish_page, keyset_clause, Bind, Direction, Keyset};
use crate::photos::{Photo, SELECT_PHOTO};
use crate::parse;
use crate::{get, Catalog, CatalogError, Result};

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_id: UserId,
    pub created_ms: i64,
}

impl Catalog {
    /// Creates a group; its creator is its first member.
    pub async fn create_group(&self, id: &str, name: &str, description: &str, owner: &UserId) -> Result<Group> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        // Names are unique, compared without case (two concurrent creations
        // of one name can still both succeed; the explore page shows both).
        let taken = sqlx::query("SELECT id FROM groups_ WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(CatalogError::Conflict("a group of that name"));
        }
        sqlx::query("INSERT INTO groups_ (id, name, description, owner_id, created_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(name)
            .bind(description)
            .bind(owner.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO group_members (group_id, user_id, created_ms) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(owner.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.group(id).await?.ok_or(CatalogError::NotFound)
    }

    pub async fn group(&self, id: &str) -> Result<Option<Group>> {
        let Some(r) = sqlx::query("SELECT * FROM groups_ WHERE id = $1").bind(id).fetch_optional(&mut self.conn().await?).await? else {
            return Ok(None);
        };
        Ok(Some(Group {
            id: get(&r, "id")?,
            name: get(&r, "name")?,
            description: get(&r, "description")?,
            owner_id: parse(get::<String>(&r, "owner_id")?)?,
            created_ms: get(&r, "created_ms")?,
        }))
    }

    pub async fn join_group(&self, group: &str, user: &UserId) -> Result<()> {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, created_ms) VALUES ($1, $2, $3)
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group)
        .bind(user.as_str())
        .bind(now_ms())
        .execute(&mut self.conn().await?)
        .await?;
        Ok(())
    }

    /// Leaving also takes the member's photos out of the pool.
    pub async fn leave_group(&self, group: &str, user: &UserId) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM group_photos WHERE group_id = $1 AND added_by = $2")
            .bind(group)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn is_member(&self, group: &str, user: &UserId) -> Result<bool> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group)
            .bind(user.as_str())
            .fetch_one(&mut self.conn().await?)
            .await?;
        Ok(get::<i64>(&r, "n")? > 0)
    }

    pub async fn member_count(&self, group: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM group_members WHERE group_id = $1")
            .bind(group)
            .fetch_one(&mut self.conn().await?)
            .await?;
        get(&r, "n")
    }

    pub async fn add_group_photo(&self, group: &str, photo: &PhotoId, by: &UserId) -> Result<()> {
        sqlx::query(
            "INSERT INTO group_photos (group_id, photo_id, added_by, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, photo_id) DO NOTHING",
        )
        .bind(group)
        .bind(photo.as_str())
        .bind(by.as_str())
        .bind(now_ms())
        .execute(&mut self.conn().await?)
        .await?;
        Ok(())
    }

    /// The pool, most recently added first (keyset on the time added).
    pub async fn list_group_photos(&self, group: &str, direction: &Direction, limit: i64) -> Result<(Vec<(Keyset, Photo)>, bool)> {
        let mut binds = vec![Bind::Text(group.to_string())];
        let mut sql = format!(
            "{SELECT_PHOTO} JOIN group_photos g ON g.photo_id = p.id
             WHERE g.group_id = $1 AND p.deleted_ms IS NULL"
        )
        .replace("SELECT p.*,", "SELECT p.*, g.created_ms AS added_ms,");
        sql += &keyset_clause(direction, "g.created_ms", "g.photo_id", limit, &mut binds);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let items = rows
            .iter()
            .map(|r| {
                let p = Photo::from_row(r)?;
                Ok((Keyset { created_ms: get(r, "added_ms")?, id: p.id.to_string() }, p))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }
}
