//! Photo metadata: reads, owner edits, deletion, viewer lists — and the one
//! gate every per-photo read passes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use photostream_catalog::{CatalogError, Photo, PhotoPatch};
use photostream_pipeline::{PhotoChanged, PhotoDeleted, Record};
use photostream_types::{check_text, AlbumName, PhotoId, PhotoMetadata, UserId, Username, Visibility};
use serde::{Deserialize, Serialize};

use crate::acl::{access_of, can_edit, can_view};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, RequestId};
use crate::routes::outbox_for;
use crate::routes::upload::{MAX_DESCRIPTION, MAX_TITLE};
use crate::views::PhotoView;
use crate::AppState;

const MAX_VIEWERS: usize = 200;

/// The users a photo is shared with (empty unless `shared`).
async fn viewer_ids(st: &AppState, photo: &Photo) -> Result<Vec<UserId>, ApiError> {
    if photo.visibility != Visibility::Shared {
        return Ok(Vec::new());
    }
    Ok(st.catalog.viewers(&photo.id).await?.into_iter().map(|(id, _)| id).collect())
}

/// `Some(photo)` if the caller may see it; the ACL function decides.
pub async fn if_visible(st: &AppState, caller: &Caller, photo: Photo) -> Result<Option<Photo>, ApiError> {
    let viewers = viewer_ids(st, &photo).await?;
    let pending = pending_item_for_moderator(st, caller, &photo).await?;
    Ok(can_view(&caller.viewer(), &access_of(&photo, &viewers, pending)).then_some(photo))
}

/// Whether `photo` has a pending moderation item, asked only when the caller
/// is a moderator (for anyone else it changes nothing).
async fn pending_item_for_moderator(st: &AppState, caller: &Caller, photo: &Photo) -> Result<bool, ApiError> {
    if !caller.user().is_some_and(|u| u.moderator) || photo.owner_id == caller.user().expect("checked").id {
        return Ok(false);
    }
    Ok(st.catalog.pending_item_of(&photo.id).await?.is_some())
}

/// Whether the caller sees `photo` only because it is in front of them for
/// review (a moderator, not the owner, and nobody else could see it as they
/// do): such views are audited, and social actions on it are refused.
pub async fn seen_only_in_review(st: &AppState, caller: &Caller, photo: &Photo) -> Result<bool, ApiError> {
    match caller.user() {
        Some(user) if user.moderator => moderator_sees_only_in_review(st, &user.id, photo).await,
        _ => Ok(false),
    }
}

async fn moderator_sees_only_in_review(st: &AppState, moderator: &UserId, photo: &Photo) -> Result<bool, ApiError> {
    if *moderator == photo.owner_id {
        return Ok(false);
    }
    let viewers = viewer_ids(st, photo).await?;
    let as_member = photostream_types::acl::Viewer::User { id: moderator.clone(), moderator: false };
    Ok(!can_view(&as_member, &access_of(photo, &viewers, false)))
}

/// [`audit_review_view`] for a signed URL, by the user it was signed for.
/// True if it was such a look.
pub async fn audit_signed_review_view(st: &AppState, subject: &str, photo: &Photo, what: &str) -> Result<bool, ApiError> {
    let Ok(id) = subject.parse::<UserId>() else {
        return Ok(false);
    };
    let Some(user) = st.catalog.user_by_id(&id).await? else {
        return Ok(false);
    };
    if user.role == "moderator" && moderator_sees_only_in_review(st, &id, photo).await? {
        st.catalog.audit_view(&photo.id, &id, what).await?;
        metrics::counter!("photostream_moderator_views_total", "what" => what.to_string()).increment(1);
        return Ok(true);
    }
    Ok(false)
}

/// Records in the moderation audit log that a moderator saw `photo` (`what`:
/// its page, original, …) through review. The audit row names the item the
/// photo is reviewed under. True if it was such a look.
pub async fn audit_review_view(st: &AppState, caller: &Caller, photo: &Photo, what: &str) -> Result<bool, ApiError> {
    if !seen_only_in_review(st, caller, photo).await? {
        return Ok(false);
    }
    let moderator = &caller.user().expect("a moderator").id;
    st.catalog.audit_view(&photo.id, moderator, what).await?;
    metrics::counter!("photostream_moderator_views_total", "what" => what.to_string()).increment(1);
    Ok(true)
}

