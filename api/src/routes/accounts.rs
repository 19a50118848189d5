//! Registration and login.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use photostream_catalog::CatalogError;
use photostream_types::Username;
use serde::{Deserialize, Serialize};

use crate::pagination::Page;

use crate::auth::{hash_password, token_hash, verify_password, Caller, Scope, API_TOKEN_PREFIX};
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::{ApiJson, ClientAddr};
use crate::views::rfc3339;
use crate::AppState;

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 3–32 characters of a-z, 0-9, `_` and `-`, starting with a letter or digit (case-insensitive).
    username: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

/// A new account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserCreated {
    id: String,
    username: String,
}

/// A session token (JWT) and when it expires.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    token: String,
    expires_at: String,
}

/// A personal API token; `token` is shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenCreated {
    id: String,
    token: String,
    name: String,
    scopes: Vec<String>,
}

/// A personal API token as listed (never its secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    id: String,
    name: String,
    scopes: Vec<String>,
    created_at: String,
    revoked: bool,
}

/// `POST /v1/users`: register.
#[utoipa::path(post, path = "/v1/users", tag = "accounts", request_body = Credentials,
    responses((status = 201, description = "Registered", body = UserCreated),
              (status = 409, description = "The username is taken", body = crate::openapi::ErrorBody),
              (status = 429, description = "Too many sign-ups from this address (`limits.signups_per_address` per hour)", body = crate::openapi::ErrorBody)))]
pub async fn register(
    State(st): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<UserCreated>), ApiError> {
    let username = Username::parse(&body.username)?;
    check_password_length(&body.password)?;
    // Counted only for well-formed requests, so a typo does not use one up.
    st.signup_limiter
        .check(addr)
        .await?
        .map_err(|wait| ApiError::too_many("too many new accounts from this address; try again later", wait))?;
    let hash = hash_password(body.password).await?;
    let user = st.catalog.create_user(&username, &hash).await.map_err(|e| match e {
        CatalogError::Conflict(_) => ApiError::conflict(ErrorCode::UsernameTaken, "that username is taken"),
        other => other.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(UserCreated { id: user.id.to_string(), username: user.username.to_string() }),
    ))
}

/// `POST /v1/sessions`: log in.
#[utoipa::path(post, path = "/v1/sessions", tag = "accounts", request_body = Credentials,
    responses((status = 200, description = "Logged in", body = SessionView),
              (status = 401, description = "Wrong username or password", body = crate::openapi::ErrorBody),
              (status = 429, description = "Too many attempts", body = crate::openapi::ErrorBody)))]
pub async fn login(
    State(st): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<SessionView>, ApiError> {
    let wrong = || ApiError::unauthorized("wrong username or password");
    st.login_limiter
        .check(&body.username.chars().take(64).collect::<String>(), addr)
        .await?
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
    let expires_ms = st.auth.expiry_from_now();
    let sid = st.catalog.create_session(&user.id, expires_ms).await?;
    let token = st.auth.issue(&user.id, &user.username, &sid, expires_ms)?;
    Ok(Json(SessionView { token, expires_at: rfc3339(expires_ms) }))
}

/// `POST /v1/sessions/logout`: ends the calling session on every request
/// (and notification stream) that checks it after this returns.
#[utoipa::path(post, path = "/v1/sessions/logout", tag = "accounts",
    responses((status = 204, description = "Logged out"),
              (status = 401, description = "No live session", body = crate::openapi::ErrorBody),
              (status = 403, description = "Called with an API token (revoke it with DELETE /v1/tokens/{id})", body = crate::openapi::ErrorBody)))]
pub async fn logout(State(st): State<Arc<AppState>>, caller: Caller) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?;
    let sid = user.require_session("logging out")?;
    st.catalog.revoke_session(&user.id, sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change: the current password, and the new one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    #[schema(min_length = 8, max_length = 256)]
    new: String,
}

/// `PUT /v1/me/password`: changes the password from a login session. Every
/// other session of the user ends, and every notification stream opened
/// before (whatever opened it); the calling session stays. API tokens stay
/// valid: revoke them with `DELETE /v1/tokens/{id}`.
#[utoipa::path(put, path = "/v1/me/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204, description = "Changed"),
              (status = 400, description = "The new password is too short or too long", body = crate::openapi::ErrorBody),
              (status = 403, description = "The current password is wrong, or called with an API token", body = crate::openapi::ErrorBody)))]
