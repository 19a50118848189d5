//! Prometheus metrics: `GET /metrics`.
//!
//! The `metrics` facade is recorded by one process-wide Prometheus recorder
//! (installed on first use). The API records requests per route and status
//! with latency histograms and upload outcomes; the processors' runner and
//! relay record through the same facade, so in a process running both roles
//! one scrape sees everything.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use photostream_types::metric;
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
    let labels = [method.as_str(), route.as_str(), status.as_str()];
    metric::HTTP_REQUESTS_TOTAL.with(labels).increment(1);
    metric::HTTP_REQUEST_DURATION_SECONDS.with(labels).record(started.elapsed().as_secs_f64());
    response
}

/// The Prometheus text exposition of everything recorded in this process.
pub fn render_text() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render())
}

/// Who may scrape `/metrics` on the API port: with `metrics_token`
/// configured, whoever sends it as a bearer token; without, loopback
/// clients only (a Prometheus beside the server, or `metrics_listen`).
pub fn scrape_allowed(token: Option<&str>, client: Option<std::net::IpAddr>, authorization: Option<&str>) -> bool {
    match token {
        Some(t) => authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|given| {
                use sha2::{Digest, Sha256};
                // Compare digests, so the time taken says nothing of the token.
                Sha256::digest(given.as_bytes()) == Sha256::digest(t.as_bytes())
            }),
        None => client.is_some_and(|a| a.is_loopback()),
    }
}

/// `GET /metrics` in the Prometheus text format. Gauges read from the
/// catalog are refreshed by a scrape: the moderation queue each time,
/// originals per storage tier at most once a minute. Served to loopback clients, or with `metrics_token` to
/// its bearers; 404 otherwise.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
              (status = 404, description = "Not a loopback client and no (or a wrong) metrics token", body = crate::openapi::ErrorBody)))]
pub async fn render(
    State(st): State<Arc<AppState>>,
    crate::extract::ClientAddr(client): crate::extract::ClientAddr,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if !scrape_allowed(st.config.metrics_token.as_deref(), client, authorization) {
        return crate::error::ApiError::not_found().into_response();
    }
    match st.catalog.queue_stats().await {
        Ok(q) => {
            metric::MODERATION_QUEUE_DEPTH.with([]).set(q.pending as f64);
            let age = q.oldest_ms.map_or(0.0, |ms| (photostream_types::now_ms() - ms).max(0) as f64 / 1000.0);
            metric::MODERATION_OLDEST_PENDING_SECONDS.with([]).set(age);
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the moderation queue for metrics"),
    }
    // Originals and bytes per storage tier (also refreshed by each tiering
    // pass). Counting them reads every live photo row, so a scrape does it
    // at most once a minute: at 1,000,000 photos each count took PostgreSQL
    // ~1 s, and a scraper every 500 ms kept one scan running all the time.
    if tier_totals_due(&st.tier_totals_counted) {
        if let Err(e) = photostream_tiering::report_totals(&st.catalog).await {
            tracing::warn!(error = %e, "cannot read the per-tier totals for metrics");
        }
    }
    render_text().into_response()
}

/// How often a scrape may count originals per tier.
pub const TIER_TOTALS_EVERY: Duration = Duration::from_secs(60);

/// Whether this scrape counts (and so the next one within
/// [`TIER_TOTALS_EVERY`] does not): one count at a time per instance.
fn tier_totals_due(last: &std::sync::Mutex<Option<Instant>>) -> bool {
    let mut last = last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if last.is_some_and(|at| at.elapsed() < TIER_TOTALS_EVERY) {
        return false;
    }
    *last = Some(Instant::now());
    true
}

#[cfg(test)]
mod tests {
    use super::scrape_allowed;

    #[test]
    fn tier_totals_are_counted_at_most_once_a_minute() {
        let last = std::sync::Mutex::new(None);
        assert!(super::tier_totals_due(&last), "the first scrape counts");
        assert!(!super::tier_totals_due(&last), "the next one within a minute does not");
        *last.lock().unwrap() = Some(std::time::Instant::now() - super::TIER_TOTALS_EVERY);
        assert!(super::tier_totals_due(&last), "a minute later it counts again");
    }

    #[test]
    fn metrics_go_to_loopback_or_to_token_bearers() {
        let lo = Some("127.0.0.1".parse().unwrap());
        let lo6 = Some("::1".parse().unwrap());
        let far = Some("203.0.113.9".parse().unwrap());
        assert!(scrape_allowed(None, lo, None));
        assert!(scrape_allowed(None, lo6, None));
        assert!(!scrape_allowed(None, far, None));
        assert!(!scrape_allowed(None, None, None));
        assert!(scrape_allowed(Some("s3cret"), far, Some("Bearer s3cret")));
        assert!(!scrape_allowed(Some("s3cret"), lo, None), "with a token, loopback needs it too");
        assert!(!scrape_allowed(Some("s3cret"), far, Some("Bearer s3cre")));
        assert!(!scrape_allowed(Some("s3cret"), far, Some("s3cret")));
    }
}
