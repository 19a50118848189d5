//! The dead-letter topic: inspect (`photostream dlq list`) and re-drive
//! (`photostream dlq replay`) the records processors gave up on.
//!
//! Both read through one consumer group, `dlq-replay`: `list` peeks at what
//! the group has not consumed yet (without committing), `replay` republishes
//! each original to its topic and commits. On NATS a peeked record becomes
//! replayable again once the group's ack wait has passed.

use std::time::Duration;

use photostream_pipeline::{ConsumerGroup, DeadLetter, EventLog, Record, Topic};

/// How long to wait for one more dead letter before deciding there are none.
const QUIET: Duration = Duration::from_millis(1000);

fn group() -> ConsumerGroup {
    ConsumerGroup::new("dlq-replay").expect("valid group name")
}

/// The dead letters not yet replayed, oldest first (nothing is consumed).
pub async fn list(log: &dyn EventLog) -> anyhow::Result<Vec<DeadLetter>> {
    let mut sub = log.subscribe(&Topic::dead_letters(), &group()).await?;
    let mut out = Vec::new();
    while let Ok(next) = tokio::time::timeout(QUIET, sub.next()).await {
        if let Record::DeadLettered(d) = next?.envelope()?.record {
            out.push(d);
        }
    }
    Ok(out)
}

/// Publishes each pending dead letter's original back to its topic (every
/// processor sees it again; all are idempotent) and consumes it. Returns
/// how many were replayed.
pub async fn replay(log: &dyn EventLog) -> anyhow::Result<usize> {
    let mut sub = log.subscribe(&Topic::dead_letters(), &group()).await?;
    let mut n = 0;
    while let Ok(next) = tokio::time::timeout(QUIET, sub.next()).await {
        let delivery = next?;
        if let Ok(envelope) = delivery.envelope() {
            if let Record::DeadLettered(d) = envelope.record {
                log.publish(&Topic::new(&d.topic)?, &d.original.record.key(), &d.original).await?;
                n += 1;
            }
        }
        sub.commit(&delivery).await?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{run_processor_with_stats, ProcessorStats, RunnerConfig};
    use crate::{ProcessError, Processor};
    use async_trait::async_trait;
    use photostream_pipeline::{EmbeddedLog, Envelope};
    use photostream_types::{PhotoId, UserId};
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    /// Fails permanently until `healed`, then succeeds.
    struct Picky {
        healed: AtomicBool,
        handled: AtomicU32,
    }

    #[async_trait]
    impl Processor for Picky {
        fn name(&self) -> &'static str {
            "picky"
        }
        async fn handle(&self, _: &Envelope) -> Result<(), ProcessError> {
            if !self.healed.load(Ordering::SeqCst) {
                return Err(ProcessError::permanent(anyhow::anyhow!("cannot decode this photo")));
            }
            self.handled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn given_up_records_are_kept_listed_and_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        let mut record = photostream_testkit::records::uploaded(&PhotoId::new(), &UserId::new(), "a/default/original/x.png");
        record.request_id = Some("req-7".into());
        log.publish(&Topic::photos(), "k", &record).await.unwrap();
        let picky = Arc::new(Picky { healed: AtomicBool::new(false), handled: AtomicU32::new(0) });
        let stats = Arc::new(ProcessorStats::default());
        let shutdown = CancellationToken::new();
        let config = RunnerConfig { base_backoff: Duration::from_millis(1), ..Default::default() };
        let runner = tokio::spawn(run_processor_with_stats(
            log.clone(),
            Topic::photos(),
            picky.clone(),
            config,
            shutdown.clone(),
            stats.clone(),
        ));
        let start = std::time::Instant::now();
        while stats.dead_lettered.load(Ordering::SeqCst) == 0 {
            assert!(start.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let letters = list(log.as_ref()).await.unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].processor, "picky");
        assert!(letters[0].error.contains("cannot decode"));
        assert_eq!(*letters[0].original, record);
        assert_eq!(list(log.as_ref()).await.unwrap().len(), 1, "listing consumes nothing");

        // Fixed: replaying re-drives the original through the processor.
        picky.healed.store(true, Ordering::SeqCst);
        assert_eq!(replay(log.as_ref()).await.unwrap(), 1);
        while picky.handled.load(Ordering::SeqCst) == 0 {
            assert!(start.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(list(log.as_ref()).await.unwrap().is_empty());
        assert_eq!(replay(log.as_ref()).await.unwrap(), 0);
        shutdown.cancel();
        runner.await.unwrap().unwrap();
    }
}
