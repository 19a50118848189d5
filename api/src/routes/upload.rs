//! `POST /v1/photos`: the upload path.
//!
//! 1. Read the multipart form with a byte cap per part (413 past it).
//! 2. Sniff the format from the bytes, read size and orientation from the
//!    header, enforce the pixel limits, then decode once to refuse truncated
//!    or corrupt files (415/422). A client thumbnail is checked the same way.
//! 3. Store the original under `{user}/{album}/original/{file}` with a
//!    create-only put, so two uploads can never overwrite each other.
//! 4. Commit the catalog row and its outbox record in one transaction, and
//!    only then answer 202. A crash before the commit leaves at most an
//!    orphan blob, which the sweeper removes; a crash after it loses nothing.

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::{Bytes, BytesMut};
use object_store::{path::Path, PutMode, PutOptions, PutPayload};
use photostream_catalog::{CatalogError, NewPhoto, OutboxEntry};
use photostream_media::{check_client_thumbnail, probe, verify, MediaError, Probe};
use photostream_pipeline::{Envelope, PhotoUploaded, Record, Topic};
use photostream_types::{AlbumName, Description, FileName, ObjectKey, PhotoId, PhotoMetadata, Resolution, Title, Visibility};
use photostream_types::metric;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::{ApiMultipart, RequestId};
use crate::access::resolve_usernames;
use crate::views::PhotoView;
use crate::AppState;

const MAX_PARTS: usize = 16;
const MAX_TEXT_PART: usize = 64 * 1024;
const MAX_THUMBNAIL_BYTES: usize = 1024 * 1024;

/// The multipart form of `POST /v1/photos`, read by hand in `read_form`
/// with a byte cap per part (and described to clients from here).
#[derive(Default, utoipa::ToSchema)]
struct UploadForm {
    /// The image (JPEG, PNG, GIF, WebP, TIFF or BMP; the format is sniffed from the bytes).
    #[schema(value_type = String, format = Binary, required = true)]
    file: Option<Bytes>,
    /// The file part's name, as the client sent it (sanitised).
    #[schema(ignore)]
    file_name: Option<String>,
    /// A client-made 50 px wide thumbnail (checked and kept).
    #[schema(value_type = Option<String>, format = Binary)]
    thumbnail: Option<Bytes>,
    title: Option<String>,
    description: Option<String>,
    /// Album name; `default` when absent (created on first use).
    album: Option<String>,
    /// `public` (default unless the album says otherwise), `private` or `shared`.
    visibility: Option<String>,
    /// Usernames, comma separated, for `shared`.
    viewers: Option<String>,
    /// A JSON object of the predefined fields: taken_at, camera, lens, location, license, tags.
    #[schema(value_type = Option<PhotoMetadata>)]
    metadata: Option<String>,
    /// `true` or `false`: whether the display rendition carries your mark
    /// (`© you`); default your `watermark_default` (`GET /v1/me`).
    watermark: Option<String>,
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("the upload is larger than the limit")
    } else {
        ApiError::bad_request(ErrorCode::InvalidMultipart, e.body_text())
    }
}

