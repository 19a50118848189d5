//! Connections kept warm between queries, in front of sqlx's pool.
//!
//! sqlx 0.8 hands a dropped `PoolConnection` back to its pool through a
//! spawned task that first pings the server (`return_to_pool`): a round
//! trip per query, during which the connection counts as in use. At 1,000
//! reads/s on PostgreSQL those returns queued behind the requests they
//! served: the API pool showed 32 of 32 connections in use while
//! PostgreSQL showed every one of them idle, waiting for its client, and
//! requests waited seconds for a connection (docs/benchmarks.md).
//!
//! [`Warm`] keeps the connections a query is done with and hands them to
//! the next query at once, with no ping. What the ping was for is kept:
//!
//! - a statement abandoned half-way (a client gone, a timeout), or one that
//!   failed, may leave replies (an error among them) for the next command
//!   to read: a connection goes back warm only when its last statement ran
//!   to completion without an error (`Conn` is the executor the catalog's
//!   statements run on, so it sees that); any other goes back through sqlx,
//!   whose ping settles or closes it;
//! - a broken connection fails its query, and every failure that means a
//!   connection is broken ([`note_error`]) empties every warm cache, so
//!   broken connections go back through sqlx, which pings and closes them;
//! - a connection that sat unused for [`STALE_AFTER`] is pinged before use.
//!
//! The warm connections are bounded by `max - reserve` permits, so at
//! least `reserve` of the pool's connections are always left to
//! transactions (`Catalog::begin` takes them from sqlx's pool, whose
//! release ping settles a rolled-back or broken transaction), and a
//! transaction that finds sqlx's pool empty first hands an idle warm
//! connection back to it ([`Warm::release_one`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::task::Poll;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::Describe;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Either, Execute, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A warm connection unused for this long is pinged before it is used.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(10);

/// Bumped by every error that means a connection may be broken; a cache
/// whose connections are older than the current value drops them.
static BROKEN: AtomicU64 = AtomicU64::new(0);

/// Records `e` if it means a connection may be broken (I/O, TLS, protocol,
/// a crashed SQLite worker, PostgreSQL's connection-exception and
/// shutdown codes): every warm connection is then returned through sqlx.
pub(crate) fn note_error(e: &sqlx::Error) {
    let broken = match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    };
    if broken {
        BROKEN.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) struct Warm {
    /// Idle connections, each with when it came back and the [`BROKEN`]
    /// value it was kept under.
    idle: Mutex<Vec<(PoolConnection<Any>, Instant, u64)>>,
    permits: Arc<Semaphore>,
    /// Set by [`drain`](Self::drain): nothing is kept any more.
    closed: AtomicBool,
}

impl Warm {
    /// A cache of at most `permits` connections in use or idle at once.
    pub(crate) fn new(permits: usize) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(permits.max(1))),
            closed: AtomicBool::new(false),
        })
    }

    /// How many connections are idle here (in use, as far as sqlx knows).
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().expect("warm cache lock").len()
    }

    /// Hands one idle connection back to sqlx's pool (through its release
    /// ping), for a transaction that finds none there: a transaction never
    /// waits while a warm connection sits idle.
    pub(crate) fn release_one(&self) {
        let one = self.idle.lock().expect("warm cache lock").pop();
        drop(one);
    }

    /// Drops every idle connection (back to sqlx's pool), e.g. before the
    /// pool closes, which waits for every connection to come back.
    pub(crate) fn drain(&self) {
        let drained = {
            let mut idle = self.idle.lock().expect("warm cache lock");
            self.closed.store(true, Ordering::SeqCst);
            std::mem::take(&mut *idle)
        };
        drop(drained);
    }

    /// A connection within `timeout`: a warm one if there is one, else a
    /// new checkout from `pool`. Without a cache (`None`), a plain checkout.
    pub(crate) async fn acquire(warm: Option<&Arc<Self>>, pool: &AnyPool, timeout: Duration) -> Result<Conn, sqlx::Error> {
        let Some(warm) = warm else {
            return Ok(Conn { conn: Some(pool.acquire().await?), home: None, kept_at: 0, clean: true, _permit: None });
        };
        warm.acquire_warm(pool, timeout).await
    }

    async fn acquire_warm(self: &Arc<Self>, pool: &AnyPool, timeout: Duration) -> Result<Conn, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let permit = tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let Some((mut conn, since)) = self.take() else { break };
            if since.elapsed() >= STALE_AFTER
                && !matches!(tokio::time::timeout_at(deadline, conn.ping()).await, Ok(Ok(())))
            {
                // sqlx closes it on return (its ping fails too).
                continue;
            }
            return Ok(self.wrap(conn, permit));
        }
        let conn = tokio::time::timeout_at(deadline, pool.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(self.wrap(conn, permit))
    }

    /// The most recently returned idle connection kept under the current
    /// [`BROKEN`] value; older ones (a connection may have broken since
    /// they were kept) go back through sqlx.
    fn take(&self) -> Option<(PoolConnection<Any>, Instant)> {
        let broken = BROKEN.load(Ordering::Relaxed);
        let mut stale = Vec::new();
        let found = {
            let mut idle = self.idle.lock().expect("warm cache lock");
            stale.extend(idle.extract_if(.., |(_, _, kept_at)| *kept_at != broken));
            idle.pop()
        };
        drop(stale);
        found.map(|(conn, since, _)| (conn, since))
    }

    fn wrap(self: &Arc<Self>, conn: PoolConnection<Any>, permit: OwnedSemaphorePermit) -> Conn {
        Conn { conn: Some(conn), home: Some(self.clone()), kept_at: BROKEN.load(Ordering::Relaxed), clean: true, _permit: Some(permit) }
    }

    fn give_back(&self, conn: PoolConnection<Any>, kept_at: u64) {
        // Checked under the lock `drain` takes, so nothing is kept after it.
        let mut idle = self.idle.lock().expect("warm cache lock");
        if kept_at != BROKEN.load(Ordering::Relaxed) || self.closed.load(Ordering::SeqCst) {
            drop(idle);
            return; // dropped: back through sqlx, which tests it
        }
        idle.push((conn, Instant::now(), kept_at));
    }
}

