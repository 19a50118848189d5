//! Handlers, one module per area, and the router that mounts them.

mod accounts;
mod albums;
mod files;
mod health;
pub(crate) mod photos;
mod search;
mod explore;
mod groups;
mod moderation;
mod social;
mod stats;
pub(crate) mod streams;
pub use explore::ExploreWeights;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::{delete, get, post};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::AppState;

/// The user named in a path, or 404 (also for names that do not parse).
pub(crate) async fn user_named(st: &AppState, name: &str) -> Result<photostream_catalog::User, ApiError> {
    let username = photostream_types::Username::parse(name).map_err(|_| ApiError::not_found())?;
    st.catalog.user_by_username(&username).await?.ok_or_else(ApiError::not_found)
}

/// The outbox row carrying `record`, keyed as the record says.
pub(crate) fn outbox_for(record: photostream_pipeline::Record, request_id: Option<String>) -> photostream_catalog::OutboxEntry {
    photostream_projections::outbox_entry(record, request_id)
}

/// JSON bodies are small; only uploads get the large limit.
const JSON_BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: Arc<AppState>) -> Router {
    crate::metrics::handle();
    let upload_limit = state.config.max_upload_bytes + 2 * 1024 * 1024;
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/v1/users", post(accounts::register))
        .route("/v1/sessions", post(accounts::login))
        .route(
            "/v1/photos",
            post(upload::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/v1/tokens", post(accounts::create_token).get(accounts::list_tokens))
        .route("/v1/tokens/{id}", delete(accounts::revoke_token))
        .route(
            "/v1/photos/{id}",
            get(photos::get_photo).patch(photos::patch_photo).delete(photos::delete_photo),
        )
        .route("/v1/photos/{id}/viewers", get(photos::get_viewers).put(photos::put_viewers))
        .route("/v1/albums", post(albums::create_album))
        .route("/v1/albums/{id}", axum::routing::patch(albums::patch_album))
        .route("/v1/albums/{id}/photos", get(albums::album_photos))
        .route("/v1/users/{username}/albums", get(albums::user_albums))
        .route("/v1/photos/{id}/comments", post(social::add_comment).get(social::list_comments))
        .route("/v1/comments/{id}", delete(social::delete_comment))
        .route("/v1/photos/{id}/favorite", axum::routing::put(social::favorite).delete(social::unfavorite))
        .route("/v1/users/{username}/favorites", get(social::user_favorites))
        .route("/v1/users/{username}/follow", axum::routing::put(social::follow).delete(social::unfollow))
        .route("/v1/users/{username}/followers", get(social::followers))
        .route("/v1/users/{username}/following", get(social::following))
        .route("/v1/feed", get(social::feed))
        .route("/v1/explore", get(explore::explore))
        .route("/v1/groups", post(groups::create_group))
        .route("/v1/groups/{id}", get(groups::get_group))
        .route("/v1/groups/{id}/members", axum::routing::put(groups::join).delete(groups::leave))
        .route("/v1/groups/{id}/photos", post(groups::add_photo).get(groups::pool))
        .route("/v1/photos/{id}/reports", post(moderation::report))
        .route("/v1/moderation/queue", get(moderation::queue))
        .route("/v1/moderation/queue/{id}/decision", post(moderation::decide))
        .route("/v1/moderation/audit", get(moderation::audit))
        .route("/v1/photos/{id}/stats", get(stats::photo_stats))
        .route("/v1/users/{username}/stats", get(stats::user_stats))
        .route("/v1/notifications", get(social::notifications))
        .route("/v1/notifications/read", post(social::mark_read))
        .route("/v1/notifications/stream", get(social::notification_stream))
        .route("/v1/photos/{id}/thumbnail", get(files::thumbnail))
        .route("/v1/photos/{id}/original", get(files::original))
        .route("/media/{user}/{album}/{resolution}/{file}", get(files::media))
        .route("/v1/users/{username}/photos", get(streams::user_photos))
        .route("/v1/search", get(search::search))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::render))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not accept that method",
            )
        })
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
