//! Comments, favorites, follows and the feed (notifications are
//! `routes/notifications.rs`). Every photo-bound path asks the ACL function
//! first, so a private photo's comments and favorites are invisible to
//! anyone who may not see the photo.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use photostream_catalog::{Comment, PhotoFilter};
use photostream_pipeline::{CommentAdded, Favorited, Followed, Record};
use photostream_types::{check_text, PhotoId};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::{ApiJson, ApiQuery, RequestId};
use crate::pagination::{keyset_page, Page, PageParams};
use crate::access::visible_photo;
use crate::access::user_named;
use crate::publish::outbox_for;
use crate::listing::{keyed_page, list_visible};
use crate::views::{rfc3339, PhotoView};
use crate::AppState;

pub const MAX_COMMENT: usize = 2000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CommentView {
    id: String,
    photo: String,
    author: String,
    text: String,
    created_at: String,
}

fn comment_view(c: Comment) -> CommentView {
    CommentView {
        id: c.id,
        photo: c.photo_id.to_string(),
        author: c.author.to_string(),
        text: c.text,
        created_at: rfc3339(c.created_ms),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    text: String,
}


/// A photo the caller may comment on or favorite: one they see as a member
/// would. A moderator who sees it only because it is under review gets 403:
/// moderators act on what they review, they don't socialise on it (and its
/// owner is never notified of them).
async fn social_photo(st: &AppState, caller: &Caller, id: &str) -> Result<photostream_catalog::Photo, ApiError> {
    let photo = visible_photo(st, caller, id).await?;
    if crate::access::seen_only_in_review(st, caller, &photo).await? {
        return Err(ApiError::forbidden("moderators review this photo; they cannot comment on or favorite it").with_code(ErrorCode::ReviewOnly));
    }
    Ok(photo)
}

/// `POST /v1/photos/{id}/comments`: comment on a photo the caller can see.
#[utoipa::path(post, path = "/v1/photos/{id}/comments", tag = "social", params(("id" = String, Path, description = "The photo's id")), request_body = NewComment,
    responses((status = 201, description = "The comment", body = CommentView),
              (status = 429, description = "Over the caller's comment rate (`rate_limited`)", body = crate::openapi::ErrorBody)))]
pub async fn add_comment(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewComment>,
) -> Result<(StatusCode, Json<CommentView>), ApiError> {
    let user = caller.require_user()?.clone();
    let photo = social_photo(&st, &caller, &id).await?;
    let text = body.text.trim();
    if text.is_empty() {
        return Err(ApiError::bad_request(ErrorCode::InvalidField, "a comment needs text"));
    }
    check_text("text", text, MAX_COMMENT)?;
    crate::signals::check_rate(&st, &user.id, photostream_signals::Action::Comment).await?;
    let comment_id = PhotoId::new().to_string();
    let record = Record::CommentAdded(CommentAdded {
        comment_id: comment_id.clone(),
        photo_id: photo.id.clone(),
        author_id: user.id.clone(),
    });
    let c = st
        .catalog
        .add_comment(&comment_id, &photo.id, &user.id, text, &outbox_for(record, request_id))
        .await?;
    st.outbox_wake.notify_one();
    crate::signals::record_action(&st, &user.id, photostream_signals::Action::Comment).await;
    Ok((StatusCode::CREATED, Json(comment_view(c))))
}

/// `GET /v1/photos/{id}/comments`: oldest first.
#[utoipa::path(get, path = "/v1/photos/{id}/comments", tag = "social", params(("id" = String, Path, description = "The photo's id"), PageParams),
    responses((status = 200, description = "A page of comments", body = Page<CommentView>)))]
pub async fn list_comments(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<CommentView>>, ApiError> {
    let (limit, direction) = (params.limit()?, params.direction()?);
    let photo = visible_photo(&st, &caller, &id).await?;
    let (comments, more) = st.catalog.list_comments(&photo.id, &direction, limit).await?;
    Ok(Json(keyset_page(comments, more, &direction, Comment::keyset, comment_view)))
}

/// Author, photo owner or moderator; 404 if the caller cannot see the photo.
#[utoipa::path(delete, path = "/v1/comments/{id}", tag = "social",
    params(("id" = String, Path, description = "The comment's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not allowed to delete it", body = crate::openapi::ErrorBody)))]
