//! Photostreams: one user's photos, newest first, keyset-paginated.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use photostream_catalog::{ListAccess, PhotoFilter};
use photostream_types::{normalise_tag, AlbumName};
use serde::Deserialize;

use crate::routes::photos::if_visible;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::pagination::{keyset_page, Page, PageParams};
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
    let owner = crate::routes::user_named(&st, &username).await?;
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

/// One page of `owner`'s photos (as set in `filter`) that the caller may
/// see: filtered by access in SQL so pages stay full, then each row checked
/// by the ACL function so there is one authority even if the two drift.
pub async fn list_visible(
    st: &AppState,
    caller: &Caller,
    mut filter: PhotoFilter,
    direction: &photostream_catalog::Direction,
    limit: i64,
) -> Result<Page<PhotoView>, ApiError> {
    let sees_everything = caller
        .user()
        .is_some_and(|u| filter.owner.as_ref() == Some(&u.id));
    filter.access = match caller.user() {
        _ if sees_everything => ListAccess::Everything,
        Some(u) if filter.feed_of.is_some() => ListAccess::OwnOrVisibleTo(u.id.clone()),
        user => ListAccess::ReadyVisibleTo(user.map(|u| u.id.clone())),
    };
    let (photos, more) = st.catalog.list_photos(&filter, direction, limit).await?;
    let mut visible = Vec::with_capacity(photos.len());
    for p in photos {
        if let Some(p) = if_visible(st, caller, p).await? {
            visible.push(p);
        }
    }
    Ok(keyset_page(visible, more, direction, |p| p.keyset(), |p| st.photo_view(p, &caller)))
}

/// A page of photos listed under their own keysets (time favorited, time
/// added to a pool), keeping those the caller may see.
pub async fn keyed_page(
    st: &AppState,
    caller: &Caller,
    items: Vec<(photostream_catalog::Keyset, photostream_catalog::Photo)>,
    more: bool,
    direction: &photostream_catalog::Direction,
) -> Result<Page<PhotoView>, ApiError> {
    let mut visible = Vec::with_capacity(items.len());
    for (k, p) in items {
        if let Some(p) = if_visible(st, caller, p).await? {
            visible.push((k, p));
        }
    }
    Ok(keyset_page(visible, more, direction, |(k, _)| k.clone(), |(_, p)| st.photo_view(p, &caller)))
}
