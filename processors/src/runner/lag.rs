//! Consumer lag, published per processor while the runners work.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use photostream_pipeline::{ConsumerGroup, EventLog, Topic};
use photostream_types::metric;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::ProcessorStats;

/// Every `every`, publishes each processor's consumer lag: records not yet
/// finished (`photostream_consumer_lag_records`, where the backend can tell)
/// and, while any are waiting, seconds between now and the event time of the
/// newest record the processor finished (`photostream_consumer_lag_seconds`;
/// 0 when caught up).
pub async fn report_lag(
    log: Arc<dyn EventLog>,
    processors: Vec<(&'static str, Topic, Arc<ProcessorStats>)>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        for (name, topic, stats) in &processors {
            let Ok(group) = ConsumerGroup::new(name) else { continue };
            match log.lag(topic, &group).await {
                Ok(Some(records)) => {
                    metric::CONSUMER_LAG_RECORDS.with([*name]).set(records as f64);
                    let last = stats.last_event_ms.load(Ordering::Relaxed);
                    let seconds = if records == 0 || last == 0 {
                        0.0
                    } else {
                        (photostream_types::now_ms() - last).max(0) as f64 / 1000.0
                    };
                    metric::CONSUMER_LAG_SECONDS.with([*name]).set(seconds);
                }
                Ok(None) => {}
                Err(e) => warn!(processor = name, error = %e, "cannot read consumer lag"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
