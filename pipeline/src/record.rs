//! Versioned stream records.
//!
//! Every record travels inside an [`Envelope`] carrying the schema version, a
//! unique event id (consumers deduplicate on it) and the request id of the
//! HTTP call that caused it, so one upload can be followed through every
//! processor's logs. Records name blobs by object key; image bytes never ride
//! on the stream.
//!
//! Evolution rules: add optional fields freely; never change a field's
//! meaning; a new record type is a new enum variant. Consumers that meet a
//! type they do not know see [`Record::Unknown`] and skip it.

use photostream_types::{EventId, PhotoId, UserId};
use serde::{Deserialize, Serialize};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Schema version of `record`.
    pub v: u16,
    pub id: EventId,
    /// When the event happened (ms since the epoch).
    pub at_ms: i64,
    /// The request that caused this event, for log correlation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub record: Record,
}

impl Envelope {
    pub fn new(record: Record, request_id: Option<String>) -> Self {
        Self {
            v: SCHEMA_VERSION,
            id: EventId::new(),
            at_ms: photostream_types::now_ms(),
            request_id,
            record,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A photo's original is stored and its catalog row committed.
    PhotoUploaded(PhotoUploaded),
    /// A photo's title, description, tags, visibility, viewers or album
    /// changed; consumers re-read the catalog row.
    PhotoUpdated(PhotoChanged),
    /// A moderation verdict changed who may see a photo or comment (held,
    /// rejected, approved); consumers re-read the catalog row. Separate from
    /// `PhotoUpdated` so the moderation processor does not re-check its own
    /// verdicts.
    PhotoModerated(PhotoChanged),
    /// A photo was deleted: invisible already, its files and derived data
    /// are to be purged.
    PhotoDeleted(PhotoDeleted),
    /// Someone commented on a photo.
    CommentAdded(CommentAdded),
    /// Someone favorited a photo.
    Favorited(Favorited),
    /// Someone followed a user.
    Followed(Followed),
    /// Someone other than the owner looked at a photo (published directly,
    /// not through the outbox: a lost view is acceptable, a write per view
    /// to the catalog is not).
    PhotoViewed(PhotoViewed),
    /// A record a processor gave up on, kept on the dead-letter topic with
    /// the error, for inspection and replay.
    DeadLettered(DeadLetter),
    /// A record type written by a newer version of photostream.
    #[serde(other)]
    Unknown,
}

impl Record {
    /// The partition key: records with the same key stay in order.
    pub fn key(&self) -> String {
        match self {
            Record::PhotoUploaded(r) => r.photo_id.to_string(),
            Record::PhotoUpdated(r) | Record::PhotoModerated(r) => r.photo_id.to_string(),
            Record::PhotoDeleted(r) => r.photo_id.to_string(),
            Record::CommentAdded(r) => r.photo_id.to_string(),
            Record::Favorited(r) => r.photo_id.to_string(),
            Record::Followed(r) => r.followee_id.to_string(),
            Record::PhotoViewed(r) => r.photo_id.to_string(),
            Record::DeadLettered(r) => r.original.record.key(),
            Record::Unknown => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoUploaded {
    pub photo_id: PhotoId,
    pub owner_id: UserId,
    /// Object key of the original.
    pub original_key: String,
    /// Sniffed format (`jpeg`, `png`, …).
    pub format: String,
    /// Size of the original in bytes.
    pub bytes: u64,
    /// Set when the client supplied a verified thumbnail at upload time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_thumbnail_key: Option<String>,
    /// The photo's tags at upload (for analytics; the catalog stays the truth).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentAdded {
    pub comment_id: String,
    pub photo_id: PhotoId,
    pub author_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Favorited {
    pub photo_id: PhotoId,
    pub user_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The consumer group that gave up.
    pub processor: String,
    /// The topic the original came from (replay sends it back there).
    pub topic: String,
    pub error: String,
    pub attempts: u32,
    pub original: Box<Envelope>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoViewed {
    pub photo_id: PhotoId,
    pub owner_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_id: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Followed {
    pub follower_id: UserId,
    pub followee_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoChanged {
    pub photo_id: PhotoId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoDeleted {
    pub photo_id: PhotoId,
    /// Every object key the photo had (original and renditions).
    pub object_keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let env = Envelope::new(
            Record::PhotoUploaded(PhotoUploaded {
                photo_id: PhotoId::new(),
                owner_id: UserId::new(),
                original_key: "alice/default/original/swans.png".into(),
                format: "png".into(),
                bytes: 10,
                client_thumbnail_key: None,
                tags: vec!["birds".into()],
            }),
            Some("req-1".into()),
        );
        let json = serde_json::to_vec(&env).unwrap();
        let back: Envelope = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn unknown_record_types_decode_as_unknown() {
        let json = format!(
            r#"{{"v":9,"id":"{}","at_ms":1,"record":{{"type":"photo_teleported","to":"mars"}}}}"#,
            EventId::new()
        );
        let env: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(env.record, Record::Unknown);
    }
}
