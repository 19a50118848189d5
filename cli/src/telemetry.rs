//! Logging, and catalog query latency read off sqlx's own query events.
//!
//! sqlx emits one `sqlx::query` event per statement with its elapsed time;
//! a small layer turns those into the histogram
//! `photostream_catalog_query_duration_seconds{op}` (op: select, insert,
//! update, delete, begin, commit, rollback or other) for every catalog query,
//! without timing code in each catalog function. Only this layer sees the
//! debug-level query events; the log output keeps its own filter.

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;
use photostream_types::metric;

/// Installs the global subscriber: `text` or `json` logs filtered by
/// `RUST_LOG` (default `info`), plus the catalog latency layer.
pub fn init(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tantivy=warn,sqlx=warn"));
    let logs = if format == "json" {
        tracing_subscriber::fmt::layer().json().with_filter(filter).boxed()
    } else {
        tracing_subscriber::fmt::layer().with_filter(filter).boxed()
    };
    let queries = QueryLatency.with_filter(Targets::new().with_target("sqlx::query", Level::DEBUG));
    let _ = tracing_subscriber::registry().with(logs).with(queries).try_init();
}

/// Records each sqlx query event's elapsed time.
pub struct QueryLatency;

impl<S: Subscriber> Layer<S> for QueryLatency {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut fields = QueryFields::default();
        event.record(&mut fields);
        if let Some(secs) = fields.elapsed {
            metric::CATALOG_QUERY_DURATION_SECONDS.with([fields.op]).record(secs);
        }
    }
}

#[derive(Default)]
struct QueryFields {
    op: &'static str,
    elapsed: Option<f64>,
}

/// The statement kind from the first word of sqlx's summary.
fn op_of(summary: &str) -> &'static str {
    let first = summary.trim_start_matches(['"', ' ']).split_whitespace().next().unwrap_or("");
    match first.to_ascii_lowercase().as_str() {
        "select" => "select",
        "insert" => "insert",
        "update" => "update",
        "delete" => "delete",
        "begin" => "begin",
        "commit" => "commit",
        "rollback" => "rollback",
        _ => "other",
    }
}

impl Visit for QueryFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = Some(value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.op = op_of(value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.op = op_of(&format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_kinds() {
        assert_eq!(op_of("SELECT p.*, u.username …"), "select");
        assert_eq!(op_of("\"insert into outbox"), "insert");
        assert_eq!(op_of("PRAGMA journal_mode = WAL"), "other");
        assert_eq!(op_of(""), "other");
    }

    #[tokio::test]
    async fn sqlx_query_events_become_a_histogram() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let subscriber = tracing_subscriber::registry()
            .with(QueryLatency.with_filter(Targets::new().with_target("sqlx::query", Level::DEBUG)));
        let _guard = tracing::subscriber::set_default(subscriber);
        metrics::with_local_recorder(&recorder, || {
            tracing::event!(target: "sqlx::query", Level::DEBUG, summary = "SELECT 1", elapsed_secs = 0.002);
        });
        let text = handle.render();
        assert!(text.contains("photostream_catalog_query_duration_seconds_count{op=\"select\"} 1"), "{text}");
    }
}
