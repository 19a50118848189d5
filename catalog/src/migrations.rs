//! The schema: the files in `catalog/migrations/`, portable SQL applied in
//! order by [`sqlx::migrate!`] and recorded in sqlx's `_sqlx_migrations`
//! table with a checksum of each file.
//!
//! Never edit a released migration: add one. An edited file's checksum no
//! longer matches the recorded one and the catalog refuses to open
//! ([`sqlx::migrate::MigrateError::VersionMismatch`]).
//!
//! Concurrent starters (two instances booting at once) serialise: on
//! PostgreSQL through sqlx's advisory lock on the database, on SQLite by
//! running the whole step in one `BEGIN IMMEDIATE` transaction (SQLite's
//! write lock; sqlx takes no lock there).
//!
//! Catalogs created before the switch to sqlx recorded their versions in
//! `schema_migrations` (version, applied_ms) instead. [`adopt_schema_migrations`]
//! records those versions in sqlx's table with the checksums of the files
//! that made them, so sqlx applies only the rest. It leaves
//! `schema_migrations` as it was.

use sqlx::migrate::{Migrate, Migrator};
use sqlx::{AnyConnection, Connection};

use crate::{CatalogError, Dialect, Result};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies the pending migrations on `conn`, first adopting the versions an
/// old catalog recorded in `schema_migrations`.
pub(crate) async fn run(conn: &mut AnyConnection, dialect: Dialect) -> Result<()> {
    match dialect {
        Dialect::Sqlite => {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            adopt_schema_migrations(&mut tx, dialect).await?;
            MIGRATOR.run(&mut *tx).await?;
            tx.commit().await?;
        }
        Dialect::Postgres => {
            // The migrator takes the same (re-entrant) advisory lock again
            // and releases it once; this hold covers the adoption too.
            conn.lock().await?;
            adopt_schema_migrations(conn, dialect).await?;
            MIGRATOR.run(&mut *conn).await?;
            conn.unlock().await?;
        }
    }
    Ok(())
}

/// Records each version in `schema_migrations` that `_sqlx_migrations`
/// lacks, with the embedded file's description and checksum, in sqlx's
/// format (`success` true, `execution_time` -1 as sqlx writes before it
/// measures). A no-op on catalogs that never had the old table.
async fn adopt_schema_migrations(conn: &mut AnyConnection, dialect: Dialect) -> Result<()> {
    let exists = match dialect {
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        }
    };
    let exists: i64 = sqlx::query_scalar(exists).fetch_one(&mut *conn).await?;
    if exists == 0 {
        return Ok(());
    }
    let old: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await?;
    conn.ensure_migrations_table().await?;
    let adopted: Vec<i64> = conn.list_applied_migrations().await?.into_iter().map(|m| m.version).collect();
    for version in old.into_iter().filter(|v| !adopted.contains(v)) {
        let migration = MIGRATOR
            .iter()
            .find(|m| m.version == version)
            .ok_or(CatalogError::Migrate(sqlx::migrate::MigrateError::VersionMissing(version)))?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, $2, TRUE, $3, -1)",
        )
        .bind(version)
        .bind(migration.description.to_string())
        .bind(migration.checksum.to_vec())
        .execute(&mut *conn)
        .await?;
        tracing::info!(version, "adopted a catalog migration recorded by the old runner");
    }
    Ok(())
}
