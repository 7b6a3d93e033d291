//! Hashtags: show one, follow and unfollow, list the followed ones.

use crate::entities::TagInfo;
use crate::error::ApiResult;
use crate::extract::{Auth, MaybeAuth, Params};
use crate::pagination::{PageParams, link_header};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use starling_service::Starling;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/tags/{name}", get(show))
        .route("/api/v1/tags/{name}/follow", post(follow))
        .route("/api/v1/tags/{name}/unfollow", post(unfollow))
        .route("/api/v1/followed_tags", get(followed))
}

/// `GET /api/v1/tags/:name`.
async fn show(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(name): Path<String>,
) -> ApiResult<Json<TagInfo>> {
    let viewer = p.as_ref().and_then(|p| p.account.as_deref());
    let tag = app.tag(viewer, &name).await?;
    Ok(Json(TagInfo::from_view(&tag, app.settings())))
}

/// `POST /api/v1/tags/:name/follow`.
async fn follow(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<TagInfo>> {
    p.require("write:follows")?;
    let tag = app.follow_tag(p.account()?, &name).await?;
    Ok(Json(TagInfo::from_view(&tag, app.settings())))
}

/// `POST /api/v1/tags/:name/unfollow`.
async fn unfollow(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<TagInfo>> {
    p.require("write:follows")?;
    let tag = app.unfollow_tag(p.account()?, &name).await?;
    Ok(Json(TagInfo::from_view(&tag, app.settings())))
}

/// `GET /api/v1/followed_tags`.
async fn followed(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<TagInfo>>)> {
    p.require("read:follows")?;
    let paged = app.followed_tags(p.account()?, q.page()?).await?;
    let headers = link_header(&app.settings().base_url(), &uri, &paged);
    let tags = paged
        .items
        .iter()
        .map(|t| TagInfo::from_view(t, app.settings()))
        .collect();
    Ok((headers, Json(tags)))
}
