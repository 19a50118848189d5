//! API tokens: long-lived credentials for scripts, stored as hashes.

use photostream_types::{now_ms, UserId};
use sqlx::any::AnyRow;

use crate::parse;
use crate::{get, Catalog, Result};

impl Catalog {
    pub async fn create_api_token(&self, t: &NewApiToken) -> Result<ApiToken> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(t.user_id.as_str())
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(t.scopes.join(","))
        .bind(now)
        .execute(&mut self.conn().await?)
        .await?;
        Ok(ApiToken {
            id: t.id.clone(),
            user_id: t.user_id.clone(),
            name: t.name.clone(),
            scopes: t.scopes.clone(),
            created_ms: now,
            revoked_ms: None,
        })
    }

    /// The live (unrevoked) token with this hash.
    pub async fn api_token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_ms IS NULL")
            .bind(hash)
            .fetch_optional(&mut self.conn().await?)
            .await?
            .map(|r| ApiToken::from_row(&r))
            .transpose()
    }

    pub async fn api_tokens(&self, user: &UserId) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_ms DESC")
            .bind(user.as_str())
            .fetch_all(&mut self.conn().await?)
            .await?;
        rows.iter().map(ApiToken::from_row).collect()
    }

    /// Revokes one of `user`'s tokens; false if there is no such live token.
    pub async fn revoke_api_token(&self, user: &UserId, id: &str) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2 AND user_id = $3 AND revoked_ms IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .bind(user.as_str())
        .execute(&mut self.conn().await?)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}

/// A token to store: only the hash of the secret is kept.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl ApiToken {
    fn from_row(r: &AnyRow) -> Result<Self> {
        let scopes: String = get(r, "scopes")?;
        Ok(Self {
            id: get(r, "id")?,
            user_id: parse(get::<String>(r, "user_id")?)?,
            name: get(r, "name")?,
            scopes: scopes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            created_ms: get(r, "created_ms")?,
            revoked_ms: get(r, "revoked_ms")?,
        })
    }
}