/// A connection checked out through [`Warm`], and the executor the
/// catalog's statements run on (`.fetch_all(&mut self.conn().await?)`). It
/// goes back warm when dropped if its last statement completed without an
/// error (straight to sqlx's pool otherwise, and where there is no cache).
pub(crate) struct Conn {
    conn: Option<PoolConnection<Any>>,
    home: Option<Arc<Warm>>,
    kept_at: u64,
    /// No statement is in flight or failed: nothing is left for the next
    /// command to read.
    clean: bool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("clean", &self.clean).finish_non_exhaustive()
    }
}

impl Conn {
    /// The connection, and the flag that says it is clean, marked unclean
    /// for the statement about to run.
    fn start(&mut self) -> (&mut AnyConnection, &mut bool) {
        self.clean = false;
        (self.conn.as_mut().expect("a live connection"), &mut self.clean)
    }
}

impl<'c> Executor<'c> for &'c mut Conn {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let (conn, clean) = self.start();
        let mut failed = false;
        let mut rows = conn.fetch_many(query);
        Box::pin(futures::stream::poll_fn(move |cx| {
            let next = rows.as_mut().poll_next(cx);
            match &next {
                Poll::Ready(Some(Err(_))) => failed = true,
                Poll::Ready(None) if !failed => *clean = true,
                _ => {}
            }
            next
        }))
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let (conn, clean) = self.start();
        let row = conn.fetch_optional(query);
        Box::pin(async move {
            let row = row.await;
            *clean = row.is_ok();
            row
        })
    }

    fn prepare_with<'e, 'q: 'e>(self, sql: &'q str, parameters: &'e [AnyTypeInfo]) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        let (conn, clean) = self.start();
        let prepared = conn.prepare_with(sql, parameters);
        Box::pin(async move {
            let prepared = prepared.await;
            *clean = prepared.is_ok();
            prepared
        })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        let (conn, clean) = self.start();
        let described = conn.describe(sql);
        Box::pin(async move {
            let described = described.await;
            *clean = described.is_ok();
            described
        })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        match (self.conn.take(), &self.home) {
            (Some(conn), Some(home)) if self.clean => home.give_back(conn, self.kept_at),
            // Back through sqlx: its release ping reads what is left or
            // closes the connection.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use crate::{Catalog, PoolSettings};

    async fn sqlite() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let settings = PoolSettings { name: "api", max_connections: 8, acquire_timeout: std::time::Duration::from_secs(3) };
        let c = Catalog::connect_with(&url, settings).await.unwrap();
        (dir, c)
    }

    fn idle(c: &Catalog) -> usize {
        c.warm.as_ref().expect("a warm cache").idle()
    }

    /// A completed statement leaves its connection warm; a failed one and
    /// one abandoned half-way do not (whatever they left unread goes back
    /// through sqlx), and the next statement is unaffected.
    #[tokio::test]
    async fn only_clean_connections_are_kept_warm() {
        let (_dir, c) = sqlite().await;
        sqlx::query("SELECT 1").fetch_one(&mut c.conn().await.unwrap()).await.unwrap();
        assert_eq!(idle(&c), 1, "a completed statement's connection is kept");

        let failed = sqlx::query("SELECT no_such_function()").fetch_one(&mut c.conn().await.unwrap()).await;
        assert!(failed.is_err());
        assert_eq!(idle(&c), 0, "the failed statement's connection was not kept");

        let mut conn = c.conn().await.unwrap();
        {
            let mut pending = Box::pin(
                sqlx::query("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000) SELECT SUM(x) FROM n")
                    .fetch_one(&mut conn),
            );
            // Polled once, then abandoned (a client gone).
            let waker = futures::task::noop_waker();
            let _ = pending.as_mut().poll(&mut std::task::Context::from_waker(&waker));
        }
        drop(conn);
        assert_eq!(idle(&c), 0, "the abandoned statement's connection was not kept");

        let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&mut c.conn().await.unwrap()).await.unwrap();
        assert_eq!(one, 1);
        assert_eq!(idle(&c), 1);
        c.close().await;
    }
}
