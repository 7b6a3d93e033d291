//! Posts: publish, read, edit, delete, threads, and favourites/reblogs/bookmarks/pins.

use crate::entities::{Account, Status, iso_time};
use crate::error::ApiResult;
use crate::extract::{Auth, Body, MaybeAuth, Params, flex_bool, flex_id, path_id};
use crate::pagination::{PageParams, StatusList, accounts_page, statuses_page};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use starling_service::Starling;
use starling_service::statuses::{NewPost, PostEdit};
use starling_service::views::StatusView;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/statuses", post(create))
        .route("/api/v1/statuses/{id}", get(show).delete(delete).put(edit))
        .route("/api/v1/statuses/{id}/context", get(context))
        .route("/api/v1/statuses/{id}/history", get(history))
        .route("/api/v1/statuses/{id}/source", get(source))
        .route("/api/v1/statuses/{id}/favourited_by", get(favourited_by))
        .route("/api/v1/statuses/{id}/reblogged_by", get(reblogged_by))
        .route("/api/v1/statuses/{id}/favourite", post(favourite))
        .route("/api/v1/statuses/{id}/unfavourite", post(unfavourite))
        .route("/api/v1/statuses/{id}/reblog", post(reblog))
        .route("/api/v1/statuses/{id}/unreblog", post(unreblog))
        .route("/api/v1/statuses/{id}/bookmark", post(bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", post(unbookmark))
        .route("/api/v1/statuses/{id}/pin", post(pin))
        .route("/api/v1/statuses/{id}/unpin", post(unpin))
        .route("/api/v1/favourites", get(favourites))
        .route("/api/v1/bookmarks", get(bookmarks))
}

#[derive(Debug, Deserialize)]
struct CreateStatus {
    status: Option<String>,
    visibility: Option<String>,
    #[serde(default, deserialize_with = "flex_id")]
    in_reply_to_id: Option<i64>,
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    sensitive: Option<bool>,
    language: Option<String>,
    /// Starling: post in this group.
    #[serde(default, deserialize_with = "flex_id")]
    group_id: Option<i64>,
}

fn one(app: &Starling, v: &StatusView) -> Json<Status> {
    Json(Status::from_view(v, app.settings()))
}

/// `POST /api/v1/statuses` (`Idempotency-Key` honoured).
async fn create(
    State(app): State<Starling>,
    Auth(p): Auth,
    headers: HeaderMap,
    Body(r): Body<CreateStatus>,
) -> ApiResult<Json<Status>> {
    p.require("write:statuses")?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|k| !k.is_empty());
    let view = app
        .post(
            &p,
            NewPost {
                text: r.status.unwrap_or_default(),
                visibility: r.visibility,
                in_reply_to_id: r.in_reply_to_id,
                spoiler_text: r.spoiler_text,
                sensitive: r.sensitive,
                language: r.language,
                idempotency_key: key,
                group_id: r.group_id,
            },
        )
        .await?;
    Ok(one(&app, &view))
}

fn viewer(
    p: &Option<starling_service::auth::Principal>,
) -> ApiResult<Option<&starling_service::AccountRecord>> {
    if let Some(p) = p {
        p.require("read:statuses")?;
    }
    Ok(p.as_ref().and_then(|p| p.account.as_deref()))
}

/// `GET /api/v1/statuses/:id`.
async fn show(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    let view = app.status(viewer(&p)?, path_id(&id)?).await?;
    Ok(one(&app, &view))
}

/// `DELETE /api/v1/statuses/:id`: returns the deleted post with its `text`, for redrafting.
async fn delete(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:statuses")?;
    let view = app.delete_status(p.account()?, path_id(&id)?).await?;
    Ok(one(&app, &view))
}

#[derive(Debug, Deserialize)]
struct EditStatus {
    status: Option<String>,
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    sensitive: Option<bool>,
    language: Option<String>,
}

/// `PUT /api/v1/statuses/:id`.
async fn edit(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(r): Body<EditStatus>,
) -> ApiResult<Json<Status>> {
    p.require("write:statuses")?;
    let view = app
        .edit_status(
            p.account()?,
            path_id(&id)?,
            PostEdit {
                text: r.status.unwrap_or_default(),
                spoiler_text: r.spoiler_text,
                sensitive: r.sensitive,
                language: r.language,
            },
        )
        .await?;
    Ok(one(&app, &view))
}

