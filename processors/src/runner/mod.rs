//! The generic processor runner: one loop per processor, consume → handle →
//! commit, with retries, dead-lettering and shutdown.
//!
//! `attempts` settles each record (or batch) to an outcome; `lag` publishes
//! the consumer lag of every processor; this file holds the loop and its
//! configuration.

mod attempts;
mod lag;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use photostream_pipeline::{ConsumerGroup, DeadLetter, Envelope, EventLog, Record, Topic};
use photostream_types::metric;
use rand::Rng;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use self::attempts::{Attempts, Outcome};
pub use self::lag::report_lag;
use crate::Processor;

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
        // until the batch wait runs out, whichever comes first; a concurrent
        // one gets up to its concurrency, taking only what is already there.
        let mut deliveries = vec![delivery];
        let (want, wait) = if processor.batch_size() > 1 {
            (processor.batch_size(), processor.batch_wait(config.max_batch_wait))
        } else {
            (processor.concurrency().max(1), Duration::from_millis(1))
        };
        let want = want.min(sub.max_uncommitted().unwrap_or(usize::MAX)).max(1);
        // Collecting abandons `next` on the deadline, which only backends
        // with a cancel-safe `next` allow.
        if want > 1 && sub.cancel_safe() {
            let deadline = tokio::time::Instant::now() + wait;
            while deliveries.len() < want && !shutdown.is_cancelled() {
                // Shutting down ends the collection: the batch in hand is
                // handled and committed, not left to redelivery.
                let next = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    n = tokio::time::timeout_at(deadline, sub.next()) => n,
                };
                match next {
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
        // A batch succeeds or fails as a whole; otherwise every record has
        // an outcome of its own: one bad file is retried or dead-lettered
        // alone, never its neighbours. Records of different keys (photos)
        // are handed over together (`handle_many`); those of one key in
        // stream order, one round after another.
        let ctx = Attempts { processor: processor.as_ref(), config: &config, shutdown: &shutdown, stats: &stats };
        let (groups, outcomes): (Vec<&[Envelope]>, Vec<Outcome>) = if processor.batch_size() > 1 {
            (vec![envelopes.as_slice()], vec![ctx.until_done(&envelopes).await])
        } else {
            (envelopes.chunks(1).collect(), ctx.each(&envelopes).await)
        };
        if outcomes.iter().any(|o| matches!(o, Outcome::Stopped)) {
            // Shutdown while retrying: nothing of this round is committed,
            // so it is all delivered again (processors are idempotent).
            break;
        }
        for (group, outcome) in groups.iter().zip(outcomes) {
            let Outcome::GaveUp(error, attempts) = outcome else { continue };
            // Keep what was given up on: committed only once it is safely
            // on the dead-letter topic (else it is redelivered later).
            let mut failures = 0;
            for original in group.iter() {
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
                metric::PROCESSOR_RECORDS_TOTAL.with([name, "dead_lettered"])
                    .increment(1);
                metric::DEAD_LETTERS_TOTAL.with([name]).increment(1);
            }
        }
        // One commit covers the round where the backend commits positions;
        // otherwise the backend acknowledges the round's records together.
        // Not fatal: an uncommitted record is delivered again and every
        // processor is idempotent. (A NATS ack that times out while the
        // server recovers must not take the whole service down.)
        if let Err(e) = sub.commit_all(&deliveries).await {
            warn!(processor = name, error = %e, "commit failed; the record will be redelivered");
            metric::PROCESSOR_COMMIT_FAILURES_TOTAL.with([name]).increment(1);
        }
    }
    info!(processor = name, "processor stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProcessError;
    use async_trait::async_trait;
    use photostream_pipeline::{EmbeddedLog, Envelope, Record};
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
        photostream_testkit::records::uploaded(&PhotoId::new(), &UserId::new(), "a/default/original/x.png")
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

    /// Runs `p` over the photos topic until every record is committed
    /// (at most 3 s), then stops it.
    async fn run_until_committed<P: Processor>(log: &Arc<EmbeddedLog>, p: Arc<P>, config: RunnerConfig, stats: Arc<ProcessorStats>) {
        let shutdown = CancellationToken::new();
        let group = ConsumerGroup::new(p.name()).unwrap();
        let task = tokio::spawn(run_processor_with_stats(log.clone(), Topic::photos(), p, config, shutdown.clone(), stats));
        let end = log.end_position(&Topic::photos()).unwrap();
        for _ in 0..300 {
            if log.committed_position(&Topic::photos(), &group).unwrap() == end {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        task.await.unwrap().unwrap();
        assert_eq!(log.committed_position(&Topic::photos(), &group).unwrap(), end, "all committed");
    }

    /// Fails permanently on the records whose photo id is in `bad`; counts
    /// how many records it handles at the same time.
    struct Picky {
        bad: Vec<PhotoId>,
        in_flight: AtomicU32,
        most_at_once: AtomicU32,
    }

    #[async_trait]
    impl Processor for Picky {
        fn name(&self) -> &'static str {
            "picky"
        }
        fn concurrency(&self) -> usize {
            4
        }
        async fn handle(&self, e: &Envelope) -> Result<(), ProcessError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let Record::PhotoUploaded(r) = &e.record else { return Ok(()) };
            if self.bad.contains(&r.photo_id) {
                return Err(ProcessError::permanent(anyhow::anyhow!("broken file")));
            }
            Ok(())
        }
    }

    /// Several records at once, each with its own outcome: the bad one is
    /// dead-lettered alone, its neighbours are handled, all are committed.
    #[tokio::test]
    async fn concurrent_records_have_their_own_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        let records: Vec<Envelope> = (0..8).map(|_| record()).collect();
        let bad = match &records[3].record {
            Record::PhotoUploaded(r) => r.photo_id.clone(),
            _ => unreachable!(),
        };
        let batch: Vec<(String, Envelope)> = records.iter().map(|r| (r.record.key(), r.clone())).collect();
        log.publish_batch(&Topic::photos(), &batch).await.unwrap();
        let p = Arc::new(Picky { bad: vec![bad.clone()], in_flight: AtomicU32::new(0), most_at_once: AtomicU32::new(0) });
        let stats = Arc::new(ProcessorStats::default());
        run_until_committed(&log, p.clone(), RunnerConfig::default(), stats.clone()).await;
        assert_eq!(stats.handled.load(Ordering::SeqCst), 7);
        assert_eq!(stats.dead_lettered.load(Ordering::SeqCst), 1);
        assert!(p.most_at_once.load(Ordering::SeqCst) > 1, "records were handled concurrently");
        // The dead letter is the bad record, alone.
        let mut sub = log.subscribe(&Topic::dead_letters(), &ConsumerGroup::new("check").unwrap()).await.unwrap();
        let letter = sub.next().await.unwrap().envelope().unwrap();
        let Record::DeadLettered(d) = letter.record else { panic!("not a dead letter") };
        assert!(matches!(&d.original.record, Record::PhotoUploaded(r) if r.photo_id == bad));
    }

    /// Overrides `handle_many` as the thumbnailer does: a round fails one
    /// record transiently and another permanently.
    struct Rounds {
        flaky: PhotoId,
        bad: PhotoId,
        rounds: std::sync::Mutex<Vec<usize>>,
        retried: std::sync::Mutex<Vec<PhotoId>>,
    }

    #[async_trait]
    impl Processor for Rounds {
        fn name(&self) -> &'static str {
            "rounds"
        }
        fn concurrency(&self) -> usize {
            8
        }
        async fn handle(&self, e: &Envelope) -> Result<(), ProcessError> {
            let Record::PhotoUploaded(r) = &e.record else { return Ok(()) };
            self.retried.lock().unwrap().push(r.photo_id.clone());
            if r.photo_id == self.bad {
                return Err(ProcessError::permanent(anyhow::anyhow!("broken file")));
            }
            Ok(())
        }
        async fn handle_many(&self, es: &[Envelope]) -> Vec<Result<(), ProcessError>> {
            self.rounds.lock().unwrap().push(es.len());
            es.iter()
                .map(|e| match &e.record {
                    Record::PhotoUploaded(r) if r.photo_id == self.flaky => Err(ProcessError::transient(anyhow::anyhow!("store busy"))),
                    Record::PhotoUploaded(r) if r.photo_id == self.bad => Err(ProcessError::permanent(anyhow::anyhow!("broken file"))),
                    _ => Ok(()),
                })
                .collect()
        }
    }

    /// A round handed to `handle_many` settles each record alone: the
    /// transient failure is retried by itself (through `handle`), the
    /// permanent one is dead-lettered by itself, the rest are not redone.
    #[tokio::test]
    async fn a_round_settles_each_record_alone() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        let records: Vec<Envelope> = (0..6).map(|_| record()).collect();
        let id = |i: usize| match &records[i].record {
            Record::PhotoUploaded(r) => r.photo_id.clone(),
            _ => unreachable!(),
        };
        let (flaky, bad) = (id(1), id(4));
        let batch: Vec<(String, Envelope)> = records.iter().map(|r| (r.record.key(), r.clone())).collect();
        log.publish_batch(&Topic::photos(), &batch).await.unwrap();
        let p = Arc::new(Rounds { flaky: flaky.clone(), bad: bad.clone(), rounds: Default::default(), retried: Default::default() });
        let stats = Arc::new(ProcessorStats::default());
        let config = RunnerConfig { base_backoff: Duration::from_millis(1), ..RunnerConfig::default() };
        run_until_committed(&log, p.clone(), config, stats.clone()).await;
        assert_eq!(stats.handled.load(Ordering::SeqCst), 5);
        assert_eq!(stats.dead_lettered.load(Ordering::SeqCst), 1);
        assert!(p.rounds.lock().unwrap().iter().any(|&n| n > 1), "records were handed over together");
        assert_eq!(*p.retried.lock().unwrap(), vec![flaky], "only the transient failure was redone");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = RunnerConfig::default();
        for attempt in 1..30 {
            assert!(c.backoff(attempt) <= c.max_backoff);
        }
    }
}
