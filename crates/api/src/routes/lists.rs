//! Lists: `/api/v1/lists` (CRUD and members), the list timeline
//! `/api/v1/timelines/list/:id` and `/api/v1/accounts/:id/lists`.
//!
//! The List entity is defined here rather than in [`crate::entities`] because these
//! routes are its only users; it is still a Mastodon shape living in the API layer.

use crate::entities::Account;
use crate::error::ApiResult;
use crate::extract::{AccountIds, Auth, Body, Params, flex_bool, path_id};
use crate::pagination::{PageParams, StatusList, link_header, statuses_page};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use starling_service::Starling;
use starling_service::lists::{ListChanges, ListRecord, NewList};
use starling_service::timelines::Timeline;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/lists", get(index).post(create))
        .route("/api/v1/lists/{id}", get(show).put(update).delete(destroy))
        .route(
            "/api/v1/lists/{id}/accounts",
            get(members).post(add_members).delete(remove_members),
        )
        .route("/api/v1/timelines/list/{id}", get(timeline))
        .route("/api/v1/accounts/{id}/lists", get(account_lists))
}

/// Mastodon's List entity.
#[derive(Debug, Serialize)]
pub struct List {
    id: String,
    title: String,
    replies_policy: String,
    exclusive: bool,
}

impl From<&ListRecord> for List {
    fn from(l: &ListRecord) -> Self {
        Self {
            id: l.id.to_string(),
            title: l.title.clone(),
            replies_policy: l.replies_policy.clone(),
            exclusive: l.exclusive,
        }
    }
}

fn many(lists: &[ListRecord]) -> Json<Vec<List>> {
    Json(lists.iter().map(List::from).collect())
}

#[derive(Debug, Default, Deserialize)]
struct ListForm {
    title: Option<String>,
    replies_policy: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    exclusive: Option<bool>,
}

/// `GET /api/v1/lists`: all of the caller's lists.
async fn index(State(app): State<Starling>, Auth(p): Auth) -> ApiResult<Json<Vec<List>>> {
    p.require("read:lists")?;
    Ok(many(&app.lists(p.account()?).await?))
}

/// `POST /api/v1/lists` (`title`, optional `replies_policy` and `exclusive`).
async fn create(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(f): Body<ListForm>,
) -> ApiResult<Json<List>> {
    p.require("write:lists")?;
    let list = app
        .create_list(
            p.account()?,
            NewList {
                title: f.title.unwrap_or_default(),
                replies_policy: f.replies_policy,
                exclusive: f.exclusive,
            },
        )
        .await?;
    Ok(Json((&list).into()))
}

/// `GET /api/v1/lists/:id`.
async fn show(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<List>> {
    p.require("read:lists")?;
    Ok(Json((&app.list(p.account()?, path_id(&id)?).await?).into()))
}

/// `PUT /api/v1/lists/:id` (fields left out keep their values).
async fn update(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(f): Body<ListForm>,
) -> ApiResult<Json<List>> {
    p.require("write:lists")?;
    let list = app
        .update_list(
            p.account()?,
            path_id(&id)?,
            ListChanges {
                title: f.title,
                replies_policy: f.replies_policy,
                exclusive: f.exclusive,
            },
        )
        .await?;
    Ok(Json((&list).into()))
}

/// `DELETE /api/v1/lists/:id`: answers `{}`.
async fn destroy(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require("write:lists")?;
    app.delete_list(p.account()?, path_id(&id)?).await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Default, Deserialize)]
struct MembersLimit {
    limit: Option<String>,
}

/// `GET /api/v1/lists/:id/accounts`: members, paginated; `limit=0` returns them all
/// (as in Mastodon), without a `Link` header.
async fn members(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
    Params(l): Params<MembersLimit>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    p.require("read:lists")?;
    let all = l.limit.as_deref().map(str::trim) == Some("0");
    let page = if all { None } else { Some(q.page()?) };
    let paged = app.list_members(p.account()?, path_id(&id)?, page).await?;
    let headers = if all {
        HeaderMap::new()
    } else {
        link_header(&app.settings().base_url(), &uri, &paged)
    };
    let accounts = paged
        .items
        .iter()
        .map(|a| Account::from_record(a, app.settings()))
        .collect();
    Ok((headers, Json(accounts)))
}

/// `POST /api/v1/lists/:id/accounts`: adds followed accounts; answers `{}`.
async fn add_members(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Params(q): Params<AccountIds>,
    Body(b): Body<AccountIds>,
) -> ApiResult<Json<Value>> {
    p.require("write:lists")?;
    app.add_to_list(p.account()?, path_id(&id)?, &b.ids(q))
        .await?;
    Ok(Json(json!({})))
}

/// `DELETE /api/v1/lists/:id/accounts` (ids in a form or JSON body); answers `{}`.
async fn remove_members(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Params(q): Params<AccountIds>,
    Body(b): Body<AccountIds>,
) -> ApiResult<Json<Value>> {
    p.require("write:lists")?;
    app.remove_from_list(p.account()?, path_id(&id)?, &b.ids(q))
        .await?;
    Ok(Json(json!({})))
}

/// `GET /api/v1/timelines/list/:id`: the caller's home restricted to the list's
/// members, paginated like home.
async fn timeline(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    p.require("read:lists")?;
    let paged = app
        .timeline(Some(p.account()?), Timeline::List(path_id(&id)?), q.page()?)
        .await?;
    Ok(statuses_page(&app, &uri, paged))
}

/// `GET /api/v1/accounts/:id/lists`: the caller's lists that have this account in them.
async fn account_lists(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<List>>> {
    p.require("read:lists")?;
    Ok(many(&app.lists_with(p.account()?, path_id(&id)?).await?))
}