async fn read_part(
    field: &mut axum::extract::multipart::Field<'_>,
    cap: usize,
    what: &str,
) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > cap {
            return Err(ApiError::too_large(format!("{what} is larger than {cap} bytes")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

async fn read_form(mut multipart: Multipart, max_file: usize) -> Result<UploadForm, ApiError> {
    let mut form = UploadForm::default();
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::bad_request(ErrorCode::TooManyParts, "the form has too many parts"));
        }
        let name = field.name().unwrap_or("").to_string();
        let duplicate = || ApiError::bad_request(ErrorCode::DuplicateField, format!("{name} was sent twice"));
        match name.as_str() {
            "file" => {
                if form.file.is_some() {
                    return Err(duplicate());
                }
                form.file_name = field.file_name().map(str::to_string);
                form.file = Some(read_part(&mut field, max_file, "the file").await?);
            }
            "thumbnail" => {
                if form.thumbnail.is_some() {
                    return Err(duplicate());
                }
                form.thumbnail = Some(read_part(&mut field, MAX_THUMBNAIL_BYTES, "the thumbnail").await?);
            }
            "title" | "description" | "album" | "visibility" | "viewers" | "metadata" | "watermark" => {
                let bytes = read_part(&mut field, MAX_TEXT_PART, &name).await?;
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ApiError::bad_request(ErrorCode::InvalidField, format!("{name} is not valid UTF-8"))
                })?;
                let slot = match name.as_str() {
                    "title" => &mut form.title,
                    "description" => &mut form.description,
                    "album" => &mut form.album,
                    "visibility" => &mut form.visibility,
                    "viewers" => &mut form.viewers,
                    "watermark" => &mut form.watermark,
                    _ => &mut form.metadata,
                };
                if slot.is_some() {
                    return Err(duplicate());
                }
                *slot = Some(text);
            }
            other => {
                return Err(ApiError::bad_request(
                    ErrorCode::UnknownField,
                    format!("unknown form field {:?}", other.chars().take(64).collect::<String>()),
                ))
            }
        }
    }
    Ok(form)
}

/// Probes, verifies and checks the client thumbnail on a blocking thread.
async fn inspect(
    st: &AppState,
    file: Bytes,
    thumbnail: Option<Bytes>,
) -> Result<(Probe, Option<Probe>, String), ApiError> {
    let _permit = st
        .decode_permits
        .acquire()
        .await
        .map_err(|e| ApiError::unavailable("decode permits", e))?;
    let limits = st.config.limits;
    let width = st.config.thumbnail_width;
    tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
        let p = probe(&file, &limits)?;
        verify(&file, &p, &limits)?;
        let t = thumbnail
            .as_deref()
            .map(|t| check_client_thumbnail(t, &p, width))
            .transpose()?;
        // A well-formed thumbnail of another picture (or of this one
        // mirrored or sideways) is not served: the server makes its own.
        let t = match (t, thumbnail.as_deref()) {
            (Some(tp), Some(tb)) if !photostream_media::shows_the_same_picture(&file, &p, tb, &tp, &limits)? => {
                tracing::info!("client thumbnail shows another picture; the server will make one");
                metric::CLIENT_THUMBNAILS_TOTAL.with(["replaced"]).increment(1);
                None
            }
            (t, _) => t,
        };
        Ok((p, t, photostream_media::content_hash(&file)))
    })
    .await
    .map_err(|e| ApiError::unavailable("decode task", e))?
    .map_err(ApiError::from)
}

/// `POST /v1/photos`: upload; answers 202 once the photo is durable, before processing.
#[utoipa::path(post, path = "/v1/photos", tag = "photos",
    // Each part's media type: text fields are plain text (a text part is
    // just text, whatever it spells), `metadata` is a JSON object, the file
    // and thumbnail are images (the format is sniffed from the bytes).
    request_body(content((UploadForm = "multipart/form-data", encoding(
        ("file" = (content_type = "image/jpeg, image/png, image/gif, image/webp, image/tiff, image/bmp, application/octet-stream")),
        ("thumbnail" = (content_type = "image/jpeg, image/png")),
        ("metadata" = (content_type = "application/json")),
        ("title" = (content_type = "text/plain; charset=utf-8")),
        ("description" = (content_type = "text/plain; charset=utf-8")),
        ("album" = (content_type = "text/plain; charset=utf-8")),
        ("visibility" = (content_type = "text/plain; charset=utf-8")),
        ("viewers" = (content_type = "text/plain; charset=utf-8")),
        ("watermark" = (content_type = "text/plain; charset=utf-8")),
    )))),
    responses((status = 202, description = "Accepted, `status: processing`", body = PhotoView),
              (status = 413, description = "Larger than the upload limit", body = crate::openapi::ErrorBody),
              (status = 415, description = "Not a supported image format", body = crate::openapi::ErrorBody),
              (status = 422, description = "Claims to be an image but does not decode, or exceeds the pixel limits", body = crate::openapi::ErrorBody),
              (status = 429, description = "Another upload of the caller's is in flight", body = crate::openapi::ErrorBody)))]
