//! Groups: pools of photos shared by their members, as Flickr has. Adding
//! a photo to a pool never widens who may see it: listing a pool applies the
//! ACL to each photo.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use photostream_catalog::Group;
use photostream_types::{check_text, PhotoId};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{Page, PageParams};
use crate::access::visible_photo;
use crate::listing::keyed_page;
use crate::views::{rfc3339, PhotoView};
use crate::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupView {
    id: String,
    name: String,
    description: String,
    members: i64,
    created_at: String,
}

async fn view(st: &AppState, g: Group) -> Result<GroupView, ApiError> {
    Ok(GroupView {
        members: st.catalog.member_count(&g.id).await?,
        id: g.id,
        name: g.name,
        description: g.description,
        created_at: rfc3339(g.created_ms),
    })
}

async fn group(st: &AppState, id: &str) -> Result<Group, ApiError> {
    if id.len() > 64 {
        return Err(ApiError::not_found());
    }
    st.catalog.group(id).await?.ok_or_else(ApiError::not_found)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /v1/groups`: a new group; the creator joins it.
#[utoipa::path(post, path = "/v1/groups", tag = "social", request_body = NewGroup,
    responses((status = 201, description = "Created", body = GroupView),
              (status = 409, description = "A group of that name exists", body = crate::openapi::ErrorBody)))]
pub async fn create_group(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewGroup>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let user = caller.require_user()?.clone();
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request(ErrorCode::InvalidField, "a group needs a name"));
    }
    check_text("name", name, 100)?;
    check_text("description", &body.description, 2000)?;
    let g = st
        .catalog
        .create_group(&PhotoId::new().to_string(), name, &body.description, &user.id)
        .await
        .map_err(|e| match e {
            photostream_catalog::CatalogError::Conflict(_) => ApiError::conflict(ErrorCode::NameTaken, "a group of that name exists"),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(view(&st, g).await?)))
}

/// `GET /v1/groups/{id}`.
#[utoipa::path(get, path = "/v1/groups/{id}", tag = "social", params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, description = "The group", body = GroupView)))]
pub async fn get_group(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<GroupView>, ApiError> {
    let g = group(&st, &id).await?;
    Ok(Json(view(&st, g).await?))
}

/// `PUT /v1/groups/{id}/members`: join.
#[utoipa::path(put, path = "/v1/groups/{id}/members", tag = "social", params(("id" = String, Path, description = "The group's id")),
    responses((status = 204, description = "A member")))]
pub async fn join(State(st): State<Arc<AppState>>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    let g = group(&st, &id).await?;
    st.catalog.join_group(&g.id, &user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/groups/{id}/members`: leave; the caller's photos leave the pool.
#[utoipa::path(delete, path = "/v1/groups/{id}/members", tag = "social", params(("id" = String, Path, description = "The group's id")),
    responses((status = 204, description = "No longer a member")))]
pub async fn leave(State(st): State<Arc<AppState>>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    let g = group(&st, &id).await?;
    st.catalog.leave_group(&g.id, &user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPhoto {
    photo: String,
}

/// Members add their own photos.
#[utoipa::path(post, path = "/v1/groups/{id}/photos", tag = "social", params(("id" = String, Path, description = "The group's id")), request_body = AddPhoto,
    responses((status = 204, description = "In the pool"),
              (status = 403, description = "Not a member, or not the photo's owner", body = crate::openapi::ErrorBody)))]
pub async fn add_photo(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddPhoto>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    let g = group(&st, &id).await?;
    if !st.catalog.is_member(&g.id, &user.id).await? {
        return Err(ApiError::forbidden("join the group first"));
    }
    let photo = visible_photo(&st, &caller, &body.photo).await?;
    if photo.owner_id != user.id {
        return Err(ApiError::forbidden("only your own photos can go in a pool"));
    }
    st.catalog.add_group_photo(&g.id, &photo.id, &user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/groups/{id}/photos`: the pool, newest first, only photos the caller may see.
#[utoipa::path(get, path = "/v1/groups/{id}/photos", tag = "social", params(("id" = String, Path, description = "The group's id"), PageParams),
    responses((status = 200, description = "A page of photos", body = Page<PhotoView>)))]
pub async fn pool(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<PhotoView>>, ApiError> {
    let (limit, direction) = (params.limit()?, params.direction()?);
    let g = group(&st, &id).await?;
    let (items, more) = st.catalog.list_group_photos(&g.id, &direction, limit).await?;
    keyed_page(&st, &caller, items, more, &direction).await.map(Json)
}
