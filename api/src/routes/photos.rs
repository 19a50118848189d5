//! Photo metadata reads, and the one gate every per-photo read passes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use photostream_catalog::Photo;
use photostream_types::PhotoId;

use crate::acl::{can_view, PhotoAccess};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views::PhotoView;
use crate::AppState;

/// Loads a photo the caller may see, or 404 (also for ids that do not
/// parse, so nothing about existence leaks).
pub async fn visible_photo(st: &AppState, caller: &Caller, id: &str) -> Result<Photo, ApiError> {
    let id: PhotoId = id.parse().map_err(|_| ApiError::not_found())?;
    let photo = st.catalog.photo(&id).await?.ok_or_else(ApiError::not_found)?;
    ensure_visible(caller, photo)
}

/// 404 unless the caller may see `photo`.
pub fn ensure_visible(caller: &Caller, photo: Photo) -> Result<Photo, ApiError> {
    if can_view(&caller.viewer(), &PhotoAccess::of(&photo, &[])) {
        Ok(photo)
    } else {
        Err(ApiError::not_found())
    }
}

pub async fn get_photo(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PhotoView>, ApiError> {
    let photo = visible_photo(&st, &caller, &id).await?;
    Ok(Json(PhotoView::of(photo)))
}
