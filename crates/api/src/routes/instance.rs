//! Instance description for clients (`/api/v1/instance`, `/api/v2/instance`) and nodeinfo.

use crate::error::ApiResult;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use starling_domain::text::URL_WEIGHT;
use starling_service::Starling;

/// Mastodon API level Starling implements, then Starling's own version (see
/// shared/mastodon-clients.md: clients parse the part before `+`).
const VERSION: &str = concat!("4.3.0+starling-", env!("CARGO_PKG_VERSION"));

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/instance", get(v1))
        .route("/api/v2/instance", get(v2))
        .route("/api/v1/custom_emojis", get(emojis))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.0", get(nodeinfo))
}

fn configuration(app: &Starling) -> Value {
    json!({
        "statuses": {
            "max_characters": app.settings().max_post_chars,
            "max_media_attachments": 4,
            "characters_reserved_per_url": URL_WEIGHT,
        },
        "media_attachments": {
            "supported_mime_types": [],
            "image_size_limit": 0,
            "image_matrix_limit": 0,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {
            "max_options": 0,
            "max_characters_per_option": 0,
            "min_expiration": 0,
            "max_expiration": 0,
        },
        "accounts": { "max_featured_tags": 0, "max_pinned_statuses": 5 },
        // The Web Push key clients hand the browser (`applicationServerKey`).
        "vapid": { "public_key": app.vapid_public_key() },
    })
}

/// `GET /api/v1/instance`.
async fn v1(State(app): State<Starling>) -> ApiResult<Json<Value>> {
    let s = app.settings();
    let (users, statuses) = app.stats().await?;
    Ok(Json(json!({
        "uri": s.host(),
        "title": s.network_name,
        "short_description": s.network_description,
        "description": s.network_description,
        "email": "",
        "version": VERSION,
        "urls": { "streaming_api": s.streaming_url() },
        "stats": { "user_count": users, "status_count": statuses, "domain_count": 0 },
        "thumbnail": null,
        "languages": ["en"],
        "registrations": s.registrations_open,
        "approval_required": false,
        "invites_enabled": false,
        "configuration": configuration(&app),
        "contact_account": null,
        "rules": [],
    })))
}

/// `GET /api/v2/instance`.
async fn v2(State(app): State<Starling>) -> ApiResult<Json<Value>> {
    let s = app.settings();
    let (users, _) = app.stats().await?;
    let mut config = configuration(&app);
    config["urls"] = json!({ "streaming": s.streaming_url(), "status": null });
    config["timelines_access"] = json!({
        "live_feeds": { "local": "public", "remote": "disabled" },
        "hashtag_feeds": { "local": "public", "remote": "disabled" },
        "trending_link_feeds": { "local": "disabled", "remote": "disabled" },
    });
    Ok(Json(json!({
        "domain": s.host(),
        "title": s.network_name,
        "version": VERSION,
        "source_url": "https://example.invalid/starling",
        "description": s.network_description,
        "usage": { "users": { "active_month": users } },
        "thumbnail": { "url": format!("{}/avatars/original/missing.png", s.base_url()) },
        "languages": ["en"],
        "configuration": config,
        "registrations": { "enabled": s.registrations_open, "approval_required": false, "message": null },
        "api_versions": { "mastodon": 2 },
        "contact": { "email": "", "account": null },
        "rules": [],
    })))
}

/// `GET /api/v1/custom_emojis`: none yet.
async fn emojis() -> Json<Value> {
    Json(json!([]))
}

/// `GET /.well-known/nodeinfo`.
async fn nodeinfo_links(State(app): State<Starling>) -> Json<Value> {
    Json(json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
            "href": format!("{}/nodeinfo/2.0", app.settings().base_url()),
        }]
    }))
}

/// `GET /nodeinfo/2.0`.
async fn nodeinfo(State(app): State<Starling>) -> ApiResult<Json<Value>> {
    let (users, statuses) = app.stats().await?;
    Ok(Json(json!({
        "version": "2.0",
        "software": { "name": "starling", "version": env!("CARGO_PKG_VERSION") },
        "protocols": [],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": app.settings().registrations_open,
        "usage": { "users": { "total": users }, "localPosts": statuses },
        "metadata": { "nodeName": app.settings().network_name },
    })))
}
