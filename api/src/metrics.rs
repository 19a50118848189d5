//! Prometheus metrics: `GET /metrics`.
//!
//! The `metrics` facade is recorded by one process-wide Prometheus recorder
//! (installed on first use). The API records requests per route and status
//! with latency histograms and upload outcomes; the processors' runner and
//! relay record through the same facade, so in a process running both roles
//! one scrape sees everything.

use std::sync::OnceLock;
use std::time::Instant;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// The process-wide recorder's handle.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .expect("valid buckets")
            .install_recorder()
            .expect("one metrics recorder per process")
    })
}

/// Middleware: request count and latency per route template and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("photostream_http_requests_total", &labels).increment(1);
    metrics::histogram!("photostream_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The Prometheus text exposition of everything recorded in this process.
pub fn render_text() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render())
}

/// `GET /metrics` in the Prometheus text format. Gauges read from the
/// catalog (the moderation queue) are refreshed on each scrape.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn render(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    match st.catalog.queue_stats().await {
        Ok(q) => {
            metrics::gauge!("photostream_moderation_queue_depth").set(q.pending as f64);
            let age = q.oldest_ms.map_or(0.0, |ms| (photostream_types::now_ms() - ms).max(0) as f64 / 1000.0);
            metrics::gauge!("photostream_moderation_oldest_pending_seconds").set(age);
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the moderation queue for metrics"),
    }
    render_text()
}
