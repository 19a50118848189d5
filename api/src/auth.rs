//! Credentials: argon2 password hashes, session JWTs, and the [`Caller`]
//! extractor every handler uses.
//!
//! JWTs are HS256 only (the algorithm is pinned, so `alg: none` and
//! algorithm-confusion tokens fail), with issuer, audience and expiry
//! checked and a small clock-skew allowance.

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::Method;
use axum::http::request::Parts;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use photostream_types::{now_ms, SessionId, UserId, Username};
use serde::{Deserialize, Serialize};

use crate::access::Viewer;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::AppState;

/// Allowed clock difference between token issuer and verifier: small, so
/// an expired session really ends (sessions can also be revoked).
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The session's row in the catalog: a session that is logged out or
    /// ended by a password change fails even before `exp`.
    #[serde(default)]
    pub sid: Option<String>,
}

#[derive(Clone)]
pub struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub issuer: String,
    pub audience: String,
    pub session_ttl_secs: i64,
}

impl AuthKeys {
    /// `secret` must be at least 32 bytes of key material.
    pub fn new(secret: &[u8], issuer: &str, audience: &str, session_ttl_secs: i64) -> Self {
        assert!(secret.len() >= 32, "JWT secret must be at least 32 bytes");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            session_ttl_secs,
        }
    }

    /// When a session issued now expires (ms since epoch).
    pub fn expiry_from_now(&self) -> i64 {
        (now_ms() / 1000 + self.session_ttl_secs) * 1000
    }

    /// Issues the token of session `sid`, expiring at `expires_ms` (whole
    /// seconds, from [`Self::expiry_from_now`]).
    pub fn issue(&self, user: &UserId, username: &Username, sid: &SessionId, expires_ms: i64) -> Result<String, ApiError> {
        let now = now_ms() / 1000;
        let claims = Claims {
            sub: user.to_string(),
            name: username.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: expires_ms / 1000,
            sid: Some(sid.to_string()),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| ApiError::unavailable("jwt encode", e))
    }

    /// Verifies a session token.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|_| ApiError::unauthorized("the token is invalid or expired"))
    }
}

/// Hashes a password with argon2id and a random salt (on a blocking thread).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| ApiError::unavailable("hash task", e))?
    .map_err(|e| ApiError::unavailable("argon2", e))
}

/// Verifies a password against a stored hash. With `None` it still spends
/// the same time, so response timing does not reveal which usernames exist.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let fallback;
        let hash = match &stored {
            Some(h) => h.as_str(),
            None => {
                fallback = dummy_hash();
                fallback.as_str()
            }
        };
        let ok = PasswordHash::new(hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && stored.is_some()
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(b"not-a-real-password", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// What a credential may do. Session tokens may do everything; personal
/// API tokens carry the scopes they were created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read metadata, listings, thumbnails.
    Read,
    /// Download originals.
    Download,
    /// Anything that changes state.
    Write,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Download, Scope::Write];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Download => "download",
            Scope::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The scope a request needs, decided from its method and path alone so
    /// that no route can forget to ask.
    pub fn required_for(method: &Method, path: &str) -> Scope {
        let is_original = path.ends_with("/original")
            || path
                .strip_prefix("/media/")
                .and_then(photostream_types::ObjectKey::parse)
                .is_some_and(|k| k.resolution() == photostream_types::Resolution::Original);
        match *method {
            Method::GET | Method::HEAD if is_original => Scope::Download,
            Method::GET | Method::HEAD => Scope::Read,
            _ => Scope::Write,
        }
    }
}

/// An authenticated user.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub username: Username,
    pub moderator: bool,
    /// Premium when the request arrived (a grant in force, not expired).
    pub premium: bool,
    /// Whether the user's uploads are watermarked unless they say otherwise.
    pub watermark_default: bool,
    /// What the caller authenticated with.
    pub credential: Credential,
}

/// The credential of a request: a login session or a personal API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Session { id: SessionId, expires_ms: i64 },
    /// The SHA-256 of the token (what the catalog stores).
    Token { hash: String },
}

impl AuthUser {
    /// The login session, or 403 for API tokens: managing credentials
    /// (tokens, the password, logging out) needs a person who logged in.
    pub fn require_session(&self, what: &str) -> Result<&SessionId, ApiError> {
        match &self.credential {
            Credential::Session { id, .. } => Ok(id),
            Credential::Token { .. } => Err(ApiError::forbidden(format!("{what} needs a login session, not an API token"))
                .with_code(ErrorCode::SessionRequired)),
        }
    }

    /// Whether the credential this request was authenticated with is still
    /// good `opened_ms` after it was opened: not revoked or logged out, not
    /// expired, and the password not changed since. Long-lived responses
    /// (the notification stream) ask this every few seconds and end on no.
    pub async fn still_valid(&self, st: &AppState, opened_ms: i64) -> Result<bool, ApiError> {
        let user = match &self.credential {
            Credential::Session { id, expires_ms } => {
                if now_ms() >= *expires_ms {
                    return Ok(false);
                }
                st.catalog.live_session_user(id, &self.id).await?
            }
            Credential::Token { hash } => {
                if st.catalog.api_token_by_hash(hash).await?.is_none() {
                    return Ok(false);
                }
                st.catalog.user_by_id(&self.id).await?
            }
        };
        Ok(user.is_some_and(|u| u.password_changed_ms < opened_ms))
    }
}

