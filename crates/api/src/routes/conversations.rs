//! Direct-message conversations: list (also at `/api/v1/conversations/`, which
//! Mastodon.py requests, through the server's path-normalising layer), mark read, remove.

use crate::entities::Conversation;
use crate::error::ApiResult;
use crate::extract::{Auth, Params, path_id};
use crate::pagination::{PageParams, link_header};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use starling_service::Starling;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{id}", delete(remove))
        .route("/api/v1/conversations/{id}/read", post(read))
}

/// `GET /api/v1/conversations`: most recently active first; `max_id`/`min_id` in the
/// `Link` header are last-message ids, as in Mastodon, not conversation ids.
async fn list(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Conversation>>)> {
    p.require("read:statuses")?;
    let paged = app.conversations(p.account()?, q.page()?).await?;
    let headers = link_header(&app.settings().base_url(), &uri, &paged);
    Ok((
        headers,
        Json(
            paged
                .items
                .iter()
                .map(|c| Conversation::from_view(c, app.settings()))
                .collect(),
        ),
    ))
}

/// `POST /api/v1/conversations/:id/read`: the conversation, now read.
async fn read(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    p.require("write:conversations")?;
    let c = app
        .mark_conversation_read(p.account()?, path_id(&id)?)
        .await?;
    Ok(Json(Conversation::from_view(&c, app.settings())))
}

/// `DELETE /api/v1/conversations/:id`: removes it from the caller's list only → `{}`.
async fn remove(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require("write:conversations")?;
    app.delete_conversation(p.account()?, path_id(&id)?).await?;
    Ok(Json(json!({})))
}
