//! The vocabulary every photostream crate shares, and nothing else.
//!
//! Leaf crates (`pipeline`, `catalog`, `search`, `analytics`, `media`) never
//! depend on each other; when two of them must agree on what a photo id, a
//! username or a visibility is, the definition lives here. Values are parsed
//! into these newtypes at the edge (HTTP, config, stream records) so the rest
//! of the code never handles an unchecked string.
//!
//! Besides ids and names: [`Title`] and [`Description`] (free text with its
//! limits), [`ObjectKey`] (where a photo's files live), [`acl`] (the pure
//! access decision every read path asks), and [`metric`] (every metric's
//! name and labels, recorded through the `metrics` facade).

pub mod acl;
mod ids;
mod lifecycle;
mod metadata;
pub mod metric;
mod names;
mod object_key;
mod photo;
mod strict;
mod text;

pub use ids::{AlbumId, EventId, PhotoId, SessionId, UserId};
pub use metadata::{check_text, normalise_tag, PhotoMetadata, LICENSES, MAX_TAGS, MAX_TAG_LEN};
pub use lifecycle::{Lifecycle, LifecycleEvent, Transition};
pub use names::{AlbumName, FileName, Username};
pub use object_key::{ObjectKey, Resolution};
pub use photo::{PhotoStatus, StorageTier, Visibility};
pub use strict::ObjectOnly;
pub use text::{Description, Title};

/// A value that failed to parse; the message is safe to show to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// Milliseconds since the Unix epoch: the one time representation stored in
/// catalogs, indexes and records (portable across every SQL backend).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
