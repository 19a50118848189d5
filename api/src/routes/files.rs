//! Serving stored files: thumbnails, originals and `/media/…` paths.
//!
//! All three resolve to a catalog photo first and ask the ACL, so a file is
//! never served for a photo its caller may not see, whatever its URL.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use object_store::{GetOptions, GetRange};
use photostream_media::Format;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ClientAddr;
use photostream_cache::SlotGuard;
use crate::routes::photos::{if_visible, visible_photo};
use crate::AppState;

/// How a file request was authorised; decides caching.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// Public and ready: anyone, any cache.
    Public,
    /// The authenticated caller may see it, or a valid signature vouches.
    Private,
}

/// Takes the single original-download slot of `user` (the caller, or the
/// user a signed URL was signed for), else of the client address, or 429.
async fn download_slot(st: &AppState, user: Option<&str>, addr: Option<std::net::IpAddr>) -> Result<SlotGuard, ApiError> {
    let who = match (user, addr) {
        (Some(u), _) => format!("download:user:{u}"),
        (None, Some(a)) => format!("download:addr:{a}"),
        (None, None) => "download:anonymous".to_string(),
    };
    st.limiter
        .try_acquire(&who)
        .await
        .map_err(|e| ApiError::unavailable("limiter", e))?
        .ok_or_else(|| ApiError::too_many("one original download at a time; retry when the first finishes", 1))
}

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
    let key = key(&photo).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_ready", not_ready))?;
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
    let reviewing = crate::routes::photos::audit_review_view(&st, &caller, &photo, "original").await?;
    if !reviewing && !crate::routes::photos::original_allowed(&st, &caller, &photo).await? {
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
        metrics::counter!("photostream_cold_reads_total").increment(1);
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
    let key = format!("{user}/{album}/{resolution}/{file}");
    let photo = st
        .catalog
        .photo_by_object_key(&key)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Checked against the photo's state now, whatever the URL says: a
    // deleted or revoked photo's URLs stop working the moment it commits.
    let mut signed_for = None;
    let mut signed_acl = None;
    let gated_original = resolution == "original" && !st.config.free_originals;
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
    if resolution == "thumbnail" {
        return serve_thumbnail(&st, grant, &key, &headers).await;
    }
    if resolution == "original" {
        // A signed URL holds the slot of the user it was signed for, however
        // it is fetched (with or without that user's credential).
        let user = signed_for.as_deref().or(caller.user_id().map(|u| u.as_str()));
        let paywall = match &signed_for {
            // A signed URL was handed out to whoever it names: audit a
            // moderator's download through review under their name, and
            // ask the paywall about them (as they are now).
            Some(subject) => {
                let reviewing = crate::routes::photos::audit_signed_review_view(&st, subject, &photo, "original").await?;
                if reviewing || !gated_original {
                    Paywall::Open
                } else {
                    Paywall::Subject(subject.clone())
                }
            }
            None => {
                let reviewing = crate::routes::photos::audit_review_view(&st, &caller, &photo, "original").await?;
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

/// Whether the user a signed original URL names may fetch it now (a
/// premium grant may have lapsed since it was signed).
async fn subject_may_fetch_original(st: &AppState, subject: &str, photo: &photostream_catalog::Photo) -> Result<bool, ApiError> {
    let Ok(id) = subject.parse::<photostream_types::UserId>() else {
        return Ok(false);
    };
    let Some(user) = st.catalog.user_by_id(&id).await? else {
        return Ok(false);
    };
    let moderator = user.role == "moderator";
    let pending = moderator && user.id != photo.owner_id && st.catalog.pending_item_of(&photo.id).await?.is_some();
    let viewer = crate::acl::Viewer::User { id: user.id.clone(), moderator };
    let access = crate::acl::access_of(photo, &[], pending);
    let premium = user.is_premium_at(photostream_types::now_ms());
    Ok(crate::acl::can_fetch_original(&viewer, premium, &access, st.config.free_originals))
}

/// How often an original download in progress re-checks its access.
pub const DOWNLOAD_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);
/// The longest one original download may last (64 MB at the slowest body
/// pace a client is allowed, 16 KiB/s, takes 68 minutes).
pub const DOWNLOAD_MAX: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// What an original download holds while its body streams: the download
/// slot, and what it needs to re-check that it may go on.
struct Held {
    slot: SlotGuard,
    recheck: Recheck,
}

/// Re-checks, during a download, what allowed it: the photo is not deleted,
/// and either the signature's `acl_version` is still current, or the caller
/// may still see the photo with a credential that is still good.
struct Recheck {
    st: Arc<AppState>,
    photo: photostream_types::PhotoId,
    caller: Caller,
    signed_acl: Option<i64>,
    opened_ms: i64,
    paywall: Paywall,
}

/// Who an original's paywall asks about, when the download opens and again
/// while it runs (a revoked or lapsed premium ends a download in flight).
#[derive(Clone)]
enum Paywall {
    /// Not gated: a moderator's review, `premium.free_originals`, or not an
    /// original.
    Open,
    /// The caller of the request.
    Caller,
    /// The user a signed URL was issued to.
    Subject(String),
}

impl Paywall {
    async fn allows(&self, st: &AppState, caller: &Caller, photo: &photostream_catalog::Photo) -> Result<bool, ApiError> {
        match self {
            Paywall::Open => Ok(true),
            Paywall::Caller => crate::routes::photos::original_allowed(st, caller, photo).await,
            Paywall::Subject(subject) => subject_may_fetch_original(st, subject, photo).await,
        }
    }
}

impl Recheck {
    fn new(st: &Arc<AppState>, photo: &photostream_catalog::Photo, caller: Caller, signed_acl: Option<i64>) -> Self {
        Self {
            st: st.clone(),
            photo: photo.id.clone(),
            caller,
            signed_acl,
            opened_ms: photostream_types::now_ms(),
            paywall: Paywall::Open,
        }
    }

    fn paywall(self, paywall: Paywall) -> Self {
        Self { paywall, ..self }
    }

    async fn still_allowed(&self) -> bool {
        let Ok(Some(photo)) = self.st.catalog.photo(&self.photo).await else {
            return false;
        };
        if photo.deleted_ms.is_some() {
            return false;
        }
        if !self.paywall.allows(&self.st, &self.caller, &photo).await.unwrap_or(false) {
            return false;
        }
        if let Some(v) = self.signed_acl {
            return photo.acl_version == v;
        }
        if let Some(user) = self.caller.user() {
            if !user.still_valid(&self.st, self.opened_ms).await.unwrap_or(false) {
                return false;
            }
        }
        matches!(if_visible(&self.st, &self.caller, photo).await, Ok(Some(_)))
    }
}

fn cache_control(grant: Grant) -> HeaderValue {
    // Public files may sit in a CDN for a day (deletion and privacy changes
    // purge it: see docs/cdn.md); anything else only in the browser, briefly.
    HeaderValue::from_static(match grant {
        Grant::Public => "public, max-age=86400",
        Grant::Private => "private, max-age=60",
    })
}

fn base_headers(grant: Grant, key: &str, etag: &str) -> HeaderMap {
    let ext = key.rsplit_once('.').map_or("", |(_, e)| e);
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, HeaderValue::from_str(etag).expect("etag is ascii"));
    h.insert(header::CACHE_CONTROL, cache_control(grant));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(Format::mime_for_ext(ext)));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// Downloads served (count and bytes promised), by resolution.
fn count_download(resolution: &'static str, bytes: u64) {
    metrics::counter!("photostream_downloads_total", "resolution" => resolution).increment(1);
    metrics::counter!("photostream_download_bytes_total", "resolution" => resolution).increment(bytes);
}

/// Thumbnails are small: served whole from the hot cache (filled on miss),
/// with a content-derived ETag so cached and stored copies agree.
async fn serve_thumbnail(st: &AppState, grant: Grant, key: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let cached = match st.thumbnail_cache.get(key).await {
        Ok(hit) => hit,
        Err(e) => {
            tracing::warn!(error = %e, "thumbnail cache read failed; reading the store");
            None
        }
    };
    let result = if cached.is_some() { "hit" } else { "miss" };
    metrics::counter!("photostream_cache_requests_total", "cache" => "thumbnail", "result" => result).increment(1);
    let bytes = match cached {
        Some(b) => b,
        None => {
            let path = object_store::path::Path::parse(key).map_err(|_| ApiError::not_found())?;
            let b = st.objects.get(&path).await?.bytes().await?;
            if let Err(e) = st.thumbnail_cache.put(key, b.clone()).await {
                tracing::warn!(error = %e, "thumbnail cache write failed");
            }
            b
        }
    };
    let etag = format!("\"{}\"", &photostream_media::content_hash(&bytes)[..32]);
    let mut h = base_headers(grant, key, &etag);
    if not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    count_download("thumbnail", bytes.len() as u64);
    Ok((StatusCode::OK, h, Body::from(bytes)).into_response())
}

/// Streams an object with validators, caching headers and `Range` support.
/// `held`, if given, is held until the body has been sent or dropped, and
/// the body ends early (the client sees a cut-off response) when its access
/// ends or after [`DOWNLOAD_MAX`].
async fn serve_object(
    store: &dyn object_store::ObjectStore,
    grant: Grant,
    key: &str,
    headers: &HeaderMap,
    held: Option<Held>,
) -> Result<Response, ApiError> {
    let path = object_store::path::Path::parse(key).map_err(|_| ApiError::not_found())?;
    let meta = store.head(&path).await?;
    let etag = format!(
        "\"{}\"",
        meta.e_tag
            .as_deref()
            .unwrap_or("0")
            .trim_matches('"')
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")
    );
    let mut resp_headers = base_headers(grant, key, &etag);
    resp_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, resp_headers).into_response());
    }

    let size = meta.size;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(r) => match parse_range(r, size) {
            RangeRequest::Ignore => None,
            RangeRequest::Satisfiable(a, b) => Some((a, b)),
            RangeRequest::Unsatisfiable => {
                resp_headers.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
                );
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    resp_headers,
                    ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "range_not_satisfiable",
                        "the requested range is outside the file",
                    ),
                )
                    .into_response());
            }
        },
    };
    let options = GetOptions {
        range: range.map(|(a, b)| GetRange::Bounded(a..b + 1)),
        ..Default::default()
    };
    let result = store.get_opts(&path, options).await?;
    let (status, len) = match range {
        Some((a, b)) => {
            resp_headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {a}-{b}/{size}")).expect("ascii"),
            );
            (StatusCode::PARTIAL_CONTENT, b - a + 1)
        }
        None => (StatusCode::OK, size),
    };
    resp_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    // Resolution from the key layout `{user}/{album}/{resolution}/{file}`.
    let resolution = match key.split('/').nth(2) {
        Some("thumbnail") => "thumbnail",
        Some("display") => "display",
        _ => "original",
    };
    count_download(resolution, len);
    let stream = result.into_stream().map_err(std::io::Error::other);
    let body = match held {
        None => Body::from_stream(stream),
        Some(held) => Body::from_stream(guarded(stream, held)),
    };
    Ok((status, resp_headers, body).into_response())
}