pub async fn change_password(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?;
    let sid = user.require_session("changing the password")?;
    check_password_length(&body.new)?;
    let stored = st.catalog.user_by_id(&user.id).await?.map(|u| u.password_hash);
    if body.current.len() > 4 * MAX_PASSWORD || !verify_password(body.current, stored).await {
        return Err(ApiError::forbidden("the current password is wrong").with_code(ErrorCode::WrongPassword));
    }
    let hash = hash_password(body.new).await?;
    st.catalog.change_password(&user.id, &hash, Some(sid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_password_length(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::bad_request(ErrorCode::InvalidPassword, format!("password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scopes: Vec<String>,
}

/// `POST /v1/tokens`: a personal API token for programs. Only a session
/// (a logged-in person) may create one; the secret is shown once and only
/// its hash is stored.
#[utoipa::path(post, path = "/v1/tokens", tag = "accounts", request_body = NewToken,
    responses((status = 201, description = "Created; the secret is shown once", body = TokenCreated),
              (status = 403, description = "Only a login session may create tokens", body = crate::openapi::ErrorBody)))]
pub async fn create_token(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let user = caller.require_user()?;
    user.require_session("creating an API token")?;
    photostream_types::check_text("name", &body.name, 100)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request(ErrorCode::InvalidField, "name must not be empty"));
    }
    let mut scopes = Vec::new();
    for s in &body.scopes {
        let scope = Scope::parse(s).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidScope, "scopes are read, download and write")
        })?;
        if !scopes.contains(&scope.as_str().to_string()) {
            scopes.push(scope.as_str().to_string());
        }
    }
    if scopes.is_empty() {
        return Err(ApiError::bad_request(ErrorCode::InvalidScope, "give at least one scope"));
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
        Json(TokenCreated { id: stored.id, token, name: stored.name, scopes: stored.scopes }),
    ))
}

/// `GET /v1/tokens`: the caller's tokens (never their secrets). Token
/// management needs a login session: a token cannot list or revoke others.
#[utoipa::path(get, path = "/v1/tokens", tag = "accounts",
    responses((status = 200, description = "The caller's tokens", body = Page<TokenView>),
              (status = 403, description = "Called with an API token", body = crate::openapi::ErrorBody)))]
pub async fn list_tokens(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Page<TokenView>>, ApiError> {
    let user = caller.require_user()?;
    user.require_session("listing API tokens")?;
    let tokens: Vec<TokenView> = st
        .catalog
        .api_tokens(&user.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created_at: rfc3339(t.created_ms),
            revoked: t.revoked_ms.is_some(),
        })
        .collect();
    Ok(Json(Page { items: tokens, next: None, prev: None }))
}

/// `DELETE /v1/tokens/{id}`: revoked for every request that starts after
/// this returns (tokens are checked against the catalog on each request).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"),
              (status = 403, description = "Called with an API token", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such token of the caller's", body = crate::openapi::ErrorBody)))]
pub async fn revoke_token(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?;
    user.require_session("revoking API tokens")?;
    if st.catalog.revoke_api_token(&user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// The calling account: premium standing and preferences.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeView {
    username: String,
    /// Whether the account is premium now (originals of every photo it may see).
    premium: bool,
    /// When premium ends (RFC 3339); null when it has no end or the account is not premium.
    premium_until: Option<String>,
    /// Whether new uploads are watermarked unless the upload says otherwise.
    watermark_default: bool,
}

impl MeView {
    fn of(user: &photostream_catalog::User) -> Self {
        let premium = user.is_premium_at(photostream_types::now_ms());
        Self {
            username: user.username.to_string(),
            premium,
            premium_until: user.premium_until_ms.filter(|_| premium).map(rfc3339),
            watermark_default: user.watermark_default,
        }
    }
}

/// Account preferences the user may change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeEdit {
    watermark_default: Option<bool>,
}

/// `GET /v1/me`: the calling account, with its premium standing.
#[utoipa::path(get, path = "/v1/me", tag = "accounts",
    responses((status = 200, description = "The calling account", body = MeView),
              (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody)))]
pub async fn me(State(st): State<Arc<AppState>>, caller: Caller) -> Result<Json<MeView>, ApiError> {
    let user = caller.require_user()?;
    let user = st.catalog.user_by_id(&user.id).await?.ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    Ok(Json(MeView::of(&user)))
}

/// `PATCH /v1/me`: change account preferences (`watermark_default`).
#[utoipa::path(patch, path = "/v1/me", tag = "accounts", request_body = MeEdit,
    responses((status = 200, description = "The account as changed", body = MeView),
              (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody)))]
pub async fn patch_me(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(edit): ApiJson<MeEdit>,
) -> Result<Json<MeView>, ApiError> {
    let user = caller.require_user()?;
    let user = match edit.watermark_default {
        Some(on) => st.catalog.set_watermark_default(&user.id, on).await?,
        None => st.catalog.user_by_id(&user.id).await?.ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?,
    };
    Ok(Json(MeView::of(&user)))
}
