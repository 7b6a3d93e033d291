//! The Mastodon client API (REST + OAuth2), Starling's public API.
//!
//! Handlers are thin: authenticate, parse, call one service function, convert to the
//! Mastodon JSON shapes defined in [`entities`], respond.

pub mod entities;
pub mod error;
pub mod extract;
mod json;
pub mod pagination;
mod routes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use starling_service::Starling;

/// All API routes, with `app` as shared state.
pub fn router(app: Starling) -> Router {
    let limit = app.settings().max_body_bytes;
    routes::routes()
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}
