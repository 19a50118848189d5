//! Reports from users, and the review queue for moderators.
//!
//! Every `/v1/moderation/…` route answers 404 to anyone without the
//! moderator role, so the queue's existence is not advertised. Decisions
//! commit in one catalog transaction (status, audit line, notice to the
//! owner, blocklist entry, outbox record) and the photo's search document is
//! rewritten before the call returns: a rejection hides the photo from every
//! read path at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use object_store::path::Path as ObjectPath;
use photostream_catalog::{AuditEntry, ModerationItem, Photo, Verdict};
use photostream_pipeline::{PhotoChanged, Record};
use photostream_types::{check_text, PhotoId, UserId};
use photostream_types::metric;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{AuthUser, Caller};
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::{ApiJson, ApiQuery, RequestId};
use crate::pagination::{keyset_page, Page, PageParams};
use crate::access::visible_photo;
use crate::publish::{outbox_for, reindex_now};
use crate::views::{rfc3339, PhotoView};
use crate::AppState;

const MAX_REASON: usize = 500;
const MAX_NOTE: usize = 1000;

/// The caller if they are a moderator; 404 for everyone else.
fn moderator(caller: &Caller) -> Result<&AuthUser, ApiError> {
    caller.user().filter(|u| u.moderator).ok_or_else(ApiError::not_found)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    reason: String,
}

/// `{"received": true}`: the reporter learns nothing about other reports.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Received {
    received: bool,
}

/// `POST /v1/photos/{id}/reports`: any user who can see the photo.
#[utoipa::path(post, path = "/v1/photos/{id}/reports", tag = "moderation", params(("id" = String, Path, description = "The photo's id")), request_body = ReportBody,
    responses((status = 202, description = "Received; goes to the review queue", body = Received),
              (status = 400, description = "No reason given", body = crate::openapi::ErrorBody),
              (status = 403, description = "The caller's own photo (`own_photo`)", body = crate::openapi::ErrorBody),
              (status = 429, description = "Over the caller's report rate (`rate_limited`)", body = crate::openapi::ErrorBody)))]
