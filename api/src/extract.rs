//! Extractors whose rejections speak the API's error format.

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::error_code::ErrorCode;

/// `Json<T>` whose failures are `400 invalid_json` (or 413/415).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Bodies are JSON objects; serde's derive would also take an array
        // of field values.
        match axum::Json::<photostream_types::ObjectOnly<T>>::from_request(req, state).await {
            Ok(axum::Json(photostream_types::ObjectOnly(v))) => Ok(Self(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "send JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large("the JSON body is too large"))
            }
            Err(e) => Err(ApiError::bad_request(ErrorCode::InvalidJson, json_message(&e))),
        }
    }
}

/// What was wrong with a JSON body, in words a client can act on: serde's
/// own sentence without axum's prefix or the line and column (which depend
/// on formatting, not on meaning). The full text is logged.
fn json_message(e: &JsonRejection) -> String {
    let text = e.body_text();
    tracing::debug!(error = %text, "invalid JSON body");
    let detail = text.rsplit(": ").next().unwrap_or(&text);
    let detail = match detail.find(" at line ") {
        Some(i) => &detail[..i],
        None => detail,
    };
    match e {
        JsonRejection::JsonSyntaxError(_) => "the body is not valid JSON".to_string(),
        _ if detail.is_empty() => "the JSON body does not have the expected fields".to_string(),
        _ => format!("the JSON body does not have the expected fields: {detail}"),
    }
}

/// `Query<T>` whose failures are `400 invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::bad_request(ErrorCode::InvalidQuery, query_message(e))),
        }
    }
}

fn query_message(e: QueryRejection) -> String {
    let text = e.body_text();
    let detail = text.rsplit(": ").next().unwrap_or(&text);
    format!("the query string is not valid: {detail}")
}

/// The request id set by the request-id layer (`x-request-id`).
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        ))
    }
}

/// The client's address, when the server was started with connect info.
/// Forwarding headers are deliberately not trusted.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// `Multipart` whose failures (no or bad boundary, wrong content type) are
/// answered in the API's error format.
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Self)
            .map_err(|e: MultipartRejection| {
                ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    format!("send multipart/form-data: {}", e.body_text()),
                )
            })
    }
}
