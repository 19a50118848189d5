//! Opaque cursors and list pages.
//!
//! A cursor is base64url of a small versioned text: `p1:{created_ms}:{id}`
//! for keyset listings, `s1:{offset}` for search pages. Clients must treat
//! them as opaque; anything that does not parse is `400 invalid_cursor`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use photostream_catalog::{Direction, Keyset};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::error_code::ErrorCode;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// The query parameters every paginated list accepts.
///
/// `limit` is taken as text and parsed here: serde's `flatten`, which the
/// endpoint-specific parameter structs use, loses the type of URL values.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1..100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next` cursor of the previous page: fetch the page after it.
    pub previous_last: Option<String>,
    /// The `prev` cursor of a page: fetch the page before it.
    pub previous_first: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.as_deref().map(|l| l.trim().parse::<i64>()) {
            None => Ok(DEFAULT_LIMIT),
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::bad_request(
                ErrorCode::InvalidLimit,
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The keyset direction these parameters ask for.
    pub fn direction(&self) -> Result<Direction, ApiError> {
        match (&self.previous_last, &self.previous_first) {
            (Some(_), Some(_)) => Err(ApiError::bad_request(
                ErrorCode::InvalidCursor,
                "give previous_last or previous_first, not both",
            )),
            (Some(c), None) => Ok(Direction::After(decode_keyset(c)?)),
            (None, Some(c)) => Ok(Direction::Before(decode_keyset(c)?)),
            (None, None) => Ok(Direction::First),
        }
    }
}

/// A page of items: `{items, next, prev}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `previous_last` for the following (older) page.
    pub next: Option<String>,
    /// Pass as `previous_first` for the preceding (newer) page.
    pub prev: Option<String>,
}

fn invalid() -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidCursor, "the cursor is not valid")
}

pub fn encode_keyset(k: &Keyset) -> String {
    URL_SAFE_NO_PAD.encode(format!("p1:{}:{}", k.created_ms, k.id))
}

pub fn decode_keyset(cursor: &str) -> Result<Keyset, ApiError> {
    if cursor.len() > 200 {
        return Err(invalid());
    }
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("p1"), Some(ms), Some(id))
            if (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') =>
        {
            Ok(Keyset {
                created_ms: ms.parse().map_err(|_| invalid())?,
                id: id.to_string(),
            })
        }
        _ => Err(invalid()),
    }
}

pub fn encode_offset(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("s1:{offset}"))
}

pub fn decode_offset(cursor: &str) -> Result<usize, ApiError> {
    if cursor.len() > 64 {
        return Err(invalid());
    }
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    text.strip_prefix("s1:")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n <= 10_000)
        .ok_or_else(invalid)
}

/// Builds the `{next, prev}` cursors for a keyset page.
pub fn keyset_page<T, U>(
    items: Vec<T>,
    more: bool,
    direction: &Direction,
    keyset: impl Fn(&T) -> Keyset,
    view: impl Fn(T) -> U,
) -> Page<U> {
    let first = items.first().map(&keyset);
    let last = items.last().map(&keyset);
    let (next, prev) = match direction {
        Direction::First => (last.filter(|_| more), None),
        Direction::After(k) => (last.filter(|_| more), Some(first.unwrap_or_else(|| k.clone()))),
        Direction::Before(k) => (Some(last.unwrap_or_else(|| k.clone())), first.filter(|_| more)),
    };
    Page {
        items: items.into_iter().map(view).collect(),
        next: next.as_ref().map(encode_keyset),
        prev: prev.as_ref().map(encode_keyset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use photostream_types::PhotoId;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let k = Keyset {
            created_ms: 1_700_000_000_000,
            id: PhotoId::new().to_string(),
        };
        assert_eq!(decode_keyset(&encode_keyset(&k)).unwrap(), k);
        assert_eq!(decode_offset(&encode_offset(40)).unwrap(), 40);
        for bad in ["", "!!!", "cDE6eDp5", &"A".repeat(500), &encode_offset(3)] {
            assert!(decode_keyset(bad).is_err(), "{bad}");
        }
        assert!(decode_offset(&encode_keyset(&k)).is_err());
    }
}