/// Whether the caller, who may see `photo`, may fetch its original: the
/// owner, premium users, and moderators while it is in front of them for
/// review (`acl::can_fetch_original`); 402 `premium_required` for others.
pub async fn original_allowed(st: &AppState, caller: &Caller, photo: &Photo) -> Result<bool, ApiError> {
    if st.original_allowed(caller, photo, false) {
        return Ok(true);
    }
    let pending = pending_item_for_moderator(st, caller, photo).await?;
    Ok(pending && st.original_allowed(caller, photo, true))
}

/// 404 unless the caller may see `photo`.
pub async fn ensure_visible(st: &AppState, caller: &Caller, photo: Photo) -> Result<Photo, ApiError> {
    if_visible(st, caller, photo).await?.ok_or_else(ApiError::not_found)
}

/// Loads a photo the caller may see, or 404 (also for ids that do not
/// parse, so nothing about existence leaks).
pub async fn visible_photo(st: &AppState, caller: &Caller, id: &str) -> Result<Photo, ApiError> {
    let id: PhotoId = id.parse().map_err(|_| ApiError::not_found())?;
    let photo = st.catalog.photo(&id).await?.ok_or_else(ApiError::not_found)?;
    ensure_visible(st, caller, photo).await
}

/// Loads a photo the caller may edit: 404 if they cannot see it, 403 if
/// they can see it but it is not theirs.
async fn editable_photo(st: &AppState, caller: &Caller, id: &str) -> Result<Photo, ApiError> {
    caller.require_user()?;
    let photo = visible_photo(st, caller, id).await?;
    let viewers = viewer_ids(st, &photo).await?;
    if !can_edit(&caller.viewer(), &access_of(&photo, &viewers, false)) {
        return Err(ApiError::forbidden("only the photo's owner may change it"));
    }
    Ok(photo)
}

/// Rewrites the photo's search document from the catalog now, so search
/// reflects an access change when the call returns (and pages stay full).
/// The stream record of the change does the same again, so the index
/// converges even if this fails.
pub(crate) async fn reindex_now(st: &AppState, id: &PhotoId) {
    if let Err(e) = photostream_projections::sync_search(&st.catalog, st.search.as_ref(), id).await {
        // Hits are re-checked against the catalog, so nothing leaks meanwhile.
        tracing::warn!(photo = %id, error = %e, "synchronous search update failed");
    }
}

/// `GET /v1/photos/{id}`: the photo record, with (signed) file URLs.
#[utoipa::path(get, path = "/v1/photos/{id}", tag = "photos", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 200, description = "The photo", body = PhotoView),
              (status = 404, description = "No such photo, or not visible to the caller", body = crate::openapi::ErrorBody)))]
