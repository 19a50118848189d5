//! The SQL catalog: the source of truth for users, albums, photos and the
//! transactional outbox.
//!
//! One implementation over sqlx's `Any` driver serves both SQLite (embedded
//! default) and PostgreSQL, so every query here is written in the portable
//! subset of SQL both accept: `$n` placeholders, `BIGINT`/`TEXT` columns,
//! `ON CONFLICT … DO NOTHING`, no backend-specific types. Times are
//! milliseconds since the epoch, ids are text, booleans are 0/1.
//!
//! [`Catalog`] is one type; its methods are spread over one module per area:
//!
//! - `migrations`: runs the schema in `catalog/migrations/*.sql` through
//!   `sqlx::migrate!` (checksummed: a released migration can't be edited
//!   silently), adopting catalogs recorded by the old hand-written runner.
//! - `pagination`: keyset pages on `(created_ms, id)`, used by every listing.
//! - `users`, `albums`, `sessions`, `api_tokens`: accounts, roles, albums
//!   and credentials.
//! - `photos`: the photo row and its reads and listings; `photos::upload`
//!   inserts a photo with its outbox record, `photos::edits` edits and
//!   deletes.
//! - `lifecycle`: every change of a photo's status, one atomic `UPDATE` per
//!   event of [`photostream_types::Lifecycle`] (tested against that pure
//!   function over every state), and the processors' readiness marks
//!   (thumbnail done, indexed).
//! - `viewers`: who a `shared` photo is shared with.
//! - `moderation`: the checks' verdicts, users' reports, moderators'
//!   decisions, the review queue, the audit log and the perceptual-hash
//!   blocklist (a submodule each).
//! - `social`, `notifications`: comments, favorites, follows; notifications.
//! - `groups`, `explore`: group pools; the explore page's candidates.
//! - `tiering`: which object store holds each original, last reads, and
//!   the tiering job's work list.
//! - `premium`: premium grants and revocations with their audit trail, and
//!   the billing events already applied (each applied once).
//! - `outbox`: the records the relay moves onto the stream.
//! - [`acl`]: a photo row's access facts ([`access_of`]) for the pure
//!   decision in `photostream_types::acl`, and `viewer_ids`.
//! - `maintenance`: planner statistics, kept current as the catalog grows.
//! - [`sqlite_memory`]: SQLite's allocations through the Rust global
//!   allocator, set once per process before the first database opens.
//! - `warm`: connections handed from statement to statement without sqlx's
//!   release ping (which made a busy pool look exhausted), bounded, and
//!   emptied after any error that means a connection broke.
//!
//! The upload path writes the photo row and its outbox record in one
//! transaction ([`Catalog::insert_photo`]); the relay in `processors` moves
//! outbox records onto the stream. That is what makes "acknowledged" mean
//! "will be processed".
//!
//! Rows are mapped by hand (`from_row` next to each row type) rather than
//! with `#[derive(sqlx::FromRow)]`: the `Any` driver decodes only
//! primitives, while the rows hold newtypes parsed from text (ids,
//! usernames, statuses) and 0/1 `BIGINT` booleans (the `Any` driver decodes
//! `BIGINT` into `i64` only, never `bool`). Rows of primitives only derive it
//! (`QueueStats`).

pub mod acl;
mod albums;
mod api_tokens;
mod explore;
mod groups;
mod lifecycle;
mod maintenance;
mod migrations;
mod moderation;
mod notifications;
mod outbox;
mod pagination;
mod photos;
mod premium;
mod sessions;
pub mod sqlite_memory;
mod social;
mod tiering;
mod users;
mod viewers;
mod warm;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyPool;
use photostream_types::metric;

pub use moderation::{AuditEntry, AutoOutcome, BlocklistChange, ModerationItem, QueueStats, ReportOutcome, Subject, UploadVerdict, Verdict};
pub use outbox::OutboxEntry;
pub use acl::access_of;

