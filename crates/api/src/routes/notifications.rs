//! Notifications and markers.

use crate::entities::{Notification, iso_time};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Body, Params, path_id};
use crate::pagination::{PageParams, link_header};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use starling_service::Starling;

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/notifications", get(list))
        .route("/api/v1/notifications/clear", post(clear))
        .route("/api/v1/notifications/{id}", get(show))
        .route("/api/v1/notifications/{id}/dismiss", post(dismiss))
        .route("/api/v1/markers", get(markers).post(save_markers))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(rename = "types[]", default)]
    types: Vec<String>,
    #[serde(rename = "exclude_types[]", default)]
    exclude_types: Vec<String>,
    account_id: Option<String>,
}

/// `GET /api/v1/notifications`.
async fn list(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<ListParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Notification>>)> {
    p.require("read:notifications")?;
    let account_id = match q.account_id.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            starling_domain::id::parse_id(s)
                .ok_or_else(|| ApiError::bad_request("account_id must be a numeric id"))?,
        ),
        None => None,
    };
    let paged = app
        .notifications(
            p.account()?,
            &q.types,
            &q.exclude_types,
            account_id,
            q.page.page()?,
        )
        .await?;
    let headers = link_header(&app.settings().base_url(), &uri, &paged);
    Ok((
        headers,
        Json(
            paged
                .items
                .iter()
                .map(|n| Notification::from_view(n, app.settings()))
                .collect(),
        ),
    ))
}

/// `GET /api/v1/notifications/:id`.
async fn show(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Notification>> {
    p.require("read:notifications")?;
    let n = app.notification(p.account()?, path_id(&id)?).await?;
    Ok(Json(Notification::from_view(&n, app.settings())))
}

/// `POST /api/v1/notifications/:id/dismiss`.
async fn dismiss(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require("write:notifications")?;
    app.dismiss_notification(p.account()?, path_id(&id)?)
        .await?;
    Ok(Json(json!({})))
}

/// `POST /api/v1/notifications/clear`.
async fn clear(State(app): State<Starling>, Auth(p): Auth) -> ApiResult<Json<Value>> {
    p.require("write:notifications")?;
    app.clear_notifications(p.account()?).await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
struct MarkerParams {
    #[serde(rename = "timeline[]", default)]
    timelines: Vec<String>,
    #[serde(default)]
    timeline: Vec<String>,
}

fn marker_json(markers: Vec<starling_service::MarkerRecord>) -> Value {
    let mut out = Map::new();
    for m in markers {
        out.insert(
            m.timeline.clone(),
            json!({
                "last_read_id": m.last_read_id.to_string(),
                "version": m.version,
                "updated_at": iso_time(m.updated_at),
            }),
        );
    }
    Value::Object(out)
}

/// `GET /api/v1/markers?timeline[]=home&timeline[]=notifications`.
async fn markers(
    State(app): State<Starling>,
    Auth(p): Auth,
    Params(q): Params<MarkerParams>,
) -> ApiResult<Json<Value>> {
    p.require("read:statuses")?;
    let mut names = q.timelines;
    names.extend(q.timeline);
    Ok(Json(marker_json(app.markers(p.account()?, &names).await?)))
}

#[derive(Debug, Default, Deserialize)]
struct MarkerPosition {
    last_read_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct SaveMarkers {
    home: Option<MarkerPosition>,
    notifications: Option<MarkerPosition>,
    #[serde(rename = "home[last_read_id]")]
    home_form: Option<String>,
    #[serde(rename = "notifications[last_read_id]")]
    notifications_form: Option<String>,
}

/// `POST /api/v1/markers` (JSON `{home: {last_read_id}}` or form `home[last_read_id]=`).
async fn save_markers(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(r): Body<SaveMarkers>,
) -> ApiResult<Json<Value>> {
    p.require("write:statuses")?;
    let mut positions = Vec::new();
    for (name, value) in [
        ("home", r.home_form.or(r.home.and_then(|m| m.last_read_id))),
        (
            "notifications",
            r.notifications_form
                .or(r.notifications.and_then(|m| m.last_read_id)),
        ),
    ] {
        if let Some(v) = value {
            let id = starling_domain::id::parse_id(&v).ok_or_else(|| {
                ApiError::unprocessable(format!("{name}[last_read_id] must be a numeric id"))
            })?;
            positions.push((name.to_owned(), id));
        }
    }
    Ok(Json(marker_json(
        app.save_markers(p.account()?, &positions).await?,
    )))
}