pub async fn upload(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    multipart: Result<ApiMultipart, ApiError>,
) -> Result<(StatusCode, Json<PhotoView>), ApiError> {
    // Authenticate first: an anonymous caller learns nothing about the body.
    let user = caller.require_user()?.clone();
    let ApiMultipart(multipart) = multipart?;
    crate::signals::check_rate(&st, &user.id, photostream_signals::Action::Upload).await?;
    // One upload in flight per user, released before the answer goes out so
    // the client's next upload never races the release.
    let slot = st
        .limiter
        .try_acquire(&format!("upload:user:{}", user.id))
        .await
        .map_err(|e| ApiError::unavailable("limiter", e))?
        .ok_or_else(|| ApiError::too_many("one upload at a time; retry when the first finishes", 1))?;
    let uploader = user.id.clone();
    let result = accept_upload(&st, user, request_id, multipart).await;
    slot.release().await;
    match &result {
        Ok((_, photo)) => {
            crate::signals::record_action(&st, &uploader, photostream_signals::Action::Upload).await;
            metric::UPLOADS_ACCEPTED_TOTAL.with(["accepted"]).increment(1);
            metric::UPLOAD_BYTES_TOTAL.with([]).increment(photo.0.bytes.max(0) as u64);
        }
        Err(e) => {
            metric::UPLOADS_REJECTED_TOTAL.with(["rejected", e.code.as_str()]).increment(1);
        }
    }
    result
}

