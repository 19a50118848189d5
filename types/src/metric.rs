//! Every metric photostream records, as typed definitions in one place
//! (as Vector's `internal_events`): a name, its label keys, and what it
//! measures. Call sites give label values in order and record through the
//! `metrics` facade; whichever recorder the binary installed (Prometheus on
//! `/metrics`) sees the same names and labels wherever they are recorded.

use metrics::{Counter, Gauge, Histogram, Label};

/// A metric's name and label keys; `N` label values are given per use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Def<const N: usize> {
    pub name: &'static str,
    pub labels: [&'static str; N],
}

impl<const N: usize> Def<N> {
    fn labels(&self, values: [&str; N]) -> Vec<Label> {
        self.labels
            .iter()
            .zip(values)
            .map(|(key, value)| Label::new(*key, value.to_owned()))
            .collect()
    }
}

/// A monotonically increasing count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterDef<const N: usize>(pub Def<N>);

impl<const N: usize> CounterDef<N> {
    /// The counter for these label values (in the order of the keys).
    pub fn with(&self, values: [&str; N]) -> Counter {
        metrics::counter!(self.0.name, self.0.labels(values))
    }
}

/// A value that goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaugeDef<const N: usize>(pub Def<N>);

impl<const N: usize> GaugeDef<N> {
    /// The gauge for these label values (in the order of the keys).
    pub fn with(&self, values: [&str; N]) -> Gauge {
        metrics::gauge!(self.0.name, self.0.labels(values))
    }
}

/// A distribution (seconds, by the `_seconds` suffix, get the latency buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramDef<const N: usize>(pub Def<N>);

impl<const N: usize> HistogramDef<N> {
    /// The histogram for these label values (in the order of the keys).
    pub fn with(&self, values: [&str; N]) -> Histogram {
        metrics::histogram!(self.0.name, self.0.labels(values))
    }
}

