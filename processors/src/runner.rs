//! The generic processor runner.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use photostream_pipeline::{ConsumerGroup, DeadLetter, Envelope, EventLog, Record, Topic};
use rand::Rng;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn, Instrument};

use crate::{ProcessError, Processor};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Attempts per record before it is given up on (transient errors also
    /// need `give_up_after` to have passed since the first attempt).
    pub max_attempts: u32,
    /// A record failing with transient errors is retried for at least this
    /// long, so a backend outage shorter than this dead-letters nothing: the
    /// processor waits it out and catches up. Permanent errors are given up
    /// on at once.
    pub give_up_after: Duration,
    /// How long a batching processor waits to fill a batch.
    pub max_batch_wait: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            give_up_after: Duration::from_secs(600),
            max_batch_wait: Duration::from_millis(200),
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RunnerConfig {
    /// Exponential backoff with full jitter for the given attempt (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let jittered = rand::thread_rng().gen_range(0..=exp.as_millis() as u64);
        Duration::from_millis(jittered.max(1))
    }
}

enum Outcome {
    Done,
    /// Given up after this many attempts, with this error.
    GaveUp(String, u32),
    /// Shutdown arrived while waiting to retry.
    Stopped,
}

/// Counters a runner keeps for its processor (exposed for metrics and tests).
#[derive(Debug, Default)]
pub struct ProcessorStats {
    /// Records handled successfully (each delivery counts; redeliveries too).
    pub handled: AtomicU64,
    /// Records given up on (permanent errors, too many attempts).
    pub failed: AtomicU64,
    /// Retries after transient errors.
    pub retries: AtomicU64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Event time (ms) of the newest record handled (for lag in seconds).
    pub last_event_ms: std::sync::atomic::AtomicI64,
}

