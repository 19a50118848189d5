//! Premium accounts: grants and revocations (from an administrator or a
//! billing event), their audit trail, the billing events already applied,
//! and the account preferences that go with them (`watermark_default`).
//!
//! Every change of a user's premium writes its audit row in the same
//! transaction; a billing event also records its id there, so a redelivered
//! event is recognised and changes nothing.

use photostream_types::{now_ms, EventId, UserId, Username};
use sqlx::any::AnyRow;

use crate::parse;
use crate::users::User;
use crate::{get, get_name, Catalog, CatalogError, Result};

/// What happens to a user's premium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PremiumChange {
    /// Premium from now until `until_ms` (`None`: no end).
    Grant { until_ms: Option<i64> },
    /// No premium from now on.
    Revoke,
}

impl PremiumChange {
    fn action(&self) -> &'static str {
        match self {
            PremiumChange::Grant { .. } => "grant",
            PremiumChange::Revoke => "revoke",
        }
    }
}

/// Who asked for a premium change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PremiumSource {
    /// `photostream admin grant-premium` / `revoke-premium`, run by `actor`.
    Admin { actor: String },
    /// A payment provider's event, by its id.
    Webhook {
        event_id: String,
        event_type: String,
    },
}

/// One row of the premium audit trail.
#[derive(Debug, Clone)]
pub struct PremiumAuditEntry {
    pub user_id: UserId,
    pub username: Username,
    /// `grant` or `revoke`.
    pub action: String,
    pub until_ms: Option<i64>,
    /// `admin` or `webhook`.
    pub source: String,
    /// The administrator who ran the command, or `billing`.
    pub actor: String,
    /// The billing event's id, for webhook changes.
    pub event_id: Option<String>,
    pub created_ms: i64,
}

impl PremiumAuditEntry {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            user_id: parse(get::<String>(row, "user_id")?)?,
            username: get_name(row, "username")?,
            action: get(row, "action")?,
            until_ms: get(row, "until_ms")?,
            source: get(row, "source")?,
            actor: get(row, "actor")?,
            event_id: get(row, "event_id")?,
            created_ms: get(row, "created_ms")?,
        })
    }
}

/// What applying a billing event did.
#[derive(Debug, Clone)]
pub enum BillingOutcome {
    /// The change was made; the user as they are now.
    Applied(User),
    /// An event with this id was applied before: nothing changed.
    AlreadyApplied,
}

impl Catalog {
    /// Changes `username`'s premium as an administrator; the audit row names
    /// `actor`. `NotFound` if there is no such user.
    pub async fn set_premium(
        &self,
        username: &Username,
        change: PremiumChange,
        actor: &str,
    ) -> Result<User> {
        let user = self
            .user_by_username(username)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let mut tx = self.begin().await?;
        apply(
            &mut tx,
            &user.id,
            change,
            &PremiumSource::Admin {
                actor: actor.to_string(),
            },
        )
        .await?;
        tx.commit().await?;
        self.user_by_id(&user.id)
            .await?
            .ok_or(CatalogError::NotFound)
    }

    /// Applies a billing event exactly once: the event id is recorded in the
    /// same transaction as the change, so a redelivery (or two deliveries
    /// racing) changes nothing. `NotFound` if there is no such user (the
    /// event is not recorded, so the provider's retry can still apply it).
    pub async fn apply_billing_event(
        &self,
        event_id: &str,
        event_type: &str,
        username: &Username,
        change: PremiumChange,
    ) -> Result<BillingOutcome> {
        let user = self
            .user_by_username(username)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let mut tx = self.begin().await?;
        // Claimed first: a concurrent delivery of the same event waits on
        // the primary key and then finds it taken.
        let claimed = sqlx::query(
            "INSERT INTO billing_events (id, event_type, user_id, received_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(event_id)
        .bind(event_type)
        .bind(user.id.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(BillingOutcome::AlreadyApplied);
        }
        let source = PremiumSource::Webhook {
            event_id: event_id.to_string(),
            event_type: event_type.to_string(),
        };
        apply(&mut tx, &user.id, change, &source).await?;
        tx.commit().await?;
        Ok(BillingOutcome::Applied(
            self.user_by_id(&user.id)
                .await?
                .ok_or(CatalogError::NotFound)?,
        ))
    }

    /// The premium audit trail, newest first, of one user or of everyone.
    pub async fn premium_audit(
        &self,
        user: Option<&UserId>,
        limit: i64,
    ) -> Result<Vec<PremiumAuditEntry>> {
        let select = "SELECT a.*, u.username AS username FROM premium_audit a JOIN users u ON u.id = a.user_id";
        let rows =
            match user {
                Some(id) => sqlx::query(&format!(
                    "{select} WHERE a.user_id = $1 ORDER BY a.created_ms DESC, a.id DESC LIMIT $2"
                ))
                .bind(id.as_str())
                .bind(limit)
                .fetch_all(&mut self.conn().await?)
                .await?,
                None => {
                    sqlx::query(&format!(
                        "{select} ORDER BY a.created_ms DESC, a.id DESC LIMIT $1"
                    ))
                    .bind(limit)
                    .fetch_all(&mut self.conn().await?)
                    .await?
                }
            };
        rows.iter().map(PremiumAuditEntry::from_row).collect()
    }

    /// Sets whether the user's new uploads are watermarked by default.
    pub async fn set_watermark_default(&self, user: &UserId, on: bool) -> Result<User> {
        sqlx::query("UPDATE users SET watermark_default = $1 WHERE id = $2")
            .bind(on as i64)
            .bind(user.as_str())
            .execute(&mut self.conn().await?)
            .await?;
        self.user_by_id(user).await?.ok_or(CatalogError::NotFound)
    }
}

/// Makes the change and writes its audit row, inside `tx`.
async fn apply(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: &UserId,
    change: PremiumChange,
    source: &PremiumSource,
) -> Result<()> {
    let (premium, until) = match change {
        PremiumChange::Grant { until_ms } => (1i64, until_ms),
        PremiumChange::Revoke => (0, None),
    };
    sqlx::query("UPDATE users SET premium = $1, premium_until_ms = $2 WHERE id = $3")
        .bind(premium)
        .bind(until)
        .bind(user.as_str())
        .execute(&mut **tx)
        .await?;
    let (source_name, actor, event_id) = match source {
        PremiumSource::Admin { actor } => ("admin", actor.as_str(), None),
        PremiumSource::Webhook { event_id, .. } => ("webhook", "billing", Some(event_id.as_str())),
    };
    sqlx::query(
        "INSERT INTO premium_audit (id, user_id, action, until_ms, source, actor, event_id, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(EventId::new().as_str())
    .bind(user.as_str())
    .bind(change.action())
    .bind(until)
    .bind(source_name)
    .bind(actor)
    .bind(event_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
