//! Timelines: home, network (public) and hashtag.

use crate::error::ApiResult;
use crate::extract::{Auth, MaybeAuth, Params, flex_bool};
use crate::pagination::{PageParams, StatusList, statuses_page};
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde::Deserialize;
use starling_service::Starling;
use starling_service::timelines::Timeline;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/timelines/home", get(home))
        .route("/api/v1/timelines/public", get(public))
        .route("/api/v1/timelines/tag/{tag}", get(tag))
}

/// `GET /api/v1/timelines/home`.
async fn home(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    p.require("read:statuses")?;
    let paged = app
        .timeline(Some(p.account()?), Timeline::Home, q.page()?)
        .await?;
    Ok(statuses_page(&app, &uri, paged))
}

#[derive(Debug, Deserialize)]
struct PublicParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "flex_bool")]
    remote: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    only_media: Option<bool>,
}

/// `GET /api/v1/timelines/public` (`local` is accepted: every post is local).
async fn public(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PublicParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    if let Some(p) = &p {
        p.require("read:statuses")?;
    }
    let page = q.page.page()?;
    if q.remote.unwrap_or(false) || q.only_media.unwrap_or(false) {
        // Starling has no remote posts and no media yet: these filters match nothing.
        return Ok((HeaderMap::new(), StatusList(Vec::new())));
    }
    let viewer = p.as_ref().and_then(|p| p.account.as_deref());
    let paged = app.timeline(viewer, Timeline::Public, page).await?;
    Ok(statuses_page(&app, &uri, paged))
}

/// `GET /api/v1/timelines/tag/:tag` (case-insensitive, a leading `#` is ignored).
async fn tag(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(tag): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PublicParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    if let Some(p) = &p {
        p.require("read:statuses")?;
    }
    let page = q.page.page()?;
    let viewer = p.as_ref().and_then(|p| p.account.as_deref());
    let name = tag.trim_start_matches('#').to_string();
    let paged = app.timeline(viewer, Timeline::Tag(name), page).await?;
    Ok(statuses_page(&app, &uri, paged))
}
