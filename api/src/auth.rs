//! Who is calling: the [`Caller`] extractor every handler uses, the
//! [`Scope`] a request needs, and whether a credential is still good.
//! Password hashes, session JWTs and API token hashes are
//! `crate::credentials`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::Method;
use axum::http::request::Parts;
use photostream_types::{now_ms, SessionId, UserId, Username};

use photostream_types::acl::Viewer;
pub use crate::credentials::{hash_password, token_hash, verify_password, AuthKeys, Claims, API_TOKEN_PREFIX};
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::AppState;

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
}
