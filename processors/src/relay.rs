//! The outbox relay: catalog outbox rows → stream records.
//!
//! A row is removed only after the stream acknowledged the publish, so a
//! crash in between publishes it again (consumers deduplicate).

use std::sync::Arc;
use std::time::Duration;

use photostream_catalog::Catalog;
use photostream_pipeline::{Envelope, EventLog, Topic};
use photostream_types::metric;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// Outbox rows relayed per batch.
const PAGE: i64 = 500;

pub struct OutboxRelay {
    catalog: Catalog,
    log: Arc<dyn EventLog>,
    /// Poked by the API after each commit, for low latency in one process.
    wake: Arc<Notify>,
    poll: Duration,
}

impl OutboxRelay {
    pub fn new(catalog: Catalog, log: Arc<dyn EventLog>, wake: Arc<Notify>) -> Self {
        Self {
            catalog,
            log,
            wake,
            poll: Duration::from_millis(250),
        }
    }

    /// Relays everything pending once; returns how many records moved.
    /// Each page of the outbox goes out as one batch per topic (in commit
    /// order; one stream append, or one round trip, per batch) and is then
    /// forgotten in one statement: a crash in between only publishes it
    /// again, which idempotent processors absorb.
    pub async fn relay_pending(&self) -> anyhow::Result<usize> {
        let mut moved = 0;
        loop {
            let page = self.catalog.outbox_pending(PAGE).await?;
            if page.is_empty() {
                return Ok(moved);
            }
            let mut by_topic: Vec<(Topic, Vec<(String, Envelope)>)> = Vec::new();
            for entry in &page {
                match serde_json::from_str::<Envelope>(&entry.payload) {
                    Ok(envelope) => {
                        let topic = Topic::new(&entry.topic)?;
                        let record = (entry.key.clone(), envelope);
                        match by_topic.iter_mut().find(|(t, _)| *t == topic) {
                            Some((_, records)) => records.push(record),
                            None => by_topic.push((topic, vec![record])),
                        }
                    }
                    Err(e) => error!(id = %entry.id, error = %e, "dropping an undecodable outbox row"),
                }
            }
            for (topic, records) in &by_topic {
                self.log.publish_batch(topic, records).await?;
            }
            let ids: Vec<_> = page.iter().map(|e| e.id.clone()).collect();
            self.catalog.outbox_remove_many(&ids).await?;
            moved += page.len();
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let mut counted = std::time::Instant::now() - Duration::from_secs(60);
        loop {
            if let Err(e) = self.relay_pending().await {
                warn!(error = %format!("{e:#}"), "outbox relay failed; will retry");
            }
            // The backlog, for `photostream_outbox_pending` (at most every 5 s).
            if counted.elapsed() >= Duration::from_secs(5) {
                counted = std::time::Instant::now();
                if let Ok(n) = self.catalog.outbox_count().await {
                    metric::OUTBOX_PENDING.with([]).set(n as f64);
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        // Drain what is committed so a clean stop leaves nothing behind.
        if let Err(e) = self.relay_pending().await {
            warn!(error = %format!("{e:#}"), "outbox relay could not drain at shutdown");
        }
    }
}
