//! Comments, favorites and follows (notifications are in `notifications`).

use photostream_types::{now_ms, PhotoId, UserId, Username};
use sqlx::any::AnyRow;

use crate::outbox::OutboxEntry;
use crate::pagination::{bind_all, finish_page, keyset_clause, Bind, Direction, Keyset};
use crate::photos::{Photo, SELECT_PHOTO};
use crate::parse;
use crate::{get, get_name, Catalog, CatalogError, Result};

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: String,
    pub photo_id: PhotoId,
    pub author_id: UserId,
    pub author: Username,
    pub text: String,
    pub created_ms: i64,
}

impl Comment {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: get(r, "id")?,
            photo_id: parse(get::<String>(r, "photo_id")?)?,
            author_id: parse(get::<String>(r, "author_id")?)?,
            author: get_name(r, "author")?,
            text: get(r, "text")?,
            created_ms: get(r, "created_ms")?,
        })
    }

    pub fn keyset(&self) -> Keyset {
        Keyset { created_ms: self.created_ms, id: self.id.clone() }
    }
}

/// A user in a followers/following list, with when the follow happened.
#[derive(Debug, Clone)]
pub struct Follow {
    pub user_id: UserId,
    pub username: Username,
    pub created_ms: i64,
}

impl Follow {
    pub fn keyset(&self) -> Keyset {
        Keyset { created_ms: self.created_ms, id: self.user_id.to_string() }
    }
}

impl Catalog {
    // ---- comments ----

    pub async fn add_comment(&self, id: &str, photo: &PhotoId, author: &UserId, text: &str, outbox: &OutboxEntry) -> Result<Comment> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO comments (id, photo_id, author_id, text, created_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(photo.as_str())
            .bind(author.as_str())
            .bind(text)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        outbox.insert(&mut tx).await?;
        tx.commit().await?;
        self.comment(id).await?.ok_or(CatalogError::NotFound)
    }

    pub async fn comment(&self, id: &str) -> Result<Option<Comment>> {
        sqlx::query(
            "SELECT c.*, u.username AS author FROM comments c JOIN users u ON u.id = c.author_id
             WHERE c.id = $1 AND c.deleted_ms IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut self.conn().await?)
        .await?
        .map(|r| Comment::from_row(&r))
        .transpose()
    }

    pub async fn list_comments(&self, photo: &PhotoId, direction: &Direction, limit: i64) -> Result<(Vec<Comment>, bool)> {
        let mut binds = vec![Bind::Text(photo.to_string())];
        let mut sql = "SELECT c.*, u.username AS author FROM comments c JOIN users u ON u.id = c.author_id
             WHERE c.photo_id = $1 AND c.deleted_ms IS NULL AND c.status = 'visible'"
            .to_string();
        sql += &keyset_clause(direction, "c.created_ms", "c.id", limit, &mut binds);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let comments = rows.iter().map(Comment::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(comments, direction, limit))
    }

    pub async fn delete_comment(&self, id: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE comments SET deleted_ms = $1 WHERE id = $2 AND deleted_ms IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(&mut self.conn().await?)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Distinct authors of live comments on a photo.
    pub async fn commenters(&self, photo: &PhotoId) -> Result<Vec<UserId>> {
        let rows = sqlx::query("SELECT DISTINCT author_id FROM comments WHERE photo_id = $1 AND deleted_ms IS NULL")
            .bind(photo.as_str())
            .fetch_all(&mut self.conn().await?)
            .await?;
        rows.iter().map(|r| parse(get::<String>(r, "author_id")?)).collect()
    }

    pub async fn comment_count(&self, photo: &PhotoId) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM comments WHERE photo_id = $1 AND deleted_ms IS NULL AND status = 'visible'")
            .bind(photo.as_str())
            .fetch_one(&mut self.conn().await?)
            .await?;
        get(&r, "n")
    }

    // ---- favorites ----

    /// Inserts a `(a, b, now)` pair row unless it exists; queues `outbox` in
    /// the same transaction only when the row is new. True if it was.
    async fn insert_pair_once(&self, sql: &str, a: &str, b: &str, outbox: &OutboxEntry) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(sql)
            .bind(a)
            .bind(b)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            outbox.insert(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Marks a favorite; the outbox record is queued only when it is new.
    pub async fn add_favorite(&self, user: &UserId, photo: &PhotoId, outbox: &OutboxEntry) -> Result<bool> {
        self.insert_pair_once(
            "INSERT INTO favorites (user_id, photo_id, created_ms) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, photo_id) DO NOTHING",
            user.as_str(),
            photo.as_str(),
            outbox,
        )
        .await
    }

    pub async fn remove_favorite(&self, user: &UserId, photo: &PhotoId) -> Result<()> {
        sqlx::query("DELETE FROM favorites WHERE user_id = $1 AND photo_id = $2")
            .bind(user.as_str())
            .bind(photo.as_str())
            .execute(&mut self.conn().await?)
            .await?;
        Ok(())
    }

    pub async fn favorite_count(&self, photo: &PhotoId) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM favorites WHERE photo_id = $1")
            .bind(photo.as_str())
            .fetch_one(&mut self.conn().await?)
            .await?;
        get(&r, "n")
    }

