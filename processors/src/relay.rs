//! The outbox relay: catalog outbox rows → stream records.
//!
//! A row is removed only after the stream acknowledged the publish, so a
//! crash in between publishes it again (consumers deduplicate).

use std::sync::Arc;
use std::time::Duration;

use photostream_catalog::Catalog;
use photostream_pipeline::{Envelope, EventLog, Topic};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

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
    pub async fn relay_pending(&self) -> anyhow::Result<usize> {
        let mut moved = 0;
        loop {
            let batch = self.catalog.outbox_pending(100).await?;
            if batch.is_empty() {
                return Ok(moved);
            }
            for entry in batch {
                match serde_json::from_str::<Envelope>(&entry.payload) {
                    Ok(envelope) => {
                        let topic = Topic::new(&entry.topic)?;
                        self.log.publish(&topic, &entry.key, &envelope).await?;
                    }
                    Err(e) => error!(id = %entry.id, error = %e, "dropping an undecodable outbox row"),
                }
                self.catalog.outbox_remove(&entry.id).await?;
                moved += 1;
            }
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
                    metrics::gauge!("photostream_outbox_pending").set(n as f64);
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