pub async fn get_photo(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<Json<PhotoView>, ApiError> {
    let photo = visible_photo(&st, &caller, &id).await?;
    // A moderator's look through review is audited, not counted as a view.
    let audited = audit_review_view(&st, &caller, &photo, "photo").await?;
    if !audited && caller.user().map(|u| &u.id) != Some(&photo.owner_id) {
        record_view(&st, &photo, caller.user().map(|u| u.id.clone()), request_id);
        let view = photostream_signals::SignalEvent::view(photo.id.clone(), photo.owner_id.clone(), photostream_types::now_ms());
        crate::signals::record(&st, view).await;
    }
    let original = audited || original_allowed(&st, &caller, &photo).await?;
    Ok(Json(st.photo_view_as(photo, caller.user_id(), original)))
}

/// A view by someone other than the owner becomes an analytics event, on
/// the views path (`view_events`): the response never waits for it, and a
/// view lost to a crash or a full queue is acceptable.
fn record_view(st: &AppState, photo: &Photo, viewer: Option<UserId>, request_id: Option<String>) {
    let Some(views) = &st.views else { return };
    let record = Record::PhotoViewed(photostream_pipeline::PhotoViewed {
        photo_id: photo.id.clone(),
        owner_id: photo.owner_id.clone(),
        viewer_id: viewer,
    });
    views.record(record, request_id);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoEdit {
    title: Option<String>,
    description: Option<String>,
    visibility: Option<Visibility>,
    album: Option<String>,
    metadata: Option<PhotoMetadata>,
    /// Whether the display rendition carries your mark (`© you`); it is
    /// re-rendered shortly after a change.
    watermark: Option<bool>,
}

/// `PATCH /v1/photos/{id}`: the owner edits; takes effect on every read path at once.
#[utoipa::path(patch, path = "/v1/photos/{id}", tag = "photos", params(("id" = String, Path, description = "The photo's id")), request_body = PhotoEdit,
    responses((status = 200, description = "The edited photo", body = PhotoView),
              (status = 403, description = "Not the owner", body = crate::openapi::ErrorBody),
              (status = 409, description = "The target album has a file of that name", body = crate::openapi::ErrorBody)))]
pub async fn patch_photo(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(edit): ApiJson<PhotoEdit>,
) -> Result<Json<PhotoView>, ApiError> {
    let photo = editable_photo(&st, &caller, &id).await?;
    if let Some(t) = &edit.title {
        check_text("title", t, MAX_TITLE)?;
    }
    if let Some(d) = &edit.description {
        check_text("description", d, MAX_DESCRIPTION)?;
    }
    // Moving between albums changes the catalog only: the files keep the
    // keys they were stored under, and every URL is resolved through the
    // catalog (docs/social.md explains the choice).
    let album_id = match &edit.album {
        None => None,
        Some(name) => {
            let name = AlbumName::parse(name)?;
            if name == photo.album {
                None
            } else {
                Some(st.catalog.ensure_album(&photo.owner_id, &name).await?.id)
            }
        }
    };
    let patch = PhotoPatch {
        title: edit.title,
        description: edit.description,
        visibility: edit.visibility,
        album_id,
        metadata: edit.metadata.map(PhotoMetadata::validated).transpose()?,
        watermark: edit.watermark,
    };
    let outbox = outbox_for(Record::PhotoUpdated(PhotoChanged { photo_id: photo.id.clone() }), request_id);
    let updated = st.catalog.update_photo(&photo.id, &patch, &outbox).await.map_err(|e| match e {
        CatalogError::Conflict(_) => ApiError::conflict(
            "name_conflict",
            "the target album already has a photo with this file name",
        ),
        other => other.into(),
    })?;
    st.outbox_wake.notify_one();
    reindex_now(&st, &photo.id).await;
    Ok(Json(st.photo_view(updated, &caller)))
}

/// `DELETE /v1/photos/{id}`: owner or moderator; 404 everywhere from then on.
#[utoipa::path(delete, path = "/v1/photos/{id}", tag = "photos", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 204, description = "Deleted"),
              (status = 403, description = "Neither owner nor moderator", body = crate::openapi::ErrorBody)))]
