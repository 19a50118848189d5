//! The API's one error type.
//!
//! Every error answers `{"error": {"code", "message"}}` with a stable
//! snake_case code ([`ErrorCode`]). Client errors say what was wrong; backend failures are
//! logged in full and answered with a generic 503, never leaking internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use photostream_catalog::CatalogError;
use photostream_media::MediaError;
use photostream_search::SearchError;
use serde_json::json;

pub use crate::error_code::ErrorCode;

const REQUEST_TIMEOUT_MESSAGE: &str = "the request arrived too slowly; send it again on a faster connection";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }
    /// Also what an invisible resource answers: never reveal it exists.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such resource")
    }
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, message)
    }
    /// A backend is down or failing: logged here, answered generically.
    pub fn unavailable(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(context, error = %err, "backend failure");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "a backend is temporarily unavailable; retry shortly",
        )
        .retry_after(1)
    }
    /// A request (head or body) that arrived too slowly; see `crate::server`.
    pub fn request_timeout() -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, ErrorCode::RequestTimeout, REQUEST_TIMEOUT_MESSAGE)
    }
    /// The JSON body of [`Self::request_timeout`], for the connection layer,
    /// which writes it without a router.
    pub fn request_timeout_body() -> String {
        json!({"error": {"code": ErrorCode::RequestTimeout.as_str(), "message": REQUEST_TIMEOUT_MESSAGE}}).to_string()
    }
    /// The original of a photo the caller may see but not download: it is
    /// for its owner and premium users (`premium.free_originals` lifts it).
    pub fn premium_required() -> Self {
        Self::new(
            StatusCode::PAYMENT_REQUIRED,
            ErrorCode::PremiumRequired,
            "originals are for the photo's owner and premium members; the display rendition is free",
        )
    }
    /// A billing webhook whose signature is missing, wrong or stale.
    pub fn bad_signature(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorCode::BadSignature, message)
    }
    /// The billing webhook on a server without `billing.webhook_secret`.
    pub fn webhook_disabled() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::WebhookDisabled,
            "billing webhooks are not configured on this server (billing.webhook_secret)",
        )
    }
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests, message)
            .retry_after(retry_after_secs.max(1))
    }
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code.as_str(), "message": self.message}}));
        let mut resp = (self.status, body).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => Self::not_found(),
            CatalogError::Conflict(what) => Self::conflict(ErrorCode::Conflict, format!("{what} already exists")),
            other => Self::unavailable("catalog", other),
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        Self::unavailable("search", e)
    }
}

impl From<object_store::Error> for ApiError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::not_found(),
            other => Self::unavailable("objects", other),
        }
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        let msg = e.to_string();
        match e {
            MediaError::Empty => Self::bad_request(ErrorCode::EmptyFile, msg),
            MediaError::Unrecognised | MediaError::Unsupported(_) | MediaError::NoDecoder(..) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, msg)
            }
            MediaError::TooLarge { .. } | MediaError::TooBigToDecode { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ImageTooLarge, msg)
            }
            MediaError::Corrupt(detail) => {
                // The decoder's own words (chunk names, offsets) go to the
                // log; the client gets a stable, human sentence.
                tracing::info!(detail = %detail, "undecodable upload");
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::UndecodableImage,
                    "the image cannot be decoded: the file is damaged, truncated or uses a feature photostream does not support",
                )
            }
            MediaError::BadThumbnail(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::BadThumbnail, msg)
            }
        }
    }
}

impl From<photostream_types::InvalidValue> for ApiError {
    fn from(e: photostream_types::InvalidValue) -> Self {
        Self::bad_request(ErrorCode::InvalidField, e.0)
    }
}
