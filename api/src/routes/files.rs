//! Serving stored files: thumbnails, originals and `/media/…` paths.
//!
//! All three resolve to a catalog photo first and ask the ACL, so a file is
//! never served for a photo its caller may not see, whatever its URL.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use photostream_types::{ObjectKey, Resolution};
use photostream_types::metric;
use serde::Deserialize;

use crate::access::{if_visible, visible_photo};
use crate::auth::Caller;
use crate::download::{download_slot, Held, Paywall, Recheck};
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::ClientAddr;
use crate::object_response::{serve_object, serve_thumbnail, Grant};
use crate::AppState;

/// `GET /v1/photos/{id}/thumbnail`: the 50 px wide thumbnail, with `ETag` (304 on `If-None-Match`) and `Cache-Control`.
#[utoipa::path(get, path = "/v1/photos/{id}/thumbnail", tag = "photos", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 200, description = "The thumbnail bytes", content_type = "image/*", body = [u8]),
              (status = 304, description = "Not modified"),
              (status = 404, description = "No such photo, not visible, or the thumbnail is not ready yet (`not_ready`)", body = crate::openapi::ErrorBody)))]
pub async fn thumbnail(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (grant, key) = rendition(&st, &caller, &id, "the thumbnail is not ready yet", |p| {
        p.thumbnail_key.clone().filter(|_| p.thumbnail_done)
    })
    .await?;
    serve_thumbnail(&st, grant, &key, &headers).await
}

/// `GET /v1/photos/{id}/display`: the display rendition (1024 px on the long edge, never upscaled, upright, no metadata), with the thumbnail's access rules, `ETag` and `Cache-Control`.
#[utoipa::path(get, path = "/v1/photos/{id}/display", tag = "photos", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 200, description = "The display rendition (JPEG)", content_type = "image/jpeg", body = [u8]),
              (status = 304, description = "Not modified"),
              (status = 404, description = "No such photo, not visible, or the rendition is not made yet (`not_ready`)", body = crate::openapi::ErrorBody)))]
pub async fn display(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (grant, key) = rendition(&st, &caller, &id, "the display rendition is not made yet", |p| p.display_key.clone()).await?;
    serve_object(st.objects.as_ref(), grant, &key, &headers, None).await
}

/// The key of one of a photo's renditions, if the caller may see the photo
/// (404 otherwise, and `not_ready` while the rendition is not made), with
/// how it may be cached.
async fn rendition(
    st: &AppState,
    caller: &Caller,
    id: &str,
    not_ready: &'static str,
    key: impl FnOnce(&photostream_catalog::Photo) -> Option<String>,
) -> Result<(Grant, String), ApiError> {
    let photo = visible_photo(st, caller, id).await?;
    let grant = if AppState::is_public(&photo) { Grant::Public } else { Grant::Private };
    let key = key(&photo).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotReady, not_ready))?;
    Ok((grant, key))
}

/// `GET /v1/photos/{id}/original`: the original bytes, for the owner and premium members (402 `premium_required` for anyone else who may see the photo, unless `premium.free_originals`); `Range` supported; one download in flight per caller.
#[utoipa::path(get, path = "/v1/photos/{id}/original", tag = "photos", params(("id" = String, Path, description = "The photo's id")),
    responses((status = 200, description = "The original bytes", content_type = "image/*", body = [u8]),
              (status = 206, description = "The requested range", content_type = "image/*", body = [u8]),
              (status = 402, description = "Originals are for the owner and premium members (`premium_required`)", body = crate::openapi::ErrorBody),
              (status = 416, description = "The range is not satisfiable", body = crate::openapi::ErrorBody),
              (status = 429, description = "Another download of the caller's is in flight", body = crate::openapi::ErrorBody)))]
