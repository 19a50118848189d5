//! Everything that consumes the stream, and the relay that feeds it.
//!
//! - [`runner`]: the one generic loop (consume → handle → commit, retries
//!   with backoff and jitter, graceful shutdown). Processors never see it.
//! - [`dlq`]: the dead-letter topic, listed and replayed.
//! - [`relay`]: moves committed outbox rows from the catalog onto the stream.
//! - [`thumbnailer`], [`indexer`], [`analytics_recorder`]: small processors,
//!   each a [`Processor`] with a pure-ish `handle`.
//! - [`notifier`]: notifications from social records (comments, favorites,
//!   follows, new photos).
//! - [`moderator`]: the moderation checks on uploads, edits and comments.
//! - [`purger`]: removes a deleted photo's files.
//! - [`originals`]: the budget for originals the thumbnailer and moderation
//!   hold in memory at once.
//! - [`sweeper`]: removes blobs no catalog row refers to (left by a crash
//!   between storing an original and committing its row).
//!
//! Every processor is idempotent: the stream delivers at least once.

pub mod analytics_recorder;
pub mod dlq;
pub mod indexer;
pub mod moderator;
pub mod notifier;
pub mod originals;
pub mod purger;
pub mod relay;
pub mod runner;
pub mod sweeper;
pub mod thumbnailer;

#[cfg(test)]
mod test_photo;

use async_trait::async_trait;
use photostream_pipeline::Envelope;

pub use analytics_recorder::AnalyticsRecorder;

pub use indexer::SearchIndexer;
pub use moderator::Moderator;
pub use notifier::Notifier;
pub use originals::OriginalsBudget;
pub use purger::Purger;
pub use relay::OutboxRelay;
pub use runner::{report_lag, run_processor, run_processor_with_stats, ProcessorStats, RunnerConfig};
pub use sweeper::OrphanSweeper;
pub use thumbnailer::Thumbnailer;

/// How handling a record failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Worth retrying: a backend hiccup, a timeout.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// Retrying cannot help: the input itself is bad.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
}

impl ProcessError {
    pub fn transient(e: impl Into<anyhow::Error>) -> Self {
        Self::Transient(e.into())
    }
    pub fn permanent(e: impl Into<anyhow::Error>) -> Self {
        Self::Permanent(e.into())
    }
}

/// A small component that reacts to stream records.
#[async_trait]
pub trait Processor: Send + Sync + 'static {
    /// The consumer group name; also the name in logs and metrics.
    fn name(&self) -> &'static str;
    /// Handles one record. Must be idempotent.
    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError>;

    /// How many records the runner may hand over at once (1: no batching).
    fn batch_size(&self) -> usize {
        1
    }

    /// How long the runner may wait to fill a batch (the runner's
    /// `max_batch_wait` unless the processor prefers otherwise).
    fn batch_wait(&self, default: std::time::Duration) -> std::time::Duration {
        default
    }

    /// How many records (of a processor that does not batch) the runner may
    /// handle at once, each with its own outcome: a failure is retried or
    /// dead-lettered alone. 1: one at a time.
    fn concurrency(&self) -> usize {
        1
    }

    /// Handles several records of different keys (photos) at once, each
    /// with an outcome of its own, in the order given: the runner retries
    /// a transient failure alone (through [`handle`](Self::handle)) and
    /// dead-letters a permanent one alone, never its neighbours. Override it
    /// to share work between the records (e.g. one catalog commit for all
    /// of them). Defaults to [`handle`](Self::handle) on each, concurrently.
    async fn handle_many(&self, envelopes: &[Envelope]) -> Vec<Result<(), ProcessError>> {
        futures::future::join_all(envelopes.iter().map(|e| self.handle(e))).await
    }

    /// Handles several records; all succeed or the batch is retried whole,
    /// so it must be idempotent as a whole. Defaults to one at a time.
    async fn handle_batch(&self, envelopes: &[Envelope]) -> Result<(), ProcessError> {
        for e in envelopes {
            self.handle(e).await?;
        }
        Ok(())
    }
}

/// Lets the runner handle `n` records of `inner` at once (see
/// [`Processor::concurrency`]); everything else is `inner`'s.
pub struct Concurrent<P> {
    inner: P,
    n: usize,
}

impl<P: Processor> Concurrent<P> {
    pub fn new(inner: P, n: usize) -> Self {
        Self { inner, n: n.max(1) }
    }
}

#[async_trait]
impl<P: Processor> Processor for Concurrent<P> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        self.inner.handle(envelope).await
    }
    fn batch_size(&self) -> usize {
        self.inner.batch_size()
    }
    fn batch_wait(&self, default: std::time::Duration) -> std::time::Duration {
        self.inner.batch_wait(default)
    }
    fn concurrency(&self) -> usize {
        self.n
    }
    async fn handle_batch(&self, envelopes: &[Envelope]) -> Result<(), ProcessError> {
        self.inner.handle_batch(envelopes).await
    }
    async fn handle_many(&self, envelopes: &[Envelope]) -> Vec<Result<(), ProcessError>> {
        self.inner.handle_many(envelopes).await
    }
}