/// `GET /api/v1/statuses/:id/context`.
async fn context(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (ancestors, descendants) = app.context(viewer(&p)?, path_id(&id)?).await?;
    Ok(Json(json!({
        "ancestors": Status::many(&ancestors, app.settings()),
        "descendants": Status::many(&descendants, app.settings()),
    })))
}

/// `GET /api/v1/statuses/:id/history`: every version, oldest first.
async fn history(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    let (view, edits) = app.status_history(viewer(&p)?, path_id(&id)?).await?;
    let account = Account::from_record(&view.account, app.settings());
    Ok(Json(
        edits
            .iter()
            .map(|e| {
                json!({
                    "content": e.content,
                    "spoiler_text": e.spoiler_text,
                    "sensitive": e.sensitive,
                    "created_at": iso_time(e.created_at),
                    "account": account,
                    "poll": null,
                    "media_attachments": [],
                    "emojis": [],
                })
            })
            .collect(),
    ))
}

/// `GET /api/v1/statuses/:id/source`.
async fn source(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require("read:statuses")?;
    let s = app.status_source(p.account()?, path_id(&id)?).await?;
    Ok(Json(
        json!({ "id": s.id.to_string(), "text": s.text, "spoiler_text": s.spoiler_text }),
    ))
}

async fn who(
    app: &Starling,
    p: &Option<starling_service::auth::Principal>,
    id: &str,
    reblogs: bool,
    uri: &axum::http::Uri,
    q: &PageParams,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    let paged = app
        .who_marked(viewer(p)?, path_id(id)?, reblogs, q.page()?)
        .await?;
    Ok(accounts_page(app, uri, &paged))
}

/// `GET /api/v1/statuses/:id/favourited_by`.
async fn favourited_by(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    who(&app, &p, &id, false, &uri, &q).await
}

/// `GET /api/v1/statuses/:id/reblogged_by`.
async fn reblogged_by(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    who(&app, &p, &id, true, &uri, &q).await
}

/// `POST /api/v1/statuses/:id/favourite`.
async fn favourite(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:favourites")?;
    Ok(one(
        &app,
        &app.favourite(p.account()?, path_id(&id)?).await?,
    ))
}

/// `POST /api/v1/statuses/:id/unfavourite`.
async fn unfavourite(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:favourites")?;
    Ok(one(
        &app,
        &app.unfavourite(p.account()?, path_id(&id)?).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct ReblogOptions {
    visibility: Option<String>,
}

/// `POST /api/v1/statuses/:id/reblog`: returns the wrapper status.
async fn reblog(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(o): Body<ReblogOptions>,
) -> ApiResult<Json<Status>> {
    p.require("write:statuses")?;
    Ok(one(
        &app,
        &app.reblog(p.account()?, path_id(&id)?, o.visibility.as_deref())
            .await?,
    ))
}

/// `POST /api/v1/statuses/:id/unreblog`: returns the original.
async fn unreblog(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:statuses")?;
    Ok(one(&app, &app.unreblog(p.account()?, path_id(&id)?).await?))
}

/// `POST /api/v1/statuses/:id/bookmark`.
async fn bookmark(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:bookmarks")?;
    Ok(one(&app, &app.bookmark(p.account()?, path_id(&id)?).await?))
}

/// `POST /api/v1/statuses/:id/unbookmark`.
async fn unbookmark(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:bookmarks")?;
    Ok(one(
        &app,
        &app.unbookmark(p.account()?, path_id(&id)?).await?,
    ))
}

/// `POST /api/v1/statuses/:id/pin`.
async fn pin(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:accounts")?;
    Ok(one(&app, &app.pin(p.account()?, path_id(&id)?).await?))
}

/// `POST /api/v1/statuses/:id/unpin`.
async fn unpin(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    p.require("write:accounts")?;
    Ok(one(&app, &app.unpin(p.account()?, path_id(&id)?).await?))
}

async fn marked(
    app: &Starling,
    p: &starling_service::auth::Principal,
    bookmarks: bool,
    uri: &axum::http::Uri,
    q: &PageParams,
) -> ApiResult<(HeaderMap, StatusList)> {
    let paged = app.marked(p.account()?, bookmarks, q.page()?).await?;
    Ok(statuses_page(app, uri, paged))
}

/// `GET /api/v1/favourites`.
async fn favourites(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    p.require("read:favourites")?;
    marked(&app, &p, false, &uri, &q).await
}

/// `GET /api/v1/bookmarks`.
async fn bookmarks(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    p.require("read:bookmarks")?;
    marked(&app, &p, true, &uri, &q).await
}