async fn accept_upload(
    st: &Arc<AppState>,
    user: crate::auth::AuthUser,
    request_id: Option<String>,
    multipart: Multipart,
) -> Result<(StatusCode, Json<PhotoView>), ApiError> {
    let st = st.clone();
    let form = read_form(multipart, st.config.max_upload_bytes).await?;
    let file = form
        .file
        .ok_or_else(|| ApiError::bad_request(ErrorCode::MissingFile, "the form needs a file part"))?;

    // Cheap field checks before any decoding.
    let title = Title::parse(form.title.unwrap_or_default())?.into_inner();
    let description = Description::parse(form.description.unwrap_or_default())?.into_inner();
    let album_name = match form.album.as_deref().map(str::trim) {
        None | Some("") => AlbumName::default_album(),
        Some(a) => AlbumName::parse(a)?,
    };
    let visibility = form
        .visibility
        .as_deref()
        .map(|v| v.trim().parse::<Visibility>())
        .transpose()?;
    let viewer_names: Vec<String> = form
        .viewers
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    if !viewer_names.is_empty() && visibility != Some(Visibility::Shared) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "viewers are only meaningful with visibility=shared",
        ));
    }
    let watermark = match form.watermark.as_deref().map(str::trim) {
        None | Some("") => user.watermark_default,
        Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(ApiError::bad_request(ErrorCode::InvalidField, "watermark must be true or false")),
    };
    let metadata = match form.metadata.as_deref().map(str::trim) {
        None | Some("") => PhotoMetadata::default(),
        Some(json) => serde_json::from_str::<PhotoMetadata>(json)
            .map_err(|e| ApiError::bad_request(ErrorCode::InvalidMetadata, e.to_string()))?
            .validated()?,
    };

    let viewers = resolve_usernames(&st, &viewer_names).await?;
    let byte_size = file.len() as i64;
    let (probe, thumb_probe, content_hash) = inspect(&st, file.clone(), form.thumbnail.clone()).await?;
    let album = st.catalog.ensure_album(&user.id, &album_name).await?;
    let visibility = visibility.unwrap_or(album.default_visibility);
    let (display_w, display_h) = probe.display_size();

    let id = PhotoId::new();
    let suffix = &id.as_str()[id.as_str().len() - 8..];
    let mut name = FileName::sanitise(form.file_name.as_deref());
    let key_for = |resolution: Resolution, file: &str| {
        ObjectKey::new(user.username.as_str(), album.name.as_str(), resolution, file)
    };
    let wanted = key_for(Resolution::Original, &name.with_ext(probe.format.ext()));
    if st.catalog.file_stem_taken(&user.id, &album.id, name.stem(), &wanted).await? {
        name = name.with_suffix(suffix);
    }

    // Two attempts: the second, with a unique suffix, only after a race lost
    // to a concurrent upload of the same name.
    for attempt in 0..2 {
        let file_name = name.with_ext(probe.format.ext());
        let original = key_for(Resolution::Original, &file_name);
        let original_key = original.as_str().to_owned();
        let original_path = Path::parse(&original_key).map_err(|_| ApiError::bad_request(ErrorCode::InvalidName, "bad file name"))?;
        let put = st
            .objects
            .put_opts(
                &original_path,
                PutPayload::from(file.clone()),
                PutOptions::from(PutMode::Create),
            )
            .await;
        match put {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) if attempt == 0 => {
                name = name.with_suffix(suffix);
                continue;
            }
            Err(e) => return Err(ApiError::unavailable("objects", e)),
        }
        let mut stored = vec![original_path];
        let thumbnail_key = match (&form.thumbnail, &thumb_probe) {
            (Some(bytes), Some(tp)) => {
                let key = original.thumbnail(tp.format.ext()).expect("an original's key").into_string();
                let path = Path::parse(&key).map_err(|_| ApiError::bad_request(ErrorCode::InvalidName, "bad file name"))?;
                st.objects.put(&path, PutPayload::from(bytes.clone())).await?;
                stored.push(path);
                Some(key)
            }
            _ => None,
        };
        let envelope = Envelope::new(
            Record::PhotoUploaded(PhotoUploaded {
                photo_id: id.clone(),
                owner_id: user.id.clone(),
                original_key: original_key.clone(),
                format: probe.format.name().to_string(),
                bytes: byte_size as u64,
                client_thumbnail_key: thumbnail_key.clone(),
                tags: metadata.tags.clone(),
            }),
            request_id.clone(),
        );
        let outbox = OutboxEntry::new(
            envelope.id.clone(),
            Topic::photos().as_str(),
            id.as_str(),
            serde_json::to_string(&envelope).expect("envelopes serialise"),
        );
        let new = NewPhoto {
            id: id.clone(),
            owner_id: user.id.clone(),
            album_id: album.id.clone(),
            title: title.clone(),
            description: description.clone(),
            visibility,
            width: display_w as i64,
            height: display_h as i64,
            format: probe.format.name().to_string(),
            content_hash: content_hash.clone(),
            byte_size,
            file_name,
            file_stem: name.stem().to_string(),
            original_key,
            thumbnail_key,
            metadata: metadata.clone(),
            viewers: viewers.clone(),
            watermark,
        };
        match st.catalog.insert_photo(&new, &outbox).await {
            Ok(photo) => {
                st.outbox_wake.notify_one();
                tracing::info!(photo = %photo.id, key = %photo.original_key, bytes = byte_size, "upload accepted");
                return Ok((StatusCode::ACCEPTED, Json(st.photo_view_as(photo, Some(&user.id), true))));
            }
            Err(CatalogError::Conflict(_)) if attempt == 0 => {
                for path in &stored {
                    let _ = st.objects.delete(path).await;
                }
                name = name.with_suffix(suffix);
            }
            Err(e) => {
                for path in &stored {
                    let _ = st.objects.delete(path).await;
                }
                return Err(e.into());
            }
        }
    }
    Err(ApiError::conflict(ErrorCode::NameConflict, "could not find a free file name; retry"))
}
