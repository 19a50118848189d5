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
use photostream_catalog::Photo;
use photostream_media::Format;
use photostream_types::Visibility;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::photos::{ensure_visible, visible_photo};
use crate::AppState;

pub async fn thumbnail(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let photo = visible_photo(&st, &caller, &id).await?;
    let key = photo
        .thumbnail_key
        .clone()
        .filter(|_| photo.thumbnail_done)
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "not_ready", "the thumbnail is not ready yet")
        })?;
    serve_object(&st, &photo, &key, &headers).await
}

pub async fn original(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let photo = visible_photo(&st, &caller, &id).await?;
    let key = photo.original_key.clone();
    serve_object(&st, &photo, &key, &headers).await
}

/// `/media/{user}/{album}/{resolution}/{file}`: the CDN layout.
pub async fn media(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((user, album, resolution, file)): Path<(String, String, String, String)>,
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
    let photo = ensure_visible(&caller, photo)?;
    serve_object(&st, &photo, &key, &headers).await
}

/// Streams an object with validators, caching headers and `Range` support.
async fn serve_object(
    st: &AppState,
    photo: &Photo,
    key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let path = object_store::path::Path::parse(key).map_err(|_| ApiError::not_found())?;
    let meta = st.objects.head(&path).await?;
    let etag = format!(
        "\"{}\"",
        meta.e_tag
            .as_deref()
            .unwrap_or("0")
            .trim_matches('"')
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")
    );
    let cache = if photo.visibility == Visibility::Public {
        "public, max-age=86400"
    } else {
        "private, max-age=60"
    };
    let ext = key.rsplit_once('.').map_or("", |(_, e)| e);
    let mut resp_headers = HeaderMap::new();
    resp_headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("etag is ascii"));
    resp_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    resp_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(Format::mime_for_ext(ext)),
    );
    resp_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );

    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if inm.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
            return Ok((StatusCode::NOT_MODIFIED, resp_headers).into_response());
        }
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
    let result = st.objects.get_opts(&path, options).await?;
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
    let body = Body::from_stream(result.into_stream().map_err(std::io::Error::other));
    Ok((status, resp_headers, body).into_response())
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