pub use api_tokens::{ApiToken, NewApiToken};
pub use groups::Group;
pub use notifications::{NewNotification, Notification, NOTIFICATION_ROWS_PER_STATEMENT};
pub use social::{Comment, Follow, OwnerTotals};
pub use lifecycle::RenditionMark;
pub use pagination::{Direction, Keyset};
pub use photos::{ListAccess, NewPhoto, Photo, PhotoFilter, PhotoPatch};
pub use tiering::{TierTotals, READ_RECORD_GRANULARITY_MS};
pub use premium::{BillingOutcome, PremiumAuditEntry, PremiumChange, PremiumSource};
pub use albums::Album;
pub use users::User;

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
    Db(sqlx::Error),
    /// The schema could not be brought up to date, or a released migration
    /// was edited (its checksum no longer matches the recorded one).
    #[error("catalog migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl From<sqlx::Error> for CatalogError {
    /// Every database error passes here: one that means a connection may
    /// be broken empties the warm connection caches (`warm`).
    fn from(e: sqlx::Error) -> Self {
        warm::note_error(&e);
        CatalogError::Db(e)
    }
}

/// Which SQL engine sits behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// How one connection pool is sized, and its name in metrics.
///
/// A process opens one pool per role that touches the catalog: the API's
/// reads and writes, and the pipeline's (processors, outbox relay, sweeper),
/// so a processor backlog can never starve reads of connections, and the
/// pipeline's load on the database is bounded by its own pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// `api` or `pipeline`: the `pool` label of the catalog pool metrics.
    pub name: &'static str,
    /// Connections at most; 0 picks the default for the engine.
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing (503).
    pub acquire_timeout: Duration,
}

impl PoolSettings {
    pub fn named(name: &'static str) -> Self {
        Self { name, max_connections: 0, acquire_timeout: Duration::from_secs(5) }
    }

    fn max_for(&self, dialect: Dialect) -> u32 {
        match (self.max_connections, dialect) {
            (0, Dialect::Sqlite) => 8,
            // Connections now go back warm, held only for their statement
            // (`warm`), so few suffice; more let more PostgreSQL backends
            // run at once, which on a shared 2-core machine took the CPU
            // from the API's own threads: 1,000 reads/s measured p99 12-21 ms
            // with 12 and 380-670 ms with 32 (docs/benchmarks.md).
            (0, Dialect::Postgres) => 12,
            (n, _) => n,
        }
    }
}

#[derive(Clone)]
pub struct Catalog {
    pool: AnyPool,
    /// Connections handed from query to query without sqlx's release
    /// ping (`warm`); `None` for pools too small to spare any.
    warm: Option<std::sync::Arc<warm::Warm>>,
    acquire_timeout: Duration,
    dialect: Dialect,
    name: &'static str,
}

