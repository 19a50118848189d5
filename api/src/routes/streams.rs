//! Photostreams: one user's photos, newest first, keyset-paginated.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use photostream_catalog::PhotoFilter;
use photostream_types::{normalise_tag, AlbumName};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::listing::list_visible;
use crate::pagination::{Page, PageParams};
use crate::views::PhotoView;
use crate::AppState;

#[derive(Deserialize)]
pub struct StreamParams {
    #[serde(flatten)]
    page: PageParams,
    tag: Option<String>,
    album: Option<String>,
}

/// `GET /v1/users/{username}/photos`: that user's photos the caller may see, newest first.
#[utoipa::path(get, path = "/v1/users/{username}/photos", tag = "reading",
    params(("username" = String, Path), ("tag" = Option<String>, Query, description = "Only photos with this tag"),
           ("album" = Option<String>, Query, description = "Only photos in this album (an album id)"), PageParams),
    responses((status = 200, description = "A page of photos", body = Page<PhotoView>)))]
pub async fn user_photos(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Json<Page<PhotoView>>, ApiError> {
    let limit = params.page.limit()?;
    let direction = params.page.direction()?;
    let owner = crate::access::user_named(&st, &username).await?;
    let album = match &params.album {
        None => None,
        Some(name) => {
            let name = AlbumName::parse(name)?;
            match st.catalog.album_by_name(&owner.id, &name).await? {
                Some(a) => Some(a.id),
                None => return Err(ApiError::not_found()),
            }
        }
    };
    let filter = PhotoFilter {
        owner: Some(owner.id.clone()),
        album,
        tag: params.tag.as_deref().map(normalise_tag).transpose()?,
        ..Default::default()
    };
    list_visible(&st, &caller, filter, &direction, limit).await.map(Json)
}