    /// A user's favorites, most recently favorited first; the keyset is the
    /// favorite's time and the photo id.
    pub async fn list_favorites(&self, user: &UserId, direction: &Direction, limit: i64) -> Result<(Vec<(Keyset, Photo)>, bool)> {
        let mut binds = vec![Bind::Text(user.to_string())];
        let mut sql = format!(
            "{SELECT_PHOTO} JOIN favorites f ON f.photo_id = p.id
             WHERE f.user_id = $1 AND p.deleted_ms IS NULL"
        )
        .replace("SELECT p.*,", "SELECT p.*, f.created_ms AS fav_ms,");
        sql += &keyset_clause(direction, "f.created_ms", "f.photo_id", limit, &mut binds);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let items = rows
            .iter()
            .map(|r| {
                let p = Photo::from_row(r)?;
                Ok((Keyset { created_ms: get(r, "fav_ms")?, id: p.id.to_string() }, p))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }

    // ---- follows ----

    /// Follows a user; the outbox record is queued only when it is new.
    pub async fn follow(&self, follower: &UserId, followee: &UserId, outbox: &OutboxEntry) -> Result<bool> {
        self.insert_pair_once(
            "INSERT INTO follows (follower_id, followee_id, created_ms) VALUES ($1, $2, $3)
             ON CONFLICT (follower_id, followee_id) DO NOTHING",
            follower.as_str(),
            followee.as_str(),
            outbox,
        )
        .await
    }

    pub async fn unfollow(&self, follower: &UserId, followee: &UserId) -> Result<()> {
        sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2")
            .bind(follower.as_str())
            .bind(followee.as_str())
            .execute(&mut self.conn().await?)
            .await?;
        Ok(())
    }

    /// Followers (`followers = true`) or followed users of `user`, newest first.
    pub async fn list_follows(&self, user: &UserId, followers: bool, direction: &Direction, limit: i64) -> Result<(Vec<Follow>, bool)> {
        let (mine, theirs) = if followers { ("followee_id", "follower_id") } else { ("follower_id", "followee_id") };
        let mut binds = vec![Bind::Text(user.to_string())];
        let mut sql = format!(
            "SELECT f.{theirs} AS uid, u.username, f.created_ms FROM follows f JOIN users u ON u.id = f.{theirs}
             WHERE f.{mine} = $1"
        );
        sql += &keyset_clause(direction, "f.created_ms", &format!("f.{theirs}"), limit, &mut binds);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut self.conn().await?).await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Follow {
                    user_id: parse(get::<String>(r, "uid")?)?,
                    username: get_name(r, "username")?,
                    created_ms: get(r, "created_ms")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }

    /// Every follower of `user` (for notification fan-out), in pages.
    pub async fn follower_ids(&self, user: &UserId, after: Option<&UserId>, limit: i64) -> Result<Vec<UserId>> {
        let rows = sqlx::query(
            "SELECT follower_id FROM follows WHERE followee_id = $1 AND follower_id > $2
             ORDER BY follower_id LIMIT $3",
        )
        .bind(user.as_str())
        .bind(after.map_or("", |a| a.as_str()))
        .bind(limit)
        .fetch_all(&mut self.conn().await?)
        .await?;
        rows.iter().map(|r| parse(get::<String>(r, "follower_id")?)).collect()
    }

}

/// An owner's totals over their live photos.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnerTotals {
    pub photos: i64,
    pub favorites: i64,
    pub comments: i64,
}

impl Catalog {
    pub async fn owner_totals(&self, owner: &UserId) -> Result<OwnerTotals> {
        let one = |sql: &'static str| {
            let owner = owner.to_string();
            async move {
                let r = sqlx::query(sql).bind(owner).fetch_one(&mut self.conn().await?).await?;
                get::<i64>(&r, "n")
            }
        };
        Ok(OwnerTotals {
            photos: one("SELECT COUNT(*) AS n FROM photos WHERE owner_id = $1 AND deleted_ms IS NULL").await?,
            favorites: one(
                "SELECT COUNT(*) AS n FROM favorites f JOIN photos p ON p.id = f.photo_id
                 WHERE p.owner_id = $1 AND p.deleted_ms IS NULL",
            )
            .await?,
            comments: one(
                "SELECT COUNT(*) AS n FROM comments c JOIN photos p ON p.id = c.photo_id
                 WHERE p.owner_id = $1 AND p.deleted_ms IS NULL AND c.deleted_ms IS NULL",
            )
            .await?,
        })
    }
}