pub async fn original(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let photo = visible_photo(&st, &caller, &id).await?;
    let reviewing = crate::access::audit_review_view(&st, &caller, &photo, "original").await?;
    if !reviewing && !crate::access::original_allowed(&st, &caller, &photo).await? {
        return Err(ApiError::premium_required());
    }
    let grant = original_grant(&st, &photo);
    let slot = download_slot(&st, caller.user_id().map(|u| u.as_str()), addr).await?;
    let paywall = if reviewing { Paywall::Open } else { Paywall::Caller };
    let held = Held { slot, recheck: Recheck::new(&st, &photo, caller, None).paywall(paywall) };
    serve_original(&st, grant, &photo, &headers, held).await
}

/// Serves an original from whichever tier holds it: the same bytes at the
/// same URL, with `x-storage-class: cold` when they came from the cold store
/// (which, with `storage.rewarm_on_read`, starts bringing them back hot).
/// Records the read, at most once an hour per photo, for the tiering job.
async fn serve_original(
    st: &Arc<AppState>,
    grant: Grant,
    photo: &photostream_catalog::Photo,
    headers: &HeaderMap,
    held: Held,
) -> Result<Response, ApiError> {
    let now = photostream_types::now_ms();
    if photo
        .original_read_ms
        .is_none_or(|t| now - t >= photostream_catalog::READ_RECORD_GRANULARITY_MS)
    {
        let (catalog, id) = (st.catalog.clone(), photo.id.clone());
        tokio::spawn(async move {
            if let Err(e) = catalog.record_original_read(&id, now).await {
                tracing::warn!(photo = %id, error = %e, "recording an original read failed");
            }
        });
    }
    let Some(mover) = &st.tiering else {
        return serve_object(
            st.objects.as_ref(),
            grant,
            &photo.original_key,
            headers,
            Some(held),
        )
        .await;
    };
    let path =
        object_store::path::Path::parse(&photo.original_key).map_err(|_| ApiError::not_found())?;
    let side = match mover.tiers().locate(photo.storage_tier, &path).await {
        Ok((side, _)) => side,
        Err(photostream_tiering::TierError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::unavailable("objects", e)),
    };
    let store = mover
        .tiers()
        .store(side)
        .map_err(|e| ApiError::unavailable("objects", e))?
        .clone();
    let mut response = serve_object(
        store.as_ref(),
        grant,
        &photo.original_key,
        headers,
        Some(held),
    )
    .await?;
    if side == photostream_tiering::Side::Cold {
        response
            .headers_mut()
            .insert("x-storage-class", HeaderValue::from_static("cold"));
        metric::COLD_READS_TOTAL.with([]).increment(1);
        if st.config.rewarm_on_read {
            mover.rewarm_in_background(photo.clone());
        }
    }
    Ok(response)
}

/// How an original may be cached: while originals are gated, never by a
/// shared cache, whatever the photo's visibility (a CDN would hand one
/// premium user's download to everyone).
fn original_grant(st: &AppState, photo: &photostream_catalog::Photo) -> Grant {
    if AppState::is_public(photo) && st.config.free_originals {
        Grant::Public
    } else {
        Grant::Private
    }
}

#[derive(Deserialize)]
pub struct Signature {
    exp: Option<i64>,
    /// The user the URL was signed for (absent: an anonymous caller).
    u: Option<String>,
    sig: Option<String>,
}

/// `/media/{user}/{album}/{resolution}/{file}`: the CDN layout.
#[utoipa::path(get, path = "/media/{user}/{album}/{resolution}/{file}", tag = "photos",
    params(("user" = String, Path), ("album" = String, Path),
           ("resolution" = String, Path, description = "`original`, `thumbnail`, …"), ("file" = String, Path),
           ("exp" = Option<i64>, Query, description = "Signed URLs: expiry, Unix seconds"),
           ("u" = Option<String>, Query, description = "Signed URLs: the user id the URL was signed for (their download slot is the one it holds)"),
           ("sig" = Option<String>, Query, description = "Signed URLs: the signature")),
    responses((status = 200, description = "The file", content_type = "image/*", body = [u8]),
              (status = 206, description = "The requested range", content_type = "image/*", body = [u8]),
              (status = 304, description = "Not modified"),
              (status = 402, description = "An original, for someone other than the owner or a premium member (`premium_required`)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such file, or not visible (missing, expired or revoked signature)", body = crate::openapi::ErrorBody)))]