impl Catalog {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`
    /// with the API's pool settings and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PoolSettings::named("api")).await
    }

    /// [`connect`](Self::connect) with a pool of its own.
    pub async fn connect_with(url: &str, settings: PoolSettings) -> Result<Self> {
        sqlx::any::install_default_drivers();
        sqlite_memory::install();
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
        let options = |max_connections: u32| AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A broken connection fails its query, which the caller retries
            // or answers 503; pinging before every checkout would cost a
            // round trip per query.
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers proceed during writes; FULL sync makes
                        // a commit durable before the API acknowledges it.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                        // No memory map (`mmap_size` 0): in WAL mode every
                        // commit makes each other connection drop its page
                        // cache at its next read, and with a map SQLite also
                        // unmaps the whole file then (`unixUnfetch`), so each
                        // read after a write paid a munmap (a TLB shootdown
                        // on every core running this process) and page faults
                        // to map its pages back: 15 % of the embedded server's
                        // CPU with 10 uploads/s beside 1,000 reads/s, against
                        // a pread per page without it (docs/benchmarks.md).
                        sqlx::query("PRAGMA mmap_size = 0").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA cache_size = -8192").execute(&mut *conn).await?;
                    } else {
                        // Every catalog query is a short indexed lookup: JIT
                        // compiling one (triggered by a high cost estimate)
                        // took 20 ms of a 1 ms query in the load benchmark.
                        sqlx::query("SET jit = off").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        // Migrations run on a connection of their own, closed before the
        // pool opens: a pooled SQLite connection that loaded the schema
        // before a migration altered a table would prepare `SELECT *` with
        // the old column count (sqlx keeps it) and fail once SQLite
        // re-prepares the statement with the new one.
        let migrating = options(1).connect(&url).await?;
        migrations::run(&mut *migrating.acquire().await?, dialect).await?;
        migrating.close().await;
        let max = settings.max_for(dialect);
        let pool = options(max).connect(&url).await?;
        // A quarter of the pool (at least one) stays with sqlx for
        // transactions; the rest may be kept warm for single statements.
        let warm = (max >= 4).then(|| warm::Warm::new((max - (max / 4).max(1)) as usize));
        Ok(Self { pool, warm, acquire_timeout: settings.acquire_timeout, dialect, name: settings.name })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Reachability check for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&mut self.conn().await?).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(warm) = &self.warm {
            warm.drain();
        }
        self.pool.close().await;
    }

    /// Publishes this pool's gauges: connections open, in use and the most
    /// it may open (`photostream_catalog_pool_connections{pool, state}`).
    pub fn report_pool(&self) {
        let size = self.pool.size() as f64;
        let idle = (self.pool.num_idle() + self.warm.as_ref().map_or(0, |w| w.idle())) as f64;
        let max = self.pool.options().get_max_connections() as f64;
        metric::CATALOG_POOL_CONNECTIONS.with([self.name, "open"]).set(size);
        metric::CATALOG_POOL_CONNECTIONS.with([self.name, "in_use"]).set(size - idle);
        metric::CATALOG_POOL_CONNECTIONS.with([self.name, "max"]).set(max);
    }

    /// A connection from the pool (a warm one where there is one: see
    /// `warm`), timing the wait for it
    /// (`photostream_catalog_acquire_seconds{pool}`): every query goes
    /// through here, so the histogram shows when the pool is the bottleneck.
    pub(crate) async fn conn(&self) -> Result<warm::Conn> {
        let started = std::time::Instant::now();
        let conn = warm::Warm::acquire(self.warm.as_ref(), &self.pool, self.acquire_timeout).await;
        metric::CATALOG_ACQUIRE_SECONDS.with([self.name])
            .record(started.elapsed().as_secs_f64());
        Ok(conn?)
    }

    /// A transaction on a connection from the pool, timed like [`conn`](Self::conn).
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let started = std::time::Instant::now();
        let full = self.pool.num_idle() == 0 && self.pool.size() >= self.pool.options().get_max_connections();
        if let Some(warm) = self.warm.as_ref().filter(|_| full) {
            warm.release_one();
        }
        let tx = self.pool.begin().await;
        metric::CATALOG_ACQUIRE_SECONDS.with([self.name])
            .record(started.elapsed().as_secs_f64());
        Ok(tx?)
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`.
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> CatalogError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => CatalogError::Conflict(what),
        _ => CatalogError::from(e),
    }
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(col).map_err(CatalogError::from)
}

/// A stored name column (a username, an album name) as its newtype; a
/// value that does not parse is a corrupt row.
pub(crate) fn get_name<T>(row: &AnyRow, col: &str) -> Result<T>
where
    T: TryFrom<String, Error = photostream_types::InvalidValue>,
{
    T::try_from(get::<String>(row, col)?).map_err(|e| CatalogError::Corrupt(e.0))
}

/// Parses a stored text column into its newtype; a value that does not
/// parse is a corrupt row.
pub(crate) fn parse<T: std::str::FromStr>(s: String) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| CatalogError::Corrupt(e.to_string()))
}
