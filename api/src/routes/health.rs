use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::AppState;

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Every configured backend answers.
pub async fn readyz(State(st): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let mut checks = Map::new();
    let mut ok = true;
    let mut record = |name: &str, kind: &str, result: Result<(), String>| {
        ok &= result.is_ok();
        metrics::gauge!("photostream_backend_up", "backend" => name.to_string()).set(result.is_ok() as u8 as f64);
        checks.insert(
            name.to_string(),
            match result {
                Ok(()) => json!({"kind": kind, "status": "ok"}),
                Err(e) => json!({"kind": kind, "status": "unreachable", "error": e}),
            },
        );
    };
    record("catalog", "sql", st.catalog.ping().await.map_err(|e| e.to_string()));
    record("search", st.search.kind(), st.search.ping().await.map_err(|e| e.to_string()));
    let probe = object_store::path::Path::from("__readyz__");
    let objects = match st.objects.head(&probe).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    record("objects", "object_store", objects);
    if let Some(stream) = &st.stream {
        record("stream", stream.kind(), stream.ping().await.map_err(|e| e.to_string()));
    }
    if let Some(analytics) = &st.analytics {
        record("analytics", analytics.kind(), analytics.ping().await.map_err(|e| e.to_string()));
    }
    record("cache", st.limiter.kind(), st.limiter.ping().await.map_err(|e| e.to_string()));
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(json!({"status": if ok { "ready" } else { "degraded" }, "backends": checks})),
    )
}
