//! The SQL catalog: the source of truth for users, albums, photos and the
//! transactional outbox.
//!
//! One implementation over sqlx's `Any` driver serves both SQLite (embedded
//! default) and PostgreSQL, so every query here is written in the portable
//! subset of SQL both accept: `$n` placeholders, `BIGINT`/`TEXT` columns,
//! `ON CONFLICT … DO NOTHING`, no backend-specific types. Times are
//! milliseconds since the epoch, ids are text, booleans are 0/1.
//!
//! - [`migrations`]: the schema, applied in order and recorded.
//! - [`Catalog`]: the queries, grouped by table in submodules.
//!
//! - [`moderation`]: the review queue, reports, decisions, audit log and
//!   perceptual-hash blocklist.
//!
//! The upload path writes the photo row and its outbox record in one
//! transaction ([`Catalog::insert_photo`]); the relay in `processors` moves
//! outbox records onto the stream. That is what makes "acknowledged" mean
//! "will be processed".

mod access;
mod groups;
mod migrations;
mod moderation;
mod outbox;
mod photos;
mod social;
mod users;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyPool;

pub use moderation::{AuditEntry, AutoOutcome, ModerationItem, QueueStats, ReportOutcome, Subject, Verdict};
pub use outbox::OutboxEntry;
pub use access::{ApiToken, NewApiToken};
pub use groups::Group;
pub use social::{Comment, Follow, NewNotification, Notification, OwnerTotals};
pub use photos::{Direction, Keyset, ListAccess, NewPhoto, Photo, PhotoFilter, PhotoPatch};
pub use users::{Album, User};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    #[error("unsupported catalog URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("corrupt catalog row: {0}")]
    Corrupt(String),
    #[error("catalog database error: {0}")]
    Db(#[from] sqlx::Error),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Which SQL engine sits behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Catalog {
    pool: AnyPool,
    dialect: Dialect,
}

impl Catalog {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`
    /// and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(CatalogError::UnsupportedUrl(url.to_string()));
        };
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let max = match dialect {
            Dialect::Sqlite => 8,
            Dialect::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers proceed during writes; FULL sync makes
                        // a commit durable before the API acknowledges it.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let catalog = Self { pool, dialect };
        migrations::run(&catalog).await?;
        Ok(catalog)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Reachability check for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`.
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> CatalogError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => CatalogError::Conflict(what),
        _ => CatalogError::Db(e),
    }
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(col).map_err(CatalogError::Db)
}
