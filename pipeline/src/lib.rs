//! The stream that connects the API to the processors.
//!
//! - [`record`]: the versioned records that travel on the stream. They refer
//!   to blobs by object key and never carry image bytes.
//! - [`EventLog`] / [`Subscription`]: the producer/consumer traits. Consumers
//!   belong to a named group and commit their position; after a crash a group
//!   resumes from its last commit, so delivery is at-least-once and every
//!   consumer must be idempotent.
//! - [`embedded`]: the single-machine durable log used by `photostream serve`
//!   on embedded defaults (append-only, checksummed frames, survives kill -9).
//!
//! - [`nats`]: NATS JetStream, for several instances sharing one stream.
//! - [`fluvio_log`]: Fluvio, the same with Fluvio's consumer offsets.

pub mod embedded;
pub mod fluvio_log;
pub mod nats;
pub mod record;

use async_trait::async_trait;

pub use embedded::EmbeddedLog;
pub use fluvio_log::FluvioLog;
pub use nats::NatsLog;
pub use record::{
    CommentAdded, DeadLetter, Envelope, Favorited, Followed, PhotoChanged, PhotoDeleted, PhotoUploaded, PhotoViewed, Record,
    SCHEMA_VERSION,
};

/// Errors from a stream backend.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("stream I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid name {0:?}: use 1-64 characters of a-z, 0-9, '-' or '_'")]
    InvalidName(String),
    #[error("stream backend unavailable: {0}")]
    Unavailable(String),
    #[error("the subscription was closed")]
    Closed,
}

/// A topic: one family of records (e.g. `photos`). Records with the same key
/// stay in order within a topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic(String);

/// A consumer group: every group sees every record once (at least), and the
/// instances within a group split the work.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsumerGroup(String);

fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

macro_rules! name_type {
    ($t:ident) => {
        impl $t {
            pub fn new(name: &str) -> Result<Self, StreamError> {
                if valid_name(name) {
                    Ok(Self(name.to_string()))
                } else {
                    Err(StreamError::InvalidName(name.to_string()))
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
name_type!(Topic);
name_type!(ConsumerGroup);

impl Topic {
    /// Photo lifecycle records ([`Record::PhotoUploaded`], …), keyed by photo id.
    pub fn photos() -> Self {
        Self("photos".into())
    }

    /// Photo views ([`Record::PhotoViewed`]), apart from the lifecycle
    /// records so only the analytics recorder reads them; appended in
    /// batches by the API.
    pub fn views() -> Self {
        Self("views".into())
    }

    /// Records processors gave up on ([`Record::DeadLettered`]).
    pub fn dead_letters() -> Self {
        Self("dead-letters".into())
    }
}

/// One record handed to a consumer, not yet committed.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The record's position in its topic (backend-specific, monotonic).
    pub position: u64,
    /// How many times this record has been delivered to the group, if known.
    pub delivery_count: u32,
    /// The raw payload; [`Delivery::envelope`] decodes it.
    pub payload: Vec<u8>,
    /// Backend bookkeeping for the commit (the next position, an ack handle id).
    pub commit_token: u64,
}

impl Delivery {
    pub fn envelope(&self) -> Result<Envelope, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

/// The producer side, and the factory for consumers.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends a record durably: when this returns `Ok` the record survives a
    /// crash of this process.
    async fn publish(&self, topic: &Topic, key: &str, envelope: &Envelope)
        -> Result<(), StreamError>;

    /// Appends several records, durable together when this returns `Ok`
    /// (on failure some may have been appended: consumers deduplicate).
    /// Backends override it to pay one sync or one round trip for the lot;
    /// the default publishes one at a time.
    async fn publish_batch(&self, topic: &Topic, records: &[(String, Envelope)]) -> Result<(), StreamError> {
        for (key, envelope) in records {
            self.publish(topic, key, envelope).await?;
        }
        Ok(())
    }

    /// Joins `group` on `topic`, starting after the group's last commit.
    async fn subscribe(
        &self,
        topic: &Topic,
        group: &ConsumerGroup,
    ) -> Result<Box<dyn Subscription>, StreamError>;

    /// Frees what every consumer group of `topic` has finished with. The
    /// embedded log punches the consumed prefix out of its file; networked
    /// backends keep their own retention (JetStream stream limits, Fluvio
    /// topic retention) and do nothing here.
    async fn enforce_retention(&self, _topic: &Topic) -> Result<(), StreamError> {
        Ok(())
    }

    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> Result<(), StreamError>;

    /// How many records of `topic` `group` has not finished yet (consumer
    /// lag), or `None` where the backend cannot tell cheaply.
    async fn lag(&self, _topic: &Topic, _group: &ConsumerGroup) -> Result<Option<u64>, StreamError> {
        Ok(None)
    }

    /// A short name for logs and `/readyz` (`embedded`, `nats`, …).
    fn kind(&self) -> &'static str;
}

/// The consumer side: one member of a consumer group.
#[async_trait]
pub trait Subscription: Send {
    /// Waits for the next record. Where [`Subscription::cancel_safe`] is
    /// true, dropping the future (a timeout) loses nothing.
    async fn next(&mut self) -> Result<Delivery, StreamError>;

    /// Whether `next` may be abandoned mid-wait without losing a record.
    /// The runner only collects batches under a timeout when it is.
    fn cancel_safe(&self) -> bool {
        true
    }

    /// How many deliveries the backend hands out before some are
    /// committed (`None`: no limit). A batch never waits for more: on
    /// JetStream the consumer's `max_ack_pending` stops delivery there.
    fn max_uncommitted(&self) -> Option<usize> {
        None
    }

    /// Whether committing a delivery also commits every delivery before it
    /// (one ordered position per group), so a batch needs only its last
    /// commit. Backends that acknowledge records one by one say no.
    fn commits_cumulatively(&self) -> bool {
        false
    }

    /// Marks `delivery` (and, for ordered backends, everything before it) as
    /// done for this group.
    async fn commit(&mut self, delivery: &Delivery) -> Result<(), StreamError>;

    /// Marks a round of deliveries (in delivery order) as done: the last
    /// one alone where commits are cumulative, otherwise each in turn,
    /// stopping at the first failure (what is left uncommitted is
    /// delivered again). Backends that acknowledge records one by one may
    /// send the acknowledgements together.
    async fn commit_all(&mut self, deliveries: &[Delivery]) -> Result<(), StreamError> {
        let to_commit = match deliveries.last() {
            Some(last) if self.commits_cumulatively() => std::slice::from_ref(last),
            _ => deliveries,
        };
        for d in to_commit {
            self.commit(d).await?;
        }
        Ok(())
    }
}
