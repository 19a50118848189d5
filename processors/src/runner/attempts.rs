//! Attempts at records until each has an outcome: handled, given up on
//! (to be dead-lettered), or stopped by shutdown. Transient failures are
//! retried with backoff; a batch is settled as a whole, other records each
//! alone, those of different keys handed over together (`handle_many`).

use std::sync::atomic::Ordering;

use photostream_pipeline::Envelope;
use photostream_types::metric;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn, Instrument};

use super::{ProcessorStats, RunnerConfig};
use crate::{ProcessError, Processor};

pub(super) enum Outcome {
    Done,
    /// Given up after this many attempts, with this error.
    GaveUp(String, u32),
    /// Shutdown arrived while waiting to retry.
    Stopped,
}

/// What one round of attempts at a record (or a batch) needs.
pub(super) struct Attempts<'a> {
    pub(super) processor: &'a dyn Processor,
    pub(super) config: &'a RunnerConfig,
    pub(super) shutdown: &'a CancellationToken,
    pub(super) stats: &'a ProcessorStats,
}

impl Attempts<'_> {
    /// Handles `envelopes` (one record, or a batch handled as a whole),
    /// retrying transient failures with backoff, until done, given up on,
    /// or shutdown.
    pub(super) async fn until_done(&self, envelopes: &[Envelope]) -> Outcome {
        self.settle(envelopes, None, std::time::Instant::now()).await
    }

    /// [`until_done`](Self::until_done) for `envelopes` whose first attempt
    /// (started at `started`) already ended in `first`, if given.
    async fn settle(
        &self,
        envelopes: &[Envelope],
        mut first: Option<Result<(), ProcessError>>,
        started: std::time::Instant,
    ) -> Outcome {
        let (name, config, stats) = (self.processor.name(), self.config, self.stats);
        if envelopes.is_empty() {
            return Outcome::Done;
        }
        let span = match envelopes {
            [one] => tracing::info_span!(
                "record",
                processor = name,
                event_id = %one.id,
                request_id = one.request_id.as_deref().unwrap_or("-"),
            ),
            many => tracing::info_span!("batch", processor = name, records = many.len()),
        };
        let outcome = async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let result = match first.take() {
                    Some(result) => result,
                    None if envelopes.len() == 1 => self.processor.handle(&envelopes[0]).await,
                    None => self.processor.handle_batch(envelopes).await,
                };
                match result {
                    Ok(()) => {
                        stats.handled.fetch_add(envelopes.len() as u64, Ordering::Relaxed);
                        let newest = envelopes.iter().map(|e| e.at_ms).max().unwrap_or(0);
                        stats.last_event_ms.fetch_max(newest, Ordering::Relaxed);
                        metric::PROCESSOR_RECORDS_TOTAL.with([name, "handled"])
                            .increment(envelopes.len() as u64);
                        return Outcome::Done;
                    }
                    Err(ProcessError::Permanent(e)) => {
                        stats.failed.fetch_add(envelopes.len() as u64, Ordering::Relaxed);
                        metric::PROCESSOR_RECORDS_TOTAL.with([name, "failed"])
                            .increment(envelopes.len() as u64);
                        error!(error = %format!("{e:#}"), "record failed permanently; dead-lettered");
                        return Outcome::GaveUp(format!("{e:#}"), attempt);
                    }
                    Err(ProcessError::Transient(e))
                        if attempt >= config.max_attempts && started.elapsed() >= config.give_up_after =>
                    {
                        stats.failed.fetch_add(envelopes.len() as u64, Ordering::Relaxed);
                        metric::PROCESSOR_RECORDS_TOTAL.with([name, "failed"])
                            .increment(envelopes.len() as u64);
                        error!(attempt, error = %format!("{e:#}"), "record failed too often; dead-lettered");
                        return Outcome::GaveUp(format!("{e:#}"), attempt);
                    }
                    Err(ProcessError::Transient(e)) => {
                        stats.retries.fetch_add(1, Ordering::Relaxed);
                        metric::PROCESSOR_RETRIES_TOTAL.with([name]).increment(1);
                        let wait = config.backoff(attempt);
                        warn!(attempt, wait_ms = wait.as_millis() as u64, error = %format!("{e:#}"), "retrying");
                        tokio::select! {
                            // Uncommitted: the record is redelivered after restart.
                            _ = self.shutdown.cancelled() => return Outcome::Stopped,
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await;
        metric::PROCESSOR_HANDLE_SECONDS.with([name])
            .record(started.elapsed().as_secs_f64());
        outcome
    }

    /// Handles records one by one in outcome: each round hands the next
    /// record of every key to `handle_many` at once, then settles each
    /// result (retrying transient failures alone). Returns an outcome per
    /// record, `Stopped` for those not reached because of shutdown.
    pub(super) async fn each(&self, envelopes: &[Envelope]) -> Vec<Outcome> {
        let mut lanes: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, e) in envelopes.iter().enumerate() {
            let key = e.record.key();
            match lanes.iter_mut().find(|(k, _)| *k == key) {
                Some((_, lane)) => lane.push(i),
                None => lanes.push((key, vec![i])),
            }
        }
        let mut outcomes: Vec<Outcome> = (0..envelopes.len()).map(|_| Outcome::Stopped).collect();
        let rounds = lanes.iter().map(|(_, lane)| lane.len()).max().unwrap_or(0);
        for round in 0..rounds {
            let members: Vec<usize> = lanes.iter().filter_map(|(_, lane)| lane.get(round).copied()).collect();
            let batch: Vec<Envelope> = members.iter().map(|&i| envelopes[i].clone()).collect();
            let started = std::time::Instant::now();
            let results = self.processor.handle_many(&batch).await;
            debug_assert_eq!(results.len(), batch.len());
            let settled = futures::future::join_all(
                results.into_iter().zip(&batch).map(|(r, e)| self.settle(std::slice::from_ref(e), Some(r), started)),
            )
            .await;
            let mut stopped = false;
            for (i, outcome) in members.into_iter().zip(settled) {
                stopped |= matches!(outcome, Outcome::Stopped);
                outcomes[i] = outcome;
            }
            if stopped {
                break;
            }
        }
        outcomes
    }
}
