//! Answering with a stored object: validators (`ETag`, 304), caching headers
//! by how the request was authorised, `Range`, the hot thumbnail cache, and
//! the download counters. The file routes decide access first; this only
//! serves.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use object_store::{GetOptions, GetRange};
use photostream_media::Format;
use photostream_types::{ObjectKey, Resolution};
use photostream_types::metric;

use crate::download::{guarded, Held};
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::AppState;

/// How a file request was authorised; decides caching.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Public and ready: anyone, any cache.
    Public,
    /// The authenticated caller may see it, or a valid signature vouches.
    Private,
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
    metric::DOWNLOADS_TOTAL.with([resolution]).increment(1);
    metric::DOWNLOAD_BYTES_TOTAL.with([resolution]).increment(bytes);
}

/// Thumbnails are small: served whole from the hot cache (filled on miss),
/// with a content-derived ETag so cached and stored copies agree.
pub async fn serve_thumbnail(st: &AppState, grant: Grant, key: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let cached = match st.thumbnail_cache.get(key).await {
        Ok(hit) => hit,
        Err(e) => {
            tracing::warn!(error = %e, "thumbnail cache read failed; reading the store");
            None
        }
    };
    let result = if cached.is_some() { "hit" } else { "miss" };
    metric::CACHE_REQUESTS_TOTAL.with(["thumbnail", result]).increment(1);
    let bytes = match cached {
        Some(b) => b,
        None => {
            let path = object_store::path::Path::parse(key).map_err(|_| ApiError::not_found())?;
            let b = st.objects.get(&path).await?.bytes().await?;
            // Filled behind the response: a miss never waits for the cache
            // (a round trip to Redis). Access was decided before the cache
            // was asked, so a late fill never serves what a caller may not
            // see; one that lands after a deletion's purge leaves bytes no
            // one can reach (a deleted photo's key is never reused:
            // `file_stem_taken` counts deleted rows) until the cache's TTL.
            photostream_cache::put_behind(st.thumbnail_cache.clone(), key.to_string(), b.clone());
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
/// ends or after [`crate::download::DOWNLOAD_MAX`].
pub async fn serve_object(
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
                        ErrorCode::RangeNotSatisfiable,
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
    let resolution = ObjectKey::parse(key).map_or(Resolution::Original, |k| k.resolution());
    count_download(resolution.as_str(), len);
    let stream = result.into_stream().map_err(std::io::Error::other);
    let body = match held {
        None => Body::from_stream(stream),
        Some(held) => Body::from_stream(guarded(stream, held, len)),
    };
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