pub async fn report(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<(StatusCode, Json<Received>), ApiError> {
    let user = caller.require_user()?.clone();
    let photo = visible_photo(&st, &caller, &id).await?;
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::bad_request(ErrorCode::InvalidReason, "say why you report this photo"));
    }
    check_text("reason", reason, MAX_REASON).map_err(|e| ApiError::bad_request(ErrorCode::InvalidReason, e.0))?;
    if photo.owner_id == user.id {
        return Err(ApiError::forbidden("you cannot report your own photo; delete or edit it").with_code(ErrorCode::OwnPhoto));
    }
    crate::signals::check_rate(&st, &user.id, photostream_signals::Action::Report).await?;
    let outbox = outbox_for(Record::PhotoModerated(PhotoChanged { photo_id: photo.id.clone() }), request_id);
    let (created_ms, upheld, dismissed) = st.catalog.reporter_record(&user.id).await?;
    let standing = photostream_moderation::ReporterStanding {
        account_age_ms: photostream_types::now_ms() - created_ms,
        upheld,
        dismissed,
    };
    let weight = photostream_moderation::report_weight_milli(standing, st.config.report_full_weight_age_secs as i64 * 1000);
    let outcome = st
        .catalog
        .report_photo(&photo.id, &user.id, reason, weight, st.config.report_threshold, &outbox)
        .await?;
    metric::REPORTS_TOTAL.with([]).increment(1);
    crate::signals::record_action(&st, &user.id, photostream_signals::Action::Report).await;
    if outcome.hid {
        metric::MODERATION_DECISIONS_TOTAL.with(["hold", "reports", "photo"])
            .increment(1);
        st.outbox_wake.notify_one();
        reindex_now(&st, &photo.id).await;
    }
    // The reporter learns nothing about other reports.
    Ok((StatusCode::ACCEPTED, Json(Received { received: true })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CommentRef {
    id: String,
    author: String,
    text: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemView {
    id: String,
    /// `photo` or `comment`.
    subject: String,
    /// The photo (with signed file URLs), or null once deleted.
    photo: Option<PhotoView>,
    /// A signed thumbnail URL, when the thumbnail exists.
    thumbnail_url: Option<String>,
    comment: Option<CommentRef>,
    /// One line per finding.
    reasons: Vec<String>,
    /// The highest score per check.
    scores: BTreeMap<String, f64>,
    findings: Value,
    report_count: i64,
    source: String,
    status: String,
    created_at: String,
    decided_at: Option<String>,
    note: Option<String>,
}

async fn item_view(st: &AppState, moderator: &UserId, item: ModerationItem) -> Result<ItemView, ApiError> {
    let photo = st.catalog.photo(&item.photo_id).await?.filter(|p| p.deleted_ms.is_none());
    if let Some(p) = &photo {
        // The queue shows the photo: audited like any look through review.
        crate::access::audit_signed_review_view(st, moderator.as_str(), p, "in the queue").await?;
    }
    let thumbnail_url = photo.as_ref().and_then(|p| {
        p.thumbnail_key.as_ref().filter(|_| p.thumbnail_done).map(|k| st.media_url(p, k, Some(moderator)))
    });
    let comment = match &item.comment_id {
        None => None,
        Some(id) => st.catalog.comment(id).await?.map(|c| CommentRef { id: c.id, author: c.author.to_string(), text: c.text }),
    };
    let mut reasons = Vec::new();
    let mut scores: BTreeMap<String, f64> = BTreeMap::new();
    for f in item.findings.as_array().into_iter().flatten() {
        let check = f["check"].as_str().unwrap_or("unknown").to_string();
        let score = f["score"].as_f64().unwrap_or(0.0);
        reasons.push(f["reason"].as_str().unwrap_or_default().to_string());
        let best = scores.entry(check).or_insert(score);
        *best = best.max(score);
    }
    Ok(ItemView {
        id: item.id,
        subject: item.subject,
        photo: photo.map(|p| st.photo_view_as(p, Some(moderator), true)),
        thumbnail_url,
        comment,
        reasons,
        scores,
        findings: item.findings,
        report_count: item.report_count,
        source: item.source,
        status: item.status,
        created_at: rfc3339(item.created_ms),
        decided_at: item.decided_ms.map(rfc3339),
        note: item.note,
    })
}

#[derive(Deserialize)]
pub struct QueueParams {
    #[serde(flatten)]
    page: PageParams,
    status: Option<String>,
}

/// `GET /v1/moderation/queue?status=pending`: oldest first.
#[utoipa::path(get, path = "/v1/moderation/queue", tag = "moderation",
    params(("status" = Option<String>, Query, description = "`pending` (default), `approved`, `rejected` or `all`"), PageParams),
    responses((status = 200, description = "A page of queue items", body = Page<ItemView>),
              (status = 404, description = "The caller is not a moderator", body = crate::openapi::ErrorBody)))]
pub async fn queue(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<QueueParams>,
) -> Result<Json<Page<ItemView>>, ApiError> {
    let me = moderator(&caller)?.id.clone();
    let status = params.status.as_deref().unwrap_or("pending");
    if !matches!(status, "pending" | "approved" | "rejected") {
        return Err(ApiError::bad_request(ErrorCode::InvalidStatus, "status is pending, approved or rejected"));
    }
    let (limit, direction) = (params.page.limit()?, params.page.direction()?);
    let (items, more) = st.catalog.moderation_queue(status, &direction, limit).await?;
    let page = keyset_page(items, more, &direction, ModerationItem::keyset, |i| i);
    let mut views = Vec::with_capacity(page.items.len());
    for item in page.items {
        views.push(item_view(&st, &me, item).await?);
    }
    Ok(Json(Page { items: views, next: page.next, prev: page.prev }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    action: String,
    #[serde(default)]
    note: Option<String>,
    /// With `reject`: block photos that look like this one.
    #[serde(default)]
    block_similar: bool,
}

/// The photo's perceptual hash: stored by the moderation processor, or
/// computed now from the original (photos from before moderation).
async fn phash_of(st: &AppState, photo: &Photo) -> Result<u64, ApiError> {
    if let Some(h) = photo.phash {
        return Ok(h);
    }
    let key = ObjectPath::parse(&photo.original_key).map_err(|e| ApiError::unavailable("objects", e))?;
    let bytes = st
        .objects
        .get(&key)
        .await
        .map_err(|e| ApiError::unavailable("objects", e))?
        .bytes()
        .await
        .map_err(|e| ApiError::unavailable("objects", e))?;
    let limits = st.config.limits;
    let hash = tokio::task::spawn_blocking(move || -> Result<u64, photostream_media::MediaError> {
        let probe = photostream_media::probe(&bytes, &limits)?;
        let img = photostream_media::decode_upright(&bytes, &probe, 64, &limits)?;
        Ok(photostream_moderation::phash(&img))
    })
    .await
    .map_err(|e| ApiError::unavailable("hashing", e))?
    .map_err(|e| ApiError::unavailable("hashing", e))?;
    st.catalog.set_phash(&photo.id, hash).await?;
    Ok(hash)
}

/// `POST /v1/moderation/queue/{id}/decision`.
#[utoipa::path(post, path = "/v1/moderation/queue/{id}/decision", tag = "moderation",
    params(("id" = String, Path, description = "The queue item's id")), request_body = DecisionBody,
    responses((status = 200, description = "The decided item", body = ItemView),
              (status = 404, description = "No such item, or the caller is not a moderator", body = crate::openapi::ErrorBody),
              (status = 409, description = "The item is already decided", body = crate::openapi::ErrorBody)))]
pub async fn decide(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<ItemView>, ApiError> {
    let user = moderator(&caller)?.clone();
    let verdict = match body.action.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        _ => return Err(ApiError::bad_request(ErrorCode::InvalidAction, "action is approve or reject")),
    };
    let note = body.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note {
        check_text("note", n, MAX_NOTE).map_err(|e| ApiError::bad_request(ErrorCode::InvalidNote, e.0))?;
    }
    if id.len() > 64 {
        return Err(ApiError::not_found());
    }
    let item = st.catalog.moderation_item(&id).await?.ok_or_else(ApiError::not_found)?;
    let block = match (body.block_similar, verdict, item.comment_id.is_some()) {
        (false, _, _) => None,
        (true, Verdict::Reject, false) => {
            let photo = st.catalog.photo(&item.photo_id).await?.ok_or_else(ApiError::not_found)?;
            Some(phash_of(&st, &photo).await?)
        }
        (true, _, _) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidBlock,
                "block_similar goes with rejecting a photo",
            ))
        }
    };
    let outbox = outbox_for(Record::PhotoModerated(PhotoChanged { photo_id: item.photo_id.clone() }), request_id);
    let decided = st.catalog.decide(&id, &user.id, verdict, note, block, &outbox).await?;
    let action = if verdict == Verdict::Approve { "approve" } else { "reject" };
    metric::MODERATION_DECISIONS_TOTAL.with([action, "moderator", &item.subject])
        .increment(1);
    tracing::info!(item = %id, moderator = %user.username, action, blocked = block.is_some(), "moderation decision");
    st.outbox_wake.notify_one();
    reindex_now(&st, &item.photo_id).await;
    Ok(Json(item_view(&st, &user.id, decided).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditView {
    id: String,
    item: String,
    photo: String,
    comment: Option<String>,
    /// The moderator's username, or null for an automatic decision.
    actor: Option<String>,
    action: String,
    note: Option<String>,
    findings: Value,
    block_similar: bool,
    at: String,
}

fn audit_view(e: AuditEntry) -> AuditView {
    AuditView {
        id: e.id,
        item: e.item_id,
        photo: e.photo_id.to_string(),
        comment: e.comment_id,
        actor: e.actor.map(|a| a.to_string()),
        action: e.action,
        note: e.note,
        findings: e.findings,
        block_similar: e.block_similar,
        at: rfc3339(e.created_ms),
    }
}

#[derive(Deserialize)]
pub struct AuditParams {
    #[serde(flatten)]
    page: PageParams,
    photo: Option<String>,
    action: Option<String>,
}

/// `GET /v1/moderation/audit[?photo=ID][&action=A]`: every decision, and
/// every look a moderator took at a photo through review (`view`), newest first.
#[utoipa::path(get, path = "/v1/moderation/audit", tag = "moderation",
    params(("photo" = Option<String>, Query, description = "Only entries about this photo"),
           ("action" = Option<String>, Query, description = "Only this action: `hold`, `approve`, `reject`, `view`, …"), PageParams),
    responses((status = 200, description = "A page of decisions", body = Page<AuditView>),
              (status = 404, description = "The caller is not a moderator", body = crate::openapi::ErrorBody)))]
pub async fn audit(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    moderator(&caller)?;
    let photo = match params.photo.as_deref() {
        None => None,
        Some(p) => Some(p.parse::<PhotoId>().map_err(|_| ApiError::bad_request(ErrorCode::InvalidPhoto, "photo is a photo id"))?),
    };
    let (limit, direction) = (params.page.limit()?, params.page.direction()?);
    let action = params.action.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if action.is_some_and(|a| a.len() > 32 || !a.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')) {
        return Err(ApiError::bad_request(ErrorCode::InvalidAction, "action is a lower-case word such as view or reject"));
    }
    let (items, more) = st.catalog.moderation_audit(photo.as_ref(), action, &direction, limit).await?;
    Ok(Json(keyset_page(items, more, &direction, AuditEntry::keyset, audit_view)))
}
