//! The HTTP API of photostream (contract: `shared/API.md`).
//!
//! - [`app`] builds the axum [`Router`] from an [`AppState`]; [`serve`] runs
//!   it on a listener until a shutdown future resolves, finishing in-flight
//!   requests. Tests call both with a listener on port 0.
//! - [`error::ApiError`]: the one error type, with a status and a stable
//!   `code`; client errors are 4xx, backend outages 503, and nothing a
//!   client sends can produce a 500.
//! - [`auth`]: password hashing, session JWTs, and the [`auth::Caller`]
//!   extractor.
//! - [`acl`]: the single, pure decision of who may see what. Every read path
//!   (photo JSON, thumbnail, original, `/media/…`, photostreams, search) asks it.
//! - [`signing`]: signed `/media/…` URLs for files that are not public.
//! - [`limits`]: one download and one upload in flight per user; login
//!   rate limits.
//! - [`metrics`]: Prometheus metrics at `GET /metrics`.
//! - [`signals`]: feeds the windowed signals (trending, live view counters,
//!   abuse rates) and throttles users over their rate.
//! - [`routes`]: handlers, one module per area.
//!
//! The API never talks to processors: it commits to the catalog (with an
//! outbox record) and the processors pick the work up from the stream.

pub mod acl;
pub mod auth;
pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod server;
pub mod signals;
pub mod signing;
pub mod state;
pub mod view_events;
pub mod views;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use auth::AuthKeys;
pub use state::{ApiConfig, AppState};

/// The whole API as a router.
pub fn app(state: Arc<AppState>) -> Router {
    routes::router(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then stops
/// accepting and waits for in-flight requests to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = state.config.header_timeout;
    server::serve(listener, app(state), header_timeout, shutdown).await
}