macro_rules! define {
    ($kind:ident, $(#[doc = $doc:literal])* $const:ident = $name:literal [$($label:literal),*]) => {
        $(#[doc = $doc])*
        pub const $const: $kind<{ <[&str]>::len(&[$($label),*]) }> =
            $kind(Def { name: $name, labels: [$($label),*] });
    };
}

// The HTTP API.
define!(CounterDef, /// Requests, by method, route template and status.
    HTTP_REQUESTS_TOTAL = "photostream_http_requests_total" ["method", "route", "status"]);
define!(HistogramDef, /// Request latency, by method, route template and status.
    HTTP_REQUEST_DURATION_SECONDS = "photostream_http_request_duration_seconds" ["method", "route", "status"]);
define!(CounterDef, /// Uploads accepted (`outcome` = `accepted`).
    UPLOADS_ACCEPTED_TOTAL = "photostream_uploads_total" ["outcome"]);
define!(CounterDef, /// Uploads refused (`outcome` = `rejected`), by error code.
    UPLOADS_REJECTED_TOTAL = "photostream_uploads_total" ["outcome", "reason"]);
define!(CounterDef, /// Bytes of originals accepted.
    UPLOAD_BYTES_TOTAL = "photostream_upload_bytes_total" []);
define!(CounterDef, /// Client-made thumbnails, by what became of them.
    CLIENT_THUMBNAILS_TOTAL = "photostream_client_thumbnails_total" ["outcome"]);
define!(CounterDef, /// Files served, by resolution.
    DOWNLOADS_TOTAL = "photostream_downloads_total" ["resolution"]);
define!(CounterDef, /// Bytes of files served (promised), by resolution.
    DOWNLOAD_BYTES_TOTAL = "photostream_download_bytes_total" ["resolution"]);
define!(CounterDef, /// Cache lookups, by cache and hit or miss.
    CACHE_REQUESTS_TOTAL = "photostream_cache_requests_total" ["cache", "result"]);
define!(CounterDef, /// Originals read from the cold store.
    COLD_READS_TOTAL = "photostream_cold_reads_total" []);
define!(CounterDef, /// Photo views put on the views stream.
    VIEWS_RECORDED_TOTAL = "photostream_views_recorded_total" []);
define!(CounterDef, /// Photo views lost, by why.
    VIEWS_DROPPED_TOTAL = "photostream_views_dropped_total" ["reason"]);
define!(CounterDef, /// Billing webhook events, by outcome.
    BILLING_EVENTS_TOTAL = "photostream_billing_events_total" ["outcome"]);
define!(CounterDef, /// Actions refused by abuse throttling (429 `rate_limited`), by action.
    RATE_LIMITED_TOTAL = "photostream_rate_limited_total" ["action"]);
define!(GaugeDef, /// Whether a backend answered its last health check (1) or not (0).
    BACKEND_UP = "photostream_backend_up" ["backend"]);

// Moderation.
define!(CounterDef, /// Reports filed by users.
    REPORTS_TOTAL = "photostream_reports_total" []);
define!(CounterDef, /// Moderation decisions, by action, who decided and the subject's kind.
    MODERATION_DECISIONS_TOTAL = "photostream_moderation_decisions_total" ["action", "by", "subject"]);
define!(CounterDef, /// Moderators' looks at photos through review, by what they saw.
    MODERATOR_VIEWS_TOTAL = "photostream_moderator_views_total" ["what"]);
define!(GaugeDef, /// Pending items in the review queue.
    MODERATION_QUEUE_DEPTH = "photostream_moderation_queue_depth" []);
define!(GaugeDef, /// Age of the oldest pending review item.
    MODERATION_OLDEST_PENDING_SECONDS = "photostream_moderation_oldest_pending_seconds" []);
define!(GaugeDef, /// Whether the image classifier is loaded (1) or not (0).
    MODERATION_CLASSIFIER_ENABLED = "photostream_moderation_classifier_enabled" []);

// The catalog.
define!(GaugeDef, /// Connections of a catalog pool, by pool and state (`open`, `in_use`, `max`).
    CATALOG_POOL_CONNECTIONS = "photostream_catalog_pool_connections" ["pool", "state"]);
define!(HistogramDef, /// Time to acquire a catalog connection, by pool.
    CATALOG_ACQUIRE_SECONDS = "photostream_catalog_acquire_seconds" ["pool"]);
define!(HistogramDef, /// Catalog statement latency, by operation.
    CATALOG_QUERY_DURATION_SECONDS = "photostream_catalog_query_duration_seconds" ["op"]);

// The processors.
define!(CounterDef, /// Records a processor finished, by processor and outcome.
    PROCESSOR_RECORDS_TOTAL = "photostream_processor_records_total" ["processor", "outcome"]);
define!(CounterDef, /// Retries of a record, by processor.
    PROCESSOR_RETRIES_TOTAL = "photostream_processor_retries_total" ["processor"]);
define!(HistogramDef, /// Time to handle a record, by processor.
    PROCESSOR_HANDLE_SECONDS = "photostream_processor_handle_seconds" ["processor"]);
define!(CounterDef, /// Records sent to the dead-letter topic, by processor.
    DEAD_LETTERS_TOTAL = "photostream_dead_letters_total" ["processor"]);
define!(CounterDef, /// Failed offset commits, by processor.
    PROCESSOR_COMMIT_FAILURES_TOTAL = "photostream_processor_commit_failures_total" ["processor"]);
define!(GaugeDef, /// Records a consumer is behind, by processor.
    CONSUMER_LAG_RECORDS = "photostream_consumer_lag_records" ["processor"]);
define!(GaugeDef, /// How far behind a consumer is in time, by processor.
    CONSUMER_LAG_SECONDS = "photostream_consumer_lag_seconds" ["processor"]);
define!(GaugeDef, /// Outbox records not yet relayed to the stream.
    OUTBOX_PENDING = "photostream_outbox_pending" []);

// Storage tiers.
define!(CounterDef, /// Originals moved between tiers, by destination and outcome.
    TIER_MOVES_TOTAL = "photostream_tier_moves_total" ["to", "outcome"]);
define!(CounterDef, /// Bytes moved between tiers, by destination.
    TIER_MOVED_BYTES_TOTAL = "photostream_tier_moved_bytes_total" ["to"]);
define!(GaugeDef, /// Originals stored, by tier.
    STORAGE_OBJECTS = "photostream_storage_objects" ["tier"]);
define!(GaugeDef, /// Bytes of originals stored, by tier.
    STORAGE_BYTES = "photostream_storage_bytes" ["tier"]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_keep_their_names_and_labels() {
        assert_eq!(HTTP_REQUESTS_TOTAL.0.labels, ["method", "route", "status"]);
        assert_eq!(UPLOADS_ACCEPTED_TOTAL.0.name, UPLOADS_REJECTED_TOTAL.0.name);
        assert_eq!(OUTBOX_PENDING.0.labels.len(), 0);
        let labels = MODERATION_DECISIONS_TOTAL.0.labels(["hold", "reports", "photo"]);
        assert_eq!(labels[1].key(), "by");
        assert_eq!(labels[1].value(), "reports");
    }
}
