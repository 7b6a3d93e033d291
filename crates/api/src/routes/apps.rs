//! Client application registration.

use crate::entities::Application;
use crate::error::ApiResult;
use crate::extract::{Auth, Body};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use starling_service::Starling;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/apps", post(create))
        .route("/api/v1/apps/verify_credentials", get(verify))
}

#[derive(Debug, Deserialize)]
struct NewApp {
    client_name: String,
    redirect_uris: Option<RedirectUris>,
    scopes: Option<String>,
    website: Option<String>,
}

/// Clients send one URI, several separated by newlines, or (newer clients) a JSON array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RedirectUris {
    One(String),
    Many(Vec<String>),
}

/// `POST /api/v1/apps`: registers an application, returning its credentials.
async fn create(
    State(app): State<Starling>,
    Body(req): Body<NewApp>,
) -> ApiResult<Json<Application>> {
    let uris = req.redirect_uris.map(|r| match r {
        RedirectUris::One(s) => s,
        RedirectUris::Many(v) => v.join("\n"),
    });
    let record = app
        .register_app(
            &req.client_name,
            uris.as_deref(),
            req.scopes.as_deref(),
            req.website.as_deref(),
        )
        .await?;
    Ok(Json(Application::from_record(
        &record,
        true,
        app.vapid_public_key(),
    )))
}

/// `GET /api/v1/apps/verify_credentials`: the application of the token.
async fn verify(State(app): State<Starling>, Auth(p): Auth) -> ApiResult<Json<Application>> {
    let id = p.app_id.ok_or_else(crate::error::ApiError::not_found)?;
    Ok(Json(Application::from_record(
        &app.app(id).await?,
        false,
        app.vapid_public_key(),
    )))
}
