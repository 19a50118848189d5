//! Photo views on their own path: the API hands each view to a bounded
//! in-memory queue and one background task appends what has gathered to the
//! `views` topic in batches (up to [`BATCH`] records or every
//! [`FLUSH_EVERY`]), so a view costs no stream round trip or sync of its
//! own, the lifecycle processors never see views, and only the analytics
//! recorder reads them. A view is best-effort by design: when the queue is
//! full or the stream is down, views are dropped and counted
//! (`photostream_views_dropped_total`); no request ever waits for one.

use std::sync::Arc;
use std::time::Duration;

use photostream_pipeline::{Envelope, EventLog, Record, Topic};
use photostream_types::metric;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Views gathered into one append at most.
pub const BATCH: usize = 500;
/// How long a view may wait for its batch.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Views queued at most (about 200 bytes each: 2 MB).
pub const QUEUE: usize = 10_000;

/// The sending end the API records views into.
#[derive(Clone)]
pub struct ViewSink {
    tx: mpsc::Sender<Envelope>,
}

impl ViewSink {
    /// Starts the appending task; it drains the queue and stops on `shutdown`.
    pub fn start(stream: Arc<dyn EventLog>, shutdown: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(stream, rx, shutdown));
        Self { tx }
    }

    /// Queues a view; never waits.
    pub fn record(&self, record: Record, request_id: Option<String>) {
        if self.tx.try_send(Envelope::new(record, request_id)).is_err() {
            metric::VIEWS_DROPPED_TOTAL.with(["queue_full"]).increment(1);
        }
    }
}

async fn run(stream: Arc<dyn EventLog>, mut rx: mpsc::Receiver<Envelope>, shutdown: CancellationToken) {
    let mut batch: Vec<(String, Envelope)> = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => None,
            e = rx.recv() => e,
        };
        let Some(first) = first else { break };
        batch.push((first.record.key(), first));
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => batch.push((e.record.key(), e)),
                Ok(None) | Err(_) => break,
            }
        }
        flush(stream.as_ref(), &mut batch).await;
    }
    // Shutdown: what is already queued still goes out.
    rx.close();
    while let Some(e) = rx.recv().await {
        batch.push((e.record.key(), e));
        if batch.len() >= BATCH {
            flush(stream.as_ref(), &mut batch).await;
        }
    }
    flush(stream.as_ref(), &mut batch).await;
}

async fn flush(stream: &dyn EventLog, batch: &mut Vec<(String, Envelope)>) {
    if batch.is_empty() {
        return;
    }
    match stream.publish_batch(&Topic::views(), batch).await {
        Ok(()) => metric::VIEWS_RECORDED_TOTAL.with([]).increment(batch.len() as u64),
        Err(e) => {
            tracing::warn!(error = %e, views = batch.len(), "views not recorded");
            metric::VIEWS_DROPPED_TOTAL.with(["stream"]).increment(batch.len() as u64);
        }
    }
    batch.clear();
}
