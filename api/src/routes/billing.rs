//! `POST /v1/billing/webhook`: a payment provider says a subscription
//! started or ended, and the user's premium follows.
//!
//! The request is authenticated by its signature alone: header
//! `Photostream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<raw body>">` keyed with `billing.webhook_secret`. The signature is
//! checked over the raw bytes (compared in constant time) before a byte of
//! the body is parsed, and a timestamp more than five minutes off is refused,
//! so a captured request cannot be replayed later. Each event id is applied
//! once (`Catalog::apply_billing_event`): the provider's redeliveries are
//! answered 200 and change nothing. docs/premium.md shows how to point a
//! provider at it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hmac::{Hmac, Mac};
use photostream_catalog::{BillingOutcome, CatalogError, PremiumChange};
use photostream_types::Username;
use photostream_types::metric;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::AppState;

/// The largest event accepted: provider events are a few hundred bytes.
pub const WEBHOOK_BODY_LIMIT: usize = 16 * 1024;
/// How far the signed timestamp may be from this server's clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;
/// The signature header.
pub const SIGNATURE_HEADER: &str = "photostream-signature";

/// A billing event as the provider (or its adapter) sends it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct BillingEvent {
    /// The provider's event id: each is applied once.
    id: String,
    /// `subscription.activated` or `subscription.canceled` (others are acknowledged and ignored).
    #[serde(rename = "type")]
    kind: String,
    /// The photostream user the subscription belongs to.
    username: String,
    /// When the paid period ends: RFC 3339 or Unix seconds. Activated without
    /// it: premium with no end. Canceled with a future `until`: premium until
    /// then; without it: premium ends now.
    #[schema(value_type = Option<String>)]
    until: Option<Until>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Until {
    UnixSeconds(i64),
    Rfc3339(String),
}

impl Until {
    fn to_ms(&self) -> Option<i64> {
        match self {
            Until::UnixSeconds(s) => s.checked_mul(1000),
            Until::Rfc3339(t) => chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.timestamp_millis()),
        }
    }
}

/// What the webhook did with an event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookAck {
    /// `applied`, `duplicate` (this event id was applied before; nothing changed) or `ignored` (an event type photostream does not act on).
    status: &'static str,
}

/// Why a signature was refused (the client sees one code, `bad_signature`).
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

impl SignatureError {
    fn message(&self) -> &'static str {
        match self {
            SignatureError::Missing => "the Photostream-Signature header is missing",
            SignatureError::Malformed => {
                "the Photostream-Signature header is not t=<unix seconds>,v1=<hex>"
            }
            SignatureError::Stale => {
                "the signature's timestamp is more than five minutes from the server's clock"
            }
            SignatureError::Mismatch => "the signature does not match the body",
        }
    }
}