pub async fn delete_photo(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?;
    let photo = visible_photo(&st, &caller, &id).await?;
    if photo.owner_id != user.id && !user.moderator {
        return Err(ApiError::forbidden("only the owner or a moderator may delete a photo"));
    }
    let mut keys = vec![photo.original_key.clone()];
    keys.extend(photo.thumbnail_key.clone());
    keys.extend(photo.display_key.clone());
    let outbox = outbox_for(
        Record::PhotoDeleted(PhotoDeleted { photo_id: photo.id.clone(), object_keys: keys }),
        request_id,
    );
    match st.catalog.delete_photo(&photo.id, &outbox).await {
        Ok(()) | Err(CatalogError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    st.outbox_wake.notify_one();
    reindex_now(&st, &photo.id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/photos/{id}/viewers`: who may see a `shared` photo (owner only).
#[utoipa::path(get, path = "/v1/photos/{id}/viewers", tag = "photos", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 200, description = "The viewer list", body = ViewerList)))]
pub async fn get_viewers(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ViewerList>, ApiError> {
    let photo = editable_photo(&st, &caller, &id).await?;
    let names: Vec<String> = st.catalog.viewers(&photo.id).await?.into_iter().map(|(_, u)| u.to_string()).collect();
    Ok(Json(ViewerList { usernames: names }))
}

/// Usernames who may see a `shared` photo.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewerList {
    usernames: Vec<String>,
}

/// Resolves usernames to ids; unknown names are a 400 naming them.
pub async fn resolve_usernames(st: &AppState, names: &[String]) -> Result<Vec<UserId>, ApiError> {
    if names.len() > MAX_VIEWERS {
        return Err(ApiError::bad_request("too_many_viewers", format!("at most {MAX_VIEWERS} viewers")));
    }
    let mut ids = Vec::new();
    for raw in names {
        let user = match Username::parse(raw) {
            Ok(u) => st.catalog.user_by_username(&u).await?,
            Err(_) => None,
        };
        let user = user.ok_or_else(|| {
            ApiError::bad_request("unknown_user", format!("no user {:?}", raw.chars().take(40).collect::<String>()))
        })?;
        if !ids.contains(&user.id) {
            ids.push(user.id);
        }
    }
    Ok(ids)
}

/// `PUT /v1/photos/{id}/viewers`: replace the viewer list; removed viewers lose access at once.
#[utoipa::path(put, path = "/v1/photos/{id}/viewers", tag = "photos", params(("id" = String, Path, description = "The photo's id")), request_body = ViewerList,
    responses((status = 200, description = "The new viewer list", body = ViewerList),
              (status = 400, description = "An unknown username, or too many", body = crate::openapi::ErrorBody)))]
pub async fn put_viewers(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ViewerList>,
) -> Result<Json<ViewerList>, ApiError> {
    let photo = editable_photo(&st, &caller, &id).await?;
    let ids = resolve_usernames(&st, &body.usernames).await?;
    let outbox = outbox_for(Record::PhotoUpdated(PhotoChanged { photo_id: photo.id.clone() }), request_id);
    st.catalog.set_viewers(&photo.id, &ids, &outbox).await?;
    st.outbox_wake.notify_one();
    reindex_now(&st, &photo.id).await;
    let names: Vec<String> = st.catalog.viewers(&photo.id).await?.into_iter().map(|(_, u)| u.to_string()).collect();
    Ok(Json(ViewerList { usernames: names }))
}

/// `GET /v1/photos?sha256=`: which of the caller's photos have this content.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// The SHA-256 of an original's bytes, 64 hex digits.
    pub sha256: Option<String>,
}

/// `GET /v1/photos?sha256=<hex>`: the caller's own live photos whose original has this SHA-256 (newest first, at most 100; empty when none). How a bulk uploader skips files it already uploaded.
#[utoipa::path(get, path = "/v1/photos", tag = "photos", params(ContentQuery),
    responses((status = 200, description = "The caller's photos with that content (`next` and `prev` are always null)", body = crate::pagination::Page<PhotoView>),
              (status = 400, description = "`sha256` missing or not 64 hex digits (`invalid_field`)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Not authenticated", body = crate::openapi::ErrorBody)))]
pub async fn photos_by_content(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    crate::extract::ApiQuery(query): crate::extract::ApiQuery<ContentQuery>,
) -> Result<Json<crate::pagination::Page<PhotoView>>, ApiError> {
    let user = caller.require_user()?;
    let hash = query
        .sha256
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| ApiError::bad_request("invalid_field", "sha256 must be 64 hex digits"))?;
    let photos = st.catalog.photos_with_content_hash(&user.id, &hash).await?;
    let items = photos
        .into_iter()
        .map(|p| st.photo_view(p, &caller))
        .collect();
    Ok(Json(crate::pagination::Page {
        items,
        next: None,
        prev: None,
    }))
}
