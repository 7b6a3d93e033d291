//! Starling's web UI: server-rendered HTML pages for the browser, beside the Mastodon API.
//!
//! Like the API, it never touches the store: handlers read the session cookie, parse the
//! form or query, call the same `starling_service` use cases the API calls, and render an
//! askama template (compiled into the binary). Plain JavaScript (`assets/app.js`) adds the
//! character counter, live updates over Server-Sent Events and keyboard shortcuts; every
//! page and form works without it. See `docs/decisions/0010-web-ui.md`.

pub mod assets;
pub mod error;
pub mod forms;
mod routes;
pub mod session;
pub mod view;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use starling_service::Starling;

/// Every page of the web UI, with `app` as shared state. It has no fallback, so that
/// merged with the API router, unknown paths keep the API's answer.
pub fn router(app: Starling) -> Router {
    let limit = app.settings().max_body_bytes;
    routes::routes()
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(routes::security_headers))
        .with_state(app)
}
