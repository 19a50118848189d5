//! Statistics for owners: views (from analytics), favorites and comments
//! (from the catalog), with a per-day view series, and live view counters
//! (the signals' tumbling one-minute windows: no analytics query).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use photostream_analytics::{EventKind, Scope};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::access::visible_photo;
use crate::AppState;

/// The per-day series covers this many days.
const SERIES_DAYS: i64 = 30;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Day {
    day: String,
    views: u64,
}

/// Views in the newest one-minute window and the hour ending with it
/// (`photostream-signals`; the embedded backend counts the minute still open).
#[derive(Serialize, utoipa::ToSchema)]
pub struct LiveViews {
    /// When the minute counted ends (RFC 3339).
    minute_ends_at: String,
    last_minute: u64,
    last_hour: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PhotoStats {
    photo: String,
    views: u64,
    favorites: i64,
    comments: i64,
    daily: Vec<Day>,
    live: LiveViews,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserStats {
    username: String,
    photos: i64,
    views: u64,
    favorites: i64,
    comments: i64,
    daily: Vec<Day>,
    live: LiveViews,
}

async fn live(st: &AppState, scope: photostream_signals::ViewScope) -> Result<LiveViews, ApiError> {
    let v = st
        .signals
        .live_views(&scope, photostream_signals::At::Latest)
        .await
        .map_err(|e| ApiError::unavailable("signals", e))?;
    let ends = chrono::DateTime::from_timestamp_millis(v.window_end_ms).unwrap_or_default();
    Ok(LiveViews {
        minute_ends_at: ends.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        last_minute: v.last_minute,
        last_hour: v.last_hour,
    })
}

async fn series(st: &AppState, scope: &Scope) -> Result<Vec<Day>, ApiError> {
    let Some(analytics) = &st.analytics else { return Ok(Vec::new()) };
    let since = photostream_types::now_ms() - SERIES_DAYS * 86_400_000;
    let days = analytics
        .daily(EventKind::View, scope, since)
        .await
        .map_err(|e| ApiError::unavailable("analytics", e))?;
    Ok(days.into_iter().map(|(day, views)| Day { day, views }).collect())
}

async fn all_time_views(st: &AppState, scope: &Scope) -> Result<u64, ApiError> {
    let Some(analytics) = &st.analytics else { return Ok(0) };
    let days = analytics
        .daily(EventKind::View, scope, 0)
        .await
        .map_err(|e| ApiError::unavailable("analytics", e))?;
    Ok(days.iter().map(|(_, n)| n).sum())
}

/// `GET /v1/photos/{id}/stats`: the owner only (404 if the photo is not
/// visible to the caller, 403 if it is but is not theirs).
#[utoipa::path(get, path = "/v1/photos/{id}/stats", tag = "stats", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 200, description = "Views, favorites, comments and a 30-day series", body = PhotoStats),
              (status = 403, description = "Visible, but not the caller's", body = crate::openapi::ErrorBody)))]
pub async fn photo_stats(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PhotoStats>, ApiError> {
    let user = caller.require_user()?.clone();
    let photo = visible_photo(&st, &caller, &id).await?;
    if photo.owner_id != user.id {
        return Err(ApiError::forbidden("statistics are for the photo's owner"));
    }
    let scope = Scope::Photo(photo.id.clone());
    Ok(Json(PhotoStats {
        photo: photo.id.to_string(),
        views: all_time_views(&st, &scope).await?,
        favorites: st.catalog.favorite_count(&photo.id).await?,
        comments: st.catalog.comment_count(&photo.id).await?,
        daily: series(&st, &scope).await?,
        live: live(&st, photostream_signals::ViewScope::Photo(photo.id.clone())).await?,
    }))
}

/// `GET /v1/users/{username}/stats`: that user only.
#[utoipa::path(get, path = "/v1/users/{username}/stats", tag = "stats", params(("username" = String, Path)),
    responses((status = 200, description = "Totals and a 30-day series", body = UserStats),
              (status = 403, description = "Not the caller", body = crate::openapi::ErrorBody)))]
pub async fn user_stats(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<UserStats>, ApiError> {
    let user = caller.require_user()?.clone();
    let owner = crate::access::user_named(&st, &username).await?;
    if owner.id != user.id {
        return Err(ApiError::forbidden("statistics are for their owner"));
    }
    let totals = st.catalog.owner_totals(&owner.id).await?;
    let scope = Scope::Owner(owner.id.clone());
    let live = live(&st, photostream_signals::ViewScope::Owner(owner.id.clone())).await?;
    Ok(Json(UserStats {
        username: owner.username.to_string(),
        photos: totals.photos,
        views: all_time_views(&st, &scope).await?,
        favorites: totals.favorites,
        comments: totals.comments,
        daily: series(&st, &scope).await?,
        live,
    }))
}
