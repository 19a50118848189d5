//! Notifications: the list, marking read, and the live stream. A
//! notification about a photo is shown only while its recipient may still
//! see the photo (the ACL function decides, as everywhere).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use photostream_catalog::{Direction, Keyset, Notification};
use serde::{Deserialize, Serialize};

use crate::access::if_visible;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{Page, PageParams};
use crate::views::rfc3339;
use crate::AppState;

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
        _ => return Err(ApiError::bad_request(ErrorCode::InvalidField, "send {\"ids\": [...]} (at most 500) or {\"all\": true}")),
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
