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
//! - a query abandoned half-way (a client gone, a timeout) leaves the
//!   connection with replies still to read; sqlx drains them at the start
//!   of the connection's next command, as it does for a pooled one;
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

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
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
    idle: Mutex<Vec<(PoolConnection<Any>, Instant)>>,
    permits: Arc<Semaphore>,
    /// The [`BROKEN`] value the idle connections were kept under.
    kept_at: AtomicU64,
    /// Set by [`drain`](Self::drain): nothing is kept any more.
    closed: AtomicBool,
}

impl Warm {
    /// A cache of at most `permits` connections in use or idle at once.
    pub(crate) fn new(permits: usize) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(permits.max(1))),
            kept_at: AtomicU64::new(BROKEN.load(Ordering::Relaxed)),
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
        self.closed.store(true, Ordering::SeqCst);
        let drained = std::mem::take(&mut *self.idle.lock().expect("warm cache lock"));
        drop(drained);
    }

    /// A connection within `timeout`: a warm one if there is one, else a
    /// new checkout from `pool`. Without a cache (`None`), a plain checkout.
    pub(crate) async fn acquire(warm: Option<&Arc<Self>>, pool: &AnyPool, timeout: Duration) -> Result<Conn, sqlx::Error> {
        let Some(warm) = warm else {
            return Ok(Conn { conn: Some(pool.acquire().await?), home: None, kept_at: 0, _permit: None });
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
            if since.elapsed() >= STALE_AFTER && conn.ping().await.is_err() {
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

    fn take(&self) -> Option<(PoolConnection<Any>, Instant)> {
        let mut idle = self.idle.lock().expect("warm cache lock");
        let broken = BROKEN.load(Ordering::Relaxed);
        if self.kept_at.swap(broken, Ordering::Relaxed) != broken {
            // A connection may have broken since these were kept.
            let stale = std::mem::take(&mut *idle);
            drop(idle);
            drop(stale);
            return None;
        }
        idle.pop()
    }

    fn wrap(self: &Arc<Self>, conn: PoolConnection<Any>, permit: OwnedSemaphorePermit) -> Conn {
        Conn { conn: Some(conn), home: Some(self.clone()), kept_at: BROKEN.load(Ordering::Relaxed), _permit: Some(permit) }
    }

    fn give_back(&self, conn: PoolConnection<Any>, kept_at: u64) {
        if kept_at != BROKEN.load(Ordering::Relaxed) || self.closed.load(Ordering::SeqCst) {
            return; // dropped: back through sqlx, which tests it
        }
        self.idle.lock().expect("warm cache lock").push((conn, Instant::now()));
    }
}

/// A connection checked out through [`Warm`]; it goes back warm when
/// dropped (straight to sqlx's pool where there is no cache).
pub(crate) struct Conn {
    conn: Option<PoolConnection<Any>>,
    home: Option<Arc<Warm>>,
    kept_at: u64,
    _permit: Option<OwnedSemaphorePermit>,
}

impl std::ops::Deref for Conn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("a live connection")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("a live connection")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let (Some(conn), Some(home)) = (self.conn.take(), &self.home) {
            home.give_back(conn, self.kept_at);
        }
    }
}