/// Every `every`, publishes each processor's consumer lag: records not yet
/// finished (`photostream_consumer_lag_records`, where the backend can tell)
/// and, while any are waiting, seconds between now and the event time of the
/// newest record the processor finished (`photostream_consumer_lag_seconds`;
/// 0 when caught up).
pub async fn report_lag(
    log: Arc<dyn EventLog>,
    topic: Topic,
    processors: Vec<(&'static str, Arc<ProcessorStats>)>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        for (name, stats) in &processors {
            let Ok(group) = ConsumerGroup::new(name) else { continue };
            match log.lag(&topic, &group).await {
                Ok(Some(records)) => {
                    metrics::gauge!("photostream_consumer_lag_records", "processor" => *name).set(records as f64);
                    let last = stats.last_event_ms.load(Ordering::Relaxed);
                    let seconds = if records == 0 || last == 0 {
                        0.0
                    } else {
                        (photostream_types::now_ms() - last).max(0) as f64 / 1000.0
                    };
                    metrics::gauge!("photostream_consumer_lag_seconds", "processor" => *name).set(seconds);
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

/// Runs `processor` over `topic` until `shutdown` fires. A record being
/// handled when shutdown arrives is finished and committed first.
pub async fn run_processor(
    log: Arc<dyn EventLog>,
    topic: Topic,
    processor: Arc<dyn Processor>,
    config: RunnerConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_processor_with_stats(log, topic, processor, config, shutdown, Arc::default()).await
}

/// [`run_processor`], counting into `stats`.
pub async fn run_processor_with_stats(
    log: Arc<dyn EventLog>,
    topic: Topic,
    processor: Arc<dyn Processor>,
    config: RunnerConfig,
    shutdown: CancellationToken,
    stats: Arc<ProcessorStats>,
) -> anyhow::Result<()> {
    let name = processor.name();
    let group = ConsumerGroup::new(name)?;
    let mut sub = loop {
        match log.subscribe(&topic, &group).await {
            Ok(s) => break s,
            Err(e) => {
                warn!(processor = name, error = %e, "cannot subscribe yet; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(config.max_backoff) => {}
                }
            }
        }
    };
    info!(processor = name, topic = topic.as_str(), "processor started");
    let mut failures = 0u32;
    loop {
        let delivery = tokio::select! {
            _ = shutdown.cancelled() => break,
            d = sub.next() => d,
        };
        let delivery = match delivery {
            Ok(d) => {
                failures = 0;
                d
            }
            Err(e) => {
                failures += 1;
                warn!(processor = name, error = %e, failures, "stream read failed; backing off");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(config.backoff(failures)) => {}
                }
                // A closed or repeatedly failing subscription is replaced:
                // the group resumes from its last commit.
                if matches!(e, photostream_pipeline::StreamError::Closed) || failures >= 3 {
                    match log.subscribe(&topic, &group).await {
                        Ok(fresh) => {
                            info!(processor = name, "resubscribed");
                            sub = fresh;
                        }
                        Err(e) => warn!(processor = name, error = %e, "resubscribe failed; will retry"),
                    }
                }
                continue;
            }
        };
        // A batching processor gets more records, up to its batch size or
        // until the batch wait runs out, whichever comes first.
        let mut deliveries = vec![delivery];
        // Collecting a batch abandons `next` on the deadline, which only
        // backends with a cancel-safe `next` allow.
        if processor.batch_size() > 1 && sub.cancel_safe() {
            let deadline = tokio::time::Instant::now() + processor.batch_wait(config.max_batch_wait);
            while deliveries.len() < processor.batch_size() {
                match tokio::time::timeout_at(deadline, sub.next()).await {
                    Ok(Ok(d)) => deliveries.push(d),
                    Ok(Err(e)) => {
                        warn!(processor = name, error = %e, "stream read failed while batching");
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        let mut envelopes = Vec::with_capacity(deliveries.len());
        for d in &deliveries {
            match d.envelope() {
                Ok(env) => envelopes.push(env),
                Err(e) => error!(processor = name, position = d.position, error = %e, "undecodable record skipped"),
            }
        }
        let span = match envelopes.as_slice() {
            [one] => tracing::info_span!(
                "record",
                processor = name,
                event_id = %one.id,
                request_id = one.request_id.as_deref().unwrap_or("-"),
            ),
            many => tracing::info_span!("batch", processor = name, records = many.len()),
        };
        let mut attempt = 0;
        let started = std::time::Instant::now();
        let outcome = async {
            if envelopes.is_empty() {
                return Outcome::Done;
            }
            loop {
                attempt += 1;
                let result = if envelopes.len() == 1 {
                    processor.handle(&envelopes[0]).await
                } else {
                    processor.handle_batch(&envelopes).await
                };
                match result {
                    Ok(()) => {
                        stats.handled.fetch_add(envelopes.len() as u64, Ordering::Relaxed);
                        let newest = envelopes.iter().map(|e| e.at_ms).max().unwrap_or(0);
                        stats.last_event_ms.fetch_max(newest, Ordering::Relaxed);
                        metrics::counter!("photostream_processor_records_total", "processor" => name, "outcome" => "handled")
                            .increment(envelopes.len() as u64);
                        return Outcome::Done;
                    }
                    Err(ProcessError::Permanent(e)) => {
                        stats.failed.fetch_add(envelopes.len() as u64, Ordering::Relaxed);
                        metrics::counter!("photostream_processor_records_total", "processor" => name, "outcome" => "failed")
                            .increment(envelopes.len() as u64);
                        error!(error = %format!("{e:#}"), "record failed permanently; dead-lettered");
                        return Outcome::GaveUp(format!("{e:#}"), attempt);
                    }
                    Err(ProcessError::Transient(e))
                        if attempt >= config.max_attempts && started.elapsed() >= config.give_up_after =>
                    {
                        stats.failed.fetch_add(envelopes.len() as u64, Ordering::Relaxed);
                        metrics::counter!("photostream_processor_records_total", "processor" => name, "outcome" => "failed")
                            .increment(envelopes.len() as u64);
                        error!(attempt, error = %format!("{e:#}"), "record failed too often; dead-lettered");
                        return Outcome::GaveUp(format!("{e:#}"), attempt);
                    }
                    Err(ProcessError::Transient(e)) => {
                        stats.retries.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("photostream_processor_retries_total", "processor" => name).increment(1);
                        let wait = config.backoff(attempt);
                        warn!(attempt, wait_ms = wait.as_millis() as u64, error = %format!("{e:#}"), "retrying");
                        tokio::select! {
                            // Uncommitted: the record is redelivered after restart.
                            _ = shutdown.cancelled() => return Outcome::Stopped,
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await;
        metrics::histogram!("photostream_processor_handle_seconds", "processor" => name)
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Outcome::Stopped => break,
            Outcome::Done => {}
            Outcome::GaveUp(error, attempts) => {
                // Keep what was given up on: committed only once it is safely
                // on the dead-letter topic (else it is redelivered later).
                let mut failures = 0;
                for original in &envelopes {
                    let letter = Envelope::new(
                        Record::DeadLettered(DeadLetter {
                            processor: name.to_string(),
                            topic: topic.as_str().to_string(),
                            error: error.clone(),
                            attempts,
                            original: Box::new(original.clone()),
                        }),
                        original.request_id.clone(),
                    );
                    while let Err(e) = log.publish(&Topic::dead_letters(), &letter.record.key(), &letter).await {
                        failures += 1;
                        warn!(processor = name, error = %e, "dead-letter publish failed; retrying");
                        tokio::select! {
                            _ = shutdown.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(config.backoff(failures)) => {}
                        }
                    }
                    stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("photostream_processor_records_total", "processor" => name, "outcome" => "dead_lettered")
                        .increment(1);
                    metrics::counter!("photostream_dead_letters_total", "processor" => name).increment(1);
                }
            }
        }
        for d in &deliveries {
            // Not fatal: an uncommitted record is delivered again and every
            // processor is idempotent. (A NATS ack that times out while the
            // server recovers must not take the whole service down.)
            if let Err(e) = sub.commit(d).await {
                warn!(processor = name, error = %e, "commit failed; the record will be redelivered");
                metrics::counter!("photostream_processor_commit_failures_total", "processor" => name).increment(1);
                break;
            }
        }
    }
    info!(processor = name, "processor stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use photostream_pipeline::{EmbeddedLog, Envelope, PhotoUploaded, Record};
    use photostream_types::{PhotoId, UserId};
    use std::sync::atomic::AtomicU32;

    struct Flaky {
        calls: AtomicU32,
        fail_first: u32,
        done: tokio::sync::mpsc::UnboundedSender<u32>,
    }

    #[async_trait]
    impl Processor for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        async fn handle(&self, _: &Envelope) -> Result<(), ProcessError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.fail_first {
                return Err(ProcessError::transient(anyhow::anyhow!("not yet")));
            }
            self.done.send(n).unwrap();
            Ok(())
        }
    }

    fn record() -> Envelope {
        Envelope::new(
            Record::PhotoUploaded(PhotoUploaded {
                photo_id: PhotoId::new(),
                owner_id: UserId::new(),
                original_key: "a/default/original/x.jpg".into(),
                format: "jpeg".into(),
                bytes: 1,
                client_thumbnail_key: None,
                tags: vec![],
            }),
            None,
        )
    }

    #[tokio::test]
    async fn retries_transient_failures_then_commits() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        log.publish(&Topic::photos(), "k", &record()).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let p = Arc::new(Flaky {
            calls: AtomicU32::new(0),
            fail_first: 3,
            done: tx,
        });
        let shutdown = CancellationToken::new();
        let config = RunnerConfig {
            max_attempts: 10,
            give_up_after: Duration::ZERO,
            max_batch_wait: Duration::from_millis(10),
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        };
        let task = tokio::spawn(run_processor(
            log.clone(),
            Topic::photos(),
            p.clone(),
            config,
            shutdown.clone(),
        ));
        assert_eq!(rx.recv().await, Some(4));
        shutdown.cancel();
        task.await.unwrap().unwrap();
        let group = ConsumerGroup::new("flaky").unwrap();
        assert_eq!(
            log.committed_position(&Topic::photos(), &group).unwrap(),
            log.end_position(&Topic::photos()).unwrap()
        );
    }

    /// An outage (transient errors) shorter than `give_up_after` dead-letters
    /// nothing, however many attempts it takes.
    #[tokio::test]
    async fn outages_within_the_give_up_window_are_waited_out() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        log.publish(&Topic::photos(), "k", &record()).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let p = Arc::new(Flaky { calls: AtomicU32::new(0), fail_first: 6, done: tx });
        let stats = Arc::new(ProcessorStats::default());
        let shutdown = CancellationToken::new();
        let config = RunnerConfig {
            max_attempts: 2,
            give_up_after: Duration::from_secs(60),
            max_batch_wait: Duration::from_millis(10),
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        };
        let task = tokio::spawn(run_processor_with_stats(log.clone(), Topic::photos(), p.clone(), config, shutdown.clone(), stats.clone()));
        assert_eq!(rx.recv().await, Some(7), "handled on the 7th attempt, well past max_attempts");
        shutdown.cancel();
        task.await.unwrap().unwrap();
        assert_eq!(stats.dead_lettered.load(Ordering::SeqCst), 0);
        assert_eq!(stats.retries.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = RunnerConfig::default();
        for attempt in 1..30 {
            assert!(c.backoff(attempt) <= c.max_backoff);
        }
    }
}