pub async fn media(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ClientAddr(addr): ClientAddr,
    Path((user, album, resolution, file)): Path<(String, String, String, String)>,
    crate::extract::ApiQuery(signature): crate::extract::ApiQuery<Signature>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if ![&user, &album, &resolution, &file].iter().all(|s| segment_ok(s)) {
        return Err(ApiError::not_found());
    }
    // No object is stored under another resolution.
    let resolution = Resolution::parse(&resolution).ok_or_else(ApiError::not_found)?;
    let key = ObjectKey::new(&user, &album, resolution, &file).into_string();
    let photo = st
        .catalog
        .photo_by_object_key(&key)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Checked against the photo's state now, whatever the URL says: a
    // deleted or revoked photo's URLs stop working the moment it commits.
    let mut signed_for = None;
    let mut signed_acl = None;
    let gated_original = resolution == Resolution::Original && !st.config.free_originals;
    let grant = if photo.deleted_ms.is_some() {
        return Err(ApiError::not_found());
    } else if AppState::is_public(&photo) && !gated_original {
        Grant::Public
    } else if AppState::is_public(&photo) {
        // Anyone may see it; the signature (if any) only says who fetches
        // the original, which decides the paywall below.
        let now = photostream_types::now_ms() / 1000;
        let subject = signature.u.as_deref();
        if let (Some(exp), Some(sig)) = (signature.exp, signature.sig.as_deref()) {
            if st.signer.verify(&key, photo.acl_version, exp, subject, sig, now) {
                signed_for = subject.map(str::to_owned);
                signed_acl = Some(photo.acl_version);
            }
        }
        Grant::Private
    } else {
        let now = photostream_types::now_ms() / 1000;
        let subject = signature.u.as_deref();
        let signed = match (signature.exp, signature.sig.as_deref()) {
            (Some(exp), Some(sig)) => st.signer.verify(&key, photo.acl_version, exp, subject, sig, now),
            _ => false,
        };
        if signed {
            signed_for = subject.map(str::to_owned);
            signed_acl = Some(photo.acl_version);
        } else if if_visible(&st, &caller, photo.clone()).await?.is_none() {
            return Err(ApiError::not_found());
        }
        Grant::Private
    };
    if resolution == Resolution::Thumbnail {
        return serve_thumbnail(&st, grant, &key, &headers).await;
    }
    if resolution == Resolution::Original {
        // A signed URL holds the slot of the user it was signed for, however
        // it is fetched (with or without that user's credential).
        let user = signed_for.as_deref().or(caller.user_id().map(|u| u.as_str()));
        let paywall = match &signed_for {
            // A signed URL was handed out to whoever it names: audit a
            // moderator's download through review under their name, and
            // ask the paywall about them (as they are now).
            Some(subject) => {
                let reviewing = crate::access::audit_signed_review_view(&st, subject, &photo, "original").await?;
                if reviewing || !gated_original {
                    Paywall::Open
                } else {
                    Paywall::Subject(subject.clone())
                }
            }
            None => {
                let reviewing = crate::access::audit_review_view(&st, &caller, &photo, "original").await?;
                if reviewing {
                    Paywall::Open
                } else {
                    Paywall::Caller
                }
            }
        };
        if !paywall.allows(&st, &caller, &photo).await? {
            return Err(ApiError::premium_required());
        }
        let slot = download_slot(&st, user, addr).await?;
        let held = Held { slot, recheck: Recheck::new(&st, &photo, caller, signed_acl).paywall(paywall) };
        return serve_original(&st, grant, &photo, &headers, held).await;
    }
    serve_object(st.objects.as_ref(), grant, &key, &headers, None).await
}