/// Checks `header` (`t=…,v1=…`, several `v1` allowed while a secret is
/// rotated) against the raw `body`: the timestamp within
/// [`TIMESTAMP_TOLERANCE_SECS`] of `now_secs`, and some `v1` the
/// HMAC-SHA256 of `"{t}.{body}"` under `secret`, compared in constant time.
pub fn verify_signature(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" if timestamp.is_none() => {
                timestamp = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            "t" => return Err(SignatureError::Malformed),
            "v1" => signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            // Other schemes (a provider's newer ones) are not ours to judge.
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() || signatures.len() > 8 {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - t).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // Every candidate is compared (each in constant time), so the time taken
    // says nothing about which one came close.
    let matched = signatures.iter().fold(false, |found, sig| {
        mac.clone().verify_slice(sig).is_ok() | found
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `POST /v1/billing/webhook`: a payment provider's signed subscription event.
#[utoipa::path(post, path = "/v1/billing/webhook", tag = "accounts",
    params(("Photostream-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" keyed with billing.webhook_secret>`")),
    request_body(content = BillingEvent, content_type = "application/json"),
    responses((status = 200, description = "Applied, a duplicate of an event already applied, or ignored", body = WebhookAck),
              (status = 400, description = "Bad or stale signature (`bad_signature`), or a malformed event", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such user (`unknown_user`), or no webhook secret configured (`webhook_disabled`)", body = crate::openapi::ErrorBody),
              (status = 413, description = "Larger than 16 KiB", body = crate::openapi::ErrorBody)),
    security(()))]
pub async fn webhook(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookAck>, ApiError> {
    let Some(secret) = st.config.billing_webhook_secret.as_deref() else {
        return Err(ApiError::webhook_disabled());
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "a billing event is at most {WEBHOOK_BODY_LIMIT} bytes"
            ))
        } else {
            ApiError::bad_request(ErrorCode::InvalidBody, "the request body could not be read")
        }
    })?;
    let header = headers
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or(""));
    let now = photostream_types::now_ms() / 1000;
    if let Err(e) = verify_signature(secret.as_bytes(), header, &body, now) {
        metric::BILLING_EVENTS_TOTAL.with(["bad_signature"])
            .increment(1);
        tracing::warn!(reason = ?e, "billing webhook refused");
        return Err(ApiError::bad_signature(e.message()));
    }
    // Only a body the provider signed is read.
    let event: BillingEvent = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidEvent,
            format!("the event is not {{id, type, username, until?}}: {e}"),
        )
    })?;
    if event.id.is_empty() || event.id.len() > 200 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidEvent,
            "id must be 1-200 characters",
        ));
    }
    let until_ms = match &event.until {
        None => None,
        Some(u) => Some(u.to_ms().ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidEvent, "until must be RFC 3339 or Unix seconds")
        })?),
    };
    let now_ms = photostream_types::now_ms();
    let change = match event.kind.as_str() {
        "subscription.activated" => PremiumChange::Grant { until_ms },
        // A cancellation that takes effect at the end of a paid period
        // keeps premium until then.
        "subscription.canceled" => match until_ms {
            Some(until) if until > now_ms => PremiumChange::Grant {
                until_ms: Some(until),
            },
            _ => PremiumChange::Revoke,
        },
        other => {
            tracing::info!(event = %event.id, kind = %other.chars().take(64).collect::<String>(), "billing event type ignored");
            metric::BILLING_EVENTS_TOTAL.with(["ignored"])
                .increment(1);
            return Ok(Json(WebhookAck { status: "ignored" }));
        }
    };
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownUser,
            "no user by that username",
        )
    };
    let username = Username::parse(&event.username).map_err(|_| unknown())?;
    let outcome = st
        .catalog
        .apply_billing_event(&event.id, &event.kind, &username, change)
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => unknown(),
            other => other.into(),
        })?;
    let status = match outcome {
        BillingOutcome::Applied(user) => {
            tracing::info!(event = %event.id, user = %user.username, kind = %event.kind, "billing event applied");
            "applied"
        }
        BillingOutcome::AlreadyApplied => "duplicate",
    };
    metric::BILLING_EVENTS_TOTAL.with([status]).increment(1);
    Ok(Json(WebhookAck { status }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signatures() {
        let (secret, body, now) = (
            b"whsec_test".as_slice(),
            br#"{"id":"e1"}"#.as_slice(),
            1_700_000_000,
        );
        let good = format!("t={now},v1={}", sign(secret, now, body));
        assert_eq!(verify_signature(secret, Some(&good), body, now), Ok(()));
        assert_eq!(
            verify_signature(secret, Some(&good), body, now + 300),
            Ok(())
        );
        assert_eq!(
            verify_signature(secret, Some(&good), body, now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(secret, Some(&good), body, now - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(secret, Some(&good), br#"{"id":"e2"}"#, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", Some(&good), body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(secret, None, body, now),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "t=x,v1=00",
            "v1=00",
            &format!("t={now}"),
            &format!("t={now},v1=zz"),
            &format!("t={now},t={now},v1=00"),
        ] {
            assert_eq!(
                verify_signature(secret, Some(bad), body, now),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // A rotated secret: either signature passes.
        let rotated = format!(
            "t={now},v1={},v1={}",
            sign(b"old", now, body),
            sign(secret, now, body)
        );
        assert_eq!(verify_signature(secret, Some(&rotated), body, now), Ok(()));
        // The timestamp is signed: moving it breaks the signature.
        let moved = format!("t={},v1={}", now + 1, sign(secret, now, body));
        assert_eq!(
            verify_signature(secret, Some(&moved), body, now),
            Err(SignatureError::Mismatch)
        );
    }
}
