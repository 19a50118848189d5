//! Comments, favorites, follows, notifications (list, read, live stream)
//! and the feed. Every photo-bound path asks the ACL function first, so a
//! private photo's comments, favorites and notifications are invisible to
//! anyone who may not see the photo.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use photostream_catalog::{Comment, Direction, Keyset, Notification, PhotoFilter};
use photostream_pipeline::{CommentAdded, Favorited, Followed, Record};
use photostream_types::{check_text, PhotoId};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, RequestId};
use crate::pagination::{keyset_page, Page, PageParams};
use crate::routes::photos::{if_visible, visible_photo};
use crate::routes::{outbox_for, user_named};
use crate::routes::streams::{keyed_page, list_visible};
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
    if crate::routes::photos::seen_only_in_review(st, caller, &photo).await? {
        return Err(ApiError::forbidden("moderators review this photo; they cannot comment on or favorite it").with_code("review_only"));
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
        return Err(ApiError::bad_request("invalid_field", "a comment needs text"));
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
        return Err(ApiError::bad_request("invalid_follow", "you cannot follow yourself"));
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    id: String,
    kind: String,
    actor: String,
    photo: Option<String>,
    comment: Option<String>,
    created_at: String,
    read: bool,
    /// The moderator's note (moderation notices).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// The view of a notification, or `None` when its photo is no longer
/// visible to the recipient.
async fn notification_view(st: &AppState, caller: &Caller, n: Notification) -> Result<Option<NotificationView>, ApiError> {
    if let Some(photo_id) = &n.photo_id {
        let Some(photo) = st.catalog.photo(photo_id).await? else { return Ok(None) };
        if if_visible(st, caller, photo).await?.is_none() {
            return Ok(None);
        }
    }
    Ok(Some(NotificationView {
        id: n.id,
        kind: n.kind,
        actor: n.actor.to_string(),
        photo: n.photo_id.map(|p| p.to_string()),
        comment: n.comment_id,
        created_at: rfc3339(n.created_ms),
        read: n.read,
        note: n.note,
    }))
}

/// `GET /v1/notifications`: newest first.
#[utoipa::path(get, path = "/v1/notifications", tag = "social", params(PageParams),
    responses((status = 200, description = "A page of notifications", body = Page<NotificationView>)))]
