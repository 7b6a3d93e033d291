//! Built-in images: the default avatar and header every account shows until uploads exist.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use starling_service::Starling;

/// A neutral silhouette, compiled into the binary.
const MISSING: &[u8] = include_bytes!("../../assets/missing.png");

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/avatars/original/missing.png", get(missing))
        .route("/headers/original/missing.png", get(missing))
}

/// `GET /avatars/original/missing.png` (and the header twin): the default image.
async fn missing() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "image/png"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        MISSING,
    )
}
