//! Registration and login.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use photostream_catalog::CatalogError;
use photostream_types::Username;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{hash_password, verify_password};
use crate::error::ApiError;
use crate::extract::ApiJson;
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
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let wrong = || ApiError::unauthorized("wrong username or password");
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
