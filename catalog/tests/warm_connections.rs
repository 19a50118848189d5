//! The warm connection cache in front of sqlx's pool (`catalog/src/warm.rs`):
//! transactions still get connections when every warm one sits idle, a
//! burst never opens more than the pool's maximum, and connections killed
//! by the server are replaced after their first failure, not kept.

use std::time::Duration;

use photostream_catalog::{Catalog, PoolSettings};
use photostream_types::Username;
use sqlx::Connection;

/// Many single statements at once, then writes (transactions) while every
/// warm connection is idle in the cache, then a burst again.
async fn bounded_and_never_starves_transactions(c: &Catalog, round: &str) {
    let burst = |n: usize| {
        let c = c.clone();
        async move {
            let pings = (0..n).map(|_| {
                let c = c.clone();
                async move { c.ping().await }
            });
            for r in futures::future::join_all(pings).await {
                r.expect("a ping within the acquire timeout");
            }
        }
    };
    burst(64).await;
    for i in 0..10 {
        c.create_user(&Username::parse(&format!("{round}{i}")).unwrap(), "h").await.expect("a transaction beside a full warm cache");
    }
    burst(64).await;
    c.report_pool();
}

fn settings() -> PoolSettings {
    PoolSettings { name: "api", max_connections: 8, acquire_timeout: Duration::from_secs(3) }
}

#[tokio::test]
async fn sqlite_warm_connections_are_bounded_and_leave_room_for_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let c = Catalog::connect_with(&url, settings()).await.unwrap();
    bounded_and_never_starves_transactions(&c, "again").await;
    c.close().await;
}

#[tokio::test]
async fn postgres_warm_connections_are_bounded_and_survive_a_server_side_kill() {
    let url = photostream_testkit::fresh_postgres("photostream_test").await;
    let c = Catalog::connect_with(&url, settings()).await.unwrap();
    bounded_and_never_starves_transactions(&c, "before").await;
    let db = url.rsplit('/').next().unwrap().to_string();
    let mut admin = sqlx::PgConnection::connect(&photostream_testkit::postgres_admin_url()).await.unwrap();
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1")
        .bind(&db)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(open <= 8, "{open} connections open for a pool of 8");

    // The server drops every connection (a restart, a failover): each
    // connection open at the time may fail one query (as with sqlx's own
    // pool, which does not test a connection before handing it out), and
    // none is kept after its failure: at most the pool's 8 failures, then
    // fresh connections.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&db)
        .execute(&mut admin)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut failures = 0;
    for i in 0..40 {
        // Single statements (warm) and transactions (sqlx's own) alike.
        let r = if i % 2 == 0 {
            c.ping().await
        } else {
            c.create_user(&Username::parse(&format!("after{i}")).unwrap(), "h").await.map(drop)
        };
        if let Err(e) = r {
            failures += 1;
            assert!(failures <= 8, "{failures} failures ({e}): broken connections were kept");
        }
    }
    // Everything after the recovery succeeds, a burst included.
    bounded_and_never_starves_transactions(&c, "again").await;
    c.close().await;
}