/// `stream`, re-checking `held.recheck` every [`DOWNLOAD_RECHECK`] and
/// ending with an error (the connection is cut) when access ended or the
/// download outlived [`DOWNLOAD_MAX`]. `held` moves into the stream: the slot
/// is released when the body finishes or the client goes away.
fn guarded(
    stream: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    held: Held,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    let started = tokio::time::Instant::now();
    let held = Arc::new(held);
    let mut checked = started;
    stream.and_then(move |chunk| {
        let due = checked.elapsed() >= DOWNLOAD_RECHECK;
        if due {
            checked = tokio::time::Instant::now();
        }
        let held = held.clone();
        async move {
            let _slot = &held.slot;
            if started.elapsed() >= DOWNLOAD_MAX {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the download took too long"));
            }
            if due && !held.recheck.still_allowed().await {
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "access to the photo ended"));
            }
            Ok(chunk)
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// Malformed or multi-range: serve the whole file (RFC 9110 allows it).
    Ignore,
    Satisfiable(u64, u64),
    Unsatisfiable,
}

/// Parses a single `bytes=` range against a file of `size` bytes.
fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignore;
    };
    if spec.contains(',') {
        return RangeRequest::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, true) => return RangeRequest::Ignore,
        // Suffix: the last n bytes.
        (true, false) => match b.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(n) => Some((size.saturating_sub(n), size.saturating_sub(1))),
            Err(_) => return RangeRequest::Ignore,
        },
        (false, true) => match a.parse::<u64>() {
            Ok(start) => Some((start, size.saturating_sub(1))),
            Err(_) => return RangeRequest::Ignore,
        },
        (false, false) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(s), Ok(e)) if s <= e => Some((s, e.min(size.saturating_sub(1)))),
            (Ok(_), Ok(_)) => return RangeRequest::Ignore,
            _ => return RangeRequest::Ignore,
        },
    };
    match parsed {
        Some((s, e)) if size > 0 && s < size && s <= e => RangeRequest::Satisfiable(s, e),
        _ => RangeRequest::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-9", 100), Satisfiable(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Satisfiable(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Satisfiable(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), Satisfiable(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignore);
        assert_eq!(parse_range("items=0-1", 100), Ignore);
        assert_eq!(parse_range("bytes=9-1", 100), Ignore);
        assert_eq!(parse_range("bytes=x-y", 100), Ignore);
    }
}
