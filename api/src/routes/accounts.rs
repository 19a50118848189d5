//! Registration and login.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use photostream_catalog::CatalogError;
use photostream_types::Username;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{hash_password, token_hash, verify_password, Caller, Scope, API_TOKEN_PREFIX};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientAddr};
use crate::views::rfc3339;
use crate::AppState;

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

pub async fn register(
    State(st): State<Arc<AppState>>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let username = Username::parse(&body.username)?;
    let n = body.password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters"),
        ));
    }
    let hash = hash_password(body.password).await?;
    let user = st.catalog.create_user(&username, &hash).await.map_err(|e| match e {
        CatalogError::Conflict(_) => ApiError::conflict("username_taken", "that username is taken"),
        other => other.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": user.id, "username": user.username})),
    ))
}

pub async fn login(
    State(st): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let wrong = || ApiError::unauthorized("wrong username or password");
    st.login_limiter
        .check(&body.username.chars().take(64).collect::<String>(), addr)
        .map_err(|wait| ApiError::too_many("too many login attempts; wait and retry", wait))?;
    let user = match Username::parse(&body.username) {
        Ok(u) => st.catalog.user_by_username(&u).await?,
        Err(_) => None,
    };
    if body.password.len() > 4 * MAX_PASSWORD {
        return Err(wrong());
    }
    let ok = verify_password(body.password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let user = user.filter(|_| ok).ok_or_else(wrong)?;
    let (token, expires_ms) = st.auth.issue(&user.id, &user.username)?;
    Ok(Json(json!({"token": token, "expires_at": rfc3339(expires_ms)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scopes: Vec<String>,
}

/// `POST /v1/tokens`: a personal API token for programs. Only a session
/// (a logged-in person) may create one; the secret is shown once and only
/// its hash is stored.
pub async fn create_token(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = caller.require_user()?;
    if !user.session {
        return Err(ApiError::forbidden("API tokens are created from a login session"));
    }
    photostream_types::check_text("name", &body.name, 100)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_field", "name must not be empty"));
    }
    let mut scopes = Vec::new();
    for s in &body.scopes {
        let scope = Scope::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_scope", "scopes are read, download and write")
        })?;
        if !scopes.contains(&scope.as_str().to_string()) {
            scopes.push(scope.as_str().to_string());
        }
    }
    if scopes.is_empty() {
        return Err(ApiError::bad_request("invalid_scope", "give at least one scope"));
    }
    use base64::Engine;
    let secret: [u8; 32] = rand::random();
    let token = format!(
        "{API_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let stored = st
        .catalog
        .create_api_token(&photostream_catalog::NewApiToken {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            name: body.name.trim().to_string(),
            token_hash: token_hash(&token),
            scopes,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": stored.id, "token": token, "name": stored.name, "scopes": stored.scopes})),
    ))
}

/// `GET /v1/tokens`: the caller's tokens (never their secrets).
pub async fn list_tokens(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?;
    let tokens: Vec<Value> = st
        .catalog
        .api_tokens(&user.id)
        .await?
        .into_iter()
        .map(|t| {
            json!({"id": t.id, "name": t.name, "scopes": t.scopes,
                   "created_at": rfc3339(t.created_ms), "revoked": t.revoked_ms.is_some()})
        })
        .collect();
    Ok(Json(json!({"items": tokens, "next": null, "prev": null})))
}

/// `DELETE /v1/tokens/{id}`: revoked for every request that starts after
/// this returns (tokens are checked against the catalog on each request).
pub async fn revoke_token(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?;
    if st.catalog.revoke_api_token(&user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