pub async fn notifications(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<NotificationView>>, ApiError> {
    let user = caller.require_user()?.clone();
    let (limit, direction) = (params.limit()?, params.direction()?);
    let (items, more) = st.catalog.list_notifications(&user.id, &direction, limit).await?;
    let first = items.first().map(Notification::keyset);
    let last = items.last().map(Notification::keyset);
    let mut views = Vec::with_capacity(items.len());
    for n in items {
        if let Some(v) = notification_view(&st, &caller, n).await? {
            views.push(v);
        }
    }
    // Cursors come from the rows read, so hidden rows never break paging.
    let (next, prev) = match &direction {
        Direction::First => (last.filter(|_| more), None),
        Direction::After(k) => (last.filter(|_| more), Some(first.unwrap_or_else(|| k.clone()))),
        Direction::Before(k) => (Some(last.unwrap_or_else(|| k.clone())), first.filter(|_| more)),
    };
    Ok(Json(Page {
        items: views,
        next: next.as_ref().map(crate::pagination::encode_keyset),
        prev: prev.as_ref().map(crate::pagination::encode_keyset),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    ids: Option<Vec<String>>,
    #[serde(default)]
    all: bool,
}

/// `POST /v1/notifications/read`: `{ids: [...]}` or `{all: true}`.
#[utoipa::path(post, path = "/v1/notifications/read", tag = "social", request_body = MarkRead,
    responses((status = 204, description = "Marked read")))]
pub async fn mark_read(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<MarkRead>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?.clone();
    match (body.all, body.ids) {
        (true, None) => st.catalog.mark_notifications_read(&user.id, None).await?,
        (false, Some(ids)) if ids.len() <= 500 => st.catalog.mark_notifications_read(&user.id, Some(&ids)).await?,
        _ => return Err(ApiError::bad_request("invalid_field", "send {\"ids\": [...]} (at most 500) or {\"all\": true}")),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// How often an open notification stream re-checks its credential.
pub const STREAM_RECHECK: Duration = Duration::from_secs(2);
/// The longest one notification stream lasts.
pub const STREAM_MAX: Duration = Duration::from_secs(3600);

/// Takes one of the user's `max_streams_per_user` stream slots, or 429.
async fn stream_slot(st: &AppState, user: &photostream_types::UserId) -> Result<photostream_cache::SlotGuard, ApiError> {
    let n = st.config.max_streams_per_user;
    for i in 0..n {
        let slot = st
            .limiter
            .try_acquire(&format!("stream:user:{user}:{i}"))
            .await
            .map_err(|e| ApiError::unavailable("limiter", e))?;
        if let Some(slot) = slot {
            return Ok(slot);
        }
    }
    Err(ApiError::too_many(format!("at most {n} notification streams at once; close one first"), 5))
}

/// `GET /v1/notifications/stream`: server-sent events, one `notification`
/// event per new notification. It polls the catalog (every 250 ms), so it
/// works the same whichever API instance the client is connected to. It
/// re-checks its credential every [`STREAM_RECHECK`] and ends when that was
/// revoked, logged out or expired, or the password changed since it
/// opened; it also ends after [`STREAM_MAX`] (clients reconnect, as
/// `EventSource` does by itself) and when the server shuts down.
#[utoipa::path(get, path = "/v1/notifications/stream", tag = "social",
    responses((status = 200, description = "Server-sent events, one `notification` event per new notification (the same JSON as the list)",
               content_type = "text/event-stream", body = String),
              (status = 429, description = "The user already holds `limits.streams_per_user` streams open", body = crate::openapi::ErrorBody)))]
pub async fn notification_stream(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let user = caller.require_user()?.clone();
    let slot = stream_slot(&st, &user.id).await?;
    let opened_ms = photostream_types::now_ms();
    let started = tokio::time::Instant::now();
    // Start after the newest notification that exists now.
    let (newest, _) = st.catalog.list_notifications(&user.id, &Direction::First, 1).await?;
    let start = newest.first().map(Notification::keyset).unwrap_or(Keyset { created_ms: 0, id: String::new() });
    struct S {
        st: Arc<AppState>,
        caller: Caller,
        auth: crate::auth::AuthUser,
        last: Keyset,
        pending: std::collections::VecDeque<Event>,
        checked: tokio::time::Instant,
        /// One of the user's stream slots, released when the stream ends.
        _slot: photostream_cache::SlotGuard,
    }
    let state = S { st: st.clone(), caller, auth: user, last: start, pending: Default::default(), checked: started, _slot: slot };
    let stream = futures::stream::unfold(state, move |mut s| async move {
        loop {
            if let Some(e) = s.pending.pop_front() {
                return Some((Ok(e), s));
            }
            tokio::select! {
                _ = s.st.shutdown.cancelled() => return None,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            if started.elapsed() >= STREAM_MAX {
                return None;
            }
            if s.checked.elapsed() >= STREAM_RECHECK {
                s.checked = tokio::time::Instant::now();
                // A catalog error ends the stream too: the client reconnects
                // and is authenticated afresh.
                if !s.auth.still_valid(&s.st, opened_ms).await.unwrap_or(false) {
                    return None;
                }
            }
            let Ok((items, _)) = s.st.catalog.list_notifications(&s.auth.id, &Direction::Before(s.last.clone()), 50).await else {
                continue;
            };
            // `Before` pages come newest first; deliver oldest first.
            for n in items.into_iter().rev() {
                s.last = n.keyset();
                if let Ok(Some(v)) = notification_view(&s.st, &s.caller, n).await {
                    let data = serde_json::to_string(&v).expect("views serialise");
                    s.pending.push_back(Event::default().event("notification").id(v.id.clone()).data(data));
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
