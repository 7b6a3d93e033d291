//! Route table of the API, one module per area.

mod accounts;
mod apps;
mod conversations;
mod email;
mod groups;
mod instance;
mod lists;
mod media;
mod notifications;
mod oauth;
mod push;
mod search;
mod statuses;
mod streaming;
mod tags;
mod timelines;

use crate::error::ApiError;
use axum::Router;
use axum::http::StatusCode;
use starling_service::Starling;

/// Every route of the API.
pub(crate) fn routes() -> Router<Starling> {
    Router::new()
        .merge(accounts::routes())
        .merge(apps::routes())
        .merge(conversations::routes())
        .merge(email::routes())
        .merge(groups::routes())
        .merge(instance::routes())
        .merge(lists::routes())
        .merge(media::routes())
        .merge(notifications::routes())
        .merge(oauth::routes())
        .merge(push::routes())
        .merge(search::routes())
        .merge(statuses::routes())
        .merge(streaming::routes())
        .merge(tags::routes())
        .merge(timelines::routes())
}

/// Any path the API does not serve.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not found")
}
