use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use std::collections::BTreeMap;

use serde::Serialize;

use photostream_types::metric;
use crate::AppState;

/// `{"status": "ok"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: String,
}

/// Each configured backend and whether it answered.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `degraded`.
    status: String,
    backends: BTreeMap<String, BackendCheck>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BackendCheck {
    /// The implementation, e.g. `sql`, `tantivy`, `nats`, `redis`.
    kind: String,
    /// `ok` or `unreachable`.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Every configured backend answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Every backend answered", body = Readiness),
              (status = 503, description = "A backend is unreachable", body = Readiness)))]
pub async fn readyz(State(st): State<Arc<AppState>>) -> (StatusCode, Json<Readiness>) {
    let mut checks = BTreeMap::new();
    let mut ok = true;
    let mut record = |name: &str, kind: &str, result: Result<(), String>| {
        ok &= result.is_ok();
        metric::BACKEND_UP.with([name]).set(result.is_ok() as u8 as f64);
        checks.insert(
            name.to_string(),
            match result {
                Ok(()) => BackendCheck { kind: kind.to_string(), status: "ok".into(), error: None },
                Err(e) => BackendCheck { kind: kind.to_string(), status: "unreachable".into(), error: Some(e) },
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
    record("signals", st.signals.kind(), st.signals.ping().await.map_err(|e| e.to_string()));
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(Readiness { status: if ok { "ready" } else { "degraded" }.into(), backends: checks }),
    )
}