pub async fn delete_comment(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?;
    let comment = st.catalog.comment(&id).await?.ok_or_else(ApiError::not_found)?;
    let photo = visible_photo(&st, &caller, comment.photo_id.as_str()).await?;
    if comment.author_id != user.id && photo.owner_id != user.id && !user.moderator {
        return Err(ApiError::forbidden("only the author, the photo's owner or a moderator may delete a comment"));
    }
    st.catalog.delete_comment(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/photos/{id}/favorite`.
#[utoipa::path(put, path = "/v1/photos/{id}/favorite", tag = "social", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 204, description = "A favorite")))]
pub async fn favorite(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    let photo = social_photo(&st, &caller, &id).await?;
    let record = Record::Favorited(Favorited { photo_id: photo.id.clone(), user_id: user.id.clone() });
    if st.catalog.add_favorite(&user.id, &photo.id, &outbox_for(record, request_id)).await? {
        st.outbox_wake.notify_one();
        let event = photostream_signals::SignalEvent::favorite(photo.id.clone(), user.id.clone(), photostream_types::now_ms());
        crate::signals::record(&st, event).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/photos/{id}/favorite`.
#[utoipa::path(delete, path = "/v1/photos/{id}/favorite", tag = "social", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 204, description = "No longer a favorite")))]
pub async fn unfavorite(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    let photo = visible_photo(&st, &caller, &id).await?;
    st.catalog.remove_favorite(&user.id, &photo.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/users/{username}/favorites`: most recently favorited first, only photos the caller may see.
#[utoipa::path(get, path = "/v1/users/{username}/favorites", tag = "social", params(("username" = String, Path), PageParams),
    responses((status = 200, description = "A page of photos", body = Page<PhotoView>)))]
pub async fn user_favorites(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<PhotoView>>, ApiError> {
    let (limit, direction) = (params.limit()?, params.direction()?);
    let owner = user_named(&st, &username).await?;
    let (items, more) = st.catalog.list_favorites(&owner.id, &direction, limit).await?;
    keyed_page(&st, &caller, items, more, &direction).await.map(Json)
}

/// `PUT /v1/users/{username}/follow`.
#[utoipa::path(put, path = "/v1/users/{username}/follow", tag = "social", params(("username" = String, Path)),
    responses((status = 204, description = "Following"), (status = 400, description = "Following oneself", body = crate::openapi::ErrorBody)))]
pub async fn follow(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    let target = user_named(&st, &username).await?;
    if target.id == user.id {
        return Err(ApiError::bad_request(ErrorCode::InvalidFollow, "you cannot follow yourself"));
    }
    let record = Record::Followed(Followed { follower_id: user.id.clone(), followee_id: target.id.clone() });
    if st.catalog.follow(&user.id, &target.id, &outbox_for(record, request_id)).await? {
        st.outbox_wake.notify_one();
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/users/{username}/follow`.
#[utoipa::path(delete, path = "/v1/users/{username}/follow", tag = "social", params(("username" = String, Path)),
    responses((status = 204, description = "No longer following")))]
pub async fn unfollow(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    let target = user_named(&st, &username).await?;
    st.catalog.unfollow(&user.id, &target.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FollowView {
    username: String,
    since: String,
}

async fn follows(st: &AppState, username: &str, followers: bool, params: PageParams) -> Result<Json<Page<FollowView>>, ApiError> {
    let (limit, direction) = (params.limit()?, params.direction()?);
    let user = user_named(st, username).await?;
    let (items, more) = st.catalog.list_follows(&user.id, followers, &direction, limit).await?;
    Ok(Json(keyset_page(items, more, &direction, |f| f.keyset(), |f| FollowView {
        username: f.username.to_string(),
        since: rfc3339(f.created_ms),
    })))
}

/// `GET /v1/users/{username}/followers`.
#[utoipa::path(get, path = "/v1/users/{username}/followers", tag = "social", params(("username" = String, Path), PageParams),
    responses((status = 200, description = "A page of followers", body = Page<FollowView>)))]
pub async fn followers(
    State(st): State<Arc<AppState>>,
    Path(username): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<FollowView>>, ApiError> {
    follows(&st, &username, true, params).await
}

/// `GET /v1/users/{username}/following`.
#[utoipa::path(get, path = "/v1/users/{username}/following", tag = "social", params(("username" = String, Path), PageParams),
    responses((status = 200, description = "A page of followed users", body = Page<FollowView>)))]
pub async fn following(
    State(st): State<Arc<AppState>>,
    Path(username): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<FollowView>>, ApiError> {
    follows(&st, &username, false, params).await
}

/// `GET /v1/feed`: the caller's photos and those of users they follow,
/// newest first. Assembled at read time from the follows table (see
/// docs/social.md for why), keyset-paginated like photostreams.
#[utoipa::path(get, path = "/v1/feed", tag = "reading", params(PageParams),
    responses((status = 200, description = "A page of photos", body = Page<PhotoView>)))]
pub async fn feed(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<PhotoView>>, ApiError> {
    let user = caller.require_user()?.clone();
    let (limit, direction) = (params.limit()?, params.direction()?);
    let filter = PhotoFilter { feed_of: Some(user.id.clone()), ..Default::default() };
    list_visible(&st, &caller, filter, &direction, limit).await.map(Json)
}
