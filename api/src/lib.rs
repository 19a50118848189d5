//! The HTTP API of photostream (contract: `shared/API.md`).
//!
//! - [`app`] builds the axum [`Router`] from an [`AppState`]; [`serve`] runs
//!   it on a listener until a shutdown future resolves, finishing in-flight
//!   requests. Tests call both with a listener on port 0.
//! - [`error::ApiError`]: the one error type, with a status and a stable
//!   `code` from [`error_code::ErrorCode`]; client errors are 4xx, backend outages 503, and nothing a
//!   client sends can produce a 500.
//! - [`credentials`]: password hashing, session JWTs, API token hashes;
//!   [`auth`]: the [`auth::Caller`] extractor and scopes.
//! - [`access`]: the one gate of who may see or edit what, over the pure
//!   decision in `photostream_types::acl`. Every read path (photo JSON,
//!   thumbnail, original, `/media/…`, photostreams, search) asks it.
//! - [`listing`]: pages of photos filtered for the caller.
//! - [`publish`]: a write's outbox record and synchronous search update.
//! - [`object_response`]: answering with a stored object (validators,
//!   caching, `Range`); [`download`]: an original download's slot and its
//!   re-checks while it streams.
//! - [`signing`]: signed `/media/…` URLs for files that are not public.
//! - [`limits`]: login and sign-up rate limits, counted in the cache crate's
//!   `RateLimiter` (Redis when the cache is, so they hold across instances).
//! - [`metrics`]: Prometheus metrics at `GET /metrics`.
//! - [`signals`]: feeds the windowed signals (trending, live view counters,
//!   abuse rates) and throttles users over their rate.
//! - [`routes`]: handlers, one module per area; a route file imports only
//!   the shared modules above, never another route file.
//!
//! The API never talks to processors: it commits to the catalog (with an
//! outbox record) and the processors pick the work up from the stream.

pub mod access;
pub mod auth;
pub mod credentials;
pub mod download;
pub mod error;
pub mod error_code;
pub mod extract;
pub mod limits;
pub mod listing;
pub mod metrics;
pub mod object_response;
pub mod openapi;
pub mod pagination;
pub mod publish;
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

pub use credentials::AuthKeys;
pub use state::{ApiConfig, AppState, ExploreWeights};

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
