//! The set-up every photostream test suite repeats, in one place (a
//! dev-dependency only):
//!
//! - [`fixtures_dir`], [`fixture`]: the shared image fixtures
//!   (`../shared/fixtures/images`, or `$FIXTURES_DIR`).
//! - [`fresh_postgres`]: a new, empty database on the local PostgreSQL
//!   server (`TEST_POSTGRES_URL`), one per test run.
//! - [`optional_service`]: the policy for services that may be absent.
//! - [`records`]: stream envelopes for processors' tests.
//!
//! **Absent services, one policy.** The services `scripts/services` starts
//! (PostgreSQL, Redis, NATS, ClickHouse, S3) are always there: a suite that
//! cannot reach one fails, never skips. Services no registry here offers
//! (Meilisearch, Fluvio) run only when their URL variable is set, and a
//! suite says `NOT RUN: …` when it is not; once set, unreachable is a failure.

use std::path::PathBuf;

use sqlx::Connection;

pub mod records;

/// `shared/fixtures/images` beside the repository (or `$FIXTURES_DIR`).
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/images")
        });
    assert!(
        dir.join("MANIFEST.tsv").exists(),
        "fixtures not found at {} (set FIXTURES_DIR)",
        dir.display()
    );
    dir
}

/// The path of one fixture file.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// A short random suffix for names a test creates (databases, topics, tables).
pub fn unique_suffix() -> String {
    photostream_types::PhotoId::new().as_str().replace('-', "")[20..].to_string()
}

/// The PostgreSQL server's admin URL (`TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database `{prefix}_{random}` and returns its URL.
/// PostgreSQL is always there (`scripts/services`): unreachable is a failure.
pub async fn fresh_postgres(prefix: &str) -> String {
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is required (scripts/services starts it): {e}")
        });
    let name = format!("{prefix}_{}", unique_suffix());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    let base = admin.rsplit_once('/').expect("a database URL").0;
    format!("{base}/{name}")
}

/// The value of `var` when a service that may be absent is configured;
/// otherwise prints `NOT RUN: {what} ({var} is not set)` and returns `None`.
pub fn optional_service(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) => Some(value),
        Err(_) => {
            println!("NOT RUN: {what} ({var} is not set)");
            None
        }
    }
}
