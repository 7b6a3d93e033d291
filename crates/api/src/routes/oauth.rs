//! OAuth2 as Mastodon clients use it: the token endpoint (authorization_code with
//! optional PKCE, password, client_credentials, refresh_token) and revocation. The
//! authorization endpoint, `/oauth/authorize`, is a page of the web UI (the sign-in and
//! consent page, `starling_web`), which owns HTML, sessions and anti-forgery tokens.

use crate::entities::Token;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use starling_service::Starling;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    username: Option<String>,
    password: Option<String>,
    scope: Option<String>,
    refresh_token: Option<String>,
}

/// Client credentials from HTTP Basic authentication, which RFC 6749 prefers.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn required<'a>(v: &'a Option<String>, name: &str) -> ApiResult<&'a str> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))
}

/// `POST /oauth/token`.
async fn token(
    State(app): State<Starling>,
    headers: HeaderMap,
    Body(mut r): Body<TokenRequest>,
) -> ApiResult<Json<Token>> {
    if let Some((id, secret)) = basic_credentials(&headers) {
        r.client_id.get_or_insert(id);
        r.client_secret.get_or_insert(secret);
    }
    let client_id = required(&r.client_id, "client_id")?;
    let issued = match required(&r.grant_type, "grant_type")? {
        "password" => {
            app.password_grant(
                client_id,
                required(&r.client_secret, "client_secret")?,
                required(&r.username, "username")?,
                required(&r.password, "password")?,
                r.scope.as_deref(),
            )
            .await?
        }
        "client_credentials" => {
            app.client_credentials_grant(
                client_id,
                required(&r.client_secret, "client_secret")?,
                r.scope.as_deref(),
            )
            .await?
        }
        "authorization_code" => {
            app.authorization_code_grant(
                client_id,
                r.client_secret.as_deref(),
                required(&r.code, "code")?,
                r.redirect_uri.as_deref(),
                r.code_verifier.as_deref(),
            )
            .await?
        }
        "refresh_token" => {
            app.refresh_grant(
                client_id,
                required(&r.client_secret, "client_secret")?,
                required(&r.refresh_token, "refresh_token")?,
            )
            .await?
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unsupported_grant_type: {other:?}; use authorization_code, password, client_credentials or refresh_token"
            )));
        }
    };
    Ok(Json(issued.into()))
}

#[derive(Debug, Default, Deserialize)]
struct RevokeRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    token: Option<String>,
}

/// `POST /oauth/revoke`: always `{}` for a known client, as RFC 7009 asks.
async fn revoke(
    State(app): State<Starling>,
    headers: HeaderMap,
    Body(mut r): Body<RevokeRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    if let Some((id, secret)) = basic_credentials(&headers) {
        r.client_id.get_or_insert(id);
        r.client_secret.get_or_insert(secret);
    }
    app.revoke(
        required(&r.client_id, "client_id")?,
        required(&r.client_secret, "client_secret")?,
        required(&r.token, "token")?,
    )
    .await?;
    Ok(Json(json!({})))
}