/// The prefix of personal API tokens, so they are recognisable in logs and
/// secret scanners, and distinguishable from JWTs.
pub const API_TOKEN_PREFIX: &str = "pst_";

/// Hex SHA-256 of an API token: what the catalog stores.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whoever is calling: anonymous (no `Authorization` header) or a user.
/// A header that is present but invalid is a 401, never anonymous.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    User(AuthUser),
}

impl Caller {
    pub fn viewer(&self) -> Viewer {
        match self {
            Caller::Anonymous => Viewer::Anonymous,
            Caller::User(u) => Viewer::User {
                id: u.id.clone(),
                moderator: u.moderator,
            },
        }
    }

    /// The caller's user id, when signed in.
    pub fn user_id(&self) -> Option<&UserId> {
        self.user().map(|u| &u.id)
    }

    pub fn user(&self) -> Option<&AuthUser> {
        match self {
            Caller::Anonymous => None,
            Caller::User(u) => Some(u),
        }
    }

    /// The user, or 401 for anonymous callers.
    pub fn require_user(&self) -> Result<&AuthUser, ApiError> {
        self.user()
            .ok_or_else(|| ApiError::unauthorized("this needs an Authorization: Bearer token"))
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("use Authorization: Bearer <token>"))?;
        let (user, credential) = if token.starts_with(API_TOKEN_PREFIX) {
            let hash = token_hash(token);
            let stored = state
                .catalog
                .api_token_by_hash(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the token is invalid or revoked"))?;
            let needed = Scope::required_for(&parts.method, parts.uri.path());
            if !stored.scopes.iter().any(|s| s == needed.as_str()) {
                return Err(ApiError::forbidden(format!(
                    "this token lacks the {} scope",
                    needed.as_str()
                ))
                .with_code(ErrorCode::InsufficientScope));
            }
            let user = state
                .catalog
                .user_by_id(&stored.user_id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the token's user no longer exists"))?;
            (user, Credential::Token { hash })
        } else {
            let invalid = || ApiError::unauthorized("the token is invalid or expired");
            let claims = state.auth.verify(token)?;
            let id: UserId = claims.sub.parse().map_err(|_| invalid())?;
            let sid: SessionId = claims.sid.as_deref().ok_or_else(invalid)?.parse().map_err(|_| invalid())?;
            let user = state
                .catalog
                .live_session_user(&sid, &id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the session has ended; log in again"))?;
            (user, Credential::Session { id: sid, expires_ms: claims.exp * 1000 })
        };
        let premium = user.is_premium_at(now_ms());
        Ok(Caller::User(AuthUser {
            id: user.id,
            username: user.username,
            moderator: user.role == "moderator",
            premium,
            watermark_default: user.watermark_default,
            credential,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> AuthKeys {
        AuthKeys::new(&[7u8; 32], "photostream", "photostream-api", 3600)
    }

    #[test]
    fn round_trip_and_forgeries() {
        let k = keys();
        let id = UserId::new();
        let sid = SessionId::new();
        let token = k.issue(&id, &Username::parse("alice").unwrap(), &sid, k.expiry_from_now()).unwrap();
        let claims = k.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (id.to_string(), Some(sid.to_string())));

        // Wrong key.
        let other = AuthKeys::new(&[8u8; 32], "photostream", "photostream-api", 3600);
        assert!(other.verify(&token).is_err());
        // Wrong audience.
        let aud = AuthKeys::new(&[7u8; 32], "photostream", "elsewhere", 3600);
        assert!(aud.verify(&token).is_err());
        // alg: none with the same claims.
        let payload = token.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(k.verify(&none).is_err());
        // Expired beyond the (5 s) leeway.
        let past = AuthKeys::new(&[7u8; 32], "photostream", "photostream-api", -10);
        let expired = past.issue(&id, &Username::parse("alice").unwrap(), &sid, past.expiry_from_now()).unwrap();
        assert!(k.verify(&expired).is_err());
        // Garbage.
        assert!(k.verify("not.a.token").is_err());
    }

    #[test]
    fn scopes_follow_method_and_path() {
        let get = Method::GET;
        assert_eq!(Scope::required_for(&get, "/v1/photos/x"), Scope::Read);
        assert_eq!(Scope::required_for(&get, "/v1/photos/x/original"), Scope::Download);
        assert_eq!(Scope::required_for(&get, "/media/a/b/original/c.jpg"), Scope::Download);
        assert_eq!(Scope::required_for(&get, "/media/a/b/thumbnail/c.jpg"), Scope::Read);
        assert_eq!(Scope::required_for(&Method::POST, "/v1/photos"), Scope::Write);
        assert_eq!(Scope::required_for(&Method::DELETE, "/v1/tokens/x"), Scope::Write);
    }

    #[tokio::test]
    async fn passwords() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(verify_password("correct horse".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
    }
}
