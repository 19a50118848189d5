//! Albums: every photo is in exactly one; `default` exists for every user.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use photostream_catalog::{Album, PhotoFilter};
use photostream_types::{AlbumId, AlbumName, Description, Title, Username, Visibility};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{Page, PageParams};
use crate::listing::list_visible;
use crate::views::{rfc3339, PhotoView};
use crate::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlbumView {
    id: String,
    owner: String,
    name: String,
    title: String,
    description: String,
    default_visibility: Visibility,
    created_at: String,
}

fn view(a: Album, owner: &Username) -> AlbumView {
    AlbumView {
        id: a.id.to_string(),
        owner: owner.to_string(),
        name: a.name.to_string(),
        title: a.title,
        description: a.description,
        default_visibility: a.default_visibility,
        created_at: rfc3339(a.created_ms),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlbum {
    name: String,
    title: Option<String>,
    #[serde(default)]
    description: String,
    default_visibility: Option<Visibility>,
}

/// `POST /v1/albums`: a new album of the caller's.
#[utoipa::path(post, path = "/v1/albums", tag = "social", request_body = NewAlbum,
    responses((status = 201, description = "Created", body = AlbumView),
              (status = 409, description = "The caller has an album of that name", body = crate::openapi::ErrorBody)))]
pub async fn create_album(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAlbum>,
) -> Result<(StatusCode, Json<AlbumView>), ApiError> {
    let user = caller.require_user()?;
    let name = AlbumName::parse(&body.name)?;
    let title = body.title.unwrap_or_else(|| body.name.trim().to_string());
    Title::check(&title)?;
    Description::check(&body.description)?;
    let album = st
        .catalog
        .create_album(
            &user.id,
            &name,
            &title,
            &body.description,
            body.default_visibility.unwrap_or(Visibility::Public),
        )
        .await
        .map_err(|e| match e {
            photostream_catalog::CatalogError::Conflict(_) => {
                ApiError::conflict(ErrorCode::AlbumExists, "you already have an album with that name")
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(view(album, &user.username))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlbumEdit {
    title: Option<String>,
    description: Option<String>,
    default_visibility: Option<Visibility>,
}

/// `PATCH /v1/albums/{id}`: the owner edits title, description or default visibility.
#[utoipa::path(patch, path = "/v1/albums/{id}", tag = "social",
    params(("id" = String, Path, description = "The album's id")), request_body = AlbumEdit,
    responses((status = 200, description = "The album", body = AlbumView),
              (status = 403, description = "Not the owner", body = crate::openapi::ErrorBody)))]
pub async fn patch_album(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AlbumEdit>,
) -> Result<Json<AlbumView>, ApiError> {
    let user = caller.require_user()?;
    let id: AlbumId = id.parse().map_err(|_| ApiError::not_found())?;
    let album = st.catalog.album(&id).await?.ok_or_else(ApiError::not_found)?;
    if album.owner_id != user.id {
        return Err(ApiError::forbidden("only the album's owner may change it"));
    }
    if let Some(t) = &body.title {
        Title::check(t)?;
    }
    if let Some(d) = &body.description {
        Description::check(d)?;
    }
    let album = st
        .catalog
        .update_album(&id, body.title.as_deref(), body.description.as_deref(), body.default_visibility)
        .await?;
    Ok(Json(view(album, &user.username)))
}

/// `GET /v1/users/{username}/albums`: a user's albums — all of them for
/// the owner; for anyone else those whose default visibility is public or
/// that hold a photo the caller may see (an album's name can say as much as
/// its photos).
#[utoipa::path(get, path = "/v1/users/{username}/albums", tag = "social",
    params(("username" = String, Path)),
    responses((status = 200, description = "The albums", body = Page<AlbumView>)))]
pub async fn user_albums(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<Page<AlbumView>>, ApiError> {
    let owner = crate::access::user_named(&st, &username).await?;
    let albums = st.catalog.albums(&owner.id).await?;
    let mut items = Vec::with_capacity(albums.len());
    for album in albums {
        if caller.user_id() == Some(&owner.id) || album.default_visibility == Visibility::Public {
            items.push(view(album, &owner.username));
            continue;
        }
        let filter = PhotoFilter { owner: Some(owner.id.clone()), album: Some(album.id.clone()), ..Default::default() };
        let page = list_visible(&st, &caller, filter, &photostream_catalog::Direction::First, 1).await?;
        if !page.items.is_empty() {
            items.push(view(album, &owner.username));
        }
    }
    Ok(Json(Page { items, next: None, prev: None }))
}

/// `GET /v1/albums/{id}/photos`: the album's photos the caller may see, newest first.
#[utoipa::path(get, path = "/v1/albums/{id}/photos", tag = "social",
    params(("id" = String, Path, description = "The album's id"), PageParams),
    responses((status = 200, description = "A page of photos", body = Page<PhotoView>)))]
pub async fn album_photos(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<PhotoView>>, ApiError> {
    let limit = params.limit()?;
    let direction = params.direction()?;
    let id: AlbumId = id.parse().map_err(|_| ApiError::not_found())?;
    let album = st.catalog.album(&id).await?.ok_or_else(ApiError::not_found)?;
    let filter = PhotoFilter {
        owner: Some(album.owner_id.clone()),
        album: Some(album.id.clone()),
        ..Default::default()
    };
    list_visible(&st, &caller, filter, &direction, limit).await.map(Json)
}
