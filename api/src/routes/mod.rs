//! Handlers, one module per area, and the router that mounts them.
//!
//! A route file depends only on the crate's shared modules (`access`,
//! `listing`, `publish`, …), never on another route file.

mod accounts;
mod albums;
mod billing;
mod files;
mod health;
mod photos;
mod search;
mod explore;
mod groups;
mod moderation;
mod notifications;
mod social;
mod stats;
mod streams;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::AppState;

/// JSON bodies are small; only uploads get the large limit.
const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The generated description, rendered once at start-up.
#[derive(Clone)]
struct OpenApiJson(Arc<String>);

/// `GET /openapi.json`: this API, described from the code (see `crate::openapi`).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_json(axum::Extension(OpenApiJson(spec)): axum::Extension<OpenApiJson>) -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], spec.as_str().to_owned())
}

pub fn router(state: Arc<AppState>) -> Router {
    crate::metrics::handle();
    let upload_limit = state.config.max_upload_bytes + 2 * 1024 * 1024;
    let pace = state.config.body_pace;
    let request_id = HeaderName::from_static("x-request-id");
    let (router, mut api) = described_routes(upload_limit).split_for_parts();
    crate::openapi::complete(&mut api);
    let spec = Arc::new(api.to_pretty_json().expect("the OpenAPI document serialises"));
    router
        .layer(axum::Extension(OpenApiJson(spec)))
        // The browser app (not part of the API's description).
        .route("/assets/{*path}", axum::routing::get(crate::web::asset))
        .fallback(crate::web::fallback)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "this path does not accept that method",
            )
        })
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn(move |req, next| crate::server::body_pace(pace, req, next)))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Every route, each mounted through `routes!` so it is described from
/// its handler's `#[utoipa::path]`: none can be served undescribed.
fn described_routes(upload_limit: usize) -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(accounts::register))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::change_password))
        .routes(routes!(accounts::me, accounts::patch_me))
        .routes(routes!(billing::webhook).layer(DefaultBodyLimit::max(billing::WEBHOOK_BODY_LIMIT)))
        .routes(routes!(upload::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(photos::photos_by_content))
        .routes(routes!(accounts::create_token, accounts::list_tokens))
        .routes(routes!(accounts::revoke_token))
        .routes(routes!(photos::get_photo, photos::patch_photo, photos::delete_photo))
        .routes(routes!(photos::get_viewers, photos::put_viewers))
        .routes(routes!(albums::create_album))
        .routes(routes!(albums::patch_album))
        .routes(routes!(albums::album_photos))
        .routes(routes!(albums::user_albums))
        .routes(routes!(social::add_comment, social::list_comments))
        .routes(routes!(social::delete_comment))
        .routes(routes!(social::favorite, social::unfavorite))
        .routes(routes!(social::user_favorites))
        .routes(routes!(social::follow, social::unfollow))
        .routes(routes!(social::followers))
        .routes(routes!(social::following))
        .routes(routes!(social::feed))
        .routes(routes!(explore::explore))
        .routes(routes!(groups::create_group))
        .routes(routes!(groups::get_group))
        .routes(routes!(groups::join, groups::leave))
        .routes(routes!(groups::add_photo, groups::pool))
        .routes(routes!(moderation::report))
        .routes(routes!(moderation::queue))
        .routes(routes!(moderation::decide))
        .routes(routes!(moderation::audit))
        .routes(routes!(stats::photo_stats))
        .routes(routes!(stats::user_stats))
        .routes(routes!(notifications::notifications))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::notification_stream))
        .routes(routes!(files::thumbnail))
        .routes(routes!(files::display))
        .routes(routes!(files::original))
        .routes(routes!(files::media))
        .routes(routes!(streams::user_photos))
        .routes(routes!(search::search))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(crate::metrics::render))
        .routes(routes!(openapi_json))
}
