//! Credentials: argon2 password hashes, session JWTs and API token hashes.
//!
//! JWTs are HS256 only (the algorithm is pinned, so `alg: none` and
//! algorithm-confusion tokens fail), with issuer, audience and expiry
//! checked and a small clock-skew allowance.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use photostream_types::{now_ms, SessionId, UserId, Username};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

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

/// The prefix of personal API tokens, so they are recognisable in logs and
/// secret scanners, and distinguishable from JWTs.
pub const API_TOKEN_PREFIX: &str = "pst_";

/// Hex SHA-256 of an API token: what the catalog stores.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
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

    #[tokio::test]
    async fn passwords() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(verify_password("correct horse".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
    }
}
